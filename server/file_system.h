// The file operations the disk store makes, behind an interface: the server uses the POSIX
// one; tests put in one that fails a chosen call, or that keeps only what was synced when
// they cut the power. Every failure is kIo (kNotFound for a missing file), naming the path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shido/bytes.h"
#include "shido/result.h"

namespace shido::server {

// A file open for appending. After a failed append or sync its state is unknown: the
// caller stops using it (the kernel may have dropped the pages a failed fsync covered, so
// a second fsync could report success for data that is gone).
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes all of data at the end, retrying short writes and EINTR.
  virtual Status append(ByteView data) = 0;
  // Puts what was appended on the disk (fdatasync).
  virtual Status sync() = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Creates path (mode 0600), or empties it if it exists, for appending. With `preallocate`,
  // the file is filled with zeros that far ahead of what is appended (so that a sync after
  // an append need not change the file's size): a reader sees the appended bytes, then
  // zeros.
  virtual Result<std::unique_ptr<WritableFile>> create(const std::string& path,
                                                       std::uint64_t preallocate = 0) = 0;
  // Opens an existing file for appending after its current end (as create for `preallocate`).
  virtual Result<std::unique_ptr<WritableFile>> open_for_append(const std::string& path,
                                                                std::uint64_t preallocate = 0) = 0;
  virtual Result<Bytes> read(const std::string& path) = 0;
  // Cuts path to its first `size` bytes and syncs it.
  virtual Status truncate(const std::string& path, std::uint64_t size) = 0;
  // Atomically replaces `to` by `from` (both in one directory).
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  virtual Status remove(const std::string& path) = 0;
  // Makes the directory's entries (creations, renames, removals) durable.
  virtual Status sync_directory(const std::string& directory) = 0;
  // The names (not paths) of the directory's entries, sorted.
  virtual Result<std::vector<std::string>> list(const std::string& directory) = 0;
};

std::unique_ptr<FileSystem> make_posix_file_system();

}  // namespace shido::server
