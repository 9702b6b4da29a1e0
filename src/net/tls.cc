#include "shido/net/tls.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "crypto/key_data.h"
#include "net/socket_bio.h"
#include "net/ssl_ptr.h"
#include "shido/crypto/random.h"

namespace shido {

struct TlsSettings {
  internal::OsslPtr<SSL_CTX> context;
};

namespace {

using internal::OsslPtr;

Error tls_error(std::string_view what) {
  return Error{Errc::kTls, internal::drain_openssl_errors(what)};
}

std::string errno_text(int err) { return std::generic_category().message(err); }

Status make_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
    return Error{Errc::kIo, "cannot make the socket non-blocking: " + errno_text(errno)};
  return {};
}

// What the last failed SSL call on this thread means: the error queue and errno explained.
std::string ssl_failure(SSL* ssl, int result, int saved_errno) {
  const int kind = SSL_get_error(ssl, result);
  if (kind == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
    return saved_errno == 0 ? std::string("the peer closed the connection")
                            : errno_text(saved_errno);
  }
  std::string reason = internal::drain_openssl_errors("TLS");
  return reason == "TLS" ? std::string("TLS failed") : reason;
}

// Runs SSL_do_handshake until it completes, waiting in poll() for the socket in between.
Status run_handshake(SSL* ssl, int fd, const SteadyDeadline& deadline) {
  for (;;) {
    ERR_clear_error();
    errno = 0;
    const int result = SSL_do_handshake(ssl);
    if (result == 1) return {};
    const int saved_errno = errno;
    WaitFor wait_for = WaitFor::kReadable;
    switch (SSL_get_error(ssl, result)) {
      case SSL_ERROR_WANT_READ:
        break;
      case SSL_ERROR_WANT_WRITE:
        wait_for = WaitFor::kWritable;
        break;
      default: {
        std::string reason = ssl_failure(ssl, result, saved_errno);
        ERR_clear_error();
        return Error{Errc::kTls, "TLS handshake failed: " + reason};
      }
    }
    int err = 0;
    switch (wait_ready(fd, wait_for, deadline, &err)) {
      case Ready::kYes:
        break;
      case Ready::kTimeout:
        return Error{Errc::kTls, "the TLS handshake did not finish in time"};
      case Ready::kError:
        return Error{Errc::kIo, "waiting for the TLS handshake: " + errno_text(err)};
    }
  }
}

// Reads the record headers and the handshake header that begin a ClientHello and checks
// the length it announces, before OpenSSL buffers the message. RFC 8446 section 5.1 lets
// a client fragment the message across records (any non-empty fragment), so the 4 bytes of
// the handshake header are gathered from as many records as they take (at most 4); the
// rest of the last record stays in the socket. The bytes read go to `head`, for OpenSSL to
// read first.
Status read_client_hello_head(int fd, const SteadyDeadline& deadline, std::size_t most,
                              std::string& head) {
  SocketStream socket(fd);
  // Appends exactly n more bytes to head.
  const auto read_more = [&](std::size_t n) -> Status {
    const std::size_t wanted = head.size() + n;
    while (head.size() < wanted) {
      std::array<char, 16> buffer;
      const Received got =
          socket.receive(buffer.data(), std::min(buffer.size(), wanted - head.size()), deadline);
      switch (got.kind) {
        case Received::Kind::kBytes:
          head.append(buffer.data(), got.bytes);
          continue;
        case Received::Kind::kTimeout:
          return Error{Errc::kTls, "the TLS handshake did not finish in time"};
        case Received::Kind::kEof:
          return Error{Errc::kTls, "TLS handshake failed: the peer closed the connection"};
        case Received::Kind::kError:
          return Error{Errc::kTls, "TLS handshake failed: " + got.error};
      }
    }
    return {};
  };
  const Error not_a_client_hello{Errc::kTls,
                                 "TLS handshake failed: the first message is not a ClientHello"};
  constexpr std::size_t kRecordHeader = 5;     // type, version, length
  constexpr std::size_t kHandshakeHeader = 4;  // type, length
  std::string handshake;                       // the first bytes of the handshake message
  while (handshake.size() < kHandshakeHeader) {
    const std::size_t record = head.size();
    if (Status read = read_more(kRecordHeader); !read.ok()) return read;
    const auto byte = [&](std::size_t i) {
      return std::size_t{static_cast<unsigned char>(head[record + i])};
    };
    const std::size_t length = byte(3) << 8 | byte(4);
    if (byte(0) != kTlsHandshakeByte || length == 0) return not_a_client_hello;
    const std::size_t take = std::min(length, kHandshakeHeader - handshake.size());
    if (Status read = read_more(take); !read.ok()) return read;
    handshake.append(head, head.size() - take, take);
  }
  const auto byte = [&](std::size_t i) {
    return std::size_t{static_cast<unsigned char>(handshake[i])};
  };
  constexpr std::size_t kClientHello = 1;
  if (byte(0) != kClientHello) return not_a_client_hello;
  const std::size_t announced = byte(1) << 16 | byte(2) << 8 | byte(3);
  if (announced > most) {
    return Error{Errc::kTls, "TLS handshake failed: a ClientHello of " + std::to_string(announced) +
                                 " bytes, more than the limit of " + std::to_string(most)};
  }
  return {};
}

// A TLS connection over a socket that the caller owns; the SSL object and the BIO state
// are its own.
class TlsStream final : public ByteStream {
 public:
  TlsStream(std::unique_ptr<internal::SocketBioState> state, OsslPtr<SSL> ssl,
            std::chrono::milliseconds send_timeout)
      : state_(std::move(state)), ssl_(std::move(ssl)), send_timeout_(send_timeout) {}

