#include "server/store_import.h"

#include <unordered_map>
#include <utility>
#include <vector>

#include "server/clock.h"
#include "server/read_only_file_system.h"
#include "server/recovery.h"

namespace shido::server {

Result<StoreImage> read_disk_store(FileSystem& fs, const std::string& directory, Logger& logger) {
  ReadOnlyFileSystem read_only(fs);
  SystemTime time;  // replay uses neither the clock nor the limits
  MemoryStore store(time, Limits{});
  auto recovered = recover(read_only, directory, store, /*salvage=*/false, logger);
  if (!recovered.ok()) return recovered.error();
  if (recovered.value().snapshot == 0 && recovered.value().journals == 0) {
    return Error{Errc::kNotFound,
                 directory + " holds no disk store (no snapshot or journal): nothing to import"};
  }
  return store.capture();
}

Result<ImportSummary> import_store_image(const StoreImage& image, RedisStore& redis) {
  auto occupied = redis.holds_accounts();
  if (!occupied.ok()) return occupied.error();
  if (occupied.value()) {
    return Error{Errc::kBadValue,
                 "redis already holds accounts: importing would merge two stores (and count "
                 "their messages twice); nothing was written. Import into an empty database"};
  }
  std::vector<RedisStore::ImportedAccount> accounts;
  accounts.reserve(image.users.size());
  std::unordered_map<std::string, std::size_t> by_phone;
  for (const User& user : image.users) {
    by_phone.emplace(user.phone, accounts.size());
    accounts.push_back({.user = user, .mailbox = {}});
  }
  ImportSummary summary;
  // A lockout or message of a phone without an account cannot be in a disk store (replay
  // drops them); skipped all the same, as Redis would never read them.
  for (const LockChanged& lock : image.locks) {
    auto found = by_phone.find(lock.phone);
    if (found == by_phone.end()) continue;
    RedisStore::ImportedAccount& account = accounts[found->second];
    account.failures = lock.failures;
    account.locks = lock.locks;
    account.locked_until_unix_ms = lock.locked_until_unix_ms;
    summary.lock_states += 1;
  }
  for (const StoreImage::Message& message : image.messages) {
    auto found = by_phone.find(message.recipient);
    if (found == by_phone.end()) continue;
    accounts[found->second].mailbox.push_back(message.message);  // capture's order: arrival
    summary.messages += 1;
    summary.ciphertext_bytes += message.message->ciphertext_size();
  }
  for (const RedisStore::ImportedAccount& account : accounts) {
    if (Status written = redis.import_account(account); !written.ok()) {
      return Error{written.error().code,
                   written.error().message + "; " + std::to_string(summary.accounts) + " of " +
                       std::to_string(accounts.size()) +
                       " accounts were written before it: empty the database before "
                       "importing again"};
    }
    summary.accounts += 1;
  }
  return summary;
}

std::string describe_import(const ImportSummary& summary, const std::string& directory,
                            const std::string& redis) {
  return "imported " + std::to_string(summary.accounts) + " accounts, " +
         std::to_string(summary.messages) + " waiting messages (" +
         std::to_string(summary.ciphertext_bytes) + " bytes), " +
         std::to_string(summary.lock_states) + " lock states from " + directory +
         " into redis at " + redis;
}

}  // namespace shido::server
