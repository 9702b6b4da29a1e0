// The public keys the Redis store has parsed, by their DER. A fetched message carries its
// sender's key as DER (server/redis_message.h), and turning that back into a PublicKey costs
// about 24 us (the point decoded and checked, its PEM and fingerprint made): more than the
// rest of delivering a message. A mailbox's messages come mostly from a few senders, so
// the keys are kept, up to a bound, and shared (a PublicKey is a handle to immutable data).
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "shido/bytes.h"
#include "shido/crypto/keys.h"
#include "shido/result.h"

namespace shido::server {

class PublicKeyCache {
 public:
  // When it holds `capacity` keys and meets another, it starts again empty: a bound with no
  // bookkeeping, since only a store of more senders than that ever reaches it.
  explicit PublicKeyCache(std::size_t capacity = 4096) : capacity_(capacity) {}

  // PublicKey::from_der, or the key it gave before for the same bytes.
  Result<PublicKey> from_der(ByteView der);

  std::size_t size() const;

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, PublicKey> keys_;  // guarded by mutex_
};

}  // namespace shido::server
