#include "shido/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <vector>

#include "shido/net/socket.h"

namespace shido {
namespace {

Error io_error(const std::string& what, const std::string& path, int error) {
  return {Errc::kIo, what + " " + path + ": " + std::strerror(error)};
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status write_all(int fd, ByteView data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot write", path, errno);
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return {};
}

template <class Buffer>
Buffer sized(std::size_t size) {
  if constexpr (std::is_same_v<Buffer, std::string>) {
    return std::string(size, '\0');
  } else {
    return Buffer(size);
  }
}

// Reads a regular file into a buffer of type Buffer (std::string or SecretBytes).
template <class Buffer>
Result<Buffer> read_whole(const std::string& path, std::size_t max_size, bool must_be_private) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ENOENT) return Error{Errc::kNotFound, path + " does not exist"};
    return io_error("cannot open", path, errno);
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return io_error("cannot stat", path, errno);
  if (!S_ISREG(info.st_mode)) return Error{Errc::kIo, path + " is not a regular file"};
  if (must_be_private && (info.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    return Error{Errc::kInvalidKey,
                 path + " has mode " + mode +
                     ": others may read it; a secret file must be 0600 (chmod 600)"};
  }
  const auto size = static_cast<std::size_t>(info.st_size);
  if (size > max_size) return Error{Errc::kIo, path + " is larger than expected"};
  Buffer buffer = sized<Buffer>(size);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd.get(), buffer.data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot read", path, errno);
    if (n == 0) return Error{Errc::kIo, path + " shrank while being read"};
    done += static_cast<std::size_t>(n);
  }
  return buffer;
}

}  // namespace

Status write_file_atomic(const std::string& path, ByteView contents, unsigned mode) {
  std::string temp_name = path + ".tmp.XXXXXX";
  std::vector<char> temp(temp_name.begin(), temp_name.end());
  temp.push_back('\0');
  // mkstemp creates the file 0600, so a secret is never readable by others, not even briefly.
  UniqueFd fd(::mkstemp(temp.data()));
  if (!fd.valid()) return io_error("cannot create a file beside", path, errno);
  temp_name = temp.data();
  auto fail = [&](const std::string& what) {
    const int error = errno;
    ::unlink(temp_name.c_str());
    return io_error(what, path, error);
  };
  if (auto written = write_all(fd.get(), contents, path); !written.ok()) {
    ::unlink(temp_name.c_str());
    return written;
  }
  if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) return fail("cannot set the mode of");
  if (::fsync(fd.get()) != 0) return fail("cannot flush");
  if (::close(fd.release()) != 0) return fail("cannot close");
  if (::rename(temp_name.c_str(), path.c_str()) != 0) return fail("cannot replace");
  // Make the rename itself durable.
  UniqueFd dir(::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) ::fsync(dir.get());
  return {};
}

Result<std::string> read_file(const std::string& path, std::size_t max_size) {
  return read_whole<std::string>(path, max_size, false);
}

Result<SecretBytes> read_private_file(const std::string& path, std::size_t max_size) {
  return read_whole<SecretBytes>(path, max_size, true);
}

}  // namespace shido
