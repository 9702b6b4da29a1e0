// parse_redis_url: the parts of redis://[:PASSWORD@]HOST:PORT[/DB], and every malformed
// address refused with a message that names the part (and never the password).
#include "server/redis_url.h"

#include <gtest/gtest.h>

#include <string>

namespace shido::server {
namespace {

TEST(RedisUrlTest, HostAndPort) {
  auto address = parse_redis_url("redis://127.0.0.1:6379");
  ASSERT_TRUE(address.ok()) << address.error().message;
  EXPECT_EQ(address.value().host, "127.0.0.1");
  EXPECT_EQ(address.value().port, 6379);
  EXPECT_EQ(address.value().password, "");
  EXPECT_EQ(address.value().db, 0);
  EXPECT_EQ(address.value().describe(), "127.0.0.1:6379/0");
}

TEST(RedisUrlTest, PasswordAndDatabase) {
  auto address = parse_redis_url("redis://:s3cr@t@redis.internal:7000/5");
  ASSERT_TRUE(address.ok()) << address.error().message;
  EXPECT_EQ(address.value().host, "redis.internal");
  EXPECT_EQ(address.value().port, 7000);
  EXPECT_EQ(address.value().password, "s3cr@t");  // up to the last '@'
  EXPECT_EQ(address.value().db, 5);
  EXPECT_EQ(address.value().describe().find("s3cr"), std::string::npos);
}

TEST(RedisUrlTest, BracketedIpv6) {
  auto address = parse_redis_url("redis://[::1]:6380/1");
  ASSERT_TRUE(address.ok()) << address.error().message;
  EXPECT_EQ(address.value().host, "::1");
  EXPECT_EQ(address.value().port, 6380);
  EXPECT_EQ(address.value().db, 1);
}

TEST(RedisUrlTest, LoopbackAddressesAreRecognised) {
  for (const std::string host :
       {"127.0.0.1", "127.1.2.3", "127.255.255.255", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1",
        "localhost", "LocalHost", "localhost."}) {
    RedisAddress address;
    address.host = host;
    EXPECT_TRUE(address.is_loopback()) << host;
  }
  auto bracketed = parse_redis_url("redis://[::1]:6379");
  ASSERT_TRUE(bracketed.ok()) << bracketed.error().message;
  EXPECT_TRUE(bracketed.value().is_loopback());
}

TEST(RedisUrlTest, OtherAddressesAreNotLoopback) {
  for (const std::string host :
       {"128.0.0.1", "126.255.255.255", "10.0.0.1", "192.168.1.1", "0.0.0.0", "::", "::2",
        "::ffff:10.0.0.1", "fe80::1", "redis.internal", "localhost.example.com", "mylocalhost",
        "127.0.0.1.example.com", "127.0.0.1x"}) {
    RedisAddress address;
    address.host = host;
    EXPECT_FALSE(address.is_loopback()) << host;
  }
}

TEST(RedisUrlTest, MalformedAddressesAreRefused) {
  for (const std::string url :
       {"", "127.0.0.1:6379", "http://127.0.0.1:6379", "redis://127.0.0.1", "redis://:6379",
        "redis://127.0.0.1:0", "redis://127.0.0.1:65536", "redis://127.0.0.1:63x9",
        "redis://127.0.0.1:6379/", "redis://127.0.0.1:6379/x", "redis://127.0.0.1:6379/-1",
        "redis://user:pw@127.0.0.1:6379", "redis://:@127.0.0.1:6379"}) {
    auto address = parse_redis_url(url);
    ASSERT_FALSE(address.ok()) << url;
    EXPECT_EQ(address.error().code, Errc::kInvalidArgument) << url;
    EXPECT_NE(address.error().message.find("redis://[:PASSWORD@]HOST:PORT[/DB]"),
              std::string::npos);
  }
  auto with_password = parse_redis_url("redis://:hunter2@127.0.0.1:99999");
  ASSERT_FALSE(with_password.ok());
  EXPECT_EQ(with_password.error().message.find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace shido::server
