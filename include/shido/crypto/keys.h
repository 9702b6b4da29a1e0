// P-256 keys. A PublicKey is always a validated point on P-256; a KeyPair holds a
// private key and its public key. Both are cheap to copy (they share an immutable key).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "shido/bytes.h"

namespace shido {

struct PublicKeyData;
struct PrivateKeyData;

// Most bytes of PEM SubjectPublicKeyInfo text accepted from the network.
inline constexpr std::size_t kMaxPublicKeyPem = 1024;

class PublicKey {
 public:
  // Parses PEM SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----") and validates it
  // strictly: the named curve prime256v1 (no explicit parameters), the uncompressed point
  // encoding, a point on the curve, not infinity, no trailing data, at most
  // kMaxPublicKeyPem bytes. This is the one import path for keys from the network.
  // Fails with kInvalidKey.
  static Result<PublicKey> from_pem(std::string_view pem);

  // The same validation for DER SubjectPublicKeyInfo bytes.
  static Result<PublicKey> from_der(ByteView der);

  // DER SubjectPublicKeyInfo: the key's identity (keys compare by it).
  const Bytes& der() const;
  // Canonical PEM of der(), with a final newline.
  std::string pem() const;
  // SHA-256 of der() as 64 lower-case hex digits in 16 groups of 4 separated by spaces.
  std::string fingerprint() const;
  // True when `typed` is this key's fingerprint however a person wrote it down: spaces,
  // colons and letter case do not matter, but all 64 digits must be there.
  bool has_fingerprint(std::string_view typed) const;

  friend bool operator==(const PublicKey& a, const PublicKey& b) { return a.der() == b.der(); }

  // For the library's own use (the OpenSSL key inside).
  const PublicKeyData& data() const { return *data_; }

 private:
  explicit PublicKey(std::shared_ptr<const PublicKeyData> data) : data_(std::move(data)) {}
  std::shared_ptr<const PublicKeyData> data_;
};

class KeyPair {
 public:
  // A fresh key pair from the system CSPRNG.
  static KeyPair generate();

  // Parses an unencrypted PKCS#8 PEM private key ("-----BEGIN PRIVATE KEY-----") on
  // P-256 and checks it. Fails with kInvalidKey.
  static Result<KeyPair> from_pkcs8_pem(std::string_view pem);

  // Builds a key pair from a big-endian private scalar (1 to 33 bytes, as test vectors
  // give them; the value must lie in [1, n-1]). Fails with kInvalidKey.
  static Result<KeyPair> from_private_scalar(ByteView scalar);

  // PKCS#8 PEM of the private key: a secret.
  SecretBytes pkcs8_pem() const;

  const PublicKey& public_key() const { return public_key_; }

  // For the library's own use (the OpenSSL key inside; PrivateKeyData is opaque outside
  // the library, so nobody else can make one).
  const PrivateKeyData& data() const { return *data_; }
  KeyPair(std::shared_ptr<const PrivateKeyData> data, PublicKey public_key)
      : data_(std::move(data)), public_key_(std::move(public_key)) {}

 private:
  std::shared_ptr<const PrivateKeyData> data_;
  PublicKey public_key_;
};

// Reads a private key file written by save_private_key. Refuses (kInvalidKey) a file that
// the group or others can read or write, and fails with kNotFound when it is absent.
Result<KeyPair> load_private_key(const std::string& path);

// Writes the key as PKCS#8 PEM with mode 0600, atomically: a temporary file in the same
// directory, fsync, then rename over path.
Status save_private_key(const KeyPair& key, const std::string& path);

}  // namespace shido
