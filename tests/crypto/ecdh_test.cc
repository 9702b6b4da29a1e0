// P-256 ECDH against Wycheproof ecdh_secp256r1_test.json, with public keys imported through
// PublicKey::from_der: the same strict path the server uses for keys from the network.
#include "shido/crypto/ecdh.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "shido/crypto/keys.h"
#include "support/test_support.h"
#include "support/vectors.h"

namespace shido {
namespace {

std::string str(const Json& value) { return value.get<std::string>(); }

bool has_flag(const Json& tc, std::string_view flag) {
  for (const Json& f : tc.at("flags")) {
    if (f.get<std::string>() == flag) return true;
  }
  return false;
}

std::string join(const std::vector<int>& ids) {
  std::string out;
  for (int id : ids) out += (out.empty() ? "" : " ") + std::to_string(id);
  return out.empty() ? "none" : out;
}

// The order n of P-256, big-endian.
const char kOrderHex[] = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

const test::VectorSet& wycheproof_vectors() {
  static const test::VectorSet vectors =
      test::load_wycheproof("wycheproof/ecdh_secp256r1_test.json");
  return vectors;
}

// What Shido makes of one case: its own key from the private scalar, the peer's key imported
// with PublicKey::from_der, and the shared secret of the two (an error when either failed).
struct EcdhRun {
  Result<KeyPair> own;
  Bytes der;
  Result<PublicKey> peer;
  Result<SecretBytes> shared;

