// P-256 keys: generation, PEM/DER/PKCS#8 round trips, fingerprints, strict import of
// public keys (docs/PROTOCOL.md section 2) and the private key file.
#include "shido/crypto/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "shido/crypto/digest.h"
#include "shido/crypto/ecdh.h"
#include "support/test_support.h"

namespace shido {
namespace {

// Fixed keys made once with the openssl 3.0 CLI when this test was written, from one P-256
// key (private scalar kScalarHex):
//   openssl ecparam -name prime256v1 -genkey -noout -out p256.pem
//   openssl ec -in p256.pem -pubout                             -> kP256Pem
//   openssl ec -in p256.pem -pubout -conv_form compressed       -> kP256CompressedPem
//   openssl ec -in p256.pem -pubout -param_enc explicit         -> kP256ExplicitPem
//   openssl pkcs8 -topk8 -nocrypt -in p256.pem                  -> kP256Pkcs8Pem
//   openssl ec -in p256.pem -pubout -outform DER | sha256sum    -> kP256Sha256
// and keys on other curves:
//   openssl ecparam -name secp384r1 -genkey -noout -out p384.pem; openssl ec -in p384.pem -pubout
//   openssl ecparam -name secp256k1 -genkey -noout -out k1.pem; openssl ec -in k1.pem -pubout
//   openssl genpkey -algorithm X25519 -out x.pem; openssl pkey -in x.pem -pubout
//   openssl pkcs8 -topk8 -nocrypt -in p384.pem                  -> kP384Pkcs8Pem
// (Test keys only: they protect nothing.)
constexpr char kScalarHex[] = "b64667a17e460ac00ce366f416db9b3dfd397402603d6b9a21170224bf3fdb30";

constexpr char kP256Der[] =
    "3059301306072a8648ce3d020106082a8648ce3d03010703420004ebf93da12b49f23434619a51ea880bd61d0307"
    "2210329a9db01aefa14465f4cd986b627c9651cedbfd02988f11c7cb7d036968043b8fb1b9f8d987bd478aaf5a";

constexpr char kP256Sha256[] = "40af532637e4ea1acf56368aa822ce2b95507bd23021eaf6fc3378426bd894ac";

constexpr char kP256Pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE6/k9oStJ8jQ0YZpR6ogL1h0DByIQ\n"
    "MpqdsBrvoURl9M2Ya2J8llHO2/0CmI8Rx8t9A2loBDuPsbn42Ye9R4qvWg==\n"
    "-----END PUBLIC KEY-----\n";

constexpr char kP256CompressedPem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgAC6/k9oStJ8jQ0YZpR6ogL1h0DByIQ\n"
    "MpqdsBrvoURl9M0=\n"
    "-----END PUBLIC KEY-----\n";

constexpr char kP256ExplicitPem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBSzCCAQMGByqGSM49AgEwgfcCAQEwLAYHKoZIzj0BAQIhAP////8AAAABAAAA\n"
    "AAAAAAAAAAAA////////////////MFsEIP////8AAAABAAAAAAAAAAAAAAAA////\n"
    "///////////8BCBaxjXYqjqT57PrvVV2mIa8ZR0GsMxTsPY7zjw+J9JgSwMVAMSd\n"
    "NgiG5wSTamZ44ROdJreBn36QBEEEaxfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5\n"
    "RdiYwpZP40Li/hp/m47n60p8D54WK84zV2sxXs7LtkBoN79R9QIhAP////8AAAAA\n"
    "//////////+85vqtpxeehPO5ysL8YyVRAgEBA0IABOv5PaErSfI0NGGaUeqIC9Yd\n"
    "AwciEDKanbAa76FEZfTNmGtifJZRztv9ApiPEcfLfQNpaAQ7j7G5+NmHvUeKr1o=\n"
    "-----END PUBLIC KEY-----\n";

constexpr char kP256Pkcs8Pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgtkZnoX5GCsAM42b0\n"
    "FtubPf05dAJgPWuaIRcCJL8/2zChRANCAATr+T2hK0nyNDRhmlHqiAvWHQMHIhAy\n"
    "mp2wGu+hRGX0zZhrYnyWUc7b/QKYjxHHy30DaWgEO4+xufjZh71Hiq9a\n"
    "-----END PRIVATE KEY-----\n";

// kP256Pkcs8Pem with the last bit of its private scalar flipped (...db30 -> ...db31) and its
// public key left as it was: a damaged key file whose halves do not belong together, which
// OpenSSL alone accepts (tests/fuzz/key_import_fuzz.cc found it).
constexpr char kP256MismatchedPkcs8Pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgtkZnoX5GCsAM42b0\n"
    "FtubPf05dAJgPWuaIRcCJL8/2zGhRANCAATr+T2hK0nyNDRhmlHqiAvWHQMHIhAy\n"
    "mp2wGu+hRGX0zZhrYnyWUc7b/QKYjxHHy30DaWgEO4+xufjZh71Hiq9a\n"
    "-----END PRIVATE KEY-----\n";

constexpr char kP384Pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE+B0jGXBkzQmNUUgPiZcg2CtQxEd60bT8\n"
    "Rl0QXKd6WXjZkdrDEUwqCCB06T9XRPKNpidPXQzezykK7qDePuHWDP4Sgo72iCnA\n"
    "4XbovKNNkBEqs1KR6t+GFDG4OTfggr8L\n"
    "-----END PUBLIC KEY-----\n";

constexpr char kP384Pkcs8Pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDCA+5XK2m89uxirAUOl\n"
    "yuHBXyghVKQcY9yu7APUq/Ur/j20TsYdA+OfGadPisKYDCmhZANiAAT4HSMZcGTN\n"
    "CY1RSA+JlyDYK1DER3rRtPxGXRBcp3pZeNmR2sMRTCoIIHTpP1dE8o2mJ09dDN7P\n"
    "KQruoN4+4dYM/hKCjvaIKcDhdui8o02QESqzUpHq34YUMbg5N+CCvws=\n"
    "-----END PRIVATE KEY-----\n";

constexpr char kSecp256k1Pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEcdHEcfoqDJ7GWxVi1rtomU/7n25i6MFp\n"
    "HkMu7dQMhI07obe2vpgmN5mBE/Snxo78F5fS0+nmk5iQf0qFqvnT1w==\n"
    "-----END PUBLIC KEY-----\n";

constexpr char kX25519Pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VuAyEAVOHUXiZhixIbw4CoWWFi/5JS4zhiPeqkaivvXdQaIXY=\n"
    "-----END PUBLIC KEY-----\n";

void expect_refused(std::string_view pem, std::string_view what) {
  SCOPED_TRACE(std::string(what));
  auto key = PublicKey::from_pem(pem);
  ASSERT_FALSE(key.ok()) << "accepted " << what;
  EXPECT_EQ(key.error().code, Errc::kInvalidKey);
  EXPECT_FALSE(key.error().message.empty());
}

void expect_der_refused(ByteView der, std::string_view what) {
  SCOPED_TRACE(std::string(what));
  auto key = PublicKey::from_der(der);
  ASSERT_FALSE(key.ok()) << "accepted " << what;
  EXPECT_EQ(key.error().code, Errc::kInvalidKey);
}

std::string hex_of(const SecretBytes& s) { return to_hex(s.view()); }

// ---- Generation and round trips ---------------------------------------------------------

TEST(KeysTest, GenerateGivesDistinctCanonicalKeys) {
  const KeyPair a = KeyPair::generate();
  const KeyPair b = KeyPair::generate();
  EXPECT_NE(a.public_key(), b.public_key());
  const Bytes& der = a.public_key().der();
  ASSERT_EQ(der.size(), 91u);
  // The named-curve SPKI prefix, then an uncompressed point.
  EXPECT_EQ(to_hex(ByteView(der).first(27)), std::string(kP256Der).substr(0, 54));
  const std::string pem = a.public_key().pem();
  EXPECT_EQ(pem.rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u);
  EXPECT_TRUE(pem.ends_with("-----END PUBLIC KEY-----\n"));
  EXPECT_LE(pem.size(), kMaxPublicKeyPem);
}

TEST(KeysTest, PemRoundTrip) {
  const KeyPair pair = KeyPair::generate();
  auto parsed = PublicKey::from_pem(pair.public_key().pem());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value(), pair.public_key());
  EXPECT_EQ(parsed.value().der(), pair.public_key().der());
  EXPECT_EQ(parsed.value().pem(), pair.public_key().pem());
  EXPECT_EQ(parsed.value().fingerprint(), pair.public_key().fingerprint());
}

TEST(KeysTest, DerRoundTrip) {
  const KeyPair pair = KeyPair::generate();
  auto parsed = PublicKey::from_der(pair.public_key().der());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value(), pair.public_key());
  EXPECT_EQ(parsed.value().pem(), pair.public_key().pem());
}