  Received receive(char* into, std::size_t room, const SteadyDeadline& deadline) override {
    // Bytes OpenSSL already holds (a record read with an earlier one) need no wait, nor
    // does a failure the last call met after it had bytes to return.
    bool must_wait = !read_again_ && SSL_has_pending(ssl_.get()) == 0;
    read_again_ = false;
    for (;;) {
      if (must_wait) {
        int err = 0;
        switch (wait_ready(fd(), WaitFor::kReadable, deadline, &err)) {
          case Ready::kYes:
            break;
          case Ready::kTimeout:
            return {Received::Kind::kTimeout, 0, {}};
          case Ready::kError:
            return {Received::Kind::kError, 0, errno_text(err)};
        }
      }
      ERR_clear_error();
      errno = 0;
      std::size_t got = 0;
      const int result = SSL_read_ex(ssl_.get(), into, room, &got);
      if (result == 1) {
        take_records_held(into, room, got);
        return {Received::Kind::kBytes, got, {}};
      }
      const int saved_errno = errno;
      switch (SSL_get_error(ssl_.get(), result)) {
        case SSL_ERROR_WANT_READ:
          must_wait = true;
          continue;
        case SSL_ERROR_WANT_WRITE:  // a key update to answer
          int err;
          if (wait_ready(fd(), WaitFor::kWritable, deadline, &err) != Ready::kYes)
            return {Received::Kind::kTimeout, 0, {}};
          must_wait = false;
          continue;
        case SSL_ERROR_ZERO_RETURN:  // close_notify, or (as we asked) a close without one
          return {Received::Kind::kEof, 0, {}};
        default: {
          std::string reason = ssl_failure(ssl_.get(), result, saved_errno);
          ERR_clear_error();
          if (state_->eof && reason == "the peer closed the connection")
            return {Received::Kind::kEof, 0, {}};
          return {Received::Kind::kError, 0, std::move(reason)};
        }
      }
    }
  }

