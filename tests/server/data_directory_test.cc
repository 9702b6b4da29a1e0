// The data directory: private (0700), and held by one server at a time.
#include "server/data_directory.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "support/server_process.h"

namespace shido::server {
namespace {

mode_t mode_of(const std::string& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return info.st_mode & 0777;
}

TEST(DataDirectoryTest, IsMadePrivateAndAnOpenOneIsClosed) {
  test::TempDir root("shido-datadir");
  const std::string fresh = root.path() + "/fresh";
  ASSERT_TRUE(prepare_data_directory(fresh).ok());
  EXPECT_EQ(mode_of(fresh), 0700u);
  const std::string open = root.path() + "/open";
  ASSERT_EQ(::mkdir(open.c_str(), 0755), 0);
  ASSERT_TRUE(prepare_data_directory(open).ok());
  EXPECT_EQ(mode_of(open), 0700u);
}

TEST(DataDirectoryTest, ASecondHolderIsRefusedUntilTheFirstLetsGo) {
  test::TempDir root("shido-datadir");
  ASSERT_TRUE(prepare_data_directory(root.path()).ok());
  auto first = lock_data_directory(root.path());
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(mode_of(root.path() + "/lock"), 0600u);
  auto second = lock_data_directory(root.path());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("another shido-server is using " + root.path()),
            std::string::npos)
      << second.error().message;
  first.value().reset();
  EXPECT_TRUE(lock_data_directory(root.path()).ok());
}

}  // namespace
}  // namespace shido::server
