// What only the Redis store has (its contract with the other stores is store_test.cc): the
// state lives in Redis under the documented keys, so two stores on one Redis (two servers)
// share accounts, locks, mailboxes and limits; scripts Redis forgot are loaded again; and
// Redis going away gives errors, never a crash, until it is back.
#include "server/redis_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fake_time.h"
#include "server/redis_connection.h"
#include "store_fixtures.h"
#include "support/redis_server.h"
#include "support/test_support.h"

namespace shido::server {
namespace {

using std::chrono::seconds;
using test::FakeTime;
using test::make_message;
using test::make_user;

const std::string kAlice = "+15550000001";
const std::string kBob = "+15550000002";

class RedisStoreTest : public ::testing::Test {
 protected:
  RedisStoreTest() {
    if (redis_.command("FLUSHALL") != "+OK") throw std::runtime_error("FLUSHALL failed");
  }

  std::unique_ptr<RedisStore> open(Limits limits = {}) {
    auto address = parse_redis_url(redis_.url());
    if (!address.ok()) throw std::runtime_error(address.error().message);
    auto store = RedisStore::open(RedisStoreOptions{address.value(), 2}, time_, limits);
    if (!store.ok()) throw std::runtime_error(store.error().message);
    return std::move(store).value();
  }

  static PutResult put(Store& store, const std::string& to, const std::string& from,
                       std::string* id = nullptr) {
    std::string stored;
    auto outcome = store.put_message(to, make_message(from), stored);
    EXPECT_TRUE(outcome.ok()) << outcome.error().message;
    if (id != nullptr) *id = stored;
    return outcome.ok() ? outcome.value() : PutResult::kNoSuchUser;
  }

  // A fetch of phone's mailbox on `store`, waiting up to a minute, on a thread of its own.
  static std::future<std::vector<MessagePtr>> long_poll(RedisStore& store,
                                                        const std::string& phone) {
    return std::async(std::launch::async,
                      [&store, phone] { return store.fetch(phone, 10, seconds(60)).value(); });
  }

  // How many EVALSHA Redis has run (INFO commandstats). A long-poll reads its mailbox with
  // one after registering as a waiter: once that ran, only a wake-up ends the poll early.
  std::int64_t scripts_run() const {
    RedisConnection connection(parse_redis_url(redis_.url()).value(), RedisTimeouts{});
    auto info = connection.command({"INFO", "commandstats"});
    if (!info.ok()) throw std::runtime_error(info.error().message);
    const std::string_view text = info.value().view().text();
    constexpr std::string_view kCalls = "cmdstat_evalsha:calls=";
    const std::size_t at = text.find(kCalls);
    return at == std::string_view::npos ? 0
                                        : std::stoll(std::string(text.substr(at + kCalls.size())));
  }

