#include "server/proxy_reader.h"

#include <array>
#include <cstdint>
#include <variant>

namespace shido::server {

Result<ProxyHeader> read_proxy_header(int fd, const SteadyDeadline& deadline) {
  std::array<std::uint8_t, kMaxProxyHeader> buffer{};
  std::size_t have = 0;
  SocketStream stream(fd);
  for (;;) {
    ProxyParse parsed = parse_proxy_header(ByteView(buffer.data(), have));
    if (auto* header = std::get_if<ProxyHeader>(&parsed)) return std::move(*header);
    if (auto* bad = std::get_if<ProxyMalformed>(&parsed)) {
      return Error{Errc::kBadValue, std::move(bad->why)};
    }
    // Never past the header's end: the parser asks for at most kMaxProxyHeader in all.
    const std::size_t total = std::get<ProxyNeedMore>(parsed).total;
    const Received received =
        stream.receive(reinterpret_cast<char*>(buffer.data() + have), total - have, deadline);
    switch (received.kind) {
      case Received::Kind::kBytes:
        have += received.bytes;
        break;
      case Received::Kind::kEof:
        return Error{Errc::kConnectionClosed, "closed before its PROXY header was whole"};
      case Received::Kind::kTimeout:
        return Error{Errc::kFrameTimeout, "sent no whole PROXY header in time"};
      case Received::Kind::kError:
        return Error{Errc::kIo, "reading its PROXY header: " + received.error};
    }
  }
}

}  // namespace shido::server
