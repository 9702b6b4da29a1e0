// Start-up recovery on the in-memory file system: a journal cut at every byte offset loads
// exactly a prefix of its records, damage in the middle is refused with the file and offset,
// and --salvage keeps the good prefix and moves the damaged file aside.
#include "server/recovery.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fake_file_system.h"
#include "fake_time.h"
#include "server/disk_store.h"
#include "server/store_files.h"
#include "store_fixtures.h"

namespace shido::server {
namespace {

using std::chrono::seconds;
using test::FakeFileSystem;
using test::FakeTime;
using test::make_message;
using test::make_user;

constexpr char kDirectory[] = "data";
const std::string kAlice = "+15550000001";
const std::string kBob = "+15550000002";
const std::string kJournal =
    std::string(kDirectory) + "/" + store_file_name(StoreFileKind::kJournal, 1);

// What a state holds, comparable: users, then Bob's waiting message ids in order.
struct Seen {
  std::size_t users = 0;
  std::vector<std::string> bobs;
  bool operator==(const Seen&) const = default;
};

class RecoveryTest : public ::testing::Test {
 protected:
  // Writes a small journal of five changes and returns the state after each prefix of it:
  // states[k] is the state once its first k change records are applied.
  std::vector<Seen> write_journal() {
    auto store = open(fs_).value();
    std::vector<Seen> states{Seen{}};
    (void)store->add_user(make_user(kAlice)).value();
    states.push_back({1, {}});
    (void)store->add_user(make_user(kBob)).value();
    states.push_back({2, {}});
    std::vector<std::string> ids;
    for (int i = 0; i < 2; ++i) {
      std::string id;
      (void)store->put_message(kBob, make_message(kAlice, 32), id).value();
      ids.push_back(id);
      states.push_back({2, ids});
    }
    (void)store->ack(kBob, {ids[0]}).value();
    states.push_back({2, {ids[1]}});
    return states;
  }

  Result<std::unique_ptr<DiskStore>> open(FileSystem& fs, bool salvage = false) {
    DiskStoreOptions options;
    options.directory = kDirectory;
    options.salvage = salvage;
    return DiskStore::open(options, fs, time_, Limits{}, logger_);
  }

  static Seen seen(Store& store, std::size_t users) {
    Seen state{users, {}};
    for (const MessagePtr& message : store.fetch(kBob, 1000, seconds(0)).value())
      state.bobs.push_back(message->id);
    return state;
  }
  static std::size_t users_of(Store& store) {
    return static_cast<std::size_t>(store.find_user(kAlice).value().has_value()) +
           static_cast<std::size_t>(store.find_user(kBob).value().has_value());
  }

