// The byte stream under the frames: plain TCP, or TLS 1.3 (design section 10.1). Frames,
// their time-outs and the server's reply batching are written once, against this.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "shido/result.h"

namespace shido {

using SteadyDeadline = std::optional<std::chrono::steady_clock::time_point>;

// The deadline `timeout` from now; none for zero or less.
SteadyDeadline deadline_in(std::chrono::milliseconds timeout);

struct Received {
  enum class Kind { kBytes, kEof, kTimeout, kError };
  Kind kind = Kind::kBytes;
  std::size_t bytes = 0;  // with kBytes, at least one
  std::string error;      // with kError: what failed, for people
};

class ByteStream {
 public:
  ByteStream() = default;
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;
  virtual ~ByteStream() = default;

  // Waits until bytes arrive (or the deadline passes; none: for ever) and copies at most
  // `room` (> 0) of them into `into`. The thread waits in poll(), so a shutdown() of the
  // socket from another thread wakes it with kEof or kError.
  virtual Received receive(char* into, std::size_t room, const SteadyDeadline& deadline) = 0;

  // Sends every byte, or fails with kIo: the peer went away, or stopped reading for longer
  // than the stream's send time-out. Never raises SIGPIPE.
  virtual Status send(std::string_view bytes) = 0;

  // Tells the peer nothing more will be sent (TLS: close_notify) and half-closes the socket.
  virtual void finish_sending() = 0;

  // The socket under the stream: for the peer's address and for shutdown() from another thread.
  virtual int fd() const = 0;

  // "TCP" or "TLS", for logs.
  virtual std::string_view transport() const = 0;
};

// Plain TCP on a socket the caller owns (blocking or not).
class SocketStream final : public ByteStream {
 public:
  explicit SocketStream(int fd) : fd_(fd) {}
  Received receive(char* into, std::size_t room, const SteadyDeadline& deadline) override;
  // A blocking socket's SO_SNDTIMEO is its send time-out; a non-blocking one waits for ever.
  Status send(std::string_view bytes) override;
  void finish_sending() override;
  int fd() const override { return fd_; }
  std::string_view transport() const override { return "TCP"; }

 private:
  int fd_;
};

enum class WaitFor { kReadable, kWritable };

// Waits until fd is ready (or hung up, or in error: the next read or write tells) or the
// deadline passes. kError only when poll itself fails, with its errno in *err.
enum class Ready { kYes, kTimeout, kError };
Ready wait_ready(int fd, WaitFor what, const SteadyDeadline& deadline, int* err);

}  // namespace shido
