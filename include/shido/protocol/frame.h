// Frames on a stream socket: a 4-byte big-endian length L, then L bytes of JSON text
// (protocol.md section 1).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "shido/result.h"

namespace shido {

inline constexpr std::size_t kDefaultMaxFrame = 1048576;

struct FrameLimits {
  std::size_t max_size = kDefaultMaxFrame;
  // How long to wait for the first byte of a frame; zero or less waits for ever.
  std::chrono::milliseconds idle_timeout{0};
  // How long a frame may take from its first byte to its last; zero or less: for ever.
  std::chrono::milliseconds frame_timeout{0};
};

// The 4-byte header followed by payload. Throws std::length_error above 4 GiB - 1.
std::string encode_frame(std::string_view payload);

// Writes one frame to fd, retrying short writes and EINTR. Fails with kIo (the peer went
// away, or another error). Never raises SIGPIPE.
Status write_frame(int fd, std::string_view payload);

// Reads one frame from fd (a blocking or non-blocking socket). Errors, each distinct:
// kConnectionClosed (orderly EOF before a frame began), kIdleTimeout, kFrameEmpty (L = 0),
// kFrameTooLarge (L > max_size; the payload is not read), kFrameTruncated (EOF inside a
// frame), kFrameTimeout, kIo.
Result<std::string> read_frame(int fd, const FrameLimits& limits = {});

}  // namespace shido
