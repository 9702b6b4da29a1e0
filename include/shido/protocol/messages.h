// One C++ type per protocol message (docs/PROTOCOL.md sections 4-5), each with to_json() and a
// strict from_json(). from_json checks that every required member is present and of its
// JSON type, and that ranged integers are in range; each error names the member
// (kMissingField, kWrongType, kBadValue). It does not judge formats the server answers
// with other codes (phone, e-mail, protocol version, base64 of envelope members): those
// are the caller's checks, in the order of docs/PROTOCOL.md section 7. Decoding never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shido/crypto/envelope.h"
#include "shido/protocol/codes.h"
#include "shido/protocol/json.h"

namespace shido {

// The JSON names of an envelope's ciphertext and its IV depend on what it carries.
enum class EnvelopeKind {
  kSecretCode,  // encrypted_secret_code, iv_for_secret (register, connect)
  kMessage,     // encrypted_message, iv_for_message (message)
};

// An envelope as it travels: each member base64 text, not yet decoded.
struct WireEnvelope {
  std::string salt;
  std::string iv_for_wrapped_key;
  std::string wrapped_aes_key;
  std::string iv_for_ciphertext;
  std::string ciphertext;
  std::string mac;
  friend bool operator==(const WireEnvelope&, const WireEnvelope&) = default;
};

WireEnvelope to_wire(const Envelope& envelope);

// Decodes every member as strict base64 and checks the envelope's shape (see
// has_valid_shape). Fails with kBadBase64 or kBadValue naming the JSON member.
Result<Envelope> from_wire(const WireEnvelope& wire, EnvelopeKind kind);

// --- Client to server -----------------------------------------------------------------

struct Hello {  // 200
  static constexpr Code kCode = Code::kHello;
  std::int64_t protocol = kProtocolVersion;  // any integer: a server answers 132 to all but 1
  Json to_json() const;
  static Result<Hello> from_json(const Json& json);
};

struct SendPhoneNumber {  // 102
  static constexpr Code kCode = Code::kSendPhoneNumber;
  std::string phone_number;
  std::string email;
  Json to_json() const;
  static Result<SendPhoneNumber> from_json(const Json& json);
};

struct SendPublicKey {  // 103: the client's key and a register envelope over the code
  static constexpr Code kCode = Code::kSendPublicKey;
  std::string public_key;  // PEM
  WireEnvelope proof;
  Json to_json() const;
  static Result<SendPublicKey> from_json(const Json& json);
};

struct ConnectRequest {  // 201: a connect envelope over the code
  static constexpr Code kCode = Code::kConnectRequest;
  std::string phone_number;
  WireEnvelope proof;
  Json to_json() const;
  static Result<ConnectRequest> from_json(const Json& json);
};

struct CommunicationRequest {  // 203
  static constexpr Code kCode = Code::kCommunicationRequest;
  std::string recipients_phone_number;
  Json to_json() const;
  static Result<CommunicationRequest> from_json(const Json& json);
};

struct SendMessage {  // 110
  static constexpr Code kCode = Code::kSendMessage;
  std::string recipients_phone_number;
  WireEnvelope envelope;
  std::optional<std::string> sender_public_key;  // if present, must be the sender's own
  Json to_json() const;
  static Result<SendMessage> from_json(const Json& json);
};

inline constexpr int kDefaultFetchMax = 100;
inline constexpr int kMaxFetchMax = 500;
inline constexpr int kMaxWaitSeconds = 60;

struct CheckWaitingMessages {  // 202: max 1..500 (default 100), wait_seconds 0..60 (0)
  static constexpr Code kCode = Code::kCheckWaitingMessages;
  int max = kDefaultFetchMax;
  int wait_seconds = 0;
  Json to_json() const;
  static Result<CheckWaitingMessages> from_json(const Json& json);
};

struct AckMessages {  // 120
  static constexpr Code kCode = Code::kAckMessages;
  std::vector<std::string> message_ids;
  Json to_json() const;
  static Result<AckMessages> from_json(const Json& json);
};

struct GeneralClientError {  // 105: optional "error_description"
  static constexpr Code kCode = Code::kGeneralClientError;
  std::string error_description;
  Json to_json() const;
  static Result<GeneralClientError> from_json(const Json& json);
};

struct Bye {  // 199
  static constexpr Code kCode = Code::kBye;
  Json to_json() const;
  static Result<Bye> from_json(const Json& json);
};

// --- Server to client -----------------------------------------------------------------

struct ServerHello {  // 101
  static constexpr Code kCode = Code::kServerPublicKey;
  int protocol = kProtocolVersion;
  std::string public_key;  // PEM
  std::string nonce;       // base64 of 32 bytes
  Json to_json() const;
  static Result<ServerHello> from_json(const Json& json);
};

struct CodeSent {  // 115
  static constexpr Code kCode = Code::kCodeSent;
  int expires_in = 600;
  Json to_json() const;
  static Result<CodeSent> from_json(const Json& json);
};

struct RegisterSuccess {  // 104
  static constexpr Code kCode = Code::kRegisterSuccess;
  Json to_json() const;
  static Result<RegisterSuccess> from_json(const Json& json);
};

struct ConnectAccepted {  // 106
  static constexpr Code kCode = Code::kConnectRequestAccepted;
  Json to_json() const;
  static Result<ConnectAccepted> from_json(const Json& json);
};

struct RecipientKey {  // 111
  static constexpr Code kCode = Code::kSendYourEncryptedMessage;
  std::string recipients_phone_number;
  std::string public_key;  // PEM
  Json to_json() const;
  static Result<RecipientKey> from_json(const Json& json);
};

struct MessageStored {  // 118
  static constexpr Code kCode = Code::kMessageStored;
  std::string message_id;
  Json to_json() const;
  static Result<MessageStored> from_json(const Json& json);
};

struct WaitingApproved {  // 112
  static constexpr Code kCode = Code::kCheckWaitingMessagesApproved;
  int count = 0;
  Json to_json() const;
  static Result<WaitingApproved> from_json(const Json& json);
};

struct WaitingMessage {  // 119
  static constexpr Code kCode = Code::kWaitingMessage;
  std::string message_id;
  std::string senders_phone_number;
  std::string senders_public_key;  // PEM
  std::int64_t stored_at = 0;      // unix milliseconds
  WireEnvelope envelope;
  int remaining_messages = 0;
  Json to_json() const;
  static Result<WaitingMessage> from_json(const Json& json);
};

struct AckOk {  // 121
  static constexpr Code kCode = Code::kAckOk;
  int deleted = 0;
  int waiting = 0;
  Json to_json() const;
  static Result<AckOk> from_json(const Json& json);
};

// Every server error (100, 107-109, 113, 114, 123-129, 131, 132).
struct ErrorReply {
  Code code = Code::kGeneralServerError;
  std::string error_description;
  std::optional<int> attempts_left;  // 109
  std::optional<int> retry_after;    // 107, 127 (whole seconds)
  Json to_json() const;
  // Fails with kBadValue when "code" is not an error code.
  static Result<ErrorReply> from_json(const Json& json);
};

// The code of a parsed frame (parse_frame_json has checked that it is an integer).
long long frame_code(const Json& json);

}  // namespace shido
