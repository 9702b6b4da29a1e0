// What stands behind PublicKey and KeyPair: the OpenSSL key, and for public keys the
// encodings computed once at import.
#pragma once

#include <string>

#include "crypto/ossl_ptr.h"
#include "shido/bytes.h"

namespace shido {

struct PublicKeyData {
  internal::OsslPtr<EVP_PKEY> pkey;
  Bytes der;                // canonical SubjectPublicKeyInfo
  std::string pem;          // canonical PEM of der
  std::string fingerprint;  // grouped hex of SHA-256(der)
};

struct PrivateKeyData {
  internal::OsslPtr<EVP_PKEY> pkey;
};

}  // namespace shido
