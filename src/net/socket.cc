#include "shido/net/socket.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>

namespace shido {

namespace {

std::string errno_text(int err) { return std::generic_category().message(err); }

// "host:port", or "[host]:port" for an IPv6 literal.
std::string address_text(const std::string& host, std::uint16_t port) {
  const std::string shown = host.empty() ? "*" : host;
  if (shown.find(':') != std::string::npos) return "[" + shown + "]:" + std::to_string(port);
  return shown + ":" + std::to_string(port);
}

struct AddrInfoDeleter {
  void operator()(addrinfo* info) const { freeaddrinfo(info); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoDeleter>;

Result<AddrInfoPtr> resolve(const std::string& host, std::uint16_t port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  const std::string service = std::to_string(port);
  // An empty host to listen on means every local address.
  const char* node = host.empty() && passive ? nullptr : host.c_str();
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(node, service.c_str(), &hints, &found);
  if (rc != 0) {
    const std::string reason = rc == EAI_SYSTEM ? errno_text(errno) : gai_strerror(rc);
    return Error{Errc::kIo, "cannot resolve " + address_text(host, port) + ": " + reason};
  }
  return AddrInfoPtr(found);
}

// Finishes a connect() that a signal interrupted: the connection goes on in the
// background, so wait for it and read its outcome.
int finish_interrupted_connect(int fd) {
  for (;;) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, -1) >= 0) break;
    if (errno != EINTR) return errno;
  }
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

// Connects a new socket to one address; returns 0 or the errno of the failure.
int connect_one(const addrinfo& info, UniqueFd& out) {
  UniqueFd fd(socket(info.ai_family, info.ai_socktype | SOCK_CLOEXEC, info.ai_protocol));
  if (!fd.valid()) return errno;
  if (connect(fd.get(), info.ai_addr, info.ai_addrlen) != 0) {
    const int err = errno == EINTR ? finish_interrupted_connect(fd.get()) : errno;
    if (err != 0) return err;
  }
  out = std::move(fd);
  return 0;
}

// Binds and listens a new socket on one address; returns 0 or the errno of the failure.
int listen_one(const addrinfo& info, int backlog, UniqueFd& out) {
  UniqueFd fd(socket(info.ai_family, info.ai_socktype | SOCK_CLOEXEC, info.ai_protocol));
  if (!fd.valid()) return errno;
  // A restarted server can bind again at once despite connections in TIME_WAIT.
  const int on = 1;
  if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) return errno;
  if (bind(fd.get(), info.ai_addr, info.ai_addrlen) != 0) return errno;
  if (listen(fd.get(), backlog) != 0) return errno;
  out = std::move(fd);
  return 0;
}

}  // namespace

void UniqueFd::reset(int fd) {
  if (fd_ >= 0 && fd_ != fd) {
    // Not retried on EINTR: on Linux the descriptor is released whatever close returns.
    ::close(fd_);
  }
  fd_ = fd;
}

Result<UniqueFd> connect_tcp(const std::string& host, std::uint16_t port) {
  auto addresses = resolve(host, port, /*passive=*/false);
  if (!addresses.ok()) return addresses.error();
  int last_error = EADDRNOTAVAIL;
  for (const addrinfo* info = addresses.value().get(); info != nullptr; info = info->ai_next) {
    UniqueFd fd;
    last_error = connect_one(*info, fd);
    if (last_error == 0) return fd;
  }
  return Error{Errc::kIo,
               "cannot connect to " + address_text(host, port) + ": " + errno_text(last_error)};
}

Result<UniqueFd> listen_tcp(const std::string& host, std::uint16_t port, int backlog) {
  auto addresses = resolve(host, port, /*passive=*/true);
  if (!addresses.ok()) return addresses.error();
  int last_error = EADDRNOTAVAIL;
  for (const addrinfo* info = addresses.value().get(); info != nullptr; info = info->ai_next) {
    UniqueFd fd;
    last_error = listen_one(*info, backlog, fd);
    if (last_error == 0) return fd;
  }
  return Error{Errc::kIo,
               "cannot listen on " + address_text(host, port) + ": " + errno_text(last_error)};
}

Result<std::uint16_t> local_port(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return Error{Errc::kIo, "cannot read the local address: " + errno_text(errno)};
  }
  if (address.ss_family == AF_INET) {
    sockaddr_in v4{};
    std::memcpy(&v4, &address, sizeof(v4));
    return static_cast<std::uint16_t>(ntohs(v4.sin_port));
  }
  if (address.ss_family == AF_INET6) {
    sockaddr_in6 v6{};
    std::memcpy(&v6, &address, sizeof(v6));
    return static_cast<std::uint16_t>(ntohs(v6.sin6_port));
  }
  return Error{Errc::kIo, "the socket is not an IPv4 or IPv6 socket"};
}

}  // namespace shido
