#include "server/proxy_sources.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <string>

namespace shido::server {
namespace {

std::string_view trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// Whether the first `bits` bits of a and b agree.
bool same_prefix(const std::uint8_t* a, const std::uint8_t* b, unsigned bits) {
  const unsigned whole = bits / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  const unsigned rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFFU << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

Result<ProxySources> ProxySources::parse(std::string_view list) {
  ProxySources sources;
  if (trimmed(list).empty()) return sources;
  for (;;) {
    const std::size_t comma = list.find(',');
    const std::string_view item = trimmed(list.substr(0, comma));
    const std::string_view where = item.empty() ? std::string_view("an empty item") : item;
    const std::size_t slash = item.find('/');
    const std::string host(item.substr(0, slash));
    Network network;
    if (::inet_pton(AF_INET, host.c_str(), network.address.data()) == 1) {
      network.family = AF_INET;
      network.bits = 32;
    } else if (::inet_pton(AF_INET6, host.c_str(), network.address.data()) == 1) {
      network.family = AF_INET6;
      network.bits = 128;
    } else {
      return Error{Errc::kInvalidArgument,
                   "'" + std::string(where) + "' is not an IPv4 or IPv6 address"};
    }
    if (slash != std::string_view::npos) {
      const std::string_view bits = item.substr(slash + 1);
      unsigned prefix = 0;
      const auto [end, error] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
      if (bits.empty() || error != std::errc() || end != bits.data() + bits.size() ||
          prefix > network.bits) {
        return Error{Errc::kInvalidArgument, "'" + std::string(item) +
                                                 "' has no prefix length from 0 to " +
                                                 std::to_string(network.bits)};
      }
      network.bits = prefix;
    }
    sources.networks_.push_back(network);
    if (comma == std::string_view::npos) return sources;
    list.remove_prefix(comma + 1);
  }
}

bool ProxySources::contains(const sockaddr_storage& peer) const {
  int family = AF_UNSPEC;
  const std::uint8_t* address = nullptr;
  if (peer.ss_family == AF_INET) {
    family = AF_INET;
    address = reinterpret_cast<const std::uint8_t*>(
        &reinterpret_cast<const sockaddr_in*>(&peer)->sin_addr);
  } else if (peer.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_addr;
    family = IN6_IS_ADDR_V4MAPPED(&in6) ? AF_INET : AF_INET6;
    address = family == AF_INET ? &in6.s6_addr[12] : in6.s6_addr;
  }
  if (address == nullptr) return false;
  for (const Network& network : networks_) {
    if (network.family == family && same_prefix(network.address.data(), address, network.bits)) {
      return true;
    }
  }
  return false;
}

}  // namespace shido::server
