// Helpers for the client tests: a real shido-server (SHIDO_SERVER_BINARY) on a free port,
// client homes in temporary directories, and the real shido-client binary
// (SHIDO_CLIENT_BINARY) run as a child process with its stdin, stdout, stderr and exit
// status in the test's hands. Nothing here sleeps: every wait is on a pipe or a process,
// bounded by a deadline. Helpers that cannot use ASSERT throw std::runtime_error, which
// GoogleTest reports as a failure of the test.
#pragma once

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "client/messenger.h"
#include "client/profile.h"
#include "shido/net/socket.h"
#include "shido/protocol/json.h"
#include "shido/protocol/protocol_client.h"
#include "support/child_process.h"
#include "support/must.h"
#include "support/server_process.h"

#ifndef SHIDO_SERVER_BINARY
#error "SHIDO_SERVER_BINARY must name the shido-server binary"
#endif
#ifndef SHIDO_CLIENT_BINARY
#error "SHIDO_CLIENT_BINARY must name the shido-client binary"
#endif

namespace shido::client_test {

using test::must;
using test::phone_number;
using test::ServerProcess;
using test::TempDir;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// How long one run of the client may take before the test kills it and fails.
inline constexpr std::chrono::seconds kClientTimeout{30};

inline ServerProcess::Options server_options(std::string data_dir = {}) {
  ServerProcess::Options options;
  options.binary = SHIDO_SERVER_BINARY;
  options.data_dir = std::move(data_dir);
  return options;
}

// A server whose accounts live in memory only (--store memory): restarted on its data
// directory it keeps its key and loses every account, as a server restored from an old
// backup would.
inline ServerProcess::Options memory_server_options(std::string data_dir = {}) {
  ServerProcess::Options options = server_options(std::move(data_dir));
  options.extra_args = {"--store", "memory"};
  return options;
}

inline std::string read_file_or_empty(const std::string& path) {
  return test::read_text_file(path).value_or("");
}

// Replaces a file's contents in place (the file keeps its mode), as a person editing it would.
inline void overwrite_file(const std::string& path, std::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path);
  out << contents;
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

inline unsigned file_mode(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) throw std::runtime_error("cannot stat " + path);
  return static_cast<unsigned>(info.st_mode & 07777);
}

// Lines of a text, without their newlines.
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// A code that is surely not `code` (same shape: 6 digits).
inline std::string other_code(const std::string& code) {
  return code == "000000" ? "111111" : "000000";
}

// --- The real shido-client as a child process -----------------------------------------

struct RunResult {
  bool exited = false;  // exited normally (status is its exit code)
  int status = -1;      // the exit code, or -signal
  bool timed_out = false;
  std::string out;
  std::string err;
};

inline std::ostream& operator<<(std::ostream& os, const RunResult& result) {
  return os << "exit " << result.status << (result.timed_out ? " (timed out)" : "")
            << "\n--- stdout:\n"
            << result.out << "--- stderr:\n"
            << result.err;
}

class ClientProcess {
 public:
  // Starts shido-client with args (argv[1...]).
  explicit ClientProcess(const std::vector<std::string>& args) {
    static const bool ignore_sigpipe = [] {
      ::signal(SIGPIPE, SIG_IGN);  // a child that exits early must not kill the test
      return true;
    }();
    (void)ignore_sigpipe;

    std::vector<std::string> all = {SHIDO_CLIENT_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 ||
        ::pipe2(err, O_CLOEXEC) != 0) {
      throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    }
    stdin_fd_ = in[1];
    stdout_fd_ = out[0];
    stderr_fd_ = err[0];
    try {
      pid_ = test::spawn_child(all, {test::ChildFd::copy_of(STDIN_FILENO, in[0]),
                                     test::ChildFd::copy_of(STDOUT_FILENO, out[1]),
                                     test::ChildFd::copy_of(STDERR_FILENO, err[1])});
    } catch (...) {
      for (int fd : {in[0], out[1], err[1]}) ::close(fd);
      close_all();
      throw;
    }
    for (int fd : {in[0], out[1], err[1]}) ::close(fd);
  }

  ~ClientProcess() {
    if (pid_ > 0) test::kill_and_reap(pid_);
    close_all();
  }
  ClientProcess(const ClientProcess&) = delete;
  ClientProcess& operator=(const ClientProcess&) = delete;

