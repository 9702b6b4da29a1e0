// Moving a disk store into Redis (server/store_import.h, issue 16): what the disk store held
// reads back from the Redis store the same (accounts, lockouts, mailboxes, counts), limits
// and acks go on exactly as on the store it came from, a Redis that holds accounts is refused
// untouched, and the disk store's files are only read.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "fake_file_system.h"
#include "fake_time.h"
#include "server/disk_store.h"
#include "server/memory_store.h"
#include "server/redis_store.h"
#include "server/store_import.h"
#include "shido/crypto/random.h"
#include "store_fixtures.h"
#include "support/redis_server.h"

namespace shido::server {
namespace {

using std::chrono::seconds;
using test::FakeFileSystem;
using test::FakeTime;

const std::string kA = "+15550000001";
const std::string kB = "+15550000002";
const std::string kC = "+15550000003";
const std::string kD = "+15550000004";
const std::vector<std::string> kPhones = {kA, kB, kC, kD};

// Small enough that a few puts reach every limit: 4 messages a mailbox, 2 from one sender
// in one, 960 bytes in the store and 480 held by one sender. (Ciphertexts come in blocks
// of 16 bytes.)
Limits small_limits() {
  Limits limits;
  limits.mailbox_max_messages = 4;
  limits.sender_share_messages = 2;
  limits.store_max_bytes = 960;
  limits.sender_share_of_store = 2;
  return limits;
}

// Each account with a key, salt and hash of its own, so that a mix-up would show.
User distinct_user(const std::string& phone) {
  return User{phone, phone.substr(1) + "@example.com", KeyPair::generate().public_key(),
              random_bytes(16), random_bytes(32)};
}

class RedisImportTest : public ::testing::Test {
 protected:
  RedisImportTest() {
    if (redis_.command("FLUSHALL") != "+OK") throw std::runtime_error("FLUSHALL failed");
  }

  std::unique_ptr<RedisStore> open_redis() {
    auto address = parse_redis_url(redis_.url());
    if (!address.ok()) throw std::runtime_error(address.error().message);
    auto store = RedisStore::open(RedisStoreOptions{address.value(), 2}, time_, small_limits());
    if (!store.ok()) throw std::runtime_error(store.error().message);
    return std::move(store).value();
  }

  // A message from sender (with the sender's registered key) of `size` ciphertext bytes.
  static StoredMessage message_from(const Store& store, const std::string& sender,
                                    std::size_t size) {
    StoredMessage message = test::make_message(sender, size, static_cast<std::uint8_t>(size));
    message.sender_key = store.find_user(sender).value()->public_key;
    return message;
  }

  static PutResult put(Store& store, const std::string& to, const std::string& from,
                       std::size_t size, std::string* id = nullptr) {
    std::string stored;
    auto outcome = store.put_message(to, message_from(store, from, size), stored);
    if (!outcome.ok()) throw std::runtime_error(outcome.error().message);
    if (id != nullptr) *id = stored;
    return outcome.value();
  }

  // A memory store with four accounts, a locked one and one with two failures, and six
  // waiting messages from four senders, stored at different times, one of seven acked.
  void fill_memory() {
    for (const std::string& phone : kPhones) {
      ASSERT_EQ(memory_.add_user(distinct_user(phone)).value(), AddUserResult::kAdded);
    }
    const auto put_later = [&](const std::string& to, const std::string& from, std::size_t size) {
      time_.advance(seconds(1));
      std::string id;
      EXPECT_EQ(put(memory_, to, from, size, &id), PutResult::kStored);
      return id;
    };
    ids_.push_back(put_later(kB, kA, 96));
    const std::string acked = put_later(kB, kA, 96);
    ids_.push_back(put_later(kB, kC, 96));
    ids_.push_back(put_later(kB, kD, 48));
    ids_.push_back(put_later(kC, kA, 96));
    ids_.push_back(put_later(kA, kB, 96));
    ids_.push_back(put_later(kC, kA, 96));
    ASSERT_EQ(memory_.ack(kB, {acked}).value().deleted, 1);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(memory_.record_connect_failure(kA).ok());
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(memory_.record_connect_failure(kC).ok());
  }

