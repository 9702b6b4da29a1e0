// The status line: what the server holds and does, one line in its log every
// --status-interval seconds and at once on SIGUSR1 (issue 15, "watching it"):
//
//   2026-11-27T18:30:00.000Z INFO  - - status connections=3 logged_in=2 accounts=2
//   waiting_messages=6 waiting_bytes=96 stored_per_s=0.17 fetched_per_s=0.07 stored_total=10
//   fetched_total=4 interval_s=60.000 journal_bytes=5321
//
// (one line in the log). key=value pairs, always in this order, so that grep, awk and log
// shippers can read it; journal_bytes is there only with the disk store. Counts only: never
// a phone number, a key or a message.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "server/clock.h"
#include "server/log.h"
#include "server/store.h"

namespace shido::server {

// What one status line tells, read at one instant.
struct StatusCounts {
  std::size_t connections = 0;  // open connections, logged in or not
  std::size_t logged_in = 0;    // of them, those logged in to an account
  StoreCounts store;
};

// Formats status lines. Each line's rates are the differences of the message totals since
// the line before it (the first: since the counts given at construction), over the time
// that really passed between them.
class StatusLine {
 public:
  StatusLine(const StoreCounts& start, TimePoint at);

  // The line for `counts` read at `at` (the event text, without the log's prefix); the next
  // line's rates count from here.
  std::string next(const StatusCounts& counts, TimePoint at);

 private:
  std::uint64_t stored_;
  std::uint64_t fetched_;
  TimePoint at_;
};

// Logs a status line (info level) every `interval` on a thread of its own (none when the
// interval is zero), and whenever report() is called. The counts come from `collect`,
// which must be safe to call from that thread and from report()'s caller.
class StatusReporter {
 public:
  using Collect = std::function<StatusCounts()>;

  // Takes the first counts now: the first line's rates count from here. collect, logger
  // and time must outlive the reporter.
  StatusReporter(Collect collect, Logger& logger, const TimeSource& time,
                 std::chrono::seconds interval);
  ~StatusReporter();  // stop()
  StatusReporter(const StatusReporter&) = delete;
  StatusReporter& operator=(const StatusReporter&) = delete;

  // Logs a line now (SIGUSR1). Safe from any thread; never throws.
  void report();

  // Ends the periodic lines without waiting for the next one. From the thread that made the
  // reporter, any number of times.
  void stop();

 private:
  void run();

  const Collect collect_;
  Logger& logger_;
  const TimeSource& time_;
  const std::chrono::seconds interval_;

  std::mutex line_mutex_;  // one line at a time: its counts, and line_'s rates, in order
  StatusLine line_;

  std::mutex timer_mutex_;  // guards stopping_
  std::condition_variable timer_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once everything above is ready
};

}  // namespace shido::server
