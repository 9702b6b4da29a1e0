#include "server/status_report.h"

#include <cstdio>
#include <exception>
#include <utility>

namespace shido::server {
namespace {

// A per-second rate with two decimals; none (0.00) over no time at all.
std::string per_second(std::uint64_t count, double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f",
                seconds > 0 ? static_cast<double>(count) / seconds : 0.0);
  return text;
}

// The difference of a total that only grows; zero should it ever not have.
std::uint64_t growth(std::uint64_t now, std::uint64_t before) {
  return now >= before ? now - before : 0;
}

}  // namespace

StatusLine::StatusLine(const StoreCounts& start, TimePoint at)
    : stored_(start.messages_stored), fetched_(start.messages_fetched), at_(at) {}

std::string StatusLine::next(const StatusCounts& counts, TimePoint at) {
  const StoreCounts& store = counts.store;
  const double seconds = at > at_ ? std::chrono::duration<double>(at - at_).count() : 0.0;
  char interval[32];
  std::snprintf(interval, sizeof interval, "%.3f", seconds);
  std::string line =
      "status connections=" + std::to_string(counts.connections) +
      " logged_in=" + std::to_string(counts.logged_in) +
      " accounts=" + std::to_string(store.users) +
      " waiting_messages=" + std::to_string(store.messages) +
      " waiting_bytes=" + std::to_string(store.ciphertext_bytes) +
      " stored_per_s=" + per_second(growth(store.messages_stored, stored_), seconds) +
      " fetched_per_s=" + per_second(growth(store.messages_fetched, fetched_), seconds) +
      " stored_total=" + std::to_string(store.messages_stored) +
      " fetched_total=" + std::to_string(store.messages_fetched) + " interval_s=" + interval;
  if (store.journal_bytes) line += " journal_bytes=" + std::to_string(*store.journal_bytes);
  stored_ = store.messages_stored;
  fetched_ = store.messages_fetched;
  at_ = at;
  return line;
}

StatusReporter::StatusReporter(Collect collect, Logger& logger, const TimeSource& time,
                               std::chrono::seconds interval)
    : collect_(std::move(collect)),
      logger_(logger),
      time_(time),
      interval_(interval),
      line_(collect_().store, time_.now()) {
  if (interval_.count() > 0) thread_ = std::thread([this] { run(); });
}

StatusReporter::~StatusReporter() { stop(); }

void StatusReporter::report() {
  try {
    std::lock_guard lock(line_mutex_);
    const StatusCounts counts = collect_();
    logger_.log(LogLevel::kInfo, "", "", line_.next(counts, time_.now()));
  } catch (const std::exception& error) {
    // Out of memory, most likely: the server goes on without this line (and, should even
    // saying so fail, without a word: this runs on the timer's and the signals' threads).
    try {
      logger_.log(LogLevel::kError, "", "", std::string("no status line: ") + error.what());
    } catch (...) {
    }
  }
}

void StatusReporter::stop() {
  {
    std::lock_guard lock(timer_mutex_);
    stopping_ = true;
  }
  timer_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StatusReporter::run() {
  // Steady ticks (start + n intervals): a slow line does not push the later ones back.
  auto next = std::chrono::steady_clock::now() + interval_;
  std::unique_lock lock(timer_mutex_);
  while (!timer_.wait_until(lock, next, [this] { return stopping_; })) {
    lock.unlock();
    report();
    lock.lock();
    next += interval_;
    // Behind by a whole interval (a line that took that long): no burst of lines to catch up.
    if (const auto now = std::chrono::steady_clock::now(); next <= now) next = now + interval_;
  }
}

}  // namespace shido::server
