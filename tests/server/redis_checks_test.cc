// check_redis_server against a real redis-server (its settings changed with CONFIG SET and
// ACL for each case), and judge_redis_settings alone for what a test Redis cannot be made to
// say (an old version, a Redis that reports nothing).
#include "server/redis_checks.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "support/redis_server.h"

namespace shido::server {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class RedisChecksTest : public ::testing::Test {
 protected:
  // A Redis of the test's own, changed as the test likes.
  explicit RedisChecksTest(shido::test::RedisServer::Options options = {}) : redis_(options) {}

  void set(const std::string& inline_command) {
    if (redis_.command(inline_command) != "+OK") {
      throw std::runtime_error("redis refused " + inline_command);
    }
  }

  RedisAddress address() const {
    auto address = parse_redis_url(redis_.url());
    if (!address.ok()) throw std::runtime_error(address.error().message);
    return address.value();
  }

  Result<RedisServerCheck> check() {
    RedisConnection connection(address(), RedisTimeouts{});
    return check_redis_server(connection);
  }

  shido::test::RedisServer redis_;
};

TEST_F(RedisChecksTest, TheTestRedisHasPersistenceOffWhichIsAWarning) {
  auto checked = check();
  ASSERT_TRUE(checked.ok()) << checked.error().message;
  EXPECT_FALSE(checked.value().version.empty());
  ASSERT_EQ(checked.value().warnings.size(), 1u);
  const std::string& warning = checked.value().warnings[0];
  EXPECT_TRUE(contains(warning, "redis at " + address().describe())) << warning;
  EXPECT_TRUE(contains(warning, "a restart of redis loses every account and message")) << warning;
}

TEST_F(RedisChecksTest, EveryEvictingPolicyIsRefusedByName) {
  for (const std::string policy : {"allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu",
                                   "allkeys-random", "volatile-random", "volatile-ttl"}) {
    set("CONFIG SET maxmemory-policy " + policy);
    auto checked = check();
    ASSERT_FALSE(checked.ok()) << policy;
    EXPECT_EQ(checked.error().code, Errc::kInvalidArgument);
    EXPECT_EQ(checked.error().message,
              "redis at " + address().describe() + " has maxmemory-policy " + policy +
                  ", which evicts keys and would lose accounts and mail: set maxmemory-policy "
                  "noeviction");
  }
  set("CONFIG SET maxmemory-policy noeviction");
  EXPECT_TRUE(check().ok());
}

TEST_F(RedisChecksTest, SnapshotsOnlyAreAWarning) {
  set("CONFIG SET save \"60 1\"");
  auto checked = check();
  ASSERT_TRUE(checked.ok()) << checked.error().message;
  ASSERT_EQ(checked.value().warnings.size(), 1u);
  EXPECT_TRUE(contains(checked.value().warnings[0],
                       "snapshots only (appendonly no, save \"60 1\"): a crash loses what came "
                       "since the last one"))
      << checked.value().warnings[0];
}

// AOF on from the start: turned on by CONFIG SET, Redis would first write the AOF in the
// background and ignore the SIGTERM that stops it meanwhile.
class DurableRedisChecksTest : public RedisChecksTest {
 protected:
  DurableRedisChecksTest() : RedisChecksTest({.append_only = true}) {}
};

TEST_F(DurableRedisChecksTest, NoEvictionWithAppendFsyncAlwaysHasNoWarning) {
  auto checked = check();
  ASSERT_TRUE(checked.ok()) << checked.error().message;
  EXPECT_TRUE(checked.value().warnings.empty()) << checked.value().warnings[0];
}

TEST_F(DurableRedisChecksTest, AppendFsyncEverySecondIsAWarning) {
  set("CONFIG SET appendfsync everysec");
  auto checked = check();
  ASSERT_TRUE(checked.ok()) << checked.error().message;
  ASSERT_EQ(checked.value().warnings.size(), 1u);
  EXPECT_TRUE(contains(checked.value().warnings[0],
                       "a crash of the machine can lose up to a second of acknowledged messages"))
      << checked.value().warnings[0];
}

TEST_F(DurableRedisChecksTest, AppendFsyncNoIsAWarning) {
  set("CONFIG SET appendfsync no");
  auto checked = check();
  ASSERT_TRUE(checked.ok()) << checked.error().message;
  ASSERT_EQ(checked.value().warnings.size(), 1u);
  EXPECT_TRUE(contains(checked.value().warnings[0], "has appendfsync no"));
}

TEST_F(RedisChecksTest, WithoutConfigThePolicyAndAofComeFromInfo) {
  set("CONFIG SET maxmemory-policy allkeys-lru");
  set("ACL SETUSER default -config");
  auto refused = check();
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(contains(refused.error().message, "maxmemory-policy allkeys-lru"))
      << refused.error().message;

  set("ACL SETUSER default +config");
  set("CONFIG SET maxmemory-policy noeviction");
  set("ACL SETUSER default -config");
  auto checked = check();
  ASSERT_TRUE(checked.ok()) << checked.error().message;
  ASSERT_EQ(checked.value().warnings.size(), 1u);
  const std::string& warning = checked.value().warnings[0];
  EXPECT_TRUE(contains(warning, "has appendonly no and its save points could not be read"))
      << warning;
  EXPECT_TRUE(contains(warning, "CONFIG GET refused: NOPERM")) << warning;
}

TEST_F(RedisChecksTest, WithoutConfigAndInfoWhatCannotBeCheckedIsAWarning) {
  set("ACL SETUSER default -config -info");
  auto checked = check();
  ASSERT_TRUE(checked.ok()) << checked.error().message;
  EXPECT_EQ(checked.value().version, "");
  ASSERT_EQ(checked.value().warnings.size(), 2u);
  EXPECT_TRUE(contains(checked.value().warnings[0], "could not check the maxmemory-policy"));
  EXPECT_TRUE(contains(checked.value().warnings[1], "could not check the persistence"));
  EXPECT_TRUE(contains(checked.value().warnings[1], "INFO refused: NOPERM"));
}

TEST_F(RedisChecksTest, AReplicaIsRefused) {
  shido::test::RedisServer primary;
  set("REPLICAOF 127.0.0.1 " + std::to_string(primary.port()));
  auto checked = check();
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().message,
            "redis at " + address().describe() +
                " is a replica of 127.0.0.1:" + std::to_string(primary.port()) +
                ": what the server writes there is refused or lost; give the primary's address");
}

