#include "support/server_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace shido::test {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string errno_text(int err) { return std::strerror(err); }

std::string temp_base() {
  std::string base = testing::TempDir();
  if (base.empty()) base = "/tmp/";
  if (base.back() != '/') base += '/';
  return base;
}

// "shido-server listening on HOST:PORT server key fingerprint FP"
bool parse_listening_line(const std::string& line, std::uint16_t& port, std::string& fingerprint) {
  static constexpr std::string_view kPrefix = "shido-server listening on ";
  static constexpr std::string_view kKey = " server key fingerprint ";
  if (line.rfind(kPrefix, 0) != 0) return false;
  const std::size_t key_at = line.find(kKey, kPrefix.size());
  if (key_at == std::string::npos) return false;
  const std::string address = line.substr(kPrefix.size(), key_at - kPrefix.size());
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) return false;
  unsigned long value = 0;
  for (std::size_t i = colon + 1; i < address.size(); ++i) {
    if (address[i] < '0' || address[i] > '9') return false;
    value = value * 10 + static_cast<unsigned long>(address[i] - '0');
    if (value > 65535) return false;
  }
  if (value == 0) return false;
  port = static_cast<std::uint16_t>(value);
  fingerprint = line.substr(key_at + kKey.size());
  return !fingerprint.empty();
}

// One line per thread of pid: its id, name, state and what it waits in (for a report on
// a server that does not stop).
std::string thread_states(pid_t pid) {
  std::string out;
  std::error_code error;
  const std::string base = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& entry : std::filesystem::directory_iterator(base, error)) {
    const std::string dir = entry.path().string();
    auto name = read_text_file(dir + "/comm").value_or("?\n");
    auto stat = read_text_file(dir + "/stat").value_or("");
    auto wchan = read_text_file(dir + "/wchan").value_or("?");
    // The state is the field after the parenthesised name.
    const std::size_t close = stat.rfind(')');
    const std::string state =
        close != std::string::npos && close + 2 < stat.size() ? stat.substr(close + 2, 1) : "?";
    out += "  thread " + entry.path().filename().string() + " " + name.substr(0, name.size() - 1) +
           " state " + state + " waiting in " + wchan + "\n";
  }
  return out;
}

}  // namespace

int milliseconds_left(SteadyClock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now());
  if (left.count() <= 0) return 0;
  return left.count() > 1'000'000 ? 1'000'000 : static_cast<int>(left.count());
}

bool wait_until(pid_t pid, SteadyClock::time_point deadline, int& status) {
  // A pidfd becomes readable when the process ends: no polling loop needed.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    for (;;) {
      pollfd p{pidfd, POLLIN, 0};
      const int ready = ::poll(&p, 1, milliseconds_left(deadline));
      if (ready < 0 && errno == EINTR) continue;
      break;
    }
    ::close(pidfd);
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    return done == pid;
  }
  // Without pidfds (old kernels): ask in short steps.
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return true;
    if (done < 0 && errno != EINTR) return false;
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string phone_number(int n) {
  std::string digits = std::to_string(n);
  return "+1555" + std::string(7 - std::min<std::size_t>(7, digits.size()), '0') + digits;
}

std::string make_temp_dir(std::string_view prefix) {
  std::string pattern = temp_base() + std::string(prefix) + ".XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("cannot make a temporary directory " + pattern + ": " +
                             errno_text(errno));
  }
  return pattern;
}

std::optional<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TempDir::TempDir(std::string_view prefix) : path_(make_temp_dir(prefix)) {}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

ServerProcess::ServerProcess(Options options) : options_(std::move(options)) {
  if (options_.binary.empty()) throw std::runtime_error("ServerProcess: no server binary given");
  own_root_ = make_temp_dir("shido-server");
  data_dir_ = options_.data_dir.empty() ? own_root_ + "/data" : options_.data_dir;
  if (options_.use_outbox) {
    outbox_dir_ = options_.outbox.empty() ? own_root_ + "/outbox" : options_.outbox;
  }
  log_path_ = own_root_ + "/server.log";

  std::vector<std::string> args = {options_.binary, "--host", options_.host, "--port", "0",
                                   "--data-dir",    data_dir_};
  if (options_.use_outbox) {
    args.push_back("--outbox");
    args.push_back(outbox_dir_);
  }
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2: " + errno_text(errno));
  stdout_fd_ = pipe_fds[0];

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  // The child starts with no signals blocked, whatever this thread blocks.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  const int spawned =
      ::posix_spawn(&pid_, options_.binary.c_str(), &actions, &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    pid_ = -1;
    throw std::runtime_error("cannot start " + options_.binary + ": " + errno_text(spawned));
  }

  // Read stdout until the listening line, blocking on the pipe with a deadline.
  const auto deadline = SteadyClock::now() + options_.start_timeout;
  std::string seen;
  std::string failure;
  for (;;) {
    const std::size_t newline = seen.find('\n');
    if (newline != std::string::npos) {
      const std::string line = seen.substr(0, newline);
      if (parse_listening_line(line, port_, fingerprint_)) break;
      failure = "unexpected first line from the server: " + line;
      break;
    }
    pollfd p{stdout_fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, milliseconds_left(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      failure = "the server did not report listening in time";
      break;
    }
    char buffer[512];
    const ssize_t n = ::read(stdout_fd_, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      failure = "the server exited before listening";
      break;
    }
    seen.append(buffer, static_cast<std::size_t>(n));
  }
  if (!failure.empty()) {
    kill_and_reap();
    ::close(stdout_fd_);
    stdout_fd_ = -1;
    const std::string log_text = log();
    std::error_code ignored;
    std::filesystem::remove_all(own_root_, ignored);
    throw std::runtime_error(failure + "; its log:\n" + log_text);
  }
}

ServerProcess::~ServerProcess() {
  kill_and_reap();
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  std::error_code ignored;
  if (!own_root_.empty()) std::filesystem::remove_all(own_root_, ignored);
}

void ServerProcess::kill_and_reap() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

std::optional<CodeFile> ServerProcess::read_code(const std::string& phone) const {
  if (outbox_dir_.empty()) return std::nullopt;
  auto text = read_text_file(outbox_dir_ + "/" + phone + ".code");
  if (!text) return std::nullopt;
  std::istringstream lines(*text);
  CodeFile file;
  if (!std::getline(lines, file.code) || !std::getline(lines, file.fingerprint))
    return std::nullopt;
  return file;
}

std::string ServerProcess::log() const { return read_text_file(log_path_).value_or(""); }

ExitInfo ServerProcess::stop(int signal, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) throw std::runtime_error("ServerProcess::stop: the server is not running");
  const auto started = SteadyClock::now();
  if (::kill(pid_, signal) != 0) throw std::runtime_error("kill: " + errno_text(errno));
  int status = 0;
  if (!wait_until(pid_, started + timeout, status)) {
    const std::string threads = thread_states(pid_);
    kill_and_reap();
    throw std::runtime_error("the server did not stop within " + std::to_string(timeout.count()) +
                             " ms of signal " + std::to_string(signal) + "; its threads were:\n" +
                             threads);
  }
  pid_ = -1;
  ExitInfo info;
  info.took = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started);
  if (WIFEXITED(status)) {
    info.exited = true;
    info.status = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    info.status = -WTERMSIG(status);
  }
  return info;
}

}  // namespace shido::test
