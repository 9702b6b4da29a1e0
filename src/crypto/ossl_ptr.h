// One RAII owner for every OpenSSL type the library uses, and OpenSSL error draining.
// Internal: public headers never mention OpenSSL.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>

#include <memory>
#include <string>
#include <string_view>

#include "shido/result.h"

namespace shido::internal {

template <class T>
struct OsslDeleter;

// Type is a type name, where parentheses would not compile.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define SHIDO_OSSL_DELETER(Type, free_fn)          \
  template <>                                      \
  struct OsslDeleter<Type> {                       \
    void operator()(Type* p) const { free_fn(p); } \
  }
// NOLINTEND(bugprone-macro-parentheses)

SHIDO_OSSL_DELETER(EVP_PKEY, EVP_PKEY_free);
SHIDO_OSSL_DELETER(EVP_PKEY_CTX, EVP_PKEY_CTX_free);
SHIDO_OSSL_DELETER(EVP_CIPHER, EVP_CIPHER_free);
SHIDO_OSSL_DELETER(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free);
SHIDO_OSSL_DELETER(EVP_MD, EVP_MD_free);
SHIDO_OSSL_DELETER(EVP_MAC, EVP_MAC_free);
SHIDO_OSSL_DELETER(EVP_MAC_CTX, EVP_MAC_CTX_free);
SHIDO_OSSL_DELETER(EVP_KDF, EVP_KDF_free);
SHIDO_OSSL_DELETER(EVP_KDF_CTX, EVP_KDF_CTX_free);
SHIDO_OSSL_DELETER(BIO, BIO_free_all);
SHIDO_OSSL_DELETER(BIO_METHOD, BIO_meth_free);
SHIDO_OSSL_DELETER(BIGNUM, BN_clear_free);  // BIGNUMs may hold private scalars
SHIDO_OSSL_DELETER(BN_CTX, BN_CTX_free);
SHIDO_OSSL_DELETER(EC_GROUP, EC_GROUP_free);
SHIDO_OSSL_DELETER(EC_POINT, EC_POINT_free);
SHIDO_OSSL_DELETER(OSSL_PARAM_BLD, OSSL_PARAM_BLD_free);
SHIDO_OSSL_DELETER(OSSL_PARAM, OSSL_PARAM_free);

#undef SHIDO_OSSL_DELETER

template <class T>
using OsslPtr = std::unique_ptr<T, OsslDeleter<T>>;

// Memory that OpenSSL allocated with OPENSSL_malloc (e.g. PEM_read_bio's outputs).
struct OpensslFree {
  void operator()(void* p) const { OPENSSL_free(p); }
};
template <class T>
using OpensslBuffer = std::unique_ptr<T, OpensslFree>;

// Empties OpenSSL's thread-local error queue into "what: reason; reason".
std::string drain_openssl_errors(std::string_view what);

// An Error of kind kCrypto carrying the drained OpenSSL errors.
Error openssl_error(std::string_view what);

}  // namespace shido::internal
