// Runs the real shido-server binary: starts it on --port 0 with a fresh data directory and
// outbox, waits (without sleeping) for its "listening" line, and reads back what it
// reported. Shared by the server and client end-to-end tests and by shido-bench, so it does
// not depend on GoogleTest.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/child_process.h"

namespace shido::test {

// A fresh directory under GoogleTest's temporary directory (TEST_TMPDIR, else /tmp), removed with
// everything in it when the owner is destroyed (unless release() was called). Throws
// std::runtime_error when the directory cannot be made.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "shido");
  ~TempDir();
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Keeps the directory on disk; the caller owns it from now on.
  std::string release() { return std::exchange(path_, std::string()); }

 private:
  std::string path_;
};

// What a code file in the outbox holds (docs/PROTOCOL.md section 8).
struct CodeFile {
  std::string code;         // line 1: 6 digits
  std::string fingerprint;  // line 2: the server key fingerprint
};

class ServerProcess {
 public:
  struct Options {
    // Path of the shido-server binary (tests get it as SHIDO_SERVER_BINARY). Required.
    std::string binary;
    // --data-dir. Empty: a fresh temporary directory owned (and removed) by this object.
    // Given: used as is and left in place (to restart a server on the same key).
    std::string data_dir;
    // --outbox. Empty: a fresh temporary directory, unless use_outbox is false (then no
    // --outbox is passed and codes go to the log, or to --code-command in extra_args).
    std::string outbox;
    bool use_outbox = true;
    std::string host = "127.0.0.1";
    // Appended to the command line as they are (e.g. {"--lock-base", "1"}).
    std::vector<std::string> extra_args;
    // Raise the per-address and server-wide limits of design section 10.4 (codes and failed
    // registration proofs) far above what a test reaches, since tests register many
    // accounts from 127.0.0.1; those given in extra_args keep their value. False: the
    // defaults, for the open Internet (the tests of those limits).
    bool raise_rate_limits = true;
    // How long to wait for the listening line before giving up.
    std::chrono::milliseconds start_timeout{30000};
  };

  // Starts the server and waits for its listening line. Throws std::runtime_error (with
  // the server's stderr) when it cannot start or exits first.
  explicit ServerProcess(Options options);
  // Kills the server (SIGKILL) if it still runs, reaps it, and removes the temporary
  // directories it made.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& host() const { return options_.host; }
  std::uint16_t port() const { return port_; }
  // The fingerprint from the listening line (64 hex digits in groups of 4).
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& outbox_dir() const { return outbox_dir_; }
  // The file the server's stderr (its log) goes to.
  const std::string& log_path() const { return log_path_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // Reads OUTBOX/<phone>.code (see read_code_file).
  std::optional<CodeFile> read_code(const std::string& phone) const;

  // Everything the server has logged so far.
  std::string log() const;

  // Sends `signal` and waits up to `timeout` for the process to end (the time-out guards
  // against a hang; how fast a server stops is for benchmarks to say). Throws
  // std::runtime_error when it does not end in time (after killing it) or was not running.
  ExitInfo stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  void kill_and_reap();

  Options options_;
  std::string own_root_;  // a temporary directory this object removes, with all inside
  std::string data_dir_;
  std::string outbox_dir_;
  std::string log_path_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::uint16_t port_ = 0;
  std::string fingerprint_;
};

// "+1555" and 7 digits: a valid E.164 number per n.
std::string phone_number(int n);

// A fresh temporary directory path (not owned: the caller removes it). Throws on failure.
std::string make_temp_dir(std::string_view prefix);

// Reads OUTBOX/<phone>.code; nullopt when absent or not two lines. The server writes the
// file before it answers 115, so no waiting is needed.
std::optional<CodeFile> read_code_file(const std::string& outbox, const std::string& phone);

// Reads a whole file; nullopt when it cannot be opened.
std::optional<std::string> read_text_file(const std::string& path);

}  // namespace shido::test
