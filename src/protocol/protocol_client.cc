#include "shido/protocol/protocol_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>

#include "shido/base64.h"
#include "shido/crypto/envelope.h"
#include "shido/net/tls.h"
#include "shido/protocol/json.h"

namespace shido {
namespace {

ClientError network_error(std::string message) {
  return client_failure(Failure::kNetwork, std::move(message));
}
ClientError protocol_error(std::string message) {
  return client_failure(Failure::kProtocol, std::move(message));
}
ClientError security_error(std::string message) {
  return client_failure(Failure::kSecurity, std::move(message));
}

ClientError not_a_shido_server() {
  return protocol_error(
      "this does not look like a Shido server: its first answer is not a Shido frame "
      "(is the port right?)");
}

constexpr std::size_t kNonceSize = 32;

// One TLS client context for the process: made once, shared by every connection.
const Result<TlsClient>& tls_client() {
  static const Result<TlsClient> client = TlsClient::create();
  return client;
}

// The plaintext frame a server answers a TLS client with: a refusal made before any
// handshake (128: busy), or a server without TLS refusing our ClientHello as a frame too
// large (125). `start` holds its first bytes; the rest is read from fd. None when it is no
// small Shido frame.
std::optional<Json> plaintext_answer(int fd, std::string start, const SteadyDeadline& deadline) {
  constexpr std::size_t kHeader = 4;
  constexpr std::size_t kMost = std::size_t{16} << 10;
  SocketStream socket(fd);
  const auto whole = [&]() -> std::size_t {
    if (start.size() < kHeader) return kHeader;
    const auto byte = [&](std::size_t i) {
      return std::size_t{static_cast<unsigned char>(start[i])};
    };
    return kHeader + (byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3));
  };
  while (start.size() < whole()) {
    if (whole() > kHeader + kMost) return std::nullopt;
    std::array<char, 4096> buffer;
    const Received got =
        socket.receive(buffer.data(), std::min(buffer.size(), whole() - start.size()), deadline);
    if (got.kind != Received::Kind::kBytes) return std::nullopt;
    start.append(buffer.data(), got.bytes);
  }
  auto json = parse_frame_json(std::string_view(start).substr(kHeader, whole() - kHeader));
  if (!json.ok()) return std::nullopt;
  return std::move(json).value();
}

}  // namespace

ClientError server_key_changed(const PublicKey& pinned, const PublicKey& offered) {
  return client_failure(
      Failure::kSecurity,
      "THE SERVER KEY HAS CHANGED. Someone may be impersonating the server.\n"
      "  pinned:  " +
          pinned.fingerprint() + "\n  offered: " + offered.fingerprint() +
          "\nNothing was sent. If the server operator confirms a new key, move this account's\n"
          "directory away and register again.");
}

ClientResult<ProtocolClient> ProtocolClient::connect(const std::string& host, std::uint16_t port,
                                                     std::chrono::milliseconds timeout,
                                                     const Transport& transport) {
  auto fd = connect_tcp(host, port);
  if (!fd.ok()) return network_error(fd.error().message);
  return over(std::move(fd).value(), timeout, transport);
}

ClientResult<ProtocolClient> ProtocolClient::over(UniqueFd connected,
                                                  std::chrono::milliseconds timeout,
                                                  const Transport& transport) {
  int one = 1;
  ::setsockopt(connected.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!transport.tls) {
    auto stream = std::make_unique<SocketStream>(connected.get());
    ProtocolClient client(std::move(connected), std::move(stream), std::nullopt, timeout);
    client.plaintext_ = true;
    return client;
  }
  const Result<TlsClient>& tls = tls_client();
  if (!tls.ok()) return network_error("TLS is not available: " + tls.error().message);
  std::optional<PublicKey> offered;
  const TlsClient::KeyCheck accept_key = [&](const PublicKey& key) {
    offered = key;
    return !transport.pinned_key || key == *transport.pinned_key;
  };
  const SteadyDeadline deadline = deadline_in(timeout);
  std::string not_tls;
  auto connected_tls =
      tls.value().connect(connected.get(), accept_key, deadline, timeout, &not_tls);
  if (!connected_tls.ok()) {
    const Error& error = connected_tls.error();
    switch (error.code) {
      case Errc::kKeyRejected:
        return server_key_changed(*transport.pinned_key, *offered);
      case Errc::kPlaintextPeer: {
        if (not_tls.front() != '\0') return not_a_shido_server();
        const std::optional<Json> answer = plaintext_answer(connected.get(), not_tls, deadline);
        if (!answer) return not_a_shido_server();
        auto refusal = ErrorReply::from_json(*answer);
        // A refusal before any handshake (the server is busy) is the server's word, in
        // plaintext because no TLS was spent on it; it carries no secret.
        if (refusal.ok() && refusal.value().code != Code::kFrameTooLarge) {
          return ClientError{Failure::kRefused, refusal.value().error_description,
                             refusal.value().code, refusal.value().attempts_left,
                             refusal.value().retry_after};
        }
        return network_error(
            "the server answered without TLS: it is a Shido server without TLS (an older "
            "version, or one behind a plaintext proxy). Nothing was sent. Talking to it with "
            "--plaintext would show your phone number and your contacts to the network.");
      }
      default:
        return network_error("no secure connection to the server: " + error.message);
    }
  }
  TlsClient::Connected& tls_connection = connected_tls.value();
  return ProtocolClient(std::move(connected), std::move(tls_connection.stream),
                        std::move(tls_connection.server_key), timeout);
}

