// The CSPRNG wrappers and the 6-digit code.
#include "shido/crypto/random.h"

#include <gtest/gtest.h>

#include <array>
#include <stdexcept>
#include <string>

#include "support/test_support.h"

namespace shido {
namespace {

using test::PinnedRandom;

std::string code_of(const SecretBytes& code) { return std::string(code.as_string_view()); }

bool is_six_digits(const SecretBytes& code) {
  if (code.size() != 6) return false;
  for (std::uint8_t c : code.view()) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The largest multiple of 10^6 below 2^32: 4294 * 10^6. Draws at or above it are thrown away.
constexpr std::uint32_t kThreshold = 4294000000u;

TEST(RandomTest, RandomBytesHasTheAskedSize) {
  for (std::size_t n : {0, 1, 15, 16, 32, 1000, 65536}) {
    EXPECT_EQ(random_bytes(n).size(), n);
  }
}

TEST(RandomTest, TwoDrawsDiffer) {
  const Bytes a = random_bytes(32);
  const Bytes b = random_bytes(32);
  EXPECT_NE(a, b);  // equal with probability 2^-256
  EXPECT_NE(a, Bytes(32, 0));
}

TEST(RandomTest, RandomBytesDrawsFromTheGivenSource) {
  PinnedRandom rng(Bytes{1, 2, 3, 4, 5});
  EXPECT_EQ(random_bytes(3, rng), (Bytes{1, 2, 3}));
  EXPECT_EQ(rng.remaining(), 2u);
  EXPECT_EQ(random_bytes(2, rng), (Bytes{4, 5}));
  EXPECT_THROW(random_bytes(1, rng), std::runtime_error);
}

TEST(RandomTest, CodeIsSixAsciiDigits) {
  for (int i = 0; i < 100; ++i) {
    const SecretBytes code = random_code();
    EXPECT_TRUE(is_six_digits(code)) << code_of(code);
  }
}

// random.cc reads each 4-byte draw as a BIG-endian uint32 (draw[0] is the most significant
// byte); these expectations pin that down.
TEST(RandomTest, PinnedDrawGivesTheExactCode) {
  struct Case {
    std::array<std::uint8_t, 4> draw;
    const char* code;
  };
  const Case cases[] = {
      {{0x00, 0x00, 0x00, 0x00}, "000000"},
      {{0x00, 0x00, 0x00, 0x07}, "000007"},  // leading zeros are kept
      {{0x00, 0x0f, 0x42, 0x3f}, "999999"},  // 999999
      {{0x00, 0x0f, 0x42, 0x40}, "000000"},  // 10^6
      {{0x07, 0x5b, 0xcd, 0x15}, "456789"},  // 123456789 (little-endian: "779719")
      {{0xff, 0xf1, 0x3d, 0x7f}, "999999"},  // threshold - 1 = 4293999999: kept
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string("expect ") + c.code);
    PinnedRandom rng(Bytes(c.draw.begin(), c.draw.end()));
    EXPECT_EQ(code_of(random_code(rng)), c.code);
    EXPECT_EQ(rng.remaining(), 0u);  // exactly one 4-byte draw
  }
}

TEST(RandomTest, DrawsAtOrAboveTheThresholdAreSkipped) {
  static_assert(kThreshold == 4294u * 1000000u);
  // threshold (0xfff13d80) and 2^32 - 1 are thrown away; the third draw, 42, is used.
  PinnedRandom rng(Bytes{0xff, 0xf1, 0x3d, 0x80,    // 4294000000 = threshold: skipped
                         0xff, 0xff, 0xff, 0xff,    // 4294967295: skipped
                         0x00, 0x00, 0x00, 0x2a});  // 42
  EXPECT_EQ(code_of(random_code(rng)), "000042");
  EXPECT_EQ(rng.remaining(), 0u);

  // Reduced instead of redrawn, the threshold would have given "000000"; make sure the
  // draw after it is what counts.
  PinnedRandom next(Bytes{0xff, 0xf1, 0x3d, 0x80, 0x00, 0x01, 0xe2, 0x40 /* 123456 */});
  EXPECT_EQ(code_of(random_code(next)), "123456");
  EXPECT_EQ(next.remaining(), 0u);
}

TEST(RandomTest, OnlyRejectedDrawsExhaustTheSource) {
  // No fallback to a biased reduction: with nothing acceptable left, the source runs dry.
  PinnedRandom rng(Bytes{0xff, 0xff, 0xff, 0xff, 0xff, 0xf1, 0x3d, 0x80});
  EXPECT_THROW((void)random_code(rng), std::runtime_error);
}

TEST(RandomTest, EveryFirstDigitAppearsIn20000Codes) {
  // Not a statistical test: a sanity check that no digit is stuck or missing. With uniform
  // codes, a given first digit is missing from 20000 codes with probability 0.9^20000.
  std::array<std::size_t, 10> first{};
  std::array<std::size_t, 10> last{};
  for (int i = 0; i < 20000; ++i) {
    const SecretBytes code = random_code();
    ASSERT_TRUE(is_six_digits(code)) << code_of(code);
    ++first[code.view()[0] - '0'];
    ++last[code.view()[5] - '0'];
  }
  for (int d = 0; d < 10; ++d) {
    EXPECT_GT(first[d], 0u) << "first digit " << d << " never appeared";
    EXPECT_GT(last[d], 0u) << "last digit " << d << " never appeared";
  }
}

}  // namespace
}  // namespace shido
