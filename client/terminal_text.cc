#include "client/terminal_text.h"

#include <array>

namespace shido::client {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of a bidirectional control (U+202A-U+202E, U+2066-U+2069) starting at i, or 0.
std::size_t bidi_control_at(std::string_view text, std::size_t i) {
  if (i + 2 >= text.size() || static_cast<unsigned char>(text[i]) != 0xE2) return 0;
  const auto second = static_cast<unsigned char>(text[i + 1]);
  const auto third = static_cast<unsigned char>(text[i + 2]);
  if (second == 0x80 && third >= 0xAA && third <= 0xAE) return 3;
  if (second == 0x81 && third >= 0xA6 && third <= 0xA9) return 3;
  return 0;
}

// A JSON escape, backslash u and four hex digits, for a code point below U+10000.
std::string json_escape(unsigned code_point) {
  static constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  std::string out = "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex.at((code_point >> shift) & 0xF);
  return out;
}

}  // namespace

std::string for_terminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\n    ";
    } else if (c == '\t') {
      out += '\t';
    } else if (c < 0x20 || c == 0x7F) {
      out += kReplacement;
    } else if (c == 0xC2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      out += kReplacement;  // a C1 control, U+0080-U+009F
      ++i;
    } else if (const std::size_t length = bidi_control_at(text, i)) {
      out += kReplacement;
      i += length - 1;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string json_for_terminal(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  for (std::size_t i = 0; i < json.size(); ++i) {
    const auto c = static_cast<unsigned char>(json[i]);
    if (c < 0x20 || c == 0x7F) {
      out += json_escape(c);
    } else if (c == 0xC2 && i + 1 < json.size() &&
               static_cast<unsigned char>(json[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(json[i + 1]) <= 0x9F) {
      out += json_escape(static_cast<unsigned char>(json[i + 1]));
      ++i;
    } else if (bidi_control_at(json, i) != 0) {
      // U+2000 + the low six bits of the second byte and the third: E2 80 AE -> U+202E.
      const auto second = static_cast<unsigned char>(json[i + 1]);
      const auto third = static_cast<unsigned char>(json[i + 2]);
      out += json_escape(0x2000U | ((second & 0x3FU) << 6U) | (third & 0x3FU));
      i += 2;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace shido::client