TEST(KeysTest, OpensslKeyImportsToTheSameDerAndCanonicalPem) {
  auto key = PublicKey::from_pem(kP256Pem);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(to_hex(key.value().der()), kP256Der);
  EXPECT_EQ(key.value().pem(), kP256Pem);  // OpenSSL's PEM is also ours, line for line
  auto from_der = PublicKey::from_der(test::hex(kP256Der));
  ASSERT_TRUE(from_der.ok());
  EXPECT_EQ(from_der.value(), key.value());
}

TEST(KeysTest, FingerprintFormatAndValue) {
  auto key = PublicKey::from_pem(kP256Pem);
  ASSERT_TRUE(key.ok());
  const std::string fp = key.value().fingerprint();
  EXPECT_TRUE(test::is_fingerprint_text(fp)) << fp;
  EXPECT_EQ(fp.size(), 79u);
  std::string digits = fp;
  std::erase(digits, ' ');
  EXPECT_EQ(digits, kP256Sha256);  // from sha256sum of openssl's DER
  EXPECT_EQ(digits, to_hex(sha256(key.value().der())));
  EXPECT_EQ(fp.substr(0, 10), "40af 5326 ");

  const KeyPair fresh = KeyPair::generate();
  const std::string fresh_fp = fresh.public_key().fingerprint();
  EXPECT_TRUE(test::is_fingerprint_text(fresh_fp)) << fresh_fp;
  std::string fresh_digits = fresh_fp;
  std::erase(fresh_digits, ' ');
  EXPECT_EQ(fresh_digits, to_hex(sha256(fresh.public_key().der())));
}

