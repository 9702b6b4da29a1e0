#include "shido/base64.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "support/test_support.h"
#include "support/vectors.h"

namespace shido {
namespace {

const test::VectorSet& rfc4648_vectors() {
  static const test::VectorSet vectors = test::load_numbered("rfc/rfc4648_base64.json", "rfc4648");
  return vectors;
}

// One test per line of RFC 4648 section 10, e.g. Rfc4648/Base64RfcTest.Case/rfc4648_case7.
using Base64RfcTest = ::testing::TestWithParam<test::VectorCase>;

TEST_P(Base64RfcTest, Case) {
  const Json& tc = *GetParam().test;
  SCOPED_TRACE("tcId " + std::to_string(GetParam().tc_id));
  const Bytes input = test::hex(tc.at("inputHex").get<std::string>());
  const std::string expected = tc.at("base64").get<std::string>();
  EXPECT_EQ(to_string(input), tc.at("input").get<std::string>());
  EXPECT_EQ(base64_encode(input), expected);
  auto decoded = base64_decode(expected);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded.value(), input);
}

INSTANTIATE_TEST_SUITE_P(Rfc4648, Base64RfcTest, ::testing::ValuesIn(rfc4648_vectors().cases),
                         test::case_name);

TEST(Base64Test, Rfc4648CaseCount) {
  const test::VectorSet& vectors = rfc4648_vectors();
  ASSERT_TRUE(test::loaded(vectors));
  const std::size_t count = vectors.cases.size();
  test::report_cases("RFC 4648 base64", count);
  EXPECT_GT(count, 0u);
  EXPECT_EQ(test::registered_tests("Rfc4648/Base64RfcTest"), count);
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
