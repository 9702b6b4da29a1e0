#include "server/thread_caches.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace shido::server {

void restart_without_thread_caches(char** argv) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  (void)argv;  // the sanitizers bring their own malloc
#else
  constexpr const char* kVariable = "GLIBC_TUNABLES";
  constexpr const char* kSetting = "glibc.malloc.tcache_count=0";
  const char* current = std::getenv(kVariable);
  const std::string tunables = current == nullptr ? "" : current;
  if (tunables.find("glibc.malloc.tcache_count") != std::string::npos) return;
  const std::string wanted = tunables.empty() ? kSetting : tunables + ":" + kSetting;
  if (::setenv(kVariable, wanted.c_str(), 1) != 0) return;
  ::execv("/proc/self/exe", argv);
  // No /proc, say: run as we are, with the caches.
  if (current == nullptr) {
    ::unsetenv(kVariable);
  } else {
    ::setenv(kVariable, current, 1);
  }
#endif
}

}  // namespace shido::server
