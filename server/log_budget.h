// How many lines one connection may write to the log: a token bucket (a burst, then one
// line per interval), so that a client sending thousands of bad frames cannot fill the disk
// through the log. The lines refused are counted, so that the log says how many it lost.
#pragma once

#include "server/clock.h"

namespace shido::server {

class LogBudget {
 public:
  LogBudget(int burst, Clock::duration refill_every)
      : burst_(burst), refill_every_(refill_every), tokens_(burst) {}

  // Whether one more line may be written at `now`; when not, it is counted as suppressed.
  bool take(TimePoint now);
  // The lines suppressed since the last call.
  int take_suppressed();

 private:
  const int burst_;
  const Clock::duration refill_every_;
  int tokens_;
  TimePoint refilled_at_{};
  bool started_ = false;
  int suppressed_ = 0;
};

}  // namespace shido::server
