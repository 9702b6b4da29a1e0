// Starts shido-server for a benchmark run: a free port, a temporary data dir and outbox,
// stopped with SIGTERM when the object goes away. Free of GoogleTest, unlike the tests'
// ServerProcess.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace shido::bench {

class SpawnedServer {
 public:
  // Throws std::runtime_error when the server does not start.
  SpawnedServer(const std::string& binary, const std::vector<std::string>& extra_args);
  ~SpawnedServer();
  SpawnedServer(const SpawnedServer&) = delete;
  SpawnedServer& operator=(const SpawnedServer&) = delete;

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& outbox() const { return outbox_; }

 private:
  std::string root_;
  std::string outbox_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// Peak resident set (VmHWM) and current thread count of a process, from /proc.
struct ProcessStats {
  std::uint64_t peak_rss_bytes = 0;
  int threads = 0;
};
ProcessStats read_process_stats(pid_t pid);

// CPU time (user + system, all threads) a process has used so far, from /proc/PID/stat:
// steadier than messages per second on a shared machine. In clock ticks (10 ms).
double cpu_seconds(pid_t pid);

}  // namespace shido::bench
