// MemoryStore: every piece of state in memory, behind one mutex. Operations are short (no
// I/O, no crypto), so one lock keeps the code simple; long-polls wait on their mailbox's
// condition variable, which releases it.
//
// Given a ChangeLog, the store makes each change durable before it applies it: it admits
// the change under its lock, reserves what the change needs (the phone, the mailbox's room)
// so that no other change can take it meanwhile, waits for the log without the lock, then
// applies the change, or drops the reservation when the log failed. A message is therefore
// fetched only once its record is durable. The disk store uses the same store to replay
// what its files hold (replay) and to write snapshots (capture).
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "server/change.h"
#include "server/change_log.h"
#include "server/rate_window.h"
#include "server/store.h"

namespace shido::server {

// What the store holds, for a snapshot: the state as the changes that make it.
struct StoreImage {
  std::vector<User> users;
  std::vector<LockChanged> locks;
  struct Message {
    std::string recipient;
    MessagePtr message;
  };
  std::vector<Message> messages;  // each mailbox's in arrival order
};

// What replaying one change did.
enum class ReplayResult {
  kApplied,
  kAlreadyThere,  // an account or message the state already holds (replay is idempotent)
  kNoSuchUser,    // a message for, or from, an account the state does not hold
};

class MemoryStore final : public Store {
 public:
  // time (and log, when given) must outlive the store.
  MemoryStore(const TimeSource& time, Limits limits, ChangeLog* log = nullptr);

  Result<std::optional<User>> find_user(const std::string& phone) const override;
  Result<AddUserResult> add_user(User user) override;
  Result<std::optional<RateRefusal>> take_code_slot(const std::string& phone,
                                                    const std::string& address) override;
  Result<std::optional<RateRefusal>> take_failed_proof_slot(const std::string& phone,
                                                            const std::string& address) override;
  void return_failed_proof_slot(const std::string& phone, const std::string& address) override;
  std::size_t rate_limit_keys() const override;
  Result<std::optional<Clock::duration>> lock_remaining(const std::string& phone) const override;
  Result<int> connect_attempts_left(const std::string& phone) const override;
  Result<FailureResult> record_connect_failure(const std::string& phone) override;
  Status record_connect_success(const std::string& phone) override;
  std::mutex& connect_mutex(const std::string& phone) override;
  std::unique_ptr<PutInProgress> start_put(const std::string& recipient,
                                           StoredMessage message) override;
  Result<std::vector<MessagePtr>> fetch(const std::string& phone, std::size_t max,
                                        Clock::duration wait) override;
  Result<AckResult> ack(const std::string& phone, const std::vector<std::string>& ids) override;
  std::size_t waiting(const std::string& phone) const override;
  void shutdown() override;

  // Applies a change read back from the files, without limits and without the log.
  // Applying a change twice leaves the state as applying it once did.
  ReplayResult replay(Change change);
  // The whole state, consistent at one instant. Messages are shared, not copied.
  StoreImage capture() const;
  StoreCounts counts() const override;

 private:
  class Put;
  struct Lockout {
    std::uint32_t failures = 0;             // failed proofs since the last lock or success
    std::uint32_t locks = 0;                // n: locks since the last success
    std::int64_t locked_until_unix_ms = 0;  // wall clock; in the past when not locked
  };

  // What one sender has waiting (or being written) somewhere.
  struct Share {
    std::size_t messages = 0;
    std::size_t bytes = 0;  // ciphertext
  };

  struct Mailbox {
    std::map<std::uint64_t, MessagePtr> messages;          // by arrival order
    std::unordered_map<std::string, Share> by_sender;      // each sender's share of it
    std::unordered_map<std::string, std::uint64_t> by_id;  // id -> arrival order
    std::size_t bytes = 0;     // ciphertext of the messages, and of those being written
    std::size_t reserved = 0;  // messages being written
    std::condition_variable arrived;
  };

  // Admits change to the log (a null ticket without one). Under the lock.
  Result<std::unique_ptr<ChangeLog::Ticket>> admit(const Change& change);
  // Waits for an admitted change without holding `lock`; nothing to wait for without a log.
  static Status wait_durable(std::unique_lock<std::mutex>& lock, ChangeLog::Ticket* ticket);
  void add_message(Mailbox& box, std::uint64_t order, MessagePtr message);
  void remove_message(Mailbox& box, std::map<std::uint64_t, MessagePtr>::iterator message);
  // Counts (or, with a negative sign, uncounts) a sender's message in box and in the store.
  void count_share(Mailbox& box, const std::string& sender, std::size_t bytes, int sign);
  Result<PutResult> finish_put(Put& put);
  // The failed-proof limits that would refuse one more failure for phone from address.
  std::optional<RateRefusal> failures_refusal(const std::string& phone, const std::string& address,
                                              TimePoint now) const;

  const TimeSource& time_;
  const Limits limits_;
  ChangeLog* const log_;

  std::array<std::mutex, 64> connect_stripes_;  // see Store::connect_mutex

  mutable std::mutex mutex_;  // guards everything below
  std::unordered_map<std::string, User> users_;
  std::unordered_set<std::string> phones_being_added_;
  // The rate limits (Limits); not journaled, so they restart empty.
  RateWindow codes_per_phone_from_address_;  // keyed by phone_from_address()
  RateWindow codes_per_address_;
  RateWindow codes_per_phone_;
  RateWindow codes_per_minute_;  // one key: the server
  RateWindow failures_per_phone_;
  RateWindow failures_per_address_;
  RateWindow failures_per_day_;  // one key: the server
  std::unordered_map<std::string, Lockout> lockouts_;
  // std::map: a Mailbox holds a condition variable, so it must never move.
  std::map<std::string, Mailbox> mailboxes_;
  std::size_t stored_bytes_ = 0;                               // the sum of every mailbox's bytes
  std::unordered_map<std::string, std::size_t> sender_bytes_;  // by sender, in all mailboxes
  std::size_t envelope_bytes_ = 0;                             // the stored messages' envelopes
  std::size_t message_count_ = 0;                              // stored messages
  // Counted here, under the lock these operations hold anyway: free for the status line.
  std::uint64_t messages_stored_ = 0;   // by puts (not by replay), since the start
  std::uint64_t messages_fetched_ = 0;  // handed out by fetch, since the start
  std::uint64_t next_order_ = 0;
  bool stopping_ = false;
};

}  // namespace shido::server
