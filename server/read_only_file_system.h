// A FileSystem that reads through another and writes nothing: for reading a disk store that
// must stay as it was (--import-disk-store, server/store_import.h). recover() tidies the
// files as it loads them (cuts a torn tail or a journal's zero padding, removes what a newer
// snapshot replaced); here those steps do nothing and report success, since what it loads
// into memory does not depend on them. Making or renaming a file (what --salvage does)
// fails instead: there is no way to pretend that.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server/file_system.h"

namespace shido::server {

class ReadOnlyFileSystem final : public FileSystem {
 public:
  // files must outlive this.
  explicit ReadOnlyFileSystem(FileSystem& files) : files_(files) {}

  Result<std::unique_ptr<WritableFile>> create(const std::string& path,
                                               std::uint64_t preallocate = 0) override;
  Result<std::unique_ptr<WritableFile>> open_for_append(const std::string& path,
                                                        std::uint64_t preallocate = 0) override;
  Result<Bytes> read(const std::string& path) override;
  Status truncate(const std::string& path, std::uint64_t size) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status sync_directory(const std::string& directory) override;
  Result<std::vector<std::string>> list(const std::string& directory) override;

 private:
  FileSystem& files_;
};

}  // namespace shido::server
