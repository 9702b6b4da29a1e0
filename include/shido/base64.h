// Standard base64 with padding (RFC 4648 section 4), strict in what it accepts.
#pragma once

#include <string>
#include <string_view>

#include "shido/bytes.h"

namespace shido {

std::string base64_encode(ByteView bytes);

// Decodes strict base64: the alphabet A-Z a-z 0-9 + /, length a multiple of 4, '=' only
// as one or two final padding characters, and the unused bits of the last character zero
// (so every byte string has exactly one accepted encoding). No white space.
// Fails with Errc::kBadBase64.
Result<Bytes> base64_decode(std::string_view text);

}  // namespace shido
