// RedisStore (--store redis://..., issue 16): everything the store keeps lives in Redis, so
// that several shido-servers can share one community. Behind the Store interface: sessions
// do not know which store they talk to.
//
// Each operation that must be atomic is one Lua script (server/redis_scripts.h); the key
// layout is in redis_store.cc. The server supplies "now" (the TimeSource's wall-clock Unix
// ms) to every script, so every server agrees on one time line and tests use a fake clock.
//
// Durability is Redis's (its AOF and fsync settings). When Redis is unreachable, every
// operation gives an error ("storage unavailable": the session answers 100) and nothing was
// changed; a fetch gives it after waiting up to a second, so that no client spins. The two
// operations without room for an error fail closed: a failed-proof slot that cannot be given
// back stays taken, and waiting() counts nothing. The next operation reconnects.
//
// Long-polls wait on this server and wake for a message stored through any server: the put
// script publishes the recipient's phone and every store subscribes (server/redis_arrivals.h).
// After each (re)subscription every waiter here reads its mailbox again, for what was
// published while the subscription was down.
//
// Process-local, by design: connect_mutex() (a striped mutex around one connect proof on
// this server; the counting of failures and locks itself is atomic in Redis, so proofs on
// several servers at once still count each failure once), and the totals of messages stored
// and fetched that counts() reports ("since the store started").
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/public_key_cache.h"
#include "server/redis_url.h"
#include "server/store.h"

namespace shido::server {

class RedisArrivals;
class RedisPool;
struct RedisScripts;

struct RedisStoreOptions {
  RedisAddress address;
  // Connections shared by the connection threads. A busy sender or receiver waits on Redis
  // about half its time: 8 held 32 busy threads to 0.27x of the memory store's relay rate,
  // 32 to 0.45x (docs/BENCHMARKS.md), and an idle connection costs Redis a few KiB.
  std::size_t pool_size = 32;
  // Told when Redis stops answering and when it answers again (see server/redis_health.h).
  std::function<void(bool reachable, const std::string& detail)> on_reachability = nullptr;
  // The arrivals subscription went down (why: the cause and the next attempt) or came up:
  // for the log. Called on the subscription's thread; may be empty.
  std::function<void(bool up, const std::string& why)> subscription_state = nullptr;
};

class RedisStore final : public Store {
 public:
  // Connects once (PING) so that a wrong address or password is reported at start.
  // time must outlive the store.
  static Result<std::unique_ptr<RedisStore>> open(const RedisStoreOptions& options,
                                                  const TimeSource& time, Limits limits);
  RedisStore(const RedisStoreOptions& options, const TimeSource& time, Limits limits);
  ~RedisStore() override;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

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
  StoreCounts counts() const override;

  // The puts one connection began and has not finished (redis_store.cc).
  struct PutBatch;
  // Runs a batch's puts in one round trip and keeps their outcomes.
  void send(PutBatch& batch);

 private:
  // The long-polls of one mailbox waiting on this server.
  struct Waiters {
    std::uint64_t arrivals = 0;  // arrivals heard since the first waiter came
    int count = 0;
    std::condition_variable arrived;
  };

  // Takes a slot in the windows of `checks` (RateLimit values, in order), counting in the
  // first `counted` of them, or gives the refusal.
  Result<std::optional<RateRefusal>> take_slots(const std::vector<RateLimit>& checks,
                                                std::size_t counted, const std::string& phone,
                                                const std::string& address);
  Result<std::vector<MessagePtr>> read_mailbox(const std::string& phone, std::size_t max);
  void wake(const std::string& phone);
  // Every waiter here: after a (re)subscription, arrivals may have gone unheard.
  void wake_all();
  // Waits until a message for phone arrived (through any server) since `seen`, `until`, or
  // shutdown(); true for an arrival (`seen` then counts it).
  bool wait_for_arrival(const std::string& phone, std::uint64_t& seen, TimePoint until);

  const TimeSource& time_;
  const Limits limits_;
  std::unique_ptr<RedisPool> pool_;
  std::unique_ptr<const RedisScripts> scripts_;
  // The put script's first arguments: the limits and the arrivals channel, the same for
  // every batch.
  const std::vector<std::string> put_arguments_;
  std::array<std::mutex, 64> connect_stripes_;  // see Store::connect_mutex

  std::mutex waiters_mutex_;  // guards waiters_ and stopping_
  std::unordered_map<std::string, Waiters> waiters_;
  bool stopping_ = false;

  // This thread's batch of puts begun and not sent yet, if any.
  std::shared_ptr<PutBatch> open_batch();

  // Accounts' and senders' keys as parsed from Redis (find_user, fetch).
  mutable PublicKeyCache sender_keys_;

  std::mutex batches_mutex_;  // guards open_batches_
  // Each connection's thread's open batch (connections are served one thread each).
  std::unordered_map<std::thread::id, std::weak_ptr<PutBatch>> open_batches_;

  std::atomic<std::uint64_t> messages_stored_{0};
  std::atomic<std::uint64_t> messages_fetched_{0};

  std::unique_ptr<RedisArrivals> arrivals_;  // last: its thread calls wake(), so it goes first

 public:
  // --- Moving another store in (--import-disk-store, server/store_import.h)
  // An account as another store kept it.
  struct ImportedAccount {
    User user;
    std::uint32_t failures = 0;  // its connect-failure state (change.h's LockChanged)
    std::uint32_t locks = 0;
    std::int64_t locked_until_unix_ms = 0;
    std::vector<MessagePtr> mailbox;  // oldest first
  };
  // True when Redis holds any account: an import would merge two communities.
  Result<bool> holds_accounts() const;
  // Writes the account, its connect-failure state and its mailbox in one script, with every
  // count a put keeps (the mailbox's, the senders' shares and holdings, the totals), without
  // limits. Fails (kBadValue), writing nothing, when Redis holds any of the account's state.
  Status import_account(const ImportedAccount& account);
};

}  // namespace shido::server
