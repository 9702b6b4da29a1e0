// What the fuzz targets share: a check that stops the run when a property the code promises
// does not hold. libFuzzer then keeps the input that broke it, as it does for a crash.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace shido::fuzz {

// Aborts, naming what failed, unless `holds`.
inline void check(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "fuzz check failed: %s\n", what);
  std::abort();
}

}  // namespace shido::fuzz
