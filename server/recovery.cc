#include "server/recovery.h"

#include <algorithm>
#include <vector>

#include "server/change.h"
#include "server/record.h"
#include "server/store_files.h"

namespace shido::server {
namespace {

struct LoadedFile {
  std::uint64_t records = 0;        // change records applied
  std::uint64_t last_sequence = 0;  // of the last good record; 0 when none
  std::uint64_t bytes = 0;          // the file's size once loaded (tail cut)
};

// Where a file stops being good, and why.
struct Damage {
  std::size_t offset = 0;
  std::string problem;
};

class Loader {
 public:
  Loader(FileSystem& fs, std::string directory, MemoryStore& store, bool salvage, Logger& logger)
      : fs_(fs),
        directory_(std::move(directory)),
        store_(store),
        salvage_(salvage),
        logger_(logger) {}

  Result<LoadedFile> load(const StoreFileName& file) {
    const std::string name = store_file_name(file.kind, file.generation);
    const std::string path = directory_ + "/" + name;
    auto read = fs_.read(path);
    if (!read.ok()) return read.error();
    const Bytes& bytes = read.value();
    const ScanResult scan = scan_records(bytes);

    LoadedFile loaded;
    std::optional<Damage> damage;
    if (scan.end == ScanResult::End::kDamaged ||
        (file.kind == StoreFileKind::kSnapshot && scan.end != ScanResult::End::kClean)) {
      // A snapshot was synced whole before it got its name: nothing may be missing, and
      // nothing (not even zeros) may follow it.
      damage = Damage{scan.good_bytes, scan.problem};
    }
    bool ended = false;  // a snapshot's end record was read
    for (std::size_t i = 0; i < scan.records.size(); ++i) {
      const RecordView& record = scan.records[i];
      if (damage && record.offset >= damage->offset) break;
      if (i == 0) {
        Status header = record.type == kHeaderRecord
                            ? check_header(record.body, file.kind, file.generation)
                            : Status(Error{Errc::kBadValue, "no header record"});
        if (!header.ok()) {
          damage = Damage{0, header.error().message};
          break;
        }
        loaded.last_sequence = record.sequence;
        continue;
      }
      if (ended) {
        damage = Damage{record.offset, "a record after the snapshot's end"};
        break;
      }
      if (file.kind == StoreFileKind::kSnapshot && record.type == kSnapshotEndRecord &&
          decode_snapshot_end(record.body).ok()) {
        ended = true;
        loaded.last_sequence = record.sequence;
        continue;
      }
      auto change = decode_change(record.type, record.body);
      if (!change.ok()) {
        damage = Damage{record.offset, change.error().message};
        break;
      }
      if (store_.replay(std::move(change).value()) == ReplayResult::kNoSuchUser) orphans_ += 1;
      loaded.records += 1;
      loaded.last_sequence = record.sequence;
    }
    if (!damage && file.kind == StoreFileKind::kSnapshot && !ended) {
      damage = Damage{scan.good_bytes, scan.records.empty() ? "an empty snapshot"
                                                            : "the snapshot has no end record"};
    }
    if (damage) {
      if (!salvage_) {
        return Error{Errc::kBadValue,
                     path + " is damaged at byte " + std::to_string(damage->offset) + " (" +
                         damage->problem + "); nothing was changed. To start with the " +
                         std::to_string(loaded.records) +
                         " good records before the damage (the whole file is kept as " + name +
                         ".damaged), start once with --salvage"};
      }
      if (Status kept = keep_good_prefix(path, bytes, damage->offset); !kept.ok())
        return kept.error();
      logger_.log(LogLevel::kWarn, "", "",
                  "salvaged " + path + ": kept the " + std::to_string(loaded.records) +
                      " records before the damage at byte " + std::to_string(damage->offset) +
                      " (" + damage->problem + "); the whole file is in " + name + ".damaged");
      salvaged_ = true;
      loaded.bytes = damage->offset;
      return loaded;
    }
    if (scan.end == ScanResult::End::kPadded) {
      // The zeros a journal is preallocated with: cut, so that appending goes on from the
      // last record.
      if (Status cut = fs_.truncate(path, scan.good_bytes); !cut.ok()) return cut.error();
    }
    if (scan.end == ScanResult::End::kTornTail) {
      logger_.log(LogLevel::kWarn, "", "",
                  "dropped the last " + std::to_string(bytes.size() - scan.good_bytes) +
                      " bytes of " + path + " (" + scan.problem +
                      "): a write cut short by a crash; every record before them is kept");
      if (Status cut = fs_.truncate(path, scan.good_bytes); !cut.ok()) return cut.error();
    }
    loaded.bytes = scan.good_bytes;
    return loaded;
  }

