// SHA-256 and HMAC-SHA256 against FIPS 180-2 examples, RFC 4231 and Wycheproof.
#include "shido/crypto/digest.h"

#include <gtest/gtest.h>

#include <string>

#include "support/test_support.h"

namespace shido {
namespace {

std::string str(const Json& value) { return value.get<std::string>(); }

TEST(Sha256Test, KnownAnswers) {
  // FIPS 180-2 appendix B.1 and B.2, and the empty string.
  EXPECT_EQ(to_hex(sha256(as_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(sha256(as_bytes(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha256(as_bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256(as_bytes("abc")).size(), kSha256Size);
}

TEST(Sha256Test, OneMillionA) {
  // FIPS 180-2 appendix B.3.
  const std::string text(1000000, 'a');
  EXPECT_EQ(to_hex(sha256(as_bytes(text))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(HmacSha256Test, Rfc4231KnownAnswers) {
  const Json vectors = test::load_vectors("rfc/rfc4231_hmac_sha256.json");
  std::size_t count = 0, truncated = 0;
  for (const Json& tc : vectors.at("tests")) {
    SCOPED_TRACE("tcId " + std::to_string(tc.at("tcId").get<int>()));
    const Bytes key = test::hex(str(tc.at("key")));
    const Bytes data = test::hex(str(tc.at("data")));
    const Bytes expected = test::hex(str(tc.at("mac")));
    const Bytes mac = hmac_sha256(key, data);
    ASSERT_EQ(mac.size(), kSha256Size);
    if (tc.at("truncatedToBits").is_null()) {
      EXPECT_EQ(to_hex(mac), to_hex(expected));
    } else {
      // Test case 5: the RFC prints only the leftmost 128 bits.
      ++truncated;
      const auto bytes = tc.at("truncatedToBits").get<std::size_t>() / 8;
      ASSERT_EQ(expected.size(), bytes);
      EXPECT_EQ(to_hex(ByteView(mac).first(bytes)), to_hex(expected));
      EXPECT_EQ(to_hex(mac), str(tc.at("fullMacNotInRfc")));
    }
    ++count;
  }
  test::report_cases("RFC 4231 HMAC-SHA256", count, std::to_string(truncated) + " truncated");
  EXPECT_EQ(count, 7u);
  EXPECT_EQ(truncated, 1u);
}

TEST(HmacSha256Test, WycheproofVectors) {
  const Json vectors = test::load_vectors("wycheproof/hmac_sha256_test.json");
  std::size_t count = 0, valid = 0, invalid = 0, acceptable = 0;
  for (const Json& group : vectors.at("testGroups")) {
    const auto tag_bytes = group.at("tagSize").get<std::size_t>() / 8;
    ASSERT_LE(tag_bytes, kSha256Size);
    for (const Json& tc : group.at("tests")) {
      SCOPED_TRACE("tcId " + std::to_string(tc.at("tcId").get<int>()));
      const Bytes key = test::hex(str(tc.at("key")));
      const Bytes msg = test::hex(str(tc.at("msg")));
      const Bytes tag = test::hex(str(tc.at("tag")));
      const Bytes mac = hmac_sha256(key, msg);
      ASSERT_EQ(mac.size(), kSha256Size);
      // The tag this group uses: the leftmost tagSize bits of the MAC.
      const ByteView computed = ByteView(mac).first(tag_bytes);
      const std::string result = str(tc.at("result"));
      if (result == "valid") {
        ++valid;
        EXPECT_EQ(to_hex(computed), to_hex(tag));
        EXPECT_TRUE(constant_time_equal(computed, tag));
      } else if (result == "invalid") {
        ++invalid;
        EXPECT_FALSE(constant_time_equal(computed, tag)) << "a modified tag verified";
        EXPECT_NE(to_hex(computed), to_hex(tag));
      } else {
        ++acceptable;
        ADD_FAILURE() << "unexpected result \"" << result << "\"";
      }
      ++count;
    }
  }
  test::report_cases("Wycheproof HMAC-SHA256", count,
                     std::to_string(valid) + " valid, " + std::to_string(invalid) + " invalid, " +
                         std::to_string(acceptable) + " acceptable");
  EXPECT_GT(count, 0u);
  EXPECT_EQ(count, vectors.at("numberOfTests").get<std::size_t>());
}

TEST(HmacSha256Test, KeyLongerThanBlockIsHashedFirst) {
  // RFC 2104: a key longer than the 64-byte block is replaced by its hash.
  const Bytes long_key(100, 0xaa);
  const Bytes data = to_bytes("data");
  EXPECT_EQ(hmac_sha256(long_key, data), hmac_sha256(sha256(long_key), data));
  EXPECT_EQ(hmac_sha256({}, {}).size(), kSha256Size);
}

}  // namespace
}  // namespace shido
