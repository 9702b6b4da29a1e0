// A real redis-server for the tests of the Redis store: started on a free loopback port in
// a temporary directory of its own (no persistence unless asked), ready once it answers
// PING, and stopped (SIGTERM, then reaped) by the destructor, its directory removed.
#pragma once

#include <sys/types.h>

#include <string>

namespace shido::test {

class RedisServer {
 public:
  struct Options {
    bool append_only = false;  // AOF with appendfsync always, for durability tests
  };

  // Throws std::runtime_error when redis-server is not installed or does not answer.
  RedisServer();
  explicit RedisServer(Options options);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  // redis://127.0.0.1:PORT/db
  std::string url(int db = 0) const;
  // Stops the server (SIGTERM, reaped), keeping its directory and port; start_again()
  // starts it on both once more (with AOF on, what it had is back). For outage tests.
  void stop();
  // Kills it (SIGKILL: no last write, as a crash or an OOM kill), keeping directory and port.
  void kill();
  void start_again();
  // Sends one inline command (e.g. "FLUSHALL") and returns Redis's first reply line
  // ("+OK"); throws std::runtime_error when Redis does not answer.
  std::string command(const std::string& inline_command) const;

 private:
  void start(const Options& options);
  // Starts redis-server on port_; false when it did not answer PING (it is reaped).
  bool launch();

  Options options_;
  std::string program_;

  std::string directory_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// One server for the whole test program, started on first use and stopped at exit.
RedisServer& shared_redis_server();

}  // namespace shido::test
