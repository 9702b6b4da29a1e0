// Fuzzes opening an envelope (shido/crypto/envelope.h, text_message.h) with the fixed keys
// of tests/vectors/shido/envelope_vectors.json. The input is
//   control (1 byte) | salt (16) | iv_for_wrapped_key (16) | wrapped_aes_key (48) |
//   iv_for_ciphertext (16) | mac (32) | ciphertext (the rest)
// where control % 3 picks the purpose (register, connect, message; each with the vectors'
// context) and control / 3 % 4 who made the envelope:
//   0 anyone: the fields as they are (the MAC almost never holds);
//   1 a hostile sender, who holds the sender's key: the fields, with the MAC the sender
//     computes over them, so that unwrapping and decryption see bytes of the fuzzer's;
//   2 the same sender wrapping an AES key of its own choosing, 32 to 47 bytes (the first
//     byte of wrapped_aes_key says how many of the bytes after it);
//   3 an honest sender: the rest is the plaintext, sealed with the fields as randomness.
// Every failure must be the one "authentication failed"; an envelope that opens opens for
// its purpose only; and an honest sender's plaintext comes back exactly.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "fuzz_check.h"
#include "shido/bytes.h"
#include "shido/crypto/aes_cbc.h"
#include "shido/crypto/digest.h"
#include "shido/crypto/ecdh.h"
#include "shido/crypto/envelope.h"
#include "shido/crypto/hkdf.h"
#include "shido/crypto/random.h"
#include "shido/protocol/text_message.h"

namespace {

using namespace shido;
using shido::fuzz::check;

KeyPair key_from_scalar(const char* hex) {
  return KeyPair::from_private_scalar(from_hex(hex).value()).value();
}

// The vectors' keys: "own" seals to the server (register, connect) or to the recipient.
struct Keys {
  KeyPair sender =
      key_from_scalar("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
  KeyPair server =
      key_from_scalar("519b423d715f8b581f4fa8ee59f4771a5b44c8130b4e3eacca54a56dda72b464");
  KeyPair recipient =
      key_from_scalar("0f56db78ca460b055c500064824bed999a25aaf48ebb519ac201537b85479813");
};
const Keys& keys() {
  static const Keys fixed;
  return fixed;
}

const std::string kSenderPhone = "+972501234567";
const std::string kRecipientPhone = "+14155550123";

// The purpose's context and the key that opens it, as in the vectors.
Context context_of(Purpose purpose) {
  if (purpose == Purpose::kMessage) return {to_bytes(kSenderPhone), to_bytes(kRecipientPhone)};
  Bytes nonce(32);
  for (std::size_t i = 0; i < nonce.size(); ++i) nonce[i] = static_cast<std::uint8_t>(i);
  return {to_bytes(kSenderPhone), nonce};
}
const KeyPair& opener_of(Purpose purpose) {
  return purpose == Purpose::kMessage ? keys().recipient : keys().server;
}

// Takes the input's bytes in order; a field past the end is short (or empty).
class Cursor {
 public:
  explicit Cursor(ByteView input) : input_(input) {}
  ByteView take(std::size_t n) {
    const ByteView field = input_.first(std::min(n, input_.size()));
    input_ = input_.subspan(field.size());
    return field;
  }
  ByteView rest() { return take(input_.size()); }

 private:
  ByteView input_;
};

Bytes bytes_of(ByteView view) { return {view.begin(), view.end()}; }

// Randomness for seal() read from the input, zeros once it runs out.
class InputRandom final : public RandomSource {
 public:
  explicit InputRandom(ByteView bytes) : cursor_(bytes) {}
  void fill(std::span<std::uint8_t> out) override {
    const ByteView got = cursor_.take(out.size());
    std::fill(std::copy(got.begin(), got.end(), out.begin()), out.end(), std::uint8_t{0});
  }

