#include "shido/crypto/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace shido {
namespace {

// The kernel's CSPRNG, which OpenSSL's own generators are seeded from. Not RAND_bytes:
// OpenSSL keeps a generator per thread (about 2.5 KiB), and with a thread per connection
// that was a tenth of what an idle connection costs the server.
class SystemRandom final : public RandomSource {
 public:
  void fill(std::span<std::uint8_t> out) override {
    for (std::size_t done = 0; done < out.size();) {
      const ssize_t got = ::getrandom(out.data() + done, out.size() - done, 0);
      if (got < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error(std::string("getrandom failed: ") + std::strerror(errno));
      }
      done += static_cast<std::size_t>(got);
    }
  }
};

}  // namespace

RandomSource& system_random() {
  static SystemRandom source;
  return source;
}

Bytes random_bytes(std::size_t n, RandomSource& rng) {
  Bytes out(n);
  rng.fill(out);
  return out;
}

SecretBytes random_code(RandomSource& rng) {
  constexpr std::uint32_t kCodes = 1000000;
  // The largest multiple of 10^6 that fits in 32 bits: values at or above it would make
  // the low codes slightly likelier, so they are drawn again.
  constexpr std::uint32_t kLimit = std::numeric_limits<std::uint32_t>::max() / kCodes * kCodes;
  std::uint32_t value = 0;
  do {
    std::uint8_t draw[4];
    rng.fill(draw);
    value = (std::uint32_t{draw[0]} << 24) | (std::uint32_t{draw[1]} << 16) |
            (std::uint32_t{draw[2]} << 8) | std::uint32_t{draw[3]};
    wipe(draw, sizeof draw);
  } while (value >= kLimit);
  value %= kCodes;

  SecretBytes code(6);
  for (std::size_t i = 6; i-- > 0;) {
    code.data()[i] = static_cast<std::uint8_t>('0' + value % 10);
    value /= 10;
  }
  return code;
}

}  // namespace shido