  Status send(std::string_view bytes) override {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      ERR_clear_error();
      errno = 0;
      std::size_t written = 0;
      const int result =
          SSL_write_ex(ssl_.get(), bytes.data() + sent, bytes.size() - sent, &written);
      if (result == 1) {
        sent += written;
        continue;
      }
      const int saved_errno = errno;
      WaitFor wait_for = WaitFor::kWritable;
      switch (SSL_get_error(ssl_.get(), result)) {
        case SSL_ERROR_WANT_WRITE:
          break;
        case SSL_ERROR_WANT_READ:
          wait_for = WaitFor::kReadable;
          break;
        default: {
          std::string reason = ssl_failure(ssl_.get(), result, saved_errno);
          ERR_clear_error();
          return Error{Errc::kIo, "writing a frame: " + reason};
        }
      }
      // As SO_SNDTIMEO on a plain socket: a peer that stops reading must not hold us.
      int err = 0;
      switch (wait_ready(fd(), wait_for, deadline_in(send_timeout_), &err)) {
        case Ready::kYes:
          break;
        case Ready::kTimeout:
          return Error{Errc::kIo, "writing a frame (peer not reading)"};
        case Ready::kError:
          return Error{Errc::kIo, "waiting to write a frame: " + errno_text(err)};
      }
    }
    return {};
  }

  void finish_sending() override {
    ERR_clear_error();
    (void)SSL_shutdown(ssl_.get());  // close_notify, if the socket takes it now
    ERR_clear_error();
    ::shutdown(fd(), SHUT_WR);
  }

  int fd() const override { return state_->fd; }
  std::string_view transport() const override { return "TLS"; }

 private:
  // Appends to into[0, got) the records read ahead with the last one, with no wait: a reader
  // sees together what arrived together, so pipelined requests are answered with one write,
  // as over plain TCP. An end or error met here is left for the next receive to report.
  void take_records_held(char* into, std::size_t room, std::size_t& got) {
    while (got < room && SSL_has_pending(ssl_.get()) == 1) {
      std::size_t more = 0;
      ERR_clear_error();
      if (SSL_read_ex(ssl_.get(), into + got, room - got, &more) != 1) {
        read_again_ = SSL_get_error(ssl_.get(), 0) != SSL_ERROR_WANT_READ;  // else half a record
        ERR_clear_error();
        return;
      }
      got += more;
    }
  }

  std::unique_ptr<internal::SocketBioState> state_;  // outlives ssl_, whose BIO points here
  OsslPtr<SSL> ssl_;
  std::chrono::milliseconds send_timeout_;
  bool read_again_ = false;  // the next receive reads before it waits
};

// An SSL object for fd, reading and writing through the socket BIO over state.
Result<OsslPtr<SSL>> new_connection(const TlsSettings& settings, internal::SocketBioState* state) {
  OsslPtr<SSL> ssl(SSL_new(settings.context.get()));
  if (!ssl) return tls_error("SSL_new");
  OsslPtr<BIO> bio = internal::make_socket_bio(state);
  if (!bio) return tls_error("making the socket BIO");
  SSL_set_bio(ssl.get(), bio.get(), bio.get());  // takes the one reference
  (void)bio.release();
  return ssl;
}

// What both sides agree on: TLS 1.3 only, no renegotiation, no compression, no resumption
// (so no early data either), groups X25519 and P-256, buffers released while idle.
Result<OsslPtr<SSL_CTX>> new_context(const SSL_METHOD* method) {
  OsslPtr<SSL_CTX> context(SSL_CTX_new(method));
  if (!context) return tls_error("SSL_CTX_new");
  SSL_CTX* ctx = context.get();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1) {
    return tls_error("configuring TLS 1.3");
  }
  // A peer that closes without close_notify reads as an end of stream: the frames carry
  // their own lengths, so a cut is still a truncated frame.
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
                               SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // An idle connection keeps no 16 KiB record buffers: thousands of them wait in a fetch.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  // One recv takes every record that has arrived (not a header, then a body, per record);
  // the buffer is still released once read empty.
  SSL_CTX_set_read_ahead(ctx, 1);
  return context;
}

