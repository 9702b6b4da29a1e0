// The envelope (docs/PROTOCOL.md section 3): round trips, tampering, binding to purpose, context
// and keys, field shapes, pinned randomness, and an independent re-computation from the
// primitives that proves seal() follows the spec byte for byte.
#include "shido/crypto/envelope.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "shido/crypto/aes_cbc.h"
#include "shido/crypto/digest.h"
#include "shido/crypto/ecdh.h"
#include "shido/crypto/hkdf.h"
#include "support/test_support.h"

namespace shido {
namespace {

using test::PinnedRandom;

struct Field {
  Bytes Envelope::*member;
  const char* name;
};

const Field kFields[] = {
    {&Envelope::salt, "salt"},
    {&Envelope::iv_for_wrapped_key, "iv_for_wrapped_key"},
    {&Envelope::wrapped_aes_key, "wrapped_aes_key"},
    {&Envelope::iv_for_ciphertext, "iv_for_ciphertext"},
    {&Envelope::ciphertext, "ciphertext"},
    {&Envelope::mac, "mac"},
};

Bytes nonce_bytes(std::uint8_t seed) {
  Bytes nonce(32);
  for (std::size_t i = 0; i < nonce.size(); ++i) nonce[i] = static_cast<std::uint8_t>(seed + 7 * i);
  return nonce;
}

// One row of the table in docs/PROTOCOL.md section 3.
struct Use {
  Purpose purpose;
  const char* name;  // written out here, not taken from purpose_name(), to check it
  Context context;
  Bytes plaintext;
};

std::vector<Use> protocol_uses() {
  const Bytes phone = to_bytes("+972501234567");
  const Bytes other_phone = to_bytes("+14155550123");
  return {
      {Purpose::kRegister, "register", {phone, nonce_bytes(1)}, to_bytes("042517")},
      {Purpose::kConnect, "connect", {phone, nonce_bytes(2)}, to_bytes("987654")},
      {Purpose::kMessage,
       "message",
       {phone, other_phone},
       to_bytes(R"({"type":"text","body":"Shalom, שלום!","sent_at":1764198000000})")},
  };
}

Bytes copy(const SecretBytes& secret) { return Bytes(secret.view().begin(), secret.view().end()); }

void expect_auth_failed(const Result<SecretBytes>& opened, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_FALSE(opened.ok()) << what << " opened to " << opened.value().size() << " bytes \""
                            << opened.value().as_string_view().substr(0, 64) << "\"";
  EXPECT_EQ(opened.error().code, Errc::kAuthenticationFailed);
  EXPECT_EQ(opened.error().message, "authentication failed");
}

// 80 distinct bytes: salt (16), aes_key (32), iv_w (16), iv_c (16), in the order seal draws.
Bytes pinned_bytes(std::uint8_t seed) {
  Bytes bytes(80);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(seed + 3 * i);
  return bytes;
}

class EnvelopeTest : public ::testing::Test {
 protected:
  // alice: a client; bob: the server or a recipient; carol: a third party.
  const KeyPair alice_ = KeyPair::generate();
  const KeyPair bob_ = KeyPair::generate();
  const KeyPair carol_ = KeyPair::generate();

