#include "shido/protocol/messages.h"

#include <climits>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "shido/base64.h"

namespace shido {

namespace {

// JSON names of an envelope's members; only the ciphertext and its IV depend on the kind.
struct EnvelopeNames {
  const char* iv_for_ciphertext;
  const char* ciphertext;
};

EnvelopeNames envelope_names(EnvelopeKind kind) {
  if (kind == EnvelopeKind::kSecretCode) return {"iv_for_secret", "encrypted_secret_code"};
  return {"iv_for_message", "encrypted_message"};
}

// A JSON integer as int64; nullopt for an unsigned one above INT64_MAX.
std::optional<std::int64_t> to_int64(const Json& integer) {
  if (!integer.is_number_unsigned()) return integer.get<std::int64_t>();
  const auto value = integer.get<std::uint64_t>();
  if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(value);
}

std::string quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

// Reads members of a JSON object into C++ values. The first failure is kept and every
// later read is skipped, so a from_json reads all members in a row and then asks finish()
// for the result. Nothing here throws.
class FieldReader {
 public:
  FieldReader(const Json& json, Code expected) : json_(json) {
    if (!json_.is_object()) {
      fail(Errc::kNotObject, "the message is not a JSON object");
      return;
    }
    std::int64_t code = 0;
    read_integer("code", code, std::numeric_limits<std::int64_t>::min(),
                 std::numeric_limits<std::int64_t>::max());
    if (ok() && code != static_cast<int>(expected)) {
      fail(Errc::kBadValue, "member 'code' must be " + std::to_string(static_cast<int>(expected)));
    }
  }

  // For ErrorReply, whose code is any of the error codes.
  explicit FieldReader(const Json& json) : json_(json) {
    if (!json_.is_object()) fail(Errc::kNotObject, "the message is not a JSON object");
  }

  bool ok() const { return !error_.has_value(); }

  void fail(Errc code, std::string message) {
    if (ok()) error_ = Error{code, std::move(message)};
  }

  void read(const char* name, std::string& out) {
    if (const Json* member = find_required(name)) read_string(name, *member, out);
  }

  void read_optional(const char* name, std::string& out) {
    if (const Json* member = find_optional(name)) read_string(name, *member, out);
  }

  void read_optional(const char* name, std::optional<std::string>& out) {
    if (const Json* member = find_optional(name)) read_string(name, *member, out.emplace());
  }

  // Any int the member holds.
  void read(const char* name, int& out) { read_integer(name, out, INT_MIN, INT_MAX); }

  // Counts and durations: 0..INT_MAX.
  void read_count(const char* name, int& out) { read_integer(name, out, 0, INT_MAX); }

  void read(const char* name, std::int64_t& out) {
    read_integer(name, out, std::numeric_limits<std::int64_t>::min(),
                 std::numeric_limits<std::int64_t>::max());
  }

  void read_optional_count(const char* name, std::optional<int>& out) {
    if (find_optional(name) == nullptr) return;
    read_count(name, out.emplace());
  }

  // A member that may be absent (out keeps its default) and must lie in [min, max].
  void read_optional_in_range(const char* name, int& out, int min, int max) {
    if (find_optional(name) != nullptr) read_integer(name, out, min, max);
  }

  void read(const char* name, std::vector<std::string>& out) {
    const Json* member = find_required(name);
    if (member == nullptr) return;
    if (!member->is_array()) return wrong_type(name, "an array of strings");
    out.clear();
    out.reserve(member->size());
    for (const Json& item : *member) {
      if (!item.is_string()) return wrong_type(name, "an array of strings");
      out.push_back(item.get<std::string>());
    }
  }

  void read(WireEnvelope& out, EnvelopeKind kind) {
    const EnvelopeNames names = envelope_names(kind);
    read("salt", out.salt);
    read("iv_for_wrapped_key", out.iv_for_wrapped_key);
    read("wrapped_aes_key", out.wrapped_aes_key);
    read(names.iv_for_ciphertext, out.iv_for_ciphertext);
    read(names.ciphertext, out.ciphertext);
    read("mac", out.mac);
  }

  template <class T>
  Result<T> finish(T value) {
    if (error_) return *error_;
    return value;
  }

 private:
  const Json* find_optional(const char* name) {
    if (!ok()) return nullptr;
    const auto it = json_.find(name);
    return it == json_.end() ? nullptr : &*it;
  }

  const Json* find_required(const char* name) {
    const Json* member = find_optional(name);
    if (member == nullptr) fail(Errc::kMissingField, "missing member " + quoted(name));
    return member;
  }

  void wrong_type(const char* name, const char* expected) {
    fail(Errc::kWrongType, "member " + quoted(name) + " must be " + expected);
  }

