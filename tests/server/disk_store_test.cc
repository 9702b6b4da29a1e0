// The disk store on the in-memory file system of fake_file_system.h: what a restart, a power
// cut, a failed write and a compaction leave, and that nothing is acknowledged before the
// disk has it.
#include "server/disk_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "fake_file_system.h"
#include "fake_time.h"
#include "server/store_files.h"
#include "store_fixtures.h"
#include "support/test_support.h"

namespace shido::server {
namespace {

using shido::test::eventually;
using std::chrono::seconds;
using test::FakeFileSystem;
using test::FakeTime;
using test::make_message;
using test::make_user;
using Call = FakeFileSystem::Call;

constexpr char kDirectory[] = "data";
const std::string kAlice = "+15550000001";
const std::string kBob = "+15550000002";
const std::string kCarol = "+15550000003";

class DiskStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<DiskStore> open(FileSystem& fs, DiskStoreOptions options = {}) {
    options.directory = kDirectory;
    auto store = DiskStore::open(options, fs, time_, limits(), logger_);
    if (!store.ok()) throw std::runtime_error(store.error().message);
    return std::move(store).value();
  }
  Error open_fails(FileSystem& fs, DiskStoreOptions options = {}) {
    options.directory = kDirectory;
    auto store = DiskStore::open(options, fs, time_, limits(), logger_);
    if (store.ok()) throw std::runtime_error("the store opened");
    return store.error();
  }
  static std::string put(Store& store, const std::string& to, std::uint8_t fill = 0) {
    std::string id;
    const auto stored = store.put_message(to, make_message(kAlice, 32, fill), id);
    if (!stored.ok() || stored.value() != PutResult::kStored)
      throw std::runtime_error("put_message failed");
    return id;
  }
  static std::vector<std::string> waiting_ids(Store& store, const std::string& phone) {
    std::vector<std::string> ids;
    for (const MessagePtr& message : store.fetch(phone, 100000, seconds(0)).value())
      ids.push_back(message->id);
    return ids;
  }
  static void add_users(Store& store) {
    for (const std::string& phone : {kAlice, kBob, kCarol})
      ASSERT_EQ(store.add_user(make_user(phone)).value(), AddUserResult::kAdded);
  }

  // One sender (Alice) writes every message here: no share limits it.
  static Limits limits() {
    Limits limits;
    limits.sender_share_messages = 1'000'000;
    limits.sender_share_of_store = 1;
    return limits;
  }

