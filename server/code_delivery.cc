#include "server/code_delivery.h"

#include <dirent.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "shido/files.h"

extern char** environ;

namespace shido::server {
namespace {

class LogDelivery final : public CodeDelivery {
 public:
  explicit LogDelivery(Logger& logger) : logger_(logger) {}
  Status deliver(const CodeNotice& notice) override {
    logger_.log(LogLevel::kInfo, "", notice.phone,
                "code " + std::string(notice.code.as_string_view()) + " for " + notice.email +
                    " (server key fingerprint " + notice.server_fingerprint + ")");
    return {};
  }

 private:
  Logger& logger_;
};

class OutboxDelivery final : public CodeDelivery {
 public:
  OutboxDelivery(std::string directory, std::chrono::seconds ttl)
      : directory_(std::move(directory)), ttl_(ttl) {}

  Status deliver(const CodeNotice& notice) override {
    if (::mkdir(directory_.c_str(), 0700) != 0 && errno != EEXIST) {
      return Error{Errc::kIo, "cannot create outbox " + directory_ + ": " + std::strerror(errno)};
    }
    SecretBytes text(notice.code.size() + notice.server_fingerprint.size() + 2);
    std::uint8_t* out = text.data();
    out = std::copy(notice.code.data(), notice.code.data() + notice.code.size(), out);
    *out++ = '\n';
    out = std::copy(notice.server_fingerprint.begin(), notice.server_fingerprint.end(), out);
    *out = '\n';
    std::lock_guard lock(mutex_);
    remove_expired();
    return write_file_atomic(path_of(notice.phone), text.view(), 0600);
  }

  void withdraw(const std::string& phone, const SecretBytes& code) override {
    std::lock_guard lock(mutex_);  // a delivery for the phone cannot come in between
    auto held = read_private_file(path_of(phone), 4096);
    if (!held.ok()) return;
    const ByteView first_line =
        held.value().view().first(std::min(held.value().size(), code.size()));
    if (first_line.size() == code.size() && constant_time_equal(first_line, code.view()))
      ::unlink(path_of(phone).c_str());
  }

 private:
  // The phone passed is_valid_phone ("+" and digits), so it is safe in a file name.
  std::string path_of(const std::string& phone) const { return directory_ + "/" + phone + ".code"; }

  // Removes code files whose code has expired. Holds mutex_.
  void remove_expired() {
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(directory_.c_str()), ::closedir);
    if (!dir) return;
    const auto now = std::chrono::system_clock::now();
    while (const dirent* entry = ::readdir(dir.get())) {
      const std::string name = entry->d_name;
      if (!name.ends_with(".code")) continue;
      const std::string path = directory_ + "/" + name;
      struct stat info {};
      if (::stat(path.c_str(), &info) != 0) continue;
      const auto written = std::chrono::system_clock::from_time_t(info.st_mtime);
      if (now - written > ttl_) ::unlink(path.c_str());
    }
  }

  const std::string directory_;
  const std::chrono::seconds ttl_;
  std::mutex mutex_;
};

class CommandDelivery final : public CodeDelivery {
 public:
  CommandDelivery(std::string command, int timeout_seconds)
      : command_(std::move(command)), timeout_seconds_(timeout_seconds) {}

  Status deliver(const CodeNotice& notice) override {
    // The child's environment: ours plus the four variables (any old values replaced).
    // Built in place, so the code's only copy outside SecretBytes is the one wiped below.
    std::vector<std::string> variables(4);
    variables[0] = "SHIDO_PHONE=" + notice.phone;
    variables[1] = "SHIDO_EMAIL=" + notice.email;
    variables[2].reserve(11 + notice.code.size());
    variables[2].append("SHIDO_CODE=").append(notice.code.as_string_view());
    variables[3] = "SHIDO_SERVER_FINGERPRINT=" + notice.server_fingerprint;
    std::vector<char*> envp;
    for (char** entry = environ; *entry != nullptr; ++entry) {
      if (std::strncmp(*entry, "SHIDO_", 6) != 0) envp.push_back(*entry);
    }
    for (std::string& variable : variables) envp.push_back(variable.data());
    envp.push_back(nullptr);

    std::string shell = "/bin/sh", dash_c = "-c", command = command_;
    char* argv[] = {shell.data(), dash_c.data(), command.data(), nullptr};
    // The server blocks SIGINT/SIGTERM and ignores SIGPIPE; the command gets the defaults.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int signal : {SIGINT, SIGTERM, SIGPIPE}) sigaddset(&defaults, signal);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    // A process group of its own, so that a time-out ends the command and everything it
    // started (a shell's `sleep` would otherwise outlive it).
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setflags(
        &attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    pid_t pid = 0;
    const int spawned = ::posix_spawn(&pid, "/bin/sh", nullptr, &attributes, argv, envp.data());
    posix_spawnattr_destroy(&attributes);
    wipe(variables[2].data(), variables[2].size());
    if (spawned != 0) {
      return Error{Errc::kIo,
                   std::string("cannot start the code command: ") + std::strerror(spawned)};
    }
    return wait_for(pid);
  }

 private:
  Status wait_for(pid_t pid) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds_);
    int status = 0;
    for (;;) {
      const pid_t done = ::waitpid(pid, &status, WNOHANG);
      if (done == pid) break;
      if (done < 0 && errno != EINTR) return Error{Errc::kIo, "lost the code command"};
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(-pid, SIGKILL);  // the whole group
        ::waitpid(pid, &status, 0);
        return Error{Errc::kIo, "the code command did not finish in time"};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    return Error{Errc::kIo, "the code command failed (status " + std::to_string(status) + ")"};
  }

  std::string command_;
  int timeout_seconds_;
};

}  // namespace

std::unique_ptr<CodeDelivery> make_log_delivery(Logger& logger) {
  return std::make_unique<LogDelivery>(logger);
}

std::unique_ptr<CodeDelivery> make_outbox_delivery(std::string directory,
                                                   std::chrono::seconds ttl) {
  return std::make_unique<OutboxDelivery>(std::move(directory), ttl);
}

std::unique_ptr<CodeDelivery> make_command_delivery(std::string command, int timeout_seconds) {
  return std::make_unique<CommandDelivery>(std::move(command), timeout_seconds);
}

}  // namespace shido::server
