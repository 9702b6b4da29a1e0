// Small TCP helpers shared by the server, the client and the tests.
#pragma once

#include <cstdint>
#include <string>

#include "shido/result.h"

namespace shido {

// Owns a file descriptor and closes it once.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Connects to host:port (a name or a numeric address, IPv4 or IPv6). Fails with kIo,
// naming the address and the reason.
Result<UniqueFd> connect_tcp(const std::string& host, std::uint16_t port);

// A listening socket on host:port with SO_REUSEADDR; port 0 picks a free port.
Result<UniqueFd> listen_tcp(const std::string& host, std::uint16_t port, int backlog = 128);

// The local port a socket is bound to.
Result<std::uint16_t> local_port(int fd);

}  // namespace shido