  FakeFileSystem fs_;
  FakeTime time_;
  Logger logger_{LogLevel::kError};
};

TEST_F(DiskStoreTest, ARestartKeepsAccountsMessagesAcknowledgementsAndLocks) {
  std::vector<std::string> ids;
  {
    auto store = open(fs_);
    add_users(*store);
    for (int i = 0; i < 3; ++i) ids.push_back(put(*store, kBob));
    ASSERT_EQ(store->ack(kBob, {ids[1]}).value().deleted, 1);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(store->record_connect_failure(kCarol).ok());
    ASSERT_EQ(store->record_connect_failure(kAlice).value().attempts_left, 4);
  }
  time_.advance(seconds(10));
  auto store = open(fs_);
  ASSERT_TRUE(store->find_user(kAlice).value());
  EXPECT_EQ(store->find_user(kBob).value()->email, "someone@example.com");
  EXPECT_EQ(store->find_user(kBob).value()->public_key, test::fixture_key().public_key());
  EXPECT_EQ(waiting_ids(*store, kBob), (std::vector<std::string>{ids[0], ids[2]}));
  const MessagePtr first = store->fetch(kBob, 1, seconds(0)).value().at(0);
  EXPECT_EQ(first->sender_phone, kAlice);
  EXPECT_EQ(first->stored_at_ms, FakeTime::kStartUnixMs);
  EXPECT_EQ(first->envelope, make_message(kAlice, 32).envelope);
  // Carol's lock (60 s from the fifth failure) has 50 s left; Alice's one failure is kept.
  ASSERT_TRUE(store->lock_remaining(kCarol).value());
  EXPECT_EQ(whole_seconds_up(*store->lock_remaining(kCarol).value()), 50);
  EXPECT_EQ(store->record_connect_failure(kAlice).value().attempts_left, 3);
  EXPECT_EQ(store->add_user(make_user(kAlice)).value(), AddUserResult::kPhoneTaken);
}

TEST_F(DiskStoreTest, ALockEndsByTheWallClockAcrossARestart) {
  {
    auto store = open(fs_);
    add_users(*store);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(store->record_connect_failure(kCarol).ok());
  }
  time_.advance(seconds(61));
  auto store = open(fs_);
  EXPECT_FALSE(store->lock_remaining(kCarol).value());
  // The second lock doubles: the count of locks survived.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store->record_connect_failure(kCarol).ok());
  EXPECT_EQ(whole_seconds_up(*store->lock_remaining(kCarol).value()), 120);
}

TEST_F(DiskStoreTest, RateLimitsAreNotJournaledAndStartEmpty) {
  const std::uint64_t journal_bytes = [&] {
    auto store = open(fs_);
    const std::uint64_t before = store->stats().journal_bytes;
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(store->take_code_slot(kAlice, "192.0.2.1").value());
    EXPECT_TRUE(store->take_code_slot(kAlice, "192.0.2.1").value());
    for (int i = 0; i < 10; ++i)
      EXPECT_FALSE(store->take_failed_proof_slot(kAlice, "192.0.2.1").value());
    EXPECT_TRUE(store->take_failed_proof_slot(kAlice, "192.0.2.1").value());
    return store->stats().journal_bytes - before;
  }();
  EXPECT_EQ(journal_bytes, 0u);  // asking for codes cannot make the journal grow
  auto store = open(fs_);
  EXPECT_FALSE(store->take_code_slot(kAlice, "192.0.2.1").value());
  EXPECT_FALSE(store->take_failed_proof_slot(kAlice, "192.0.2.1").value());
}

TEST_F(DiskStoreTest, UnderAlwaysNoPutReturnsBeforeTheSyncThatCoversIt) {
  auto store = open(fs_);
  add_users(*store);
  std::latch in_sync(1);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> hooked{false};
  fs_.on_sync([&] {
    if (!hooked.exchange(true)) {
      in_sync.count_down();
      released.wait();
    }
  });
  std::atomic<bool> returned{false};
  std::thread sender([&] {
    (void)put(*store, kBob);
    returned = true;
  });
  in_sync.wait();
  EXPECT_FALSE(returned) << "118 could go out before its fsync returned";
  EXPECT_TRUE(waiting_ids(*store, kBob).empty()) << "a fetch saw a message not yet on disk";
  release.set_value();
  sender.join();
  EXPECT_TRUE(returned);
  EXPECT_EQ(waiting_ids(*store, kBob).size(), 1u);
  fs_.on_sync(nullptr);
}

TEST_F(DiskStoreTest, APowerCutUnderAlwaysKeepsEveryAcknowledgedChange) {
  auto store = open(fs_);
  add_users(*store);
  // Eight senders; the power is cut while they run.
  std::mutex mutex;
  std::set<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::vector<std::thread> senders;
  for (int t = 0; t < 8; ++t) {
    senders.emplace_back([&] {
      while (!stop) {
        const std::string id = put(*store, kBob);
        std::lock_guard lock(mutex);
        acknowledged.insert(id);
      }
    });
  }
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mutex);
    return acknowledged.size() >= 200;
  }));
  std::set<std::string> before_cut;
  {
    std::lock_guard lock(mutex);
    before_cut = acknowledged;
  }
  const auto after_cut = fs_.after_power_cut();
  stop = true;
  for (std::thread& sender : senders) sender.join();

  auto recovered = open(*after_cut);
  const std::vector<std::string> ids = waiting_ids(*recovered, kBob);
  const std::set<std::string> kept(ids.begin(), ids.end());
  for (const std::string& id : before_cut) ASSERT_TRUE(kept.contains(id)) << id << " was lost";
  EXPECT_EQ(kept.size(), ids.size()) << "a message came back twice";
}

