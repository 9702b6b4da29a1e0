// Hand-written matchers for the protocol's patterns: no std::regex, whose backtracking
// implementation can recurse deeply on long hostile input.
#include "shido/protocol/validation.h"

#include <cstddef>
#include <cstdint>

namespace shido {

namespace {

constexpr std::size_t kMaxEmailBytes = 254;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_alnum(char c) { return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// [A-Za-z0-9_.+-]
bool is_local_char(char c) { return is_alnum(c) || c == '_' || c == '.' || c == '+' || c == '-'; }

// [A-Za-z0-9-]
bool is_label_char(char c) { return is_alnum(c) || c == '-'; }

// [A-Za-z0-9.-]
bool is_domain_tail_char(char c) { return is_alnum(c) || c == '.' || c == '-'; }

template <class Pred>
bool all_of(std::string_view text, Pred pred) {
  for (const char c : text) {
    if (!pred(c)) return false;
  }
  return true;
}

// Length of the UTF-8 sequence a lead byte starts, and the range its second byte must be
// in (which rules out overlong forms, surrogates and code points above U+10FFFF).
struct Utf8Lead {
  int length;  // 0: not a valid lead byte
  std::uint8_t second_min;
  std::uint8_t second_max;
};

Utf8Lead utf8_lead(std::uint8_t b) {
  if (b <= 0x7f) return {1, 0, 0};
  if (b >= 0xc2 && b <= 0xdf) return {2, 0x80, 0xbf};
  if (b == 0xe0) return {3, 0xa0, 0xbf};  // no overlong 3-byte forms
  if (b == 0xed) return {3, 0x80, 0x9f};  // no surrogates D800-DFFF
  if (b >= 0xe1 && b <= 0xef) return {3, 0x80, 0xbf};
  if (b == 0xf0) return {4, 0x90, 0xbf};  // no overlong 4-byte forms
  if (b >= 0xf1 && b <= 0xf3) return {4, 0x80, 0xbf};
  if (b == 0xf4) return {4, 0x80, 0x8f};  // nothing above U+10FFFF
  return {0, 0, 0};                       // 80-C1, F5-FF
}

bool is_continuation(std::uint8_t b) { return (b & 0xc0) == 0x80; }

}  // namespace

bool is_valid_phone(std::string_view phone) {
  // '+', a digit 1-9, then 7 to 14 more digits: 9 to 16 bytes in all.
  if (phone.size() < 9 || phone.size() > 16) return false;
  if (phone[0] != '+' || phone[1] < '1' || phone[1] > '9') return false;
  return all_of(phone.substr(2), is_digit);
}

bool is_valid_email(std::string_view email) {
  if (email.size() > kMaxEmailBytes) return false;
  const std::size_t at = email.find('@');
  if (at == std::string_view::npos || at == 0) return false;
  if (!all_of(email.substr(0, at), is_local_char)) return false;

  // The domain is [A-Za-z0-9-]+ up to its first '.', then [A-Za-z0-9.-]+. A second '@'
  // fails the character checks.
  const std::string_view domain = email.substr(at + 1);
  const std::size_t dot = domain.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == domain.size()) return false;
  return all_of(domain.substr(0, dot), is_label_char) &&
         all_of(domain.substr(dot + 1), is_domain_tail_char);
}

bool is_valid_utf8(std::string_view text) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(text.data());
  const std::size_t size = text.size();
  std::size_t i = 0;
  while (i < size) {
    const Utf8Lead lead = utf8_lead(bytes[i]);
    if (lead.length == 0) return false;
    if (lead.length == 1) {
      ++i;
      continue;
    }
    if (size - i < static_cast<std::size_t>(lead.length)) return false;
    if (bytes[i + 1] < lead.second_min || bytes[i + 1] > lead.second_max) return false;
    for (int k = 2; k < lead.length; ++k) {
      if (!is_continuation(bytes[i + static_cast<std::size_t>(k)])) return false;
    }
    i += static_cast<std::size_t>(lead.length);
  }
  return true;
}

}  // namespace shido
