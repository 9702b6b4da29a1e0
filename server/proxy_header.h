// The PROXY protocol version 2 header a TCP load balancer (HAProxy's send-proxy-v2) puts
// before a connection's own bytes to name the client it relays
// (https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt, section 2.2). A pure parser:
// it reads bytes already received and says how many more it needs, never the socket.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <variant>

#include "shido/bytes.h"

namespace shido::server {

// The fixed part: a 12-byte signature, version and command, family and transport, and the
// length of what follows.
inline constexpr std::size_t kProxyHeaderFixed = 16;

// The longest header taken, the fixed part included. 536 bytes is IPv4's smallest MSS, the
// segment the specification says a sender puts the whole header in; it holds the IPv6
// addresses (36 bytes) with room for HAProxy's TLVs (a unique id, the SNI, CRC32C), and
// bounds what a balancer connection makes the server read before the first-byte test.
inline constexpr std::size_t kMaxProxyHeader = 536;

// The bytes so far are a valid beginning: the header is `total` bytes long (16 until the
// fixed part has arrived, then 16 + its length).
struct ProxyNeedMore {
  std::size_t total = 0;
};

// Not a header this server takes: the connection is closed.
struct ProxyMalformed {
  std::string why;
};

struct ProxyHeader {
  // The client the balancer relays, named as peer_name() names a peer ("192.0.2.7:40312",
  // "[2001:db8::1]:40312"). None for LOCAL: the balancer's own connection (a health check),
  // which keeps the balancer's address.
  std::optional<std::string> client;
  std::size_t length = 0;  // of the whole header: the bytes to consume, no more
};

using ProxyParse = std::variant<ProxyNeedMore, ProxyMalformed, ProxyHeader>;

// Parses the header at the start of `bytes`; bytes after it are not looked at. Refused:
// any other signature (a PROXY version 1 text header too), a version other than 2, a
// command other than LOCAL and PROXY, a header longer than kMaxProxyHeader, TLVs that do
// not fill the rest exactly, a CRC32C TLV that does not match, and a PROXY command for
// anything but TCP over IPv4 or IPv6 (the specification allows refusing those: taking them
// as LOCAL would put every such client under the balancer's address, and its limits).
// A mismatch is told as soon as the bytes show it, before the header is whole.
ProxyParse parse_proxy_header(ByteView bytes);

}  // namespace shido::server
