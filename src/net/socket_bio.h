// An OpenSSL BIO over a socket, for TLS. Unlike BIO_s_socket, its writes never raise
// SIGPIPE (a library must not depend on its program ignoring it), and a peer whose first
// byte cannot begin a TLS record (a handshake or an alert) is stopped at once, its bytes
// kept: a plaintext Shido frame there is a refusal or a server without TLS, anything else
// is no Shido server at all.
#pragma once

#include <string>

#include "crypto/ossl_ptr.h"

namespace shido::internal {

struct SocketBioState {
  int fd = -1;
  bool eof = false;      // the peer closed its side
  bool started = false;  // a byte has arrived
  std::string not_tls;   // what arrived first, when it was not TLS
  std::string replay;    // bytes read before OpenSSL took over, given to it first
};

// A BIO reading and writing state->fd; state must outlive it. Null when OpenSSL is out of
// memory.
OsslPtr<BIO> make_socket_bio(SocketBioState* state);

}  // namespace shido::internal
