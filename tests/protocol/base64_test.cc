#include "shido/base64.h"

#include <gtest/gtest.h>

#include <string>

#include "support/test_support.h"

namespace shido {
namespace {

TEST(Base64Test, Rfc4648KnownAnswers) {
  const Json vectors = test::load_vectors("rfc/rfc4648_base64.json");
  std::size_t count = 0;
  for (const Json& tc : vectors.at("tests")) {
    SCOPED_TRACE("tcId " + std::to_string(tc.at("tcId").get<int>()));
    const Bytes input = test::hex(tc.at("inputHex").get<std::string>());
    const std::string expected = tc.at("base64").get<std::string>();
    EXPECT_EQ(to_string(input), tc.at("input").get<std::string>());
    EXPECT_EQ(base64_encode(input), expected);
    auto decoded = base64_decode(expected);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(decoded.value(), input);
    ++count;
  }
  test::report_cases("RFC 4648 base64", count);
  EXPECT_GT(count, 0u);
}

TEST(Base64Test, RoundTripsEveryByteAndLength) {
  Bytes data;
  for (int i = 0; i < 256; ++i) {
    data.push_back(static_cast<std::uint8_t>(i));
    const std::string text = base64_encode(data);
    EXPECT_EQ(text.size() % 4, 0u);
    auto decoded = base64_decode(text);
    ASSERT_TRUE(decoded.ok()) << text;
    EXPECT_EQ(decoded.value(), data);
  }
}

TEST(Base64Test, UsesPlusAndSlash) {
  EXPECT_EQ(base64_encode(Bytes{0xfb, 0xff}), "+/8=");
  auto decoded = base64_decode("+/8=");
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded.value(), (Bytes{0xfb, 0xff}));
}

void expect_rejected(std::string_view text) {
  auto decoded = base64_decode(text);
  ASSERT_FALSE(decoded.ok()) << "accepted \"" << text << "\"";
  EXPECT_EQ(decoded.error().code, Errc::kBadBase64) << text;
}

TEST(Base64Test, RejectsBadLength) {
  for (std::string_view text : {"Z", "Zg", "Zg=", "Zm9", "Zm9vY", "Zm9vYg=", "Zm9vYg==="}) {
    expect_rejected(text);
  }
}

TEST(Base64Test, RejectsCharactersOutsideTheAlphabet) {
  // URL-safe alphabet, white space, NUL and high bytes.
  for (std::string_view text :
       {"Zm9-", "Zm9_", "Zm 9", "Zm9v\n", " Zm9v", "Zm9v\r\nZm9v", "Zm.v", "Zm9*", "\xc3\xa9Zm9"}) {
    expect_rejected(text);
  }
  expect_rejected(std::string_view("Zm9\0", 4));
}

TEST(Base64Test, RejectsMisplacedPadding) {
  for (std::string_view text :
       {"=Zm9", "Z=m9", "Zm=v", "Zg==Zm9v", "Zm8=Zm9v", "Z===", "====", "Zg=A", "Zm9v===="}) {
    expect_rejected(text);
  }
}

TEST(Base64Test, RejectsNonZeroUnusedBits) {
  // "Zg==" is the only encoding of "f"; "Zh==" sets an unused bit.
  expect_rejected("Zh==");
  expect_rejected("Zm9=");  // "fo" is "Zm8="
  expect_rejected("Zm+=");
  auto canonical = base64_decode("Zm8=");
  ASSERT_TRUE(canonical.ok());
  EXPECT_EQ(to_string(canonical.value()), "fo");
}

TEST(Base64Test, EmptyIsEmpty) {
  EXPECT_EQ(base64_encode({}), "");
  auto decoded = base64_decode("");
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded.value().empty());
}

}  // namespace
}  // namespace shido
