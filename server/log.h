// The server's log: one line per event on stderr,
//   2026-11-26T23:10:48.123Z INFO  127.0.0.1:40312 +972501234567 registered
// Never a key, a code (but for the default code-delivery line) or a message body.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace shido::server {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// "debug", "info", "warn", "error"; nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view name);

class Logger {
 public:
  explicit Logger(LogLevel level = LogLevel::kInfo) : level_(level) {}

  // peer and phone may be empty ("-" is printed).
  void log(LogLevel level, std::string_view peer, std::string_view phone, std::string_view event);

  bool enabled(LogLevel level) const { return level >= level_; }

 private:
  LogLevel level_;
  std::mutex mutex_;  // keeps lines whole when threads log at once
};

}  // namespace shido::server
