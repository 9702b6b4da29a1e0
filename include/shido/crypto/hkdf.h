// HKDF with SHA-256 (RFC 5869), extract and expand in one call.
#pragma once

#include "shido/bytes.h"

namespace shido {

// Derives `length` bytes from ikm. An empty salt means 32 zero bytes, as RFC 5869 says.
// Fails with kInvalidArgument when length is 0 or above 255 * 32.
Result<SecretBytes> hkdf_sha256(ByteView ikm, ByteView salt, ByteView info, std::size_t length);

}  // namespace shido