  bool accepted() const { return peer.ok() && shared.ok(); }
};

EcdhRun run_case(const Json& tc) {
  auto own = KeyPair::from_private_scalar(test::hex(str(tc.at("private"))));
  Bytes der = test::hex(str(tc.at("public")));
  auto peer = PublicKey::from_der(der);
  Result<SecretBytes> shared = Error{Errc::kInvalidKey, "public key refused"};
  if (own.ok() && peer.ok()) shared = ecdh(own.value(), peer.value());
  return {std::move(own), std::move(der), std::move(peer), std::move(shared)};
}

bool is_compressed(const Json& tc) {
  return has_flag(tc, "CompressedPoint") || has_flag(tc, "CompressedPublic");
}

bool is_explicit(const Json& tc) { return has_flag(tc, "UnnamedCurve"); }

// One test per Wycheproof case, e.g. Wycheproof/EcdhWycheproofTest.Case/ecdh_secp256r1_test_tcid7.
using EcdhWycheproofTest = ::testing::TestWithParam<test::VectorCase>;

TEST_P(EcdhWycheproofTest, Case) {
  const Json& group = *GetParam().group;
  const Json& tc = *GetParam().test;
  SCOPED_TRACE("tcId " + std::to_string(GetParam().tc_id) + " (" + str(tc.at("comment")) + ")");
  ASSERT_EQ(str(group.at("curve")), "secp256r1");
  ASSERT_EQ(str(group.at("encoding")), "asn");
  const std::string result = str(tc.at("result"));

  const EcdhRun run = run_case(tc);
  // Every private key in the file is a valid scalar; building it must work.
  ASSERT_TRUE(run.own.ok()) << run.own.error().message;
  if (!run.peer.ok()) {
    EXPECT_EQ(run.peer.error().code, Errc::kInvalidKey) << run.peer.error().message;
  }

  if (result == "valid") {
    ASSERT_TRUE(run.peer.ok()) << run.peer.error().message;
    ASSERT_TRUE(run.shared.ok()) << run.shared.error().message;
    EXPECT_EQ(to_hex(run.shared.value().view()), str(tc.at("shared")));
    // A key from the network keeps its DER as its identity.
    EXPECT_EQ(run.peer.value().der(), run.der);
  } else if (result == "invalid") {
    EXPECT_FALSE(run.accepted()) << "an invalid public key gave the shared secret "
                                 << to_hex(run.shared.value().view());
  } else if (result == "acceptable") {
    if (run.accepted()) {
      // Accepting is allowed only with the right answer...
      EXPECT_EQ(to_hex(run.shared.value().view()), str(tc.at("shared")));
      // ...and docs/PROTOCOL.md section 2 allows only the named curve and uncompressed points.
      EXPECT_FALSE(is_compressed(tc)) << "a compressed point was accepted";
      EXPECT_FALSE(is_explicit(tc)) << "a key with explicit curve parameters was accepted";
    }
    // Shido's import is strict DER of exactly one SPKI shape: nothing acceptable gets through.
    EXPECT_FALSE(run.accepted()) << "an acceptable case was accepted";
  } else {
    ADD_FAILURE() << "unexpected result \"" << result << "\"";
  }
}

INSTANTIATE_TEST_SUITE_P(Wycheproof, EcdhWycheproofTest,
                         ::testing::ValuesIn(wycheproof_vectors().cases), test::case_name);

// The file loaded whole, every case became a test, and the policy cases are there; prints
// the [ KAT ] summary lines, including what became of the acceptable cases.
TEST(EcdhTest, WycheproofSecp256r1CaseCount) {
  const test::VectorSet& vectors = wycheproof_vectors();
  ASSERT_TRUE(test::loaded(vectors));
  const std::size_t count = vectors.cases.size();
  const test::ResultCounts results = test::count_results(vectors);
  // Acceptable cases by kind: a compressed point, explicit curve parameters, BER oddities.
  std::size_t compressed = 0, explicit_params = 0, asn = 0, other = 0;
  std::vector<int> accepted, refused_by_import, refused_by_ecdh;
  for (const test::VectorCase& vector_case : vectors.cases) {
    const Json& tc = *vector_case.test;
    if (str(tc.at("result")) != "acceptable") continue;
    if (is_compressed(tc)) {
      ++compressed;
    } else if (is_explicit(tc)) {
      ++explicit_params;
    } else if (has_flag(tc, "InvalidAsn")) {
      ++asn;
    } else {
      ++other;
    }
    const EcdhRun run = run_case(tc);
    if (run.accepted()) {
      accepted.push_back(vector_case.tc_id);
    } else if (!run.peer.ok()) {
      refused_by_import.push_back(vector_case.tc_id);
    } else {
      refused_by_ecdh.push_back(vector_case.tc_id);
    }
  }

  test::report_cases("Wycheproof ECDH secp256r1 (DER public keys)", count, test::describe(results));
  std::cout << "[ KAT      ] ECDH acceptable cases: " << compressed << " compressed point, "
            << explicit_params << " explicit parameters, " << asn << " BER/ASN.1 oddities, "
            << other << " other; accepted " << accepted.size() << " (tcId " << join(accepted)
            << "), refused by from_der " << refused_by_import.size() << ", refused by ecdh "
            << refused_by_ecdh.size() << std::endl;
  EXPECT_GT(count, 0u);
  EXPECT_EQ(count, vectors.file->at("numberOfTests").get<std::size_t>());
  EXPECT_EQ(test::registered_tests("Wycheproof/EcdhWycheproofTest"), count);
  EXPECT_EQ(results.other, 0u) << "cases whose result is not valid, invalid or acceptable";
  // The policy cases exist in the file, so the policy checks of the per-case tests really ran.
  EXPECT_GT(compressed, 0u);
  EXPECT_GT(explicit_params, 0u);
  // Shido's import is strict DER of exactly one SPKI shape: nothing acceptable gets through.
  EXPECT_TRUE(accepted.empty()) << "accepted tcId " << join(accepted);
}

TEST(EcdhTest, BothSidesAgree) {
  const KeyPair alice = KeyPair::generate();
  const KeyPair bob = KeyPair::generate();
  auto ab = ecdh(alice, bob.public_key());
  auto ba = ecdh(bob, alice.public_key());
  ASSERT_TRUE(ab.ok()) << ab.error().message;
  ASSERT_TRUE(ba.ok()) << ba.error().message;
  EXPECT_EQ(ab.value().size(), 32u);
  EXPECT_EQ(to_hex(ab.value().view()), to_hex(ba.value().view()));

  const KeyPair carol = KeyPair::generate();
  auto ac = ecdh(alice, carol.public_key());
  ASSERT_TRUE(ac.ok());
  EXPECT_NE(to_hex(ab.value().view()), to_hex(ac.value().view()));
}

TEST(EcdhTest, ScalarOneGivesThePeersX) {
  // 1 * P = P, so the shared secret is the x-coordinate of the peer's point, which sits in
  // bytes 27..58 of the DER (26-byte SPKI prefix, then 0x04 || X || Y).
  auto one = KeyPair::from_private_scalar(Bytes{0x01});
  ASSERT_TRUE(one.ok()) << one.error().message;
  const KeyPair peer = KeyPair::generate();
  auto shared = ecdh(one.value(), peer.public_key());
  ASSERT_TRUE(shared.ok());
  const Bytes& der = peer.public_key().der();
  ASSERT_EQ(der.size(), 91u);
  EXPECT_EQ(to_hex(shared.value().view()), to_hex(ByteView(der).subspan(27, 32)));

  // And the public key of scalar 1 is the generator G of P-256.
  EXPECT_EQ(to_hex(ByteView(one.value().public_key().der()).subspan(26)),
            "04"
            "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
            "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
}

TEST(EcdhTest, PrivateScalarRange) {
  const Bytes order = test::hex(kOrderHex);
  Bytes order_minus_one = order;
  order_minus_one.back() -= 1;  // ...51 -> ...50, no borrow

  auto top = KeyPair::from_private_scalar(order_minus_one);
  ASSERT_TRUE(top.ok()) << top.error().message;
  // (n-1) * G = -G: the same x as G.
  auto g = KeyPair::from_private_scalar(Bytes{0x01});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(to_hex(ByteView(top.value().public_key().der()).subspan(27, 32)),
            to_hex(ByteView(g.value().public_key().der()).subspan(27, 32)));

  // A leading zero byte (33 bytes) is the same scalar.
  Bytes padded = {0x00};
  padded.insert(padded.end(), order_minus_one.begin(), order_minus_one.end());
  auto same = KeyPair::from_private_scalar(padded);
  ASSERT_TRUE(same.ok()) << same.error().message;
  EXPECT_EQ(same.value().public_key(), top.value().public_key());

  Bytes order_plus_one = order;
  order_plus_one.back() += 1;
  for (const Bytes& bad : {Bytes{}, Bytes{0x00}, Bytes(32, 0x00), order, order_plus_one,
                           Bytes(32, 0xff), Bytes(34, 0x01)}) {
    SCOPED_TRACE("scalar " + to_hex(bad));
    auto refused = KeyPair::from_private_scalar(bad);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, Errc::kInvalidKey);
  }
}

}  // namespace
}  // namespace shido
