// The three stores behind one Store interface, for the contract suites that run against
// each (TEST_P over Backend): memory, disk (on a fake file system) and Redis (a real
// redis-server started once per test program; every store opened on it starts on an empty
// database). Each store takes the test's TimeSource, so the fake clock drives them all.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "fake_file_system.h"
#include "server/disk_store.h"
#include "server/log.h"
#include "server/redis_store.h"
#include "server/store.h"
#include "support/redis_server.h"

namespace shido::server::test {

enum class Backend { kMemory, kDisk, kRedis };

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  switch (info.param) {
    case Backend::kMemory:
      return "Memory";
    case Backend::kDisk:
      return "Disk";
    case Backend::kRedis:
      break;
  }
  return "Redis";
}

// What a store of each backend needs, kept for as long as the store lives (declare it
// before the store).
class StoreBackends {
 public:
  std::unique_ptr<Store> open(Backend backend, const TimeSource& time, Limits limits) {
    switch (backend) {
      case Backend::kMemory:
        return make_memory_store(time, limits);
      case Backend::kDisk:
        return open_disk(time, limits);
      case Backend::kRedis:
        break;
    }
    return open_redis(time, limits);
  }

 private:
  std::unique_ptr<Store> open_disk(const TimeSource& time, Limits limits) {
    DiskStoreOptions options;
    options.directory = "data";
    auto store = DiskStore::open(options, fs_, time, limits, logger_);
    if (!store.ok()) throw std::runtime_error(store.error().message);
    return std::move(store).value();
  }

  static std::unique_ptr<Store> open_redis(const TimeSource& time, Limits limits) {
    shido::test::RedisServer& redis = shido::test::shared_redis_server();
    if (redis.command("FLUSHALL") != "+OK") throw std::runtime_error("FLUSHALL failed");
    auto address = parse_redis_url(redis.url());
    if (!address.ok()) throw std::runtime_error(address.error().message);
    auto store = RedisStore::open(RedisStoreOptions{address.value(), 4}, time, limits);
    if (!store.ok()) throw std::runtime_error(store.error().message);
    return std::move(store).value();
  }

  FakeFileSystem fs_;
  Logger logger_{LogLevel::kError};
};

}  // namespace shido::server::test
