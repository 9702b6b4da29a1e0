// The key per-address limits count by.
#include "server/peer_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>

namespace shido::server {
namespace {

TEST(PeerAddressTest, AnIpv4PeerCountsByItsAddress) {
  EXPECT_EQ(address_key("192.0.2.7:40312"), "192.0.2.7");
  EXPECT_EQ(address_key("192.0.2.7:1"), address_key("192.0.2.7:65535"));
  EXPECT_NE(address_key("192.0.2.7:1"), address_key("192.0.2.8:1"));
}

TEST(PeerAddressTest, AnIpv6PeerCountsByItsSlash64) {
  EXPECT_EQ(address_key("[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:5000"), "2001:db8:1:2::/64");
  EXPECT_EQ(address_key("[2001:db8:1:2::1]:1"), address_key("[2001:db8:1:2:ffff::9]:2"));
  EXPECT_NE(address_key("[2001:db8:1:2::1]:1"), address_key("[2001:db8:1:3::1]:1"));
  EXPECT_EQ(address_key("[::1]:5000"), "0:0:0:0::/64");
}

TEST(PeerAddressTest, AnIpv4MappedPeerCountsAsItsIpv4Address) {
  EXPECT_EQ(address_key("[::ffff:192.0.2.7]:40312"), "192.0.2.7");
}

TEST(PeerAddressTest, ANameThatIsNoAddressIsItsOwnKey) {
  EXPECT_EQ(address_key("test"), "test");
  EXPECT_EQ(address_key("[nonsense]:1"), "[nonsense]:1");
  EXPECT_EQ(address_key("host:1"), "host:1");
}

TEST(PeerAddressTest, PeerNamesAreWhatTheLogShows) {
  sockaddr_storage storage{};
  auto* in = reinterpret_cast<sockaddr_in*>(&storage);
  in->sin_family = AF_INET;
  in->sin_port = htons(40312);
  ASSERT_EQ(::inet_pton(AF_INET, "192.0.2.7", &in->sin_addr), 1);
  EXPECT_EQ(peer_name(storage), "192.0.2.7:40312");

  storage = {};
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(5000);
  ASSERT_EQ(::inet_pton(AF_INET6, "2001:db8::1", &in6->sin6_addr), 1);
  EXPECT_EQ(peer_name(storage), "[2001:db8::1]:5000");
  EXPECT_EQ(address_key(peer_name(storage)), "2001:db8:0:0::/64");
}

}  // namespace
}  // namespace shido::server
