// AES-CBC against NIST SP 800-38A F.2.5/F.2.6 (no padding), a PKCS#7 extension of it, and
// Wycheproof aes_cbc_pkcs5 (AES-128/192/256).
#include "shido/crypto/aes_cbc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "support/vectors.h"

namespace shido {
namespace {

std::string str(const Json& value) { return value.get<std::string>(); }

// The four 16-byte blocks of a NIST table, joined.
Bytes blocks(const Json& list) {
  Bytes out;
  for (const Json& block : list) {
    const Bytes bytes = test::hex(str(block));
    EXPECT_EQ(bytes.size(), kAesBlockSize);
    out.insert(out.end(), bytes.begin(), bytes.end());
  }
  return out;
}

Bytes copy(const SecretBytes& secret) { return Bytes(secret.view().begin(), secret.view().end()); }

Bytes xor_bytes(const Bytes& a, const Bytes& b) {
  EXPECT_EQ(a.size(), b.size());
  Bytes out(std::min(a.size(), b.size()));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(a[i] ^ b[i]);
  return out;
}

// The SP 800-38A vectors: each table whole (four chained blocks), each block on its own (one
// CBC step from the previous ciphertext block, and the raw AES-256 block function, which is
// CBC of one block with a zero IV), and the derived PKCS#7 case. The list is fixed, as the
// publication is; AesCbcTest.NistSp800_38aCaseCount checks that the file has these blocks.
constexpr std::size_t kNistBlocks = 4;

enum class NistKind { kEncryptTable, kEncryptBlock, kDecryptTable, kDecryptBlock, kDerivedPkcs7 };

struct NistCase {
  std::string name;
  NistKind kind;
  std::size_t block = 0;  // for kEncryptBlock and kDecryptBlock
};

void PrintTo(const NistCase& nist_case, std::ostream* os) { *os << nist_case.name; }

std::string nist_case_name(const ::testing::TestParamInfo<NistCase>& info) {
  return info.param.name;
}

std::vector<NistCase> nist_cases() {
  std::vector<NistCase> cases;
  cases.push_back({"sp800_38a_f2_5", NistKind::kEncryptTable});
  for (std::size_t i = 0; i < kNistBlocks; ++i) {
    cases.push_back({"sp800_38a_f2_5_block" + std::to_string(i), NistKind::kEncryptBlock, i});
  }
  cases.push_back({"sp800_38a_f2_6", NistKind::kDecryptTable});
  for (std::size_t i = 0; i < kNistBlocks; ++i) {
    cases.push_back({"sp800_38a_f2_6_block" + std::to_string(i), NistKind::kDecryptBlock, i});
  }
  cases.push_back({"sp800_38a_derived_pkcs7", NistKind::kDerivedPkcs7});
  return cases;
}

// e.g. Sp800_38a/NistAes256Cbc.Case/sp800_38a_f2_5_block0
class NistAes256Cbc : public ::testing::TestWithParam<NistCase> {
 protected:
  void SetUp() override {
    vectors_ = test::load_vectors("rfc/nist_sp800_38a_aes256_cbc.json");
    key_ = test::hex(str(vectors_.at("key")));
    iv_ = test::hex(str(vectors_.at("iv")));
    ASSERT_EQ(key_.size(), 32u);
    ASSERT_EQ(iv_.size(), kAesBlockSize);
  }

  // Block i of a table's column, and the block CBC chains it from: the IV for block 0, else
  // the previous ciphertext block.
  Bytes block(const Json& table, const char* column, std::size_t i) const {
    return test::hex(str(table.at(column).at(i)));
  }
  Bytes previous(const Json& table, std::size_t i) const {
    return i == 0 ? iv_ : block(table, "ciphertext", i - 1);
  }

