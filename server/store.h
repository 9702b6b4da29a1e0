// The server's state: accounts, the rate limits on codes and registration proofs, connect
// lockouts and mailboxes.
// Store is the interface the sessions use, so that backends can differ: the memory store
// keeps everything in memory (--store memory); the disk store keeps the same in memory and
// makes every change durable in a journal first (--store disk, server/disk_store.h).
//
// Operations that change what is kept return an error when the change could not be made
// durable (a full disk, an I/O error): then nothing changed, and the session answers 100.
// Reads return an error when the store could not be asked (the Redis store, while Redis is
// unreachable): the session answers 100 "storage unavailable" rather than a guess.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/clock.h"
#include "server/packed_envelope.h"
#include "shido/bytes.h"
#include "shido/crypto/keys.h"
#include "shido/protocol/messages.h"
#include "shido/result.h"

namespace shido::server {

struct User {
  std::string phone;
  std::string email;
  PublicKey public_key;
  Bytes code_salt;  // 16 random bytes
  Bytes code_hash;  // SHA-256(code_salt || code): the code itself is never kept
};

// A message waiting in a mailbox. Immutable once stored, so fetches share it. Its envelope
// is kept decoded in one block, and the sender's key is shared with the sender's account,
// not copied as PEM text: memory holds about what --max-stored-bytes counts.
struct StoredMessage {
  std::string id;
  std::string sender_phone;
  PublicKey sender_key;
  std::int64_t stored_at_ms = 0;
  Bytes envelope;  // pack_envelope(): checked for shape before it was stored

  std::size_t ciphertext_size() const { return packed_ciphertext_size(envelope); }
};
using MessagePtr = std::shared_ptr<const StoredMessage>;

struct Limits {
  // Code requests (102), design section 10.4. One phone from one address: 3 in any hour (the
  // design's 10 minutes would let one address take 18 of the phone's 10 an hour, and so keep
  // its owner from registering; docs/PROTOCOL.md section 9, reading 16)...
  int codes_per_phone_per_address = 3;
  // ...one phone from all addresses: 10 in the same hour...
  int codes_per_phone = 10;
  std::chrono::seconds phone_code_window{3600};
  // ...one address, all phones: 10 in any 10 minutes...
  int codes_per_address = 10;
  std::chrono::seconds address_code_window{600};
  // ...and the whole server: 60 in any minute (SMS bombing, toll fraud).
  int codes_per_minute = 60;
  std::chrono::seconds server_code_window{60};
  // Failed registration proofs (a 103 that opens and carries a wrong code: a guess at the
  // code), in any 24 hours: per phone (the design's), per address (so that one address
  // cannot reach the phone's or the server's cap), and server-wide (so that guesses spread
  // over many phones stay bounded too).
  int failed_registrations_per_phone = 20;
  int failed_registrations_per_address = 10;
  int failed_registrations_per_day = 200;
  std::chrono::seconds failure_window{86400};
  int failures_before_lock = 5;
  std::chrono::seconds lock_base{60};
  std::chrono::seconds lock_max{3600};
  std::size_t mailbox_max_messages = 10000;
  std::size_t mailbox_max_bytes = 64u << 20;
  // Ciphertext bytes in all mailboxes together: without it one account could fill the
  // machine's memory by writing 64 MiB to every mailbox.
  std::size_t store_max_bytes = std::size_t{1} << 30;
  // One sender's share (design section 10.4), so that a flood from one account never
  // blocks mail from anyone else: in one mailbox...
  std::size_t sender_share_messages = 1000;
  std::size_t sender_share_bytes = std::size_t{8} << 20;
  // ...and of all mailboxes together: 1/sender_share_of_store of store_max_bytes.
  std::size_t sender_share_of_store = 16;
};

// The limits a code request or a registration proof can run into (design section 10.4),
// in the order they are checked.
enum class RateLimit {
  kCodesPerPhoneFromAddress,  // codes_per_phone_per_address
  kCodesPerAddress,           // codes_per_address
  kCodesPerPhone,             // codes_per_phone
  kCodesPerMinute,            // codes_per_minute, server-wide
  kFailuresPerPhone,          // failed_registrations_per_phone
  kFailuresPerAddress,        // failed_registrations_per_address
  kFailuresPerDay,            // failed_registrations_per_day, server-wide
};

// A request a rate limit refused: which limit, and how long until it would let the request
// through (the longest wait of every limit that refused, so that retry_after is the real
// wait; the first such limit in the order above on a tie).
struct RateRefusal {
  RateLimit limit;
  Clock::duration wait;
};

enum class AddUserResult { kAdded, kPhoneTaken };

enum class PutResult {
  kStored,
  kNoSuchUser,
  kMailboxFull,
  kStoreFull,
  kSenderShareFull,       // the sender's share of this mailbox is used up
  kSenderStoreShareFull,  // the sender's share of all mailboxes is used up
};

// What a store holds, and how many messages it has taken and handed out since it started:
// for the status line (server/status_report.h) and the disk store's compaction.
struct StoreCounts {
  std::size_t users = 0;
  std::size_t messages = 0;
  std::size_t ciphertext_bytes = 0;  // what --max-stored-bytes counts (with sends in flight)
  std::size_t envelope_bytes = 0;    // the messages' whole envelopes
  // Since the store started (not journaled): messages a put made fetchable, and messages
  // fetches handed out (a message fetched twice counts twice). Rates are their differences.
  std::uint64_t messages_stored = 0;
  std::uint64_t messages_fetched = 0;
  // The disk store's journals since its last snapshot; none for the memory store.
  std::optional<std::uint64_t> journal_bytes;
};

struct AckResult {
  int deleted = 0;
  int waiting = 0;
};

// A put that has begun: the message is admitted and its mailbox room reserved. finish()
// waits until the message is durable, makes it fetchable and gives the outcome; a put never
// finished is finished by the destructor (what is on disk must be in memory too).
class PutInProgress {
 public:
  virtual ~PutInProgress() = default;
  virtual Result<PutResult> finish() = 0;
  // The message's id (it is the client's only once finish() said kStored).
  virtual const std::string& id() const = 0;
};

// The outcome of a failed connect proof.
struct FailureResult {
  int attempts_left = 0;  // 0 when this failure started a lock
};

class Store {
 public:
  virtual ~Store() = default;

