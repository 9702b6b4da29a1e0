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
// Until the session logs in, frames are limited to max_prelogin_frame bytes.
void serve_connection(ServerContext& context, const FrameLimits& limits,
                      std::size_t max_prelogin_frame, int fd, const std::string& peer);

}  // namespace shido::server
