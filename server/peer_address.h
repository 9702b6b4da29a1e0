// The address a per-address limit counts by (design section 10.4): an IPv4 address as it
// is, an IPv6 address by its /64 prefix, since one subscriber usually holds a whole /64.
#pragma once

#include <sys/socket.h>

#include <string>

namespace shido::server {

// "192.0.2.7:40312" for an IPv4 peer, "[2001:db8::1]:40312" for an IPv6 one: what the
// log shows.
std::string peer_name(const sockaddr_storage& address);

// The limit key of a peer name: "192.0.2.7", or "2001:db8:0:0::/64". An IPv4-mapped IPv6
// address counts as the IPv4 address. A name that is neither (a test's "test") is its own
// key.
std::string address_key(const std::string& peer_name);

}  // namespace shido::server
