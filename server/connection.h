// Serving one client connection: frames in, the session, frames out.
#pragma once

#include <chrono>
#include <string>

#include "server/session.h"
#include "shido/protocol/frame.h"

namespace shido::server {

// Half-closes fd and reads what the peer still sends, for at most `linger`, so that a
// final reply (125, 128) reaches the peer before the socket is closed.
void half_close_and_drain(int fd, std::chrono::milliseconds linger);

// Serves requests on fd until the peer leaves, times out, sends BYE or an unreadable
// stream, or the server stops (which shuts fd down). Never throws; does not close fd.
void serve_connection(ServerContext& context, const FrameLimits& limits, int fd,
                      const std::string& peer);

}  // namespace shido::server
