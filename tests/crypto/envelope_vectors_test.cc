// The envelope against vectors computed by an independent implementation
// (tests/vectors/shido/make_envelope_vectors.py, pyca/cryptography): with the same keys and
// pinned randomness, seal must give the same bytes, and open must give the plaintext back.
#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "shido/crypto/ecdh.h"
#include "shido/crypto/envelope.h"
#include "shido/crypto/hkdf.h"
#include "shido/protocol/text_message.h"
#include "support/test_support.h"
#include "support/vectors.h"

namespace shido {
namespace {

using test::hex;

Purpose purpose_from(const std::string& name) {
  if (name == "register") return Purpose::kRegister;
  if (name == "connect") return Purpose::kConnect;
  return Purpose::kMessage;
}

// The file's vectors, one per purpose, named "envelope_vectors_<purpose>".
const test::VectorSet& envelope_vectors() {
  static const test::VectorSet vectors = test::load_cases(
      "shido/envelope_vectors.json",
      [](const std::shared_ptr<const Json>& file, std::vector<test::VectorCase>& out) {
        for (const Json& vector : file->at("vectors")) {
          out.push_back({"envelope_vectors_" + vector.at("purpose").get<std::string>(), 0, nullptr,
                         test::part_of(file, vector)});
        }
      });
  return vectors;
}

// One test per vector, e.g. Shido/EnvelopeVectorTest.SealMatchesIndependentImplementation/
// envelope_vectors_register.
using EnvelopeVectorTest = ::testing::TestWithParam<test::VectorCase>;

TEST_P(EnvelopeVectorTest, SealMatchesIndependentImplementation) {
  const Json& vector = *GetParam().test;
  const std::string purpose_text = vector.at("purpose");
  SCOPED_TRACE("purpose " + purpose_text);
  auto own = KeyPair::from_private_scalar(hex(vector.at("own_private_scalar").get<std::string>()));
  auto peer =
      KeyPair::from_private_scalar(hex(vector.at("peer_private_scalar").get<std::string>()));
  ASSERT_TRUE(own.ok() && peer.ok());
  EXPECT_EQ(own.value().public_key().pem(), vector.at("own_public_key_pem").get<std::string>());
  EXPECT_EQ(peer.value().public_key().pem(), vector.at("peer_public_key_pem").get<std::string>());
  EXPECT_EQ(own.value().public_key().fingerprint(),
            vector.at("own_fingerprint").get<std::string>());

  auto shared = ecdh(own.value(), peer.value().public_key());
  ASSERT_TRUE(shared.ok());
  EXPECT_EQ(to_hex(shared.value().view()), vector.at("shared_secret").get<std::string>());
  auto okm = hkdf_sha256(shared.value().view(), hex(vector.at("salt").get<std::string>()),
                         as_bytes("shido/1 " + purpose_text), 64);
  ASSERT_TRUE(okm.ok());
  EXPECT_EQ(to_hex(okm.value().view()), vector.at("okm").get<std::string>());

  Context context;
  for (const Json& item : vector.at("context")) context.push_back(hex(item.get<std::string>()));
  const Bytes plaintext = hex(vector.at("plaintext").get<std::string>());
  test::PinnedRandom rng(hex(vector.at("random").get<std::string>()));
  auto sealed = seal(own.value(), peer.value().public_key(), plaintext, purpose_from(purpose_text),
                     context, rng);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(rng.remaining(), 0u);
  const Envelope& envelope = sealed.value();
  EXPECT_EQ(to_hex(envelope.salt), vector.at("salt").get<std::string>());
  EXPECT_EQ(to_hex(envelope.iv_for_wrapped_key),
            vector.at("iv_for_wrapped_key").get<std::string>());
  EXPECT_EQ(to_hex(envelope.wrapped_aes_key), vector.at("wrapped_aes_key").get<std::string>());
  EXPECT_EQ(to_hex(envelope.iv_for_ciphertext), vector.at("iv_for_ciphertext").get<std::string>());
  EXPECT_EQ(to_hex(envelope.ciphertext), vector.at("ciphertext").get<std::string>());
  EXPECT_EQ(to_hex(envelope.mac), vector.at("mac").get<std::string>());

  // The recipient opens it with its own key and the sender's public key.
  auto opened =
      open(peer.value(), own.value().public_key(), envelope, purpose_from(purpose_text), context);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(to_hex(opened.value().view()), vector.at("plaintext").get<std::string>());
}

INSTANTIATE_TEST_SUITE_P(Shido, EnvelopeVectorTest, ::testing::ValuesIn(envelope_vectors().cases),
                         test::case_name);

TEST(EnvelopeVectors, CaseCount) {
  const test::VectorSet& vectors = envelope_vectors();
  ASSERT_TRUE(test::loaded(vectors));
  const std::size_t count = vectors.cases.size();
  test::report_cases("shido envelope vectors", count);
  EXPECT_EQ(count, 3u);
  EXPECT_EQ(test::registered_tests("Shido/EnvelopeVectorTest"), count);
}

TEST(EnvelopeVectors, TextMessagePlaintextMatchesVector) {
  const Json file = test::load_vectors("shido/envelope_vectors.json");
  const Json& vector = file.at("vectors").at(2);
  ASSERT_EQ(vector.at("purpose"), "message");
  auto encoded = encode_text_message({"שלום, Shido ✓", 1795734000000});
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(to_hex(encoded.value().view()), vector.at("plaintext").get<std::string>());
}

}  // namespace
}  // namespace shido
