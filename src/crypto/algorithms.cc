#include "crypto/algorithms.h"

#include <stdexcept>
#include <string>

#include "crypto/ossl_ptr.h"

namespace shido::internal {
namespace {

// A missing algorithm means a broken OpenSSL installation: a bug at the program's edge,
// not an expected failure, hence the exception.
template <class T>
T* require(T* algorithm, const char* name) {
  if (algorithm == nullptr) {
    throw std::runtime_error(drain_openssl_errors(std::string("OpenSSL lacks ") + name));
  }
  return algorithm;
}

}  // namespace

const EVP_MD* sha256_md() {
  static const OsslPtr<EVP_MD> md(require(EVP_MD_fetch(nullptr, "SHA256", nullptr), "SHA256"));
  return md.get();
}

EVP_MAC* hmac_mac() {
  static const OsslPtr<EVP_MAC> mac(require(EVP_MAC_fetch(nullptr, "HMAC", nullptr), "HMAC"));
  return mac.get();
}

EVP_KDF* hkdf_kdf() {
  static const OsslPtr<EVP_KDF> kdf(require(EVP_KDF_fetch(nullptr, "HKDF", nullptr), "HKDF"));
  return kdf.get();
}

const EVP_CIPHER* aes_cbc_cipher(std::size_t key_size) {
  static const OsslPtr<EVP_CIPHER> aes128(
      require(EVP_CIPHER_fetch(nullptr, "AES-128-CBC", nullptr), "AES-128-CBC"));
  static const OsslPtr<EVP_CIPHER> aes192(
      require(EVP_CIPHER_fetch(nullptr, "AES-192-CBC", nullptr), "AES-192-CBC"));
  static const OsslPtr<EVP_CIPHER> aes256(
      require(EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr), "AES-256-CBC"));
  switch (key_size) {
    case 16:
      return aes128.get();
    case 24:
      return aes192.get();
    case 32:
      return aes256.get();
    default:
      return nullptr;
  }
}

}  // namespace shido::internal
