// Helpers shared by the tests.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <thread>

#include "shido/bytes.h"
#include "shido/crypto/random.h"
#include "shido/protocol/json.h"

namespace shido::test {

// Polls `done` every few milliseconds until it holds (true) or `timeout` passes (false): for
// what another thread or process does soon, never to decide by elapsed time.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Path of a file under tests/vectors/.
std::string vector_path(std::string_view name);

// Parses a JSON file under tests/vectors/. Throws std::runtime_error when the file is
// missing or not JSON, so a test can never pass by reading nothing.
Json load_vectors(std::string_view name);

// Hex to bytes; throws std::invalid_argument on bad hex (test data is trusted to be hex).
Bytes hex(std::string_view text);

// The integer "code" of a protocol frame, or -1 when it has none (so that a test compares
// codes without checking the frame's shape first).
int code_of(const Json& frame);

// True for 64 lower-case hex digits in 16 groups of 4 separated by single spaces.
bool is_fingerprint_text(std::string_view text);

// True for exactly 6 ASCII digits. (Hand-written: std::regex trips g++ 12's
// -Wmaybe-uninitialized under the sanitizers.)
bool is_six_digits(std::string_view text);

// True while thread `tid` of this process waits in poll() or ppoll(): what "a thread
// blocked in a receive" looks like from outside (/proc/self/task/TID/syscall).
bool waiting_in_poll(int tid);

// Prints "[ KAT ] <what>: <n> vector cases checked (...)" so that the test log records how
// many cases each known-answer test ran.
void report_cases(std::string_view what, std::size_t checked, std::string_view detail = {});

// A RandomSource that hands out fixed bytes, in order; throws std::runtime_error when asked
// for more than it holds, so a test notices a change in how much randomness is drawn.
class PinnedRandom : public RandomSource {
 public:
  explicit PinnedRandom(Bytes bytes) : bytes_(std::move(bytes)) {}
  void fill(std::span<std::uint8_t> out) override;
  std::size_t remaining() const { return bytes_.size() - offset_; }

 private:
  Bytes bytes_;
  std::size_t offset_ = 0;
};

}  // namespace shido::test