  Json vectors_;
  Bytes key_;
  Bytes iv_;
};

TEST_P(NistAes256Cbc, Case) {
  const NistCase& nist_case = GetParam();
  const Bytes zero_iv(kAesBlockSize, 0);
  switch (nist_case.kind) {
    case NistKind::kEncryptTable: {
      const Json& table = vectors_.at("encrypt_F_2_5");
      const Bytes plaintext = blocks(table.at("plaintext"));
      const Bytes ciphertext = blocks(table.at("ciphertext"));
      auto out = aes_cbc_encrypt(key_, iv_, plaintext, Padding::kNone);
      ASSERT_TRUE(out.ok()) << out.error().message;
      EXPECT_EQ(to_hex(out.value()), to_hex(ciphertext));
      break;
    }
    case NistKind::kEncryptBlock: {
      const Json& table = vectors_.at("encrypt_F_2_5");
      const std::size_t i = nist_case.block;
      const Bytes plaintext = block(table, "plaintext", i);
      const Bytes input = block(table, "inputBlock", i);
      const Bytes output = block(table, "outputBlock", i);
      const Bytes ciphertext = block(table, "ciphertext", i);
      ASSERT_EQ(plaintext.size(), kAesBlockSize);
      // The table's own arithmetic: the input block is the plaintext XOR the chained block.
      EXPECT_EQ(to_hex(xor_bytes(plaintext, previous(table, i))), to_hex(input));
      auto raw = aes_cbc_encrypt(key_, zero_iv, input, Padding::kNone);
      ASSERT_TRUE(raw.ok()) << raw.error().message;
      EXPECT_EQ(to_hex(raw.value()), to_hex(output));
      auto out = aes_cbc_encrypt(key_, previous(table, i), plaintext, Padding::kNone);
      ASSERT_TRUE(out.ok()) << out.error().message;
      EXPECT_EQ(to_hex(out.value()), to_hex(ciphertext));
      break;
    }
    case NistKind::kDecryptTable: {
      const Json& table = vectors_.at("decrypt_F_2_6");
      const Bytes ciphertext = blocks(table.at("ciphertext"));
      const Bytes plaintext = blocks(table.at("plaintext"));
      auto out = aes_cbc_decrypt(key_, iv_, ciphertext, Padding::kNone);
      ASSERT_TRUE(out.ok()) << out.error().message;
      EXPECT_EQ(to_hex(out.value().view()), to_hex(plaintext));
      break;
    }
    case NistKind::kDecryptBlock: {
      const Json& table = vectors_.at("decrypt_F_2_6");
      const std::size_t i = nist_case.block;
      const Bytes ciphertext = block(table, "ciphertext", i);
      const Bytes input = block(table, "inputBlock", i);
      const Bytes output = block(table, "outputBlock", i);
      const Bytes plaintext = block(table, "plaintext", i);
      ASSERT_EQ(ciphertext.size(), kAesBlockSize);
      EXPECT_EQ(to_hex(input), to_hex(ciphertext));
      auto raw = aes_cbc_decrypt(key_, zero_iv, input, Padding::kNone);
      ASSERT_TRUE(raw.ok()) << raw.error().message;
      EXPECT_EQ(to_hex(raw.value().view()), to_hex(output));
      // The table's own arithmetic: the plaintext is the output block XOR the chained block.
      EXPECT_EQ(to_hex(xor_bytes(output, previous(table, i))), to_hex(plaintext));
      auto out = aes_cbc_decrypt(key_, previous(table, i), ciphertext, Padding::kNone);
      ASSERT_TRUE(out.ok()) << out.error().message;
      EXPECT_EQ(to_hex(out.value().view()), to_hex(plaintext));
      break;
    }
    case NistKind::kDerivedPkcs7: {
      const Json& derived = vectors_.at("derivedPkcs7");
      const Bytes plaintext = test::hex(str(derived.at("plaintext")));
      const Bytes ciphertext = test::hex(str(derived.at("ciphertext")));
      ASSERT_EQ(ciphertext.size(), plaintext.size() + kAesBlockSize);

      auto sealed = aes_cbc_encrypt(key_, iv_, plaintext);  // PKCS#7 is the default
      ASSERT_TRUE(sealed.ok()) << sealed.error().message;
      EXPECT_EQ(to_hex(sealed.value()), to_hex(ciphertext));

      auto opened = aes_cbc_decrypt(key_, iv_, ciphertext, Padding::kPkcs7);
      ASSERT_TRUE(opened.ok()) << opened.error().message;
      EXPECT_EQ(to_hex(opened.value().view()), to_hex(plaintext));

      // Without padding removal the last block is sixteen 0x10 bytes.
      auto raw = aes_cbc_decrypt(key_, iv_, ciphertext, Padding::kNone);
      ASSERT_TRUE(raw.ok());
      Bytes padded = plaintext;
      padded.insert(padded.end(), kAesBlockSize, 0x10);
      EXPECT_EQ(to_hex(raw.value().view()), to_hex(padded));
      break;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sp800_38a, NistAes256Cbc, ::testing::ValuesIn(nist_cases()),
                         nist_case_name);

// The file holds the tables the fixed case list assumes (four blocks in every column), every
// case became a test; prints the [ KAT ] lines of the three SP 800-38A vectors.
TEST(AesCbcTest, NistSp800_38aCaseCount) {
  const Json vectors = test::load_vectors("rfc/nist_sp800_38a_aes256_cbc.json");
  for (const char* table : {"encrypt_F_2_5", "decrypt_F_2_6"}) {
    for (const char* column : {"plaintext", "inputBlock", "outputBlock", "ciphertext"}) {
      SCOPED_TRACE(std::string(table) + "." + column);
      EXPECT_EQ(vectors.at(table).at(column).size(), kNistBlocks);
      EXPECT_EQ(blocks(vectors.at(table).at(column)).size(), kNistBlocks * kAesBlockSize);
    }
  }
  EXPECT_EQ(test::registered_tests("Sp800_38a/NistAes256Cbc"), nist_cases().size());
  test::report_cases("NIST SP 800-38A F.2.5 CBC-AES256.Encrypt", 1, "4 blocks");
  test::report_cases("NIST SP 800-38A F.2.6 CBC-AES256.Decrypt", 1, "4 blocks");
  test::report_cases("SP 800-38A plaintext with PKCS#7 (derived)", 1, "5 blocks");
}

const test::VectorSet& wycheproof_vectors() {
  static const test::VectorSet vectors =
      test::load_wycheproof("wycheproof/aes_cbc_pkcs5_test.json");
  return vectors;
}

// One test per Wycheproof case, e.g. Wycheproof/AesCbcWycheproofTest.Case/aes_cbc_pkcs5_test_tcid1.
using AesCbcWycheproofTest = ::testing::TestWithParam<test::VectorCase>;

TEST_P(AesCbcWycheproofTest, Case) {
  const auto key_bits = GetParam().group->at("keySize").get<std::size_t>();
  const Json& tc = *GetParam().test;
  SCOPED_TRACE("tcId " + std::to_string(GetParam().tc_id) + " (AES-" + std::to_string(key_bits) +
               ")");
  const Bytes key = test::hex(str(tc.at("key")));
  const Bytes iv = test::hex(str(tc.at("iv")));
  const Bytes msg = test::hex(str(tc.at("msg")));
  const Bytes ct = test::hex(str(tc.at("ct")));
  ASSERT_EQ(key.size() * 8, key_bits);
  const std::string result = str(tc.at("result"));
  if (result == "valid") {
    auto encrypted = aes_cbc_encrypt(key, iv, msg);
    ASSERT_TRUE(encrypted.ok()) << encrypted.error().message;
    EXPECT_EQ(to_hex(encrypted.value()), to_hex(ct));
    auto decrypted = aes_cbc_decrypt(key, iv, ct);
    ASSERT_TRUE(decrypted.ok()) << decrypted.error().message;
    EXPECT_EQ(to_hex(decrypted.value().view()), to_hex(msg));
  } else if (result == "invalid") {
    auto decrypted = aes_cbc_decrypt(key, iv, ct);
    ASSERT_FALSE(decrypted.ok()) << "decrypted to " << to_hex(decrypted.value().view());
    EXPECT_EQ(decrypted.error().code, Errc::kAuthenticationFailed);
    EXPECT_EQ(decrypted.error().message, "authentication failed");
  } else if (result == "acceptable") {
    // The file has none: one that appears needs a decision on what Shido does with it.
    ADD_FAILURE() << "unexpected result \"acceptable\"";
  } else {
    ADD_FAILURE() << "unexpected result \"" << result << "\"";
  }
}

INSTANTIATE_TEST_SUITE_P(Wycheproof, AesCbcWycheproofTest,
                         ::testing::ValuesIn(wycheproof_vectors().cases), test::case_name);

TEST(AesCbcTest, WycheproofCaseCount) {
  const test::VectorSet& vectors = wycheproof_vectors();
  ASSERT_TRUE(test::loaded(vectors));
  const std::size_t count = vectors.cases.size();
  std::size_t by_key_size[3] = {0, 0, 0};
  for (const test::VectorCase& vector_case : vectors.cases) {
    const auto key_bits = vector_case.group->at("keySize").get<std::size_t>();
    if (key_bits == 128) ++by_key_size[0];
    if (key_bits == 192) ++by_key_size[1];
    if (key_bits == 256) ++by_key_size[2];
  }
  const test::ResultCounts results = test::count_results(vectors);
  test::report_cases("Wycheproof AES-CBC-PKCS5", count,
                     test::describe(results) + "; " + std::to_string(by_key_size[0]) + "/" +
                         std::to_string(by_key_size[1]) + "/" + std::to_string(by_key_size[2]) +
                         " for AES-128/192/256");
  EXPECT_GT(count, 0u);
  EXPECT_EQ(count, vectors.file->at("numberOfTests").get<std::size_t>());
  EXPECT_EQ(test::registered_tests("Wycheproof/AesCbcWycheproofTest"), count);
  EXPECT_EQ(results.acceptable + results.other, 0u) << "the per-case tests fail these";
  EXPECT_GT(by_key_size[0], 0u);
  EXPECT_GT(by_key_size[1], 0u);
  EXPECT_GT(by_key_size[2], 0u);
}

TEST(AesCbcTest, RoundTripsEveryLengthAroundBlocks) {
  const Bytes key(32, 0x11);
  const Bytes iv(16, 0x22);
  for (std::size_t n = 0; n <= 49; ++n) {
    SCOPED_TRACE("length " + std::to_string(n));
    const Bytes plaintext(n, static_cast<std::uint8_t>(n));
    auto ct = aes_cbc_encrypt(key, iv, plaintext);
    ASSERT_TRUE(ct.ok());
    // PKCS#7 always adds 1 to 16 bytes.
    EXPECT_EQ(ct.value().size(), (n / kAesBlockSize + 1) * kAesBlockSize);
    auto pt = aes_cbc_decrypt(key, iv, ct.value());
    ASSERT_TRUE(pt.ok());
    EXPECT_EQ(copy(pt.value()), plaintext);
  }
}

TEST(AesCbcTest, RejectsBadKeyAndIvLengths) {
  const Bytes iv(16, 0);
  const Bytes data(16, 0);
  for (std::size_t key_size : {0, 8, 15, 17, 31, 33, 64}) {
    SCOPED_TRACE("key size " + std::to_string(key_size));
    const Bytes key(key_size, 1);
    auto enc = aes_cbc_encrypt(key, iv, data);
    ASSERT_FALSE(enc.ok());
    EXPECT_EQ(enc.error().code, Errc::kInvalidArgument);
    auto dec = aes_cbc_decrypt(key, iv, data);
    ASSERT_FALSE(dec.ok());
    EXPECT_EQ(dec.error().code, Errc::kInvalidArgument);
  }
  const Bytes key(32, 1);
  for (std::size_t iv_size : {0, 8, 15, 17, 32}) {
    SCOPED_TRACE("iv size " + std::to_string(iv_size));
    const Bytes bad_iv(iv_size, 1);
    auto enc = aes_cbc_encrypt(key, bad_iv, data);
    ASSERT_FALSE(enc.ok());
    EXPECT_EQ(enc.error().code, Errc::kInvalidArgument);
    auto dec = aes_cbc_decrypt(key, bad_iv, data);
    ASSERT_FALSE(dec.ok());
    EXPECT_EQ(dec.error().code, Errc::kInvalidArgument);
  }
}

TEST(AesCbcTest, NoPaddingNeedsWholeBlocks) {
  const Bytes key(32, 1);
  const Bytes iv(16, 2);
  auto enc = aes_cbc_encrypt(key, iv, Bytes(17, 0), Padding::kNone);
  ASSERT_FALSE(enc.ok());
  EXPECT_EQ(enc.error().code, Errc::kInvalidArgument);
  auto dec = aes_cbc_decrypt(key, iv, Bytes(17, 0), Padding::kNone);
  ASSERT_FALSE(dec.ok());
  EXPECT_EQ(dec.error().code, Errc::kAuthenticationFailed);
  auto empty = aes_cbc_encrypt(key, iv, {}, Padding::kNone);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty.value().empty());
}

TEST(AesCbcTest, BadLengthAndBadPaddingAreTheSameError) {
  // No padding oracle: a partial block, an empty input and a wrong pad all read alike.
  const Bytes key(32, 3);
  const Bytes iv(16, 4);
  auto good = aes_cbc_encrypt(key, iv, to_bytes("sixteen byte msg"));
  ASSERT_TRUE(good.ok());
  Bytes bad_pad = good.value();
  // Two blocks: the message and a whole pad block of 0x10. Flipping the last byte of the
  // first ciphertext block flips the last plaintext byte to 0x11, never a valid pad.
  ASSERT_EQ(bad_pad.size(), 32u);
  bad_pad[15] ^= 0x01;
  Bytes partial = good.value();
  partial.pop_back();

  auto r1 = aes_cbc_decrypt(key, iv, bad_pad);
  auto r2 = aes_cbc_decrypt(key, iv, partial);
  auto r3 = aes_cbc_decrypt(key, iv, {});
  for (const auto* r : {&r1, &r2, &r3}) {
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(r->error().code, Errc::kAuthenticationFailed);
    EXPECT_EQ(r->error().message, "authentication failed");
  }
}

}  // namespace
}  // namespace shido
