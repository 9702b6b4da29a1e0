// AES-CBC against NIST SP 800-38A F.2.5/F.2.6 (no padding), a PKCS#7 extension of it, and
// Wycheproof aes_cbc_pkcs5 (AES-128/192/256).
#include "shido/crypto/aes_cbc.h"

#include <gtest/gtest.h>

#include <string>

#include "support/test_support.h"

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

class NistAes256Cbc : public ::testing::Test {
 protected:
  void SetUp() override {
    vectors_ = test::load_vectors("rfc/nist_sp800_38a_aes256_cbc.json");
    key_ = test::hex(str(vectors_.at("key")));
    iv_ = test::hex(str(vectors_.at("iv")));
    ASSERT_EQ(key_.size(), 32u);
    ASSERT_EQ(iv_.size(), kAesBlockSize);
  }
  Json vectors_;
  Bytes key_;
  Bytes iv_;
};

TEST_F(NistAes256Cbc, F25EncryptWithoutPadding) {
  const Json& table = vectors_.at("encrypt_F_2_5");
  const Bytes plaintext = blocks(table.at("plaintext"));
  const Bytes ciphertext = blocks(table.at("ciphertext"));
  auto out = aes_cbc_encrypt(key_, iv_, plaintext, Padding::kNone);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(to_hex(out.value()), to_hex(ciphertext));
  test::report_cases("NIST SP 800-38A F.2.5 CBC-AES256.Encrypt", 1, "4 blocks");
}

TEST_F(NistAes256Cbc, F26DecryptWithoutPadding) {
  const Json& table = vectors_.at("decrypt_F_2_6");
  const Bytes ciphertext = blocks(table.at("ciphertext"));
  const Bytes plaintext = blocks(table.at("plaintext"));
  auto out = aes_cbc_decrypt(key_, iv_, ciphertext, Padding::kNone);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(to_hex(out.value().view()), to_hex(plaintext));
  test::report_cases("NIST SP 800-38A F.2.6 CBC-AES256.Decrypt", 1, "4 blocks");
}

TEST_F(NistAes256Cbc, DerivedPkcs7) {
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
  test::report_cases("SP 800-38A plaintext with PKCS#7 (derived)", 1, "5 blocks");
}

TEST(AesCbcTest, WycheproofVectors) {
  const Json vectors = test::load_vectors("wycheproof/aes_cbc_pkcs5_test.json");
  std::size_t count = 0, valid = 0, invalid = 0, acceptable = 0;
  std::size_t by_key_size[3] = {0, 0, 0};
  for (const Json& group : vectors.at("testGroups")) {
    const auto key_bits = group.at("keySize").get<std::size_t>();
    for (const Json& tc : group.at("tests")) {
      SCOPED_TRACE("tcId " + std::to_string(tc.at("tcId").get<int>()) + " (AES-" +
                   std::to_string(key_bits) + ")");
      const Bytes key = test::hex(str(tc.at("key")));
      const Bytes iv = test::hex(str(tc.at("iv")));
      const Bytes msg = test::hex(str(tc.at("msg")));
      const Bytes ct = test::hex(str(tc.at("ct")));
      ASSERT_EQ(key.size() * 8, key_bits);
      const std::string result = str(tc.at("result"));
      if (result == "valid") {
        ++valid;
        auto encrypted = aes_cbc_encrypt(key, iv, msg);
        ASSERT_TRUE(encrypted.ok()) << encrypted.error().message;
        EXPECT_EQ(to_hex(encrypted.value()), to_hex(ct));
        auto decrypted = aes_cbc_decrypt(key, iv, ct);
        ASSERT_TRUE(decrypted.ok()) << decrypted.error().message;
        EXPECT_EQ(to_hex(decrypted.value().view()), to_hex(msg));
      } else if (result == "invalid") {
        ++invalid;
        auto decrypted = aes_cbc_decrypt(key, iv, ct);
        ASSERT_FALSE(decrypted.ok()) << "decrypted to " << to_hex(decrypted.value().view());
        EXPECT_EQ(decrypted.error().code, Errc::kAuthenticationFailed);
        EXPECT_EQ(decrypted.error().message, "authentication failed");
      } else {
        ++acceptable;
        ADD_FAILURE() << "unexpected result \"" << result << "\"";
      }
      if (key_bits == 128) ++by_key_size[0];
      if (key_bits == 192) ++by_key_size[1];
      if (key_bits == 256) ++by_key_size[2];
      ++count;
    }
  }
  test::report_cases("Wycheproof AES-CBC-PKCS5", count,
                     std::to_string(valid) + " valid, " + std::to_string(invalid) + " invalid, " +
                         std::to_string(acceptable) + " acceptable; " +
                         std::to_string(by_key_size[0]) + "/" + std::to_string(by_key_size[1]) +
                         "/" + std::to_string(by_key_size[2]) + " for AES-128/192/256");
  EXPECT_GT(count, 0u);
  EXPECT_EQ(count, vectors.at("numberOfTests").get<std::size_t>());
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
