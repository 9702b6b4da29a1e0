// Fuzzes the message decoders (shido/protocol/messages.h, json.h, text_message.h): the
// input is one frame's payload. It is parsed as the server and the client parse every
// frame, then handed to every decoder, the server's and the client's, whatever its code.
// What a decoder accepts must survive encoding and decoding again unchanged, an envelope it
// carries must decode to the same base64, and the message plaintext decoder gets the raw
// bytes too (a recipient decodes whatever a sender sealed).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "shido/base64.h"
#include "shido/protocol/json.h"
#include "shido/protocol/messages.h"
#include "shido/protocol/text_message.h"
#include "shido/protocol/validation.h"

namespace {

using namespace shido;
using shido::fuzz::check;

// An envelope that decodes has the shape a relay checks, and base64 has one encoding per
// byte string, so encoding it again gives back the very text that came.
void check_envelope(const WireEnvelope& wire, EnvelopeKind kind) {
  auto envelope = from_wire(wire, kind);
  if (!envelope.ok()) return;
  check(has_valid_shape(envelope.value()), "a decoded envelope has a valid shape");
  check(to_wire(envelope.value()) == wire, "an envelope encodes back to its own base64");
}

void check_members(const SendPublicKey& m) { check_envelope(m.proof, EnvelopeKind::kSecretCode); }
void check_members(const ConnectRequest& m) {
  check_envelope(m.proof, EnvelopeKind::kSecretCode);
  (void)is_valid_phone(m.phone_number);
}
void check_members(const SendMessage& m) { check_envelope(m.envelope, EnvelopeKind::kMessage); }
void check_members(const WaitingMessage& m) { check_envelope(m.envelope, EnvelopeKind::kMessage); }
void check_members(const SendPhoneNumber& m) {
  if (is_valid_phone(m.phone_number)) {
    check(m.phone_number.size() >= 9 && m.phone_number.size() <= 16, "an E.164 number's length");
  }
  if (is_valid_email(m.email)) check(m.email.size() <= 254, "an e-mail address's length");
}
template <class T>
void check_members(const T& /*message*/) {}

// Decodes json as a T. What decodes must encode to JSON that decodes to the same message,
// and carry T's code.
template <class T>
void decode(const Json& json) {
  auto decoded = T::from_json(json);
  if (!decoded.ok()) {
    check(!decoded.error().message.empty(), "a decoding error says what is wrong");
    return;
  }
  const Json encoded = decoded.value().to_json();
  auto again = T::from_json(encoded);
  check(again.ok(), "what to_json wrote decodes");
  check(again.value().to_json() == encoded, "decoding what to_json wrote changes nothing");
  if constexpr (requires { T::kCode; }) {
    check(frame_code(json) == static_cast<long long>(T::kCode), "a message decodes under its code");
  }
  check_members(decoded.value());
}

// Strict base64 has one encoding per byte string: decoding then encoding gives the text.
void check_base64(const Json& json) {
  for (const auto& [name, value] : json.items()) {
    if (!value.is_string()) continue;
    const auto& text = value.get_ref<const std::string&>();
    auto bytes = base64_decode(text);
    if (bytes.ok()) check(base64_encode(bytes.value()) == text, "base64 encodes back to itself");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)decode_text_message(ByteView(data, size));

  auto parsed = parse_frame_json(text);
  if (!parsed.ok()) return 0;
  const Json& json = parsed.value();
  // What the server writes back parses as a frame again.
  check(parse_frame_json(dump_json(json)).ok(), "dump_json writes a frame that parses");
  check_base64(json);

  // Client to server.
  decode<Hello>(json);
  decode<SendPhoneNumber>(json);
  decode<SendPublicKey>(json);
  decode<ConnectRequest>(json);
  decode<CommunicationRequest>(json);
  decode<SendMessage>(json);
  decode<CheckWaitingMessages>(json);
  decode<AckMessages>(json);
  decode<GeneralClientError>(json);
  decode<Bye>(json);
  // Server to client.
  decode<ServerHello>(json);
  decode<CodeSent>(json);
  decode<RegisterSuccess>(json);
  decode<ConnectAccepted>(json);
  decode<RecipientKey>(json);
  decode<MessageStored>(json);
  decode<WaitingApproved>(json);
  decode<WaitingMessage>(json);
  decode<AckOk>(json);
  decode<ErrorReply>(json);
  return 0;
}
