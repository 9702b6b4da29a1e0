#include "server/thread_caches.h"

#include <sys/auxv.h>
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
  // Set for the restarted image only: whatever glibc made of the tunables, never twice.
  constexpr const char* kRestarted = "SHIDO_RESTARTED_WITHOUT_THREAD_CACHES";
  if (std::getenv(kRestarted) != nullptr) {
    ::unsetenv(kRestarted);  // not for the code commands it starts
    return;
  }
  // A setuid or file-capability binary (setcap to bind a low port) gets its tunables
  // erased by glibc: restarting would change nothing.
  if (::getauxval(AT_SECURE) != 0) return;
  const char* current = std::getenv(kVariable);
  const std::string tunables = current == nullptr ? "" : current;
  if (tunables.find("glibc.malloc.tcache_count") != std::string::npos) return;
  const std::string wanted = tunables.empty() ? kSetting : tunables + ":" + kSetting;
  if (::setenv(kVariable, wanted.c_str(), 1) != 0 || ::setenv(kRestarted, "1", 1) != 0) return;
  ::execv("/proc/self/exe", argv);
  // No /proc, say: run as we are, with the caches.
  ::unsetenv(kRestarted);
  if (current == nullptr) {
    ::unsetenv(kVariable);
  } else {
    ::setenv(kVariable, tunables.c_str(), 1);
  }
#endif
}

}  // namespace shido::server