TEST_F(DiskStoreTest, APowerCutUnderNoCanLoseWhatWasNotSynced) {
  // The reason --fsync always exists: the same run under `no` keeps only what was synced.
  DiskStoreOptions options;
  options.fsync = FsyncPolicy::kNo;
  auto store = open(fs_, options);
  add_users(*store);
  for (int i = 0; i < 20; ++i) (void)put(*store, kBob);
  auto recovered = open(*fs_.after_power_cut(), options);
  EXPECT_LT(waiting_ids(*recovered, kBob).size(), 20u);
}

TEST_F(DiskStoreTest, AFailedWriteIsNeitherAcknowledgedNorAppliedAndTheStoreRecovers) {
  auto store = open(fs_);
  add_users(*store);
  const std::string before = put(*store, kBob);
  const std::uint64_t generation = store->stats().generation;
  fs_.fail(Call::kAppend);
  std::string id;
  const auto failed = store->put_message(kBob, make_message(kAlice), id);
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(id.empty());
  EXPECT_EQ(waiting_ids(*store, kBob), std::vector<std::string>{before});
  // Changes wait for a new snapshot and journal, which the store writes by itself (at once
  // here: the disk is fine after that one failure).
  ASSERT_TRUE(eventually([&] { return store->stats().writable; }));
  EXPECT_GT(store->stats().generation, generation);
  const std::string after = put(*store, kBob);
  store.reset();

  auto reopened = open(fs_);
  EXPECT_EQ(waiting_ids(*reopened, kBob), (std::vector<std::string>{before, after}));
}

TEST_F(DiskStoreTest, AFailedSyncIsNeverRetriedOnTheSameFile) {
  auto store = open(fs_);
  add_users(*store);
  const std::uint64_t generation = store->stats().generation;
  fs_.fail(Call::kSync);
  std::string id;
  ASSERT_FALSE(store->add_user(make_user("+15550000009")).ok());
  EXPECT_FALSE(store->find_user("+15550000009").value());
  ASSERT_TRUE(eventually([&] { return store->stats().writable; }));
  // Writing again means a new journal after a snapshot, not the file whose sync failed.
  EXPECT_GT(store->stats().generation, generation);
  ASSERT_EQ(store->add_user(make_user("+15550000009")).value(), AddUserResult::kAdded);
  store.reset();
  auto reopened = open(*fs_.after_power_cut());
  EXPECT_TRUE(reopened->find_user("+15550000009").value());
  EXPECT_TRUE(reopened->find_user(kCarol).value());
}

TEST_F(DiskStoreTest, AFailedSnapshotLeavesTheFilesWholeAndAnotherIsTriedLater) {
  auto store = open(fs_);
  add_users(*store);
  const std::string first = put(*store, kBob);
  fs_.fail(Call::kRename);
  EXPECT_FALSE(store->compact().ok());
  const std::string second = put(*store, kBob);  // still writable: the journals are whole
  store.reset();
  {
    auto reopened = open(fs_);
    EXPECT_EQ(waiting_ids(*reopened, kBob), (std::vector<std::string>{first, second}));
    ASSERT_TRUE(reopened->compact().ok());
  }
  auto reopened = open(fs_);
  EXPECT_EQ(waiting_ids(*reopened, kBob), (std::vector<std::string>{first, second}));
}

TEST_F(DiskStoreTest, ACompactionLeavesOneSnapshotAndOneJournalThatTogetherHoldTheState) {
  auto store = open(fs_);
  add_users(*store);
  const std::string kept = put(*store, kBob);
  const std::string acked = put(*store, kBob);
  ASSERT_EQ(store->ack(kBob, {acked}).value().deleted, 1);
  ASSERT_TRUE(store->compact().ok());
  const std::string later = put(*store, kBob);
  const std::uint64_t generation = store->stats().generation;
  EXPECT_EQ(
      fs_.names(),
      (std::vector<std::string>{
          std::string(kDirectory) + "/" + store_file_name(StoreFileKind::kJournal, generation),
          std::string(kDirectory) + "/" + store_file_name(StoreFileKind::kSnapshot, generation)}));
  store.reset();
  auto reopened = open(*fs_.after_power_cut());
  EXPECT_EQ(waiting_ids(*reopened, kBob), (std::vector<std::string>{kept, later}));
}

