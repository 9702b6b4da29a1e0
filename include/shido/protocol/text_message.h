// What a message envelope carries: UTF-8 JSON {"type":"text","body":...,"sent_at":...}
// (docs/PROTOCOL.md section 3), sealed from the sender's key to the recipient's with the
// context (sender phone, recipient phone).
#pragma once

#include <cstdint>
#include <string>

#include "shido/bytes.h"
#include "shido/crypto/envelope.h"
#include "shido/crypto/keys.h"

namespace shido {

inline constexpr std::size_t kMaxBodySize = 65536;
inline constexpr std::size_t kMaxPlaintextSize = 131056;

struct TextMessage {
  std::string body;          // UTF-8, at most kMaxBodySize bytes
  std::int64_t sent_at = 0;  // unix milliseconds, by the sender's clock
};

// The plaintext JSON, non-ASCII as raw UTF-8. Fails with kBadValue for a body that is not
// UTF-8, longer than kMaxBodySize, or whose plaintext would exceed kMaxPlaintextSize.
Result<SecretBytes> encode_text_message(const TextMessage& message);

// Parses a plaintext; fails with kBadJson / kWrongType / kBadValue (type not "text", body
// not UTF-8 or too long).
Result<TextMessage> decode_text_message(ByteView plaintext);

// Encodes and seals a message from sender to recipient.
Result<Envelope> seal_text_message(const KeyPair& sender, const std::string& sender_phone,
                                   const PublicKey& recipient, const std::string& recipient_phone,
                                   const TextMessage& message, RandomSource& rng = system_random());

// Opens and decodes; kAuthenticationFailed for an envelope that does not open, and the
// decode errors for a plaintext that is not a text message.
Result<TextMessage> open_text_message(const KeyPair& recipient, const std::string& recipient_phone,
                                      const PublicKey& sender, const std::string& sender_phone,
                                      const Envelope& envelope);

}  // namespace shido
