// The on-disk record: the unit of the journal and of the snapshots (docs/STORAGE.md).
//
//   offset  size  field
//        0     4  body length L (little-endian), at most kMaxRecordBody
//        4     1  type
//        5     8  sequence number (little-endian): each file's records count up by one
//       13     L  body
//     13+L     4  CRC-32C of the 13 + L bytes before it (little-endian)
//
// Binary, not JSON or base64: a message costs its envelope's bytes and a few dozen more.
// scan_records() reads a file's records back and tells a torn tail (what a crash leaves
// at the end of a file that was being appended to: dropped, nothing before it is lost)
// from damage in the middle (refused: something other than a crash wrote there).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shido/bytes.h"

namespace shido::server {

inline constexpr std::size_t kRecordHeaderSize = 13;
inline constexpr std::size_t kRecordTrailerSize = 4;
// Larger than any record the store writes (a message's envelope is at most about 1 MiB), so
// a length field beyond it can only be damage.
inline constexpr std::size_t kMaxRecordBody = std::size_t{16} << 20;

// Appends one whole record to out.
void append_record(Bytes& out, std::uint8_t type, std::uint64_t sequence, ByteView body);

struct RecordView {
  std::uint8_t type = 0;
  std::uint64_t sequence = 0;
  ByteView body;           // points into the scanned bytes
  std::size_t offset = 0;  // where the record starts in the file
};

struct ScanResult {
  enum class End {
    kClean,     // every byte belongs to a good record
    kTornTail,  // the bytes from `good_bytes` on are a partial or bad record with no good one
                // after it: what a crash leaves; they may be cut off
    kDamaged,   // the record at `good_bytes` is bad, yet a good record follows it
    kPadded,    // the bytes from `good_bytes` on are all zero: space allocated ahead of the
                // records (a journal is preallocated), not data
  };
  std::vector<RecordView> records;  // the good records before `good_bytes`, in order
  std::size_t good_bytes = 0;       // where the good prefix ends
  End end = End::kClean;
  std::string problem;  // for kTornTail and kDamaged: what is wrong at `good_bytes`
};

// Reads the records of a file's bytes. A record is good when its length is within
// kMaxRecordBody and the file, its checksum matches, and its sequence number is one more
// than the previous record's (the first may have any). The views point into `file`.
ScanResult scan_records(ByteView file);

// Little-endian fields and length-prefixed strings, for record bodies.
class BodyWriter {
 public:
  BodyWriter& u8(std::uint8_t value);
  BodyWriter& u32(std::uint32_t value);
  BodyWriter& u64(std::uint64_t value);
  BodyWriter& i64(std::int64_t value) { return u64(static_cast<std::uint64_t>(value)); }
  // A u32 length, then the bytes.
  BodyWriter& bytes(ByteView value);
  BodyWriter& text(std::string_view value) { return bytes(as_bytes(value)); }

  const Bytes& body() const { return body_; }
  Bytes take() { return std::move(body_); }

 private:
  Bytes body_;
};

// Reads what BodyWriter wrote. A read past the end, or a length beyond what is left, sets
// failed() and gives zeros or empty values from then on: the caller checks failed() (and
// done()) once, after reading every field.
class BodyReader {
 public:
  explicit BodyReader(ByteView body) : body_(body) {}

  std::uint8_t u8();
  std::uint32_t u32();
  std::uint64_t u64();
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  ByteView bytes();
  std::string text();

  bool failed() const { return failed_; }
  // Every byte was read, and nothing failed.
  bool done() const { return !failed_ && at_ == body_.size(); }

 private:
  ByteView take(std::size_t size);

  ByteView body_;
  std::size_t at_ = 0;
  bool failed_ = false;
};

}  // namespace shido::server
