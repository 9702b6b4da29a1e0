// The status line (server/status_report.h): its exact text, rates from the differences of
// the totals over the time that really passed (a fake clock), and the reporter's lines on
// demand, on its timer, and its prompt stop.
#include "server/status_report.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "fake_time.h"
#include "support/test_support.h"

namespace shido::server {
namespace {

using namespace std::chrono_literals;
using shido::test::eventually;
using test::FakeTime;

StatusCounts counts_of(std::uint64_t stored, std::uint64_t fetched) {
  StatusCounts counts;
  counts.store.messages_stored = stored;
  counts.store.messages_fetched = fetched;
  return counts;
}

TEST(StatusLineTest, NamesEveryCountInAFixedOrder) {
  FakeTime time;
  StatusLine line(StoreCounts{}, time.now());
  StatusCounts counts = counts_of(10, 4);
  counts.connections = 3;
  counts.logged_in = 2;
  counts.store.users = 2;
  counts.store.messages = 6;
  counts.store.ciphertext_bytes = 96;
  counts.store.envelope_bytes = 864;  // not in the line: ciphertext is what the limit counts
  counts.store.journal_bytes = 5321;
  time.advance(60s);
  EXPECT_EQ(line.next(counts, time.now()),
            "status connections=3 logged_in=2 accounts=2 waiting_messages=6 waiting_bytes=96 "
            "stored_per_s=0.17 fetched_per_s=0.07 stored_total=10 fetched_total=4 "
            "interval_s=60.000 journal_bytes=5321");
}

TEST(StatusLineTest, HasNoJournalFieldWithoutAJournal) {
  FakeTime time;
  StatusLine line(StoreCounts{}, time.now());
  time.advance(1s);
  EXPECT_EQ(line.next(StatusCounts{}, time.now()),
            "status connections=0 logged_in=0 accounts=0 waiting_messages=0 waiting_bytes=0 "
            "stored_per_s=0.00 fetched_per_s=0.00 stored_total=0 fetched_total=0 "
            "interval_s=1.000");
}

TEST(StatusLineTest, RatesCountFromTheTotalsAtTheStart) {
  FakeTime time;
  StoreCounts start;
  start.messages_stored = 1000;  // before the first line: not this interval's
  start.messages_fetched = 500;
  StatusLine line(start, time.now());
  time.advance(4s);
  const std::string text = line.next(counts_of(1010, 502), time.now());
  EXPECT_NE(text.find(" stored_per_s=2.50 fetched_per_s=0.50 "), std::string::npos) << text;
  EXPECT_NE(text.find(" stored_total=1010 fetched_total=502 interval_s=4.000"), std::string::npos)
      << text;
}

TEST(StatusLineTest, EachLineCountsFromTheLineBefore) {
  FakeTime time;
  StatusLine line(StoreCounts{}, time.now());
  time.advance(10s);
  EXPECT_NE(
      line.next(counts_of(100, 20), time.now()).find(" stored_per_s=10.00 fetched_per_s=2.00 "),
      std::string::npos);
  // A line on SIGUSR1 2.5 s later: only what happened since, over 2.5 s.
  time.advance(2500ms);
  const std::string soon = line.next(counts_of(105, 20), time.now());
  EXPECT_NE(soon.find(" stored_per_s=2.00 fetched_per_s=0.00 "), std::string::npos) << soon;
  EXPECT_NE(soon.find(" interval_s=2.500"), std::string::npos) << soon;
  // Nothing new for a minute.
  time.advance(60s);
  const std::string idle = line.next(counts_of(105, 20), time.now());
  EXPECT_NE(idle.find(" stored_per_s=0.00 fetched_per_s=0.00 stored_total=105 fetched_total=20 "
                      "interval_s=60.000"),
            std::string::npos)
      << idle;
}

TEST(StatusLineTest, TwoLinesAtOneInstantDivideByNothing) {
  FakeTime time;
  StatusLine line(StoreCounts{}, time.now());
  const std::string text = line.next(counts_of(7, 3), time.now());
  EXPECT_NE(text.find(" stored_per_s=0.00 fetched_per_s=0.00 stored_total=7 fetched_total=3 "
                      "interval_s=0.000"),
            std::string::npos)
      << text;
}

TEST(StatusLineTest, ATotalThatFellGivesNoNegativeRate) {
  FakeTime time;
  StatusLine line(StoreCounts{}, time.now());
  time.advance(1s);
  (void)line.next(counts_of(50, 50), time.now());
  time.advance(1s);
  const std::string text = line.next(counts_of(40, 40), time.now());
  EXPECT_NE(text.find(" stored_per_s=0.00 fetched_per_s=0.00 "), std::string::npos) << text;
}

// Counts the reporter's reads of the counts, which it makes once per line (and once at the
// start, for the first line's rates).
class CountingSource {
 public:
  StatusReporter::Collect collect() {
    return [this] {
      reads_.fetch_add(1);
      return counts_of(reads_.load(), 0);
    };
  }
  int reads() const { return reads_.load(); }

 private:
  std::atomic<int> reads_{0};
};

TEST(StatusReporterTest, WithoutAnIntervalLinesComeOnlyOnRequest) {
  FakeTime time;
  Logger logger(LogLevel::kError);  // the lines are info: the test reads the counts instead
  CountingSource source;
  StatusReporter reporter(source.collect(), logger, time, 0s);
  EXPECT_EQ(source.reads(), 1);
  reporter.report();
  reporter.report();
  EXPECT_EQ(source.reads(), 3);
}

TEST(StatusReporterTest, ItsTimerMakesLinesOnItsOwn) {
  FakeTime time;
  Logger logger(LogLevel::kError);
  CountingSource source;
  StatusReporter reporter(source.collect(), logger, time, 1s);
  EXPECT_TRUE(eventually([&] { return source.reads() >= 3; })) << source.reads();
}

TEST(StatusReporterTest, StopsWithoutWaitingForTheNextLine) {
  FakeTime time;
  Logger logger(LogLevel::kError);
  CountingSource source;
  // An hour between lines: a stop that waited for the timer would outlast the test's limit.
  StatusReporter reporter(source.collect(), logger, time, 3600s);
  reporter.stop();
  reporter.stop();  // twice is harmless
  EXPECT_EQ(source.reads(), 1);
  reporter.report();  // on request still, after the timer's end
  EXPECT_EQ(source.reads(), 2);
}

TEST(StatusReporterTest, ReportsFromManyThreadsAtOnce) {
  FakeTime time;
  Logger logger(LogLevel::kError);
  CountingSource source;
  StatusReporter reporter(source.collect(), logger, time, 1s);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 50; ++j) reporter.report();
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_GE(source.reads(), 201);
}

}  // namespace
}  // namespace shido::server
