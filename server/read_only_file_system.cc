#include "server/read_only_file_system.h"

namespace shido::server {
namespace {

Error refused(const std::string& what, const std::string& path) {
  return Error{Errc::kIo, "cannot " + what + " " + path + ": the files are only read here"};
}

}  // namespace

Result<std::unique_ptr<WritableFile>> ReadOnlyFileSystem::create(const std::string& path,
                                                                 std::uint64_t /*preallocate*/) {
  return refused("create", path);
}

Result<std::unique_ptr<WritableFile>> ReadOnlyFileSystem::open_for_append(
    const std::string& path, std::uint64_t /*preallocate*/) {
  return refused("write to", path);
}

Result<Bytes> ReadOnlyFileSystem::read(const std::string& path) { return files_.read(path); }

Status ReadOnlyFileSystem::truncate(const std::string& /*path*/, std::uint64_t /*size*/) {
  return {};
}

Status ReadOnlyFileSystem::rename(const std::string& from, const std::string& /*to*/) {
  return refused("rename", from);
}

Status ReadOnlyFileSystem::remove(const std::string& /*path*/) { return {}; }

Status ReadOnlyFileSystem::sync_directory(const std::string& /*directory*/) { return {}; }

Result<std::vector<std::string>> ReadOnlyFileSystem::list(const std::string& directory) {
  return files_.list(directory);
}

}  // namespace shido::server
