// PublicKeyCache: the same bytes give the same key, parsed once; bad bytes are refused and
// not kept; the bound holds.
#include "server/public_key_cache.h"

#include <gtest/gtest.h>

namespace shido::server {
namespace {

TEST(PublicKeyCacheTest, TheSameBytesGiveTheSameKeyKeptOnce) {
  PublicKeyCache cache;
  const PublicKey key = KeyPair::generate().public_key();
  auto first = cache.from_der(key.der());
  auto second = cache.from_der(key.der());
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first.value(), key);
  EXPECT_EQ(second.value(), key);
  EXPECT_EQ(second.value().pem(), key.pem());
  EXPECT_EQ(cache.size(), 1u);
  ASSERT_TRUE(cache.from_der(KeyPair::generate().public_key().der()).ok());
  EXPECT_EQ(cache.size(), 2u);
}

TEST(PublicKeyCacheTest, BytesThatAreNoKeyAreRefusedAndNotKept) {
  PublicKeyCache cache;
  const Bytes der = KeyPair::generate().public_key().der();
  const Bytes cut(der.begin(), der.end() - 1);
  EXPECT_FALSE(cache.from_der(cut).ok());
  EXPECT_EQ(cache.size(), 0u);
}

TEST(PublicKeyCacheTest, ItNeverHoldsMoreThanItsCapacity) {
  PublicKeyCache cache(2);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(cache.from_der(KeyPair::generate().public_key().der()).ok());
    EXPECT_LE(cache.size(), 2u);
  }
}

}  // namespace
}  // namespace shido::server
