// Time as the server sees it. The store and the sessions take a Clock so that tests can
// move time (code expiry, lock expiry) without sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace shido::server {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual TimePoint now() const = 0;
  // Wall-clock time in unix milliseconds (for stored_at).
  virtual std::int64_t unix_ms() const = 0;
};

// The real clocks.
class SystemTime final : public TimeSource {
 public:
  TimePoint now() const override { return Clock::now(); }
  std::int64_t unix_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// Seconds, rounded up: what retry_after carries.
inline int whole_seconds_up(Clock::duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return ms <= 0 ? 0 : static_cast<int>((ms + 999) / 1000);
}

}  // namespace shido::server
