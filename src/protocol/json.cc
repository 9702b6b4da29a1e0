#include "shido/protocol/json.h"

#include "shido/protocol/validation.h"

namespace shido {

namespace {

// Calls visit(c) for every byte of text outside JSON strings, in order, until it returns
// false. Inside a string only an unescaped quote matters; "\\" escapes the next byte.
template <class Visit>
void for_each_outside_strings(std::string_view text, Visit visit) {
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (!visit(c)) return;
  }
}

}  // namespace

int json_depth(std::string_view text, int max_depth) {
  int depth = 0;
  int deepest = 0;
  for_each_outside_strings(text, [&](char c) {
    if (c == '[' || c == '{') {
      ++depth;
      if (depth > max_depth) {
        deepest = max_depth + 1;
        return false;
      }
      if (depth > deepest) deepest = depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;  // unbalanced closers are the parser's concern; never go below zero here
    }
    return true;
  });
  return deepest;
}

std::size_t json_element_count(std::string_view text, std::size_t max_elements) {
  // Every value after the first is announced by a ',' or an opening bracket, so this
  // counts at least every value and member of the document.
  std::size_t count = 1;
  for_each_outside_strings(text, [&](char c) {
    if (c == ',' || c == '[' || c == '{') ++count;
    return count <= max_elements;
  });
  return count;
}

Result<Json> parse_frame_json(std::string_view text) {
  if (!is_valid_utf8(text)) return Error{Errc::kNotUtf8, "the frame is not valid UTF-8"};
  // The depth is checked before parsing so that hostile nesting never reaches the parser.
  if (json_depth(text, kMaxJsonDepth) > kMaxJsonDepth) {
    return Error{Errc::kTooDeep,
                 "JSON nesting is deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
  }
  // A megabyte of "{}," would make a parse tree of tens of megabytes; no request needs more
  // than a few hundred values.
  if (json_element_count(text, kMaxJsonElements) > kMaxJsonElements) {
    return Error{Errc::kTooMany,
                 "the frame holds more than " + std::to_string(kMaxJsonElements) + " JSON values"};
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
