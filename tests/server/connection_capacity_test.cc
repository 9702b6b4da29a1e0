// How many connections the kernel's limits leave room for, and which one binds.
#include "server/connection_capacity.h"

#include <gtest/gtest.h>

namespace shido::server {
namespace {

KernelLimits this_machine() {
  // The limits of the machine docs/BENCHMARKS.md measured on.
  return {.open_files = 20000,
          .threads_max = 192730,
          .pid_max = 32768,
          .threads_in_use = 90,
          .max_map_count = 65530};
}

TEST(ConnectionCapacityTest, TheOpenFileLimitBindsOnTheBenchmarkMachine) {
  const ConnectionCapacity capacity = connection_capacity(this_machine());
  EXPECT_EQ(capacity.connections, 20000u - 1088u) << "64 for the server, 1,024 for refusals";
  EXPECT_NE(capacity.limited_by.find("open-file limit (20000)"), std::string::npos)
      << capacity.limited_by;
}

TEST(ConnectionCapacityTest, ThreadsCountWhatOtherProcessesAlreadyUse) {
  KernelLimits limits = this_machine();
  limits.open_files = 1u << 20;
  limits.max_map_count = 1u << 20;
  const ConnectionCapacity capacity = connection_capacity(limits);
  EXPECT_EQ(capacity.connections, 32768u - 90u - 64u);
  EXPECT_NE(capacity.limited_by.find("pid_max"), std::string::npos) << capacity.limited_by;
}

TEST(ConnectionCapacityTest, EachConnectionTakesTwoMaps) {
  KernelLimits limits = this_machine();
  limits.open_files = 1u << 20;
  limits.pid_max = 4u << 20;
  limits.threads_max = 4u << 20;
  const ConnectionCapacity capacity = connection_capacity(limits);
  EXPECT_EQ(capacity.connections, (65530u - 1000u) / 2u);
  EXPECT_NE(capacity.limited_by.find("vm.max_map_count"), std::string::npos) << capacity.limited_by;
}

TEST(ConnectionCapacityTest, ALimitThatCouldNotBeReadLimitsNothing) {
  KernelLimits limits;
  limits.open_files = 5000;
  const ConnectionCapacity capacity = connection_capacity(limits);
  EXPECT_EQ(capacity.connections, 5000u - 1088u);
}

TEST(ConnectionCapacityTest, NoRoomAtAllIsZeroNotAnUnderflow) {
  KernelLimits limits = this_machine();
  limits.threads_in_use = 40000;
  EXPECT_EQ(connection_capacity(limits).connections, 0u);
}

}  // namespace
}  // namespace shido::server
