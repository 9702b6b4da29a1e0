// The journal: one append-only file of records (server/record.h), written with group
// commit. Connection threads add records, each getting the next sequence number, and then
// wait until theirs is as durable as the fsync policy promises. One of the waiters writes
// every record added so far in one write and, under `always`, syncs them with one fsync, so
// sixteen senders pay for one fsync, not sixteen. The others wait for it.
//
// A failed write or sync breaks the journal for good: the waiters of what it held, and
// every later waiter, get the error, and the store starts a new file (after a snapshot)
// before it acknowledges anything again. A failed fsync is never retried on the same file:
// the kernel may already have dropped the pages it could not write.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "server/file_system.h"
#include "shido/bytes.h"
#include "shido/result.h"

namespace shido::server {

// Redis's words and meanings.
enum class FsyncPolicy {
  kAlways,    // a record counts as durable once fsync returned for it
  kEverySec,  // once written; sync_written() runs every second, so a crash loses about a second
  kNo,        // once written; the kernel writes it back when it likes
};

class Journal {
 public:
  // Appends to `file`, which holds records up to first_sequence - 1 (none when new).
  // Sequence numbers start at 1.
  Journal(std::unique_ptr<WritableFile> file, std::uint64_t first_sequence, FsyncPolicy policy);

  // Adds a record to be written and returns its sequence number. No I/O: the store calls
  // it while holding its own lock, so that the journal's order is the order of its changes.
  std::uint64_t add(std::uint8_t type, ByteView body);

  // Waits until record `sequence` (and all before it) is durable as the policy promises, or
  // the journal broke; then the error. Any thread, without the store's lock.
  Status wait_durable(std::uint64_t sequence);

  // Syncs what was written and not yet synced (everysec's timer); breaks the journal on
  // failure. Does nothing under `no`, or when nothing is unsynced.
  Status sync_written();

  // Writes and syncs everything added so far, whatever the policy (a clean stop).
  Status finish();

  // The sequence number the next record will get.
  std::uint64_t next_sequence() const;
  // Bytes added so far (written or not).
  std::uint64_t bytes() const;
  // The error that broke the journal, if one did.
  std::optional<Error> broken() const;

 private:
  // Writes (and under `always` syncs) everything added so far, as the waiters' leader;
  // `lock` is released during the I/O.
  void flush_as_leader(std::unique_lock<std::mutex>& lock);
  // Syncs what was written and not synced, once no leader is writing; `lock` is released
  // during the sync.
  Status sync_as_leader(std::unique_lock<std::mutex>& lock);

  // A thread in wait_durable() while a leader writes: woken alone, when its record is
  // durable or when it is to lead the next batch, so that a write wakes no thread for
  // nothing.
  struct Waiter {
    explicit Waiter(std::uint64_t waited_for) : sequence(waited_for) {}
    std::uint64_t sequence;
    std::condition_variable wake;
    bool woken = false;
  };
  // Wakes the waiters whose records are durable (all, once the journal broke), and the
  // first of the others, to lead. Under mutex_.
  void wake_waiters();

  const FsyncPolicy policy_;
  std::unique_ptr<WritableFile> file_;  // used by one leader at a time (flushing_)

  mutable std::mutex mutex_;         // guards everything below
  std::condition_variable flushed_;  // a leader finished (for sync_as_leader)
  std::vector<Waiter*> waiters_;     // oldest first
  Bytes pending_;                    // added, not yet handed to a leader
  std::uint64_t next_sequence_;      // of the next record added
  std::uint64_t durable_up_to_;      // every record up to here is durable (per the policy)
  std::uint64_t written_up_to_;      // every record up to here is written
  std::uint64_t synced_up_to_;       // every record up to here is synced
  std::uint64_t bytes_ = 0;
  bool flushing_ = false;  // a leader is writing
  std::optional<Error> broken_;
};

}  // namespace shido::server