TEST(KeysTest, HasFingerprintIgnoresSpacesColonsAndCaseButNeedsEveryDigit) {
  auto key = PublicKey::from_pem(kP256Pem);
  ASSERT_TRUE(key.ok());
  const std::string digits = kP256Sha256;
  std::string colons, upper;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && i % 2 == 0) colons += ':';
    colons += digits[i];
    upper += static_cast<char>(std::toupper(static_cast<unsigned char>(digits[i])));
  }
  EXPECT_TRUE(key.value().has_fingerprint(key.value().fingerprint()));
  EXPECT_TRUE(key.value().has_fingerprint(digits));
  EXPECT_TRUE(key.value().has_fingerprint(colons));
  EXPECT_TRUE(key.value().has_fingerprint(upper));
  EXPECT_TRUE(key.value().has_fingerprint("  " + digits + " "));

  EXPECT_FALSE(key.value().has_fingerprint(""));
  EXPECT_FALSE(key.value().has_fingerprint(digits.substr(0, 63)));  // one digit short
  EXPECT_FALSE(key.value().has_fingerprint(digits + "0"));          // one too many
  std::string changed = digits;
  changed.back() = changed.back() == '0' ? '1' : '0';
  EXPECT_FALSE(key.value().has_fingerprint(changed));
  EXPECT_FALSE(key.value().has_fingerprint(digits.substr(0, 32) + "-" + digits.substr(32)));
  EXPECT_FALSE(key.value().has_fingerprint(KeyPair::generate().public_key().fingerprint()));
}

TEST(KeysTest, PrivateScalarGivesTheMatchingPublicKey) {
  auto pair = KeyPair::from_private_scalar(test::hex(kScalarHex));
  ASSERT_TRUE(pair.ok()) << pair.error().message;
  EXPECT_EQ(to_hex(pair.value().public_key().der()), kP256Der);
}

// ---- Strict import ----------------------------------------------------------------------

TEST(KeysTest, RefusesCompressedPoint) {
  // The same key as kP256Pem, only with the 33-byte compressed point.
  expect_refused(kP256CompressedPem, "a compressed point");
}