 private:
  Cursor cursor_;
};

// The sender's two keys, from docs/PROTOCOL.md section 3: kek, then mac_key.
SecretBytes sender_okm(Purpose purpose, ByteView salt) {
  const SecretBytes shared = ecdh(keys().sender, opener_of(purpose).public_key()).value();
  const std::string info = "shido/1 " + std::string(purpose_name(purpose));
  return hkdf_sha256(shared.view(), salt, as_bytes(info), 64).value();
}

void append_length_prefixed(Bytes& out, ByteView field) {
  const auto size = static_cast<std::uint32_t>(field.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<std::uint8_t>(size >> shift));
  out.insert(out.end(), field.begin(), field.end());
}

// The MAC as the sender computes it (docs/PROTOCOL.md section 3, step 6).
Bytes sender_mac(const Envelope& envelope, Purpose purpose, ByteView mac_key) {
  Bytes input;
  append_length_prefixed(input, as_bytes(purpose_name(purpose)));
  for (const Bytes& item : context_of(purpose)) append_length_prefixed(input, item);
  for (const Bytes* field :
       {&envelope.salt, &envelope.iv_for_wrapped_key, &envelope.wrapped_aes_key,
        &envelope.iv_for_ciphertext, &envelope.ciphertext}) {
    append_length_prefixed(input, *field);
  }
  return hmac_sha256(mac_key, input);
}

// Opens as the server or the recipient does; a failure must be the one failure there is.
Result<SecretBytes> open_as_peer(const Envelope& envelope, Purpose purpose) {
  auto opened =
      open(opener_of(purpose), keys().sender.public_key(), envelope, purpose, context_of(purpose));
  if (!opened.ok()) {
    check(opened.error().code == Errc::kAuthenticationFailed &&
              opened.error().message == "authentication failed",
          "every failure to open is the same \"authentication failed\"");
    return opened;
  }
  for (const Purpose other : {Purpose::kRegister, Purpose::kConnect, Purpose::kMessage}) {
    if (other == purpose) continue;
    check(!open(opener_of(other), keys().sender.public_key(), envelope, other, context_of(other))
               .ok(),
          "an envelope opens for its own purpose only");
  }
  if (purpose == Purpose::kMessage) {
    // The recipient's path: open, then decode the plaintext, whatever it holds.
    auto message = open_text_message(keys().recipient, kRecipientPhone, keys().sender.public_key(),
                                     kSenderPhone, envelope);
    check(message.ok() == decode_text_message(opened.value().view()).ok(),
          "open_text_message is open and then decode_text_message");
  }
  return opened;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto purpose = static_cast<Purpose>(data[0] % 3);
  const int sender = data[0] / 3 % 4;
  Cursor input(ByteView(data, size).subspan(1));
  Envelope envelope;
  envelope.salt = bytes_of(input.take(kSaltSize));
  envelope.iv_for_wrapped_key = bytes_of(input.take(kIvSize));
  const ByteView wrapped = input.take(kWrappedKeySize);
  envelope.wrapped_aes_key = bytes_of(wrapped);
  envelope.iv_for_ciphertext = bytes_of(input.take(kIvSize));
  envelope.mac = bytes_of(input.take(kMacSize));
  envelope.ciphertext = bytes_of(input.rest());

  if (sender == 3) {
    // An honest sender: what it seals comes back exactly.
    const ByteView plaintext(envelope.ciphertext);
    const Bytes randomness = [&] {
      Bytes all = envelope.salt;
      for (const Bytes* field :
           {&envelope.iv_for_wrapped_key, &envelope.wrapped_aes_key, &envelope.iv_for_ciphertext}) {
        all.insert(all.end(), field->begin(), field->end());
      }
      return all;
    }();
    InputRandom rng(randomness);
    auto sealed = seal(keys().sender, opener_of(purpose).public_key(), plaintext, purpose,
                       context_of(purpose), rng);
    check(sealed.ok(), "seal succeeds");
    if (!has_valid_shape(sealed.value())) {
      // Only a plaintext too long for one envelope; opening must refuse it all the same.
      check(plaintext.size() >= kMaxCiphertextSize, "a sealed envelope has a valid shape");
      check(!open_as_peer(sealed.value(), purpose).ok(), "an envelope too long does not open");
      return 0;
    }
    auto opened = open_as_peer(sealed.value(), purpose);
    check(opened.ok(), "an honest sender's envelope opens");
    check(std::equal(opened.value().view().begin(), opened.value().view().end(), plaintext.begin(),
                     plaintext.end()),
          "an honest sender's plaintext comes back exactly");
    return 0;
  }

  if (sender != 0) {
    const SecretBytes okm = sender_okm(purpose, envelope.salt);
    const ByteView kek = okm.view().first(32);
    if (sender == 2 && !wrapped.empty() && envelope.iv_for_wrapped_key.size() == kIvSize) {
      // The sender wraps a key of its own choosing: 32 to 47 bytes wrap into 48.
      const std::size_t key_size = std::min<std::size_t>(32 + wrapped[0] % 16, wrapped.size() - 1);
      envelope.wrapped_aes_key =
          aes_cbc_encrypt(kek, envelope.iv_for_wrapped_key, wrapped.subspan(1, key_size)).value();
    }
    envelope.mac = sender_mac(envelope, purpose, okm.view().subspan(32));
  }
  (void)open_as_peer(envelope, purpose);
  return 0;
}
