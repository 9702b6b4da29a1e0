// RedisArrivals against a real redis-server: what is published on the arrivals channel
// reaches every subscribed server; the subscription comes back after Redis does (and says
// so); stopping never hangs, whatever the thread waits on; and the put script publishes the
// recipient of what it stores, only that.
#include "server/redis_arrivals.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/redis_scripts.h"
#include "support/redis_server.h"
#include "support/test_support.h"

namespace shido::server {
namespace {

using namespace std::chrono_literals;
using shido::test::eventually;
using shido::test::RedisServer;

const std::string kChannel = "shido:{global}:arrivals";
const std::string kAlice = "+15550000001";
const std::string kBob = "+15550000002";
const std::string kCarol = "+15550000003";
// Short, so that a test does not wait long for a reconnection.
constexpr RedisBackoff kQuick{10ms, 100ms};

// What one RedisArrivals told its callbacks (called on its thread, read on the test's).
class Heard {
 public:
  ArrivalCallbacks callbacks() {
    return {[this](const std::string& phone) {
              std::lock_guard lock(mutex_);
              phones_.push_back(phone);
            },
            [this] {
              std::lock_guard lock(mutex_);
              subscriptions_ += 1;
            },
            [this](bool up, const std::string& why) {
              std::lock_guard lock(mutex_);
              states_.push_back(up ? "up" : "down: " + why);
            }};
  }
  std::vector<std::string> phones() const {
    std::lock_guard lock(mutex_);
    return phones_;
  }
  int subscriptions() const {
    std::lock_guard lock(mutex_);
    return subscriptions_;
  }
  std::vector<std::string> states() const {
    std::lock_guard lock(mutex_);
    return states_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> phones_;
  int subscriptions_ = 0;
  std::vector<std::string> states_;
};

RedisAddress address_of(const std::string& url) {
  auto address = parse_redis_url(url);
  if (!address.ok()) throw std::runtime_error(address.error().message);
  return std::move(address).value();
}

std::unique_ptr<RedisArrivals> listen(const RedisServer& redis, Heard& heard,
                                      RedisBackoff backoff = kQuick) {
  return std::make_unique<RedisArrivals>(address_of(redis.url()), kChannel, heard.callbacks(),
                                         RedisTimeouts{}, backoff);
}

std::string publish(const RedisServer& redis, const std::string& channel,
                    const std::string& phone) {
  return redis.command("PUBLISH " + channel + " " + phone);
}

TEST(RedisArrivalsTest, APublishedPhoneReachesTheCallback) {
  RedisServer& redis = shido::test::shared_redis_server();
  Heard heard;
  auto arrivals = listen(redis, heard);
  ASSERT_TRUE(eventually([&] { return heard.subscriptions() == 1; }));
  EXPECT_EQ(publish(redis, kChannel, kAlice), ":1");
  ASSERT_TRUE(eventually([&] { return !heard.phones().empty(); }));
  EXPECT_EQ(heard.phones(), std::vector<std::string>{kAlice});
  EXPECT_EQ(heard.states(), std::vector<std::string>{"up"});
}

TEST(RedisArrivalsTest, OnlyItsOwnChannelIsHeard) {
  RedisServer& redis = shido::test::shared_redis_server();
  Heard heard;
  auto arrivals = listen(redis, heard);
  ASSERT_TRUE(eventually([&] { return heard.subscriptions() == 1; }));
  EXPECT_EQ(publish(redis, "shido:{global}:other", kAlice), ":0");
  EXPECT_EQ(publish(redis, kChannel, kBob), ":1");
  // Redis delivers in order: had the first been heard, it would come first.
  ASSERT_TRUE(eventually([&] { return !heard.phones().empty(); }));
  EXPECT_EQ(heard.phones(), std::vector<std::string>{kBob});
}

TEST(RedisArrivalsTest, EveryServerHearsOnePublish) {
  RedisServer& redis = shido::test::shared_redis_server();
  Heard heard_a;
  Heard heard_b;
  auto a = listen(redis, heard_a);
  auto b = listen(redis, heard_b);
  ASSERT_TRUE(eventually([&] { return heard_a.subscriptions() == 1; }));
  ASSERT_TRUE(eventually([&] { return heard_b.subscriptions() == 1; }));
  EXPECT_EQ(publish(redis, kChannel, kAlice), ":2");
  ASSERT_TRUE(eventually([&] { return !heard_a.phones().empty() && !heard_b.phones().empty(); }));
  EXPECT_EQ(heard_a.phones(), std::vector<std::string>{kAlice});
  EXPECT_EQ(heard_b.phones(), std::vector<std::string>{kAlice});
}

TEST(RedisArrivalsTest, TheSubscriptionComesBackAfterRedisRestarts) {
  RedisServer redis;
  Heard heard;
  auto arrivals = listen(redis, heard);
  ASSERT_TRUE(eventually([&] { return heard.subscriptions() == 1; }));
  redis.stop();
  ASSERT_TRUE(eventually([&] { return heard.states().size() == 2; }));
  redis.start_again();
  // Announced again: the store wakes every waiter, for what was published meanwhile.
  ASSERT_TRUE(eventually([&] { return heard.subscriptions() == 2; }));
  EXPECT_EQ(publish(redis, kChannel, kAlice), ":1");
  ASSERT_TRUE(eventually([&] { return !heard.phones().empty(); }));
  EXPECT_EQ(heard.phones(), std::vector<std::string>{kAlice});
  // Each change once, however many attempts failed while Redis was down.
  const std::vector<std::string> states = heard.states();
  ASSERT_EQ(states.size(), 3U);
  EXPECT_EQ(states[0], "up");
  EXPECT_EQ(states[1].rfind("down: 127.0.0.1:" + std::to_string(redis.port()), 0), 0U) << states[1];
  EXPECT_NE(states[1].find("; retrying in 10 ms"), std::string::npos) << states[1];
  EXPECT_EQ(states[2], "up");
}

TEST(RedisArrivalsTest, StoppingInterruptsTheBackoff) {
  RedisServer redis;
  Heard heard;
  // A back-off no test would outwait: if stopping waited it out, this test would hang.
  auto arrivals = listen(redis, heard, {std::chrono::hours(1), std::chrono::hours(1)});
  ASSERT_TRUE(eventually([&] { return heard.subscriptions() == 1; }));
  redis.stop();
  ASSERT_TRUE(eventually([&] { return heard.states().size() == 2; }));
  arrivals.reset();
  EXPECT_EQ(heard.states()[1].find("down: "), 0U);
}

TEST(RedisArrivalsTest, StoppingInterruptsTheWaitForAMessage) {
  RedisServer& redis = shido::test::shared_redis_server();
  Heard heard;
  auto arrivals = listen(redis, heard);
  ASSERT_TRUE(eventually([&] { return heard.subscriptions() == 1; }));
  // Subscribed and idle: the thread waits for Redis, which sends nothing.
  arrivals->stop();
  arrivals->stop();  // idempotent
  EXPECT_TRUE(heard.phones().empty());
}

TEST(RedisArrivalsTest, AWrongPasswordIsReportedWithoutThePassword) {
  RedisServer& redis = shido::test::shared_redis_server();
  Heard heard;
  // The test server has no password: Redis refuses any AUTH.
  RedisArrivals arrivals(address_of("redis://:hunter2@127.0.0.1:" + std::to_string(redis.port())),
                         kChannel, heard.callbacks(), RedisTimeouts{}, kQuick);
  ASSERT_TRUE(eventually([&] { return !heard.states().empty(); }));
  const std::string state = heard.states().front();
  EXPECT_EQ(state.find("down: "), 0U) << state;
  EXPECT_NE(state.find("redis said: "), std::string::npos) << state;
  EXPECT_EQ(state.find("hunter2"), std::string::npos) << state;
  EXPECT_EQ(heard.subscriptions(), 0);
}

// The put script's own announcement, without the store: keys and arguments as
// server/redis_scripts.cc lists them, one batch of messages from Alice.
Result<RedisReply> put(RedisConnection& connection, const RedisScripts& scripts,
                       const std::vector<std::pair<std::string, std::string>>& to_and_ids) {
  std::vector<std::string> keys = {"shido:{global}:totals", "shido:{global}:held"};
  std::vector<std::string> args = {"100",    "100000",  "1000000", "100",
                                   "100000", "1000000", kChannel};
  for (const auto& [to, id] : to_and_ids) {
    for (const char* part : {"user", "box", "order", "messages", "shares"}) {
      keys.push_back("shido:{" + to + "}:" + part);
    }
    args.insert(args.end(), {to, id, kAlice, "32", "100", "32 100 0 " + kAlice + " record"});
  }
  return scripts.put.run(connection, keys, args);
}

std::vector<std::int64_t> codes_of(const RedisReply& reply) {
  std::vector<std::int64_t> codes;
  for (std::size_t i = 0; i < reply.view().size(); ++i) codes.push_back(reply.view()[i].integer());
  return codes;
}

TEST(RedisArrivalsTest, ThePutScriptAnnouncesWhatItStores) {
  RedisServer& redis = shido::test::shared_redis_server();
  ASSERT_EQ(redis.command("FLUSHALL"), "+OK");
  ASSERT_EQ(redis.command("HSET shido:{" + kBob + "}:user email bob@example.com"), ":1");
  ASSERT_EQ(redis.command("HSET shido:{" + kCarol + "}:user email carol@example.com"), ":1");
  Heard heard;
  auto arrivals = listen(redis, heard);
  ASSERT_TRUE(eventually([&] { return heard.subscriptions() == 1; }));

  RedisConnection connection(address_of(redis.url()), RedisTimeouts{});
  const RedisScripts scripts;
  // Refused (no such user): nothing stored, nothing announced.
  auto refused = put(connection, scripts, {{kAlice, "m1"}});
  ASSERT_TRUE(refused.ok()) << refused.error().message;
  EXPECT_EQ(codes_of(refused.value()), std::vector<std::int64_t>{1});
  // A batch: each recipient is announced once, however many of its messages it holds.
  auto stored = put(connection, scripts, {{kBob, "m2"}, {kBob, "m3"}, {kCarol, "m4"}});
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  EXPECT_EQ(codes_of(stored.value()), (std::vector<std::int64_t>{0, 0, 0}));
  // Redis delivers in order: an announcement of the refused put would come first.
  ASSERT_TRUE(eventually([&] { return heard.phones().size() >= 2; }));
  EXPECT_EQ(heard.phones(), (std::vector<std::string>{kBob, kCarol}));
}

}  // namespace
}  // namespace shido::server
