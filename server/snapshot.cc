#include "server/snapshot.h"

#include "server/change.h"
#include "server/store_files.h"

namespace shido::server {
namespace {

// Appends records to a file in batches of about a megabyte: one write per batch, and the
// snapshot is never held in memory whole.
class RecordStream {
 public:
  explicit RecordStream(WritableFile& file) : file_(file) {}

  Status add(std::uint8_t type, ByteView body) {
    append_record(batch_, type, next_sequence_++, body);
    return batch_.size() >= kBatchBytes ? flush() : Status{};
  }
  Status add(const Change& change) {
    return add(static_cast<std::uint8_t>(change_type(change)), encode_change(change));
  }
  Status flush() {
    Status written = file_.append(batch_);
    batch_.clear();
    return written;
  }

 private:
  static constexpr std::size_t kBatchBytes = std::size_t{1} << 20;
  WritableFile& file_;
  Bytes batch_;
  std::uint64_t next_sequence_ = 1;
};

Status write_records(WritableFile& file, std::uint64_t generation, const StoreImage& image) {
  RecordStream out(file);
  Status step = out.add(kHeaderRecord, encode_header(StoreFileKind::kSnapshot, generation));
  for (const User& user : image.users) {
    if (!step.ok()) return step;
    step = out.add(UserAdded{user});
  }
  for (const LockChanged& lock : image.locks) {
    if (!step.ok()) return step;
    step = out.add(lock);
  }
  for (const StoreImage::Message& held : image.messages) {
    if (!step.ok()) return step;
    const StoredMessage& message = *held.message;
    step = out.add(MessageAdded{held.recipient, message.id, message.sender_phone,
                                message.stored_at_ms, message.envelope});
  }
  if (!step.ok()) return step;
  step =
      out.add(kSnapshotEndRecord,
              encode_snapshot_end({image.users.size(), image.locks.size(), image.messages.size()}));
  if (!step.ok()) return step;
  if (Status flushed = out.flush(); !flushed.ok()) return flushed;
  return file.sync();
}

}  // namespace

Status write_snapshot(FileSystem& fs, const std::string& directory, std::uint64_t generation,
                      const StoreImage& image) {
  const std::string path = directory + "/" + store_file_name(StoreFileKind::kSnapshot, generation);
  const std::string temporary = path + ".tmp";
  Status written = [&]() -> Status {
    auto file = fs.create(temporary);
    if (!file.ok()) return file.error();
    if (Status records = write_records(*file.value(), generation, image); !records.ok())
      return records;
    if (Status renamed = fs.rename(temporary, path); !renamed.ok()) return renamed;
    return fs.sync_directory(directory);
  }();
  if (!written.ok()) (void)fs.remove(temporary);
  return written;
}

}  // namespace shido::server
