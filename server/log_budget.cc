#include "server/log_budget.h"

#include <algorithm>
#include <utility>

namespace shido::server {

bool LogBudget::take(TimePoint now) {
  if (!started_) {
    started_ = true;
    refilled_at_ = now;
  }
  const auto earned = (now - refilled_at_) / refill_every_;
  if (earned > 0) {
    tokens_ = static_cast<int>(std::min<decltype(earned)>(burst_, tokens_ + earned));
    refilled_at_ += earned * refill_every_;
  }
  if (tokens_ == 0) {
    suppressed_ += 1;
    return false;
  }
  tokens_ -= 1;
  return true;
}

int LogBudget::take_suppressed() { return std::exchange(suppressed_, 0); }

}  // namespace shido::server
