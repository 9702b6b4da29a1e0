// The changes the store makes durable, one kind per record type of the journal (and of the
// snapshots, which write the state as the changes that make it). What is kept: accounts,
// connect failures and locks (deadlines in wall-clock Unix milliseconds, so that a reboot
// neither extends nor resets a lock), every stored message and every acknowledgement. Code
// slots and pending registrations stay in memory only.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "server/store.h"
#include "shido/bytes.h"
#include "shido/result.h"

namespace shido::server {

struct UserAdded {
  User user;
};

// A phone's connect-failure state after a change; all zero clears it (a success).
struct LockChanged {
  std::string phone;
  std::uint32_t failures = 0;
  std::uint32_t locks = 0;
  std::int64_t locked_until_unix_ms = 0;
};

// The sender's key is not written: it is the sender's registered key, which an earlier
// record holds (accounts are never removed, nor their keys changed).
struct MessageAdded {
  std::string recipient;
  std::string id;
  std::string sender_phone;
  std::int64_t stored_at_ms = 0;
  Bytes envelope;  // packed_envelope.h
};

struct MessagesAcked {
  std::string phone;
  std::vector<std::string> ids;
};

using Change = std::variant<UserAdded, LockChanged, MessageAdded, MessagesAcked>;

// Record types; 0 and the values above 0x7f are left for the files' own records.
enum class ChangeType : std::uint8_t { kUser = 1, kLock = 2, kMessage = 3, kAck = 4 };

ChangeType change_type(const Change& change);
Bytes encode_change(const Change& change);

// Decodes a record's body. Fails with kBadValue, naming the record type, when the body is
// not one that encode_change writes (a short or long body, a bad key, a bad envelope).
Result<Change> decode_change(std::uint8_t type, ByteView body);

}  // namespace shido::server
