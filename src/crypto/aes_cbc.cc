#include "shido/crypto/aes_cbc.h"

#include "crypto/algorithms.h"
#include "crypto/ossl_ptr.h"

namespace shido {
namespace {

using internal::OsslPtr;

// Runs one CBC pass. The output buffer type lets decryption land in wiped memory.
template <class Buffer>
Result<Buffer> run_cbc(bool encrypt, ByteView key, ByteView iv, ByteView input, Padding padding) {
  const EVP_CIPHER* cipher = internal::aes_cbc_cipher(key.size());
  if (cipher == nullptr) return Error{Errc::kInvalidArgument, "AES key must be 16, 24 or 32 bytes"};
  if (iv.size() != kAesBlockSize)
    return Error{Errc::kInvalidArgument, "AES-CBC IV must be 16 bytes"};

  OsslPtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return internal::openssl_error("EVP_CIPHER_CTX_new failed");
  if (EVP_CipherInit_ex2(ctx.get(), cipher, key.data(), iv.data(), encrypt ? 1 : 0, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), padding == Padding::kPkcs7 ? 1 : 0) != 1) {
    return internal::openssl_error("AES-CBC set-up failed");
  }

  Buffer out(input.size() + kAesBlockSize);
  int written = 0;
  int final_written = 0;
  const bool ok = EVP_CipherUpdate(ctx.get(), out.data(), &written, input.data(),
                                   static_cast<int>(input.size())) == 1 &&
                  EVP_CipherFinal_ex(ctx.get(), out.data() + written, &final_written) == 1;
  if (!ok) {
    ERR_clear_error();
    if (encrypt) return Error{Errc::kInvalidArgument, "AES-CBC without padding needs whole blocks"};
    // Bad length and bad padding are one error: telling them apart makes a padding oracle.
    return Error{Errc::kAuthenticationFailed, "authentication failed"};
  }
  const auto size = static_cast<std::size_t>(written) + static_cast<std::size_t>(final_written);
  if constexpr (std::is_same_v<Buffer, Bytes>) {
    out.resize(size);
    return out;
  } else {
    return Buffer(ByteView(out.data(), size));
  }
}

}  // namespace

Result<Bytes> aes_cbc_encrypt(ByteView key, ByteView iv, ByteView plaintext, Padding padding) {
  if (plaintext.size() > (1u << 30)) return Error{Errc::kInvalidArgument, "AES-CBC input too long"};
  return run_cbc<Bytes>(true, key, iv, plaintext, padding);
}

Result<SecretBytes> aes_cbc_decrypt(ByteView key, ByteView iv, ByteView ciphertext,
                                    Padding padding) {
  if (ciphertext.size() > (1u << 30))
    return Error{Errc::kAuthenticationFailed, "authentication failed"};
  return run_cbc<SecretBytes>(false, key, iv, ciphertext, padding);
}

}  // namespace shido
