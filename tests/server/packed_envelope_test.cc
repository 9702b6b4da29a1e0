// The store's packed envelope: what goes in comes out as the same wire text, and only
// blocks of the right shape count as packed envelopes.
#include "server/packed_envelope.h"

#include <gtest/gtest.h>

#include "shido/crypto/keys.h"

namespace shido::server {
namespace {

Envelope sealed(std::size_t plaintext_size) {
  const KeyPair sender = KeyPair::generate();
  const KeyPair recipient = KeyPair::generate();
  auto envelope = seal(sender, recipient.public_key(), Bytes(plaintext_size, 'p'),
                       Purpose::kMessage, Context{to_bytes("+15550000001")});
  EXPECT_TRUE(envelope.ok());
  return envelope.value();
}

TEST(PackedEnvelopeTest, PackingKeepsEveryMemberInPlace) {
  for (const std::size_t plaintext : {0, 15, 16, 1000}) {
    const Envelope envelope = sealed(plaintext);
    const Bytes packed = pack_envelope(envelope);
    EXPECT_EQ(packed.size(), kPackedEnvelopeFixedSize + envelope.ciphertext.size());
    EXPECT_EQ(packed_ciphertext_size(packed), envelope.ciphertext.size());
    ASSERT_TRUE(is_packed_envelope(packed)) << plaintext;
    EXPECT_EQ(wire_from_packed(packed), to_wire(envelope)) << plaintext;
  }
}

TEST(PackedEnvelopeTest, OnlyTheFixedMembersAndWholeCiphertextBlocksArePacked) {
  EXPECT_FALSE(is_packed_envelope(Bytes{}));
  EXPECT_FALSE(is_packed_envelope(Bytes(kPackedEnvelopeFixedSize)));       // no ciphertext
  EXPECT_FALSE(is_packed_envelope(Bytes(kPackedEnvelopeFixedSize + 15)));  // part of a block
  EXPECT_TRUE(is_packed_envelope(Bytes(kPackedEnvelopeFixedSize + 16)));
  EXPECT_FALSE(is_packed_envelope(Bytes(kPackedEnvelopeFixedSize + 33)));
  EXPECT_TRUE(is_packed_envelope(Bytes(kPackedEnvelopeFixedSize + 64)));
}

}  // namespace
}  // namespace shido::server