  Envelope seal_ok(const Use& use) {
    auto sealed = seal(alice_, bob_.public_key(), use.plaintext, use.purpose, use.context);
    EXPECT_TRUE(sealed.ok()) << sealed.error().message;
    return sealed.ok() ? std::move(sealed).value() : Envelope{};
  }
  Result<SecretBytes> bob_opens(const Envelope& envelope, const Use& use) {
    return open(bob_, alice_.public_key(), envelope, use.purpose, use.context);
  }
};

// ---- Round trips ------------------------------------------------------------------------

TEST_F(EnvelopeTest, PurposeNames) {
  EXPECT_EQ(purpose_name(Purpose::kRegister), "register");
  EXPECT_EQ(purpose_name(Purpose::kConnect), "connect");
  EXPECT_EQ(purpose_name(Purpose::kMessage), "message");
}

TEST_F(EnvelopeTest, RoundTripForEveryPurpose) {
  for (const Use& use : protocol_uses()) {
    SCOPED_TRACE(use.name);
    const Envelope envelope = seal_ok(use);
    auto opened = bob_opens(envelope, use);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    EXPECT_EQ(copy(opened.value()), use.plaintext);
    // Static-static ECDH: the sender can open what it sealed to the recipient.
    auto by_sender = open(alice_, bob_.public_key(), envelope, use.purpose, use.context);
    ASSERT_TRUE(by_sender.ok());
    EXPECT_EQ(copy(by_sender.value()), use.plaintext);
  }
}

TEST_F(EnvelopeTest, EmptyAndLargestPlaintexts) {
  const Use use = protocol_uses()[2];
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, kMaxCiphertextSize - 16}) {
    SCOPED_TRACE("plaintext of " + std::to_string(size) + " bytes");
    const Bytes plaintext(size, 'x');
    auto sealed = seal(alice_, bob_.public_key(), plaintext, use.purpose, use.context);
    ASSERT_TRUE(sealed.ok());
    EXPECT_TRUE(has_valid_shape(sealed.value()));
    auto opened = bob_opens(sealed.value(), use);
    ASSERT_TRUE(opened.ok());
    EXPECT_EQ(copy(opened.value()), plaintext);
  }
  // 131,072 bytes of plaintext pad to 131,088 bytes of ciphertext: beyond what open accepts.
  // (seal itself does not refuse it; the client limits the plaintext, docs/PROTOCOL.md section 3.)
  auto too_big =
      seal(alice_, bob_.public_key(), Bytes(kMaxCiphertextSize, 'x'), use.purpose, use.context);
  ASSERT_TRUE(too_big.ok());
  EXPECT_EQ(too_big.value().ciphertext.size(), kMaxCiphertextSize + 16);
  EXPECT_FALSE(has_valid_shape(too_big.value()));
  expect_auth_failed(bob_opens(too_big.value(), use), "an over-long ciphertext");
}

TEST_F(EnvelopeTest, SealedLengths) {
  const Use base = protocol_uses()[2];
  for (std::size_t size : {0, 1, 6, 15, 16, 17, 31, 32, 100, 1000}) {
    SCOPED_TRACE("plaintext of " + std::to_string(size) + " bytes");
    auto sealed = seal(alice_, bob_.public_key(), Bytes(size, 'a'), base.purpose, base.context);
    ASSERT_TRUE(sealed.ok());
    const Envelope& e = sealed.value();
    EXPECT_EQ(e.salt.size(), 16u);
    EXPECT_EQ(e.iv_for_wrapped_key.size(), 16u);
    EXPECT_EQ(e.wrapped_aes_key.size(), 48u);
    EXPECT_EQ(e.iv_for_ciphertext.size(), 16u);
    EXPECT_EQ(e.mac.size(), 32u);
    // PKCS#7 pads to the next whole block, adding a full block to a whole one.
    EXPECT_EQ(e.ciphertext.size(), (size / 16 + 1) * 16);
    EXPECT_TRUE(has_valid_shape(e));
  }
}

TEST_F(EnvelopeTest, TwoSealsOfTheSameInputDiffer) {
  const Use use = protocol_uses()[0];
  const Envelope a = seal_ok(use);
  const Envelope b = seal_ok(use);
  EXPECT_NE(a.salt, b.salt);
  EXPECT_NE(a.iv_for_wrapped_key, b.iv_for_wrapped_key);
  EXPECT_NE(a.iv_for_ciphertext, b.iv_for_ciphertext);
  EXPECT_NE(a.ciphertext, b.ciphertext);
  EXPECT_NE(a.mac, b.mac);
}

// ---- Tampering --------------------------------------------------------------------------

TEST_F(EnvelopeTest, FlippingAnyByteOfAnyFieldFails) {
  for (const Use& use : protocol_uses()) {
    SCOPED_TRACE(use.name);
    const Envelope original = seal_ok(use);
    ASSERT_TRUE(bob_opens(original, use).ok());
    std::size_t flips = 0;
    for (const Field& field : kFields) {
      const std::size_t size = (original.*field.member).size();
      ASSERT_GT(size, 0u) << field.name;
      for (std::size_t i = 0; i < size; ++i) {
        for (std::uint8_t mask : {0x01, 0x80}) {
          Envelope tampered = original;
          (tampered.*field.member)[i] ^= mask;
          expect_auth_failed(bob_opens(tampered, use), std::string(field.name) + " byte " +
                                                           std::to_string(i) + " ^ " +
                                                           std::to_string(mask));
          ++flips;
        }
      }
    }
    EXPECT_EQ(flips, 2 * (16 + 16 + 48 + 16 + 32 + original.ciphertext.size()));
  }
}