  // actual tells the same as the memory store of every account and every mailbox, and
  // counts the same. Ids are compared unless messages were put since the import (each
  // store draws its own).
  void expect_same_as_memory(Store& actual, bool compare_ids = true) {
    const Store& expected = memory_;
    for (const std::string& phone : kPhones) {
      SCOPED_TRACE(phone);
      const auto want = expected.find_user(phone).value();
      const auto got = actual.find_user(phone).value();
      ASSERT_TRUE(want && got);
      EXPECT_EQ(got->email, want->email);
      EXPECT_EQ(got->public_key, want->public_key);
      EXPECT_EQ(got->code_salt, want->code_salt);
      EXPECT_EQ(got->code_hash, want->code_hash);
      EXPECT_EQ(actual.lock_remaining(phone).value(), expected.lock_remaining(phone).value());
      EXPECT_EQ(actual.connect_attempts_left(phone).value(),
                expected.connect_attempts_left(phone).value());
      const auto want_box = memory_.fetch(phone, 100, {}).value();
      const auto got_box = actual.fetch(phone, 100, {}).value();
      ASSERT_EQ(got_box.size(), want_box.size());
      for (std::size_t i = 0; i < want_box.size(); ++i) {
        if (compare_ids) {
          EXPECT_EQ(got_box[i]->id, want_box[i]->id);
        }
        EXPECT_EQ(got_box[i]->sender_phone, want_box[i]->sender_phone);
        EXPECT_EQ(got_box[i]->sender_key, want_box[i]->sender_key);
        EXPECT_EQ(got_box[i]->stored_at_ms, want_box[i]->stored_at_ms);
        EXPECT_EQ(got_box[i]->envelope, want_box[i]->envelope);
      }
    }
    const StoreCounts want = expected.counts();
    const StoreCounts got = actual.counts();
    EXPECT_EQ(got.users, want.users);
    EXPECT_EQ(got.messages, want.messages);
    EXPECT_EQ(got.ciphertext_bytes, want.ciphertext_bytes);
    EXPECT_EQ(got.envelope_bytes, want.envelope_bytes);
  }

  shido::test::RedisServer& redis_ = shido::test::shared_redis_server();
  FakeTime time_;
  MemoryStore memory_{time_, small_limits()};
  std::vector<std::string> ids_;  // the waiting messages' ids, in the order they were put
};

TEST_F(RedisImportTest, RedisGivesBackWhatTheStoreHeld) {
  fill_memory();
  auto redis = open_redis();
  const auto summary = import_store_image(memory_.capture(), *redis);
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(summary.value().accounts, 4u);
  EXPECT_EQ(summary.value().messages, 6u);
  EXPECT_EQ(summary.value().ciphertext_bytes, 528u);
  EXPECT_EQ(summary.value().lock_states, 2u);
  ASSERT_TRUE(redis->lock_remaining(kA).value());
  EXPECT_EQ(*redis->lock_remaining(kA).value(), seconds(60));
  EXPECT_EQ(redis->connect_attempts_left(kC).value(), 3);
  const auto b_box = redis->fetch(kB, 10, {}).value();
  ASSERT_EQ(b_box.size(), 3u);
  EXPECT_EQ(b_box[0]->id, ids_[0]);
  EXPECT_EQ(b_box[2]->id, ids_[2]);
  expect_same_as_memory(*redis);
  EXPECT_EQ(describe_import(summary.value(), "/srv/shido", "127.0.0.1:6379/0"),
            "imported 4 accounts, 6 waiting messages (528 bytes), 2 lock states from "
            "/srv/shido into redis at 127.0.0.1:6379/0");
}

TEST_F(RedisImportTest, LimitsAcksAndLocksGoOnAsOnTheStoreItCameFrom) {
  fill_memory();
  auto redis = open_redis();
  ASSERT_TRUE(import_store_image(memory_.capture(), *redis).ok());

  // The same puts on both: each refusal comes from counts the import wrote (the mailbox's
  // size, a sender's share of it, a sender's holdings, the store's bytes).
  struct Step {
    std::string to;
    std::string from;
    std::size_t size;
    PutResult expected;
  };
  const std::vector<Step> steps = {
      {kB, kA, 96, PutResult::kStored},                // A's second in B; B's fourth
      {kB, kD, 16, PutResult::kMailboxFull},           // B holds 4
      {kC, kA, 96, PutResult::kSenderShareFull},       // A has 2 in C
      {kD, kA, 96, PutResult::kStored},                // A now holds 480
      {kD, kA, 16, PutResult::kSenderStoreShareFull},  // past A's 480
      {kD, kB, 96, PutResult::kStored},                // the store holds 816
      {kD, kC, 192, PutResult::kStoreFull},            // past the store's 960
  };
  for (const Step& step : steps) {
    SCOPED_TRACE(step.from + " to " + step.to);
    EXPECT_EQ(put(memory_, step.to, step.from, step.size), step.expected);
    EXPECT_EQ(put(*redis, step.to, step.from, step.size), step.expected);
  }

  // Acks of imported messages give their room back the same way: A's holdings too.
  for (Store* store : {static_cast<Store*>(&memory_), static_cast<Store*>(redis.get())}) {
    const AckResult acked = store->ack(kB, {ids_[0], ids_[1], "no-such-id"}).value();
    EXPECT_EQ(acked.deleted, 2);
    EXPECT_EQ(acked.waiting, 2);
    EXPECT_EQ(put(*store, kB, kD, 16), PutResult::kStored);
    EXPECT_EQ(put(*store, kD, kA, 96), PutResult::kStored);
  }

  // The lock count came along: the next lock doubles.
  time_.advance(seconds(61));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(memory_.record_connect_failure(kA).ok());
    ASSERT_TRUE(redis->record_connect_failure(kA).ok());
  }
  EXPECT_EQ(redis->record_connect_failure(kC).value().attempts_left,
            memory_.record_connect_failure(kC).value().attempts_left);
  ASSERT_TRUE(redis->lock_remaining(kA).value());
  EXPECT_EQ(*redis->lock_remaining(kA).value(), seconds(120));
  expect_same_as_memory(*redis, /*compare_ids=*/false);
}

TEST_F(RedisImportTest, ARedisThatHoldsAnAccountIsRefusedUntouched) {
  fill_memory();
  auto redis = open_redis();
  ASSERT_EQ(redis->add_user(distinct_user("+15559999999")).value(), AddUserResult::kAdded);
  const std::string keys = redis_.command("DBSIZE");
  auto refused = import_store_image(memory_.capture(), *redis);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("already holds accounts"), std::string::npos);
  EXPECT_EQ(redis_.command("DBSIZE"), keys);
  for (const std::string& phone : kPhones) EXPECT_FALSE(redis->find_user(phone).value());

