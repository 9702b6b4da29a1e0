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

// Appends at the file's logical end. With `preallocate`, the file is filled with zeros in
// chunks of that size ahead of the data: an fdatasync after writing into blocks that already
// exist need not commit the file's size or extents, so it costs one disk flush instead of a
// file-system journal commit (about 0.2 ms instead of 4 ms on this project's machines).
class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(UniqueFd fd, std::string path, std::uint64_t end, std::uint64_t preallocate)
      : fd_(std::move(fd)),
        path_(std::move(path)),
        end_(end),
        allocated_(end),
        preallocate_(preallocate) {}

  Status append(ByteView data) override {
    if (preallocate_ > 0 && end_ + data.size() > allocated_) {
      const std::uint64_t wanted = end_ + data.size() + preallocate_;
      if (Status zeroed = write_zeros(allocated_, wanted); !zeroed.ok()) return zeroed;
      allocated_ = wanted;
    }
    if (Status written = write_at(end_, data); !written.ok()) return written;
    end_ += data.size();
    return {};
  }

  Status sync() override {
    while (::fdatasync(fd_.get()) != 0) {
      if (errno != EINTR) return io_error("sync", path_, errno);
    }
    return {};
  }

 private:
  Status write_at(std::uint64_t offset, ByteView data) {
    while (!data.empty()) {
      const ssize_t n = ::pwrite(fd_.get(), data.data(), data.size(), static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error("write", path_, errno);
      }
      data = data.subspan(static_cast<std::size_t>(n));
      offset += static_cast<std::uint64_t>(n);
    }
    return {};
  }

  Status write_zeros(std::uint64_t from, std::uint64_t to) {
    const Bytes zeros(std::size_t{1} << 20, 0);
    while (from < to) {
      const std::size_t size =
          static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), to - from));
      if (Status written = write_at(from, ByteView(zeros).first(size)); !written.ok())
        return written;
      from += size;
    }
    return {};
  }

  UniqueFd fd_;
  std::string path_;
  std::uint64_t end_;        // where the next append goes
  std::uint64_t allocated_;  // zeros reach up to here
  const std::uint64_t preallocate_;
};

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<WritableFile>> create(const std::string& path,
                                               std::uint64_t preallocate) override {
    return open_file(path, O_WRONLY | O_CREAT | O_TRUNC, preallocate, "create");
  }

  Result<std::unique_ptr<WritableFile>> open_for_append(const std::string& path,
                                                        std::uint64_t preallocate) override {
    return open_file(path, O_WRONLY, preallocate, "open");
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
                                                         std::uint64_t preallocate,
                                                         const std::string& what) {
    UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC, 0600));
    if (!fd.valid()) return io_error(what, path, errno);
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) return io_error(what, path, errno);
    return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(
        std::move(fd), path, static_cast<std::uint64_t>(info.st_size), preallocate));
  }
};

}  // namespace

std::unique_ptr<FileSystem> make_posix_file_system() { return std::make_unique<PosixFileSystem>(); }

}  // namespace shido::server
