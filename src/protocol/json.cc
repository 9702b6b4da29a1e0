#include "shido/protocol/json.h"

#include "shido/protocol/validation.h"

namespace shido {

int json_depth(std::string_view text, int max_depth) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      // Inside a string only an unescaped quote matters; "\\" escapes the next byte.
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        ++depth;
        if (depth > max_depth) return max_depth + 1;
        if (depth > deepest) deepest = depth;
        break;
      case ']':
      case '}':
        // Unbalanced closers are the parser's concern; only never go below zero here.
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return deepest;
}

Result<Json> parse_frame_json(std::string_view text) {
  if (!is_valid_utf8(text)) return Error{Errc::kNotUtf8, "the frame is not valid UTF-8"};
  // The depth is checked before parsing so that hostile nesting never reaches the parser.
  if (json_depth(text, kMaxJsonDepth) > kMaxJsonDepth) {
    return Error{Errc::kTooDeep,
                 "JSON nesting is deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
  }
  Json json = Json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Error{Errc::kBadJson, "the frame is not valid JSON"};
  if (!json.is_object()) return Error{Errc::kNotObject, "the frame is not a JSON object"};
  const auto code = json.find("code");
  if (code == json.end()) return Error{Errc::kBadCode, "missing member 'code'"};
  if (!code->is_number_integer()) {
    return Error{Errc::kBadCode, "member 'code' must be an integer"};
  }
  return json;
}

std::string dump_json(const Json& json) {
  return json.dump(/*indent=*/-1, /*indent_char=*/' ', /*ensure_ascii=*/false,
                   Json::error_handler_t::replace);
}

}  // namespace shido
