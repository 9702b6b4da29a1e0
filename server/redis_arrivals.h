// Hears that a message was stored for a phone, through whichever server stored it: the put
// script PUBLISHes the recipient's phone on one channel, and every server SUBSCRIBEs to it
// here, so that a long-poll waiting on this server wakes for a message stored on another.
//
// One connection of its own (a subscribed connection can run no other command) and one
// thread. When the connection fails it connects again after a back-off that doubles up to
// a limit; Redis forgets nothing it stored meanwhile, but what it published is lost, so
// every (re)subscription is announced: the store then wakes every local waiter to read its
// mailbox again. Nothing is printed here: the state callback tells the server what to log.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "server/redis_connection.h"
#include "server/redis_health.h"
#include "server/redis_url.h"
#include "shido/net/socket.h"

namespace shido::server {

// Each is called on the arrivals thread, one at a time; an empty one is not called. One
// that throws counts as a lost connection.
struct ArrivalCallbacks {
  std::function<void(const std::string& phone)> arrived;
  std::function<void()> resubscribed;  // after each subscription, the first included
  // up: subscribed (why says where); down: lost, or the first attempt failed (why says why,
  // and when the next attempt comes). Only changes are reported.
  std::function<void(bool up, const std::string& why)> state;
};

class RedisArrivals {
 public:
  // Starts the thread, which connects (AUTH as the pool does) and subscribes to channel.
  // Throws std::system_error when no pipe or thread can be had, as std::thread does.
  RedisArrivals(RedisAddress address, std::string channel, ArrivalCallbacks callbacks,
                RedisTimeouts timeouts = {}, RedisBackoff backoff = {});
  ~RedisArrivals();  // stop()
  RedisArrivals(const RedisArrivals&) = delete;
  RedisArrivals& operator=(const RedisArrivals&) = delete;

  // Ends the thread and waits for it: promptly, whatever it waits on (Redis, a connect, the
  // back-off), since every wait also watches a pipe that this writes to. No callback runs
  // once it returns. Idempotent; not to be called from a callback.
  void stop();

 private:
  using Deadline = std::optional<std::chrono::steady_clock::time_point>;  // none: forever
  enum class Wake { kReady, kTimeout, kStopped };

  void run();
  // One connection's life: connects, subscribes and hands over messages until the
  // connection fails or stop(); returns why it ended. subscribed: whether it got that far.
  std::string listen(bool& subscribed);
  // Sends what the context holds, and reads one reply (Redis's error replies are errors),
  // waiting no longer than the deadline.
  Status flush(redisContext& context, Deadline deadline) const;
  Result<RedisReply> read_reply(redisContext& context, Deadline deadline) const;
  void report(bool up, const std::string& why);
  // Waits for `events` on fd (nothing when fd < 0) until the deadline or stop().
  Wake wait(int fd, short events, Deadline deadline) const;

  const RedisAddress address_;
  const std::string channel_;
  const ArrivalCallbacks callbacks_;
  const RedisTimeouts timeouts_;
  const RedisBackoff backoff_;
  std::optional<bool> reported_;  // the last state reported; the thread's own
  std::atomic<bool> stopping_{false};
  UniqueFd stop_read_;   // readable once stop() wrote to stop_write_; never drained
  UniqueFd stop_write_;  //
  std::thread thread_;   // last: starts once everything above is ready
};

}  // namespace shido::server
