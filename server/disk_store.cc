#include "server/disk_store.h"

#include <algorithm>
#include <condition_variable>
#include <thread>

#include "server/record.h"
#include "server/recovery.h"
#include "server/snapshot.h"
#include "server/store_files.h"

namespace shido::server {
namespace {

// One journal file and the changes admitted to it that are not yet settled.
struct Generation {
  std::uint64_t number = 0;
  std::shared_ptr<Journal> journal;
  int in_flight = 0;  // guarded by the log's mutex
};

// Journals are filled with zeros this far ahead of their records, so that a sync after an
// append costs a disk flush, not a file-system journal commit (file_system.h).
constexpr std::uint64_t kJournalPreallocation = std::uint64_t{8} << 20;

std::string describe_bytes(std::uint64_t bytes) {
  char text[32];
  if (bytes >= (std::uint64_t{1} << 20)) {
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  } else if (bytes >= 1024) {
    std::snprintf(text, sizeof text, "%.1f KiB", static_cast<double>(bytes) / 1024);
  } else {
    std::snprintf(text, sizeof text, "%llu bytes", static_cast<unsigned long long>(bytes));
  }
  return text;
}

}  // namespace

class DiskStore::Log final : public ChangeLog {
 public:
  Log(const DiskStoreOptions& options, FileSystem& fs, const TimeSource& time, Logger& logger)
      : options_(options), fs_(fs), time_(time), logger_(logger) {}

  ~Log() override { stop(); }
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Continues the newest journal that recovery read, or starts generation 1 in an empty
  // directory; then starts the background thread.
  Status start(MemoryStore& memory, const Recovered& recovered) {
    memory_ = &memory;
    next_generation_ = recovered.newest_generation + 1;
    older_journal_bytes_ = 0;
    if (recovered.last_journal != 0 && recovered.last_sequence != 0 && !recovered.salvaged) {
      const std::string path = path_of(StoreFileKind::kJournal, recovered.last_journal);
      auto file = fs_.open_for_append(path, kJournalPreallocation);
      if (!file.ok()) return file.error();
      current_ = std::make_shared<Generation>();
      current_->number = recovered.last_journal;
      current_->journal = std::make_shared<Journal>(std::move(file).value(),
                                                    recovered.last_sequence + 1, options_.fsync);
      older_journal_bytes_ = recovered.journal_bytes;
    } else {
      // Nothing to continue (a new directory, a journal without its header, or a salvaged
      // file): a snapshot of what was recovered makes the files whole again.
      if (Status fresh = new_generation(); !fresh.ok()) return fresh;
    }
    housekeeper_ = std::thread([this] { housekeep(); });
    return {};
  }

  Result<std::unique_ptr<Ticket>> admit(const Change& change) override {
    std::lock_guard lock(mutex_);
    if (!writable_) {
      return Error{Errc::kIo, "storage unavailable since a write failed (" + failure_ + ")"};
    }
    if (std::holds_alternative<MessagesAcked>(change) && !first_ack_) first_ack_ = time_.now();
    const std::uint64_t sequence = current_->journal->add(
        static_cast<std::uint8_t>(change_type(change)), encode_change(change));
    current_->in_flight += 1;
    return std::unique_ptr<Ticket>(std::make_unique<DiskTicket>(*this, current_, sequence));
  }

