// The PROXY v2 header parser: the headers a balancer sends (TCP over IPv4 and IPv6, LOCAL
// health checks, TLVs), and everything else refused, as early as the bytes show it.
#include "server/proxy_header.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <variant>

#include "server/peer_address.h"

namespace shido::server {
namespace {

const Bytes kSignature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::uint8_t kProxyV2 = 0x21;
constexpr std::uint8_t kLocalV2 = 0x20;

Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Bytes header(std::uint8_t version_command, std::uint8_t family, const Bytes& block) {
  return kSignature +
         Bytes{version_command, family, static_cast<std::uint8_t>(block.size() >> 8),
               static_cast<std::uint8_t>(block.size() & 0xFF)} +
         block;
}

// 198.51.100.7:40312 to 203.0.113.1:5000.
const Bytes kIpv4Addresses = {198, 51, 100, 7, 203, 0, 113, 1, 0x9D, 0x78, 0x13, 0x88};
// 2001:db8::1 port 40312 to 2001:db8::2 port 5000.
const Bytes kIpv6Addresses = {0x20, 0x01, 0x0D, 0xB8, 0,    0,    0,    0,    0,    0,   0, 0, 0,
                              0,    0,    1,    0x20, 0x01, 0x0D, 0xB8, 0,    0,    0,   0, 0, 0,
                              0,    0,    0,    0,    0,    2,    0x9D, 0x78, 0x13, 0x88};

Bytes tlv(std::uint8_t type, const std::string& value) {
  return Bytes{type, static_cast<std::uint8_t>(value.size() >> 8),
               static_cast<std::uint8_t>(value.size() & 0xFF)} +
         to_bytes(value);
}

ProxyHeader parsed(const Bytes& bytes) {
  const ProxyParse result = parse_proxy_header(bytes);
  if (const auto* bad = std::get_if<ProxyMalformed>(&result)) ADD_FAILURE() << bad->why;
  if (std::holds_alternative<ProxyNeedMore>(result)) ADD_FAILURE() << "needs more";
  return std::holds_alternative<ProxyHeader>(result) ? std::get<ProxyHeader>(result)
                                                     : ProxyHeader{};
}

// Why it is refused; empty when it is not.
std::string refusal(const Bytes& bytes) {
  const ProxyParse result = parse_proxy_header(bytes);
  const auto* bad = std::get_if<ProxyMalformed>(&result);
  return bad != nullptr ? bad->why : std::string();
}

std::size_t needs(const Bytes& bytes) {
  const ProxyParse result = parse_proxy_header(bytes);
  const auto* more = std::get_if<ProxyNeedMore>(&result);
  return more != nullptr ? more->total : 0;
}

// CRC-32C bit by bit (reflected polynomial 0x82F63B78), apart from the server's own.
std::uint32_t bitwise_crc32c(const Bytes& bytes) {
  std::uint32_t crc = 0xFFFFFFFFU;
  for (const std::uint8_t byte : bytes) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78U & (0U - (crc & 1U)));
  }
  return ~crc;
}

// A TCP over IPv4 header with a CRC32C TLV as HAProxy writes it (crc32c option): computed
// over the header with the TLV's value as zeros, stored big-endian.
Bytes with_crc32c() {
  Bytes bytes = header(kProxyV2, 0x11, kIpv4Addresses + tlv(0x03, std::string(4, '\0')));
  const std::uint32_t crc = bitwise_crc32c(bytes);
  const std::size_t at = bytes.size() - 4;
  for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<std::uint8_t>(crc >> (24 - 8 * i));
  return bytes;
}

TEST(ProxyHeaderTest, TcpOverIpv4NamesTheClientAsPeerNameDoes) {
  const ProxyHeader got = parsed(header(kProxyV2, 0x11, kIpv4Addresses));
  EXPECT_EQ(got.client, "198.51.100.7:40312");
  EXPECT_EQ(got.length, 28U);
  EXPECT_EQ(address_key(*got.client), "198.51.100.7");
}

