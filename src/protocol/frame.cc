#include "shido/protocol/frame.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>

namespace shido {

namespace {

using Clock = std::chrono::steady_clock;
using Deadline = std::optional<Clock::time_point>;

constexpr std::size_t kHeaderSize = 4;

// The earlier of `timeout` from now and `cap` (either may be absent).
Deadline deadline_after(std::chrono::milliseconds timeout, const Deadline& cap) {
  if (timeout.count() <= 0) return cap;
  const Clock::time_point own = Clock::now() + timeout;
  return cap ? std::min(own, *cap) : own;
}

// Holds a frame's share of a FrameBudget from its header to its end.
class BudgetShare {
 public:
  BudgetShare() = default;
  BudgetShare(const BudgetShare&) = delete;
  BudgetShare& operator=(const BudgetShare&) = delete;
  ~BudgetShare() {
    if (budget_ != nullptr) budget_->give_back(bytes_);
  }
  bool take(FrameBudget* budget, std::size_t bytes) {
    if (budget == nullptr) return true;
    if (!budget->take(bytes)) return false;
    budget_ = budget;
    bytes_ = bytes;
    return true;
  }

 private:
  FrameBudget* budget_ = nullptr;
  std::size_t bytes_ = 0;
};

enum class ReadStatus { kDone, kEof, kTimeout, kIo };

struct ReadOutcome {
  ReadStatus status;
  std::string error;  // for kIo
};

// The most one recv takes: memory grows by at most this much beyond what has arrived.
constexpr std::size_t kChunk = std::size_t{64} * 1024;
// With read-ahead a recv asks for at least this much: a dozen small pipelined frames.
constexpr std::size_t kReadAhead = std::size_t{8} * 1024;

// An empty buffer first receives into this much stack, then takes just the bytes that
// came: a lone request is a few hundred bytes, and a heap block that small is cheap to get,
// where an 8 KiB one (zero-filled by resize) cost a twentieth of the server's CPU.
constexpr std::size_t kScratch = std::size_t{2} * 1024;

// Receives at most `room` bytes from stream into buffer at `end`, which it advances. The
// buffer grows (and is zero-filled) only where it is too short, so a peer sending a byte
// at a time costs a byte of work, not a chunk.
ReadOutcome receive_some(ByteStream& stream, std::string& buffer, std::size_t& end,
                         std::size_t room, const Deadline& deadline) {
  std::array<char, kScratch> scratch;
  const bool into_scratch = end == 0;
  if (into_scratch) {
    room = std::min(room, scratch.size());
  } else if (buffer.size() < end + room) {
    buffer.resize(end + room);
  }
  const Received got =
      stream.receive(into_scratch ? scratch.data() : buffer.data() + end, room, deadline);
  switch (got.kind) {
    case Received::Kind::kBytes:
      if (into_scratch) buffer.assign(scratch.data(), got.bytes);
      end += got.bytes;
      return {ReadStatus::kDone, {}};
    case Received::Kind::kEof:
      return {ReadStatus::kEof, {}};
    case Received::Kind::kTimeout:
      return {ReadStatus::kTimeout, {}};
    case Received::Kind::kError:
      break;
  }
  return {ReadStatus::kIo, got.error};
}

Error io_error(const char* what, const std::string& reason) {
  return Error{Errc::kIo, std::string(what) + ": " + reason};
}

// Maps a failure inside a frame (after its first byte) to its error.
Error inside_frame_error(const ReadOutcome& outcome, const FrameLimits& limits) {
  switch (outcome.status) {
    case ReadStatus::kEof:
      return Error{Errc::kFrameTruncated, "the peer closed the connection inside a frame"};
    case ReadStatus::kTimeout:
      if (limits.deadline) {
        return Error{Errc::kFrameTimeout, "the frame did not arrive whole in time"};
      }
      return Error{Errc::kFrameTimeout, "the frame did not arrive whole within " +
                                            std::to_string(limits.frame_timeout.count()) + " ms"};
    default:
      return io_error("reading a frame", outcome.error);
  }
}

std::uint32_t decode_length(const unsigned char* header) {
  return std::uint32_t{header[0]} << 24 | std::uint32_t{header[1]} << 16 |
         std::uint32_t{header[2]} << 8 | std::uint32_t{header[3]};
}

// The least length a header can announce that begins with these `count` (1 to 4) bytes.
std::uint32_t least_length(const char* header, std::size_t count) {
  std::array<unsigned char, kHeaderSize> bytes{};
  std::memcpy(bytes.data(), header, std::min(count, kHeaderSize));
  return decode_length(bytes.data());
}

Error too_large(std::uint32_t announced, bool whole_header, std::size_t max_size) {
  return Error{Errc::kFrameTooLarge,
               std::string("the frame announces ") + (whole_header ? "" : "at least ") +
                   std::to_string(announced) + " bytes, more than the limit of " +
                   std::to_string(max_size)};
}

}  // namespace

bool FrameBudget::take(std::size_t n) {
  std::size_t left = left_.load(std::memory_order_relaxed);
  do {
    if (left < n) return false;
  } while (!left_.compare_exchange_weak(left, left - n, std::memory_order_relaxed));
  return true;
}

void append_frame(std::string& out, std::string_view payload) {
  if (payload.size() > std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error("frame payload longer than 4 GiB - 1");
  }
  const auto size = static_cast<std::uint32_t>(payload.size());
  out.reserve(out.size() + kHeaderSize + payload.size());
  out.push_back(static_cast<char>(size >> 24 & 0xff));
  out.push_back(static_cast<char>(size >> 16 & 0xff));
  out.push_back(static_cast<char>(size >> 8 & 0xff));
  out.push_back(static_cast<char>(size & 0xff));
  out.append(payload);
}

std::string encode_frame(std::string_view payload) {
  std::string frame;
  append_frame(frame, payload);
  return frame;
}

Status write_all(int fd, std::string_view bytes) { return SocketStream(fd).send(bytes); }

Status write_frame(int fd, std::string_view payload) {
  return write_all(fd, encode_frame(payload));
}

Result<std::string> FrameReader::next(const FrameLimits& limits) {
  // One receive toward `wanted` buffered bytes; without read-ahead never past them.
  auto receive_toward = [&](std::size_t wanted, const Deadline& deadline) {
    const std::size_t missing = wanted - buffered();
    const std::size_t room =
        std::min(kChunk, read_ahead_ == ReadAhead::kYes ? std::max(missing, kReadAhead) : missing);
    return receive_some(*stream_, buffer_, end_, room, deadline);
  };
  // Receives until `wanted` bytes are buffered.
  auto fill = [&](std::size_t wanted, const Deadline& deadline) {
    while (buffered() < wanted) {
      ReadOutcome got = receive_toward(wanted, deadline);
      if (got.status != ReadStatus::kDone) return got;
    }
    return ReadOutcome{ReadStatus::kDone, {}};
  };

  // The first byte: waiting for it is idle time, and EOF here is an orderly close.
  const ReadOutcome first = fill(1, deadline_after(limits.idle_timeout, limits.deadline));
  switch (first.status) {
    case ReadStatus::kDone:
      break;
    case ReadStatus::kEof:
      return Error{Errc::kConnectionClosed, "the peer closed the connection"};
    case ReadStatus::kTimeout:
      return Error{Errc::kIdleTimeout, "no frame started in time"};
    case ReadStatus::kIo:
      return io_error("reading a frame", first.error);
  }

  // From the first byte on, the whole frame shares one deadline. The header is judged as
  // its bytes come: a length already too large in the bytes that arrived is refused at once,
  // so a peer that does not speak Shido ("HTTP/1.1 400", "SSH-2.0") is told without waiting.
  const Deadline frame_deadline = deadline_after(limits.frame_timeout, limits.deadline);
  while (buffered() < kHeaderSize) {
    const std::uint32_t least = least_length(buffer_.data() + start_, buffered());
    if (least > limits.max_size) return too_large(least, false, limits.max_size);
    const ReadOutcome more = receive_toward(kHeaderSize, frame_deadline);
    if (more.status != ReadStatus::kDone) return inside_frame_error(more, limits);
  }

  const std::uint32_t size =
      decode_length(reinterpret_cast<const unsigned char*>(buffer_.data() + start_));
  if (size == 0) return Error{Errc::kFrameEmpty, "the frame is empty (length 0)"};
  // Refused before the payload is read: the length is the peer's word.
  if (size > limits.max_size) return too_large(size, true, limits.max_size);
  BudgetShare share;
  if (size > limits.budget_above && !share.take(limits.budget, size)) {
    return Error{Errc::kFramesBusy, "the frames being received hold all the memory they may (" +
                                        std::to_string(size) + " bytes more refused)"};
  }
  const ReadOutcome body = fill(kHeaderSize + size, frame_deadline);
  if (body.status != ReadStatus::kDone) return inside_frame_error(body, limits);

  if (start_ == 0 && end_ == kHeaderSize + size) {
    // The buffer holds this frame and nothing else: hand it over instead of copying it.
    buffer_.resize(end_);
    buffer_.erase(0, kHeaderSize);
    std::string payload = std::move(buffer_);
    buffer_.clear();
    start_ = end_ = 0;
    return payload;
  }
  std::string payload = buffer_.substr(start_ + kHeaderSize, size);
  start_ += kHeaderSize + size;
  if (start_ == end_) {
    // Nothing left over: an idle connection holds no buffer while it waits.
    std::string().swap(buffer_);
    start_ = end_ = 0;
  } else if (start_ >= kChunk) {
    // Move what is left to a buffer of its own size: after a large frame the old one would
    // hold megabytes for a few bytes.
    buffer_ = buffer_.substr(start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  return payload;
}

bool FrameReader::frame_ready() const {
  if (buffered() < kHeaderSize) return false;
  const std::uint32_t size =
      decode_length(reinterpret_cast<const unsigned char*>(buffer_.data() + start_));
  return buffered() >= kHeaderSize + std::size_t{size};
}

Result<std::string> read_frame(int fd, const FrameLimits& limits) {
  return FrameReader(fd, FrameReader::ReadAhead::kNo).next(limits);
}

}  // namespace shido
