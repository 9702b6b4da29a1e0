#include "shido/crypto/ecdh.h"

#include "crypto/key_data.h"
#include "crypto/ossl_ptr.h"

namespace shido {

using internal::OsslPtr;

Result<SecretBytes> ecdh(const KeyPair& own, const PublicKey& peer) {
  OsslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own.data().pkey.get(), nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1)
    return internal::openssl_error("ECDH set-up failed");
  // The peer was fully validated when its PublicKey was made; validating again here would
  // cost a scalar multiplication per message.
  if (EVP_PKEY_derive_set_peer_ex(ctx.get(), peer.data().pkey.get(), /*validate_peer=*/0) != 1) {
    return internal::openssl_error("ECDH peer refused");
  }
  std::size_t size = 0;
  if (EVP_PKEY_derive(ctx.get(), nullptr, &size) != 1 || size != 32) {
    return internal::openssl_error("ECDH size query failed");
  }
  SecretBytes shared(size);
  if (EVP_PKEY_derive(ctx.get(), shared.data(), &size) != 1 || size != 32) {
    return internal::openssl_error("ECDH failed");
  }
  return shared;
}

}  // namespace shido