TEST_F(EnvelopeTest, TruncatedExtendedAndEmptyFieldsFail) {
  const Use use = protocol_uses()[2];
  const Envelope original = seal_ok(use);
  for (const Field& field : kFields) {
    SCOPED_TRACE(field.name);
    Envelope shorter = original;
    (shorter.*field.member).pop_back();
    expect_auth_failed(bob_opens(shorter, use), "one byte short");

    Envelope longer = original;
    (longer.*field.member).push_back(0);
    expect_auth_failed(bob_opens(longer, use), "one byte extra");

    Envelope block_longer = original;
    (block_longer.*field.member).insert((block_longer.*field.member).end(), 16, 0);
    expect_auth_failed(bob_opens(block_longer, use), "sixteen bytes extra");

    Envelope empty = original;
    (empty.*field.member).clear();
    expect_auth_failed(bob_opens(empty, use), "empty");
  }
  // A ciphertext one block shorter still has a valid shape; only the MAC can catch it.
  Envelope dropped_block = original;
  ASSERT_GT(dropped_block.ciphertext.size(), 16u);
  dropped_block.ciphertext.resize(dropped_block.ciphertext.size() - 16);
  EXPECT_TRUE(has_valid_shape(dropped_block));
  expect_auth_failed(bob_opens(dropped_block, use), "ciphertext with its last block dropped");

  Envelope swapped_ivs = original;
  std::swap(swapped_ivs.iv_for_wrapped_key, swapped_ivs.iv_for_ciphertext);
  expect_auth_failed(bob_opens(swapped_ivs, use), "the two IVs swapped");

  expect_auth_failed(bob_opens(Envelope{}, use), "an all-empty envelope");
}

TEST_F(EnvelopeTest, WrongPurposeFails) {
  for (const Use& use : protocol_uses()) {
    const Envelope envelope = seal_ok(use);
    for (Purpose other : {Purpose::kRegister, Purpose::kConnect, Purpose::kMessage}) {
      if (other == use.purpose) continue;
      expect_auth_failed(open(bob_, alice_.public_key(), envelope, other, use.context),
                         std::string(use.name) + " opened as " + std::string(purpose_name(other)));
    }
  }
}

TEST_F(EnvelopeTest, WrongContextFails) {
  for (const Use& use : protocol_uses()) {
    SCOPED_TRACE(use.name);
    const Envelope envelope = seal_ok(use);
    const Context& c = use.context;
    ASSERT_EQ(c.size(), 2u);

    std::vector<std::pair<std::string, Context>> wrong;
    Context changed_first = c;
    changed_first[0].back() ^= 0x01;  // another phone number
    wrong.emplace_back("first element changed", changed_first);
    Context changed_second = c;
    changed_second[1][0] ^= 0x01;
    wrong.emplace_back("second element changed", changed_second);
    wrong.emplace_back("second element missing", Context{c[0]});
    wrong.emplace_back("first element missing", Context{c[1]});
    wrong.emplace_back("no context", Context{});
    wrong.emplace_back("extra element", Context{c[0], c[1], to_bytes("extra")});
    wrong.emplace_back("extra empty element", Context{c[0], c[1], Bytes{}});
    wrong.emplace_back("reordered", Context{c[1], c[0]});
    // The same bytes split differently: length prefixes must tell these apart.
    Bytes joined = c[0];
    joined.insert(joined.end(), c[1].begin(), c[1].end());
    wrong.emplace_back("elements joined", Context{joined});
    Bytes moved_first = c[0];
    moved_first.push_back(c[1][0]);
    wrong.emplace_back("boundary moved", Context{moved_first, Bytes(c[1].begin() + 1, c[1].end())});

    for (const auto& [what, context] : wrong) {
      expect_auth_failed(open(bob_, alice_.public_key(), envelope, use.purpose, context), what);
    }
  }
}

TEST_F(EnvelopeTest, WrongKeysFail) {
  const Use use = protocol_uses()[2];
  const Envelope envelope = seal_ok(use);
  // A third party with its own key cannot open it, whoever it claims sent it.
  expect_auth_failed(open(carol_, alice_.public_key(), envelope, use.purpose, use.context),
                     "carol opens with alice's public key");
  expect_auth_failed(open(carol_, bob_.public_key(), envelope, use.purpose, use.context),
                     "carol opens with bob's public key");
  // The recipient is told the wrong sender.
  expect_auth_failed(open(bob_, carol_.public_key(), envelope, use.purpose, use.context),
                     "bob opens with carol as the sender");
  expect_auth_failed(open(bob_, bob_.public_key(), envelope, use.purpose, use.context),
                     "bob opens with himself as the sender");
}

