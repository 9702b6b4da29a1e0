// Randomness. Everything random in the library is drawn from a RandomSource, so that
// tests can pin the bytes; production code uses system_random().
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "shido/bytes.h"

namespace shido {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // Fills out with random bytes. Throws std::runtime_error if the source fails, which
  // for the system CSPRNG means the process cannot do cryptography at all.
  virtual void fill(std::span<std::uint8_t> out) = 0;
};

// The operating system's CSPRNG (getrandom(2), blocking only until the kernel's pool is
// first seeded at boot). Thread-safe.
RandomSource& system_random();

// n random bytes from rng.
Bytes random_bytes(std::size_t n, RandomSource& rng = system_random());

// A 6-digit code ("000000" to "999999"), uniform: 32-bit draws at or above the largest
// multiple of 10^6 are thrown away instead of reduced, so there is no modulo bias.
SecretBytes random_code(RandomSource& rng = system_random());

}  // namespace shido