TEST_F(RedisChecksTest, AnUnreachableRedisIsAnError) {
  redis_.stop();
  auto checked = check();
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().code, Errc::kIo);
  EXPECT_TRUE(contains(checked.error().message, "storage unavailable: redis at "))
      << checked.error().message;
}

RedisSettings durable() {
  RedisSettings settings;
  settings.version = "7.0.15";
  settings.role = "master";
  settings.maxmemory_policy = "noeviction";
  settings.append_only = true;
  settings.append_fsync = "always";
  settings.save = "";
  return settings;
}

RedisAddress local() {
  RedisAddress address;
  address.host = "127.0.0.1";
  return address;
}

TEST(RedisSettingsTest, ADurableRedisHasNoWarning) {
  auto checked = judge_redis_settings(durable(), local());
  ASSERT_TRUE(checked.ok()) << checked.error().message;
  EXPECT_EQ(checked.value().version, "7.0.15");
  EXPECT_TRUE(checked.value().warnings.empty());
}

TEST(RedisSettingsTest, ARedisOlderThanTheScriptsNeedIsRefused) {
  RedisSettings settings = durable();
  settings.version = "4.0.14";
  auto checked = judge_redis_settings(settings, local());
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().message,
            "redis at 127.0.0.1:6379/0 is redis 4.0.14: the server needs redis 5.0 or newer");
  settings.version = "5.0.0";
  EXPECT_TRUE(judge_redis_settings(settings, local()).ok());
}

TEST(RedisSettingsTest, AReplicaWhosePrimaryIsUnknownIsRefused) {
  RedisSettings settings = durable();
  settings.role = "slave";
  auto checked = judge_redis_settings(settings, local());
  ASSERT_FALSE(checked.ok());
  EXPECT_TRUE(contains(checked.error().message, "127.0.0.1:6379/0 is a replica: "))
      << checked.error().message;
}

TEST(RedisSettingsTest, AnUnreadableAppendFsyncIsAWarning) {
  RedisSettings settings = durable();
  settings.append_fsync.reset();
  settings.refusals = "CONFIG GET refused: ERR unknown command 'CONFIG'";
  auto checked = judge_redis_settings(settings, local());
  ASSERT_TRUE(checked.ok());
  ASSERT_EQ(checked.value().warnings.size(), 1u);
  EXPECT_EQ(checked.value().warnings[0],
            "could not check the appendfsync of redis at 127.0.0.1:6379/0 (CONFIG GET refused: "
            "ERR unknown command 'CONFIG'): unless it is always, a crash of the machine can lose "
            "acknowledged messages");
}

TEST(RedisSettingsTest, WhatRedisDidNotReportIsAWarningEvenWithoutARefusal) {
  auto checked = judge_redis_settings(RedisSettings{}, local());
  ASSERT_TRUE(checked.ok());
  EXPECT_EQ(checked.value().version, "");
  ASSERT_EQ(checked.value().warnings.size(), 2u);
  EXPECT_TRUE(contains(checked.value().warnings[0], "(Redis did not report it)"));
}

}  // namespace
}  // namespace shido::server