  void read_string(const char* name, const Json& member, std::string& out) {
    if (!member.is_string()) return wrong_type(name, "a string");
    out = member.get<std::string>();
  }

  // An integer member (no fraction, no exponent) within [min, max], else kBadValue.
  template <class Int>
  void read_integer(const char* name, Int& out, std::int64_t min, std::int64_t max) {
    const Json* member = find_required(name);
    if (member == nullptr) return;
    if (!member->is_number_integer()) return wrong_type(name, "an integer");
    const std::optional<std::int64_t> value = to_int64(*member);
    if (!value || *value < min || *value > max) {
      return fail(Errc::kBadValue, "member " + quoted(name) + " must be between " +
                                       std::to_string(min) + " and " + std::to_string(max));
    }
    out = static_cast<Int>(*value);
  }

  const Json& json_;
  std::optional<Error> error_;
};

// Every message starts with its code.
Json with_code(Code code) { return Json{{"code", static_cast<int>(code)}}; }

void write_envelope(Json& json, const WireEnvelope& envelope, EnvelopeKind kind) {
  const EnvelopeNames names = envelope_names(kind);
  json["salt"] = envelope.salt;
  json["iv_for_wrapped_key"] = envelope.iv_for_wrapped_key;
  json["wrapped_aes_key"] = envelope.wrapped_aes_key;
  json[names.iv_for_ciphertext] = envelope.iv_for_ciphertext;
  json[names.ciphertext] = envelope.ciphertext;
  json["mac"] = envelope.mac;
}

// Decodes one envelope member and checks its size.
Status decode_member(const char* name, const std::string& text, std::size_t size, Bytes& out) {
  auto bytes = base64_decode(text);
  if (!bytes.ok()) return Error{Errc::kBadBase64, "member " + quoted(name) + " is not base64"};
  if (bytes.value().size() != size) {
    return Error{Errc::kBadValue,
                 "member " + quoted(name) + " must be " + std::to_string(size) + " bytes"};
  }
  out = std::move(bytes).value();
  return {};
}

Status decode_ciphertext(const char* name, const std::string& text, Bytes& out) {
  auto bytes = base64_decode(text);
  if (!bytes.ok()) return Error{Errc::kBadBase64, "member " + quoted(name) + " is not base64"};
  const std::size_t size = bytes.value().size();
  if (size == 0 || size % kIvSize != 0 || size > kMaxCiphertextSize) {
    return Error{Errc::kBadValue, "member " + quoted(name) +
                                      " must be a non-zero multiple of 16 bytes, at most " +
                                      std::to_string(kMaxCiphertextSize)};
  }
  out = std::move(bytes).value();
  return {};
}

}  // namespace

WireEnvelope to_wire(const Envelope& envelope) {
  return WireEnvelope{
      .salt = base64_encode(envelope.salt),
      .iv_for_wrapped_key = base64_encode(envelope.iv_for_wrapped_key),
      .wrapped_aes_key = base64_encode(envelope.wrapped_aes_key),
      .iv_for_ciphertext = base64_encode(envelope.iv_for_ciphertext),
      .ciphertext = base64_encode(envelope.ciphertext),
      .mac = base64_encode(envelope.mac),
  };
}

Result<Envelope> from_wire(const WireEnvelope& wire, EnvelopeKind kind) {
  const EnvelopeNames names = envelope_names(kind);
  Envelope envelope;
  // Checked in JSON member order; the first failure answers.
  if (Status s = decode_member("salt", wire.salt, kSaltSize, envelope.salt); !s.ok()) {
    return s.error();
  }
  if (Status s = decode_member("iv_for_wrapped_key", wire.iv_for_wrapped_key, kIvSize,
                               envelope.iv_for_wrapped_key);
      !s.ok()) {
    return s.error();
  }
  if (Status s = decode_member("wrapped_aes_key", wire.wrapped_aes_key, kWrappedKeySize,
                               envelope.wrapped_aes_key);
      !s.ok()) {
    return s.error();
  }
  if (Status s = decode_member(names.iv_for_ciphertext, wire.iv_for_ciphertext, kIvSize,
                               envelope.iv_for_ciphertext);
      !s.ok()) {
    return s.error();
  }
  if (Status s = decode_ciphertext(names.ciphertext, wire.ciphertext, envelope.ciphertext);
      !s.ok()) {
    return s.error();
  }
  if (Status s = decode_member("mac", wire.mac, kMacSize, envelope.mac); !s.ok()) {
    return s.error();
  }
  return envelope;
}

// --- Client to server -----------------------------------------------------------------

Json Hello::to_json() const {
  Json json = with_code(kCode);
  json["protocol"] = protocol;
  return json;
}

Result<Hello> Hello::from_json(const Json& json) {
  FieldReader in(json, kCode);
  Hello out;
  in.read("protocol", out.protocol);
  return in.finish(std::move(out));
}

Json SendPhoneNumber::to_json() const {
  Json json = with_code(kCode);
  json["phone_number"] = phone_number;
  json["email"] = email;
  return json;
}

Result<SendPhoneNumber> SendPhoneNumber::from_json(const Json& json) {
  FieldReader in(json, kCode);
  SendPhoneNumber out;
  in.read("phone_number", out.phone_number);
  in.read("email", out.email);
  return in.finish(std::move(out));
}

Json SendPublicKey::to_json() const {
  Json json = with_code(kCode);
  json["public_key"] = public_key;
  write_envelope(json, proof, EnvelopeKind::kSecretCode);
  return json;
}

Result<SendPublicKey> SendPublicKey::from_json(const Json& json) {
  FieldReader in(json, kCode);
  SendPublicKey out;
  in.read("public_key", out.public_key);
  in.read(out.proof, EnvelopeKind::kSecretCode);
  return in.finish(std::move(out));
}

Json ConnectRequest::to_json() const {
  Json json = with_code(kCode);
  json["phone_number"] = phone_number;
  write_envelope(json, proof, EnvelopeKind::kSecretCode);
  return json;
}

Result<ConnectRequest> ConnectRequest::from_json(const Json& json) {
  FieldReader in(json, kCode);
  ConnectRequest out;
  in.read("phone_number", out.phone_number);
  in.read(out.proof, EnvelopeKind::kSecretCode);
  return in.finish(std::move(out));
}

Json CommunicationRequest::to_json() const {
  Json json = with_code(kCode);
  json["recipients_phone_number"] = recipients_phone_number;
  return json;
}

Result<CommunicationRequest> CommunicationRequest::from_json(const Json& json) {
  FieldReader in(json, kCode);
  CommunicationRequest out;
  in.read("recipients_phone_number", out.recipients_phone_number);
  return in.finish(std::move(out));
}

Json SendMessage::to_json() const {
  Json json = with_code(kCode);
  json["recipients_phone_number"] = recipients_phone_number;
  write_envelope(json, envelope, EnvelopeKind::kMessage);
  if (sender_public_key) json["sender_public_key"] = *sender_public_key;
  return json;
}

Result<SendMessage> SendMessage::from_json(const Json& json) {
  FieldReader in(json, kCode);
  SendMessage out;
  in.read("recipients_phone_number", out.recipients_phone_number);
  in.read(out.envelope, EnvelopeKind::kMessage);
  in.read_optional("sender_public_key", out.sender_public_key);
  return in.finish(std::move(out));
}

Json CheckWaitingMessages::to_json() const {
  Json json = with_code(kCode);
  json["max"] = max;
  json["wait_seconds"] = wait_seconds;
  return json;
}

Result<CheckWaitingMessages> CheckWaitingMessages::from_json(const Json& json) {
  FieldReader in(json, kCode);
  CheckWaitingMessages out;
  in.read_optional_in_range("max", out.max, 1, kMaxFetchMax);
  in.read_optional_in_range("wait_seconds", out.wait_seconds, 0, kMaxWaitSeconds);
  return in.finish(std::move(out));
}

Json AckMessages::to_json() const {
  Json json = with_code(kCode);
  json["message_ids"] = message_ids;
  return json;
}

Result<AckMessages> AckMessages::from_json(const Json& json) {
  FieldReader in(json, kCode);
  AckMessages out;
  in.read("message_ids", out.message_ids);
  return in.finish(std::move(out));
}

Json GeneralClientError::to_json() const {
  Json json = with_code(kCode);
  if (!error_description.empty()) json["error_description"] = error_description;
  return json;
}

Result<GeneralClientError> GeneralClientError::from_json(const Json& json) {
  FieldReader in(json, kCode);
  GeneralClientError out;
  in.read_optional("error_description", out.error_description);
  return in.finish(std::move(out));
}

Json Bye::to_json() const { return with_code(kCode); }

Result<Bye> Bye::from_json(const Json& json) {
  FieldReader in(json, kCode);
  return in.finish(Bye{});
}

// --- Server to client -----------------------------------------------------------------

Json ServerHello::to_json() const {
  Json json = with_code(kCode);
  json["protocol"] = protocol;
  json["public_key"] = public_key;
  json["nonce"] = nonce;
  return json;
}

Result<ServerHello> ServerHello::from_json(const Json& json) {
  FieldReader in(json, kCode);
  ServerHello out;
  in.read("protocol", out.protocol);
  in.read("public_key", out.public_key);
  in.read("nonce", out.nonce);
  return in.finish(std::move(out));
}

Json CodeSent::to_json() const {
  Json json = with_code(kCode);
  json["expires_in"] = expires_in;
  return json;
}

Result<CodeSent> CodeSent::from_json(const Json& json) {
  FieldReader in(json, kCode);
  CodeSent out;
  in.read_count("expires_in", out.expires_in);
  return in.finish(std::move(out));
}

Json RegisterSuccess::to_json() const { return with_code(kCode); }

Result<RegisterSuccess> RegisterSuccess::from_json(const Json& json) {
  FieldReader in(json, kCode);
  return in.finish(RegisterSuccess{});
}

Json ConnectAccepted::to_json() const { return with_code(kCode); }

Result<ConnectAccepted> ConnectAccepted::from_json(const Json& json) {
  FieldReader in(json, kCode);
  return in.finish(ConnectAccepted{});
}

Json RecipientKey::to_json() const {
  Json json = with_code(kCode);
  json["recipients_phone_number"] = recipients_phone_number;
  json["public_key"] = public_key;
  return json;
}

Result<RecipientKey> RecipientKey::from_json(const Json& json) {
  FieldReader in(json, kCode);
  RecipientKey out;
  in.read("recipients_phone_number", out.recipients_phone_number);
  in.read("public_key", out.public_key);
  return in.finish(std::move(out));
}

Json MessageStored::to_json() const {
  Json json = with_code(kCode);
  json["message_id"] = message_id;
  return json;
}

Result<MessageStored> MessageStored::from_json(const Json& json) {
  FieldReader in(json, kCode);
  MessageStored out;
  in.read("message_id", out.message_id);
  return in.finish(std::move(out));
}

Json WaitingApproved::to_json() const {
  Json json = with_code(kCode);
  json["count"] = count;
  return json;
}

Result<WaitingApproved> WaitingApproved::from_json(const Json& json) {
  FieldReader in(json, kCode);
  WaitingApproved out;
  in.read_count("count", out.count);
  return in.finish(std::move(out));
}

Json WaitingMessage::to_json() const {
  Json json = with_code(kCode);
  json["message_id"] = message_id;
  json["senders_phone_number"] = senders_phone_number;
  json["senders_public_key"] = senders_public_key;
  json["stored_at"] = stored_at;
  write_envelope(json, envelope, EnvelopeKind::kMessage);
  json["remaining_messages"] = remaining_messages;
  return json;
}

Result<WaitingMessage> WaitingMessage::from_json(const Json& json) {
  FieldReader in(json, kCode);
  WaitingMessage out;
  in.read("message_id", out.message_id);
  in.read("senders_phone_number", out.senders_phone_number);
  in.read("senders_public_key", out.senders_public_key);
  in.read("stored_at", out.stored_at);
  in.read(out.envelope, EnvelopeKind::kMessage);
  in.read_count("remaining_messages", out.remaining_messages);
  return in.finish(std::move(out));
}

Json AckOk::to_json() const {
  Json json = with_code(kCode);
  json["deleted"] = deleted;
  json["waiting"] = waiting;
  return json;
}

Result<AckOk> AckOk::from_json(const Json& json) {
  FieldReader in(json, kCode);
  AckOk out;
  in.read_count("deleted", out.deleted);
  in.read_count("waiting", out.waiting);
  return in.finish(std::move(out));
}

Json ErrorReply::to_json() const {
  Json json = with_code(code);
  json["error_description"] = error_description;
  if (attempts_left) json["attempts_left"] = *attempts_left;
  if (retry_after) json["retry_after"] = *retry_after;
  return json;
}

Result<ErrorReply> ErrorReply::from_json(const Json& json) {
  FieldReader in(json);
  ErrorReply out;
  int code = 0;
  in.read("code", code);
  if (in.ok()) {
    const std::optional<Code> known = code_from_int(code);
    if (!known || !is_error_code(*known)) {
      in.fail(Errc::kBadValue, "member 'code' must be an error code, not " + std::to_string(code));
    } else {
      out.code = *known;
    }
  }
  in.read("error_description", out.error_description);
  in.read_optional_count("attempts_left", out.attempts_left);
  in.read_optional_count("retry_after", out.retry_after);
  return in.finish(std::move(out));
}

long long frame_code(const Json& json) {
  if (!json.is_object()) return -1;
  const auto it = json.find("code");
  if (it == json.end() || !it->is_number_integer()) return -1;
  // A code beyond long long is no protocol code either; saturate rather than wrap.
  return to_int64(*it).value_or(LLONG_MAX);
}

}  // namespace shido
