#include "server/redis_health.h"

#include <algorithm>
#include <utility>

namespace shido::server {
namespace {

std::string in_ms(std::chrono::milliseconds delay) { return std::to_string(delay.count()) + " ms"; }

}  // namespace

RedisHealth::RedisHealth(std::string where, const TimeSource& time, Report report,
                         RedisBackoff back_off)
    : where_(std::move(where)), time_(time), report_(std::move(report)), back_off_(back_off) {}

std::optional<RedisHealth::Attempt> RedisHealth::begin(std::string& why) {
  std::lock_guard lock(mutex_);
  if (!down_) {
    ++attempts_;
    return Attempt{};
  }
  const TimePoint now = time_.now();
  if (probing_ || now < next_try_) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(
        std::max(next_try_ - now, Clock::duration::zero()));
    why = last_error_ + (probing_ ? "; trying again now" : "; next attempt in " + in_ms(left));
    return std::nullopt;
  }
  probing_ = true;
  ++attempts_;
  return Attempt{.probe = true};
}

void RedisHealth::succeeded(const Attempt& attempt) {
  std::lock_guard lock(mutex_);
  if (attempt.probe) probing_ = false;
  if (!down_) return;
  down_ = false;
  delay_ = std::chrono::milliseconds(0);
  if (report_) report_(true, "redis at " + where_);
}

void RedisHealth::failed(const Attempt& attempt, const std::string& error) {
  std::lock_guard lock(mutex_);
  if (down_ && !attempt.probe) return;  // began before the first failure: already counted
  if (attempt.probe) probing_ = false;
  last_error_ = error;
  if (down_) {
    delay_ = std::min(delay_ * 2, back_off_.longest);
    next_try_ = time_.now() + delay_;
    return;
  }
  down_ = true;
  delay_ = back_off_.first;
  next_try_ = time_.now() + delay_;
  if (report_)
    report_(false, "redis at " + where_ + ": " + error + "; retrying in " + in_ms(delay_));
}

bool RedisHealth::reachable() const {
  std::lock_guard lock(mutex_);
  return !down_;
}

std::uint64_t RedisHealth::attempts() const {
  std::lock_guard lock(mutex_);
  return attempts_;
}

}  // namespace shido::server
