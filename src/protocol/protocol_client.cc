#include "shido/protocol/protocol_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "shido/base64.h"
#include "shido/crypto/envelope.h"
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

}  // namespace

ClientResult<ProtocolClient> ProtocolClient::connect(const std::string& host, std::uint16_t port,
                                                     std::chrono::milliseconds timeout) {
  auto fd = connect_tcp(host, port);
  if (!fd.ok()) return network_error(fd.error().message);
  int one = 1;
  ::setsockopt(fd.value().get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return ProtocolClient(std::move(fd).value(), timeout);
}

ClientResult<Done> ProtocolClient::send(const Json& request) {
  auto written = write_frame(fd_.get(), dump_json(request));
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
  auto key = PublicKey::from_pem(reply.value().public_key);
  if (!key.ok()) return security_error("the server key is invalid: " + key.error().message);
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
  auto key = PublicKey::from_pem(reply.value().public_key);
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
  if (auto written = write_all(fd_.get(), requests); !written.ok()) {
    return network_error("connection lost: " + written.error().message);
  }
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