// The server's ALPN choice: shido/1 or a fatal no_application_protocol alert.
int select_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* out_size,
                const unsigned char* offered, unsigned int offered_size, void* /*arg*/) {
  for (unsigned int at = 0; at < offered_size;) {
    const unsigned int size = offered[at];
    if (at + 1 + size > offered_size) break;
    const std::string_view name(reinterpret_cast<const char*>(offered + at + 1), size);
    if (name == kShidoAlpn) {
      *out = offered + at + 1;
      *out_size = static_cast<unsigned char>(size);
      return SSL_TLSEXT_ERR_OK;
    }
    at += 1 + size;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// A ClientHello without ALPN is refused in the handshake (OpenSSL calls select_alpn only
// when the extension is there).
int require_alpn(SSL* ssl, int* alert, void* /*arg*/) {
  const unsigned char* extension = nullptr;
  std::size_t size = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &extension,
                                &size) != 1) {
    *alert = SSL_AD_NO_APPLICATION_PROTOCOL;
    ERR_raise(ERR_LIB_SSL,
              SSL_R_NO_APPLICATION_PROTOCOL);  // the log says why, not "callback failed"
    return SSL_CLIENT_HELLO_ERROR;
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

bool agreed_on_shido(SSL* ssl) {
  const unsigned char* chosen = nullptr;
  unsigned int size = 0;
  SSL_get0_alpn_selected(ssl, &chosen, &size);
  return chosen != nullptr &&
         std::string_view(reinterpret_cast<const char*>(chosen), size) == kShidoAlpn;
}

// A self-signed X.509 v3 certificate over the identity key. Its dates and names mean
// nothing to a Shido client, which checks the key alone; they are valid for tools.
Result<OsslPtr<X509>> self_signed_certificate(EVP_PKEY* key) {
  OsslPtr<X509> certificate(X509_new());
  if (!certificate) return tls_error("X509_new");
  X509* cert = certificate.get();
  const Bytes serial = random_bytes(8);
  std::uint64_t number = 0;
  for (const std::uint8_t byte : serial) number = number << 8 | byte;
  constexpr long kYear = 365L * 24 * 60 * 60;
  X509_NAME* name = X509_get_subject_name(cert);
  if (X509_set_version(cert, X509_VERSION_3) != 1 ||
      ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), number >> 1) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert), 10 * kYear) == nullptr ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("shido-server"), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert, name) != 1 || X509_set_pubkey(cert, key) != 1 ||
      X509_sign(cert, key, EVP_sha256()) <= 0) {
    return tls_error("making the server certificate");
  }
  return certificate;
}

// What the client's handshake learns about the server's key, for its verify callback.
struct ClientHandshake {
  const TlsClient::KeyCheck* accept_key = nullptr;
  std::optional<PublicKey> server_key;
  bool rejected = false;
  std::string problem;
};

// Replaces certificate-chain verification: the certificate is good when its key (a valid
// P-256 key, as every key from the network) is the one the caller accepts. TLS 1.3's
// CertificateVerify then proves the server holds that key's private half.
int check_server_key(X509_STORE_CTX* store, void* /*arg*/) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* handshake = static_cast<ClientHandshake*>(SSL_get_app_data(ssl));
  X509* certificate = X509_STORE_CTX_get0_cert(store);
  EVP_PKEY* key = certificate == nullptr ? nullptr : X509_get0_pubkey(certificate);
  try {
    if (handshake == nullptr || key == nullptr) throw std::runtime_error("no certificate key");
    // The certificate's SubjectPublicKeyInfo as it came: i2d_PUBKEY of the decoded key would
    // go through OpenSSL 3.0's encoder framework (~75 us a handshake). from_der checks it.
    unsigned char* der = nullptr;
    const int size = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(certificate), &der);
    const internal::OpensslBuffer<unsigned char> owned(der);
    if (size <= 0) throw std::runtime_error("the certificate key cannot be encoded");
    auto server_key = PublicKey::from_der(ByteView(der, static_cast<std::size_t>(size)));
    if (!server_key.ok()) {
      handshake->problem = "the server's certificate key is not a valid P-256 key";
    } else {
      handshake->server_key = server_key.value();
      if ((*handshake->accept_key)(server_key.value())) return 1;
      handshake->rejected = true;
    }
  } catch (const std::exception& error) {
    if (handshake != nullptr) handshake->problem = error.what();
  }
  X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
  return 0;
}

}  // namespace

