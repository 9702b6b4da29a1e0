// A stored message as the Redis store keeps it: one binary-safe string per message, in its
// mailbox's messages hash. A short text header the ack script can read with string.match
// (ciphertext bytes, envelope bytes, stored-at, sender), then the sender's key (DER) and the
// packed envelope:
//
//   "<ciphertext> <envelope> <stored_at_ms> <sender phone> <key bytes>\n" key envelope
//
// The key travels with the message because the sender's account lives in another hash slot
// (a script may touch one account's keys only, if it is to run on Redis Cluster).
#pragma once

#include <string>
#include <string_view>

#include "server/public_key_cache.h"
#include "server/store.h"

namespace shido::server {

std::string encode_redis_message(const StoredMessage& message);
// Parses a record written by encode_redis_message, its sender's key through `keys`; nullopt
// when it is not one.
std::optional<StoredMessage> decode_redis_message(std::string id, std::string_view record,
                                                  PublicKeyCache& keys);

}  // namespace shido::server
