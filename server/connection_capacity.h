// How many connections this machine lets a thread-per-connection server serve: each takes
// a file descriptor, a thread (of the kernel's pid_max and threads-max, shared with every
// other process) and two memory maps (its stack and the guard page below it, of
// vm.max_map_count). The server reads the limits at start, and says which one binds.
#pragma once

#include <cstddef>
#include <string>

namespace shido::server {

struct KernelLimits {
  std::size_t open_files = 0;      // RLIMIT_NOFILE of this process (soft, once raised)
  std::size_t threads_max = 0;     // /proc/sys/kernel/threads-max
  std::size_t pid_max = 0;         // /proc/sys/kernel/pid_max
  std::size_t threads_in_use = 0;  // threads of every process now (/proc/loadavg)
  std::size_t max_map_count = 0;   // /proc/sys/vm/max_map_count
};

struct ConnectionCapacity {
  std::size_t connections = 0;
  std::string limited_by;  // e.g. "open files (20000)"
};

// The connections the limits leave room for, after what the server needs for itself. A
// limit that could not be read (0) limits nothing.
ConnectionCapacity connection_capacity(const KernelLimits& limits);

// This process's and this machine's limits; the open-file limit is first raised as far as
// the hard limit allows.
KernelLimits read_kernel_limits();

}  // namespace shido::server
