#include "server/packed_envelope.h"

#include "shido/base64.h"

namespace shido::server {
namespace {

// Where each member starts: the order of pack_envelope.
constexpr std::size_t kSaltAt = 0;
constexpr std::size_t kIvForWrappedKeyAt = 16;
constexpr std::size_t kWrappedAesKeyAt = 32;
constexpr std::size_t kIvForCiphertextAt = 80;
constexpr std::size_t kMacAt = 96;
constexpr std::size_t kCiphertextAt = 128;
constexpr std::size_t kBlock = 16;

}  // namespace

Bytes pack_envelope(const Envelope& envelope) {
  Bytes packed;
  packed.reserve(kPackedEnvelopeFixedSize + envelope.ciphertext.size());
  for (const Bytes* member :
       {&envelope.salt, &envelope.iv_for_wrapped_key, &envelope.wrapped_aes_key,
        &envelope.iv_for_ciphertext, &envelope.mac, &envelope.ciphertext}) {
    packed.insert(packed.end(), member->begin(), member->end());
  }
  return packed;
}

bool is_packed_envelope(ByteView packed) {
  return packed.size() >= kPackedEnvelopeFixedSize + kBlock &&
         packed_ciphertext_size(packed) % kBlock == 0;
}

WireEnvelope wire_from_packed(ByteView packed) {
  const auto member = [&](std::size_t at, std::size_t size) {
    return base64_encode(packed.subspan(at, size));
  };
  WireEnvelope wire;
  wire.salt = member(kSaltAt, 16);
  wire.iv_for_wrapped_key = member(kIvForWrappedKeyAt, 16);
  wire.wrapped_aes_key = member(kWrappedAesKeyAt, 48);
  wire.iv_for_ciphertext = member(kIvForCiphertextAt, 16);
  wire.mac = member(kMacAt, 32);
  wire.ciphertext = base64_encode(packed.subspan(kCiphertextAt));
  return wire;
}

}  // namespace shido::server
