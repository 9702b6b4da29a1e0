// The record codec and its scan: round trips, a file cut at every byte offset (what a crash
// leaves) recovers exactly the records before the cut, and a byte changed anywhere but in
// the last record is damage, never a tail to drop.
#include "server/record.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace shido::server {
namespace {

struct Written {
  std::uint8_t type;
  std::uint64_t sequence;
  Bytes body;
};

// A small journal: an empty body, short and longer ones, a body that looks like a header.
std::vector<Written> sample_records() {
  std::vector<Written> records;
  const std::vector<std::string> bodies = {
      "", "a", "user +15550000001", std::string(300, 'm'), std::string(13, '\0'), "ack"};
  std::uint64_t sequence = 41;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    records.push_back({static_cast<std::uint8_t>(i + 1), sequence++, to_bytes(bodies[i])});
  }
  return records;
}

Bytes encode(const std::vector<Written>& records, std::vector<std::size_t>* ends = nullptr) {
  Bytes file;
  for (const Written& record : records) {
    append_record(file, record.type, record.sequence, record.body);
    if (ends != nullptr) ends->push_back(file.size());
  }
  return file;
}

void expect_records(const ScanResult& scan, const std::vector<Written>& records,
                    std::size_t count) {
  ASSERT_EQ(scan.records.size(), count);
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_EQ(scan.records[i].type, records[i].type) << i;
    EXPECT_EQ(scan.records[i].sequence, records[i].sequence) << i;
    EXPECT_EQ(Bytes(scan.records[i].body.begin(), scan.records[i].body.end()), records[i].body)
        << i;
  }
}

TEST(RecordTest, RecordsRoundTrip) {
  const std::vector<Written> records = sample_records();
  const Bytes file = encode(records);
  const ScanResult scan = scan_records(file);
  EXPECT_EQ(scan.end, ScanResult::End::kClean) << scan.problem;
  EXPECT_EQ(scan.good_bytes, file.size());
  expect_records(scan, records, records.size());
}

