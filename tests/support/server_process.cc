#include "support/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace shido::test {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string errno_text(int err) { return std::strerror(err); }

// Where GoogleTest's TempDir() points, found without GoogleTest (shido-bench uses this too).
std::string temp_base() {
  const char* configured = std::getenv("TEST_TMPDIR");
  std::string base = configured != nullptr && *configured != '\0' ? configured : "/tmp/";
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

std::optional<CodeFile> read_code_file(const std::string& outbox, const std::string& phone) {
  auto text = read_text_file(outbox + "/" + phone + ".code");
  if (!text) return std::nullopt;
  std::istringstream lines(*text);
  CodeFile file;
  if (!std::getline(lines, file.code) || !std::getline(lines, file.fingerprint))
    return std::nullopt;
  return file;
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
  if (options_.raise_rate_limits) {
    for (const char* option :
         {"--max-unauthenticated-per-address", "--codes-per-address", "--codes-per-minute",
          "--failed-registrations-per-address", "--failed-registrations-per-day"}) {
      const auto& extra = options_.extra_args;
      if (std::find(extra.begin(), extra.end(), option) != extra.end()) continue;
      args.push_back(option);
      args.push_back("1000000000");
    }
  }

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2: " + errno_text(errno));
  stdout_fd_ = pipe_fds[0];
  try {
    pid_ =
        spawn_child(args, {ChildFd::file(STDIN_FILENO, "/dev/null", O_RDONLY),
                           ChildFd::copy_of(STDOUT_FILENO, pipe_fds[1]),
                           ChildFd::file(STDERR_FILENO, log_path_, O_WRONLY | O_CREAT | O_TRUNC)});
  } catch (...) {
    ::close(pipe_fds[1]);
    ::close(stdout_fd_);
    std::error_code ignored;
    std::filesystem::remove_all(own_root_, ignored);
    throw;
  }
  ::close(pipe_fds[1]);

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
  test::kill_and_reap(pid_);
  pid_ = -1;
}

std::optional<CodeFile> ServerProcess::read_code(const std::string& phone) const {
  if (outbox_dir_.empty()) return std::nullopt;
  return read_code_file(outbox_dir_, phone);
}

std::string ServerProcess::log() const { return read_text_file(log_path_).value_or(""); }

ExitInfo ServerProcess::stop(int signal, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) throw std::runtime_error("ServerProcess::stop: the server is not running");
  if (::kill(pid_, signal) != 0) throw std::runtime_error("kill: " + errno_text(errno));
  int status = 0;
  if (!wait_until(pid_, SteadyClock::now() + timeout, status)) {
    const std::string threads = thread_states(pid_);
    kill_and_reap();
    throw std::runtime_error("the server did not stop within " + std::to_string(timeout.count()) +
                             " ms of signal " + std::to_string(signal) + "; its threads were:\n" +
                             threads);
  }
  pid_ = -1;
  return exit_info(status);
}

}  // namespace shido::test