ClientResult<Done> ProtocolClient::send(const Json& request) {
  return send_bytes(encode_frame(dump_json(request)));
}

ClientResult<Done> ProtocolClient::send_bytes(std::string_view bytes) {
  auto written = stream_->send(bytes);
  if (!written.ok()) return network_error("connection lost: " + written.error().message);
  return Done{};
}

ClientResult<Json> ProtocolClient::receive(std::chrono::milliseconds extra_wait) {
  FrameLimits limits;
  limits.idle_timeout = timeout_ + extra_wait;
  limits.frame_timeout = timeout_;
  auto frame = reader_.next(limits);
  if (!frame.ok() && !heard_from_server_) {
    // The first answer of a connection tells whether a Shido server is there at all.
    switch (frame.error().code) {
      case Errc::kFrameEmpty:
      case Errc::kFrameTooLarge:
        return not_a_shido_server();
      case Errc::kIdleTimeout:
        return network_error("no answer in time: is a Shido server listening on this port?");
      default:
        break;
    }
  }
  if (!frame.ok()) {
    // A server that takes TLS only closes a plaintext connection with its first frame
    // unread, which may reset the connection rather than end it.
    const bool ended =
        frame.error().code == Errc::kConnectionClosed || frame.error().code == Errc::kIo;
    if (ended && plaintext_ && !heard_from_server_) {
      return network_error(
          "the server closed the connection without answering: it may take TLS connections "
          "only (leave out --plaintext)");
    }
    if (frame.error().code == Errc::kConnectionClosed)
      return network_error("the server closed the connection");
    if (frame.error().code == Errc::kIdleTimeout)
      return network_error("the server did not answer in time");
    return network_error("connection failed: " + frame.error().message);
  }
  auto json = parse_frame_json(frame.value());
  if (!json.ok()) {
    if (!heard_from_server_) return not_a_shido_server();
    return protocol_error("the server sent a bad frame: " + json.error().message);
  }
  heard_from_server_ = true;
  return std::move(json).value();
}

template <class T>
ClientResult<T> ProtocolClient::expect(const Json& reply) {
  const long long code = frame_code(reply);
  if (code == static_cast<int>(T::kCode)) {
    auto decoded = T::from_json(reply);
    if (!decoded.ok())
      return protocol_error("the server sent a bad reply: " + decoded.error().message);
    return std::move(decoded).value();
  }
  auto error = ErrorReply::from_json(reply);
  if (!error.ok()) {
    return protocol_error("the server answered with unexpected code " + std::to_string(code));
  }
  ClientError refused{Failure::kRefused, error.value().error_description, error.value().code,
                      error.value().attempts_left, error.value().retry_after};
  return refused;
}

template <class T>
ClientResult<T> ProtocolClient::call(const Json& request) {
  if (auto sent = send(request); !sent.ok()) return sent.error();
  auto reply = receive();
  if (!reply.ok()) return reply.error();
  return expect<T>(reply.value());
}

ClientResult<Greeting> ProtocolClient::hello() {
  auto reply = call<ServerHello>(Hello{}.to_json());
  if (!reply.ok()) return reply.error();
  // Over TLS the 101 names, in canonical PEM, the certificate's key: already parsed and
  // checked in the handshake, so not again.
  auto key = certificate_key_ && reply.value().public_key == certificate_key_->pem()
                 ? Result<PublicKey>(*certificate_key_)
                 : PublicKey::from_pem(reply.value().public_key);
  if (!key.ok()) return security_error("the server key is invalid: " + key.error().message);
  // The key that signs the proofs must be the one that made the handshake.
  if (certificate_key_ && !(key.value() == *certificate_key_)) {
    return security_error("the server's key (" + key.value().fingerprint() +
                          ") is not the key of its TLS certificate (" +
                          certificate_key_->fingerprint() + "): someone may be in the middle");
  }
  auto nonce = base64_decode(reply.value().nonce);
  if (!nonce.ok() || nonce.value().size() != kNonceSize)
    return protocol_error("the server nonce is invalid");
  return Greeting{std::move(key).value(), std::move(nonce).value()};
}