Result<TlsServer> TlsServer::create(const KeyPair& identity) {
  auto context = new_context(TLS_server_method());
  if (!context.ok()) return context.error();
  SSL_CTX* ctx = context.value().get();
  EVP_PKEY* key = identity.data().pkey.get();
  auto certificate = self_signed_certificate(key);
  if (!certificate.ok()) return certificate.error();
  if (SSL_CTX_use_certificate(ctx, certificate.value().get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return tls_error("loading the server certificate");
  }
  SSL_CTX_set_num_tickets(ctx, 0);  // nothing to resume with, so no 0-RTT either
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
  SSL_CTX_set_client_hello_cb(ctx, require_alpn, nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);  // no client certificates asked for
  auto settings = std::make_shared<TlsSettings>();
  settings->context = std::move(context).value();
  return TlsServer(std::move(settings));
}

Result<std::unique_ptr<ByteStream>> TlsServer::accept(int fd, const SteadyDeadline& deadline,
                                                      std::chrono::milliseconds send_timeout,
                                                      std::size_t max_client_hello) const {
  if (Status made = make_nonblocking(fd); !made.ok()) return made.error();
  auto state = std::make_unique<internal::SocketBioState>();
  state->fd = fd;
  if (Status head = read_client_hello_head(fd, deadline, max_client_hello, state->replay);
      !head.ok()) {
    return head.error();
  }
  auto ssl = new_connection(*settings_, state.get());
  if (!ssl.ok()) return ssl.error();
  SSL_set_accept_state(ssl.value().get());
  if (Status done = run_handshake(ssl.value().get(), fd, deadline); !done.ok()) return done.error();
  if (!agreed_on_shido(ssl.value().get()))
    return Error{Errc::kTls, "TLS handshake failed: the client did not ask for shido/1"};
  return std::unique_ptr<ByteStream>(
      std::make_unique<TlsStream>(std::move(state), std::move(ssl).value(), send_timeout));
}

Result<TlsClient> TlsClient::create() {
  auto context = new_context(TLS_client_method());
  if (!context.ok()) return context.error();
  SSL_CTX* ctx = context.value().get();
  static constexpr unsigned char kAlpnList[] = {7, 's', 'h', 'i', 'd', 'o', '/', '1'};
  // SSL_CTX_set_alpn_protos returns 0 on success.
  if (SSL_CTX_set_alpn_protos(ctx, kAlpnList, sizeof kAlpnList) != 0)
    return tls_error("setting ALPN");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, check_server_key, nullptr);
  auto settings = std::make_shared<TlsSettings>();
  settings->context = std::move(context).value();
  return TlsClient(std::move(settings));
}

Result<TlsClient::Connected> TlsClient::connect(int fd, const KeyCheck& accept_key,
                                                const SteadyDeadline& deadline,
                                                std::chrono::milliseconds send_timeout,
                                                std::string* not_tls) const {
  if (Status made = make_nonblocking(fd); !made.ok()) return made.error();
  auto state = std::make_unique<internal::SocketBioState>();
  state->fd = fd;
  auto ssl = new_connection(*settings_, state.get());
  if (!ssl.ok()) return ssl.error();
  SSL* connection = ssl.value().get();
  SSL_set_connect_state(connection);
  ClientHandshake handshake;
  handshake.accept_key = &accept_key;
  SSL_set_app_data(connection, &handshake);
  const Status done = run_handshake(connection, fd, deadline);
  SSL_set_app_data(connection, nullptr);
  if (!done.ok()) {
    if (handshake.rejected) {
      return Error{Errc::kKeyRejected,
                   "the server's key " + handshake.server_key->fingerprint() + " was refused"};
    }
    if (!state->not_tls.empty()) {
      if (not_tls != nullptr) *not_tls = state->not_tls;
      return Error{Errc::kPlaintextPeer, "the server answered without TLS"};
    }
    if (!handshake.problem.empty()) return Error{Errc::kTls, handshake.problem};
    return done.error();
  }
  if (!agreed_on_shido(connection) || !handshake.server_key) {
    return Error{Errc::kTls, "TLS handshake failed: the server did not agree on shido/1"};
  }
  PublicKey server_key = *handshake.server_key;
  return Connected{
      std::make_unique<TlsStream>(std::move(state), std::move(ssl).value(), send_timeout),
      std::move(server_key)};
}

}  // namespace shido
