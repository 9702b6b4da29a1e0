#include "shido/crypto/envelope.h"

#include "shido/crypto/aes_cbc.h"
#include "shido/crypto/digest.h"
#include "shido/crypto/ecdh.h"
#include "shido/crypto/hkdf.h"

namespace shido {
namespace {

constexpr std::size_t kAesKeySize = 32;
constexpr std::size_t kHalf = 32;  // okm = kek (32) || mac_key (32)

// The two keys that ECDH and HKDF give for one envelope.
struct EnvelopeKeys {
  SecretBytes okm;
  ByteView kek() const { return okm.view().first(kHalf); }
  ByteView mac_key() const { return okm.view().subspan(kHalf, kHalf); }
};

Result<EnvelopeKeys> derive_keys(const KeyPair& own, const PublicKey& peer, ByteView salt,
                                 Purpose purpose) {
  auto shared = ecdh(own, peer);
  if (!shared.ok()) return shared.error();
  const std::string info = "shido/1 " + std::string(purpose_name(purpose));
  auto okm = hkdf_sha256(shared.value().view(), salt, as_bytes(info), 2 * kHalf);
  if (!okm.ok()) return okm.error();
  return EnvelopeKeys{std::move(okm).value()};
}

// LP(x) = uint32_be(len(x)) || x
void append_length_prefixed(Bytes& out, ByteView field) {
  const auto size = static_cast<std::uint32_t>(field.size());
  out.push_back(static_cast<std::uint8_t>(size >> 24));
  out.push_back(static_cast<std::uint8_t>(size >> 16));
  out.push_back(static_cast<std::uint8_t>(size >> 8));
  out.push_back(static_cast<std::uint8_t>(size));
  out.insert(out.end(), field.begin(), field.end());
}

// HMAC over purpose, context and every field of the envelope but the MAC itself.
Bytes envelope_mac(ByteView mac_key, const Envelope& envelope, Purpose purpose,
                   const Context& context) {
  Bytes input;
  input.reserve(envelope.ciphertext.size() + 256);
  append_length_prefixed(input, as_bytes(purpose_name(purpose)));
  for (const Bytes& item : context) append_length_prefixed(input, item);
  append_length_prefixed(input, envelope.salt);
  append_length_prefixed(input, envelope.iv_for_wrapped_key);
  append_length_prefixed(input, envelope.wrapped_aes_key);
  append_length_prefixed(input, envelope.iv_for_ciphertext);
  append_length_prefixed(input, envelope.ciphertext);
  return hmac_sha256(mac_key, input);
}

Error authentication_failed() { return {Errc::kAuthenticationFailed, "authentication failed"}; }

}  // namespace

std::string_view purpose_name(Purpose purpose) {
  switch (purpose) {
    case Purpose::kRegister:
      return "register";
    case Purpose::kConnect:
      return "connect";
    case Purpose::kMessage:
      return "message";
  }
  return "unknown";
}

bool has_valid_shape(const Envelope& envelope) {
  const std::size_t ciphertext_size = envelope.ciphertext.size();
  return envelope.salt.size() == kSaltSize && envelope.iv_for_wrapped_key.size() == kIvSize &&
         envelope.wrapped_aes_key.size() == kWrappedKeySize &&
         envelope.iv_for_ciphertext.size() == kIvSize && envelope.mac.size() == kMacSize &&
         ciphertext_size > 0 && ciphertext_size % kIvSize == 0 &&
         ciphertext_size <= kMaxCiphertextSize;
}

Result<Envelope> seal(const KeyPair& own, const PublicKey& peer, ByteView plaintext,
                      Purpose purpose, const Context& context, RandomSource& rng) {
  Envelope envelope;
  envelope.salt = random_bytes(kSaltSize, rng);
  auto keys = derive_keys(own, peer, envelope.salt, purpose);
  if (!keys.ok()) return keys.error();

  SecretBytes aes_key(kAesKeySize);
  rng.fill(aes_key.span());
  envelope.iv_for_wrapped_key = random_bytes(kIvSize, rng);
  envelope.iv_for_ciphertext = random_bytes(kIvSize, rng);

  auto wrapped = aes_cbc_encrypt(keys.value().kek(), envelope.iv_for_wrapped_key, aes_key.view());
  if (!wrapped.ok()) return wrapped.error();
  envelope.wrapped_aes_key = std::move(wrapped).value();

  auto ciphertext = aes_cbc_encrypt(aes_key.view(), envelope.iv_for_ciphertext, plaintext);
  if (!ciphertext.ok()) return ciphertext.error();
  envelope.ciphertext = std::move(ciphertext).value();

  envelope.mac = envelope_mac(keys.value().mac_key(), envelope, purpose, context);
  return envelope;
}

Result<SecretBytes> open(const KeyPair& own, const PublicKey& peer, const Envelope& envelope,
                         Purpose purpose, const Context& context) {
  if (!has_valid_shape(envelope)) return authentication_failed();
  auto keys = derive_keys(own, peer, envelope.salt, purpose);
  if (!keys.ok()) return authentication_failed();

  // The MAC first, in constant time: nothing is decrypted before the envelope is known to
  // come unchanged from the holder of the peer key.
  const Bytes expected = envelope_mac(keys.value().mac_key(), envelope, purpose, context);
  if (!constant_time_equal(expected, envelope.mac)) return authentication_failed();

  auto aes_key =
      aes_cbc_decrypt(keys.value().kek(), envelope.iv_for_wrapped_key, envelope.wrapped_aes_key);
  if (!aes_key.ok() || aes_key.value().size() != kAesKeySize) return authentication_failed();
  auto plaintext =
      aes_cbc_decrypt(aes_key.value().view(), envelope.iv_for_ciphertext, envelope.ciphertext);
  if (!plaintext.ok()) return authentication_failed();
  return plaintext;
}

}  // namespace shido
