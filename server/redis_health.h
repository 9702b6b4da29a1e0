// Whether Redis answers, shared by the connections of one pool: after a connect fails, no
// connection tries again until a back-off delay passed (100 ms, doubling up to 5 s, back to
// 100 ms after a success), so that while Redis is down a request fails at once instead of
// paying a connect (up to the connect time-out) each. When the delay has passed, one
// connection tries (the probe); the others keep failing at once until it knows.
//
// Each change is reported once: down (with the error and the delay before the next try),
// then up again after the first successful connect. The report runs under the health's lock,
// so that reports arrive in order: it must not use the pool.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "server/clock.h"

namespace shido::server {

// How long to wait before connecting to Redis again: `first`, doubled after each failed
// attempt up to `longest`; `first` again once connected. (Shared by the pool's health and
// the arrivals subscription.)
struct RedisBackoff {
  std::chrono::milliseconds first{100};
  std::chrono::milliseconds longest{5000};
};

class RedisHealth {
 public:
  // reachable false: detail is "redis at HOST:PORT/DB: ERROR; retrying in 100 ms";
  // reachable true: "redis at HOST:PORT/DB".
  using Report = std::function<void(bool reachable, const std::string& detail)>;

  // A connect the health allowed; its outcome goes back with succeeded() or failed().
  struct Attempt {
    bool probe = false;  // the one try after a back-off delay
  };

  // where: RedisAddress::describe(). time must outlive the health; report may be empty.
  RedisHealth(std::string where, const TimeSource& time, Report report, RedisBackoff back_off);
  RedisHealth(std::string where, const TimeSource& time, Report report)
      : RedisHealth(std::move(where), time, std::move(report), RedisBackoff{}) {}

  // An attempt when a connect may be tried now; otherwise nullopt and `why` says why
  // ("ERROR; next attempt in 60 ms").
  std::optional<Attempt> begin(std::string& why);
  void succeeded(const Attempt& attempt);
  // error: hiredis's or Redis's reason, without the address ("Connection refused").
  void failed(const Attempt& attempt, const std::string& error);

  bool reachable() const;
  // Connects allowed so far (for tests and the status report).
  std::uint64_t attempts() const;

 private:
  const std::string where_;
  const TimeSource& time_;
  const Report report_;
  const RedisBackoff back_off_;

  mutable std::mutex mutex_;  // guards what follows
  bool down_ = false;
  bool probing_ = false;  // the probe is connecting now
  std::chrono::milliseconds delay_{0};
  TimePoint next_try_{};
  std::string last_error_;
  std::uint64_t attempts_ = 0;
};

}  // namespace shido::server
