// Elliptic-curve Diffie-Hellman on P-256.
#pragma once

#include "shido/bytes.h"
#include "shido/crypto/keys.h"

namespace shido {

// The shared secret: the 32-byte big-endian x-coordinate of own * peer.
Result<SecretBytes> ecdh(const KeyPair& own, const PublicKey& peer);

}  // namespace shido