  shido::test::RedisServer& redis_ = shido::test::shared_redis_server();
  FakeTime time_;
};

TEST_F(RedisStoreTest, TheStateLivesUnderEachAccountsHashTag) {
  auto store = open();
  ASSERT_EQ(store->add_user(make_user(kBob)).value(), AddUserResult::kAdded);
  std::string id;
  ASSERT_EQ(put(*store, kBob, kAlice, &id), PutResult::kStored);
  EXPECT_EQ(redis_.command("EXISTS shido:{" + kBob + "}:user"), ":1");
  EXPECT_EQ(redis_.command("ZSCORE shido:{" + kBob + "}:order " + id), "$1");
  EXPECT_EQ(redis_.command("HEXISTS shido:{" + kBob + "}:messages " + id), ":1");
  EXPECT_EQ(redis_.command("HGET shido:{global}:totals messages"), "$1");
  ASSERT_EQ(store->ack(kBob, {id}).value().deleted, 1);
  // Nothing of the message is left: not its record, nor the sender's share or holding.
  EXPECT_EQ(redis_.command("EXISTS shido:{" + kBob + "}:messages"), ":0");
  EXPECT_EQ(redis_.command("HLEN shido:{" + kBob + "}:shares"), ":0");
  EXPECT_EQ(redis_.command("HLEN shido:{global}:held"), ":0");
}

TEST_F(RedisStoreTest, TwoStoresOnOneRedisShareEverything) {
  auto a = open();
  auto b = open();
  ASSERT_EQ(a->add_user(make_user(kBob)).value(), AddUserResult::kAdded);
  EXPECT_EQ(b->add_user(make_user(kBob)).value(), AddUserResult::kPhoneTaken);
  ASSERT_TRUE(b->find_user(kBob).value());
  EXPECT_EQ(b->find_user(kBob).value()->public_key, make_user(kBob).public_key);

  std::string id;
  ASSERT_EQ(put(*a, kBob, kAlice, &id), PutResult::kStored);
  const auto fetched = b->fetch(kBob, 10, {}).value();
  ASSERT_EQ(fetched.size(), 1u);
  EXPECT_EQ(fetched[0]->id, id);
  EXPECT_EQ(fetched[0]->sender_key, make_user(kAlice).public_key);
  EXPECT_EQ(fetched[0]->stored_at_ms, FakeTime::kStartUnixMs);
  EXPECT_EQ(b->ack(kBob, {id}).value().deleted, 1);
  EXPECT_EQ(a->waiting(kBob), 0u);

  // A lock earned through one holds on the other.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a->record_connect_failure(kAlice).ok());
  ASSERT_TRUE(b->lock_remaining(kAlice).value());
  EXPECT_EQ(*b->lock_remaining(kAlice).value(), seconds(60));

  // And so do the rate limits: three codes for a phone from one address, in all.
  EXPECT_FALSE(a->take_code_slot(kAlice, "192.0.2.1").value());
  EXPECT_FALSE(b->take_code_slot(kAlice, "192.0.2.1").value());
  EXPECT_FALSE(a->take_code_slot(kAlice, "192.0.2.1").value());
  auto refused = b->take_code_slot(kAlice, "192.0.2.1").value();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->limit, RateLimit::kCodesPerPhoneFromAddress);
}

// The put script publishes the recipient and every store subscribes (server/redis_arrivals.h):
// a long-poll on one server wakes for a message put through another.
TEST_F(RedisStoreTest, ALongPollWakesForAMessagePutThroughAnotherStore) {
  auto a = open();
  auto b = open();
  ASSERT_EQ(a->add_user(make_user(kBob)).value(), AddUserResult::kAdded);
  const std::int64_t before = scripts_run();
  auto polled = long_poll(*b, kBob);
  ASSERT_TRUE(shido::test::eventually([&] { return scripts_run() > before; }));
  std::string id;
  ASSERT_EQ(put(*a, kBob, kAlice, &id), PutResult::kStored);
  ASSERT_EQ(polled.wait_for(seconds(20)), std::future_status::ready)
      << "the put did not wake the fetch";
  const auto messages = polled.get();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]->id, id);
}

// What is published while a subscription is down is lost; once it is back, every long-poll
// of that store reads its mailbox again (and one that finds nothing waits on).
TEST_F(RedisStoreTest, ALongPollWakesForAMessagePutWhileItsSubscriptionWasDown) {
  auto a = open();
  auto b = open();
  ASSERT_EQ(a->add_user(make_user(kBob)).value(), AddUserResult::kAdded);
  ASSERT_EQ(a->add_user(make_user(kAlice)).value(), AddUserResult::kAdded);
  const std::int64_t before = scripts_run();
  auto bobs = long_poll(*b, kBob);
  auto alices = long_poll(*b, kAlice);
  ASSERT_TRUE(shido::test::eventually([&] { return scripts_run() >= before + 2; }));
  // Every subscription's connection goes; each store subscribes again after its back-off.
  redis_.command("CLIENT KILL TYPE pubsub");
  std::string id;
  ASSERT_EQ(put(*a, kBob, kAlice, &id), PutResult::kStored);
  ASSERT_EQ(bobs.wait_for(seconds(20)), std::future_status::ready)
      << "the resubscription did not wake the fetch";
  const auto messages = bobs.get();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]->id, id);
  // Woken too, Alice's long-poll found nothing and waits on, until her message comes.
  EXPECT_EQ(alices.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  ASSERT_EQ(put(*a, kAlice, kBob), PutResult::kStored);
  ASSERT_EQ(alices.wait_for(seconds(20)), std::future_status::ready);
  EXPECT_EQ(alices.get().size(), 1u);
}