ClientResult<CodeSent> ProtocolClient::request_code(const std::string& phone,
                                                    const std::string& email) {
  return call<CodeSent>(SendPhoneNumber{phone, email}.to_json());
}

ClientResult<Done> ProtocolClient::register_key(const KeyPair& own, const Greeting& greeting,
                                                const std::string& phone, ByteView code) {
  auto proof = seal(own, greeting.server_key, code, Purpose::kRegister,
                    Context{to_bytes(phone), greeting.nonce});
  if (!proof.ok()) return security_error(proof.error().message);
  auto reply = call<RegisterSuccess>(
      SendPublicKey{own.public_key().pem(), to_wire(proof.value())}.to_json());
  if (!reply.ok()) return reply.error();
  return Done{};
}

ClientResult<Done> ProtocolClient::login(const KeyPair& own, const Greeting& greeting,
                                         const std::string& phone, ByteView code) {
  auto proof = seal(own, greeting.server_key, code, Purpose::kConnect,
                    Context{to_bytes(phone), greeting.nonce});
  if (!proof.ok()) return security_error(proof.error().message);
  auto reply = call<ConnectAccepted>(ConnectRequest{phone, to_wire(proof.value())}.to_json());
  if (!reply.ok()) return reply.error();
  return Done{};
}

ClientResult<PublicKey> ProtocolClient::recipient_key(const std::string& phone) {
  auto reply = call<RecipientKey>(CommunicationRequest{phone}.to_json());
  if (!reply.ok()) return reply.error();
  // Over TLS the 101 names, in canonical PEM, the certificate's key: already parsed and
  // checked in the handshake, so not again.
  auto key = certificate_key_ && reply.value().public_key == certificate_key_->pem()
                 ? Result<PublicKey>(*certificate_key_)
                 : PublicKey::from_pem(reply.value().public_key);
  if (!key.ok()) return security_error("the recipient's key is invalid: " + key.error().message);
  return std::move(key).value();
}

ClientResult<std::string> ProtocolClient::send_envelope(const std::string& recipient,
                                                        const Envelope& envelope) {
  auto reply =
      call<MessageStored>(SendMessage{recipient, to_wire(envelope), std::nullopt}.to_json());
  if (!reply.ok()) return reply.error();
  return std::move(reply).value().message_id;
}

ClientResult<std::vector<WaitingMessage>> ProtocolClient::fetch(int max, int wait_seconds) {
  if (auto sent = send(CheckWaitingMessages{max, wait_seconds}.to_json()); !sent.ok())
    return sent.error();
  return receive_waiting(max, wait_seconds);
}

ClientResult<AckOk> ProtocolClient::ack(const std::vector<std::string>& ids) {
  return call<AckOk>(AckMessages{ids}.to_json());
}

ClientResult<std::vector<WaitingMessage>> ProtocolClient::ack_and_fetch(
    const std::vector<std::string>& ids, int max, int wait_seconds) {
  // Both requests in one write: the server reads them with one recv and answers in order.
  std::string requests;
  append_frame(requests, dump_json(AckMessages{ids}.to_json()));
  append_frame(requests, dump_json(CheckWaitingMessages{max, wait_seconds}.to_json()));
  if (auto written = send_bytes(requests); !written.ok()) return written.error();
  auto acked = receive();
  if (!acked.ok()) return acked.error();
  auto fetched = receive_waiting(max, wait_seconds);
  // A refused ack still fails the call, but only after the fetch's answer is read, so
  // that the next call does not take it for its own.
  if (auto ok = expect<AckOk>(acked.value()); !ok.ok()) return ok.error();
  return fetched;
}

ClientResult<std::vector<WaitingMessage>> ProtocolClient::receive_waiting(int max,
                                                                          int wait_seconds) {
  auto reply = receive(std::chrono::seconds(wait_seconds));
  if (!reply.ok()) return reply.error();
  auto approved = expect<WaitingApproved>(reply.value());
  if (!approved.ok()) return approved.error();
  if (approved.value().count < 0 || approved.value().count > max) {
    return protocol_error("the server announced an impossible message count");
  }
  std::vector<WaitingMessage> messages;
  for (int i = 0; i < approved.value().count; ++i) {
    auto frame = receive();
    if (!frame.ok()) return frame.error();
    auto message = expect<WaitingMessage>(frame.value());
    if (!message.ok()) return message.error();
    messages.push_back(std::move(message).value());
  }
  return messages;
}

void ProtocolClient::bye() { (void)send(Bye{}.to_json()); }

}  // namespace shido
