// Answers the connections the server will not serve, without holding up accepting: the
// accept loop hands each over with its last reply (a 128), and a thread of its own sends
// it, half-closes, and drains what the peer still sends for a short linger (so that the
// reply is read rather than lost to a reset), many connections at once, then closes them.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "shido/net/socket.h"

namespace shido::server {

class Refuser {
 public:
  // Holds at most max_held connections lingering; past that the oldest is closed at once.
  explicit Refuser(std::chrono::milliseconds linger = std::chrono::milliseconds(200),
                   std::size_t max_held = 1024);
  ~Refuser();  // closes every connection still held
  Refuser(const Refuser&) = delete;
  Refuser& operator=(const Refuser&) = delete;

  // Sends reply (whole frames) without waiting, and lets the connection linger. Never blocks.
  void refuse(UniqueFd fd, const std::string& reply);

  // Connections lingering now (for tests).
  std::size_t held() const;

 private:
  struct Lingering {
    UniqueFd fd;
    std::chrono::steady_clock::time_point until;
  };

  void run();
  void wake();

  const std::chrono::milliseconds linger_;
  const std::size_t max_held_;
  UniqueFd wake_read_;
  UniqueFd wake_write_;
  mutable std::mutex mutex_;
  std::deque<Lingering> arrived_;  // handed over, not yet polled; guarded by mutex_
  std::size_t held_ = 0;           // arrived_ plus the run thread's own; guarded by mutex_
  bool stopping_ = false;          // guarded by mutex_
  std::thread thread_;             // last: starts once everything above is ready
};

}  // namespace shido::server
