// What Store::counts() tells the status line, for both stores: accounts, waiting messages
// and their ciphertext, the totals of messages stored and fetched since the start (refused
// puts, acknowledgements and replayed records add nothing), and, for the disk store alone,
// the journal's bytes.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "fake_file_system.h"
#include "fake_time.h"
#include "server/disk_store.h"
#include "server/memory_store.h"
#include "server/store.h"
#include "store_fixtures.h"

namespace shido::server {
namespace {

using std::chrono::seconds;
using test::FakeFileSystem;
using test::FakeTime;
using test::make_message;
using test::make_user;

const std::string kAlice = "+15550000001";
const std::string kBob = "+15550000002";

std::string put(Store& store, const std::string& to, std::size_t ciphertext_size) {
  std::string id;
  const auto stored = store.put_message(to, make_message(kAlice, ciphertext_size), id);
  EXPECT_TRUE(stored.ok() && stored.value() == PutResult::kStored);
  return id;
}

// Alice and Bob; Alice writes 3 messages to Bob (48, 64 and 80 bytes of ciphertext), one
// to nobody; Bob fetches two twice over, then acknowledges them.
void run_load(Store& store) {
  ASSERT_EQ(store.add_user(make_user(kAlice)).value(), AddUserResult::kAdded);
  ASSERT_EQ(store.add_user(make_user(kBob)).value(), AddUserResult::kAdded);
  std::vector<std::string> ids;
  for (std::size_t size : {48, 64, 80}) ids.push_back(put(store, kBob, size));
  std::string id;
  EXPECT_EQ(store.put_message("+15559999999", make_message(kAlice), id).value(),
            PutResult::kNoSuchUser);
  EXPECT_EQ(store.fetch(kBob, 2, seconds(0)).value().size(), 2u);
  EXPECT_EQ(store.fetch(kBob, 2, seconds(0)).value().size(), 2u);
  EXPECT_EQ(store.fetch(kAlice, 10, seconds(0)).value().size(), 0u);
  EXPECT_EQ(store.ack(kBob, {ids[0], ids[1], "not-there"}).value().deleted, 2);
}

void expect_counts_after_load(const StoreCounts& counts) {
  EXPECT_EQ(counts.users, 2u);
  EXPECT_EQ(counts.messages, 1u);
  EXPECT_EQ(counts.ciphertext_bytes, 80u);
  EXPECT_EQ(counts.envelope_bytes, 80u + kPackedEnvelopeFixedSize);
  EXPECT_EQ(counts.messages_stored, 3u);
  EXPECT_EQ(counts.messages_fetched, 4u);
}

TEST(StoreCountsTest, TheMemoryStoreCountsWhatItHoldsAndHasDone) {
  FakeTime time;
  auto store = make_memory_store(time);
  EXPECT_EQ(store->counts().messages_stored, 0u);
  run_load(*store);
  const StoreCounts counts = store->counts();
  expect_counts_after_load(counts);
  EXPECT_FALSE(counts.journal_bytes.has_value());
}

class DiskStoreCountsTest : public ::testing::Test {
 protected:
  std::unique_ptr<DiskStore> open() {
    DiskStoreOptions options;
    options.directory = "data";
    auto store = DiskStore::open(options, fs_, time_, Limits{}, logger_);
    if (!store.ok()) throw std::runtime_error(store.error().message);
    return std::move(store).value();
  }

  FakeFileSystem fs_;
  FakeTime time_;
  Logger logger_{LogLevel::kError};
};

TEST_F(DiskStoreCountsTest, TheDiskStoreAddsItsJournalsBytes) {
  auto store = open();
  const std::uint64_t empty = store->counts().journal_bytes.value();
  run_load(*store);
  const StoreCounts counts = store->counts();
  expect_counts_after_load(counts);
  ASSERT_TRUE(counts.journal_bytes.has_value());
  EXPECT_GT(*counts.journal_bytes, empty);
  EXPECT_EQ(*counts.journal_bytes, store->stats().journal_bytes);
}

TEST_F(DiskStoreCountsTest, TotalsStartAtZeroAfterARestart) {
  {
    auto store = open();
    run_load(*store);
  }
  auto store = open();  // replays the journal: what it holds, but no traffic
  const StoreCounts counts = store->counts();
  EXPECT_EQ(counts.users, 2u);
  EXPECT_EQ(counts.messages, 1u);
  EXPECT_EQ(counts.messages_stored, 0u);
  EXPECT_EQ(counts.messages_fetched, 0u);
}

}  // namespace
}  // namespace shido::server
