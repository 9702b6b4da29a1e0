// Parsing frames into JSON without trusting them.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "shido/result.h"

namespace shido {

using Json = nlohmann::json;

inline constexpr int kMaxJsonDepth = 32;

// Nesting depth of JSON text, counting the top-level object or array as 1, found by one
// pass over the bytes (no recursion, so a megabyte of '[' is cheap). Brackets inside
// strings do not count. Stops counting once max_depth is exceeded and returns max_depth+1.
int json_depth(std::string_view text, int max_depth = kMaxJsonDepth);

inline constexpr std::size_t kMaxJsonElements = 10000;

// An upper bound of the number of values (and members) in JSON text, found by one pass
// over the bytes: brackets and commas outside strings. Stops counting past max_elements.
std::size_t json_element_count(std::string_view text, std::size_t max_elements = kMaxJsonElements);

// Parses one frame's payload. Checks in this order, each with its own error: kNotUtf8,
// kTooDeep (deeper than kMaxJsonDepth), kTooMany (more than kMaxJsonElements values), kBadJson,
// kNotObject, kBadCode (no member "code" that is a JSON integer: no fraction, no exponent). Never
// throws.
Result<Json> parse_frame_json(std::string_view text);

// Serialises for the wire: compact, non-ASCII as raw UTF-8. Invalid UTF-8 in strings is
// replaced by U+FFFD rather than throwing.
std::string dump_json(const Json& json);

}  // namespace shido
