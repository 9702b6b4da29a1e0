#include "shido/crypto/hkdf.h"

#include "crypto/algorithms.h"
#include "crypto/ossl_ptr.h"

namespace shido {

using internal::OsslPtr;

Result<SecretBytes> hkdf_sha256(ByteView ikm, ByteView salt, ByteView info, std::size_t length) {
  constexpr std::size_t kMaxLength = std::size_t{255} * 32;  // RFC 5869: L <= 255 * HashLen
  if (length == 0 || length > kMaxLength) {
    return Error{Errc::kInvalidArgument, "HKDF output length must be 1 to 8160 bytes"};
  }
  OsslPtr<EVP_KDF_CTX> ctx(EVP_KDF_CTX_new(internal::hkdf_kdf()));
  if (!ctx) return internal::openssl_error("EVP_KDF_CTX_new failed");

  // OSSL_PARAM wants mutable pointers; OpenSSL only reads through them.
  char digest_name[] = "SHA256";
  static std::uint8_t kEmpty = 0;
  auto octets = [](const char* key, ByteView bytes) {
    void* data = bytes.empty() ? &kEmpty : const_cast<std::uint8_t*>(bytes.data());
    return OSSL_PARAM_construct_octet_string(key, data, bytes.size());
  };
  OSSL_PARAM params[5];
  std::size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string("digest", digest_name, 0);
  params[n++] = octets("key", ikm);
  params[n++] = octets("info", info);
  // An absent salt is HashLen zero bytes (RFC 5869 2.2); OpenSSL does that when none is set.
  if (!salt.empty()) params[n++] = octets("salt", salt);
  params[n] = OSSL_PARAM_construct_end();

  SecretBytes okm(length);
  if (EVP_KDF_derive(ctx.get(), okm.data(), okm.size(), params) != 1) {
    return internal::openssl_error("HKDF-SHA256 failed");
  }
  return okm;
}

}  // namespace shido