// Whether any file holds 32 bytes of `fill` in a row (a message's ciphertext).
bool files_hold(const FakeFileSystem& fs, std::uint8_t fill) {
  const Bytes needle(32, fill);
  for (const std::string& name : fs.names()) {
    const Bytes bytes = fs.contents(name).value_or(Bytes{});
    if (std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end()) != bytes.end())
      return true;
  }
  return false;
}

TEST_F(DiskStoreTest, AcknowledgedCiphertextIsGoneFromTheFilesWithinTheBound) {
  DiskStoreOptions options;
  options.compact_after_ack = seconds(3600);
  auto store = open(fs_, options);
  add_users(*store);
  const std::string read = put(*store, kBob, 0xa1);
  (void)put(*store, kBob, 0xb2);
  ASSERT_EQ(store->ack(kBob, {read}).value().deleted, 1);
  ASSERT_TRUE(files_hold(fs_, 0xa1));
  time_.advance(seconds(3600));
  ASSERT_TRUE(eventually([&] { return !files_hold(fs_, 0xa1); }));
  EXPECT_TRUE(files_hold(fs_, 0xb2)) << "the message still waiting must stay";
}

TEST_F(DiskStoreTest, TheJournalStaysBoundedWhileMessagesComeAndGo) {
  DiskStoreOptions options;
  options.compact_min_bytes = 64 << 10;
  auto store = open(fs_, options);
  add_users(*store);
  const std::uint64_t snapshots = store->stats().snapshots_written;
  // About 2.5 MiB of messages pass through; each is acknowledged at once.
  for (int i = 0; i < 10000; ++i)
    ASSERT_EQ(store->ack(kBob, {put(*store, kBob)}).value().deleted, 1);
  ASSERT_TRUE(eventually([&] { return store->stats().snapshots_written > snapshots; }));
  std::size_t total = 0;
  for (const std::string& name : fs_.names()) total += fs_.contents(name)->size();
  EXPECT_LT(total, std::size_t{1} << 20);
}

TEST_F(DiskStoreTest, ReplayingTheSameChangesTwiceAfterASnapshotChangesNothing) {
  // A snapshot may hold changes its journal also holds (they were applied while it was
  // taken); loading both must not duplicate a message or resurrect an acknowledged one.
  auto store = open(fs_);
  add_users(*store);
  const std::string kept = put(*store, kBob);
  const std::string acked = put(*store, kBob);
  ASSERT_EQ(store->ack(kBob, {acked}).value().deleted, 1);
  store.reset();
  // The journal of generation 1 copied as generation 2 beside a snapshot 2 of the same state.
  const Bytes journal =
      fs_.contents(std::string(kDirectory) + "/" + store_file_name(StoreFileKind::kJournal, 1))
          .value();
  {
    auto reopened = open(fs_);
    ASSERT_TRUE(reopened->compact().ok());
  }
  const std::string second =
      std::string(kDirectory) + "/" + store_file_name(StoreFileKind::kJournal, 2);
  Bytes renumbered;
  const ScanResult scan = scan_records(journal);
  for (const RecordView& record : scan.records) {
    append_record(
        renumbered, record.type, record.sequence,
        record.sequence == 1 ? ByteView(encode_header(StoreFileKind::kJournal, 2)) : record.body);
  }
  fs_.overwrite(second, renumbered);
  auto reopened = open(fs_);
  EXPECT_EQ(waiting_ids(*reopened, kBob), std::vector<std::string>{kept});
}

}  // namespace
}  // namespace shido::server