TEST_F(RedisStoreTest, CountsAreTheStoresAndTotalsThisServersOwn) {
  auto a = open();
  auto b = open();
  ASSERT_EQ(a->add_user(make_user(kAlice)).value(), AddUserResult::kAdded);
  ASSERT_EQ(b->add_user(make_user(kBob)).value(), AddUserResult::kAdded);
  std::string first;
  ASSERT_EQ(put(*a, kBob, kAlice, &first), PutResult::kStored);
  ASSERT_EQ(put(*a, kBob, kAlice), PutResult::kStored);
  EXPECT_EQ(b->fetch(kBob, 10, {}).value().size(), 2u);
  ASSERT_EQ(b->ack(kBob, {first}).value().deleted, 1);
  // What the store holds is the same seen from either server...
  for (const RedisStore* store : {a.get(), b.get()}) {
    const StoreCounts counts = store->counts();
    EXPECT_EQ(counts.users, 2u);
    EXPECT_EQ(counts.messages, 1u);
    EXPECT_EQ(counts.ciphertext_bytes, 32u);
    EXPECT_EQ(counts.envelope_bytes, 32u + kPackedEnvelopeFixedSize);
    EXPECT_FALSE(counts.journal_bytes.has_value());
  }
  // ...and what each did is its own.
  EXPECT_EQ(a->counts().messages_stored, 2u);
  EXPECT_EQ(a->counts().messages_fetched, 0u);
  EXPECT_EQ(b->counts().messages_stored, 0u);
  EXPECT_EQ(b->counts().messages_fetched, 2u);
}

TEST_F(RedisStoreTest, TheSamePhoneRegisteredOnManyStoresAtOnceIsAddedOnce) {
  std::vector<std::unique_ptr<RedisStore>> stores;
  for (int i = 0; i < 4; ++i) stores.push_back(open());
  std::vector<AddUserResult> results(stores.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < stores.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = stores[i]->add_user(make_user(kBob)).value(); });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(std::count(results.begin(), results.end(), AddUserResult::kAdded), 1);
  EXPECT_EQ(stores[0]->counts().users, 1u);
}

TEST_F(RedisStoreTest, ScriptsRedisForgotAreLoadedAgain) {
  auto store = open();
  ASSERT_EQ(store->add_user(make_user(kBob)).value(), AddUserResult::kAdded);
  ASSERT_EQ(put(*store, kBob, kAlice), PutResult::kStored);
  ASSERT_EQ(redis_.command("SCRIPT FLUSH"), "+OK");
  EXPECT_EQ(put(*store, kBob, kAlice), PutResult::kStored);
  EXPECT_EQ(store->fetch(kBob, 10, {}).value().size(), 2u);
}

TEST_F(RedisStoreTest, AWrongAddressIsReportedAtOpen) {
  shido::test::RedisServer gone;
  const std::string url = gone.url();
  gone.stop();
  auto address = parse_redis_url(url);
  ASSERT_TRUE(address.ok());
  auto store = RedisStore::open(RedisStoreOptions{address.value(), 1}, time_, Limits{});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, Errc::kIo);
  EXPECT_NE(store.error().message.find("storage unavailable"), std::string::npos);
}

TEST_F(RedisStoreTest, WhileRedisIsDownChangesFailAndNothingCrashesThenItReconnects) {
  shido::test::RedisServer own;
  auto address = parse_redis_url(own.url());
  ASSERT_TRUE(address.ok());
  auto opened = RedisStore::open(RedisStoreOptions{address.value(), 2}, time_, Limits{});
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto& store = *opened.value();
  ASSERT_EQ(store.add_user(make_user(kBob)).value(), AddUserResult::kAdded);

  own.stop();
  auto added = store.add_user(make_user(kAlice));
  ASSERT_FALSE(added.ok());
  EXPECT_NE(added.error().message.find("storage unavailable"), std::string::npos);
  std::string id;
  auto stored = store.put_message(kBob, make_message(kAlice), id);
  ASSERT_FALSE(stored.ok());
  EXPECT_FALSE(store.ack(kBob, {"x"}).ok());
  EXPECT_FALSE(store.record_connect_failure(kBob).ok());
  EXPECT_FALSE(store.record_connect_success(kBob).ok());
  // So do the reads: the session answers 100 rather than guess (no account, no lock).
  for (const bool succeeded :
       {store.take_code_slot(kBob, "192.0.2.1").ok(),
        store.take_failed_proof_slot(kBob, "192.0.2.1").ok(), store.lock_remaining(kBob).ok(),
        store.connect_attempts_left(kBob).ok(), store.find_user(kBob).ok(),
        store.fetch(kBob, 10, std::chrono::milliseconds(10)).ok()}) {
    EXPECT_FALSE(succeeded);
  }
  EXPECT_NE(store.find_user(kBob).error().message.find("storage unavailable"), std::string::npos);

  own.start_again();                       // without AOF: empty, as a new Redis would be
  time_.advance(std::chrono::seconds(5));  // the pool's back-off (server/redis_health.h)
  EXPECT_EQ(store.add_user(make_user(kBob)).value(), AddUserResult::kAdded);
  EXPECT_EQ(put(store, kBob, kAlice), PutResult::kStored);
  EXPECT_EQ(store.waiting(kBob), 1u);
}

}  // namespace
}  // namespace shido::server
