// RedisPool against a real redis-server that goes away and comes back, on a fake clock:
// while it is down, commands fail at once with "storage unavailable" and the pool tries to
// connect once per back-off delay; each change of reachability is reported once.
#include "server/redis_pool.h"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "fake_time.h"
#include "support/redis_server.h"

namespace shido::server {
namespace {

using std::chrono::milliseconds;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class RedisPoolTest : public ::testing::Test {
 protected:
  struct Change {
    bool reachable;
    std::string detail;
  };

  static RedisAddress address_of(const shido::test::RedisServer& redis) {
    auto address = parse_redis_url(redis.url());
    if (!address.ok()) throw std::runtime_error(address.error().message);
    return address.value();
  }

  // PING through a connection of the pool: "" when Redis answered, else the error.
  std::string ping() {
    auto connection = pool_.lease();
    auto reply = connection->command({"PING"});
    return reply.ok() ? std::string() : reply.error().message;
  }

  std::uint64_t attempts() const { return pool_.health()->attempts(); }

  shido::test::RedisServer redis_;
  const RedisAddress address_ = address_of(redis_);
  test::FakeTime time_;
  std::vector<Change> changes_;
  RedisPool pool_{address_, 2, RedisTimeouts{}, time_,
                  [this](bool reachable, const std::string& detail) {
                    changes_.push_back({reachable, detail});
                  }};
};

TEST_F(RedisPoolTest, WhileRedisIsDownItIsTriedOncePerDelayAndReportedOnce) {
  ASSERT_EQ(ping(), "");
  ASSERT_EQ(ping(), "");
  ASSERT_TRUE(pool_.health()->reachable());
  const std::uint64_t connected = attempts();
  EXPECT_GE(connected, 1u);
  EXPECT_TRUE(changes_.empty());

  redis_.stop();
  // Each connection finds its stream gone, then the first connect fails and is reported.
  for (int i = 0; i < 6; ++i) {
    const std::string error = ping();
    EXPECT_TRUE(contains(error, "storage unavailable: redis at " + address_.describe() + ": "))
        << error;
  }
  EXPECT_EQ(attempts(), connected + 1);
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_FALSE(changes_[0].reachable);
  EXPECT_TRUE(contains(changes_[0].detail, "redis at " + address_.describe() + ": "))
      << changes_[0].detail;
  EXPECT_TRUE(contains(changes_[0].detail, "; retrying in 100 ms")) << changes_[0].detail;
  EXPECT_FALSE(pool_.health()->reachable());

  // Until the delay passed, commands fail without a connect.
  time_.advance(milliseconds(99));
  const std::string waiting = ping();
  EXPECT_TRUE(contains(waiting, "storage unavailable: redis at ")) << waiting;
  EXPECT_TRUE(contains(waiting, "; next attempt in 1 ms")) << waiting;
  EXPECT_EQ(attempts(), connected + 1);

  // Then one connect, which fails too: the next waits twice as long.
  time_.advance(milliseconds(1));
  EXPECT_NE(ping(), "");
  EXPECT_NE(ping(), "");
  EXPECT_EQ(attempts(), connected + 2);
  time_.advance(milliseconds(199));
  EXPECT_NE(ping(), "");
  EXPECT_EQ(attempts(), connected + 2);
  EXPECT_EQ(changes_.size(), 1u);

  // Redis is back, but nobody tries before the delay passed.
  redis_.start_again();
  const std::string early = ping();
  EXPECT_TRUE(contains(early, "next attempt in 1 ms")) << early;
  time_.advance(milliseconds(1));
  {
    auto first = pool_.lease();
    auto second = pool_.lease();
    EXPECT_TRUE(first->command({"PING"}).ok());
    EXPECT_TRUE(second->command({"PING"}).ok());  // up again: connects without waiting
  }
  EXPECT_EQ(attempts(), connected + 4);
  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_TRUE(changes_[1].reachable);
  EXPECT_EQ(changes_[1].detail, "redis at " + address_.describe());
  EXPECT_TRUE(pool_.health()->reachable());
}

TEST(RedisPoolWithoutBackOffTest, EveryCommandTriesToConnect) {
  shido::test::RedisServer redis;
  auto address = parse_redis_url(redis.url());
  ASSERT_TRUE(address.ok());
  RedisPool pool(address.value(), 1, RedisTimeouts{});
  EXPECT_EQ(pool.health(), nullptr);
  redis.stop();
  for (int i = 0; i < 2; ++i) {
    auto reply = pool.lease()->command({"PING"});
    ASSERT_FALSE(reply.ok());
    EXPECT_TRUE(contains(reply.error().message, "storage unavailable")) << reply.error().message;
  }
  redis.start_again();
  EXPECT_TRUE(pool.lease()->command({"PING"}).ok());  // no delay to wait
}

}  // namespace
}  // namespace shido::server