  FakeFileSystem fs_;
  FakeTime time_;
  Logger logger_{LogLevel::kError};
};

TEST_F(RecoveryTest, AJournalCutAtEveryByteLoadsExactlyAPrefixOfItsRecords) {
  const std::vector<Seen> states = write_journal();
  ASSERT_EQ(states.size(), 6u);
  const Bytes journal = fs_.contents(kJournal).value();
  const ScanResult scan = scan_records(journal);
  ASSERT_EQ(scan.records.size(), 6u);  // the header and five changes

  for (std::size_t cut = 0; cut <= journal.size(); ++cut) {
    FakeFileSystem fs;
    for (const std::string& name : fs_.names()) fs.overwrite(name, fs_.contents(name).value());
    fs.overwrite(kJournal, Bytes(journal.begin(), journal.begin() + static_cast<long>(cut)));
    // Whole records (beyond the header) within the first `cut` bytes.
    std::size_t whole = 0;
    for (std::size_t i = 1; i < scan.records.size(); ++i) {
      const RecordView& record = scan.records[i];
      if (record.offset + kRecordHeaderSize + record.body.size() + kRecordTrailerSize <= cut)
        whole += 1;
    }
    auto store = open(fs);
    ASSERT_TRUE(store.ok()) << "cut at " << cut << ": " << store.error().message;
    EXPECT_EQ(seen(*store.value(), users_of(*store.value())), states[whole]) << "cut at " << cut;
    // And what it wrote after recovery loads again to the same state.
    store.value().reset();
    auto again = open(fs);
    ASSERT_TRUE(again.ok()) << "reopened after the cut at " << cut;
    EXPECT_EQ(seen(*again.value(), users_of(*again.value())), states[whole]);
  }
}

TEST_F(RecoveryTest, AFlippedByteInAMiddleRecordIsRefusedNamingFileAndOffset) {
  ASSERT_EQ(write_journal().size(), 6u);
  Bytes journal = fs_.contents(kJournal).value();
  const ScanResult scan = scan_records(journal);
  const std::size_t third = scan.records[3].offset;  // the first message
  journal[third + kRecordHeaderSize + 5] ^= 0x01;
  fs_.overwrite(kJournal, journal);

  auto store = open(fs_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find(kJournal), std::string::npos) << store.error().message;
  EXPECT_NE(store.error().message.find("byte " + std::to_string(third)), std::string::npos)
      << store.error().message;
  EXPECT_NE(store.error().message.find("--salvage"), std::string::npos);
  EXPECT_EQ(fs_.contents(kJournal).value(), journal) << "a refused start changed the file";
}

TEST_F(RecoveryTest, ALengthFieldThatClaimsBytesPastTheEndIsDamageNotATornTail) {
  ASSERT_EQ(write_journal().size(), 6u);
  Bytes journal = fs_.contents(kJournal).value();
  const std::size_t second = scan_records(journal).records[2].offset;
  journal[second + 2] ^= 0x40;  // the length now reaches far past the end of the file
  fs_.overwrite(kJournal, journal);
  EXPECT_FALSE(open(fs_).ok());
}

TEST_F(RecoveryTest, SalvageKeepsTheGoodPrefixAndMovesTheDamagedFileAside) {
  const std::vector<Seen> states = write_journal();
  ASSERT_EQ(states.size(), 6u);
  Bytes journal = fs_.contents(kJournal).value();
  const std::size_t fourth = scan_records(journal).records[4].offset;  // the second message
  journal[fourth + kRecordHeaderSize + 3] ^= 0x80;
  fs_.overwrite(kJournal, journal);

  {
    auto store = open(fs_, true);
    ASSERT_TRUE(store.ok()) << store.error().message;
    EXPECT_EQ(seen(*store.value(), users_of(*store.value())), states[3]);
  }
  EXPECT_EQ(fs_.contents(kJournal + ".damaged").value(), journal);
  // Started once with --salvage, the directory is whole again: no option needed.
  auto store = open(fs_);
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ(seen(*store.value(), users_of(*store.value())), states[3]);
}

TEST_F(RecoveryTest, ADamagedSnapshotIsRefused) {
  ASSERT_EQ(write_journal().size(), 6u);
  {
    auto store = open(fs_).value();
    ASSERT_TRUE(store->compact().ok());
  }
  const std::string snapshot =
      std::string(kDirectory) + "/" + store_file_name(StoreFileKind::kSnapshot, 2);
  Bytes bytes = fs_.contents(snapshot).value();
  bytes.resize(bytes.size() - 30);  // no end record: cut short
  fs_.overwrite(snapshot, bytes);
  auto store = open(fs_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find(snapshot), std::string::npos) << store.error().message;
}

TEST_F(RecoveryTest, AMissingJournalIsRefusedNotSkipped) {
  ASSERT_EQ(write_journal().size(), 6u);
  {
    auto store = open(fs_).value();
    ASSERT_TRUE(store->compact().ok());  // snapshot-2 and journal-2
    fs_.fail(test::FakeFileSystem::Call::kRename);
    ASSERT_FALSE(store->compact().ok());  // journal-3, but no snapshot-3
  }
  const std::string second =
      std::string(kDirectory) + "/" + store_file_name(StoreFileKind::kJournal, 2);
  ASSERT_TRUE(fs_.contents(second));
  ASSERT_TRUE(
      fs_.contents(std::string(kDirectory) + "/" + store_file_name(StoreFileKind::kJournal, 3)));
  {
    auto store = open(fs_);  // whole: loads
    ASSERT_TRUE(store.ok()) << store.error().message;
  }
  ASSERT_TRUE(fs_.remove(second).ok());
  auto store = open(fs_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find(second + " is missing"), std::string::npos)
      << store.error().message;
}

TEST_F(RecoveryTest, AFileFromAnotherFormatVersionIsRefused) {
  ASSERT_EQ(write_journal().size(), 6u);
  Bytes journal = fs_.contents(kJournal).value();
  const ScanResult scan = scan_records(journal);
  Bytes rewritten;
  const Bytes future_header = BodyWriter()
                                  .text("shido-store")
                                  .u32(kStoreFormatVersion + 1)
                                  .u8(static_cast<std::uint8_t>(StoreFileKind::kJournal))
                                  .u64(1)
                                  .take();
  for (const RecordView& record : scan.records) {
    append_record(rewritten, record.type, record.sequence,
                  record.sequence == 1 ? ByteView(future_header) : record.body);
  }
  fs_.overwrite(kJournal, rewritten);
  auto store = open(fs_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find("format version"), std::string::npos)
      << store.error().message;
}

}  // namespace
}  // namespace shido::server
