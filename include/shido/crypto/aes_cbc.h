// AES in CBC mode. The key length picks AES-128, AES-192 or AES-256 (16, 24, 32 bytes);
// the IV is 16 bytes. With padding, PKCS#7; without, the input must be whole blocks.
#pragma once

#include "shido/bytes.h"

namespace shido {

inline constexpr std::size_t kAesBlockSize = 16;

enum class Padding { kPkcs7, kNone };

// Fails with kInvalidArgument for a bad key or IV length, or (kNone) a partial block.
Result<Bytes> aes_cbc_encrypt(ByteView key, ByteView iv, ByteView plaintext,
                              Padding padding = Padding::kPkcs7);

// Fails with kInvalidArgument for a bad key or IV length, and with kAuthenticationFailed
// for a ciphertext that is not whole blocks or whose padding is wrong: callers must not
// be able to tell those apart (see envelope.h).
Result<SecretBytes> aes_cbc_decrypt(ByteView key, ByteView iv, ByteView ciphertext,
                                    Padding padding = Padding::kPkcs7);

}  // namespace shido
