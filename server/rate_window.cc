#include "server/rate_window.h"

#include <algorithm>

namespace shido::server {

RateWindow::RateWindow(int limit, Clock::duration window)
    : limit_(std::max(limit, 1)), window_(window) {}

Clock::duration RateWindow::wait(const std::string& key, TimePoint now) const {
  auto found = events_.find(key);
  if (found == events_.end()) return Clock::duration::zero();
  const std::deque<TimePoint>& events = found->second;
  // The events still in the window; add() keeps at most limit_ of them.
  const auto live =
      std::find_if(events.begin(), events.end(), [&](TimePoint at) { return now - at < window_; });
  const auto count = events.end() - live;
  if (count < limit_) return Clock::duration::zero();
  // One more may come once enough of them have left the window for count to drop below
  // the limit.
  return *(live + (count - limit_)) + window_ - now;
}

void RateWindow::add(const std::string& key, TimePoint now) {
  std::deque<TimePoint>& events = events_[key];
  while (!events.empty() && now - events.front() >= window_) events.pop_front();
  events.push_back(now);
  if (now - swept_at_ >= window_ || events_.size() >= sweep_at_keys_) sweep(now);
}

void RateWindow::remove_newest(const std::string& key) {
  auto found = events_.find(key);
  if (found == events_.end()) return;
  found->second.pop_back();
  if (found->second.empty()) events_.erase(found);
}

void RateWindow::sweep(TimePoint now) {
  std::erase_if(events_, [&](const auto& entry) { return now - entry.second.back() >= window_; });
  swept_at_ = now;
  sweep_at_keys_ = std::max(kMinSweepKeys, 2 * events_.size());
}

}  // namespace shido::server
