#include "server/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "server/connection.h"
#include "server/peer_address.h"
#include "server/proxy_reader.h"
#include "shido/protocol/messages.h"

namespace shido::server {
namespace {

void tune_socket(int fd, const FrameLimits& limits) {
  // Replies are small frames answered one by one: without TCP_NODELAY, Nagle and delayed
  // ACKs add tens of milliseconds to pipelined requests.
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // A client that stops reading must not hold a thread for ever in send().
  if (limits.frame_timeout.count() > 0) {
    const auto ms = limits.frame_timeout.count();
    timeval timeout{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  }
}

// How many refusals the log tells of: a burst, then one a second, with a count of the rest.
constexpr int kRefusalLogBurst = 20;
constexpr std::chrono::seconds kRefusalLogEvery{1};

constexpr const char* kTooManyFromAddress =
    "too many connections from your address that have not logged in; try again later";

}  // namespace

Server::Server(ServerContext& context, ListenOptions options)
    : context_(context),
      options_(std::move(options)),
      frame_budget_(options_.max_pending_frame_bytes),
      connection_limits_(options_.connection),
      unauthenticated_(options_.max_unauthenticated_per_address),
      refusal_log_(kRefusalLogBurst, kRefusalLogEvery) {
  connection_limits_.frames.budget = &frame_budget_;
  connection_limits_.frames.budget_above = kUnbudgetedFrame;
}

Server::~Server() {
  stop();
  join_all();
}

void Server::join_all() {
  std::list<Connection> remaining;
  {
    std::lock_guard lock(mutex_);
    remaining.swap(connections_);
  }
  for (Connection& connection : remaining) {
    if (connection.thread.joinable()) connection.thread.join();
  }
}

Status Server::listen() {
  auto tls = TlsServer::create(context_.server_key);
  if (!tls.ok()) return tls.error();
  tls_.emplace(std::move(tls).value());
  transports_.tls = &*tls_;
  transports_.require_tls = options_.require_tls;
  // A deep backlog: a burst of connections waits in the kernel, not in SYN retries.
  auto listener = listen_tcp(options_.host, options_.port, SOMAXCONN);
  if (!listener.ok()) return listener.error();
  listener_ = std::move(listener).value();
  auto port = local_port(listener_.get());
  if (!port.ok()) return port.error();
  port_ = port.value();

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Error{Errc::kIo, std::string("cannot create a pipe: ") + std::strerror(errno)};
  }
  wake_read_.reset(pipe_fds[0]);
  wake_write_.reset(pipe_fds[1]);
  return {};
}

void Server::wake() {
  const char byte = 1;
  // A full pipe already holds a wake-up, so a failed write loses nothing.
  [[maybe_unused]] const ssize_t n = ::write(wake_write_.get(), &byte, 1);
}

void Server::shutdown_connections() {
  std::lock_guard lock(mutex_);
  for (Connection& connection : connections_) {
    if (connection.fd >= 0) ::shutdown(connection.fd, SHUT_RDWR);
  }
}

void Server::stop() {
  if (stopping_.exchange(true)) return;
  context_.store.shutdown();
  shutdown_connections();
  if (wake_write_.valid()) wake();
}

void Server::run() {
  while (!stopping_) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
    const int ready = ::poll(fds, 2, -1);
    if (ready < 0 && errno != EINTR) {
      context_.logger.log(LogLevel::kError, "", "",
                          std::string("poll failed: ") + std::strerror(errno));
      break;
    }
    if (fds[1].revents & POLLIN) {
      char drain[64];
      while (::read(wake_read_.get(), drain, sizeof drain) > 0) {
      }
    }
    reap_finished();
    if (!stopping_ && (fds[0].revents & POLLIN)) accept_one();
  }
  stop();
  listener_.reset();

  // The accept loop can see stopping_ (set first thing in stop()) and get here while
  // the thread that called stop() has not yet shut the connections down; join_all()
  // would then take them out of connections_ before that thread saw them, and wait for
  // an idle connection until its time-out. So shut them down here too (twice is
  // harmless), then wait for their threads.
  shutdown_connections();
  join_all();
}