TEST(KeysTest, RefusesExplicitCurveParameters) {
  // The same key as kP256Pem, with P-256 spelled out instead of the named-curve OID.
  expect_refused(kP256ExplicitPem, "explicit curve parameters");
}

TEST(KeysTest, RefusesOtherCurves) {
  expect_refused(kP384Pem, "a secp384r1 key");
  expect_refused(kSecp256k1Pem, "a secp256k1 key");
  expect_refused(kX25519Pem, "an X25519 key");
}

TEST(KeysTest, RefusesGarbage) {
  expect_refused("", "empty text");
  expect_refused("hello", "plain text");
  expect_refused("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n", "an empty PEM body");
  expect_refused("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "a 3-byte body");
  expect_refused("-----BEGIN PUBLIC KEY-----\n!!!notbase64!!!\n-----END PUBLIC KEY-----\n",
                 "bad base64");
  std::string unterminated = kP256Pem;
  unterminated.resize(unterminated.size() - 26);  // drop the END line
  expect_refused(unterminated, "a PEM without its END line");
  std::string relabelled = kP256Pem;
  relabelled.replace(relabelled.find("PUBLIC KEY"), 10, "CERTIFICATE");
  relabelled.replace(relabelled.rfind("PUBLIC KEY"), 10, "CERTIFICATE");
  expect_refused(relabelled, "another PEM label");
  expect_der_refused({}, "empty DER");
  expect_der_refused(as_bytes("not der at all"), "random bytes");
}

TEST(KeysTest, RefusesPointNotOnTheCurve) {
  Bytes der = test::hex(kP256Der);
  der.back() ^= 0x01;  // y changed: (x, y') is not on P-256
  expect_der_refused(der, "a point off the curve");
  // The point at infinity cannot be written uncompressed; all-zero coordinates are not on
  // the curve either.
  Bytes zero = test::hex(kP256Der);
  std::fill(zero.begin() + 27, zero.end(), 0);
  expect_der_refused(zero, "the all-zero point");
}

TEST(KeysTest, RefusesPemOver1024Bytes) {
  // White space after the block is allowed, so padding a valid key with newlines isolates
  // the length limit: 1024 bytes pass, 1025 do not.
  std::string pem = kP256Pem;
  ASSERT_LT(pem.size(), kMaxPublicKeyPem);
  pem.append(kMaxPublicKeyPem - pem.size(), '\n');
  ASSERT_EQ(pem.size(), 1024u);
  auto at_limit = PublicKey::from_pem(pem);
  ASSERT_TRUE(at_limit.ok()) << at_limit.error().message;
  EXPECT_EQ(to_hex(at_limit.value().der()), kP256Der);
  pem += '\n';
  expect_refused(pem, "a 1025-byte PEM");
  expect_refused(std::string(4096, 'A'), "4 KiB of text");
}

TEST(KeysTest, RefusesPrivateKeyPemAsPublicKey) {
  expect_refused(kP256Pkcs8Pem, "a PKCS#8 private key");
  const KeyPair pair = KeyPair::generate();
  expect_refused(pair.pkcs8_pem().as_string_view(), "a fresh PKCS#8 private key");
}

TEST(KeysTest, RefusesTrailingGarbage) {
  expect_refused(std::string(kP256Pem) + "garbage\n", "text after the PEM block");
  expect_refused(std::string(kP256Pem) + kP256Pem, "two PEM blocks");
  Bytes der = test::hex(kP256Der);
  der.push_back(0x00);
  expect_der_refused(der, "a trailing byte after the DER");
  Bytes short_der = test::hex(kP256Der);
  short_der.pop_back();
  expect_der_refused(short_der, "DER one byte short");
}

TEST(KeysTest, RefusesTextBeforeThePemBlock) {
  // Only white space may surround the block (keys.cc, pem_unarmor); OpenSSL's PEM reader
  // by itself skips any lines before BEGIN.
  auto spaced = PublicKey::from_pem("\n \n" + std::string(kP256Pem));
  ASSERT_TRUE(spaced.ok()) << spaced.error().message;
  EXPECT_EQ(to_hex(spaced.value().der()), kP256Der);
  expect_refused("junk\n" + std::string(kP256Pem), "a line of text before the PEM block");
  expect_refused("Subject: evil\n\n" + std::string(kP256Pem),
                 "a header-like line before the block");
}

// ---- PKCS#8 -----------------------------------------------------------------------------

TEST(KeysTest, Pkcs8RoundTrip) {
  const KeyPair pair = KeyPair::generate();
  const SecretBytes pem = pair.pkcs8_pem();
  EXPECT_EQ(pem.as_string_view().rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u);
  auto parsed = KeyPair::from_pkcs8_pem(pem.as_string_view());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value().public_key(), pair.public_key());
  // The private half survived too: both give the same shared secret with a third key.
  const KeyPair other = KeyPair::generate();
  auto s1 = ecdh(pair, other.public_key());
  auto s2 = ecdh(parsed.value(), other.public_key());
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_EQ(hex_of(s1.value()), hex_of(s2.value()));
}

