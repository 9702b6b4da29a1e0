#include "shido/protocol/text_message.h"

#include "shido/protocol/json.h"
#include "shido/protocol/validation.h"

namespace shido {

Result<SecretBytes> encode_text_message(const TextMessage& message) {
  if (!is_valid_utf8(message.body)) return Error{Errc::kBadValue, "message body is not UTF-8"};
  if (message.body.size() > kMaxBodySize) {
    return Error{Errc::kBadValue, "message body is longer than 65536 bytes"};
  }
  const Json json = {{"type", "text"}, {"body", message.body}, {"sent_at", message.sent_at}};
  std::string text = dump_json(json);
  SecretBytes plaintext(as_bytes(text));
  wipe(text.data(), text.size());
  if (plaintext.size() > kMaxPlaintextSize) {
    return Error{Errc::kBadValue,
                 "message too long once encoded (control characters count six times)"};
  }
  return plaintext;
}

Result<TextMessage> decode_text_message(ByteView plaintext) {
  const std::string_view text(reinterpret_cast<const char*>(plaintext.data()), plaintext.size());
  if (plaintext.size() > kMaxPlaintextSize || !is_valid_utf8(text)) {
    return Error{Errc::kBadValue, "message plaintext is not UTF-8 of the allowed size"};
  }
  const Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object())
    return Error{Errc::kBadJson, "message is not a JSON object"};
  const auto type = json.find("type");
  const auto body = json.find("body");
  const auto sent_at = json.find("sent_at");
  if (type == json.end() || !type->is_string() || *type != "text") {
    return Error{Errc::kBadValue, "message type is not \"text\""};
  }
  if (body == json.end() || !body->is_string())
    return Error{Errc::kWrongType, "message body is not a string"};
  if (sent_at == json.end() || !sent_at->is_number_integer()) {
    return Error{Errc::kWrongType, "message sent_at is not an integer"};
  }
  TextMessage message{body->get<std::string>(), sent_at->get<std::int64_t>()};
  if (message.body.size() > kMaxBodySize) return Error{Errc::kBadValue, "message body is too long"};
  return message;
}

Result<Envelope> seal_text_message(const KeyPair& sender, const std::string& sender_phone,
                                   const PublicKey& recipient, const std::string& recipient_phone,
                                   const TextMessage& message, RandomSource& rng) {
  auto plaintext = encode_text_message(message);
  if (!plaintext.ok()) return plaintext.error();
  return seal(sender, recipient, plaintext.value().view(), Purpose::kMessage,
              Context{to_bytes(sender_phone), to_bytes(recipient_phone)}, rng);
}

Result<TextMessage> open_text_message(const KeyPair& recipient, const std::string& recipient_phone,
                                      const PublicKey& sender, const std::string& sender_phone,
                                      const Envelope& envelope) {
  auto plaintext = open(recipient, sender, envelope, Purpose::kMessage,
                        Context{to_bytes(sender_phone), to_bytes(recipient_phone)});
  if (!plaintext.ok()) return plaintext.error();
  return decode_text_message(plaintext.value().view());
}

}  // namespace shido
