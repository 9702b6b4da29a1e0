// Formats the protocol checks (docs/PROTOCOL.md section 1). Each pattern must match the whole
// string.
#pragma once

#include <string_view>

namespace shido {

// E.164: ^\+[1-9][0-9]{7,14}$
bool is_valid_phone(std::string_view phone);

// ^[A-Za-z0-9_.+-]+@[A-Za-z0-9-]+\.[A-Za-z0-9.-]+$ and at most 254 bytes.
bool is_valid_email(std::string_view email);

// True when text is well-formed UTF-8 (no overlong forms, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view text);

}  // namespace shido
