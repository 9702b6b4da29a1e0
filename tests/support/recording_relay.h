// A TCP relay that records what crosses it: it listens on 127.0.0.1 (port 0), forwards
// every connection it accepts to a target address, and keeps every byte in each direction,
// as a capture on the loopback interface would. For the tests that check what an observer
// of the network sees (design section 10.1: nothing of a frame, with TLS). Header only, no
// GoogleTest: the constructor throws std::runtime_error when it cannot listen.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <list>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "shido/net/socket.h"

namespace shido::test {

class RecordingRelay {
 public:
  RecordingRelay(std::string target_host, std::uint16_t target_port)
      : target_host_(std::move(target_host)), target_port_(target_port) {
    auto listener = listen_tcp("127.0.0.1", 0);
    if (!listener.ok()) throw std::runtime_error("relay: " + listener.error().message);
    listener_ = std::move(listener).value();
    auto port = local_port(listener_.get());
    if (!port.ok()) throw std::runtime_error("relay: " + port.error().message);
    port_ = port.value();
    int wake[2];
    if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("relay: pipe2");
    wake_read_ = UniqueFd(wake[0]);
    wake_write_ = UniqueFd(wake[1]);
    thread_ = std::thread([this] { run(); });
  }
  ~RecordingRelay() {
    const char stop = 's';
    (void)!::write(wake_write_.get(), &stop, 1);
    thread_.join();
  }
  RecordingRelay(const RecordingRelay&) = delete;
  RecordingRelay& operator=(const RecordingRelay&) = delete;

  const std::string& host() const { return host_; }
  std::uint16_t port() const { return port_; }

  // Every byte that went from the clients to the target so far, all connections together.
  std::string client_to_server() const {
    std::lock_guard lock(mutex_);
    return client_to_server_;
  }
  // Every byte that went back from the target to the clients so far.
  std::string server_to_client() const {
    std::lock_guard lock(mutex_);
    return server_to_client_;
  }
  // Connections accepted so far.
  int connections() const {
    std::lock_guard lock(mutex_);
    return connections_;
  }

 private:
  // One relayed connection: the client's socket and ours to the target.
  struct Pair {
    UniqueFd client;
    UniqueFd server;
    bool client_done = false;  // the client sent EOF (passed on as a half-close)
    bool server_done = false;  // the target sent EOF
  };

  void run() {
    std::list<Pair> pairs;
    for (;;) {
      std::vector<pollfd> polled{{wake_read_.get(), POLLIN, 0}, {listener_.get(), POLLIN, 0}};
      for (const Pair& pair : pairs) {
        polled.push_back({pair.client_done ? -1 : pair.client.get(), POLLIN, 0});
        polled.push_back({pair.server_done ? -1 : pair.server.get(), POLLIN, 0});
      }
      if (::poll(polled.data(), polled.size(), -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (polled[0].revents != 0) return;
      // The pairs polled, in order; a connection accepted below joins the next round.
      std::size_t at = 2;
      for (auto it = pairs.begin(); it != pairs.end(); at += 2) {
        Pair& pair = *it;
        bool broken = false;
        if (!pair.client_done && polled[at].revents != 0)
          broken = !forward(pair.client.get(), pair.server.get(), pair.client_done, true);
        if (!broken && !pair.server_done && polled[at + 1].revents != 0)
          broken = !forward(pair.server.get(), pair.client.get(), pair.server_done, false);
        // A reset, or both sides finished: the connection is over.
        if (broken || (pair.client_done && pair.server_done)) {
          it = pairs.erase(it);
        } else {
          ++it;
        }
      }
      if (polled[1].revents != 0) accept_one(pairs);
    }
  }

  void accept_one(std::list<Pair>& pairs) {
    UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client.valid()) return;
    auto server = connect_tcp(target_host_, target_port_);
    if (!server.ok()) return;  // the client sees its connection closed
    {
      std::lock_guard lock(mutex_);
      connections_ += 1;
    }
    pairs.push_back(Pair{std::move(client), std::move(server).value()});
  }

  // Moves what `from` has to `to` and records it. False when the connection broke.
  bool forward(int from, int to, bool& done, bool upstream) {
    std::array<char, 16384> buffer;
    const ssize_t n = ::recv(from, buffer.data(), buffer.size(), 0);
    if (n < 0) return errno == EINTR || errno == EAGAIN;
    if (n == 0) {
      done = true;
      ::shutdown(to, SHUT_WR);
      return true;
    }
    {
      std::lock_guard lock(mutex_);
      (upstream ? client_to_server_ : server_to_client_)
          .append(buffer.data(), static_cast<std::size_t>(n));
    }
    std::size_t sent = 0;
    while (sent < static_cast<std::size_t>(n)) {
      const ssize_t w =
          ::send(to, buffer.data() + sent, static_cast<std::size_t>(n) - sent, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      sent += static_cast<std::size_t>(w);
    }
    return true;
  }

  const std::string host_ = "127.0.0.1";
  std::string target_host_;
  std::uint16_t target_port_;
  UniqueFd listener_;
  std::uint16_t port_ = 0;
  UniqueFd wake_read_;
  UniqueFd wake_write_;
  mutable std::mutex mutex_;
  std::string client_to_server_;  // guarded by mutex_
  std::string server_to_client_;  // guarded by mutex_
  int connections_ = 0;           // guarded by mutex_
  std::thread thread_;            // last: starts once everything above is ready
};

}  // namespace shido::test
