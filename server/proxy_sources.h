// The load balancers --proxy-from trusts to name their clients in a PROXY header: the only
// peers whose connections are read for one, so that no client can claim another address.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "shido/result.h"

namespace shido::server {

class ProxySources {
 public:
  // Addresses or networks (ADDR/BITS), IPv4 or IPv6, separated by commas (spaces around
  // them allowed): "192.0.2.10,2001:db8::/64". An empty list trusts no one.
  static Result<ProxySources> parse(std::string_view list);

  bool empty() const { return networks_.empty(); }

  // Whether peer is one of them. An IPv4-mapped IPv6 peer (a server listening on ::) is
  // its IPv4 address.
  bool contains(const sockaddr_storage& peer) const;

 private:
  struct Network {
    int family = AF_UNSPEC;
    std::array<std::uint8_t, 16> address{};  // the first 4 bytes for IPv4
    unsigned bits = 0;                       // of the prefix that must match
  };

  std::vector<Network> networks_;
};

}  // namespace shido::server
