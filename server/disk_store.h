// The disk store (--store disk): the memory store's state, made durable in --data-dir by a
// journal of every change plus snapshots (docs/STORAGE.md). Start-up recovers the state
// from the files; each change is written to the journal (group commit, --fsync) before it is
// applied and acknowledged.
//
// A background thread syncs the journal every second (--fsync everysec) and writes a new
// snapshot, then a fresh journal, when the journal has outgrown the live data or an
// acknowledged message's ciphertext has stayed in the files for compact_after_ack; the
// store serves meanwhile. After a failed write or sync the store refuses changes (fetches go
// on) until a snapshot of a new generation is on disk, which the thread retries with
// back-off.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "server/file_system.h"
#include "server/journal.h"
#include "server/log.h"
#include "server/memory_store.h"
#include "server/store.h"

namespace shido::server {

struct DiskStoreOptions {
  std::string directory;
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  // Start even if a file is damaged, keeping the good records before the damage.
  bool salvage = false;
  // A snapshot is due when the journals since the last one hold at least this many bytes and
  // more than twice the live data...
  std::uint64_t compact_min_bytes = std::uint64_t{64} << 20;
  // ...or when a message was acknowledged this long ago and its ciphertext may still be in
  // the files.
  std::chrono::seconds compact_after_ack{3600};
};

struct DiskStats {
  std::uint64_t generation = 0;  // of the journal being written
  std::uint64_t snapshots_written = 0;
  std::uint64_t journal_bytes = 0;  // in the journals since the last snapshot
  bool writable = true;             // false after a failed write, until a snapshot succeeds
};

class DiskStore final : public Store {
 public:
  // Recovers the state from `options.directory` (which must exist) and opens it for
  // writing. fs, time and logger must outlive the store. The error says what is wrong and,
  // for a damaged file, how to salvage it.
  static Result<std::unique_ptr<DiskStore>> open(const DiskStoreOptions& options, FileSystem& fs,
                                                 const TimeSource& time, Limits limits,
                                                 Logger& logger);
  // Stops the background thread and syncs the journal.
  ~DiskStore() override;
  DiskStore(const DiskStore&) = delete;
  DiskStore& operator=(const DiskStore&) = delete;

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

  // Writes a snapshot of a new generation now, and starts its journal (tests; the
  // background thread does it when due).
  Status compact();
  DiskStats stats() const;
  // The memory store's counts, with the journal's bytes.
  StoreCounts counts() const override;

  class Log;  // the ChangeLog: journals, generations, snapshots (disk_store.cc)

 private:
  struct OpenKey {
    explicit OpenKey() = default;
  };

 public:
  // For open() alone: the store is usable only once open() recovered it.
  DiskStore(OpenKey key, const DiskStoreOptions& options, FileSystem& fs, const TimeSource& time,
            Limits limits, Logger& logger);

 private:
  std::unique_ptr<Log> log_;
  MemoryStore memory_;
};

}  // namespace shido::server
