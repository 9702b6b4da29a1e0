// The listening server: accepts connections and serves each on its own thread, up to a
// cap; stops on request, closing every connection and joining every thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "server/address_slots.h"
#include "server/connection.h"
#include "server/log_budget.h"
#include "server/proxy_sources.h"
#include "server/refuser.h"
#include "server/session.h"
#include "server/status_report.h"
#include "shido/net/socket.h"
#include "shido/protocol/frame.h"

namespace shido::server {

// Frames up to this size (every request but the send of a long message) take nothing from
// the server-wide budget of frames still arriving: an exhausted budget then delays only
// large sends, never a login. What they hold is bounded by the connections instead (by
// 32 x 16 KiB for one address that has not logged in).
inline constexpr std::size_t kUnbudgetedFrame = std::size_t{16} << 10;

struct ListenOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 5000;
  std::size_t max_connections = 1024;  // shido-server's default (0) is what the kernel allows
  ConnectionLimits connection;
  // Connections from one address (an IPv6 /64) that have not logged in; more get 128.
  std::size_t max_unauthenticated_per_address = 32;
  // Bytes all frames still arriving may hold together; past it a frame gets 128.
  std::size_t max_pending_frame_bytes = std::size_t{64} << 20;
  // Plaintext connections are closed without a reply (TLS ones are always served).
  bool require_tls = false;
  // Balancers whose connections begin with a PROXY v2 header naming the client, whose
  // address then counts in the log and the per-address limits. No one else is read for one.
  ProxySources proxy_from;
};

class Server {
 public:
  Server(ServerContext& context, ListenOptions options);
  ~Server();  // stops and joins, if run() has not already
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Makes the TLS certificate from the server key, binds and listens. After success,
  // port() is the real port (even when 0 was asked).
  Status listen();
  std::uint16_t port() const { return port_; }

  // Accepts and serves until stop(). Returns once every connection thread has ended.
  void run();

  // Asks run() to finish: no new connections, open ones are shut down, long-polls woken.
  // Safe from any thread, any number of times.
  void stop();

  // The connections and what the store holds now, for the status line. Safe from any
  // thread, while run() serves too.
  StatusCounts status_counts() const;

 private:
  struct Connection {
    std::thread thread;
    int fd = -1;  // closed by its thread when it ends, under mutex_
    bool finished = false;
  };

  void accept_one();
  // Runs on the connection's thread. `slot` is none for a balancer's connection: its
  // client is known only once its PROXY header is read. Never throws.
  void serve(int fd, std::string peer, std::optional<AddressSlots::Slot> slot);
  void refuse(UniqueFd fd, const std::string& peer, const std::string& why);
  void reap_finished();
  void shutdown_connections();  // shuts down (not closes) every open connection
  void join_all();
  void wake();

  ServerContext& context_;
  const ListenOptions options_;
  UniqueFd listener_;
  UniqueFd wake_read_;  // a self-pipe: stop() and ending connections wake the accept loop
  UniqueFd wake_write_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  FrameBudget frame_budget_;
  ConnectionLimits connection_limits_;  // options_.connection, drawing on frame_budget_
  AddressSlots unauthenticated_;
  std::optional<TlsServer> tls_;  // made by listen()
  Transports transports_;
  Refuser refuser_;
  // The accept thread logs refusals, and so do balancers' connection threads.
  std::mutex refusal_log_mutex_;
  LogBudget refusal_log_;  // guarded by refusal_log_mutex_

  mutable std::mutex mutex_;  // guards connections_ and each Connection's fd and finished
  std::list<Connection> connections_;
  std::size_t active_ = 0;  // connections not yet finished; guarded by mutex_
  // Connections logged in; an atomic, so that a login takes no lock for it.
  std::atomic<std::size_t> logged_in_{0};
};

}  // namespace shido::server
