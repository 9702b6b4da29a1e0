// RAII owners for the OpenSSL TLS types (libssl) and certificates, beside those of
// ossl_ptr.h.
// Internal: public headers never mention OpenSSL.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "crypto/ossl_ptr.h"

namespace shido::internal {

template <>
struct OsslDeleter<SSL_CTX> {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
template <>
struct OsslDeleter<SSL> {
  void operator()(SSL* p) const { SSL_free(p); }
};
template <>
struct OsslDeleter<X509> {
  void operator()(X509* p) const { X509_free(p); }
};

}  // namespace shido::internal
