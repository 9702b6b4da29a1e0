#include "shido/bytes.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace shido {
namespace {

TEST(BytesTest, StringConversionsRoundTrip) {
  const std::string text("a\0b\xff", 4);
  const ByteView view = as_bytes(text);
  ASSERT_EQ(view.size(), 4u);
  EXPECT_EQ(view.data(), reinterpret_cast<const std::uint8_t*>(text.data()));  // no copy
  EXPECT_EQ(view[3], 0xff);
  const Bytes bytes = to_bytes(text);
  EXPECT_EQ(bytes, (Bytes{'a', 0, 'b', 0xff}));
  EXPECT_EQ(to_string(bytes), text);
}

TEST(BytesTest, HexIsLowerCaseAndRoundTrips) {
  const Bytes bytes{0x00, 0x01, 0xab, 0xff, 0x7f};
  EXPECT_EQ(to_hex(bytes), "0001abff7f");
  auto back = from_hex("0001ABff7F");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value(), bytes);
  EXPECT_EQ(to_hex({}), "");
  auto empty = from_hex("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty.value().empty());
}

TEST(BytesTest, FromHexIsStrict) {
  for (std::string_view bad : {"0", "abc", "0g", "g0", " 00", "00 ", "0x00", "-1"}) {
    auto result = from_hex(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.error().code, Errc::kInvalidArgument);
  }
}

TEST(BytesTest, WipeZeroes) {
  Bytes secret{1, 2, 3, 4};
  wipe(secret.data(), secret.size());
  EXPECT_EQ(secret, (Bytes{0, 0, 0, 0}));
  wipe(nullptr, 0);  // allowed, does nothing
}

TEST(BytesTest, ConstantTimeEqual) {
  const Bytes a{1, 2, 3};
  EXPECT_TRUE(constant_time_equal(a, Bytes{1, 2, 3}));
  EXPECT_FALSE(constant_time_equal(a, Bytes{1, 2, 4}));
  EXPECT_FALSE(constant_time_equal(a, Bytes{1, 2}));
  EXPECT_FALSE(constant_time_equal(a, Bytes{}));
  EXPECT_TRUE(constant_time_equal(Bytes{}, Bytes{}));
}

TEST(SecretBytesTest, HoldsAndClones) {
  SecretBytes secret(to_bytes("123456"));
  EXPECT_EQ(secret.size(), 6u);
  EXPECT_EQ(secret.as_string_view(), "123456");
  SecretBytes copy = secret.clone();
  EXPECT_EQ(copy.as_string_view(), "123456");
  EXPECT_NE(copy.data(), secret.data());
  EXPECT_EQ(SecretBytes(3).size(), 3u);
}

TEST(SecretBytesTest, ClearEmpties) {
  SecretBytes secret(to_bytes("abc"));
  secret.clear();
  EXPECT_TRUE(secret.empty());
  EXPECT_EQ(secret.size(), 0u);
}

TEST(SecretBytesTest, MoveLeavesSourceEmpty) {
  SecretBytes a(to_bytes("key"));
  SecretBytes b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the contract says so
  EXPECT_EQ(b.as_string_view(), "key");

  SecretBytes c(to_bytes("old"));
  c = std::move(b);
  EXPECT_EQ(c.as_string_view(), "key");
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(SecretBytesTest, SelfMoveAssignKeepsContent) {
  SecretBytes a(to_bytes("same"));
  SecretBytes& alias = a;
  a = std::move(alias);
  EXPECT_EQ(a.as_string_view(), "same");
}

}  // namespace
}  // namespace shido
