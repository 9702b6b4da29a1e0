#include "server/redis_pool.h"

#include <algorithm>
#include <utility>

namespace shido::server {

RedisPool::RedisPool(const RedisAddress& address, std::size_t size, RedisTimeouts timeouts) {
  fill(address, size, timeouts);
}

RedisPool::RedisPool(const RedisAddress& address, std::size_t size, RedisTimeouts timeouts,
                     const TimeSource& time, RedisHealth::Report report)
    : health_(std::make_unique<RedisHealth>(address.describe(), time, std::move(report))) {
  fill(address, size, timeouts);
}

void RedisPool::fill(const RedisAddress& address, std::size_t size, RedisTimeouts timeouts) {
  idle_.reserve(std::max<std::size_t>(size, 1));
  for (std::size_t i = 0; i < std::max<std::size_t>(size, 1); ++i) {
    idle_.push_back(std::make_unique<RedisConnection>(address, timeouts, health_.get()));
  }
}

RedisPool::Lease::~Lease() {
  if (connection_) pool_->give_back(std::move(connection_));
}

RedisPool::Lease RedisPool::lease() {
  std::unique_lock lock(mutex_);
  returned_.wait(lock, [this] { return !idle_.empty(); });
  std::unique_ptr<RedisConnection> connection = std::move(idle_.back());
  idle_.pop_back();
  return Lease(*this, std::move(connection));
}

void RedisPool::give_back(std::unique_ptr<RedisConnection> connection) {
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(connection));
  }
  returned_.notify_one();
}

}  // namespace shido::server
