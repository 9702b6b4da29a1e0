// Serving one client connection: frames in, the session, frames out.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>

#include "server/address_slots.h"
#include "server/session.h"
#include "shido/net/tls.h"
#include "shido/protocol/frame.h"

namespace shido::server {

// Half-closes fd and reads what the peer still sends, for at most `linger`, so that a
// final reply (125, 128) reaches the peer before the socket is closed.
void half_close_and_drain(int fd, std::chrono::milliseconds linger);

struct ConnectionLimits {
  // After login. Its idle time-out counts from the last complete frame.
  FrameLimits frames;
  // Frames before login (HELLO, 102, 103, 201 are small): an anonymous peer cannot make
  // the server hold a large frame.
  std::size_t max_prelogin_frame = std::size_t{16} << 10;
  // A connection must log in or start a registration within this; one with a registration
  // pending may stay until its code expires. Zero or less: no deadline.
  std::chrono::seconds login_deadline{60};
};

// The transports a connection may speak, told apart by its first byte (design 10.1).
struct Transports {
  const TlsServer* tls = nullptr;  // none: every connection is plain TCP
  bool require_tls = false;        // a plaintext connection is closed without a reply
};

// Serves requests on fd until the peer leaves, times out, sends BYE or an unreadable
// stream, or the server stops (which shuts fd down). A TLS handshake counts as a frame: it
// must finish within the frame time-out, and by the login deadline. Never throws; does not
// close fd.
// `unauthenticated` is the connection's place among its address's connections that have
// not logged in: given back when it logs in. `logged_in_count` counts the connections
// logged in (the status line): one more from the connection's login to its end.
void serve_connection(ServerContext& context, const ConnectionLimits& limits,
                      const Transports& transports, int fd, const std::string& peer,
                      AddressSlots::Slot unauthenticated,
                      std::atomic<std::size_t>& logged_in_count);

}  // namespace shido::server
