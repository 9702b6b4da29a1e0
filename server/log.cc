#include "server/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace shido::server {
namespace {

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO ";
    case LogLevel::kWarn:
      return "WARN ";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}

std::string utc_timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms));
  return text;
}

// Control characters from the network must not forge log lines.
std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  return out;
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return std::nullopt;
}

void Logger::log(LogLevel level, std::string_view peer, std::string_view phone,
                 std::string_view event) {
  if (!enabled(level)) return;
  const std::string line = utc_timestamp() + " " + level_name(level) + " " +
                           (peer.empty() ? "-" : printable(peer)) + " " +
                           (phone.empty() ? "-" : printable(phone)) + " " + printable(event) + "\n";
  std::lock_guard lock(mutex_);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace shido::server