  // An account is found even when the totals that count it are gone.
  ASSERT_EQ(redis_.command("DEL shido:{global}:totals"), ":1");
  EXPECT_FALSE(import_store_image(memory_.capture(), *redis).ok());
  EXPECT_EQ(redis_.command("EXISTS shido:{" + kB + "}:user"), ":0");
}

TEST_F(RedisImportTest, TheDiskStoreIsReadAndNotWritten) {
  FakeFileSystem fs;
  Logger logger(LogLevel::kError);
  {
    DiskStoreOptions options;
    options.directory = "data";
    auto disk = DiskStore::open(options, fs, time_, small_limits(), logger);
    ASSERT_TRUE(disk.ok()) << disk.error().message;
    for (const std::string& phone : kPhones) {
      ASSERT_EQ(disk.value()->add_user(distinct_user(phone)).value(), AddUserResult::kAdded);
    }
    ASSERT_EQ(put(*disk.value(), kB, kA, 96), PutResult::kStored);
    ASSERT_TRUE(disk.value()->record_connect_failure(kC).ok());
  }
  // A crash cut the last write short: the server would cut this tail at its next start.
  std::string journal;
  for (const std::string& name : fs.names()) {
    if (name.starts_with("data/journal-")) journal = name;
  }
  ASSERT_FALSE(journal.empty());
  Bytes torn = fs.contents(journal).value();
  torn.insert(torn.end(), {0x17, 0x00, 0x00});
  fs.overwrite(journal, torn);
  const std::vector<std::string> names = fs.names();
  using Call = FakeFileSystem::Call;
  const std::vector<Call> writes = {Call::kTruncate, Call::kRemove, Call::kRename,
                                    Call::kCreate,   Call::kOpen,   Call::kSyncDirectory};
  std::vector<int> written;
  for (const Call call : writes) written.push_back(fs.count(call));

  auto image = read_disk_store(fs, "data", logger);
  ASSERT_TRUE(image.ok()) << image.error().message;
  EXPECT_EQ(image.value().users.size(), 4u);
  EXPECT_EQ(image.value().messages.size(), 1u);
  EXPECT_EQ(image.value().locks.size(), 1u);
  EXPECT_EQ(fs.names(), names);
  EXPECT_EQ(fs.contents(journal).value(), torn);
  for (std::size_t i = 0; i < writes.size(); ++i) {
    EXPECT_EQ(fs.count(writes[i]), written[i]) << "call kind " << static_cast<int>(writes[i]);
  }

  auto redis = open_redis();
  ASSERT_TRUE(import_store_image(image.value(), *redis).ok());
  EXPECT_EQ(redis->connect_attempts_left(kC).value(), small_limits().failures_before_lock - 1);
  EXPECT_EQ(redis->waiting(kB), 1u);
}

TEST_F(RedisImportTest, ADirectoryWithoutAStoreIsRefused) {
  FakeFileSystem fs;
  Logger logger(LogLevel::kError);
  fs.overwrite("data/lock", {});
  auto image = read_disk_store(fs, "data", logger);
  ASSERT_FALSE(image.ok());
  EXPECT_NE(image.error().message.find("holds no disk store"), std::string::npos);
}

}  // namespace
}  // namespace shido::server
