// What the server checks of a Redis before it stores anything there (issue 16): a Redis that
// may evict keys would silently lose accounts and mail, and a replica is not where writes
// belong, so those are refused; weak persistence only earns a warning, the operator's choice.
//
// The settings are read with CONFIG GET, and from INFO when CONFIG is renamed or forbidden
// (managed Redis often does both); what neither tells becomes a warning that it could not be
// checked. Reading and judging are apart, so that every judgement is tested without a Redis.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/redis_connection.h"
#include "server/redis_url.h"
#include "shido/result.h"

namespace shido::server {

// What Redis told; nullopt: it could not be read.
struct RedisSettings {
  std::optional<std::string> version;           // "7.0.15"
  std::optional<std::string> role;              // "master" or "slave"
  std::optional<std::string> primary;           // a replica's "HOST:PORT"
  std::optional<std::string> maxmemory_policy;  // "noeviction", "allkeys-lru", ...
  std::optional<bool> append_only;              // AOF on
  std::optional<std::string> append_fsync;      // "always", "everysec", "no"
  std::optional<std::string> save;              // RDB save points; "": none
  std::string refusals;  // why CONFIG or INFO was refused, for the warnings; "" if neither
};

struct RedisServerCheck {
  std::string version;  // "" when INFO was refused
  std::vector<std::string> warnings;
};

// The oldest Redis whose commands the scripts use (ZPOPMAX came in 5.0).
inline constexpr int kOldestRedisMajor = 5;

// Asks Redis; an error only when Redis could not be reached ("storage unavailable").
Result<RedisSettings> read_redis_settings(RedisConnection& redis);
// An error (Errc::kInvalidArgument) for a Redis the server must not use, else the warnings.
Result<RedisServerCheck> judge_redis_settings(const RedisSettings& settings,
                                              const RedisAddress& address);
// Both.
Result<RedisServerCheck> check_redis_server(RedisConnection& redis);

}  // namespace shido::server
