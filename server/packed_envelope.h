// A message's envelope as the store keeps it, in memory and on disk: its decoded members in
// one block, the fixed-size ones first (salt, both IVs, the wrapped key, the MAC: 128
// bytes), then the ciphertext. One allocation per message and no base64 text, so that the
// memory a mailbox takes is about the ciphertext that --max-stored-bytes counts.
#pragma once

#include <cstddef>

#include "shido/bytes.h"
#include "shido/crypto/envelope.h"
#include "shido/protocol/messages.h"

namespace shido::server {

inline constexpr std::size_t kPackedEnvelopeFixedSize = 16 + 16 + 48 + 16 + 32;

// Packs an envelope whose shape has been checked (from_wire does).
Bytes pack_envelope(const Envelope& envelope);

// Whether `packed` can be a packed envelope: the fixed members and a ciphertext of whole
// blocks, at least one. (What a journal record holds is checked so on recovery.)
bool is_packed_envelope(ByteView packed);

// The envelope's members as base64 text again, for a 119 reply. `packed` must pass
// is_packed_envelope.
WireEnvelope wire_from_packed(ByteView packed);

// The ciphertext's size.
inline std::size_t packed_ciphertext_size(ByteView packed) {
  return packed.size() - kPackedEnvelopeFixedSize;
}

}  // namespace shido::server
