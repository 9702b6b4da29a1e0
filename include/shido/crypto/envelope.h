// The envelope: one construction for every encrypted value of the protocol (docs/PROTOCOL.md
// section 3). A fresh AES-256 key encrypts the plaintext and is wrapped under a key
// derived by ECDH and HKDF; an HMAC binds every field to the purpose and context.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "shido/bytes.h"
#include "shido/crypto/keys.h"
#include "shido/crypto/random.h"

namespace shido {

enum class Purpose { kRegister, kConnect, kMessage };

// "register", "connect" or "message": the purpose as it enters the KDF info and the MAC.
std::string_view purpose_name(Purpose purpose);

inline constexpr std::size_t kSaltSize = 16;
inline constexpr std::size_t kIvSize = 16;
inline constexpr std::size_t kWrappedKeySize = 48;
inline constexpr std::size_t kMacSize = 32;
inline constexpr std::size_t kMaxCiphertextSize = 131072;

struct Envelope {
  Bytes salt;                // 16 bytes
  Bytes iv_for_wrapped_key;  // 16 bytes
  Bytes wrapped_aes_key;     // 48 bytes: AES-256-CBC(kek, PKCS7(aes_key))
  Bytes iv_for_ciphertext;   // 16 bytes
  Bytes ciphertext;          // a non-zero multiple of 16 bytes
  Bytes mac;                 // 32 bytes
  friend bool operator==(const Envelope&, const Envelope&) = default;
};

// The context strings bound into the MAC, in order (see the table in docs/PROTOCOL.md section 3).
using Context = std::vector<Bytes>;

// Seals plaintext from own to peer. The salt, the AES key and both IVs are drawn from rng
// in that order (salt, aes_key, iv_w, iv_c), which lets tests pin every output byte.
// Fails only if peer cannot be used or OpenSSL fails.
Result<Envelope> seal(const KeyPair& own, const PublicKey& peer, ByteView plaintext,
                      Purpose purpose, const Context& context, RandomSource& rng = system_random());

// Opens an envelope sealed by peer to own with the same purpose and context. The MAC is
// checked in constant time before anything is decrypted. Every failure, whatever its
// cause, is Errc::kAuthenticationFailed with the message "authentication failed".
Result<SecretBytes> open(const KeyPair& own, const PublicKey& peer, const Envelope& envelope,
                         Purpose purpose, const Context& context);

// True when every field has its fixed length and the ciphertext is a non-zero multiple of
// 16 bytes no longer than kMaxCiphertextSize. (What a relay can check without the keys.)
bool has_valid_shape(const Envelope& envelope);

}  // namespace shido
