// A sliding-window rate limit, for the limits of design section 10.4: each key (a phone, an
// address, a phone from an address, or one key for the whole server) may have at most
// `limit` events in any `window`. Not thread-safe: the store's mutex guards it.
//
// Memory stays bounded without a timer: a key's events older than the window are dropped
// when it gets a new one, and every key left with none is dropped by a sweep, done when a
// window has passed since the last one or when the keys have doubled since then.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <unordered_map>

#include "server/clock.h"

namespace shido::server {

class RateWindow {
 public:
  // limit >= 1.
  RateWindow(int limit, Clock::duration window);

  // How long until key may have one more event: zero when it may now.
  Clock::duration wait(const std::string& key, TimePoint now) const;
  // Counts one event of key at now. The caller checked wait() first: this does not refuse.
  void add(const std::string& key, TimePoint now);
  // Uncounts key's newest event: a reservation that turned out not to count (its time may
  // differ from the newest's by the moments between the two; the count is what matters).
  void remove_newest(const std::string& key);
  // Keys held, including any whose events have all left the window and that the next
  // sweep drops: what this costs in memory.
  std::size_t keys() const { return events_.size(); }

 private:
  void sweep(TimePoint now);

  const int limit_;
  const Clock::duration window_;
  std::unordered_map<std::string, std::deque<TimePoint>> events_;  // each key's, oldest first
  TimePoint swept_at_{};
  std::size_t sweep_at_keys_ = kMinSweepKeys;
  static constexpr std::size_t kMinSweepKeys = 64;
};

}  // namespace shido::server
