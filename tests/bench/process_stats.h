// What /proc says about a process while a benchmark runs: its peak memory, its threads and
// the CPU time it has used.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace shido::bench {

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
