// The disk store's file names and the header and end records that frame its files.
#include "server/store_files.h"

#include <gtest/gtest.h>

namespace shido::server {
namespace {

TEST(StoreFilesTest, NamesSortByGenerationAndParseBack) {
  EXPECT_EQ(store_file_name(StoreFileKind::kJournal, 1), "journal-0000000000000001");
  EXPECT_EQ(store_file_name(StoreFileKind::kSnapshot, 0x1a2b), "snapshot-0000000000001a2b");
  EXPECT_LT(store_file_name(StoreFileKind::kJournal, 9),
            store_file_name(StoreFileKind::kJournal, 10));
  const auto parsed = parse_store_file_name("snapshot-00000000000000ff");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->kind, StoreFileKind::kSnapshot);
  EXPECT_EQ(parsed->generation, 255u);
}

TEST(StoreFilesTest, OtherNamesAreNotStoreFiles) {
  for (const char* name : {"journal-1", "journal-0000000000000000", "snapshot-00000000000000ff.tmp",
                           "journal-00000000000000FF", "journal-000000000000000g", "lock",
                           "server_key.pem", "journal-0000000000000001.damaged"}) {
    EXPECT_FALSE(parse_store_file_name(name)) << name;
  }
}

TEST(StoreFilesTest, AHeaderMustNameItsOwnFileAndFormat) {
  const Bytes header = encode_header(StoreFileKind::kJournal, 7);
  EXPECT_TRUE(check_header(header, StoreFileKind::kJournal, 7).ok());
  EXPECT_FALSE(check_header(header, StoreFileKind::kJournal, 8).ok());
  EXPECT_FALSE(check_header(header, StoreFileKind::kSnapshot, 7).ok());
  Bytes other_magic = header;
  other_magic[5] ^= 1;
  EXPECT_FALSE(check_header(other_magic, StoreFileKind::kJournal, 7).ok());
  EXPECT_FALSE(
      check_header(ByteView(header).first(header.size() - 1), StoreFileKind::kJournal, 7).ok());
}

TEST(StoreFilesTest, TheSnapshotEndRecordRoundTrips) {
  const auto end = decode_snapshot_end(encode_snapshot_end({3, 4, 5}));
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end.value().users, 3u);
  EXPECT_EQ(end.value().locks, 4u);
  EXPECT_EQ(end.value().messages, 5u);
  EXPECT_FALSE(decode_snapshot_end(Bytes(23)).ok());
}

}  // namespace
}  // namespace shido::server
