#include "server/journal.h"

#include "server/record.h"

namespace shido::server {

Journal::Journal(std::unique_ptr<WritableFile> file, std::uint64_t first_sequence,
                 FsyncPolicy policy)
    : policy_(policy),
      file_(std::move(file)),
      next_sequence_(first_sequence),
      durable_up_to_(first_sequence - 1),
      written_up_to_(first_sequence - 1),
      synced_up_to_(first_sequence - 1) {}

std::uint64_t Journal::add(std::uint8_t type, ByteView body) {
  std::lock_guard lock(mutex_);
  const std::size_t before = pending_.size();
  append_record(pending_, type, next_sequence_, body);
  bytes_ += pending_.size() - before;
  return next_sequence_++;
}

Status Journal::wait_durable(std::uint64_t sequence) {
  std::unique_lock lock(mutex_);
  for (;;) {
    // Durable before the journal broke is durable still.
    if (durable_up_to_ >= sequence) return {};
    if (broken_) return *broken_;
    if (!flushing_) {
      flush_as_leader(lock);
      continue;
    }
    // The leader wakes this thread once its record is durable, or to lead the next batch.
    Waiter me(sequence);
    waiters_.push_back(&me);
    me.wake.wait(lock, [&] { return me.woken; });
  }
}

void Journal::wake_waiters() {
  bool next_leader_woken = false;
  std::erase_if(waiters_, [&](Waiter* waiter) {
    const bool done = broken_ || waiter->sequence <= durable_up_to_;
    if (!done && next_leader_woken) return false;
    next_leader_woken = next_leader_woken || !done;
    waiter->woken = true;
    waiter->wake.notify_one();
    return true;
  });
  flushed_.notify_all();  // a sync waiting for the file (sync_as_leader)
}

void Journal::flush_as_leader(std::unique_lock<std::mutex>& lock) {
  flushing_ = true;
  Bytes batch = std::move(pending_);
  pending_ = Bytes();
  const std::uint64_t up_to = next_sequence_ - 1;
  lock.unlock();
  Status done = file_->append(batch);
  if (done.ok() && policy_ == FsyncPolicy::kAlways) done = file_->sync();
  lock.lock();
  flushing_ = false;
  if (!done.ok()) {
    broken_ = done.error();
  } else {
    written_up_to_ = up_to;
    if (policy_ == FsyncPolicy::kAlways) synced_up_to_ = up_to;
    durable_up_to_ = up_to;
  }
  wake_waiters();
}

Status Journal::sync_written() {
  if (policy_ == FsyncPolicy::kNo) return {};
  std::unique_lock lock(mutex_);
  return sync_as_leader(lock);
}

Status Journal::finish() {
  std::uint64_t last = 0;
  {
    std::lock_guard lock(mutex_);
    last = next_sequence_ - 1;
  }
  if (Status written = wait_durable(last); !written.ok()) return written;
  std::unique_lock lock(mutex_);
  return sync_as_leader(lock);
}

Status Journal::sync_as_leader(std::unique_lock<std::mutex>& lock) {
  flushed_.wait(lock, [&] { return !flushing_; });
  if (broken_) return *broken_;
  if (synced_up_to_ >= written_up_to_) return {};
  flushing_ = true;  // the file is this thread's until the sync returns
  const std::uint64_t up_to = written_up_to_;
  lock.unlock();
  Status synced = file_->sync();
  lock.lock();
  flushing_ = false;
  if (synced.ok()) {
    synced_up_to_ = up_to;
  } else {
    broken_ = synced.error();
  }
  wake_waiters();
  return synced;
}

std::uint64_t Journal::next_sequence() const {
  std::lock_guard lock(mutex_);
  return next_sequence_;
}

std::uint64_t Journal::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

std::optional<Error> Journal::broken() const {
  std::lock_guard lock(mutex_);
  return broken_;
}

}  // namespace shido::server