// Builds envelopes whose MAC is right but whose inside is wrong, so that the checks after
// the MAC are reached; they must give the very same error (no padding oracle).
TEST_F(EnvelopeTest, FailuresAfterTheMacLookTheSame) {
  const Use use = protocol_uses()[0];
  auto z = ecdh(alice_, bob_.public_key());
  ASSERT_TRUE(z.ok());
  const Bytes salt(16, 0x5a);
  auto okm = hkdf_sha256(z.value().view(), salt, as_bytes("shido/1 register"), 64);
  ASSERT_TRUE(okm.ok());
  const ByteView kek = okm.value().view().first(32);
  const ByteView mac_key = okm.value().view().subspan(32, 32);
  const Bytes iv_w(16, 0x01), iv_c(16, 0x02);

  auto mac_over = [&](const Envelope& e) {
    Bytes input;
    auto lp = [&input](ByteView x) {
      const auto n = static_cast<std::uint32_t>(x.size());
      for (int shift : {24, 16, 8, 0}) input.push_back(static_cast<std::uint8_t>(n >> shift));
      input.insert(input.end(), x.begin(), x.end());
    };
    lp(as_bytes("register"));
    for (const Bytes& item : use.context) lp(item);
    lp(e.salt);
    lp(e.iv_for_wrapped_key);
    lp(e.wrapped_aes_key);
    lp(e.iv_for_ciphertext);
    lp(e.ciphertext);
    return hmac_sha256(mac_key, input);
  };
  auto build = [&](ByteView wrapped_plain, Padding wrap_padding, ByteView aes_key,
                   ByteView ct_plain, Padding ct_padding) {
    Envelope e;
    e.salt = salt;
    e.iv_for_wrapped_key = iv_w;
    e.iv_for_ciphertext = iv_c;
    e.wrapped_aes_key = aes_cbc_encrypt(kek, iv_w, wrapped_plain, wrap_padding).value();
    e.ciphertext = aes_cbc_encrypt(aes_key, iv_c, ct_plain, ct_padding).value();
    e.mac = mac_over(e);
    return e;
  };
  const Bytes aes_key(32, 0x33);

  // Control: built this way with correct padding, it opens.
  const Envelope good = build(aes_key, Padding::kPkcs7, aes_key, use.plaintext, Padding::kPkcs7);
  auto opened = bob_opens(good, use);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(copy(opened.value()), use.plaintext);

  // The plaintext's padding is wrong (a last byte of 0x00), the MAC right.
  const Envelope bad_padding =
      build(aes_key, Padding::kPkcs7, aes_key, Bytes(16, 0x00), Padding::kNone);
  ASSERT_TRUE(has_valid_shape(bad_padding));
  expect_auth_failed(bob_opens(bad_padding, use), "bad padding under a valid MAC");

  // The wrapped key's padding is wrong: 48 bytes of key material, no padding.
  const Envelope bad_wrap =
      build(Bytes(48, 0x44), Padding::kNone, aes_key, use.plaintext, Padding::kPkcs7);
  ASSERT_TRUE(has_valid_shape(bad_wrap));
  expect_auth_failed(bob_opens(bad_wrap, use), "bad wrapped-key padding under a valid MAC");

  // The wrapped key unwraps to 33 bytes (valid padding, wrong size).
  const Envelope long_key =
      build(Bytes(33, 0x33), Padding::kPkcs7, aes_key, use.plaintext, Padding::kPkcs7);
  ASSERT_EQ(long_key.wrapped_aes_key.size(), 48u);
  expect_auth_failed(bob_opens(long_key, use), "a 33-byte AES key under a valid MAC");

  // ...and to 17 bytes (32 bytes wrapped: not the 48 the shape requires).
  const Envelope short_key =
      build(Bytes(17, 0x33), Padding::kPkcs7, aes_key, use.plaintext, Padding::kPkcs7);
  expect_auth_failed(bob_opens(short_key, use), "a 17-byte AES key");
}

// ---- Shape ------------------------------------------------------------------------------

