// CRC-32C against the check values of RFC 3720 appendix B.4 (iSCSI) and the usual
// "123456789" check value, and the chaining that the record codec relies on.
#include "server/crc32c.h"

#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

namespace shido::server {
namespace {

Bytes filled(std::uint8_t value) { return Bytes(32, value); }

TEST(Crc32cTest, Rfc3720CheckValues) {
  EXPECT_EQ(crc32c(filled(0x00)), 0x8a9136aaU);  // 32 bytes of zeroes
  EXPECT_EQ(crc32c(filled(0xff)), 0x62a8ab43U);  // 32 bytes of ones
  Bytes up(32);
  std::iota(up.begin(), up.end(), std::uint8_t{0});
  EXPECT_EQ(crc32c(up), 0x46dd794eU);  // 00 01 .. 1f
  Bytes down(up.rbegin(), up.rend());
  EXPECT_EQ(crc32c(down), 0x113fdb5cU);  // 1f 1e .. 00
}

TEST(Crc32cTest, CheckValueAndEmpty) {
  EXPECT_EQ(crc32c(as_bytes("123456789")), 0xe3069283U);
  EXPECT_EQ(crc32c(ByteView{}), 0U);
}

TEST(Crc32cTest, ChainsAcrossPieces) {
  const Bytes whole = to_bytes("a journal record, checked in two pieces");
  for (std::size_t cut = 0; cut <= whole.size(); ++cut) {
    const ByteView view(whole);
    EXPECT_EQ(crc32c(view.subspan(cut), crc32c(view.first(cut))), crc32c(view)) << cut;
  }
}

TEST(Crc32cTest, EveryFlippedBitChangesIt) {
  Bytes data = to_bytes("sixteen bytes!!!");
  const std::uint32_t original = crc32c(data);
  for (std::size_t byte = 0; byte < data.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      data[byte] ^= static_cast<std::uint8_t>(1 << bit);
      EXPECT_NE(crc32c(data), original) << byte << ":" << bit;
      data[byte] ^= static_cast<std::uint8_t>(1 << bit);
    }
  }
}

TEST(Crc32cTest, TheFastAndThePortableWayAgreeOnEveryLengthAndAlignment) {
  Bytes data(300);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 131 + 7);
  for (std::size_t start = 0; start < 9; ++start) {
    for (std::size_t size = 0; start + size <= data.size(); size += 7) {
      const ByteView part = ByteView(data).subspan(start, size);
      ASSERT_EQ(crc32c(part, 0x1234), crc32c_portable(part, 0x1234)) << start << " " << size;
    }
  }
}

}  // namespace
}  // namespace shido::server
