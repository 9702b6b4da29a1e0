// The client side of the protocol over one connection, TLS by default (design section
// 10.1): each call sends a request and reads its replies. Shared by shido-client, the
// end-to-end tests and the benchmarks.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "shido/crypto/keys.h"
#include "shido/net/socket.h"
#include "shido/net/stream.h"
#include "shido/protocol/frame.h"
#include "shido/protocol/messages.h"

namespace shido {

// Why a call failed. shido-client turns the kind into its exit status.
enum class Failure {
  kLocal,     // a problem on this machine or with what the person asked: nothing was sent
  kNetwork,   // could not connect, or the connection broke or timed out
  kRefused,   // the server answered with an error code
  kSecurity,  // a key changed, or something did not authenticate
  kProtocol,  // the server sent something the protocol does not allow
};

struct ClientError {
  Failure kind = Failure::kNetwork;
  std::string message;
  std::optional<Code> server_code;  // with kRefused
  std::optional<int> attempts_left;
  std::optional<int> retry_after;
};

// An error of the given kind with a message for people (no server code).
inline ClientError client_failure(Failure kind, std::string message) {
  ClientError error;
  error.kind = kind;
  error.message = std::move(message);
  return error;
}

template <class T>
using ClientResult = Result<T, ClientError>;
using Done = std::monostate;

// The security failure of a server that shows another key than the one pinned.
ClientError server_key_changed(const PublicKey& pinned, const PublicKey& offered);

// How to reach the server.
struct Transport {
  // TLS 1.3 unless false: then every frame, phone numbers included, crosses the network
  // readable by anyone on the path.
  bool tls = true;
  // With TLS: the handshake refuses a server whose certificate has another key, before
  // anything is sent (kSecurity). Without a pin (registering) any key is accepted, and
  // hello() checks that 101 names that same key.
  std::optional<PublicKey> pinned_key;
};

// HELLO's answer: the server's key and this connection's nonce.
struct Greeting {
  PublicKey server_key;
  Bytes nonce;
};

class ProtocolClient {
 public:
  // Connects and, with TLS, completes the handshake; `timeout` bounds the handshake and
  // each later wait for a reply (long-polls add their wait).
  static ClientResult<ProtocolClient> connect(
      const std::string& host, std::uint16_t port,
      std::chrono::milliseconds timeout = std::chrono::seconds(30),
      const Transport& transport = {});
  // The same over a socket the caller connected (from an address of its choosing, say).
  static ClientResult<ProtocolClient> over(
      UniqueFd connected, std::chrono::milliseconds timeout = std::chrono::seconds(30),
      const Transport& transport = {});

  // 200 -> 101. The server key is validated like any network key.
  ClientResult<Greeting> hello();
  // 102 -> 115.
  ClientResult<CodeSent> request_code(const std::string& phone, const std::string& email);
  // 103 -> 104: proves the code and own private key to the greeted server.
  ClientResult<Done> register_key(const KeyPair& own, const Greeting& greeting,
                                  const std::string& phone, ByteView code);
  // 201 -> 106.
  ClientResult<Done> login(const KeyPair& own, const Greeting& greeting, const std::string& phone,
                           ByteView code);
  // 203 -> 111: the recipient's registered key.
  ClientResult<PublicKey> recipient_key(const std::string& phone);
  // 110 -> 118: the message id.
  ClientResult<std::string> send_envelope(const std::string& recipient, const Envelope& envelope);
  // 202 -> 112 + 119s.
  ClientResult<std::vector<WaitingMessage>> fetch(int max, int wait_seconds);
  // 120 -> 121.
  ClientResult<AckOk> ack(const std::vector<std::string>& ids);
  // 120 and 202 in one write -> 121, 112 + 119s: acknowledges a batch and asks for the
  // next with one round trip. A refused ack fails the call (after both answers are read).
  ClientResult<std::vector<WaitingMessage>> ack_and_fetch(const std::vector<std::string>& ids,
                                                          int max, int wait_seconds);
  // 199: the server closes the connection.
  void bye();

  // Low level: one frame out, one frame in (for tests and pipelining).
  ClientResult<Done> send(const Json& request);
  ClientResult<Json> receive(std::chrono::milliseconds extra_wait = std::chrono::milliseconds(0));
  // Any bytes (whole frames, several, or a broken one), through TLS when it is on.
  ClientResult<Done> send_bytes(std::string_view bytes);

  // The socket, for shutdown() and for waiting until the server closes it. Bytes go
  // through send_bytes(): with TLS, what the socket carries is records.
  int fd() const { return fd_.get(); }
  // "TLS" or "TCP".
  std::string_view transport() const { return stream_->transport(); }
  // With TLS, the key of the server's certificate.
  const std::optional<PublicKey>& certificate_key() const { return certificate_key_; }

 private:
  ProtocolClient(UniqueFd fd, std::unique_ptr<ByteStream> stream,
                 std::optional<PublicKey> certificate_key, std::chrono::milliseconds timeout)
      : fd_(std::move(fd)),
        stream_(std::move(stream)),
        reader_(*stream_),
        certificate_key_(std::move(certificate_key)),
        timeout_(timeout) {}
  // Sends request and reads one reply of type T; an error reply becomes kRefused.
  template <class T>
  ClientResult<T> call(const Json& request);
  template <class T>
  ClientResult<T> expect(const Json& reply);
  // Reads 112 and the 119s it announces (at most max).
  ClientResult<std::vector<WaitingMessage>> receive_waiting(int max, int wait_seconds);

  UniqueFd fd_;  // declared first: closed after the stream over it is gone
  std::unique_ptr<ByteStream> stream_;
  FrameReader reader_;  // reads stream_; a fetch's 1 + count frames mostly come in one recv
  std::optional<PublicKey> certificate_key_;
  std::chrono::milliseconds timeout_;
  bool plaintext_ = false;
  // Until a first frame arrives, a bad one means no Shido server is listening there.
  bool heard_from_server_ = false;
};

}  // namespace shido
