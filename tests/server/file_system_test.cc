// The POSIX file system of the disk store, on a real temporary directory.
#include "server/file_system.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include "support/server_process.h"

namespace shido::server {
namespace {

class PosixFileSystemTest : public testing::Test {
 protected:
  std::string path(const std::string& name) const { return dir_.path() + "/" + name; }

  shido::test::TempDir dir_{"shido-fs"};
  std::unique_ptr<FileSystem> fs_ = make_posix_file_system();
};

TEST_F(PosixFileSystemTest, CreateAppendSyncReadAndListAPrivateFile) {
  auto file = fs_->create(path("journal"));
  ASSERT_TRUE(file.ok()) << file.error().message;
  ASSERT_TRUE(file.value()->append(as_bytes("one ")).ok());
  ASSERT_TRUE(file.value()->append(as_bytes("two")).ok());
  ASSERT_TRUE(file.value()->sync().ok());
  ASSERT_TRUE(fs_->sync_directory(dir_.path()).ok());
  EXPECT_EQ(to_string(fs_->read(path("journal")).value()), "one two");
  struct stat info {};
  ASSERT_EQ(::stat(path("journal").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600U);
  EXPECT_EQ(fs_->list(dir_.path()).value(), std::vector<std::string>{"journal"});

  // Reopened, it appends after what is there.
  auto again = fs_->open_for_append(path("journal"));
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again.value()->append(as_bytes(" three")).ok());
  EXPECT_EQ(to_string(fs_->read(path("journal")).value()), "one two three");
}

TEST_F(PosixFileSystemTest, APreallocatedFileHoldsTheAppendedBytesThenZeros) {
  auto file = fs_->create(path("journal"), 4096);
  ASSERT_TRUE(file.ok()) << file.error().message;
  ASSERT_TRUE(file.value()->append(as_bytes("one ")).ok());
  ASSERT_TRUE(file.value()->append(as_bytes("two")).ok());
  ASSERT_TRUE(file.value()->sync().ok());
  Bytes expected = to_bytes("one two");
  expected.resize(4 + 4096, 0);  // the first append allocated 4096 bytes beyond its end
  EXPECT_EQ(fs_->read(path("journal")).value(), expected);

  // Past the zeros, the next append allocates again.
  const Bytes big(5000, 'x');
  ASSERT_TRUE(file.value()->append(big).ok());
  const Bytes read = fs_->read(path("journal")).value();
  ASSERT_EQ(read.size(), 7 + 5000 + 4096u);
  EXPECT_EQ(Bytes(read.begin() + 7, read.begin() + 7 + 5000), big);
  EXPECT_TRUE(
      std::all_of(read.begin() + 7 + 5000, read.end(), [](std::uint8_t b) { return b == 0; }));
}

TEST_F(PosixFileSystemTest, TruncateRenameAndRemove) {
  ASSERT_TRUE(fs_->create(path("a")).value()->append(as_bytes("0123456789")).ok());
  ASSERT_TRUE(fs_->truncate(path("a"), 4).ok());
  EXPECT_EQ(to_string(fs_->read(path("a")).value()), "0123");
  ASSERT_TRUE(fs_->create(path("b")).ok());
  ASSERT_TRUE(fs_->rename(path("a"), path("b")).ok());  // replaces b
  EXPECT_EQ(fs_->list(dir_.path()).value(), std::vector<std::string>{"b"});
  EXPECT_EQ(to_string(fs_->read(path("b")).value()), "0123");
  ASSERT_TRUE(fs_->remove(path("b")).ok());
  EXPECT_TRUE(fs_->list(dir_.path()).value().empty());
}

TEST_F(PosixFileSystemTest, AMissingFileIsNotFoundAndOtherFailuresAreIo) {
  EXPECT_EQ(fs_->read(path("missing")).error().code, Errc::kNotFound);
  EXPECT_EQ(fs_->open_for_append(path("missing")).error().code, Errc::kNotFound);
  EXPECT_EQ(fs_->remove(path("missing")).error().code, Errc::kNotFound);
  const auto in_a_file = fs_->create(path("missing/below"));
  ASSERT_FALSE(in_a_file.ok());
  EXPECT_NE(in_a_file.error().message.find(path("missing/below")), std::string::npos);
  ASSERT_TRUE(fs_->create(path("plain")).ok());
  EXPECT_EQ(fs_->create(path("plain/below")).error().code, Errc::kIo);  // not a directory
}

}  // namespace
}  // namespace shido::server
