// Accounts and messages for the store tests (memory and disk).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "server/packed_envelope.h"
#include "server/store.h"
#include "shido/crypto/keys.h"

namespace shido::server::test {

inline const KeyPair& fixture_key() {
  static const KeyPair key = KeyPair::generate();
  return key;
}

inline User make_user(const std::string& phone) {
  return User{phone, "someone@example.com", fixture_key().public_key(), Bytes(16, 1), Bytes(32, 2)};
}

// A message from sender whose packed envelope starts with the sender's phone (so that
// tests can tell messages apart) and carries ciphertext_size bytes of ciphertext, each
// `fill` (so that tests can look for them in files).
inline StoredMessage make_message(const std::string& sender, std::size_t ciphertext_size = 32,
                                  std::uint8_t fill = 0) {
  Bytes envelope(kPackedEnvelopeFixedSize + ciphertext_size, fill);
  std::fill_n(envelope.begin(), kPackedEnvelopeFixedSize, std::uint8_t{0});
  std::copy(sender.begin(), sender.end(), envelope.begin());
  return StoredMessage{.id = {},
                       .sender_phone = sender,
                       .sender_key = fixture_key().public_key(),
                       .stored_at_ms = 0,
                       .envelope = std::move(envelope)};
}

}  // namespace shido::server::test