TEST(KeysTest, Pkcs8FromOpenssl) {
  auto parsed = KeyPair::from_pkcs8_pem(kP256Pkcs8Pem);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(to_hex(parsed.value().public_key().der()), kP256Der);
  auto from_scalar = KeyPair::from_private_scalar(test::hex(kScalarHex));
  ASSERT_TRUE(from_scalar.ok());
  const KeyPair other = KeyPair::generate();
  auto s1 = ecdh(parsed.value(), other.public_key());
  auto s2 = ecdh(from_scalar.value(), other.public_key());
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_EQ(hex_of(s1.value()), hex_of(s2.value()));
}

TEST(KeysTest, Pkcs8Refusals) {
  for (const auto& [pem, what] : std::initializer_list<std::pair<std::string, const char*>>{
           {kP384Pkcs8Pem, "a P-384 private key"},
           {kP256Pem, "a public key"},
           {"", "empty text"},
           {"garbage", "garbage"},
           {std::string(kP256Pkcs8Pem) + "garbage", "trailing garbage"},
           {kP256MismatchedPkcs8Pem, "a private scalar that does not match the public key"},
       }) {
    SCOPED_TRACE(what);
    auto parsed = KeyPair::from_pkcs8_pem(pem);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, Errc::kInvalidKey);
  }
}

// ---- The private key file ---------------------------------------------------------------

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = testing::TempDir() + "/shido_keys_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  static unsigned mode_of(const std::string& p) {
    struct stat info {};
    EXPECT_EQ(::stat(p.c_str(), &info), 0) << p;
    return info.st_mode & 07777;
  }
  std::string dir_;
};

TEST_F(KeyFileTest, SaveWrites0600AndLoadReadsItBack) {
  const KeyPair pair = KeyPair::generate();
  const std::string file = path("server.key");
  const Status saved = save_private_key(pair, file);
  ASSERT_TRUE(saved.ok()) << saved.error().message;
  EXPECT_EQ(mode_of(file), 0600u);

  auto loaded = load_private_key(file);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded.value().public_key(), pair.public_key());

  // Saving again replaces the file and keeps the mode; no temporary file is left behind.
  const KeyPair next = KeyPair::generate();
  ASSERT_TRUE(save_private_key(next, file).ok());
  EXPECT_EQ(mode_of(file), 0600u);
  auto reloaded = load_private_key(file);
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ(reloaded.value().public_key(), next.public_key());
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST_F(KeyFileTest, LoadRefusesAFileOthersCanRead) {
  const std::string file = path("loose.key");
  ASSERT_TRUE(save_private_key(KeyPair::generate(), file).ok());
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  auto loaded = load_private_key(file);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, Errc::kInvalidKey);
  EXPECT_NE(loaded.error().message.find(file), std::string::npos) << loaded.error().message;

  ASSERT_EQ(::chmod(file.c_str(), 0660), 0);
  auto group = load_private_key(file);
  ASSERT_FALSE(group.ok());
  EXPECT_EQ(group.error().code, Errc::kInvalidKey);
}

TEST_F(KeyFileTest, MissingFileIsNotFound) {
  auto loaded = load_private_key(path("absent.key"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, Errc::kNotFound);
}

TEST_F(KeyFileTest, LoadRefusesAFileThatIsNotAKey) {
  const std::string file = path("junk.key");
  {
    std::ofstream out(file);
    out << kP256Pem;  // a public key is not a private key
  }
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  auto loaded = load_private_key(file);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, Errc::kInvalidKey);
}

}  // namespace
}  // namespace shido
