// Reads the PROXY version 2 header a balancer begins its connection with, exactly: nothing
// after it is consumed, so that the first-byte test (TLS or plaintext, design section 10.1)
// then sees the client's own first byte.
#pragma once

#include "server/proxy_header.h"
#include "shido/net/stream.h"
#include "shido/result.h"

namespace shido::server {

// Reads from fd (a blocking or non-blocking socket) no more than the header says it holds,
// and fails as soon as the bytes show it is no header this server takes, when the peer
// closes first, or at the deadline (none: waits for ever). Does not close fd.
Result<ProxyHeader> read_proxy_header(int fd, const SteadyDeadline& deadline);

}  // namespace shido::server
