// Frames on a stream socket: a 4-byte big-endian length L, then L bytes of JSON text
// (docs/PROTOCOL.md section 1).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "shido/net/stream.h"
#include "shido/result.h"

namespace shido {

inline constexpr std::size_t kDefaultMaxFrame = 1048576;

// The bytes that frames still arriving may hold, shared by every reader that is given it:
// a server bounds what all its half-sent frames together cost (design section 10.4).
class FrameBudget {
 public:
  explicit FrameBudget(std::size_t bytes) : left_(bytes) {}
  // Takes n bytes of the budget, or nothing and false when fewer are left.
  bool take(std::size_t n);
  void give_back(std::size_t n) { left_.fetch_add(n, std::memory_order_relaxed); }
  std::size_t left() const { return left_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::size_t> left_;
};

struct FrameLimits {
  std::size_t max_size = kDefaultMaxFrame;
  // How long to wait for the first byte of a frame; zero or less waits for ever.
  std::chrono::milliseconds idle_timeout{0};
  // How long a frame may take from its first byte to its last; zero or less: for ever.
  std::chrono::milliseconds frame_timeout{0};
  // When set, the frame must be whole by then, whatever the time-outs say: a server's
  // connection counts its idle time from its last complete frame, so bytes that trickle in
  // never extend it.
  std::optional<std::chrono::steady_clock::time_point> deadline{};
  // When set, the announced length of a frame longer than budget_above is taken from it
  // before the body is read, and given back once the frame is whole (or has failed);
  // kFramesBusy when it is spent. Smaller frames take nothing: their memory is bounded by
  // the connections, and a spent budget must not stop every request.
  FrameBudget* budget = nullptr;
  std::size_t budget_above = 0;
};

// The 4-byte header followed by payload. Throws std::length_error above 4 GiB - 1.
std::string encode_frame(std::string_view payload);

// Appends the frame of payload to out (several frames can then go out in one write).
// Throws std::length_error above 4 GiB - 1.
void append_frame(std::string& out, std::string_view payload);

// Writes bytes (whole frames, from encode_frame or append_frame) to fd, retrying short
// writes and EINTR. Fails with kIo (the peer went away, or stopped reading for longer than
// the socket's send timeout, or another error). Never raises SIGPIPE.
Status write_all(int fd, std::string_view bytes);

// Writes one frame to fd: write_all(fd, encode_frame(payload)).
Status write_frame(int fd, std::string_view payload);

// Reads frames from one stream (plain TCP or TLS). Errors of next(), each distinct:
// kConnectionClosed (orderly EOF before a frame began), kIdleTimeout (no byte of a frame within
// idle_timeout), kFrameEmpty (L = 0), kFrameTooLarge (L > max_size; refused as soon as the
// bytes of the header that arrived show it, even one), kFrameTruncated (EOF inside a frame),
// kFrameTimeout (the frame not whole within frame_timeout of its first byte, or of the call when
// that byte was already buffered), kFramesBusy (the budget cannot hold the frame), kIo. Past
// the limits' deadline it is kIdleTimeout before the first byte, kFrameTimeout after it. After an
// error the stream is out of step: close it.
//
// With read-ahead a recv asks for up to 8 KiB more than the frame still needs (2 KiB
// when nothing is buffered, so a lone request needs no large block), so small frames that
// arrive together cost one system call, not six. Such a reader must then read
// every frame of the socket: what it buffered is no longer in the socket. Without
// read-ahead it never reads a byte past the frame it returns. Either way its memory
// follows the bytes that arrived (a peer announcing a megabyte and sending a byte costs at
// most 64 KiB), and a reader with nothing buffered holds no memory.
class FrameReader {
 public:
  enum class ReadAhead { kNo, kYes };
  // Reads a stream that outlives the reader.
  explicit FrameReader(ByteStream& stream, ReadAhead read_ahead = ReadAhead::kYes)
      : stream_(&stream), read_ahead_(read_ahead) {}
  // Reads a plain TCP socket that outlives the reader.
  explicit FrameReader(int fd, ReadAhead read_ahead = ReadAhead::kYes)
      : own_stream_(std::make_unique<SocketStream>(fd)),
        stream_(own_stream_.get()),
        read_ahead_(read_ahead) {}

  Result<std::string> next(const FrameLimits& limits = {});

  // Bytes received and not yet returned as a frame.
  std::size_t buffered() const { return end_ - start_; }
  // A whole frame is buffered, so next() will not wait (an empty frame counts: its
  // header is all of it).
  bool frame_ready() const;

 private:
  std::unique_ptr<SocketStream> own_stream_;  // with the fd constructor
  ByteStream* stream_;
  ReadAhead read_ahead_;
  std::string buffer_;  // [start_, end_) arrived and is not returned yet; after end_: room
  std::size_t start_ = 0;
  std::size_t end_ = 0;
};

// Reads one frame from fd (a blocking or non-blocking socket) and not a byte more: for
// sockets read one frame at a time by different code. Errors as FrameReader::next.
Result<std::string> read_frame(int fd, const FrameLimits& limits = {});

}  // namespace shido
