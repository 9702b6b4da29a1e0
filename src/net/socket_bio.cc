#include "net/socket_bio.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace shido::internal {
namespace {

SocketBioState* state_of(BIO* bio) { return static_cast<SocketBioState*>(BIO_get_data(bio)); }

// The record types a TLS peer may begin with.
constexpr unsigned char kHandshakeRecord = 0x16;
constexpr unsigned char kAlertRecord = 0x15;

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

int socket_write(BIO* bio, const char* data, std::size_t size, std::size_t* written) {
  BIO_clear_retry_flags(bio);
  const ssize_t n = ::send(state_of(bio)->fd, data, size, MSG_NOSIGNAL);
  if (n >= 0) {
    *written = static_cast<std::size_t>(n);
    return 1;
  }
  if (would_block(errno)) BIO_set_retry_write(bio);
  return 0;
}

int socket_read(BIO* bio, char* into, std::size_t size, std::size_t* read) {
  BIO_clear_retry_flags(bio);
  SocketBioState* state = state_of(bio);
  if (!state->replay.empty()) {
    const std::size_t n = std::min(size, state->replay.size());
    state->replay.copy(into, n);  // bytes, not a C string: no terminator
    state->replay.erase(0, n);
    state->started = true;
    *read = n;
    return 1;
  }
  const ssize_t n = ::recv(state->fd, into, size, 0);
  if (n > 0 && !state->started) {
    state->started = true;
    const auto first = static_cast<unsigned char>(into[0]);
    if (first != kHandshakeRecord && first != kAlertRecord) {
      state->not_tls.assign(into, static_cast<std::size_t>(n));
      return 0;  // an error, not a retry: OpenSSL gives up at once
    }
  }
  if (n > 0) {
    *read = static_cast<std::size_t>(n);
    return 1;
  }
  if (n == 0) {
    state->eof = true;  // OpenSSL asks BIO_eof() to tell a close from an error
  } else if (would_block(errno)) {
    BIO_set_retry_read(bio);
  }
  return 0;
}

long socket_ctrl(BIO* bio, int command, long /*number*/, void* /*pointer*/) {
  switch (command) {
    case BIO_CTRL_FLUSH:
      return 1;  // nothing is buffered here
    case BIO_CTRL_EOF:
      return state_of(bio)->eof ? 1 : 0;
    default:
      return 0;
  }
}

int socket_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* socket_method() {
  static const OsslPtr<BIO_METHOD> method = [] {
    OsslPtr<BIO_METHOD> made(
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "shido socket"));
    if (made) {
      BIO_meth_set_write_ex(made.get(), socket_write);
      BIO_meth_set_read_ex(made.get(), socket_read);
      BIO_meth_set_ctrl(made.get(), socket_ctrl);
      BIO_meth_set_create(made.get(), socket_create);
    }
    return made;
  }();
  return method.get();
}

}  // namespace

OsslPtr<BIO> make_socket_bio(SocketBioState* state) {
  const BIO_METHOD* method = socket_method();
  if (method == nullptr) return nullptr;
  OsslPtr<BIO> bio(BIO_new(method));
  if (bio) BIO_set_data(bio.get(), state);
  return bio;
}

}  // namespace shido::internal
