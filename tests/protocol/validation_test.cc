#include "shido/protocol/validation.h"

#include <gtest/gtest.h>

#include <string>

namespace shido {
namespace {

TEST(PhoneTest, AcceptsE164) {
  for (std::string_view phone :
       {"+972501234567", "+12345678", "+123456789012345", "+19995550100", "+97250000000"}) {
    EXPECT_TRUE(is_valid_phone(phone)) << phone;
  }
}

TEST(PhoneTest, LengthBounds) {
  EXPECT_FALSE(is_valid_phone("+1234567"));           // 7 digits in all
  EXPECT_TRUE(is_valid_phone("+12345678"));           // 8 digits: 1 + 7
  EXPECT_TRUE(is_valid_phone("+123456789012345"));    // 15 digits: 1 + 14
  EXPECT_FALSE(is_valid_phone("+1234567890123456"));  // 16 digits
}

TEST(PhoneTest, RejectsEverythingElse) {
  // U+FF0B, the full-width plus sign (its own string: hex escapes would swallow the digits).
  const std::string full_width_plus = std::string("\xef\xbc\x8b") + "972501234567";
  for (std::string_view phone :
       {std::string_view(""), std::string_view("+"), std::string_view("972501234567"),
        std::string_view("+0972501234567"), std::string_view("++972501234567"),
        std::string_view("+97250123456a"), std::string_view("+972 501234567"),
        std::string_view("+972-50-1234567"), std::string_view(" +972501234567"),
        std::string_view("+972501234567 "), std::string_view("+972501234567\n"),
        std::string_view(full_width_plus), std::string_view("+\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4")}) {
    EXPECT_FALSE(is_valid_phone(phone)) << phone;
  }
  EXPECT_FALSE(
      is_valid_phone(std::string_view("+97250123\0"
                                      "4567",
                                      14)));
}

TEST(EmailTest, AcceptsThePattern) {
  for (std::string_view email : {"a@b.c", "first.last+tag@example.com", "x_y-z@mail-host.co.il",
                                 "A1@B2.C3", "a@b.c.", "a@b.-", "..@b.c", "a@b..c"}) {
    EXPECT_TRUE(is_valid_email(email)) << email;
  }
}

TEST(EmailTest, RejectsWhatThePatternRefuses) {
  for (std::string_view email : {"", "@b.c", "a@", "a@b", "a@.c", "a@b.", "a@@b.c", "a@b@c.d",
                                 "a b@c.d", "a@b c.d", "a@b_c.d", "a@b.c_d", "a@b.c ", "\"a\"@b.c",
                                 "a@[1.2.3.4]", "\xc3\xa9@b.c", "a@b.c\n", "a.b.c", "a@b.c/d"}) {
    EXPECT_FALSE(is_valid_email(email)) << email;
  }
}

TEST(EmailTest, LengthLimitIs254Bytes) {
  const std::string suffix = "@example.com";
  const std::string at_limit = std::string(254 - suffix.size(), 'a') + suffix;
  ASSERT_EQ(at_limit.size(), 254u);
  EXPECT_TRUE(is_valid_email(at_limit));
  EXPECT_FALSE(is_valid_email("a" + at_limit));
}

TEST(Utf8Test, AcceptsWellFormed) {
  for (std::string_view text :
       {"", "plain ascii", "\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf",
        "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
        "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", "\xf0\x9f\x98\x80"}) {
    EXPECT_TRUE(is_valid_utf8(text)) << testing::PrintToString(text);
  }
  EXPECT_TRUE(is_valid_utf8(std::string_view("a\0b", 3)));  // NUL is a valid code point
}

TEST(Utf8Test, RejectsMalformed) {
  for (std::string_view text : {
           "\x80",              // lone continuation
           "\xbf",              //
           "\xc0\x80",          // overlong NUL
           "\xc1\xbf",          // overlong
           "\xe0\x80\x80",      // overlong 3-byte
           "\xe0\x9f\xbf",      // overlong 3-byte
           "\xf0\x80\x80\x80",  // overlong 4-byte
           "\xf0\x8f\xbf\xbf",  // overlong 4-byte
           "\xed\xa0\x80",      // surrogate D800
           "\xed\xbf\xbf",      // surrogate DFFF
           "\xf4\x90\x80\x80",  // above U+10FFFF
           "\xf5\x80\x80\x80",  // invalid lead
           "\xff",              //
           "\xfe",              //
           "\xc2",              // truncated
           "\xe2\x82",          // truncated
           "\xf0\x9f\x98",      // truncated
           "\xc2\x41",          // bad continuation
           "\xe2\x28\xa1",      // bad continuation
           "\xf0\x9f\x28\x80",  // bad continuation
           "ok\x80",            // bad byte at the end
       }) {
    EXPECT_FALSE(is_valid_utf8(text)) << testing::PrintToString(text);
  }
}

}  // namespace
}  // namespace shido