  // A new generation: a fresh journal, then a snapshot of the state its changes start from.
  Status new_generation() {
    std::lock_guard one_at_a_time(generation_mutex_);
    // A number is used once its journal exists, so that journals never skip one.
    const std::uint64_t number = next_generation_;
    auto fresh = create_journal(number);
    if (!fresh.ok()) return fresh.error();
    next_generation_ += 1;
    std::shared_ptr<Generation> old;
    std::optional<TimePoint> first_ack;  // back if the snapshot fails: the acks stay in files
    {
      std::lock_guard lock(mutex_);
      old = std::exchange(current_, std::move(fresh).value());
      first_ack = std::exchange(first_ack_, std::nullopt);
    }
    if (old) {
      // The old journal's changes reach its file (or fail), and the store settles them, so
      // the snapshot below holds every one that succeeded.
      (void)old->journal->finish();
      std::unique_lock lock(mutex_);
      settled_.wait(lock, [&] { return old->in_flight == 0; });
      older_journal_bytes_ += old->journal->bytes();
    }
    const StoreImage image = memory_->capture();
    if (Status written = write_snapshot(fs_, options_.directory, number, image); !written.ok()) {
      std::lock_guard lock(mutex_);
      if (first_ack) first_ack_ = first_ack;
      return written;
    }
    remove_files_before(number);
    std::lock_guard lock(mutex_);
    older_journal_bytes_ = 0;
    snapshots_written_ += 1;
    if (!writable_) {
      writable_ = true;
      logger_.log(LogLevel::kInfo, "", "",
                  "storage writable again: snapshot " + std::to_string(number) + " written");
    }
    return {};
  }

  DiskStats stats() const {
    std::lock_guard lock(mutex_);
    return {current_ ? current_->number : 0, snapshots_written_,
            older_journal_bytes_ + (current_ ? current_->journal->bytes() : 0), writable_};
  }

  // Stops the background thread and writes and syncs what the journal holds.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    wake_.notify_all();
    if (housekeeper_.joinable()) housekeeper_.join();
    std::shared_ptr<Generation> current;
    {
      std::lock_guard lock(mutex_);
      current = current_;
    }
    if (current) {
      if (Status finished = current->journal->finish(); !finished.ok()) {
        logger_.log(LogLevel::kError, "", "",
                    "could not sync the journal at stop: " + finished.error().message);
      }
    }
  }

 private:
  class DiskTicket final : public Ticket {
   public:
    DiskTicket(Log& log, std::shared_ptr<Generation> generation, std::uint64_t sequence)
        : log_(log), generation_(std::move(generation)), sequence_(sequence) {}
    ~DiskTicket() override { log_.settle(*generation_); }
    DiskTicket(const DiskTicket&) = delete;
    DiskTicket& operator=(const DiskTicket&) = delete;

    Status wait_durable() override {
      Status durable = generation_->journal->wait_durable(sequence_);
      if (!durable.ok()) log_.write_failed(durable.error());
      return durable;
    }

   private:
    Log& log_;
    std::shared_ptr<Generation> generation_;
    std::uint64_t sequence_;
  };

  std::string path_of(StoreFileKind kind, std::uint64_t generation) const {
    return options_.directory + "/" + store_file_name(kind, generation);
  }

  // Creates journal-<number> holding its header, synced, with its directory entry.
  Result<std::shared_ptr<Generation>> create_journal(std::uint64_t number) {
    auto file = fs_.create(path_of(StoreFileKind::kJournal, number), kJournalPreallocation);
    if (!file.ok()) return file.error();
    Bytes header;
    append_record(header, kHeaderRecord, 1, encode_header(StoreFileKind::kJournal, number));
    if (Status written = file.value()->append(header); !written.ok()) return written.error();
    if (Status synced = file.value()->sync(); !synced.ok()) return synced.error();
    if (Status listed = fs_.sync_directory(options_.directory); !listed.ok()) return listed.error();
    auto generation = std::make_shared<Generation>();
    generation->number = number;
    generation->journal = std::make_shared<Journal>(std::move(file).value(), 2, options_.fsync);
    return generation;
  }

  // The snapshot of generation `number` replaces every older file.
  void remove_files_before(std::uint64_t number) {
    auto names = fs_.list(options_.directory);
    if (!names.ok()) return;
    bool removed = false;
    for (const std::string& name : names.value()) {
      auto file = parse_store_file_name(name);
      if (!file || file->generation >= number) continue;
      if (fs_.remove(options_.directory + "/" + name).ok()) removed = true;
    }
    if (removed) (void)fs_.sync_directory(options_.directory);
  }

