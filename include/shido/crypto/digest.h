// SHA-256 and HMAC-SHA256.
#pragma once

#include "shido/bytes.h"

namespace shido {

inline constexpr std::size_t kSha256Size = 32;

// SHA-256 of data (32 bytes).
Bytes sha256(ByteView data);

// HMAC-SHA256 of data under key (32 bytes). Any key length is allowed (RFC 2104).
Bytes hmac_sha256(ByteView key, ByteView data);

}  // namespace shido
