// HKDF-SHA256 (RFC 5869) against RFC 5869 appendix A and Wycheproof.
#include "shido/crypto/hkdf.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "support/test_support.h"
#include "support/vectors.h"

namespace shido {
namespace {

std::string str(const Json& value) { return value.get<std::string>(); }

const test::VectorSet& rfc5869_vectors() {
  static const test::VectorSet vectors =
      test::load_numbered("rfc/rfc5869_hkdf_sha256.json", "rfc5869");
  return vectors;
}

// One test per RFC 5869 test case, e.g. Rfc5869/HkdfRfcTest.Case/rfc5869_case1.
using HkdfRfcTest = ::testing::TestWithParam<test::VectorCase>;

TEST_P(HkdfRfcTest, Case) {
  const Json& tc = *GetParam().test;
  SCOPED_TRACE("tcId " + std::to_string(GetParam().tc_id));
  const Bytes ikm = test::hex(str(tc.at("ikm")));
  const Bytes salt = test::hex(str(tc.at("salt")));
  const Bytes info = test::hex(str(tc.at("info")));
  const auto length = tc.at("length").get<std::size_t>();
  auto okm = hkdf_sha256(ikm, salt, info, length);
  ASSERT_TRUE(okm.ok()) << okm.error().message;
  EXPECT_EQ(okm.value().size(), length);
  EXPECT_EQ(to_hex(okm.value().view()), str(tc.at("okm")));
}

INSTANTIATE_TEST_SUITE_P(Rfc5869, HkdfRfcTest, ::testing::ValuesIn(rfc5869_vectors().cases),
                         test::case_name);

TEST(HkdfTest, Rfc5869CaseCount) {
  const test::VectorSet& vectors = rfc5869_vectors();
  ASSERT_TRUE(test::loaded(vectors));
  const std::size_t count = vectors.cases.size();
  test::report_cases("RFC 5869 HKDF-SHA256", count);
  EXPECT_EQ(count, 3u);
  EXPECT_EQ(test::registered_tests("Rfc5869/HkdfRfcTest"), count);
}

const test::VectorSet& wycheproof_vectors() {
  static const test::VectorSet vectors = test::load_wycheproof("wycheproof/hkdf_sha256_test.json");
  return vectors;
}

// One test per Wycheproof case, e.g. Wycheproof/HkdfWycheproofTest.Case/hkdf_sha256_test_tcid1.
using HkdfWycheproofTest = ::testing::TestWithParam<test::VectorCase>;

TEST_P(HkdfWycheproofTest, Case) {
  const Json& tc = *GetParam().test;
  SCOPED_TRACE("tcId " + std::to_string(GetParam().tc_id));
  const std::string result = str(tc.at("result"));
  const Bytes ikm = test::hex(str(tc.at("ikm")));
  const Bytes salt = test::hex(str(tc.at("salt")));
  const Bytes info = test::hex(str(tc.at("info")));
  const auto size = tc.at("size").get<std::size_t>();
  auto okm = hkdf_sha256(ikm, salt, info, size);
  if (result == "valid") {
    ASSERT_TRUE(okm.ok()) << okm.error().message;
    EXPECT_EQ(to_hex(okm.value().view()), str(tc.at("okm")));
  } else if (result == "invalid") {
    EXPECT_FALSE(okm.ok()) << "derived " << size << " bytes";
    if (!okm.ok()) {
      EXPECT_EQ(okm.error().code, Errc::kInvalidArgument);
    }
  } else if (result == "acceptable") {
    // None exist in this file; if one appears, accepting must give the expected okm.
    if (okm.ok()) {
      EXPECT_EQ(to_hex(okm.value().view()), str(tc.at("okm")));
    }
  } else {
    ADD_FAILURE() << "unexpected result \"" << result << "\"";
  }
}

INSTANTIATE_TEST_SUITE_P(Wycheproof, HkdfWycheproofTest,
                         ::testing::ValuesIn(wycheproof_vectors().cases), test::case_name);

TEST(HkdfTest, WycheproofCaseCount) {
  const test::VectorSet& vectors = wycheproof_vectors();
  ASSERT_TRUE(test::loaded(vectors));
  const std::size_t count = vectors.cases.size();
  const test::ResultCounts results = test::count_results(vectors);
  test::report_cases("Wycheproof HKDF-SHA256", count, test::describe(results));
  EXPECT_GT(count, 0u);
  EXPECT_EQ(count, vectors.file->at("numberOfTests").get<std::size_t>());
  EXPECT_EQ(test::registered_tests("Wycheproof/HkdfWycheproofTest"), count);
  EXPECT_EQ(results.invalid, 3u);  // the three SizeTooLarge cases
  EXPECT_EQ(results.other, 0u) << "cases whose result is not valid, invalid or acceptable";
}

TEST(HkdfTest, EmptySaltIsThirtyTwoZeroBytes) {
  const Bytes ikm = to_bytes("input keying material");
  const Bytes info = to_bytes("info");
  auto empty = hkdf_sha256(ikm, {}, info, 64);
  auto zeros = hkdf_sha256(ikm, Bytes(32, 0), info, 64);
  ASSERT_TRUE(empty.ok());
  ASSERT_TRUE(zeros.ok());
  EXPECT_EQ(to_hex(empty.value().view()), to_hex(zeros.value().view()));
}

TEST(HkdfTest, LengthLimits) {
  const Bytes ikm(32, 0x0b);
  auto zero = hkdf_sha256(ikm, {}, {}, 0);
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().code, Errc::kInvalidArgument);

  auto one = hkdf_sha256(ikm, {}, {}, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one.value().size(), 1u);

  auto max = hkdf_sha256(ikm, {}, {}, std::size_t{255} * 32);
  ASSERT_TRUE(max.ok()) << max.error().message;
  EXPECT_EQ(max.value().size(), 255u * 32);
  // HKDF output is a prefix-stable stream: a shorter output is the start of a longer one.
  EXPECT_EQ(max.value().view()[0], one.value().view()[0]);

  auto over = hkdf_sha256(ikm, {}, {}, std::size_t{255} * 32 + 1);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, Errc::kInvalidArgument);
}

TEST(HkdfTest, InfoAndSaltChangeTheOutput) {
  const Bytes ikm(32, 0x42);
  auto base = hkdf_sha256(ikm, Bytes(16, 1), as_bytes("shido/1 message"), 64);
  auto other_info = hkdf_sha256(ikm, Bytes(16, 1), as_bytes("shido/1 connect"), 64);
  auto other_salt = hkdf_sha256(ikm, Bytes(16, 2), as_bytes("shido/1 message"), 64);
  ASSERT_TRUE(base.ok() && other_info.ok() && other_salt.ok());
  EXPECT_NE(to_hex(base.value().view()), to_hex(other_info.value().view()));
  EXPECT_NE(to_hex(base.value().view()), to_hex(other_salt.value().view()));
}

}  // namespace
}  // namespace shido
