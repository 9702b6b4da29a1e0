// The Lua scripts of the Redis store: each operation that must be atomic is one script, run
// with EVALSHA (server/redis_store.cc says which operation runs which, and the key layout).
// "now" always comes from the server as an argument (wall-clock Unix ms): no script reads
// Redis's TIME, so that tests run on a fake clock and every server agrees on one time line.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "server/redis_connection.h"

namespace shido::server {

class RedisScript {
 public:
  explicit RedisScript(std::string source) : source_(std::move(source)) {}

  // EVALSHA with keys and args (binary-safe). Loads the script (SCRIPT LOAD) the first time,
  // and again when Redis has forgotten it (a restart, SCRIPT FLUSH), then runs it.
  Result<RedisReply> run(RedisConnection& connection, const std::vector<std::string>& keys,
                         const std::vector<std::string>& args) const;

 private:
  Result<std::string> load(RedisConnection& connection) const;
  Result<RedisReply> evalsha(RedisConnection& connection, const std::string& sha,
                             const std::vector<std::string>& keys,
                             const std::vector<std::string>& args) const;
  Result<std::string> loaded_sha(RedisConnection& connection) const;

  const std::string source_;
  mutable std::mutex mutex_;
  mutable std::string sha_;  // guarded by mutex_; empty until loaded
};

// Every script, one instance each (a store holds one set).
struct RedisScripts {
  RedisScripts();

  RedisScript add_user;         // the phone taken or not, and the account, at once
  RedisScript take_rate_slots;  // checks sliding windows, counts in some of them when none refuses
  RedisScript return_rate_slots;  // uncounts the newest event of each window
  RedisScript connect_failure;    // counts a failed connect proof; locks on the fifth
  RedisScript put;                // a message into a mailbox, within every limit
  RedisScript fetch;              // a mailbox's oldest messages
  RedisScript ack;                // deletes messages and gives their room back
  RedisScript import_account;     // one account moved in whole from another store
};

}  // namespace shido::server
