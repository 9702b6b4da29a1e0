// The listening server: accepts connections and serves each on its own thread, up to a
// cap; stops on request, closing every connection and joining every thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <thread>

#include "server/session.h"
#include "shido/net/socket.h"
#include "shido/protocol/frame.h"

namespace shido::server {

inline constexpr std::size_t kDefaultMaxPreloginFrame = std::size_t{16} << 10;

struct ListenOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 5000;
  std::size_t max_connections = 1024;
  FrameLimits frame_limits;
  // Frames before login (HELLO, 102, 103, 201 are small): an anonymous peer cannot make
  // the server hold a large frame.
  std::size_t max_prelogin_frame = kDefaultMaxPreloginFrame;
};

class Server {
 public:
  Server(ServerContext& context, ListenOptions options);
  ~Server();  // stops and joins, if run() has not already
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens. After success, port() is the real port (even when 0 was asked).
  Status listen();
  std::uint16_t port() const { return port_; }

  // Accepts and serves until stop(). Returns once every connection thread has ended.
  void run();

  // Asks run() to finish: no new connections, open ones are shut down, long-polls woken.
  // Safe from any thread, any number of times.
  void stop();

 private:
  struct Connection {
    std::thread thread;
    int fd = -1;  // closed by its thread when it ends, under mutex_
    bool finished = false;
  };

  void accept_one();
  void refuse(UniqueFd fd, const std::string& peer);
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

  std::mutex mutex_;  // guards connections_ and each Connection's fd and finished
  std::list<Connection> connections_;
  std::size_t active_ = 0;  // connections not yet finished; guarded by mutex_
};

}  // namespace shido::server
