// SHA-256 and HMAC-SHA256 against FIPS 180-2 examples, RFC 4231 and Wycheproof.
#include "shido/crypto/digest.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "support/test_support.h"
#include "support/vectors.h"

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

const test::VectorSet& rfc4231_vectors() {
  static const test::VectorSet vectors =
      test::load_numbered("rfc/rfc4231_hmac_sha256.json", "rfc4231");
  return vectors;
}

// One test per RFC 4231 test case, e.g. Rfc4231/HmacSha256RfcTest.Case/rfc4231_case5.
using HmacSha256RfcTest = ::testing::TestWithParam<test::VectorCase>;

TEST_P(HmacSha256RfcTest, Case) {
  const Json& tc = *GetParam().test;
  SCOPED_TRACE("tcId " + std::to_string(GetParam().tc_id));
  const Bytes key = test::hex(str(tc.at("key")));
  const Bytes data = test::hex(str(tc.at("data")));
  const Bytes expected = test::hex(str(tc.at("mac")));
  const Bytes mac = hmac_sha256(key, data);
  ASSERT_EQ(mac.size(), kSha256Size);
  if (tc.at("truncatedToBits").is_null()) {
    EXPECT_EQ(to_hex(mac), to_hex(expected));
  } else {
    // Test case 5: the RFC prints only the leftmost 128 bits.
    const auto bytes = tc.at("truncatedToBits").get<std::size_t>() / 8;
    ASSERT_EQ(expected.size(), bytes);
    EXPECT_EQ(to_hex(ByteView(mac).first(bytes)), to_hex(expected));
    EXPECT_EQ(to_hex(mac), str(tc.at("fullMacNotInRfc")));
  }
}

INSTANTIATE_TEST_SUITE_P(Rfc4231, HmacSha256RfcTest, ::testing::ValuesIn(rfc4231_vectors().cases),
                         test::case_name);

TEST(HmacSha256Test, Rfc4231CaseCount) {
  const test::VectorSet& vectors = rfc4231_vectors();
  ASSERT_TRUE(test::loaded(vectors));
  const std::size_t count = vectors.cases.size();
  std::size_t truncated = 0;
  for (const test::VectorCase& vector_case : vectors.cases) {
    if (!vector_case.test->at("truncatedToBits").is_null()) ++truncated;
  }
  test::report_cases("RFC 4231 HMAC-SHA256", count, std::to_string(truncated) + " truncated");
  EXPECT_EQ(count, 7u);
  EXPECT_EQ(truncated, 1u);
  EXPECT_EQ(test::registered_tests("Rfc4231/HmacSha256RfcTest"), count);
}

const test::VectorSet& wycheproof_vectors() {
  static const test::VectorSet vectors = test::load_wycheproof("wycheproof/hmac_sha256_test.json");
  return vectors;
}

// One test per Wycheproof case, e.g.
// Wycheproof/HmacSha256WycheproofTest.Case/hmac_sha256_test_tcid1.
using HmacSha256WycheproofTest = ::testing::TestWithParam<test::VectorCase>;

TEST_P(HmacSha256WycheproofTest, Case) {
  const auto tag_bytes = GetParam().group->at("tagSize").get<std::size_t>() / 8;
  ASSERT_LE(tag_bytes, kSha256Size);
  const Json& tc = *GetParam().test;
  SCOPED_TRACE("tcId " + std::to_string(GetParam().tc_id));
  const Bytes key = test::hex(str(tc.at("key")));
  const Bytes msg = test::hex(str(tc.at("msg")));
  const Bytes tag = test::hex(str(tc.at("tag")));
  const Bytes mac = hmac_sha256(key, msg);
  ASSERT_EQ(mac.size(), kSha256Size);
  // The tag this group uses: the leftmost tagSize bits of the MAC.
  const ByteView computed = ByteView(mac).first(tag_bytes);
  const std::string result = str(tc.at("result"));
  if (result == "valid") {
    EXPECT_EQ(to_hex(computed), to_hex(tag));
    EXPECT_TRUE(constant_time_equal(computed, tag));
  } else if (result == "invalid") {
    EXPECT_FALSE(constant_time_equal(computed, tag)) << "a modified tag verified";
    EXPECT_NE(to_hex(computed), to_hex(tag));
  } else if (result == "acceptable") {
    // The file has none: one that appears needs a decision on what Shido does with it.
    ADD_FAILURE() << "unexpected result \"acceptable\"";
  } else {
    ADD_FAILURE() << "unexpected result \"" << result << "\"";
  }
}

INSTANTIATE_TEST_SUITE_P(Wycheproof, HmacSha256WycheproofTest,
                         ::testing::ValuesIn(wycheproof_vectors().cases), test::case_name);

TEST(HmacSha256Test, WycheproofCaseCount) {
  const test::VectorSet& vectors = wycheproof_vectors();
  ASSERT_TRUE(test::loaded(vectors));
  const std::size_t count = vectors.cases.size();
  const test::ResultCounts results = test::count_results(vectors);
  test::report_cases("Wycheproof HMAC-SHA256", count, test::describe(results));
  EXPECT_GT(count, 0u);
  EXPECT_EQ(count, vectors.file->at("numberOfTests").get<std::size_t>());
  EXPECT_EQ(test::registered_tests("Wycheproof/HmacSha256WycheproofTest"), count);
  EXPECT_EQ(results.acceptable + results.other, 0u) << "the per-case tests fail these";
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