  // Writes to the child's stdin (small texts: they fit the pipe).
  void write(std::string_view text) {
    if (stdin_fd_ < 0) throw std::runtime_error("stdin already closed");
    while (!text.empty()) {
      const ssize_t n = ::write(stdin_fd_, text.data(), text.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return;  // the child is gone (EPIPE): what it said tells the test why
      text.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  void close_stdin() {
    if (stdin_fd_ >= 0) ::close(stdin_fd_);
    stdin_fd_ = -1;
  }

  const std::string& out() const { return result_.out; }
  const std::string& err() const { return result_.err; }

  // Reads the child's output until stderr holds `needle`; false at the deadline or when
  // both outputs ended first.
  bool wait_for_stderr(std::string_view needle,
                       std::chrono::milliseconds timeout = kClientTimeout) {
    const auto deadline = SteadyClock::now() + timeout;
    while (result_.err.find(needle) == std::string::npos) {
      if (!pump(deadline)) return result_.err.find(needle) != std::string::npos;
    }
    return true;
  }

  // Closes stdin, reads everything the child writes and waits for it to end; kills it at
  // the deadline (timed_out).
  RunResult finish(std::chrono::milliseconds timeout = kClientTimeout) {
    close_stdin();
    const auto deadline = SteadyClock::now() + timeout;
    while (pump(deadline)) {
    }
    int status = 0;
    bool reaped = false;
    if (!result_.timed_out) reaped = test::wait_until(pid_, deadline, status);
    if (!reaped) {
      result_.timed_out = true;
      status = test::kill_and_reap(pid_);
    }
    pid_ = -1;
    const test::ExitInfo exit = test::exit_info(status);
    result_.exited = exit.exited;
    result_.status = exit.status;
    return result_;
  }

 private:
  // Reads what is available on stdout and stderr; false once both ended or at the deadline.
  bool pump(SteadyClock::time_point deadline) {
    if (stdout_fd_ < 0 && stderr_fd_ < 0) return false;
    pollfd fds[2] = {{stdout_fd_, POLLIN, 0}, {stderr_fd_, POLLIN, 0}};
    const int ready = ::poll(fds, 2, test::milliseconds_left(deadline));
    if (ready < 0 && errno == EINTR) return true;
    if (ready <= 0) {
      result_.timed_out = true;
      return false;
    }
    drain(fds[0], stdout_fd_, result_.out);
    drain(fds[1], stderr_fd_, result_.err);
    return stdout_fd_ >= 0 || stderr_fd_ >= 0;
  }

  static void drain(const pollfd& polled, int& fd, std::string& into) {
    if (fd < 0 || polled.revents == 0) return;
    char buffer[4096];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) return;
    if (n <= 0) {
      ::close(fd);
      fd = -1;
      return;
    }
    into.append(buffer, static_cast<std::size_t>(n));
  }

  void close_all() {
    for (int* fd : {&stdin_fd_, &stdout_fd_, &stderr_fd_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  RunResult result_;
};

// Runs shido-client with args, stdin_text as its whole input, and returns how it ended.
inline RunResult run_client(const std::vector<std::string>& args, std::string_view stdin_text = {},
                            std::chrono::milliseconds timeout = kClientTimeout) {
  ClientProcess client(args);
  client.write(stdin_text);
  return client.finish(timeout);
}

// The options that point a client home at a server.
inline std::vector<std::string> at(const std::string& home, const ServerProcess& server,
                                   std::vector<std::string> rest) {
  std::vector<std::string> args = {"--home",      home,     "--host",
                                   server.host(), "--port", std::to_string(server.port())};
  args.insert(args.end(), rest.begin(), rest.end());
  return args;
}

// The last code the server sent for phone: from its outbox, or, for a server without one,
// from its log ("+15550000001 code 123456 for a@example.com (server key fingerprint ...)"),
// with the e-mail address it was sent for.
struct SentCode {
  std::string code;
  std::string email;  // known from the log only
};
inline std::optional<SentCode> last_code(const ServerProcess& server, const std::string& phone) {
  if (!server.outbox_dir().empty()) {
    auto file = server.read_code(phone);
    if (!file) return std::nullopt;
    return SentCode{file->code, ""};
  }
  const std::string log = server.log();
  const std::string marker = " " + phone + " code ";
  const std::size_t at = log.rfind(marker);
  if (at == std::string::npos) return std::nullopt;
  const std::size_t code_at = at + marker.size();
  const std::size_t email_at = code_at + 6 + std::string_view(" for ").size();
  const std::size_t email_end = log.find(" (", email_at);
  if (log.compare(code_at + 6, 5, " for ") != 0 || email_end == std::string::npos)
    throw std::runtime_error("a code line of an unknown shape in the server's log");
  return SentCode{log.substr(code_at, 6), log.substr(email_at, email_end - email_at)};
}

// Runs shido-client with args, waits for the code prompt on stderr, takes the code the
// server sent for phone (last_code: the code is there only once the client has asked for
// it) and types it on stdin. `typed` replaces the code when given.
inline RunResult run_register_typing_code(const ServerProcess& server,
                                          const std::vector<std::string>& args,
                                          const std::string& phone,
                                          const std::optional<std::string>& typed = std::nullopt) {
  ClientProcess client(args);
  if (!client.wait_for_stderr("Code: ")) return client.finish();
  auto code = last_code(server, phone);
  if (!code) throw std::runtime_error("the server sent no code for " + phone);
  client.write((typed ? *typed : code->code) + "\n");
  return client.finish();
}

// Registers phone in home with the real client (run_register_typing_code).
inline RunResult register_cli(const ServerProcess& server, const std::string& home,
                              const std::string& phone,
                              const std::optional<std::string>& typed = std::nullopt,
                              std::vector<std::string> extra = {}) {
  std::vector<std::string> rest = {"register", "--phone", phone, "--email", "someone@example.com"};
  rest.insert(rest.end(), extra.begin(), extra.end());
  return run_register_typing_code(server, at(home, server, rest), phone, typed);
}

// `register` for an account that is in home already, without --email: it registers the
// same key again when the server no longer knows it.
inline RunResult register_again_cli(const ServerProcess& server, const std::string& home,
                                    const std::string& phone,
                                    const std::optional<std::string>& typed = std::nullopt,
                                    std::vector<std::string> extra = {}) {
  std::vector<std::string> rest = {"register", "--phone", phone};
  rest.insert(rest.end(), extra.begin(), extra.end());
  return run_register_typing_code(server, at(home, server, rest), phone, typed);
}

// register_cli that must work: throws (failing the test) with what the client said if not.
inline void must_register_cli(const ServerProcess& server, const std::string& home,
                              const std::string& phone) {
  const RunResult result = register_cli(server, home, phone);
  if (result.status != 0)
    throw std::runtime_error("register " + phone + " failed: " + testing::PrintToString(result));
}

// The profile of phone in home, or std::runtime_error.
inline client::Profile open_profile(const std::string& home, const std::string& phone) {
  return must(client::Profile::open(home, phone), "open the profile of " + phone);
}

// A contact's key changes for real: `server` (a memory store) has restarted on its data
// directory, so it kept its key and lost every account. `keeper` registers its same key
// again in its home (contacts, pins and history kept), and `changer` registers in
// `changer_home`, a new home, with a new key.
inline void register_again_after_restart(const ServerProcess& server,
                                         const std::string& keeper_home, const std::string& keeper,
                                         const std::string& changer_home,
                                         const std::string& changer) {
  const std::string key_path = keeper_home + "/" + keeper + "/key.pem";
  const std::string key_before = read_file_or_empty(key_path);
  const RunResult again = register_again_cli(server, keeper_home, keeper);
  if (again.status != 0)
    throw std::runtime_error("register " + keeper +
                             " again failed: " + testing::PrintToString(again));
  if (key_before.empty() || read_file_or_empty(key_path) != key_before)
    throw std::runtime_error("registering " + keeper + " again changed its key");
  must_register_cli(server, changer_home, changer);
}

// The JSON lines of a file (empty when absent); throws on a line that is not JSON.
inline std::vector<Json> json_lines(const std::string& text) {
  std::vector<Json> out;
  for (const std::string& line : lines_of(text)) {
    Json json = Json::parse(line, nullptr, false);
    if (json.is_discarded()) throw std::runtime_error("not a JSON line: " + line);
    out.push_back(std::move(json));
  }
  return out;
}

// --- The client library in-process -----------------------------------------------------

// Registers phone in home through register_account, the code read from the outbox.
inline client::Profile register_in_process(const ServerProcess& server, const std::string& home,
                                           const std::string& phone) {
  client::RegisterRequest request{home,          phone,         "someone@example.com",
                                  server.host(), server.port(), std::nullopt};
  auto reader = [&](const std::string&, const std::string&) -> std::optional<std::string> {
    auto code = server.read_code(phone);
    if (!code) return std::nullopt;
    return code->code;
  };
  return must(client::register_account(request, reader), "register_account " + phone);
}

// A raw protocol connection logged in with a profile's own key and code.
inline ProtocolClient raw_login(const ServerProcess& server, const client::Profile& profile) {
  auto connection = must(ProtocolClient::connect(server.host(), server.port()), "connect");
  const Greeting greeting = must(connection.hello(), "hello");
  auto code = profile.code();
  if (!code.ok()) throw std::runtime_error("no code: " + code.error().message);
  (void)must(connection.login(profile.key(), greeting, profile.phone(), code.value().view()),
             "login");
  return connection;
}

}  // namespace shido::client_test
