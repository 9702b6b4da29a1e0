// Out-of-band delivery of registration codes (docs/PROTOCOL.md section 8). Every channel
// carries the server key fingerprint beside the code, so the person can check the key
// their client pinned.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "server/log.h"
#include "shido/bytes.h"
#include "shido/result.h"

namespace shido::server {

struct CodeNotice {
  const std::string& phone;
  const std::string& email;
  const SecretBytes& code;  // 6 ASCII digits
  const std::string& server_fingerprint;
};

class CodeDelivery {
 public:
  virtual ~CodeDelivery() = default;
  // Hands the code over; fails with a message for the log (never holding the code).
  virtual Status deliver(const CodeNotice& notice) = 0;
  // The code delivered for phone was used, expired, or can no longer be used (its
  // connection closed): a channel that keeps codes (the outbox) removes it, unless a newer
  // code for the phone replaced it meanwhile. Best effort: nothing to report.
  virtual void withdraw(const std::string& /*phone*/, const SecretBytes& /*code*/) {}
};

// The default, as in the original: one log line with the code. The only place a code is
// ever logged.
std::unique_ptr<CodeDelivery> make_log_delivery(Logger& logger);

// Writes OUTBOX/<phone>.code atomically with mode 0600: line 1 the code, line 2 the
// server key fingerprint. The directory is created (0700) if missing. A withdrawn code's
// file is removed, and each delivery also removes code files older than `ttl` (codes that
// expired, or that a server which stopped left behind).
std::unique_ptr<CodeDelivery> make_outbox_delivery(
    std::string directory, std::chrono::seconds ttl = std::chrono::seconds(600));

// Runs `/bin/sh -c command` with SHIDO_PHONE, SHIDO_EMAIL, SHIDO_CODE and
// SHIDO_SERVER_FINGERPRINT added to its environment, in a process group of its own; a
// non-zero exit, or no exit within `timeout_seconds` (then the whole group is killed), is a
// failure.
std::unique_ptr<CodeDelivery> make_command_delivery(std::string command, int timeout_seconds = 10);

}  // namespace shido::server