void Server::accept_one() {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  UniqueFd fd(
      ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&address), &size, SOCK_CLOEXEC));
  if (!fd.valid()) {
    if (errno == EMFILE || errno == ENFILE) {
      // Out of descriptors: log and carry on; the pending connection waits in the backlog.
      context_.logger.log(LogLevel::kError, "", "", "out of file descriptors; cannot accept");
      ::poll(nullptr, 0, 100);
    } else if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
      context_.logger.log(LogLevel::kWarn, "", "",
                          std::string("accept failed: ") + std::strerror(errno));
    }
    return;
  }
  const std::string peer = peer_name(address);
  // A balancer's connection holds no slot yet: its thread takes one for the client its
  // PROXY header names.
  const bool from_balancer = options_.proxy_from.contains(address);
  tune_socket(fd.get(), options_.connection.frames);

  std::unique_lock lock(mutex_);
  // stop() may have run since the accept loop looked: it has already shut down the
  // connections it saw, so a connection added now would be served (and joined) until
  // its idle time-out. stop() sets stopping_ before it takes mutex_, so checking here,
  // under mutex_, closes that gap.
  if (stopping_) return;  // fd closes as it goes out of scope
  if (active_ >= options_.max_connections) {
    lock.unlock();
    refuse(std::move(fd), peer, "the server is at its connection limit; try again later");
    return;
  }
  std::optional<AddressSlots::Slot> slot;
  if (!from_balancer) {
    slot = unauthenticated_.take(address_key(peer));
    if (!slot) {
      lock.unlock();
      refuse(std::move(fd), peer, kTooManyFromAddress);
      return;
    }
  }
  connections_.emplace_back();
  Connection& connection = connections_.back();
  connection.fd = fd.release();
  active_ += 1;
  try {
    connection.thread = std::thread([this, &connection, peer, slot = std::move(slot)]() mutable {
      serve(connection.fd, peer, std::move(slot));
      {
        std::lock_guard done(mutex_);
        ::close(connection.fd);
        connection.fd = -1;
        connection.finished = true;
        active_ -= 1;
      }
      wake();
    });
  } catch (const std::system_error& error) {
    // No thread could be made: treat it as the connection cap.
    const int raw = connection.fd;
    connections_.pop_back();
    active_ -= 1;
    lock.unlock();
    context_.logger.log(LogLevel::kError, peer, "",
                        std::string("cannot start a thread: ") + error.what());
    refuse(UniqueFd(raw), peer, "the server is at its connection limit; try again later");
  }
}

void Server::serve(int fd, std::string peer, std::optional<AddressSlots::Slot> slot) {
  try {
    if (!slot) {
      // Read before the first-byte test, which then sees the client's first byte.
      auto header = read_proxy_header(fd, deadline_in(options_.connection.frames.frame_timeout));
      if (!header.ok()) {
        context_.logger.log(LogLevel::kInfo, peer, "",
                            "closing: a balancer's connection: " + header.error().message);
        return;
      }
      const std::string balancer = peer;
      if (header.value().client) peer = *header.value().client;
      slot = unauthenticated_.take(address_key(peer));
      if (!slot) {
        // The refuser lingers on a copy of the socket; this thread ends at once.
        refuse(UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 0)), peer, kTooManyFromAddress);
        return;
      }
      context_.logger.log(LogLevel::kDebug, peer, "",
                          header.value().client ? "relayed by the balancer " + balancer
                                                : "the balancer's own connection (LOCAL)");
    }
  } catch (const std::exception& error) {
    context_.logger.log(LogLevel::kError, peer, "",
                        std::string("connection failed: ") + error.what());
    return;
  } catch (...) {
    context_.logger.log(LogLevel::kError, peer, "", "connection failed");
    return;
  }
  serve_connection(context_, connection_limits_, transports_, fd, peer, std::move(*slot),
                   logged_in_);
}

void Server::refuse(UniqueFd fd, const std::string& peer, const std::string& why) {
  std::unique_lock log_lock(refusal_log_mutex_);
  if (refusal_log_.take(context_.time.now())) {
    if (const int suppressed = refusal_log_.take_suppressed(); suppressed > 0) {
      context_.logger.log(LogLevel::kWarn, "", "",
                          std::to_string(suppressed) + " refusals not logged (too many)");
    }
    context_.logger.log(LogLevel::kWarn, peer, "", "refused: " + why);
  }
  log_lock.unlock();
  const ErrorReply busy{Code::kServerBusy, why, std::nullopt, std::nullopt};
  refuser_.refuse(std::move(fd), encode_frame(dump_json(busy.to_json())));
}

StatusCounts Server::status_counts() const {
  StatusCounts counts;
  {
    std::lock_guard lock(mutex_);
    counts.connections = active_;
  }
  counts.logged_in = logged_in_.load(std::memory_order_relaxed);
  counts.store = context_.store.counts();
  return counts;
}

void Server::reap_finished() {
  std::list<Connection> finished;
  {
    std::lock_guard lock(mutex_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      auto next = std::next(it);
      if (it->finished) finished.splice(finished.end(), connections_, it);
      it = next;
    }
  }
  for (Connection& connection : finished) connection.thread.join();
}

}  // namespace shido::server
