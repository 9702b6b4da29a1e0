#include "server/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "shido/net/socket.h"

namespace shido::server {
namespace {

Error io_error(const std::string& what, const std::string& path, int err) {
  return Error{err == ENOENT ? Errc::kNotFound : Errc::kIo,
               "cannot " + what + " " + path + ": " + std::strerror(err)};
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  Status append(ByteView data) override {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_.get(), data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error("write", path_, errno);
      }
      data = data.subspan(static_cast<std::size_t>(n));
    }
    return {};
  }

  Status sync() override {
    while (::fdatasync(fd_.get()) != 0) {
      if (errno != EINTR) return io_error("sync", path_, errno);
    }
    return {};
  }

 private:
  UniqueFd fd_;
  std::string path_;
};

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<WritableFile>> create(const std::string& path) override {
    return open_file(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, "create");
  }

  Result<std::unique_ptr<WritableFile>> open_for_append(const std::string& path) override {
    return open_file(path, O_WRONLY | O_APPEND, "open");
  }

  Result<Bytes> read(const std::string& path) override {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return io_error("open", path, errno);
    Bytes contents;
    std::uint8_t chunk[1 << 16];
    for (;;) {
      const ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error("read", path, errno);
      }
      if (n == 0) return contents;
      contents.insert(contents.end(), chunk, chunk + n);
    }
  }

  Status truncate(const std::string& path, std::uint64_t size) override {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) return io_error("open", path, errno);
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
      return io_error("truncate", path, errno);
    }
    if (::fsync(fd.get()) != 0) return io_error("sync", path, errno);
    return {};
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return io_error("rename", from, errno);
    return {};
  }

  Status remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return io_error("remove", path, errno);
    return {};
  }

  Status sync_directory(const std::string& directory) override {
    UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return io_error("open", directory, errno);
    if (::fsync(fd.get()) != 0) return io_error("sync", directory, errno);
    return {};
  }

  Result<std::vector<std::string>> list(const std::string& directory) override {
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(directory.c_str()), ::closedir);
    if (!dir) return io_error("list", directory, errno);
    std::vector<std::string> names;
    while (const dirent* entry = ::readdir(dir.get())) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  static Result<std::unique_ptr<WritableFile>> open_file(const std::string& path, int flags,
                                                         const std::string& what) {
    UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC, 0600));
    if (!fd.valid()) return io_error(what, path, errno);
    return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(std::move(fd), path));
  }
};

}  // namespace

std::unique_ptr<FileSystem> make_posix_file_system() { return std::make_unique<PosixFileSystem>(); }

}  // namespace shido::server
