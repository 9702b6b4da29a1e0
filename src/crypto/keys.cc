#include "shido/crypto/keys.h"

#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "crypto/key_data.h"
#include "crypto/ossl_ptr.h"
#include "shido/base64.h"
#include "shido/crypto/digest.h"
#include "shido/files.h"

namespace shido {
namespace {

using internal::OsslPtr;

constexpr std::size_t kPointSize = 65;  // 0x04 || X || Y
constexpr std::size_t kCoordinateSize = 32;

// DER of SubjectPublicKeyInfo { id-ecPublicKey, prime256v1 } up to the BIT STRING's
// content. A P-256 key with the named curve and an uncompressed point is exactly these 26
// bytes followed by the 65-byte point; anything else (explicit parameters, another curve,
// a compressed point, trailing bytes) is refused by comparing against this.
constexpr std::array<std::uint8_t, 26> kSpkiPrefix = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
constexpr std::size_t kSpkiSize = kSpkiPrefix.size() + kPointSize;

char kGroupName[] = "prime256v1";

Error invalid_key(std::string message) {
  ERR_clear_error();
  return {Errc::kInvalidKey, std::move(message)};
}

std::string grouped_hex(ByteView digest) {
  const std::string hex = to_hex(digest);
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 4) {
    if (i != 0) out += ' ';
    out.append(hex, i, 4);
  }
  return out;
}

std::string pem_armor(std::string_view label, ByteView der) {
  const std::string body = base64_encode(der);
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (std::size_t i = 0; i < body.size(); i += 64) out += body.substr(i, 64) + "\n";
  out += "-----END " + std::string(label) + "-----\n";
  return out;
}

// The single PEM block in text with the given label, as DER. Only white space may
// surround it.
Result<SecretBytes> pem_unarmor(std::string_view text, const char* label) {
  // PEM_read_bio skips any text before the block; we accept only white space there.
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos || text.substr(begin).rfind("-----BEGIN ", 0) != 0) {
    return invalid_key("not PEM text (it must start with -----BEGIN)");
  }
  OsslPtr<BIO> bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) return internal::openssl_error("BIO_new_mem_buf failed");
  char* raw_name = nullptr;
  char* raw_header = nullptr;
  unsigned char* raw_data = nullptr;
  long size = 0;
  const int ok = PEM_read_bio(bio.get(), &raw_name, &raw_header, &raw_data, &size);
  internal::OpensslBuffer<char> name(raw_name);
  internal::OpensslBuffer<char> header(raw_header);
  internal::OpensslBuffer<unsigned char> data(raw_data);
  if (ok != 1 || size <= 0) return invalid_key("not PEM text");
  SecretBytes der(ByteView(data.get(), static_cast<std::size_t>(size)));
  OPENSSL_cleanse(data.get(), static_cast<std::size_t>(size));
  if (std::string_view(name.get()) != label) {
    return invalid_key("PEM holds a " + std::string(name.get()) + ", not a " + label);
  }
  if (header && header.get()[0] != '\0') return invalid_key("PEM headers are not allowed");
  char rest = 0;
  while (BIO_read(bio.get(), &rest, 1) == 1) {
    if (!std::isspace(static_cast<unsigned char>(rest)))
      return invalid_key("data after the PEM block");
  }
  return der;
}

// An EC key on P-256 from an uncompressed point and, for a key pair, the private scalar.
Result<OsslPtr<EVP_PKEY>> ec_key_from_params(ByteView point, const BIGNUM* scalar) {
  OsslPtr<OSSL_PARAM_BLD> builder(OSSL_PARAM_BLD_new());
  if (!builder) return internal::openssl_error("OSSL_PARAM_BLD_new failed");
  if (OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, kGroupName, 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1 ||
      (scalar != nullptr &&
       OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_PRIV_KEY, scalar) != 1)) {
    return internal::openssl_error("building key parameters failed");
  }
  OsslPtr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(builder.get()));
  OsslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) {
    return internal::openssl_error("EVP_PKEY_fromdata set-up failed");
  }
  EVP_PKEY* raw = nullptr;
  const int selection = scalar != nullptr ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
  // fromdata decodes the point and refuses one that is not on the curve.
  if (EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1) {
    return invalid_key("not a point on P-256");
  }
  OsslPtr<EVP_PKEY> pkey(raw);
  // The quick check: on the curve and not infinity. P-256 has cofactor 1, so every such
  // point has the full order and the costly order check adds nothing.
  OsslPtr<EVP_PKEY_CTX> check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check_quick(check.get()) != 1)
    return invalid_key("not a valid P-256 point");
  return pkey;
}

