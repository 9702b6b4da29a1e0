#include "shido/crypto/digest.h"

#include <stdexcept>

#include "crypto/algorithms.h"
#include "crypto/ossl_ptr.h"

namespace shido {

using internal::OsslPtr;

Bytes sha256(ByteView data) {
  Bytes out(kSha256Size);
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &size, internal::sha256_md(), nullptr) !=
      1) {
    throw std::runtime_error(internal::drain_openssl_errors("SHA-256 failed"));
  }
  return out;
}

Bytes hmac_sha256(ByteView key, ByteView data) {
  OsslPtr<EVP_MAC_CTX> ctx(EVP_MAC_CTX_new(internal::hmac_mac()));
  if (!ctx) throw std::runtime_error(internal::drain_openssl_errors("EVP_MAC_CTX_new failed"));
  char digest_name[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string("digest", digest_name, 0),
      OSSL_PARAM_construct_end(),
  };
  // OpenSSL wants a non-null key pointer even for an empty key.
  static const std::uint8_t kEmpty = 0;
  const std::uint8_t* key_data = key.empty() ? &kEmpty : key.data();
  Bytes out(kSha256Size);
  std::size_t size = 0;
  if (EVP_MAC_init(ctx.get(), key_data, key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), out.data(), &size, out.size()) != 1 || size != kSha256Size) {
    throw std::runtime_error(internal::drain_openssl_errors("HMAC-SHA256 failed"));
  }
  return out;
}

}  // namespace shido
