#include "support/child_process.h"

#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace shido::test {

pid_t spawn_child(const std::vector<std::string>& args, const std::vector<ChildFd>& fds) {
  if (args.empty()) throw std::runtime_error("spawn_child: no program given");
  std::vector<std::string> owned = args;  // posix_spawn wants char*, not const char*
  std::vector<char*> argv;
  for (std::string& arg : owned) argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (const ChildFd& fd : fds) {
    if (fd.our_fd >= 0) {
      posix_spawn_file_actions_adddup2(&actions, fd.our_fd, fd.child_fd);
    } else {
      posix_spawn_file_actions_addopen(&actions, fd.child_fd, fd.path.c_str(), fd.flags, 0600);
    }
  }
  // Whatever this thread blocks or ignores (a test ignores SIGPIPE) is not the child's.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, argv[0], &actions, &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    throw std::runtime_error("cannot start " + args[0] + ": " + std::strerror(spawned));
  }
  return pid;
}

int milliseconds_left(std::chrono::steady_clock::time_point deadline) {
  const auto left =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return 0;
  return left.count() > 1'000'000 ? 1'000'000 : static_cast<int>(left.count());
}

bool wait_until(pid_t pid, std::chrono::steady_clock::time_point deadline, int& status) {
  // A pidfd becomes readable when the process ends: no polling loop, no sleep.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    throw std::runtime_error(std::string("pidfd_open (Linux 5.3 or later): ") +
                             std::strerror(errno));
  }
  for (;;) {
    pollfd p{pidfd, POLLIN, 0};
    const int ready = ::poll(&p, 1, milliseconds_left(deadline));
    if (ready < 0 && errno == EINTR) continue;
    break;
  }
  ::close(pidfd);
  return ::waitpid(pid, &status, WNOHANG) == pid;
}

int kill_and_reap(pid_t pid, int signal) {
  ::kill(pid, signal);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

ExitInfo exit_info(int wait_status) {
  ExitInfo info;
  if (WIFEXITED(wait_status)) {
    info.exited = true;
    info.status = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    info.status = -WTERMSIG(wait_status);
  }
  return info;
}

}  // namespace shido::test
