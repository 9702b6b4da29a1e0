// P-256 ECDH against Wycheproof ecdh_secp256r1_test.json, with public keys imported through
// PublicKey::from_der: the same strict path the server uses for keys from the network.
#include "shido/crypto/ecdh.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "shido/crypto/keys.h"
#include "support/test_support.h"

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

TEST(EcdhTest, WycheproofSecp256r1) {
  const Json vectors = test::load_vectors("wycheproof/ecdh_secp256r1_test.json");
  std::size_t count = 0, valid = 0, invalid = 0, acceptable = 0;
  // Acceptable cases by kind: a compressed point, explicit curve parameters, BER oddities.
  std::size_t compressed = 0, explicit_params = 0, asn = 0, other = 0;
  std::vector<int> accepted, refused_by_import, refused_by_ecdh;

  for (const Json& group : vectors.at("testGroups")) {
    ASSERT_EQ(str(group.at("curve")), "secp256r1");
    ASSERT_EQ(str(group.at("encoding")), "asn");
    for (const Json& tc : group.at("tests")) {
      const int id = tc.at("tcId").get<int>();
      SCOPED_TRACE("tcId " + std::to_string(id) + " (" + str(tc.at("comment")) + ")");
      const std::string result = str(tc.at("result"));
      ++count;

      // Every private key in the file is a valid scalar; building it must work.
      auto own = KeyPair::from_private_scalar(test::hex(str(tc.at("private"))));
      ASSERT_TRUE(own.ok()) << own.error().message;

      const Bytes der = test::hex(str(tc.at("public")));
      auto peer = PublicKey::from_der(der);
      Result<SecretBytes> shared = Error{Errc::kInvalidKey, "public key refused"};
      if (peer.ok()) {
        shared = ecdh(own.value(), peer.value());
      } else {
        EXPECT_EQ(peer.error().code, Errc::kInvalidKey) << peer.error().message;
      }

      if (result == "valid") {
        ++valid;
        ASSERT_TRUE(peer.ok()) << peer.error().message;
        ASSERT_TRUE(shared.ok()) << shared.error().message;
        EXPECT_EQ(to_hex(shared.value().view()), str(tc.at("shared")));
        // A key from the network keeps its DER as its identity.
        EXPECT_EQ(peer.value().der(), der);
      } else if (result == "invalid") {
        ++invalid;
        EXPECT_FALSE(peer.ok() && shared.ok())
            << "an invalid public key gave the shared secret " << to_hex(shared.value().view());
      } else if (result == "acceptable") {
        ++acceptable;
        const bool is_compressed =
            has_flag(tc, "CompressedPoint") || has_flag(tc, "CompressedPublic");
        const bool is_explicit = has_flag(tc, "UnnamedCurve");
        if (is_compressed) {
          ++compressed;
        } else if (is_explicit) {
          ++explicit_params;
        } else if (has_flag(tc, "InvalidAsn")) {
          ++asn;
        } else {
          ++other;
        }
        if (peer.ok() && shared.ok()) {
          accepted.push_back(id);
          // Accepting is allowed only with the right answer...
          EXPECT_EQ(to_hex(shared.value().view()), str(tc.at("shared")));
          // ...and protocol.md section 2 allows only the named curve and uncompressed points.
          EXPECT_FALSE(is_compressed) << "a compressed point was accepted";
          EXPECT_FALSE(is_explicit) << "a key with explicit curve parameters was accepted";
        } else if (!peer.ok()) {
          refused_by_import.push_back(id);
        } else {
          refused_by_ecdh.push_back(id);
        }
      } else {
        ADD_FAILURE() << "unexpected result \"" << result << "\"";
      }
    }
  }

  test::report_cases("Wycheproof ECDH secp256r1 (DER public keys)", count,
                     std::to_string(valid) + " valid, " + std::to_string(invalid) + " invalid, " +
                         std::to_string(acceptable) + " acceptable");
  std::cout << "[ KAT      ] ECDH acceptable cases: " << compressed << " compressed point, "
            << explicit_params << " explicit parameters, " << asn << " BER/ASN.1 oddities, "
            << other << " other; accepted " << accepted.size() << " (tcId " << join(accepted)
            << "), refused by from_der " << refused_by_import.size() << ", refused by ecdh "
            << refused_by_ecdh.size() << std::endl;
  EXPECT_GT(count, 0u);
  EXPECT_EQ(count, vectors.at("numberOfTests").get<std::size_t>());
  // The policy cases exist in the file, so the policy checks above really ran.
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