  // --- Accounts
  // The account of phone, or nullopt when there is none.
  virtual Result<std::optional<User>> find_user(const std::string& phone) const = 0;
  // Adds a user; kPhoneTaken when the phone is registered, or being registered on another
  // connection (the caller answers 114).
  virtual Result<AddUserResult> add_user(User user) = 0;

  // --- Rate limits on codes and registration proofs (design section 10.4)
  // `address` is the requester's address_key() (server/peer_address.h). The counters are
  // kept in memory only: they restart empty (docs/STORAGE.md).
  //
  // Counts a code request for phone from address in every code limit, or, when any code
  // limit is reached, or the phone, the address or the server has no failed registration
  // proofs left (a code nobody may try is not sent), refuses it and counts nothing.
  virtual Result<std::optional<RateRefusal>> take_code_slot(const std::string& phone,
                                                            const std::string& address) = 0;
  // Takes one failed registration proof for phone from address, before the proof is looked
  // at, or refuses when the phone, the address or the server has none left. Taken first so
  // that proofs sent at once cannot all pass the check before any is counted.
  virtual Result<std::optional<RateRefusal>> take_failed_proof_slot(const std::string& phone,
                                                                    const std::string& address) = 0;
  // Gives back a slot take_failed_proof_slot() took: the proof was right, or did not open.
  // When the store cannot be reached the slot stays taken (fails closed).
  virtual void return_failed_proof_slot(const std::string& phone, const std::string& address) = 0;
  // How many keys (phones, addresses) the rate limits hold: a bound on that bookkeeping.
  virtual std::size_t rate_limit_keys() const = 0;

  // --- Connect lockout
  // How long the account stays locked, or nullopt when it is not locked.
  virtual Result<std::optional<Clock::duration>> lock_remaining(const std::string& phone) const = 0;
  // How many failed proofs the phone has left before it is locked (the limit when none).
  virtual Result<int> connect_attempts_left(const std::string& phone) const = 0;
  virtual Result<FailureResult> record_connect_failure(const std::string& phone) = 0;
  virtual Status record_connect_success(const std::string& phone) = 0;
  // Held by a session from its lock check to recording the outcome of a connect proof,
  // so that proofs sent at once on many connections cannot all pass the lock check
  // before any failure is counted. (Striped: phones may share a mutex.)
  virtual std::mutex& connect_mutex(const std::string& phone) = 0;

  // --- Mailboxes
  // Begins storing a message for recipient. A connection with several sends in flight
  // begins each and then finishes them in order, so that one disk sync covers them all.
  virtual std::unique_ptr<PutInProgress> start_put(const std::string& recipient,
                                                   StoredMessage message) = 0;
  // Stores a message for recipient, filling in its id; kMailboxFull past the limits.
  Result<PutResult> put_message(const std::string& recipient, StoredMessage message,
                                std::string& id_out) {
    auto put = start_put(recipient, std::move(message));
    auto outcome = put->finish();
    if (outcome.ok() && outcome.value() == PutResult::kStored) id_out = put->id();
    return outcome;
  }
  // Up to max of phone's messages, oldest first, without removing them. When none are
  // waiting, waits until one arrives, `wait` passes, or shutdown() is called.
  virtual Result<std::vector<MessagePtr>> fetch(const std::string& phone, std::size_t max,
                                                Clock::duration wait) = 0;
  // Deletes the listed messages of phone's mailbox; ids not there are ignored.
  virtual Result<AckResult> ack(const std::string& phone, const std::vector<std::string>& ids) = 0;
  // How many messages wait for phone.
  virtual std::size_t waiting(const std::string& phone) const = 0;

  // Wakes every fetch that waits, now and later: the server is stopping.
  virtual void shutdown() = 0;

  // --- Watching it
  // Consistent at one instant (the journal's bytes at about the same one).
  virtual StoreCounts counts() const = 0;
};

// A Store in memory only, safe for any number of threads. time must outlive the store.
std::unique_ptr<Store> make_memory_store(const TimeSource& time, Limits limits = {});

}  // namespace shido::server
