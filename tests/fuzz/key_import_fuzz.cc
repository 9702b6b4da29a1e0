// Fuzzes key import (shido/crypto/keys.h): the input is given to every import path, as
// text (a public key from the network, a private key file) and as bytes (DER, a private
// scalar), and to the fingerprint a person types. A key that imports must come out as
// itself: its canonical PEM and DER import to the same key, its fingerprint is the
// documented 79 characters and matches, and a key pair's public key belongs to its private
// key (ECDH agrees both ways with a fixed peer).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "shido/bytes.h"
#include "shido/crypto/ecdh.h"
#include "shido/crypto/keys.h"

namespace {

using namespace shido;
using shido::fuzz::check;

// A fixed peer for the ECDH check (the "peer" key of tests/vectors/shido/envelope_vectors.json).
const KeyPair& peer() {
  static const KeyPair key =
      KeyPair::from_private_scalar(
          from_hex("519b423d715f8b581f4fa8ee59f4771a5b44c8130b4e3eacca54a56dda72b464").value())
          .value();
  return key;
}

void check_public_key(const PublicKey& key) {
  auto from_pem = PublicKey::from_pem(key.pem());
  check(from_pem.ok() && from_pem.value() == key, "a key's own PEM imports as the key");
  auto from_der = PublicKey::from_der(key.der());
  check(from_der.ok() && from_der.value() == key, "a key's own DER imports as the key");
  check(from_pem.value().pem() == key.pem(), "a key's PEM is canonical");
  const std::string fingerprint = key.fingerprint();
  check(fingerprint.size() == 79, "a fingerprint is 16 groups of 4 hex digits");
  check(key.has_fingerprint(fingerprint), "a key has its own fingerprint");
}

void check_key_pair(const KeyPair& pair) {
  check_public_key(pair.public_key());
  auto again = KeyPair::from_pkcs8_pem(pair.pkcs8_pem().as_string_view());
  check(again.ok() && again.value().public_key() == pair.public_key(),
        "a key pair's own PKCS#8 imports as the key pair");
  auto ours = ecdh(pair, peer().public_key());
  auto theirs = ecdh(peer(), pair.public_key());
  check(ours.ok() && theirs.ok() && constant_time_equal(ours.value().view(), theirs.value().view()),
        "a key pair's public key belongs to its private key");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const ByteView bytes(data, size);

  if (auto key = PublicKey::from_pem(text); key.ok()) check_public_key(key.value());
  if (auto key = PublicKey::from_der(bytes); key.ok()) check_public_key(key.value());
  if (auto pair = KeyPair::from_pkcs8_pem(text); pair.ok()) check_key_pair(pair.value());
  if (auto pair = KeyPair::from_private_scalar(bytes); pair.ok()) check_key_pair(pair.value());
  (void)peer().public_key().has_fingerprint(text);
  return 0;
}