  void settle(Generation& generation) {
    std::lock_guard lock(mutex_);
    if (--generation.in_flight == 0) settled_.notify_all();
  }

  void write_failed(const Error& error) {
    std::lock_guard lock(mutex_);
    if (!writable_) return;
    writable_ = false;
    failure_ = error.message;
    logger_.log(LogLevel::kError, "", "",
                "journal write failed: " + error.message +
                    "; changes are refused until a new snapshot is written (fetches go on)");
    wake_.notify_all();
  }

  // Every second: syncs under everysec; writes a snapshot when one is due, or retries the
  // one that makes the store writable again after a failure, backing off up to a minute.
  void housekeep() {
    std::chrono::seconds retry_after{1};
    TimePoint next_retry = time_.now();
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, std::chrono::seconds(1));
      if (stopping_) break;
      const std::shared_ptr<Generation> current = current_;
      const bool writable = writable_;
      const bool acks_due = first_ack_ && time_.now() - *first_ack_ >= options_.compact_after_ack;
      const std::uint64_t journal_bytes = older_journal_bytes_ + current->journal->bytes();
      lock.unlock();
      const bool due = writable && (acks_due || journal_outgrew_live_data(journal_bytes));
      if (options_.fsync == FsyncPolicy::kEverySec && writable) {
        if (Status synced = current->journal->sync_written(); !synced.ok())
          write_failed(synced.error());
      }
      if (!writable && time_.now() >= next_retry) {
        if (Status fresh = new_generation(); !fresh.ok()) {
          logger_.log(LogLevel::kError, "", "",
                      "still cannot write a snapshot: " + fresh.error().message + "; retrying in " +
                          std::to_string(retry_after.count()) + " s");
          next_retry = time_.now() + retry_after;
          retry_after = std::min(retry_after * 2, std::chrono::seconds(60));
        } else {
          retry_after = std::chrono::seconds(1);
        }
      } else if (due) {
        if (Status fresh = new_generation(); !fresh.ok()) {
          logger_.log(LogLevel::kWarn, "", "",
                      "could not write a snapshot (will try again): " + fresh.error().message);
        }
      }
      lock.lock();
    }
  }

  // Without mutex_ (the store's lock comes before it).
  bool journal_outgrew_live_data(std::uint64_t journal) const {
    if (journal < options_.compact_min_bytes) return false;
    const StoreCounts counts = memory_->counts();
    // About what a snapshot of the live data takes.
    const std::uint64_t live = counts.envelope_bytes + counts.messages * 80 + counts.users * 200;
    return journal > 2 * live;
  }

  const DiskStoreOptions options_;
  FileSystem& fs_;
  const TimeSource& time_;
  Logger& logger_;
  MemoryStore* memory_ = nullptr;
  std::thread housekeeper_;
  std::mutex generation_mutex_;  // one new generation at a time

  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable settled_;
  std::condition_variable wake_;
  std::shared_ptr<Generation> current_;
  std::uint64_t next_generation_ = 1;
  std::uint64_t older_journal_bytes_ = 0;  // journals since the last snapshot, but current_
  std::uint64_t snapshots_written_ = 0;
  std::optional<TimePoint> first_ack_;  // of the acknowledgements since the last snapshot
  bool writable_ = true;
  std::string failure_;
  bool stopping_ = false;
};

DiskStore::DiskStore(OpenKey /*only open() makes one*/, const DiskStoreOptions& options,
                     FileSystem& fs, const TimeSource& time, Limits limits, Logger& logger)
    : log_(std::make_unique<Log>(options, fs, time, logger)), memory_(time, limits, log_.get()) {}

DiskStore::~DiskStore() { log_->stop(); }

