#include "shido/net/stream.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <system_error>

namespace shido {
namespace {

using Clock = std::chrono::steady_clock;

std::string errno_text(int err) { return std::generic_category().message(err); }

// Milliseconds left until the deadline for poll(): -1 for none, 0 once it has passed,
// rounded up so that poll never wakes before the deadline.
int poll_timeout(const SteadyDeadline& deadline) {
  if (!deadline) return -1;
  const auto left = *deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

Error io_error(const char* what, int err) {
  return Error{Errc::kIo, std::string(what) + ": " + errno_text(err)};
}

}  // namespace

SteadyDeadline deadline_in(std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0) return std::nullopt;
  return Clock::now() + timeout;
}

Ready wait_ready(int fd, WaitFor what, const SteadyDeadline& deadline, int* err) {
  const short events = what == WaitFor::kReadable ? POLLIN : POLLOUT;
  for (;;) {
    pollfd p{fd, events, 0};
    const int timeout = poll_timeout(deadline);
    const int n = ::poll(&p, 1, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      *err = errno;
      return Ready::kError;
    }
    if (n == 0) {
      if (timeout == 0) return Ready::kTimeout;
      continue;  // woke early: poll_timeout decides again
    }
    if ((p.revents & POLLNVAL) != 0) {
      *err = EBADF;
      return Ready::kError;
    }
    return Ready::kYes;
  }
}

Received SocketStream::receive(char* into, std::size_t room, const SteadyDeadline& deadline) {
  // poll() ignores a negative descriptor, so without this check we would wait for ever.
  if (fd_ < 0) return {Received::Kind::kError, 0, errno_text(EBADF)};
  for (;;) {
    int err = 0;
    switch (wait_ready(fd_, WaitFor::kReadable, deadline, &err)) {
      case Ready::kYes:
        break;
      case Ready::kTimeout:
        return {Received::Kind::kTimeout, 0, {}};
      case Ready::kError:
        return {Received::Kind::kError, 0, errno_text(err)};
    }
    const ssize_t n = ::recv(fd_, into, room, 0);
    if (n > 0) return {Received::Kind::kBytes, static_cast<std::size_t>(n), {}};
    if (n == 0) return {Received::Kind::kEof, 0, {}};
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    return {Received::Kind::kError, 0, errno_text(errno)};
  }
}

Status SocketStream::send(std::string_view bytes) {
  if (fd_ < 0) return io_error("writing a frame", EBADF);
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    // MSG_NOSIGNAL: a vanished peer is an EPIPE error here, not a SIGPIPE that kills us.
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      // On a blocking socket this is SO_SNDTIMEO expiring: the peer stopped reading, and
      // waiting on would hold this thread for as long as it likes. Give up instead.
      if ((::fcntl(fd_, F_GETFL) & O_NONBLOCK) == 0)
        return io_error("writing a frame (peer not reading)", errno);
      int err = 0;
      if (wait_ready(fd_, WaitFor::kWritable, std::nullopt, &err) == Ready::kError)
        return io_error("waiting to write a frame", err);
      continue;
    }
    return io_error("writing a frame", errno);
  }
  return {};
}

void SocketStream::finish_sending() { ::shutdown(fd_, SHUT_WR); }

}  // namespace shido