// The uncompressed point of an EC key, whatever form the key was stored in.
Result<Bytes> uncompressed_point(const EVP_PKEY* pkey) {
  BIGNUM* raw_x = nullptr;
  BIGNUM* raw_y = nullptr;
  const bool ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &raw_x) == 1 &&
                  EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &raw_y) == 1;
  OsslPtr<BIGNUM> x(raw_x);
  OsslPtr<BIGNUM> y(raw_y);
  if (!ok) return internal::openssl_error("reading the public point failed");
  Bytes point(kPointSize);
  point[0] = 0x04;
  if (BN_bn2binpad(x.get(), point.data() + 1, kCoordinateSize) != kCoordinateSize ||
      BN_bn2binpad(y.get(), point.data() + 1 + kCoordinateSize, kCoordinateSize) !=
          kCoordinateSize) {
    return invalid_key("public point coordinates too large");
  }
  return point;
}

bool is_p256(const EVP_PKEY* pkey) {
  char group[64] = {};
  std::size_t size = 0;
  return EVP_PKEY_is_a(pkey, "EC") == 1 &&
         EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                        &size) == 1 &&
         std::string_view(group, size) == kGroupName;
}

}  // namespace

// ---- PublicKey ------------------------------------------------------------------------

Result<PublicKey> PublicKey::from_der(ByteView der) {
  if (der.size() != kSpkiSize || !std::equal(kSpkiPrefix.begin(), kSpkiPrefix.end(), der.begin())) {
    return invalid_key("not an uncompressed P-256 public key with the named curve");
  }
  auto pkey = ec_key_from_params(der.subspan(kSpkiPrefix.size()), nullptr);
  if (!pkey.ok()) return pkey.error();
  auto data = std::make_shared<PublicKeyData>();
  data->pkey = std::move(pkey).value();
  data->der.assign(der.begin(), der.end());
  data->pem = pem_armor("PUBLIC KEY", data->der);
  data->fingerprint = grouped_hex(sha256(data->der));
  return PublicKey(std::move(data));
}

Result<PublicKey> PublicKey::from_pem(std::string_view pem) {
  if (pem.size() > kMaxPublicKeyPem) return invalid_key("public key PEM longer than 1024 bytes");
  auto der = pem_unarmor(pem, "PUBLIC KEY");
  if (!der.ok()) return der.error();
  return from_der(der.value().view());
}

const Bytes& PublicKey::der() const { return data_->der; }
std::string PublicKey::pem() const { return data_->pem; }
std::string PublicKey::fingerprint() const { return data_->fingerprint; }

bool PublicKey::has_fingerprint(std::string_view typed) const {
  std::string digits;
  for (const char c : typed) {
    if (c == ' ' || c == ':') continue;
    digits += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return digits == to_hex(sha256(der()));
}

// ---- KeyPair --------------------------------------------------------------------------

namespace {

Result<KeyPair> key_pair_from_pkey(OsslPtr<EVP_PKEY> pkey);

}  // namespace

KeyPair KeyPair::generate() {
  OsslPtr<EVP_PKEY> pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", kGroupName));
  if (!pkey)
    throw std::runtime_error(internal::drain_openssl_errors("P-256 key generation failed"));
  auto pair = key_pair_from_pkey(std::move(pkey));
  if (!pair.ok()) throw std::runtime_error(pair.error().message);
  return std::move(pair).value();
}

Result<KeyPair> KeyPair::from_pkcs8_pem(std::string_view pem) {
  auto der = pem_unarmor(pem, "PRIVATE KEY");
  if (!der.ok()) return der.error();
  const unsigned char* cursor = der.value().data();
  OsslPtr<EVP_PKEY> pkey(
      d2i_AutoPrivateKey(nullptr, &cursor, static_cast<long>(der.value().size())));
  if (!pkey) return invalid_key("not a PKCS#8 private key");
  if (cursor != der.value().data() + der.value().size())
    return invalid_key("data after the private key");
  if (!is_p256(pkey.get())) return invalid_key("private key is not on P-256");
  // OpenSSL takes the public key that a PKCS#8 key carries as it comes, so a file damaged
  // in its private scalar would make a key pair whose halves do not belong together
  // (tests/fuzz/key_import_fuzz.cc found it). The full check also bounds the scalar.
  OsslPtr<EVP_PKEY_CTX> check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check) return internal::openssl_error("EVP_PKEY_CTX_new_from_pkey failed");
  if (EVP_PKEY_check(check.get()) != 1) {
    return invalid_key("the private key does not match its public key (the key is damaged)");
  }
  return key_pair_from_pkey(std::move(pkey));
}

