// A TimeSource for in-process server tests: time stands still until the test advances it,
// so code expiry and lockouts are tested without sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "server/clock.h"

namespace shido::server::test {

class FakeTime final : public TimeSource {
 public:
  static constexpr std::int64_t kStartUnixMs = 1'800'000'000'000;  // 2027-01-15

  TimePoint now() const override {
    return TimePoint(std::chrono::hours(1000)) + Clock::duration(offset_.load());
  }
  std::int64_t unix_ms() const override {
    return kStartUnixMs +
           std::chrono::duration_cast<std::chrono::milliseconds>(Clock::duration(offset_.load()))
               .count();
  }
  void advance(Clock::duration by) { offset_ += by.count(); }

 private:
  // Read from the store's threads while the test advances it.
  std::atomic<Clock::duration::rep> offset_{0};
};

}  // namespace shido::server::test
