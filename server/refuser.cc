#include "server/refuser.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <system_error>
#include <vector>

namespace shido::server {

Refuser::Refuser(std::chrono::milliseconds linger, std::size_t max_held)
    : linger_(linger), max_held_(std::max<std::size_t>(max_held, 1)) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw std::system_error(errno, std::generic_category(), "cannot create a pipe");
  }
  wake_read_.reset(pipe_fds[0]);
  wake_write_.reset(pipe_fds[1]);
  thread_ = std::thread([this] { run(); });
}

Refuser::~Refuser() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake();
  thread_.join();
}

void Refuser::wake() {
  const char byte = 1;
  // A full pipe already holds a wake-up, so a failed write loses nothing.
  [[maybe_unused]] const ssize_t n = ::write(wake_write_.get(), &byte, 1);
}

void Refuser::refuse(UniqueFd fd, const std::string& reply) {
  // A new socket's send buffer is empty, so a small reply fits whole; if it does not, the
  // peer gets no reply rather than the accept loop a wait.
  const ssize_t sent = ::send(fd.get(), reply.data(), reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent != static_cast<ssize_t>(reply.size())) return;  // closes fd
  ::shutdown(fd.get(), SHUT_WR);
  {
    std::lock_guard lock(mutex_);
    // Past the cap it closes at once: the descriptors it holds stay within what the server
    // kept for them (server/connection_capacity).
    if (stopping_ || held_ >= max_held_) return;
    arrived_.push_back({std::move(fd), std::chrono::steady_clock::now() + linger_});
    held_ += 1;
  }
  wake();
}

std::size_t Refuser::held() const {
  std::lock_guard lock(mutex_);
  return held_;
}

void Refuser::run() {
  std::deque<Lingering> lingering;  // oldest first, so deadlines are in order
  std::vector<pollfd> polled;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
      std::move(arrived_.begin(), arrived_.end(), std::back_inserter(lingering));
      arrived_.clear();
      // Past the cap the oldest goes at once: refusing stays cheap however many arrive.
      while (lingering.size() > max_held_) lingering.pop_front();
      held_ = lingering.size();
    }
    const auto now = std::chrono::steady_clock::now();
    while (!lingering.empty() && lingering.front().until <= now) lingering.pop_front();

    polled.clear();
    polled.push_back({wake_read_.get(), POLLIN, 0});
    for (const Lingering& each : lingering) polled.push_back({each.fd.get(), POLLIN, 0});
    int timeout = -1;
    if (!lingering.empty()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(lingering.front().until - now);
      timeout = static_cast<int>(std::clamp<long long>(left.count(), 0, INT_MAX));
    }
    if (::poll(polled.data(), polled.size(), timeout) < 0) {
      // Out of memory, say: let the lingering ones go rather than stop refusing.
      if (errno != EINTR) lingering.clear();
      continue;
    }

    if ((polled[0].revents & POLLIN) != 0) {
      char drain[64];
      while (::read(wake_read_.get(), drain, sizeof drain) > 0) {
      }
    }
    // A peer that has read the reply and closed, or that is gone, is done with; what else
    // it sends is read and dropped.
    std::vector<bool> done(lingering.size(), false);
    for (std::size_t i = 0; i < lingering.size(); ++i) {
      if (polled[i + 1].revents == 0) continue;
      char discard[4096];
      const ssize_t n = ::recv(lingering[i].fd.get(), discard, sizeof discard, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) done[i] = true;
    }
    std::size_t kept = 0;
    for (std::size_t i = 0; i < lingering.size(); ++i) {
      if (!done[i]) lingering[kept++] = std::move(lingering[i]);
    }
    lingering.resize(kept);
    const auto after = std::chrono::steady_clock::now();
    while (!lingering.empty() && lingering.front().until <= after) lingering.pop_front();
    std::lock_guard lock(mutex_);
    held_ = lingering.size() + arrived_.size();
  }
  std::lock_guard lock(mutex_);
  held_ = 0;
}

}  // namespace shido::server