TEST_F(EnvelopeTest, HasValidShape) {
  Envelope e;
  e.salt.assign(16, 1);
  e.iv_for_wrapped_key.assign(16, 2);
  e.wrapped_aes_key.assign(48, 3);
  e.iv_for_ciphertext.assign(16, 4);
  e.ciphertext.assign(16, 5);
  e.mac.assign(32, 6);
  EXPECT_TRUE(has_valid_shape(e));

  for (std::size_t ct : {std::size_t{16}, std::size_t{32}, std::size_t{4096}, kMaxCiphertextSize}) {
    Envelope ok = e;
    ok.ciphertext.assign(ct, 5);
    EXPECT_TRUE(has_valid_shape(ok)) << "ciphertext " << ct;
  }
  for (std::size_t ct : {std::size_t{0}, std::size_t{1}, std::size_t{15}, std::size_t{17},
                         std::size_t{31}, std::size_t{33}, kMaxCiphertextSize - 15,
                         kMaxCiphertextSize + 1, kMaxCiphertextSize + 16}) {
    Envelope bad = e;
    bad.ciphertext.assign(ct, 5);
    EXPECT_FALSE(has_valid_shape(bad)) << "ciphertext " << ct;
  }
  for (const Field& field : kFields) {
    if (field.member == &Envelope::ciphertext) continue;
    const std::size_t right = (e.*field.member).size();
    for (std::size_t size : {std::size_t{0}, right - 1, right + 1, right + 16, 2 * right}) {
      Envelope bad = e;
      (bad.*field.member).assign(size, 7);
      EXPECT_FALSE(has_valid_shape(bad)) << field.name << " of " << size << " bytes";
    }
  }
  EXPECT_FALSE(has_valid_shape(Envelope{}));
  EXPECT_TRUE(has_valid_shape(seal_ok(protocol_uses()[1])));
}

// ---- Pinned randomness ------------------------------------------------------------------

TEST_F(EnvelopeTest, PinnedRandomnessGivesIdenticalEnvelopes) {
  for (const Use& use : protocol_uses()) {
    SCOPED_TRACE(use.name);
    PinnedRandom first(pinned_bytes(9));
    PinnedRandom second(pinned_bytes(9));
    auto a = seal(alice_, bob_.public_key(), use.plaintext, use.purpose, use.context, first);
    auto b = seal(alice_, bob_.public_key(), use.plaintext, use.purpose, use.context, second);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a.value(), b.value());
    // 16 (salt) + 32 (AES key) + 16 (iv_w) + 16 (iv_c) = 80 bytes, not one more or less.
    EXPECT_EQ(first.remaining(), 0u);
    EXPECT_EQ(second.remaining(), 0u);
    // The salt and IVs are the pinned bytes, in the documented order.
    const Bytes pinned = pinned_bytes(9);
    EXPECT_EQ(a.value().salt, Bytes(pinned.begin(), pinned.begin() + 16));
    EXPECT_EQ(a.value().iv_for_wrapped_key, Bytes(pinned.begin() + 48, pinned.begin() + 64));
    EXPECT_EQ(a.value().iv_for_ciphertext, Bytes(pinned.begin() + 64, pinned.begin() + 80));
  }
}

TEST_F(EnvelopeTest, SealDrawsExactly80RandomBytes) {
  const Use use = protocol_uses()[0];
  Bytes short_by_one = pinned_bytes(1);
  short_by_one.pop_back();
  PinnedRandom too_few(short_by_one);
  EXPECT_THROW(
      (void)seal(alice_, bob_.public_key(), use.plaintext, use.purpose, use.context, too_few),
      std::runtime_error);

  Bytes one_extra = pinned_bytes(1);
  one_extra.push_back(0xee);
  PinnedRandom enough(one_extra);
  auto sealed = seal(alice_, bob_.public_key(), use.plaintext, use.purpose, use.context, enough);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(enough.remaining(), 1u);
}

// ---- The construction, recomputed from the primitives ----------------------------------

// LP(x) = uint32_be(len(x)) || x, written out independently of envelope.cc.
void append_lp(Bytes& out, ByteView x) {
  const std::uint32_t n = static_cast<std::uint32_t>(x.size());
  out.push_back(static_cast<std::uint8_t>((n >> 24) & 0xff));
  out.push_back(static_cast<std::uint8_t>((n >> 16) & 0xff));
  out.push_back(static_cast<std::uint8_t>((n >> 8) & 0xff));
  out.push_back(static_cast<std::uint8_t>(n & 0xff));
  out.insert(out.end(), x.begin(), x.end());
}

