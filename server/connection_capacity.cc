#include "server/connection_capacity.h"

#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <limits>

namespace shido::server {
namespace {

// What the server keeps for itself: descriptors (listener, journal, snapshots, code
// commands, and the 1,024 refused connections server/refuser.h may hold lingering),
// threads (accept loop, housekeeper, refuser, code commands) and maps (libraries, malloc
// arenas).
constexpr std::size_t kReservedFiles = 64 + 1024;
constexpr std::size_t kReservedThreads = 64;
constexpr std::size_t kReservedMaps = 1000;
constexpr std::size_t kMapsPerConnection = 2;  // a thread's stack and its guard page

std::size_t read_number(const char* path) {
  std::ifstream in(path);
  std::size_t value = 0;
  return (in >> value) ? value : 0;
}

// The fourth field of /proc/loadavg is "running/total": every thread on the machine.
std::size_t read_threads_in_use() {
  std::ifstream in("/proc/loadavg");
  std::string load1, load5, load15, threads;
  if (!(in >> load1 >> load5 >> load15 >> threads)) return 0;
  const std::size_t slash = threads.find('/');
  if (slash == std::string::npos) return 0;
  try {
    return std::stoul(threads.substr(slash + 1));
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

ConnectionCapacity connection_capacity(const KernelLimits& limits) {
  ConnectionCapacity capacity{std::numeric_limits<std::size_t>::max(), "nothing"};
  const auto consider = [&](std::size_t room, const std::string& name, std::size_t value) {
    if (value != 0 && room < capacity.connections) {
      capacity = {room, name + " (" + std::to_string(value) + ")"};
    }
  };
  const auto after = [](std::size_t total, std::size_t reserved) {
    return total > reserved ? total - reserved : 0;
  };
  consider(after(limits.open_files, kReservedFiles), "the open-file limit", limits.open_files);
  const std::size_t threads =
      std::min(limits.threads_max == 0 ? limits.pid_max : limits.threads_max,
               limits.pid_max == 0 ? limits.threads_max : limits.pid_max);
  consider(after(threads, limits.threads_in_use + kReservedThreads),
           "the kernel's thread limit (kernel.pid_max / kernel.threads-max, minus " +
               std::to_string(limits.threads_in_use) + " threads in use)",
           threads);
  consider(after(limits.max_map_count, kReservedMaps) / kMapsPerConnection, "vm.max_map_count",
           limits.max_map_count);
  return capacity;
}

KernelLimits read_kernel_limits() {
  KernelLimits limits;
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    if (files.rlim_cur < files.rlim_max) {
      rlimit raised = files;
      raised.rlim_cur = files.rlim_max;
      if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) files = raised;
    }
    limits.open_files = files.rlim_cur == RLIM_INFINITY ? std::numeric_limits<std::size_t>::max()
                                                        : static_cast<std::size_t>(files.rlim_cur);
  }
  limits.threads_max = read_number("/proc/sys/kernel/threads-max");
  limits.pid_max = read_number("/proc/sys/kernel/pid_max");
  limits.threads_in_use = read_threads_in_use();
  limits.max_map_count = read_number("/proc/sys/vm/max_map_count");
  return limits;
}

}  // namespace shido::server
