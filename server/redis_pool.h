// A fixed number of Redis connections shared by the connection threads: a thread leases
// one for an operation (one or a few round trips) and gives it back, waiting when all are
// leased. A connection that failed reconnects on its next use, whoever leases it; given a
// TimeSource, the pool backs off while Redis is unreachable (server/redis_health.h).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "server/clock.h"
#include "server/redis_connection.h"
#include "server/redis_health.h"

namespace shido::server {

class RedisPool {
 public:
  // size >= 1; nothing connects until first used. Without back-off: every command on a
  // dropped connection tries to connect.
  RedisPool(const RedisAddress& address, std::size_t size, RedisTimeouts timeouts);
  // With back-off on `time`'s clock, reporting each change of reachability to `report` (may
  // be empty; see RedisHealth). time must outlive the pool.
  RedisPool(const RedisAddress& address, std::size_t size, RedisTimeouts timeouts,
            const TimeSource& time, RedisHealth::Report report);

  // One connection, the leaseholder's alone until the lease ends.
  class Lease {
   public:
    Lease(RedisPool& pool, std::unique_ptr<RedisConnection> connection)
        : pool_(&pool), connection_(std::move(connection)) {}
    ~Lease();
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    RedisConnection& operator*() const { return *connection_; }
    RedisConnection* operator->() const { return connection_.get(); }

   private:
    RedisPool* pool_;
    std::unique_ptr<RedisConnection> connection_;
  };

  Lease lease();

  // Null without back-off.
  const RedisHealth* health() const { return health_.get(); }

 private:
  void give_back(std::unique_ptr<RedisConnection> connection);
  void fill(const RedisAddress& address, std::size_t size, RedisTimeouts timeouts);

  std::unique_ptr<RedisHealth> health_;  // before idle_: the connections point to it
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<RedisConnection>> idle_;  // guarded by mutex_
};

}  // namespace shido::server
