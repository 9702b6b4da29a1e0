// Moving a disk store into Redis (--import-disk-store, issue 16): every account, connect-
// failure state and waiting message of --data-dir's disk store is read without changing its
// files and written into a Redis that holds no account yet, exactly as if it had been made
// through the Redis store: the same ids, order and stored_at, and every count that a put
// keeps (totals, each sender's shares and holdings), so that limits and counts go on right.
// Rate-limit windows are kept by neither store across a restart: there is nothing to move.
#pragma once

#include <cstddef>
#include <string>

#include "server/file_system.h"
#include "server/log.h"
#include "server/memory_store.h"
#include "server/redis_store.h"
#include "shido/result.h"

namespace shido::server {

struct ImportSummary {
  std::size_t accounts = 0;
  std::size_t messages = 0;
  std::size_t ciphertext_bytes = 0;  // what --max-stored-bytes counts
  std::size_t lock_states = 0;       // accounts with connect failures or locks
};

// The disk store in `directory`, loaded as the server loads it at start (server/recovery.h)
// but without writing to its files: a torn tail or a journal's padding stays where it is,
// files a newer snapshot replaced are not removed, and a damaged file is refused, not
// salvaged. Fails when the directory holds no store files at all (a mistyped path).
Result<StoreImage> read_disk_store(FileSystem& fs, const std::string& directory, Logger& logger);

// Writes image into redis, one script per account (its account, lockout and mailbox), once
// Redis was found to hold no account: else refuses, having written nothing, since a merge
// could mix two communities and count twice. A failure midway leaves the accounts before it
// in Redis; the error says so.
Result<ImportSummary> import_store_image(const StoreImage& image, RedisStore& redis);

// "imported N accounts, M waiting messages (B bytes), L lock states from DIR into redis at
// WHERE": the line the command prints.
std::string describe_import(const ImportSummary& summary, const std::string& directory,
                            const std::string& redis);

}  // namespace shido::server