TEST(ProxyHeaderTest, TcpOverIpv6NamesTheClientAsPeerNameDoes) {
  const ProxyHeader got = parsed(header(kProxyV2, 0x21, kIpv6Addresses));
  EXPECT_EQ(got.client, "[2001:db8::1]:40312");
  EXPECT_EQ(got.length, 52U);
  EXPECT_EQ(address_key(*got.client), "2001:db8:0:0::/64");
}

TEST(ProxyHeaderTest, AnIpv4MappedClientCountsAsItsIpv4Address) {
  Bytes addresses = kIpv6Addresses;
  const Bytes mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 198, 51, 100, 7};
  std::copy(mapped.begin(), mapped.end(), addresses.begin());
  const ProxyHeader got = parsed(header(kProxyV2, 0x21, addresses));
  EXPECT_EQ(got.client, "[::ffff:198.51.100.7]:40312");
  EXPECT_EQ(address_key(*got.client), "198.51.100.7");
}

TEST(ProxyHeaderTest, LocalKeepsTheBalancersOwnAddress) {
  const ProxyHeader plain = parsed(header(kLocalV2, 0x00, {}));
  EXPECT_FALSE(plain.client);
  EXPECT_EQ(plain.length, 16U);
  // Its block, family included, is skipped unread (section 2.2), whatever it holds.
  const ProxyHeader with_block = parsed(header(kLocalV2, 0x11, kIpv4Addresses + Bytes{1, 2}));
  EXPECT_FALSE(with_block.client);
  EXPECT_EQ(with_block.length, 30U);
  EXPECT_FALSE(parsed(header(kLocalV2, 0x77, Bytes(100, 0xEE))).client);
}

TEST(ProxyHeaderTest, TlvsAreSkippedAndCountInTheLength) {
  const Bytes tlvs = tlv(0x04, "") + tlv(0x02, "shido.example") + tlv(0xE0, std::string(40, 'x'));
  const ProxyHeader got = parsed(header(kProxyV2, 0x11, kIpv4Addresses + tlvs));
  EXPECT_EQ(got.client, "198.51.100.7:40312");
  EXPECT_EQ(got.length, 28 + tlvs.size());
}

TEST(ProxyHeaderTest, BytesAfterTheHeaderAreNotLookedAt) {
  const Bytes whole = header(kProxyV2, 0x11, kIpv4Addresses);
  const Bytes hello = {0x00, 0x00, 0x00, 0x0D, '{', '"', 'c', 'o',
                       'd',  'e',  '"',  ':',  '2', '0', '0', '}'};
  EXPECT_EQ(parsed(whole + hello).length, whole.size());
  EXPECT_EQ(parsed(whole + Bytes{0x16, 0x03, 0x01}).length, whole.size());
}

TEST(ProxyHeaderTest, AMatchingCrc32cIsTakenAndAWrongOneRefused) {
  const Bytes good = with_crc32c();
  EXPECT_EQ(parsed(good).client, "198.51.100.7:40312");
  Bytes other_client = good;
  other_client[19] ^= 0x01;  // 198.51.100.6: the checksum no longer matches
  EXPECT_NE(refusal(other_client).find("CRC32C"), std::string::npos);
  Bytes wrong_size = header(kProxyV2, 0x11, kIpv4Addresses + tlv(0x03, "abc"));
  EXPECT_NE(refusal(wrong_size).find("CRC32C"), std::string::npos);
}

TEST(ProxyHeaderTest, TlvsMustFillTheRestExactly) {
  EXPECT_NE(refusal(header(kProxyV2, 0x11, kIpv4Addresses + Bytes{0xE0, 0x00})).find("TLV"),
            std::string::npos);
  EXPECT_NE(
      refusal(header(kProxyV2, 0x11, kIpv4Addresses + Bytes{0xE0, 0x00, 0x05, 1, 2})).find("TLV"),
      std::string::npos);
}

TEST(ProxyHeaderTest, AnythingButTheSignatureIsRefusedAtItsFirstWrongByte) {
  EXPECT_NE(refusal({0x00}), "");  // a plaintext frame's first byte
  EXPECT_NE(refusal({0x16}), "");  // a TLS handshake's
  EXPECT_NE(refusal({0x0D, 0x0A, 0x0D, 0x0B}), "");
  Bytes almost = kSignature;
  almost.back() = 0x0B;
  EXPECT_NE(refusal(almost), "");
}

