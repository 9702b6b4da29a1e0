// TLS 1.3 under the frames (design section 10.1): the server's certificate is made from its
// P-256 identity key, and the client accepts it by that key's fingerprint alone, during the
// handshake. No certificate authority, no session resumption, no early data; ALPN shido/1.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string_view>

#include "shido/crypto/keys.h"
#include "shido/net/stream.h"
#include "shido/result.h"

namespace shido {

inline constexpr std::string_view kShidoAlpn = "shido/1";

// A TLS connection's first byte (a handshake record); a plaintext frame's is 0x00.
inline constexpr unsigned char kTlsHandshakeByte = 0x16;

// The longest ClientHello a server takes by default: a frame's worth before login.
inline constexpr std::size_t kMaxClientHello = std::size_t{16} << 10;

struct TlsSettings;  // OpenSSL's context, kept out of the public headers

// The server's side, made once at start and shared by every connection thread.
class TlsServer {
 public:
  // Makes a self-signed X.509 v3 certificate over `identity` and the TLS settings around it.
  static Result<TlsServer> create(const KeyPair& identity);

  // Runs the server side of a handshake on a connected socket, which it makes non-blocking
  // (the thread still waits, in poll()). Fails with kTls when the peer does not finish a TLS
  // 1.3 handshake offering ALPN shido/1 by the deadline, or announces a ClientHello longer
  // than max_client_hello (OpenSSL would buffer up to 128 KiB of one; a real one is under
  // 2 KiB). The stream's sends wait at most send_timeout (zero: for ever) for the peer.
  Result<std::unique_ptr<ByteStream>> accept(int fd, const SteadyDeadline& deadline,
                                             std::chrono::milliseconds send_timeout,
                                             std::size_t max_client_hello = kMaxClientHello) const;

 private:
  explicit TlsServer(std::shared_ptr<const TlsSettings> settings)
      : settings_(std::move(settings)) {}
  std::shared_ptr<const TlsSettings> settings_;
};

// The client's side.
class TlsClient {
 public:
  static Result<TlsClient> create();

  // Decides during the handshake whether the server's certificate key is the one wanted.
  using KeyCheck = std::function<bool(const PublicKey& server_key)>;

  struct Connected {
    std::unique_ptr<ByteStream> stream;
    PublicKey server_key;  // the certificate's key, which accept_key accepted
  };

  // Runs the client side of a handshake on a connected socket (made non-blocking). Fails
  // with kKeyRejected, before anything else is sent, when accept_key says no; with
  // kPlaintextPeer when the server's first byte cannot begin TLS (what it sent so far goes
  // into *not_tls, if given: a plaintext frame's start, or another protocol's); with kTls
  // for any other failure, or when the deadline passes.
  Result<Connected> connect(int fd, const KeyCheck& accept_key, const SteadyDeadline& deadline,
                            std::chrono::milliseconds send_timeout,
                            std::string* not_tls = nullptr) const;

 private:
  explicit TlsClient(std::shared_ptr<const TlsSettings> settings)
      : settings_(std::move(settings)) {}
  std::shared_ptr<const TlsSettings> settings_;
};

}  // namespace shido
