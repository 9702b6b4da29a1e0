#include "server/peer_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <cstdio>

namespace shido::server {

std::string peer_name(const sockaddr_storage& address) {
  std::array<char, INET6_ADDRSTRLEN> host{};
  if (address.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
    ::inet_ntop(AF_INET, &in->sin_addr, host.data(), host.size());
    return std::string(host.data()) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (address.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host.data(), host.size());
    return "[" + std::string(host.data()) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "unknown";
}

std::string address_key(const std::string& peer_name) {
  if (!peer_name.empty() && peer_name.front() == '[') {
    const std::size_t close = peer_name.find(']');
    if (close == std::string::npos) return peer_name;
    const std::string host = peer_name.substr(1, close - 1);
    in6_addr address{};
    if (::inet_pton(AF_INET6, host.c_str(), &address) != 1) return peer_name;
    if (IN6_IS_ADDR_V4MAPPED(&address)) {
      std::array<char, INET_ADDRSTRLEN> v4{};
      ::inet_ntop(AF_INET, &address.s6_addr[12], v4.data(), v4.size());
      return v4.data();
    }
    // The first four 16-bit groups: the /64 the address belongs to.
    std::array<char, 40> prefix{};
    const std::uint8_t* b = address.s6_addr;
    std::snprintf(prefix.data(), prefix.size(), "%x:%x:%x:%x::/64", b[0] << 8 | b[1],
                  b[2] << 8 | b[3], b[4] << 8 | b[5], b[6] << 8 | b[7]);
    return prefix.data();
  }
  const std::size_t colon = peer_name.rfind(':');
  if (colon == std::string::npos) return peer_name;
  std::string host = peer_name.substr(0, colon);
  in_addr address{};
  if (::inet_pton(AF_INET, host.c_str(), &address) != 1) return peer_name;
  return host;
}

}  // namespace shido::server