  std::uint64_t orphans() const { return orphans_; }
  bool salvaged() const { return salvaged_; }

 private:
  // Moves the damaged file aside and writes its first `size` bytes in its place.
  Status keep_good_prefix(const std::string& path, const Bytes& bytes, std::size_t size) {
    if (Status moved = fs_.rename(path, path + ".damaged"); !moved.ok()) return moved;
    auto file = fs_.create(path);
    if (!file.ok()) return file.error();
    const ByteView prefix = ByteView(bytes).first(size);
    if (Status written = file.value()->append(prefix); !written.ok()) return written;
    if (Status synced = file.value()->sync(); !synced.ok()) return synced;
    return fs_.sync_directory(directory_);
  }

  FileSystem& fs_;
  const std::string directory_;
  MemoryStore& store_;
  const bool salvage_;
  Logger& logger_;
  std::uint64_t orphans_ = 0;
  bool salvaged_ = false;
};

}  // namespace

Result<Recovered> recover(FileSystem& fs, const std::string& directory, MemoryStore& store,
                          bool salvage, Logger& logger) {
  auto names = fs.list(directory);
  if (!names.ok()) return names.error();
  std::vector<StoreFileName> snapshots;
  std::vector<StoreFileName> journals;
  std::vector<std::string> leftovers;  // snapshots never finished: a crash while writing
  Recovered recovered;
  for (const std::string& name : names.value()) {
    if (name.starts_with("snapshot-") && name.ends_with(".tmp")) leftovers.push_back(name);
    auto file = parse_store_file_name(name);
    if (!file) continue;
    recovered.newest_generation = std::max(recovered.newest_generation, file->generation);
    (file->kind == StoreFileKind::kSnapshot ? snapshots : journals).push_back(*file);
  }
  const auto by_generation = [](const StoreFileName& a, const StoreFileName& b) {
    return a.generation < b.generation;
  };
  std::sort(snapshots.begin(), snapshots.end(), by_generation);
  std::sort(journals.begin(), journals.end(), by_generation);

  // Each generation's journal is made before its snapshot, and kept until a newer snapshot
  // is written: the journals from the snapshot's generation on follow one another. A gap
  // means files are missing (a copy taken while a snapshot was written), never to be
  // papered over.
  std::uint64_t expected = snapshots.empty() ? 1 : snapshots.back().generation;
  for (const StoreFileName& journal : journals) {
    if (journal.generation < expected) continue;
    if (journal.generation != expected) {
      return Error{Errc::kBadValue,
                   directory + "/" + store_file_name(StoreFileKind::kJournal, expected) +
                       " is missing, yet " +
                       store_file_name(StoreFileKind::kJournal, journal.generation) +
                       " exists: the directory is incomplete (was it copied while the server "
                       "wrote a snapshot?); nothing was changed"};
    }
    expected += 1;
  }

  Loader loader(fs, directory, store, salvage, logger);
  if (!snapshots.empty()) {
    recovered.snapshot = snapshots.back().generation;
    auto loaded = loader.load(snapshots.back());
    if (!loaded.ok()) return loaded.error();
    recovered.records += loaded.value().records;
  }
  for (const StoreFileName& journal : journals) {
    if (journal.generation < recovered.snapshot) continue;
    auto loaded = loader.load(journal);
    if (!loaded.ok()) return loaded.error();
    recovered.journals += 1;
    recovered.records += loaded.value().records;
    recovered.journal_bytes += loaded.value().bytes;
    recovered.last_journal = journal.generation;
    recovered.last_sequence = loaded.value().last_sequence;
  }
  recovered.salvaged = loader.salvaged();
  if (loader.orphans() > 0) {
    logger.log(LogLevel::kWarn, "", "",
               "dropped " + std::to_string(loader.orphans()) +
                   " messages whose account the files no longer hold (lost from an unsynced "
                   "journal under --fsync everysec or no)");
  }

  // What the snapshot loaded replaces, and snapshots a crash left unfinished.
  const auto remove = [&](const std::string& name) {
    std::string path = directory;
    path += '/';
    path += name;
    return fs.remove(path).ok();
  };
  bool removed = false;
  for (const StoreFileName& file : snapshots) {
    if (file.generation >= recovered.snapshot) continue;
    if (remove(store_file_name(file.kind, file.generation))) removed = true;
  }
  for (const StoreFileName& file : journals) {
    if (file.generation >= recovered.snapshot) continue;
    if (remove(store_file_name(file.kind, file.generation))) removed = true;
  }
  for (const std::string& name : leftovers) {
    if (remove(name)) removed = true;
  }
  if (removed) (void)fs.sync_directory(directory);
  return recovered;
}

}  // namespace shido::server
