#include "shido/base64.h"

#include <array>
#include <cstdint>

namespace shido {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::int8_t kInvalid = -1;

// Maps every byte to its 6-bit value, or kInvalid for bytes outside the alphabet
// (including '=', which is handled apart).
constexpr std::array<std::int8_t, 256> make_decode_table() {
  std::array<std::int8_t, 256> table{};
  table.fill(kInvalid);
  for (int i = 0; i < 64; ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}

constexpr std::array<std::int8_t, 256> kDecodeTable = make_decode_table();

int sextet(char c) { return kDecodeTable[static_cast<unsigned char>(c)]; }

Error bad_base64(const std::string& reason) { return Error{Errc::kBadBase64, "base64: " + reason}; }

}  // namespace

std::string base64_encode(ByteView bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n =
        std::uint32_t{bytes[i]} << 16 | std::uint32_t{bytes[i + 1]} << 8 | bytes[i + 2];
    out.push_back(kAlphabet[n >> 18 & 63]);
    out.push_back(kAlphabet[n >> 12 & 63]);
    out.push_back(kAlphabet[n >> 6 & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t n = std::uint32_t{bytes[i]} << 16;
    out.push_back(kAlphabet[n >> 18 & 63]);
    out.push_back(kAlphabet[n >> 12 & 63]);
    out.append("==");
  } else if (rest == 2) {
    const std::uint32_t n = std::uint32_t{bytes[i]} << 16 | std::uint32_t{bytes[i + 1]} << 8;
    out.push_back(kAlphabet[n >> 18 & 63]);
    out.push_back(kAlphabet[n >> 12 & 63]);
    out.push_back(kAlphabet[n >> 6 & 63]);
    out.push_back('=');
  }
  return out;
}

Result<Bytes> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return bad_base64("length is not a multiple of 4");

  // Only the last quantum may hold padding: "xx==" or "xxx=".
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  const std::size_t data_chars = text.size() - padding;

  Bytes out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t bits = 0;
  int bit_count = 0;
  for (std::size_t i = 0; i < data_chars; ++i) {
    const int value = sextet(text[i]);
    if (value == kInvalid) {
      return bad_base64(text[i] == '=' ? "'=' before the end" : "character outside the alphabet");
    }
    bits = (bits << 6 | static_cast<std::uint32_t>(value)) & 0xffffff;
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out.push_back(static_cast<std::uint8_t>(bits >> bit_count & 0xff));
    }
  }
  // Left over: 4 bits after "xx==", 2 bits after "xxx=". They must be zero so that every
  // byte string has exactly one encoding.
  if ((bits & ((1u << bit_count) - 1)) != 0) return bad_base64("non-zero unused bits");
  return out;
}

}  // namespace shido
