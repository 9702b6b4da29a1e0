// RedisHealth on a fake clock: connects are allowed freely while Redis answers, once per
// back-off delay (100 ms doubling to 5 s) after a failure, and each change is reported once.
#include "server/redis_health.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "fake_time.h"

namespace shido::server {
namespace {

using std::chrono::milliseconds;

class RedisHealthTest : public ::testing::Test {
 protected:
  struct Change {
    bool reachable;
    std::string detail;
  };

  // Begins an attempt; nullopt (and why_) when the health refuses one now.
  std::optional<RedisHealth::Attempt> begin() { return health_.begin(why_); }
  // One attempt that fails, which the health must allow.
  void fail_once() {
    auto attempt = begin();
    ASSERT_TRUE(attempt) << why_;
    health_.failed(*attempt, "Connection refused");
  }

  test::FakeTime time_;
  std::vector<Change> changes_;
  RedisHealth health_{"127.0.0.1:6379/0", time_, [this](bool reachable, const std::string& detail) {
                        changes_.push_back({reachable, detail});
                      }};
  std::string why_;
};

TEST_F(RedisHealthTest, WhileRedisAnswersEveryConnectIsAllowed) {
  for (int i = 0; i < 3; ++i) {
    auto attempt = begin();
    ASSERT_TRUE(attempt);
    EXPECT_FALSE(attempt->probe);
    health_.succeeded(*attempt);
  }
  EXPECT_TRUE(health_.reachable());
  EXPECT_EQ(health_.attempts(), 3u);
  EXPECT_TRUE(changes_.empty());
}

TEST_F(RedisHealthTest, AFailureIsReportedOnceAndRefusesConnectsUntilTheDelayPassed) {
  fail_once();
  EXPECT_FALSE(health_.reachable());
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_FALSE(changes_[0].reachable);
  EXPECT_EQ(changes_[0].detail,
            "redis at 127.0.0.1:6379/0: Connection refused; retrying in 100 ms");

  EXPECT_FALSE(begin());
  EXPECT_EQ(why_, "Connection refused; next attempt in 100 ms");
  time_.advance(milliseconds(40));
  EXPECT_FALSE(begin());
  EXPECT_EQ(why_, "Connection refused; next attempt in 60 ms");
  time_.advance(milliseconds(59));
  EXPECT_FALSE(begin());
  EXPECT_EQ(health_.attempts(), 1u);

  time_.advance(milliseconds(1));
  auto probe = begin();
  ASSERT_TRUE(probe);
  EXPECT_TRUE(probe->probe);
  EXPECT_EQ(health_.attempts(), 2u);
  EXPECT_EQ(changes_.size(), 1u);
}

TEST_F(RedisHealthTest, WhileTheProbeConnectsOthersFailAtOnce) {
  fail_once();
  time_.advance(milliseconds(100));
  auto probe = begin();
  ASSERT_TRUE(probe);
  EXPECT_FALSE(begin());
  EXPECT_EQ(why_, "Connection refused; trying again now");
  health_.succeeded(*probe);
  auto next = begin();
  ASSERT_TRUE(next);
  EXPECT_FALSE(next->probe);
}

TEST_F(RedisHealthTest, TheDelayDoublesUpToFiveSecondsAndIsResetBySuccess) {
  fail_once();
  for (const int delay : {100, 200, 400, 800, 1600, 3200, 5000, 5000}) {
    time_.advance(milliseconds(delay - 1));
    ASSERT_FALSE(begin()) << delay;
    time_.advance(milliseconds(1));
    auto probe = begin();
    ASSERT_TRUE(probe) << delay;
    health_.failed(*probe, "Connection refused");
  }
  EXPECT_EQ(changes_.size(), 1u);  // still the one report of going down

  time_.advance(milliseconds(5000));
  auto probe = begin();
  ASSERT_TRUE(probe);
  health_.succeeded(*probe);
  EXPECT_TRUE(health_.reachable());
  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_TRUE(changes_[1].reachable);
  EXPECT_EQ(changes_[1].detail, "redis at 127.0.0.1:6379/0");

  fail_once();  // a new outage starts again from 100 ms
  ASSERT_EQ(changes_.size(), 3u);
  EXPECT_EQ(changes_[2].detail,
            "redis at 127.0.0.1:6379/0: Connection refused; retrying in 100 ms");
  time_.advance(milliseconds(100));
  EXPECT_TRUE(begin());
}

TEST_F(RedisHealthTest, ConnectsBegunBeforeTheOutageDoNotPushTheDelay) {
  auto first = begin();
  auto second = begin();
  ASSERT_TRUE(first && second);
  health_.failed(*first, "Connection refused");
  health_.failed(*second, "Connection reset by peer");
  EXPECT_EQ(changes_.size(), 1u);
  time_.advance(milliseconds(100));
  EXPECT_TRUE(begin());  // still 100 ms, not 200
}

TEST_F(RedisHealthTest, AConnectBegunBeforeTheOutageThatSucceedsEndsIt) {
  auto early = begin();
  ASSERT_TRUE(early);
  fail_once();
  health_.succeeded(*early);
  EXPECT_TRUE(health_.reachable());
  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_TRUE(changes_[1].reachable);
  EXPECT_TRUE(begin());
}

TEST(RedisHealthWithoutReportTest, AnEmptyReportIsNotCalled) {
  test::FakeTime time;
  RedisHealth health("127.0.0.1:6379/0", time, nullptr);
  std::string why;
  auto attempt = health.begin(why);
  ASSERT_TRUE(attempt);
  health.failed(*attempt, "Connection refused");
  EXPECT_FALSE(health.reachable());
}

}  // namespace
}  // namespace shido::server