// docs/PROTOCOL.md section 3, step by step, with the random values given.
Envelope reference_seal(const KeyPair& own, const PublicKey& peer, ByteView plaintext,
                        const std::string& purpose, const Context& context, ByteView random80) {
  EXPECT_EQ(random80.size(), 80u);
  const ByteView salt = random80.subspan(0, 16);
  const ByteView aes_key = random80.subspan(16, 32);
  const ByteView iv_w = random80.subspan(48, 16);
  const ByteView iv_c = random80.subspan(64, 16);
  // 1. Z = ECDH(own_private, peer_public)
  auto z = ecdh(own, peer);
  EXPECT_TRUE(z.ok());
  EXPECT_EQ(z.value().size(), 32u);
  // 3. okm = HKDF-SHA256(IKM = Z, salt, info = "shido/1 " + purpose, L = 64)
  const std::string info = "shido/1 " + purpose;
  auto okm = hkdf_sha256(z.value().view(), salt, as_bytes(info), 64);
  EXPECT_TRUE(okm.ok());
  const ByteView kek = okm.value().view().subspan(0, 32);
  const ByteView mac_key = okm.value().view().subspan(32, 32);
  Envelope e;
  e.salt.assign(salt.begin(), salt.end());
  // 4. wrapped = AES-256-CBC(kek, iv_w, PKCS7(aes_key))
  e.iv_for_wrapped_key.assign(iv_w.begin(), iv_w.end());
  e.wrapped_aes_key = aes_cbc_encrypt(kek, iv_w, aes_key, Padding::kPkcs7).value();
  // 5. ciphertext = AES-256-CBC(aes_key, iv_c, PKCS7(plaintext))
  e.iv_for_ciphertext.assign(iv_c.begin(), iv_c.end());
  e.ciphertext = aes_cbc_encrypt(aes_key, iv_c, plaintext, Padding::kPkcs7).value();
  // 6. mac = HMAC-SHA256(mac_key, LP(purpose) || LP(context_i)... || LP(salt) || LP(iv_w) ||
  //    LP(wrapped) || LP(iv_c) || LP(ciphertext))
  Bytes input;
  append_lp(input, as_bytes(purpose));
  for (const Bytes& item : context) append_lp(input, item);
  append_lp(input, e.salt);
  append_lp(input, e.iv_for_wrapped_key);
  append_lp(input, e.wrapped_aes_key);
  append_lp(input, e.iv_for_ciphertext);
  append_lp(input, e.ciphertext);
  e.mac = hmac_sha256(mac_key, input);
  return e;
}

TEST_F(EnvelopeTest, MatchesTheSpecByteForByte) {
  std::uint8_t seed = 40;
  for (const Use& use : protocol_uses()) {
    SCOPED_TRACE(use.name);
    const Bytes random80 = pinned_bytes(seed++);
    PinnedRandom rng(random80);
    auto sealed = seal(alice_, bob_.public_key(), use.plaintext, use.purpose, use.context, rng);
    ASSERT_TRUE(sealed.ok()) << sealed.error().message;
    const Envelope expected =
        reference_seal(alice_, bob_.public_key(), use.plaintext, use.name, use.context, random80);
    const Envelope& got = sealed.value();
    EXPECT_EQ(to_hex(got.salt), to_hex(expected.salt));
    EXPECT_EQ(to_hex(got.iv_for_wrapped_key), to_hex(expected.iv_for_wrapped_key));
    EXPECT_EQ(to_hex(got.wrapped_aes_key), to_hex(expected.wrapped_aes_key));
    EXPECT_EQ(to_hex(got.iv_for_ciphertext), to_hex(expected.iv_for_ciphertext));
    EXPECT_EQ(to_hex(got.ciphertext), to_hex(expected.ciphertext));
    EXPECT_EQ(to_hex(got.mac), to_hex(expected.mac));
    EXPECT_EQ(got, expected);

    // And an envelope built by the reference alone opens with the library.
    auto opened = bob_opens(expected, use);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    EXPECT_EQ(copy(opened.value()), use.plaintext);
  }
}

TEST_F(EnvelopeTest, ReferenceFromTheRecipientsSideAgrees) {
  // ECDH is symmetric, so the recipient's reference computation (bob's private key,
  // alice's public key) must give the same envelope as alice's seal.
  const Use use = protocol_uses()[1];
  const Bytes random80 = pinned_bytes(77);
  PinnedRandom rng(random80);
  auto sealed = seal(alice_, bob_.public_key(), use.plaintext, use.purpose, use.context, rng);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed.value(), reference_seal(bob_, alice_.public_key(), use.plaintext, "connect",
                                           use.context, random80));
}

}  // namespace
}  // namespace shido