TEST(ProxyHeaderTest, AVersion1TextHeaderIsRefused) {
  const std::string text = "PROXY TCP4 198.51.100.7 203.0.113.1 40312 5000\r\n";
  EXPECT_NE(refusal(to_bytes(text)).find("version 1"), std::string::npos);
  EXPECT_NE(refusal(to_bytes("P")).find("version 1"), std::string::npos);
}

TEST(ProxyHeaderTest, OnlyVersion2IsTaken) {
  EXPECT_NE(refusal(header(0x11, 0x11, kIpv4Addresses)).find("version 1"), std::string::npos);
  EXPECT_NE(refusal(header(0x31, 0x11, kIpv4Addresses)).find("version 3"), std::string::npos);
  // As soon as the version byte is there.
  EXPECT_NE(refusal(kSignature + Bytes{0x11}), "");
}

TEST(ProxyHeaderTest, OnlyLocalAndProxyCommandsAreTaken) {
  EXPECT_NE(refusal(header(0x22, 0x11, kIpv4Addresses)).find("command 2"), std::string::npos);
  EXPECT_NE(refusal(header(0x2F, 0x00, {})).find("command 15"), std::string::npos);
}

TEST(ProxyHeaderTest, AProxyCommandForAnythingButTcpIsRefused) {
  // UNSPEC, UDP over IPv4 and IPv6, UNIX stream and datagram, and values never assigned.
  for (const std::uint8_t family : {0x00, 0x10, 0x12, 0x20, 0x22, 0x31, 0x32, 0x41, 0x13}) {
    const std::string why = refusal(header(kProxyV2, family, Bytes(216, 0)));
    EXPECT_NE(why.find("only TCP over IPv4 (0x11) or IPv6 (0x21)"), std::string::npos)
        << int{family} << ": " << why;
    // As soon as the family byte is there.
    EXPECT_NE(refusal(kSignature + Bytes{kProxyV2, family}), "") << int{family};
  }
}

TEST(ProxyHeaderTest, ATruncatedHeaderNeedsExactlyTheRest) {
  const Bytes whole = header(kProxyV2, 0x11, kIpv4Addresses + tlv(0x04, "pad"));
  for (std::size_t size = 0; size < 16; ++size) {
    EXPECT_EQ(needs(Bytes(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(size))), 16U)
        << size;
  }
  for (std::size_t size = 16; size < whole.size(); ++size) {
    EXPECT_EQ(needs(Bytes(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(size))),
              whole.size())
        << size;
  }
}

TEST(ProxyHeaderTest, AHeaderOverTheCapIsRefusedBeforeItArrives) {
  // 16 + 520 = 536: the cap itself is taken.
  const Bytes at_cap = header(kProxyV2, 0x11, kIpv4Addresses + tlv(0xE0, std::string(505, 'x')));
  ASSERT_EQ(at_cap.size(), kMaxProxyHeader);
  EXPECT_EQ(parsed(at_cap).length, kMaxProxyHeader);
  const Bytes over = header(kProxyV2, 0x11, kIpv4Addresses + tlv(0xE0, std::string(506, 'x')));
  EXPECT_NE(refusal(Bytes(over.begin(), over.begin() + 16)).find("537 bytes"), std::string::npos);
  EXPECT_NE(refusal(header(kLocalV2, 0x00, Bytes(65535, 0))), "");
}

TEST(ProxyHeaderTest, AProxyHeaderShorterThanItsAddressesIsRefused) {
  const Bytes short_ipv4(kIpv4Addresses.begin(), kIpv4Addresses.end() - 1);
  EXPECT_NE(refusal(header(kProxyV2, 0x11, short_ipv4)).find("addresses"), std::string::npos);
  EXPECT_NE(refusal(header(kProxyV2, 0x21, kIpv4Addresses)).find("addresses"), std::string::npos);
}

}  // namespace
}  // namespace shido::server
