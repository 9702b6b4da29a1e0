#include "server/proxy_header.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "server/crc32c.h"
#include "server/peer_address.h"

namespace shido::server {
namespace {

constexpr std::array<std::uint8_t, 12> kSignature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                     0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::size_t kVersionCommandAt = 12;
constexpr std::size_t kFamilyAt = 13;
constexpr std::size_t kLengthAt = 14;
constexpr unsigned kVersion2 = 0x2;
constexpr unsigned kLocal = 0x0;
constexpr unsigned kProxy = 0x1;
constexpr std::uint8_t kTcpOverIpv4 = 0x11;
constexpr std::uint8_t kTcpOverIpv6 = 0x21;
constexpr std::size_t kIpv4Addresses = 2 * 4 + 2 * 2;  // source, destination, their ports
constexpr std::size_t kIpv6Addresses = 2 * 16 + 2 * 2;
constexpr std::uint8_t kTlvCrc32c = 0x03;
constexpr std::size_t kTlvHead = 3;  // type, then a 2-byte length
constexpr std::size_t kCrc32cSize = 4;

ProxyMalformed malformed(std::string why) { return {"PROXY header: " + std::move(why)}; }

std::string hex_byte(std::uint8_t byte) {
  std::array<char, 5> text{};
  std::snprintf(text.data(), text.size(), "0x%02x", byte);
  return text.data();
}

std::size_t big_endian(ByteView bytes, std::size_t at, std::size_t size) {
  std::size_t value = 0;
  for (std::size_t i = 0; i < size; ++i) value = value << 8 | bytes[at + i];
  return value;
}

// What the fixed part shows wrong so far, if anything (it may not be whole yet).
std::optional<ProxyMalformed> check_fixed(ByteView bytes) {
  const std::size_t seen = std::min(bytes.size(), kSignature.size());
  if (!std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(seen),
                  kSignature.begin())) {
    if (bytes.front() == 'P')
      return malformed("a version 1 (text) header; only version 2 is taken");
    return malformed("no PROXY protocol version 2 signature");
  }
  if (bytes.size() <= kVersionCommandAt) return std::nullopt;
  const unsigned version = bytes[kVersionCommandAt] >> 4U;
  const unsigned command = bytes[kVersionCommandAt] & 0x0FU;
  if (version != kVersion2) return malformed("version " + std::to_string(version) + ", not 2");
  if (command != kLocal && command != kProxy) {
    return malformed("unknown command " + std::to_string(command));
  }
  if (command == kLocal || bytes.size() <= kFamilyAt) return std::nullopt;
  const std::uint8_t family = bytes[kFamilyAt];
  if (family != kTcpOverIpv4 && family != kTcpOverIpv6) {
    return malformed("relays family and transport " + hex_byte(family) +
                     "; only TCP over IPv4 (0x11) or IPv6 (0x21) is taken");
  }
  return std::nullopt;
}

// The TLVs after the addresses must fill the header exactly; a CRC32C one must match the
// header with its own value taken as zeros (specification, section 2.2.3).
std::optional<ProxyMalformed> check_tlvs(ByteView header, std::size_t at) {
  while (at < header.size()) {
    if (header.size() - at < kTlvHead) return malformed("a TLV cut short");
    const std::size_t length = big_endian(header, at + 1, 2);
    if (header.size() - at - kTlvHead < length) return malformed("a TLV runs past the header");
    if (header[at] == kTlvCrc32c) {
      if (length != kCrc32cSize) return malformed("a CRC32C TLV that is not 4 bytes");
      const std::size_t value_at = at + kTlvHead;
      Bytes zeroed(header.begin(), header.end());
      std::fill_n(zeroed.begin() + static_cast<std::ptrdiff_t>(value_at), kCrc32cSize, 0);
      if (crc32c(zeroed) != big_endian(header, value_at, kCrc32cSize)) {
        return malformed("its CRC32C does not match");
      }
    }
    at += kTlvHead + length;
  }
  return std::nullopt;
}

// The source address and port of a PROXY command's addresses, as peer_name() writes them.
std::string source_name(ByteView header, std::uint8_t family) {
  constexpr std::size_t kAt = kProxyHeaderFixed;
  sockaddr_storage storage{};
  if (family == kTcpOverIpv4) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    std::memcpy(&in->sin_addr, &header[kAt], 4);  // both in network order
    std::memcpy(&in->sin_port, &header[kAt + 8], 2);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    std::memcpy(&in6->sin6_addr, &header[kAt], 16);
    std::memcpy(&in6->sin6_port, &header[kAt + 32], 2);
  }
  return peer_name(storage);
}

}  // namespace

ProxyParse parse_proxy_header(ByteView bytes) {
  if (bytes.empty()) return ProxyNeedMore{kProxyHeaderFixed};
  if (auto bad = check_fixed(bytes)) return *bad;
  if (bytes.size() < kProxyHeaderFixed) return ProxyNeedMore{kProxyHeaderFixed};

  const std::size_t length = kProxyHeaderFixed + big_endian(bytes, kLengthAt, 2);
  if (length > kMaxProxyHeader) {
    return malformed(std::to_string(length) + " bytes, more than the " +
                     std::to_string(kMaxProxyHeader) + " taken");
  }
  const bool proxy = (bytes[kVersionCommandAt] & 0x0FU) == kProxy;
  const std::uint8_t family = bytes[kFamilyAt];
  std::size_t addresses = 0;
  if (proxy) addresses = family == kTcpOverIpv4 ? kIpv4Addresses : kIpv6Addresses;
  if (length - kProxyHeaderFixed < addresses) return malformed("shorter than its addresses");
  if (bytes.size() < length) return ProxyNeedMore{length};

  const ByteView header = bytes.first(length);
  // LOCAL: the balancer's own connection; its block, family included, is ignored (2.2).
  if (!proxy) return ProxyHeader{std::nullopt, length};
  if (auto bad = check_tlvs(header, kProxyHeaderFixed + addresses)) return *bad;
  return ProxyHeader{source_name(header, family), length};
}

}  // namespace shido::server
