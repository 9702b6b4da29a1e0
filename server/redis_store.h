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
// Process-local, by design: connect_mutex() (a striped mutex around one connect proof on
// this server; the counting of failures and locks itself is atomic in Redis, so proofs on
// several servers at once still count each failure once), the wake-up of long-polls (a put
// through this server wakes its waiting fetches; one through another server does not yet),
// and the totals of messages stored and fetched that counts() reports ("since the store
// started").
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "server/redis_url.h"
#include "server/store.h"

namespace shido::server {

class RedisPool;
struct RedisScripts;

struct RedisStoreOptions {
  RedisAddress address;
  std::size_t pool_size = 8;  // connections shared by the connection threads
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

 private:
  // The long-polls of one mailbox waiting on this server.
  struct Waiters {
    std::uint64_t arrivals = 0;  // puts through this server since the first waiter came
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
  // Waits until a put through this server reached phone's mailbox since `seen`, `wait`
  // passed, or shutdown().
  void wait_for_arrival(const std::string& phone, std::uint64_t seen, Clock::duration wait);

  const TimeSource& time_;
  const Limits limits_;
  std::unique_ptr<RedisPool> pool_;
  std::unique_ptr<const RedisScripts> scripts_;
  std::array<std::mutex, 64> connect_stripes_;  // see Store::connect_mutex

  std::mutex waiters_mutex_;  // guards waiters_ and stopping_
  std::unordered_map<std::string, Waiters> waiters_;
  bool stopping_ = false;

  std::atomic<std::uint64_t> messages_stored_{0};
  std::atomic<std::uint64_t> messages_fetched_{0};
};

}  // namespace shido::server
