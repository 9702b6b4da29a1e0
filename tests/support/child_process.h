// Child processes for the tests and the benchmarks: started with posix_spawn, waited for
// until a deadline on a pidfd (never by sleeping), and always reaped. The server, the
// client and the benchmarks' server all start this way, so it lives here once.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <string>
#include <utility>
#include <vector>

namespace shido::test {

// One of the child's descriptors: a copy of one of ours, or a file opened for it.
struct ChildFd {
  int child_fd = -1;
  int our_fd = -1;   // dup2'd into child_fd when >= 0
  std::string path;  // else opened as child_fd with flags (and mode 0600 when created)
  int flags = 0;

  static ChildFd copy_of(int child_fd, int our_fd) { return {child_fd, our_fd, {}, 0}; }
  static ChildFd file(int child_fd, std::string path, int flags) {
    return {child_fd, -1, std::move(path), flags};
  }
};

// Starts args[0] with args as its argv and the descriptors set up as given (the others it
// inherits, except those marked close-on-exec). The child starts with no signal blocked and
// SIGPIPE at its default, whatever this process blocks or ignores. Throws
// std::runtime_error when it cannot start.
pid_t spawn_child(const std::vector<std::string>& args, const std::vector<ChildFd>& fds);

// Milliseconds until deadline, for poll(): 0 once it has passed, at most 1,000,000.
int milliseconds_left(std::chrono::steady_clock::time_point deadline);

// Waits for the child pid to end, at most until deadline; true when it was reaped into
// status (a waitpid status). Waits on a pidfd; throws std::runtime_error on a kernel
// without pidfds rather than polling with sleeps.
bool wait_until(pid_t pid, std::chrono::steady_clock::time_point deadline, int& status);

// Sends signal to the child pid and waits for it to end, however long that takes (SIGKILL,
// the default, cannot be ignored); returns its waitpid status.
int kill_and_reap(pid_t pid, int signal = SIGKILL);

// How a reaped child ended.
struct ExitInfo {
  // The exit code when it exited, or -signal when a signal killed it.
  int status = -1;
  bool exited = false;  // true when it called exit (status is its code)
};

// Decodes a waitpid status.
ExitInfo exit_info(int wait_status);

}  // namespace shido::test
