// The journal's group commit and its failures, on the in-memory file system of
// fake_file_system.h: what each policy syncs, one fsync for many waiters, nothing reported
// durable that was not, and a journal that stays broken after a failed write or sync.
#include "server/journal.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include "fake_file_system.h"
#include "server/record.h"

namespace shido::server {
namespace {

using test::FakeFileSystem;
using Call = FakeFileSystem::Call;

constexpr char kPath[] = "data/journal";

class JournalTest : public testing::Test {
 protected:
  Journal open(FsyncPolicy policy, std::uint64_t first = 1) {
    auto file = fs_.create(kPath);
    EXPECT_TRUE(file.ok());
    EXPECT_TRUE(fs_.sync_directory("data").ok());  // the new name survives a power cut
    return Journal(std::move(file).value(), first, policy);
  }
  std::vector<std::uint64_t> sequences_on_disk() {
    const Bytes bytes = fs_.contents(kPath).value_or(Bytes{});
    std::vector<std::uint64_t> sequences;
    for (const RecordView& record : scan_records(bytes).records)
      sequences.push_back(record.sequence);
    return sequences;
  }

  FakeFileSystem fs_;
};

TEST_F(JournalTest, AlwaysSyncsBeforeAWaitReturns) {
  Journal journal = open(FsyncPolicy::kAlways, 7);
  EXPECT_EQ(journal.add(1, as_bytes("one")), 7U);
  EXPECT_EQ(journal.add(2, as_bytes("two")), 8U);
  EXPECT_EQ(fs_.count(Call::kAppend), 0);  // adding does no I/O
  ASSERT_TRUE(journal.wait_durable(8).ok());
  EXPECT_EQ(fs_.count(Call::kAppend), 1);  // both records in one write
  EXPECT_EQ(fs_.count(Call::kSync), 1);
  fs_.power_cut();
  EXPECT_EQ(sequences_on_disk(), (std::vector<std::uint64_t>{7, 8}));
  // Already durable: no more I/O.
  ASSERT_TRUE(journal.wait_durable(7).ok());
  EXPECT_EQ(fs_.count(Call::kSync), 1);
}

TEST_F(JournalTest, EverySecWritesAtOnceAndSyncsOnTheTimersCall) {
  Journal journal = open(FsyncPolicy::kEverySec);
  ASSERT_TRUE(journal.wait_durable(journal.add(1, as_bytes("a"))).ok());
  EXPECT_EQ(fs_.count(Call::kAppend), 1);
  EXPECT_EQ(fs_.count(Call::kSync), 0);
  EXPECT_EQ(sequences_on_disk(), (std::vector<std::uint64_t>{1}));  // in the page cache
  ASSERT_TRUE(journal.sync_written().ok());
  EXPECT_EQ(fs_.count(Call::kSync), 1);
  ASSERT_TRUE(journal.sync_written().ok());  // nothing new: no sync
  EXPECT_EQ(fs_.count(Call::kSync), 1);
  fs_.power_cut();
  EXPECT_EQ(sequences_on_disk(), (std::vector<std::uint64_t>{1}));
}

TEST_F(JournalTest, NoLeavesSyncingToTheKernelButFinishSyncs) {
  Journal journal = open(FsyncPolicy::kNo);
  ASSERT_TRUE(journal.wait_durable(journal.add(1, as_bytes("a"))).ok());
  ASSERT_TRUE(journal.sync_written().ok());
  EXPECT_EQ(fs_.count(Call::kSync), 0);
  journal.add(1, as_bytes("b"));
  ASSERT_TRUE(journal.finish().ok());
  EXPECT_EQ(fs_.count(Call::kSync), 1);
  fs_.power_cut();
  EXPECT_EQ(sequences_on_disk(), (std::vector<std::uint64_t>{1, 2}));
}

TEST_F(JournalTest, OneSyncCoversEveryRecordAddedWhileAnotherSyncRan) {
  // The first waiter's sync is held until fifteen more records are added and waited for;
  // then a single second sync must cover all fifteen.
  std::mutex gate_mutex;
  std::condition_variable gate;
  bool open_gate = false;
  std::atomic<int> syncs_started{0};
  fs_.on_sync([&] {
    syncs_started += 1;
    std::unique_lock lock(gate_mutex);
    gate.wait(lock, [&] { return open_gate; });
  });
  Journal journal = open(FsyncPolicy::kAlways);
  std::thread first(
      [&] { EXPECT_TRUE(journal.wait_durable(journal.add(1, as_bytes("first"))).ok()); });
  while (syncs_started.load() == 0) std::this_thread::yield();  // the first sync is running

  constexpr int kOthers = 15;
  std::latch added(kOthers);
  std::vector<std::thread> others;
  for (int i = 0; i < kOthers; ++i) {
    others.emplace_back([&] {
      const std::uint64_t sequence = journal.add(1, as_bytes("other"));
      added.count_down();
      EXPECT_TRUE(journal.wait_durable(sequence).ok());
    });
  }
  added.wait();
  {
    std::lock_guard lock(gate_mutex);
    open_gate = true;
  }
  gate.notify_all();
  first.join();
  for (std::thread& other : others) other.join();
  EXPECT_EQ(fs_.count(Call::kSync), 2);
  EXPECT_EQ(fs_.count(Call::kAppend), 2);
  EXPECT_EQ(sequences_on_disk().size(), 1U + kOthers);
}

TEST_F(JournalTest, AFailedSyncBreaksTheJournalForGoodAndKeepsWhatWasDurable) {
  Journal journal = open(FsyncPolicy::kAlways);
  const std::uint64_t kept = journal.add(1, as_bytes("kept"));
  ASSERT_TRUE(journal.wait_durable(kept).ok());
  fs_.fail(Call::kSync);
  const std::uint64_t lost = journal.add(1, as_bytes("lost"));
  const Status failed = journal.wait_durable(lost);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, Errc::kIo);
  ASSERT_TRUE(journal.broken().has_value());
  // Never retried on this file: the next wait fails without another sync...
  const int syncs = fs_.count(Call::kSync);
  EXPECT_FALSE(journal.wait_durable(journal.add(1, as_bytes("later"))).ok());
  EXPECT_FALSE(journal.sync_written().ok());
  EXPECT_EQ(fs_.count(Call::kSync), syncs);
  // ...and what was durable before stays so.
  EXPECT_TRUE(journal.wait_durable(kept).ok());
  fs_.power_cut();
  EXPECT_EQ(sequences_on_disk(), (std::vector<std::uint64_t>{kept}));
}

TEST_F(JournalTest, AFailedWriteBreaksTheJournalAndNothingAfterItIsWritten) {
  Journal journal = open(FsyncPolicy::kAlways);
  ASSERT_TRUE(journal.wait_durable(journal.add(1, as_bytes("kept"))).ok());
  fs_.fail(Call::kAppend);  // half of the write lands, as on a disk that filled up
  EXPECT_FALSE(journal.wait_durable(journal.add(1, Bytes(100, 0x78))).ok());
  const int appends = fs_.count(Call::kAppend);
  EXPECT_FALSE(journal.wait_durable(journal.add(1, as_bytes("later"))).ok());
  EXPECT_EQ(fs_.count(Call::kAppend), appends);  // never appended after a failed write
  EXPECT_EQ(scan_records(fs_.contents(kPath).value()).end, ScanResult::End::kTornTail);
}

TEST_F(JournalTest, EveryRecordIsWrittenOnceInSequenceUnderManyThreads) {
  Journal journal = open(FsyncPolicy::kAlways);
  constexpr int kThreads = 8;
  constexpr int kEach = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i)
        EXPECT_TRUE(journal.wait_durable(journal.add(1, as_bytes("m"))).ok());
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::vector<std::uint64_t> sequences = sequences_on_disk();
  ASSERT_EQ(sequences.size(), static_cast<std::size_t>(kThreads * kEach));
  for (std::size_t i = 0; i < sequences.size(); ++i) EXPECT_EQ(sequences[i], i + 1);
  EXPECT_LE(fs_.count(Call::kSync), kThreads * kEach);
  EXPECT_EQ(journal.bytes(), fs_.contents(kPath)->size());
}

}  // namespace
}  // namespace shido::server
