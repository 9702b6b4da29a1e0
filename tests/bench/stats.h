// Small helpers the benchmarks share: percentiles and a monotonic clock in nanoseconds.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

namespace shido::bench {

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The p-th percentile (0-100) of samples in nanoseconds, as milliseconds; 0 when empty.
inline double percentile_ms(std::vector<std::int64_t> samples, double p) {
  if (samples.empty()) return 0;
  const auto rank =
      static_cast<std::size_t>(std::lround(p / 100.0 * static_cast<double>(samples.size() - 1)));
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(rank),
                   samples.end());
  return static_cast<double>(samples[rank]) / 1e6;
}

}  // namespace shido::bench