TEST(RecordTest, TheLayoutIsAsDocumented) {
  Bytes file;
  append_record(file, 7, 0x0102030405060708, as_bytes("hi"));
  ASSERT_EQ(file.size(), kRecordHeaderSize + 2 + kRecordTrailerSize);
  EXPECT_EQ(Bytes(file.begin(), file.begin() + 13), (Bytes{2, 0, 0, 0, 7, 8, 7, 6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(file[13], 'h');
  EXPECT_EQ(file[14], 'i');
}

TEST(RecordTest, AFileCutAtEveryOffsetRecoversExactlyTheRecordsBeforeTheCut) {
  const std::vector<Written> records = sample_records();
  std::vector<std::size_t> ends;
  const Bytes file = encode(records, &ends);
  for (std::size_t cut = 0; cut <= file.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    std::size_t whole = 0;
    while (whole < ends.size() && ends[whole] <= cut) ++whole;
    const std::size_t boundary = whole == 0 ? 0 : ends[whole - 1];
    const ScanResult scan = scan_records(ByteView(file).first(cut));
    expect_records(scan, records, whole);
    EXPECT_EQ(scan.good_bytes, boundary);
    // A partial record that happens to be all zeros reads as padding: cut all the same.
    const bool zeros = std::all_of(file.begin() + static_cast<std::ptrdiff_t>(boundary),
                                   file.begin() + static_cast<std::ptrdiff_t>(cut),
                                   [](std::uint8_t byte) { return byte == 0; });
    EXPECT_EQ(scan.end, cut == boundary ? ScanResult::End::kClean
                        : zeros         ? ScanResult::End::kPadded
                                        : ScanResult::End::kTornTail);
  }
}

TEST(RecordTest, ZerosAfterTheRecordsArePaddingNotATail) {
  const std::vector<Written> records = sample_records();
  std::vector<std::size_t> ends;
  Bytes file = encode(records, &ends);
  file.resize(file.size() + 4096, 0);
  const ScanResult scan = scan_records(file);
  expect_records(scan, records, records.size());
  EXPECT_EQ(scan.good_bytes, ends.back());
  EXPECT_EQ(scan.end, ScanResult::End::kPadded);
}

TEST(RecordTest, APartialRecordBeforeThePaddingIsATornTail) {
  const std::vector<Written> records = sample_records();
  std::vector<std::size_t> ends;
  Bytes file = encode(records, &ends);
  file.resize(file.size() - 3);  // the last record cut short, then zeros
  file.resize(file.size() + 4096, 0);
  const ScanResult scan = scan_records(file);
  EXPECT_EQ(scan.good_bytes, ends[ends.size() - 2]);
  EXPECT_EQ(scan.end, ScanResult::End::kTornTail);
}

TEST(RecordTest, ZerosWithAGoodRecordAfterThemAreDamage) {
  const std::vector<Written> records = sample_records();
  std::vector<std::size_t> ends;
  Bytes file = encode(records, &ends);
  // The second record zeroed in place: the third still follows it.
  std::fill(file.begin() + static_cast<std::ptrdiff_t>(ends[0]),
            file.begin() + static_cast<std::ptrdiff_t>(ends[1]), std::uint8_t{0});
  const ScanResult scan = scan_records(file);
  EXPECT_EQ(scan.good_bytes, ends[0]);
  EXPECT_EQ(scan.end, ScanResult::End::kDamaged);
}

TEST(RecordTest, AChangedByteBeforeTheLastRecordIsDamageNotATail) {
  const std::vector<Written> records = sample_records();
  std::vector<std::size_t> ends;
  const Bytes file = encode(records, &ends);
  const std::size_t last_start = ends[ends.size() - 2];
  for (std::size_t at = 0; at < last_start; ++at) {
    SCOPED_TRACE("byte " + std::to_string(at));
    Bytes damaged = file;
    damaged[at] ^= 0x10;  // in a length field too: it then claims other bytes
    std::size_t record = 0;
    while (ends[record] <= at) ++record;
    const ScanResult scan = scan_records(damaged);
    EXPECT_EQ(scan.end, ScanResult::End::kDamaged) << scan.problem;
    EXPECT_EQ(scan.good_bytes, record == 0 ? 0 : ends[record - 1]);
    expect_records(scan, records, record);
    EXPECT_FALSE(scan.problem.empty());
  }
}

TEST(RecordTest, AChangedByteInTheLastRecordIsATornTail) {
  // Nothing follows it, so it cannot be told from a write the crash cut short.
  const std::vector<Written> records = sample_records();
  std::vector<std::size_t> ends;
  Bytes file = encode(records, &ends);
  file[ends[ends.size() - 2] + kRecordHeaderSize] ^= 0x01;
  const ScanResult scan = scan_records(file);
  EXPECT_EQ(scan.end, ScanResult::End::kTornTail);
  expect_records(scan, records, records.size() - 1);
}

TEST(RecordTest, ALengthBeyondAnyRecordIsRefusedWithoutReadingOn) {
  Bytes file;
  append_record(file, 1, 1, as_bytes("first"));
  const std::size_t first_end = file.size();
  Bytes huge;
  append_record(huge, 2, 2, as_bytes("x"));
  huge[3] = 0x7f;  // body length about 2 GiB
  file.insert(file.end(), huge.begin(), huge.end());
  append_record(file, 3, 3, as_bytes("third"));
  const ScanResult scan = scan_records(file);
  EXPECT_EQ(scan.end, ScanResult::End::kDamaged);
  EXPECT_EQ(scan.good_bytes, first_end);
  EXPECT_NE(scan.problem.find("length"), std::string::npos) << scan.problem;
}

TEST(RecordTest, ASequenceThatSkipsIsDamage) {
  Bytes file;
  append_record(file, 1, 10, as_bytes("ten"));
  const std::size_t first_end = file.size();
  append_record(file, 1, 12, as_bytes("twelve"));  // eleven is missing
  append_record(file, 1, 13, as_bytes("thirteen"));
  const ScanResult scan = scan_records(file);
  EXPECT_EQ(scan.end, ScanResult::End::kDamaged);
  EXPECT_EQ(scan.good_bytes, first_end);
  EXPECT_NE(scan.problem.find("sequence"), std::string::npos) << scan.problem;
}

TEST(RecordTest, BodiesRoundTripAndAShortBodyFailsOnce) {
  BodyWriter writer;
  writer.u8(200)
      .u32(0xdeadbeef)
      .u64(0x0102030405060708)
      .i64(-5)
      .text("+15550000001")
      .bytes(Bytes{0, 1, 2});
  const Bytes body = writer.take();
  BodyReader reader(body);
  EXPECT_EQ(reader.u8(), 200);
  EXPECT_EQ(reader.u32(), 0xdeadbeefU);
  EXPECT_EQ(reader.u64(), 0x0102030405060708U);
  EXPECT_EQ(reader.i64(), -5);
  EXPECT_EQ(reader.text(), "+15550000001");
  const ByteView tail = reader.bytes();
  EXPECT_EQ(Bytes(tail.begin(), tail.end()), (Bytes{0, 1, 2}));
  EXPECT_TRUE(reader.done());

  // Cut anywhere, the same reads fail, and keep failing, without reading past the end.
  for (std::size_t cut = 0; cut < body.size(); ++cut) {
    BodyReader short_reader(ByteView(body).first(cut));
    short_reader.u8();
    short_reader.u32();
    short_reader.u64();
    short_reader.i64();
    short_reader.text();
    short_reader.bytes();
    EXPECT_TRUE(short_reader.failed()) << cut;
    EXPECT_FALSE(short_reader.done()) << cut;
  }
  // A length that claims more than is left fails too.
  const Bytes lying = BodyWriter().u32(1000).u8(1).take();
  BodyReader liar(lying);
  EXPECT_TRUE(liar.bytes().empty());
  EXPECT_TRUE(liar.failed());
}

}  // namespace
}  // namespace shido::server