Result<std::unique_ptr<DiskStore>> DiskStore::open(const DiskStoreOptions& options, FileSystem& fs,
                                                   const TimeSource& time, Limits limits,
                                                   Logger& logger) {
  const auto started = std::chrono::steady_clock::now();
  auto store = std::make_unique<DiskStore>(OpenKey{}, options, fs, time, limits, logger);
  auto recovered = recover(fs, options.directory, store->memory_, options.salvage, logger);
  if (!recovered.ok()) return recovered.error();
  if (Status opened = store->log_->start(store->memory_, recovered.value()); !opened.ok()) {
    return Error{opened.error().code,
                 "cannot write in " + options.directory + ": " + opened.error().message};
  }
  const StoreCounts counts = store->memory_.counts();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  char took[32];
  std::snprintf(took, sizeof took, "%.3f", seconds);
  logger.log(LogLevel::kInfo, "", "",
             "recovered " + std::to_string(counts.users) + " users and " +
                 std::to_string(counts.messages) + " waiting messages (" +
                 describe_bytes(counts.ciphertext_bytes) + " of ciphertext) from " +
                 std::to_string(recovered.value().records) + " records (" +
                 (recovered.value().snapshot != 0 ? "a snapshot and " : "no snapshot, ") +
                 std::to_string(recovered.value().journals) + " journals) in " + took + " s");
  return store;
}

Result<std::optional<User>> DiskStore::find_user(const std::string& phone) const {
  return memory_.find_user(phone);
}
Result<AddUserResult> DiskStore::add_user(User user) { return memory_.add_user(std::move(user)); }
// The rate limits are the memory store's alone: they are not journaled (docs/STORAGE.md).
Result<std::optional<RateRefusal>> DiskStore::take_code_slot(const std::string& phone,
                                                             const std::string& address) {
  return memory_.take_code_slot(phone, address);
}
Result<std::optional<RateRefusal>> DiskStore::take_failed_proof_slot(const std::string& phone,
                                                                     const std::string& address) {
  return memory_.take_failed_proof_slot(phone, address);
}
void DiskStore::return_failed_proof_slot(const std::string& phone, const std::string& address) {
  memory_.return_failed_proof_slot(phone, address);
}
std::size_t DiskStore::rate_limit_keys() const { return memory_.rate_limit_keys(); }
Result<std::optional<Clock::duration>> DiskStore::lock_remaining(const std::string& phone) const {
  return memory_.lock_remaining(phone);
}
Result<int> DiskStore::connect_attempts_left(const std::string& phone) const {
  return memory_.connect_attempts_left(phone);
}
Result<FailureResult> DiskStore::record_connect_failure(const std::string& phone) {
  return memory_.record_connect_failure(phone);
}
Status DiskStore::record_connect_success(const std::string& phone) {
  return memory_.record_connect_success(phone);
}
std::mutex& DiskStore::connect_mutex(const std::string& phone) {
  return memory_.connect_mutex(phone);
}
std::unique_ptr<PutInProgress> DiskStore::start_put(const std::string& recipient,
                                                    StoredMessage message) {
  return memory_.start_put(recipient, std::move(message));
}
Result<std::vector<MessagePtr>> DiskStore::fetch(const std::string& phone, std::size_t max,
                                                 Clock::duration wait) {
  return memory_.fetch(phone, max, wait);
}
Result<AckResult> DiskStore::ack(const std::string& phone, const std::vector<std::string>& ids) {
  return memory_.ack(phone, ids);
}
std::size_t DiskStore::waiting(const std::string& phone) const { return memory_.waiting(phone); }
void DiskStore::shutdown() { memory_.shutdown(); }

Status DiskStore::compact() { return log_->new_generation(); }
DiskStats DiskStore::stats() const { return log_->stats(); }
StoreCounts DiskStore::counts() const {
  StoreCounts counts = memory_.counts();
  counts.journal_bytes = log_->stats().journal_bytes;
  return counts;
}

}  // namespace shido::server
