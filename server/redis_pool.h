// A fixed number of Redis connections shared by the connection threads: a thread leases
// one for an operation (one or a few round trips) and gives it back, waiting when all are
// leased. A connection that failed reconnects on its next use, whoever leases it.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "server/redis_connection.h"

namespace shido::server {

class RedisPool {
 public:
  // size >= 1; nothing connects until first used.
  RedisPool(const RedisAddress& address, std::size_t size, RedisTimeouts timeouts);

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

 private:
  void give_back(std::unique_ptr<RedisConnection> connection);

  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<RedisConnection>> idle_;  // guarded by mutex_
};

}  // namespace shido::server
