// The balancers --proxy-from names: addresses and networks, IPv4 and IPv6, and what the
// option refuses.
#include "server/proxy_sources.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>

namespace shido::server {
namespace {

sockaddr_storage peer(const std::string& address) {
  sockaddr_storage storage{};
  auto* in = reinterpret_cast<sockaddr_in*>(&storage);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (::inet_pton(AF_INET, address.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
  } else if (::inet_pton(AF_INET6, address.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
  } else {
    ADD_FAILURE() << "not an address: " << address;
  }
  return storage;
}

ProxySources sources(const std::string& list) {
  auto parsed = ProxySources::parse(list);
  if (!parsed.ok()) {
    ADD_FAILURE() << list << ": " << parsed.error().message;
    return {};
  }
  return std::move(parsed).value();
}

TEST(ProxySourcesTest, AnEmptyListTrustsNoOne) {
  EXPECT_TRUE(sources("").empty());
  EXPECT_TRUE(sources("  ").empty());
  EXPECT_FALSE(sources("").contains(peer("127.0.0.1")));
}

TEST(ProxySourcesTest, AnAddressIsTrustedAloneAndInEitherForm) {
  const ProxySources list = sources("192.0.2.10, 2001:db8::10 ");
  EXPECT_FALSE(list.empty());
  EXPECT_TRUE(list.contains(peer("192.0.2.10")));
  EXPECT_TRUE(list.contains(peer("::ffff:192.0.2.10")));  // a server listening on ::
  EXPECT_TRUE(list.contains(peer("2001:db8::10")));
  EXPECT_FALSE(list.contains(peer("192.0.2.11")));
  EXPECT_FALSE(list.contains(peer("2001:db8::11")));
  EXPECT_FALSE(list.contains(peer("::ffff:192.0.2.11")));
}

TEST(ProxySourcesTest, ANetworkTrustsItsPrefix) {
  const ProxySources list = sources("10.0.0.0/8,172.16.0.0/12,2001:db8:5::/48");
  EXPECT_TRUE(list.contains(peer("10.200.3.4")));
  EXPECT_TRUE(list.contains(peer("172.31.255.255")));
  EXPECT_FALSE(list.contains(peer("172.32.0.1")));
  EXPECT_FALSE(list.contains(peer("11.0.0.1")));
  EXPECT_TRUE(list.contains(peer("2001:db8:5:ffff::1")));
  EXPECT_FALSE(list.contains(peer("2001:db8:6::1")));
  EXPECT_FALSE(list.contains(peer("::ffff:11.0.0.1")));
}

TEST(ProxySourcesTest, AFamilyNeverMatchesTheOther) {
  EXPECT_FALSE(sources("0.0.0.0/0").contains(peer("::1")));
  EXPECT_FALSE(sources("::/0").contains(peer("127.0.0.1")));
  EXPECT_TRUE(sources("0.0.0.0/0").contains(peer("203.0.113.9")));
}

TEST(ProxySourcesTest, WhatIsNoAddressOrPrefixIsRefused) {
  for (const char* list :
       {"balancer.example", "10.0.0.1/33", "::1/129", "10.0.0.1/", "10.0.0.1/x", "10.0.0.1/8/9",
        "10.0.0.1/-1", "10.0.0.1,", ",", "10.0.0.1,,10.0.0.2", "10.0.0.1 10.0.0.2"}) {
    EXPECT_FALSE(ProxySources::parse(list).ok()) << list;
  }
}

}  // namespace
}  // namespace shido::server