Result<KeyPair> KeyPair::from_private_scalar(ByteView scalar) {
  if (scalar.empty() || scalar.size() > kCoordinateSize + 1) {
    return invalid_key("a P-256 private scalar has 1 to 33 bytes");
  }
  OsslPtr<BIGNUM> d(BN_secure_new());
  OsslPtr<EC_GROUP> group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  OsslPtr<BN_CTX> bn_ctx(BN_CTX_secure_new());
  if (!d || !group || !bn_ctx) return internal::openssl_error("EC set-up failed");
  if (BN_bin2bn(scalar.data(), static_cast<int>(scalar.size()), d.get()) == nullptr) {
    return internal::openssl_error("BN_bin2bn failed");
  }
  if (BN_is_zero(d.get()) || BN_cmp(d.get(), EC_GROUP_get0_order(group.get())) >= 0) {
    return invalid_key("private scalar out of range");
  }
  OsslPtr<EC_POINT> q(EC_POINT_new(group.get()));
  Bytes point(kPointSize);
  if (!q || EC_POINT_mul(group.get(), q.get(), d.get(), nullptr, nullptr, bn_ctx.get()) != 1 ||
      EC_POINT_point2oct(group.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, point.data(),
                         point.size(), bn_ctx.get()) != kPointSize) {
    return internal::openssl_error("computing the public point failed");
  }
  auto pkey = ec_key_from_params(point, d.get());
  if (!pkey.ok()) return pkey.error();
  return key_pair_from_pkey(std::move(pkey).value());
}

SecretBytes KeyPair::pkcs8_pem() const {
  // A secure-memory BIO: OpenSSL wipes it when it is freed.
  OsslPtr<BIO> bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), data_->pkey.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    throw std::runtime_error(internal::drain_openssl_errors("writing the private key failed"));
  }
  char* text = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &text);
  return SecretBytes(
      ByteView(reinterpret_cast<const std::uint8_t*>(text), static_cast<std::size_t>(size)));
}

namespace {

Result<KeyPair> key_pair_from_pkey(OsslPtr<EVP_PKEY> pkey) {
  auto point = uncompressed_point(pkey.get());
  if (!point.ok()) return point.error();
  Bytes der(kSpkiPrefix.begin(), kSpkiPrefix.end());
  der.insert(der.end(), point.value().begin(), point.value().end());
  auto public_key = PublicKey::from_der(der);
  if (!public_key.ok()) return public_key.error();
  auto data = std::make_shared<PrivateKeyData>();
  data->pkey = std::move(pkey);
  return KeyPair(std::move(data), std::move(public_key).value());
}

}  // namespace

// ---- Files ----------------------------------------------------------------------------

Result<KeyPair> load_private_key(const std::string& path) {
  auto text = read_private_file(path, std::size_t{64} * 1024);
  if (!text.ok()) return text.error();
  auto key = KeyPair::from_pkcs8_pem(text.value().as_string_view());
  if (!key.ok()) return Error{key.error().code, path + ": " + key.error().message};
  return key;
}

Status save_private_key(const KeyPair& key, const std::string& path) {
  return write_file_atomic(path, key.pkcs8_pem().view(), 0600);
}

}  // namespace shido
