// The OpenSSL algorithms the library uses, fetched once per process. Fetching is costly in
// OpenSSL 3 (a lock and a lookup), and these objects are safe to share between threads.
// (MAC and KDF come back non-const because OpenSSL takes them so when making contexts.)
#pragma once

#include <openssl/evp.h>

#include <cstddef>

namespace shido::internal {

const EVP_MD* sha256_md();
EVP_MAC* hmac_mac();
EVP_KDF* hkdf_kdf();
// AES-128/192/256-CBC for a 16/24/32-byte key; nullptr for any other key length.
const EVP_CIPHER* aes_cbc_cipher(std::size_t key_size);

}  // namespace shido::internal
