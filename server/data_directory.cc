#include "server/data_directory.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace shido::server {
namespace {

Error io_error(const std::string& what, const std::string& path, int error) {
  return Error{Errc::kIo, what + " " + path + ": " + std::strerror(error)};
}

}  // namespace

Status prepare_data_directory(const std::string& directory) {
  if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
    return io_error("cannot create", directory, errno);
  }
  struct stat info {};
  if (::stat(directory.c_str(), &info) != 0) return io_error("cannot read", directory, errno);
  if (!S_ISDIR(info.st_mode)) return Error{Errc::kIo, directory + " is not a directory"};
  if ((info.st_mode & 077) != 0 && ::chmod(directory.c_str(), 0700) != 0) {
    return io_error("cannot make private (mode 0700)", directory, errno);
  }
  return {};
}

Result<UniqueFd> lock_data_directory(const std::string& directory) {
  const std::string path = directory + "/lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return io_error("cannot open", path, errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Error{Errc::kIo, "another shido-server is using " + directory + " (it holds " + path +
                                  "); stop it first, or give this one another --data-dir"};
    }
    return io_error("cannot lock", path, errno);
  }
  // The holder's pid, for whoever wonders who holds it; the lock is the flock, not this.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) == 0) (void)!::write(fd.get(), pid.data(), pid.size());
  return fd;
}

}  // namespace shido::server
