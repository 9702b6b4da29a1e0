// Fuzzes the frame reader (shido/protocol/frame.h), the first code that meets a peer's
// bytes. The input is what a peer sends: a thread writes it into a socket pair, whole or in
// small pieces, and closes its end, while FrameReader reads the other end. Each input is read
// in several ways (with and without read-ahead, a frame at a time with read_frame, under
// different limits and a memory budget), and every reading must give exactly the frames that
// a plain walk over the bytes finds, then the one error frame.h says ends them.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fuzz_check.h"
#include "shido/protocol/frame.h"

namespace {

using shido::Errc;
using shido::fuzz::check;

// What a reading of `input` must give: its whole frames, then the error that ends them.
struct Expected {
  std::vector<std::string_view> frames;
  Errc end = Errc::kConnectionClosed;
};

// The frames of `input` as docs/PROTOCOL.md section 1 and frame.h describe them: a 4-byte
// big-endian length, then that many bytes. A header whose bytes already show a length over
// max_size is refused even when it is cut short; a budget smaller than the length, too.
Expected walk(std::string_view input, std::size_t max_size, std::optional<std::size_t> budget) {
  Expected expected;
  std::size_t at = 0;
  for (;;) {
    const std::size_t left = input.size() - at;
    if (left == 0) return expected;  // kConnectionClosed
    std::uint64_t least = 0;         // the length, with the bytes not there taken as zero
    for (std::size_t i = 0; i < 4; ++i) {
      least = least << 8 | (i < left ? static_cast<unsigned char>(input[at + i]) : 0U);
    }
    const bool whole_header = left >= 4;
    if (least > max_size) {
      expected.end = Errc::kFrameTooLarge;
    } else if (whole_header && least == 0) {
      expected.end = Errc::kFrameEmpty;
    } else if (whole_header && budget && least > *budget) {
      expected.end = Errc::kFramesBusy;
    } else if (!whole_header || left - 4 < least) {
      expected.end = Errc::kFrameTruncated;
    } else {
      expected.frames.push_back(input.substr(at + 4, least));
      at += 4 + least;
      continue;
    }
    return expected;
  }
}

// One way of reading the input.
struct Reading {
  enum class Api { kReaderReadAhead, kReaderNoReadAhead, kReadFrame } api;
  std::size_t max_size;
  std::optional<std::size_t> budget;
  std::size_t piece;  // the writer sends pieces of 1..piece bytes; 0: all at once
};

// Writes input to fd in pieces (sizes 1, 2, ..., piece, 1, 2, ...), then closes fd. Stops
// when the reader has closed its end.
void write_in_pieces(int fd, std::string_view input, std::size_t piece) {
  std::size_t at = 0;
  for (std::size_t turn = 0; at < input.size(); ++turn) {
    const std::size_t want = piece == 0 ? input.size() - at : 1 + turn % piece;
    const ssize_t sent =
        send(fd, input.data() + at, std::min(want, input.size() - at), MSG_NOSIGNAL);
    if (sent <= 0) break;
    at += static_cast<std::size_t>(sent);
  }
  close(fd);
}

void read_and_compare(std::string_view input, const Reading& reading) {
  int fds[2];
  check(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0, "socketpair");
  std::thread writer(write_in_pieces, fds[1], input, reading.piece);

  std::optional<shido::FrameBudget> budget;
  shido::FrameLimits limits;
  limits.max_size = reading.max_size;
  if (reading.budget) {
    budget.emplace(*reading.budget);
    limits.budget = &*budget;
  }
  const Expected expected = walk(input, reading.max_size, reading.budget);

  std::optional<shido::FrameReader> reader;
  if (reading.api != Reading::Api::kReadFrame) {
    reader.emplace(fds[0], reading.api == Reading::Api::kReaderReadAhead
                               ? shido::FrameReader::ReadAhead::kYes
                               : shido::FrameReader::ReadAhead::kNo);
  }
  for (std::size_t index = 0;; ++index) {
    auto frame = reader ? reader->next(limits) : shido::read_frame(fds[0], limits);
    if (budget) check(budget->left() == *reading.budget, "the budget is given back whole");
    if (!frame.ok()) {
      check(index == expected.frames.size(), "an error came before the last whole frame");
      check(frame.error().code == expected.end, "the error that ends the frames");
      break;
    }
    check(index < expected.frames.size(), "a frame where the bytes hold none");
    check(frame.value() == expected.frames[index], "a frame as the bytes hold it");
    if (reader) {
      (void)reader->frame_ready();
      check(reader->buffered() <= input.size(), "no more buffered than was sent");
    }
  }
  close(fds[0]);  // a writer still sending gets EPIPE and stops
  writer.join();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  using Api = Reading::Api;
  read_and_compare(input, {Api::kReaderReadAhead, shido::kDefaultMaxFrame, std::nullopt, 0});
  read_and_compare(input, {Api::kReaderNoReadAhead, 300, std::nullopt, 7});
  read_and_compare(input, {Api::kReaderReadAhead, 16384, 1000, 61});
  read_and_compare(input, {Api::kReadFrame, 2048, std::nullopt, 300});
  return 0;
}
