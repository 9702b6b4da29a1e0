#include "server/record.h"

#include <algorithm>
#include <optional>

#include "server/crc32c.h"

namespace shido::server {
namespace {

void put_le(Bytes& out, std::uint64_t value, int size) {
  for (int i = 0; i < size; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

std::uint64_t get_le(ByteView in, std::size_t at, int size) {
  std::uint64_t value = 0;
  for (int i = 0; i < size; ++i) value |= std::uint64_t{in[at + i]} << (8 * i);
  return value;
}

// The good record at `at`, if there is one; else why not. With `previous`, the record's
// sequence number must follow it (after = false) or merely come after it (after = true).
std::optional<RecordView> record_at(ByteView file, std::size_t at,
                                    std::optional<std::uint64_t> previous, bool after,
                                    std::string* problem) {
  const auto fail = [&](std::string why) -> std::optional<RecordView> {
    if (problem != nullptr) *problem = std::move(why);
    return std::nullopt;
  };
  const std::size_t left = file.size() - at;
  if (left < kRecordHeaderSize + kRecordTrailerSize) return fail("a record cut short");
  const std::size_t length = get_le(file, at, 4);
  if (length > kMaxRecordBody) return fail("a record length beyond any record");
  if (length > left - kRecordHeaderSize - kRecordTrailerSize) {
    return fail("a record longer than what follows it");
  }
  const std::size_t covered = kRecordHeaderSize + length;
  const auto stored_crc = static_cast<std::uint32_t>(get_le(file, at + covered, 4));
  if (crc32c(file.subspan(at, covered)) != stored_crc) return fail("a record checksum mismatch");
  RecordView record;
  record.type = file[at + 4];
  record.sequence = get_le(file, at + 5, 8);
  record.body = file.subspan(at + kRecordHeaderSize, length);
  record.offset = at;
  if (previous && (after ? record.sequence <= *previous : record.sequence != *previous + 1)) {
    return fail("a record out of sequence");
  }
  return record;
}

// Whether a good record, later in sequence than `previous`, starts anywhere from `from` on.
bool good_record_from(ByteView file, std::size_t from, std::optional<std::uint64_t> previous) {
  for (std::size_t at = from; at + kRecordHeaderSize + kRecordTrailerSize <= file.size(); ++at) {
    if (record_at(file, at, previous, true, nullptr)) return true;
  }
  return false;
}

}  // namespace

void append_record(Bytes& out, std::uint8_t type, std::uint64_t sequence, ByteView body) {
  const std::size_t start = out.size();
  out.reserve(start + kRecordHeaderSize + body.size() + kRecordTrailerSize);
  put_le(out, body.size(), 4);
  out.push_back(type);
  put_le(out, sequence, 8);
  out.insert(out.end(), body.begin(), body.end());
  put_le(out, crc32c(ByteView(out).subspan(start)), 4);
}

ScanResult scan_records(ByteView file) {
  ScanResult result;
  std::optional<std::uint64_t> previous;
  std::size_t at = 0;
  while (at < file.size()) {
    auto record = record_at(file, at, previous, false, &result.problem);
    if (!record) {
      result.good_bytes = at;
      if (std::all_of(file.begin() + static_cast<std::ptrdiff_t>(at), file.end(),
                      [](std::uint8_t byte) { return byte == 0; })) {
        result.end = ScanResult::End::kPadded;
        result.problem.clear();
        return result;
      }
      // A crash leaves at most one partial record, at the very end: if anything good comes
      // later, these bytes were damaged in place.
      result.end = good_record_from(file, at + 1, previous) ? ScanResult::End::kDamaged
                                                            : ScanResult::End::kTornTail;
      return result;
    }
    previous = record->sequence;
    at += kRecordHeaderSize + record->body.size() + kRecordTrailerSize;
    result.records.push_back(*record);
  }
  result.good_bytes = at;
  result.problem.clear();
  return result;
}

BodyWriter& BodyWriter::u8(std::uint8_t value) {
  body_.push_back(value);
  return *this;
}

BodyWriter& BodyWriter::u32(std::uint32_t value) {
  put_le(body_, value, 4);
  return *this;
}

BodyWriter& BodyWriter::u64(std::uint64_t value) {
  put_le(body_, value, 8);
  return *this;
}

BodyWriter& BodyWriter::bytes(ByteView value) {
  u32(static_cast<std::uint32_t>(value.size()));
  body_.insert(body_.end(), value.begin(), value.end());
  return *this;
}

ByteView BodyReader::take(std::size_t size) {
  if (failed_ || size > body_.size() - at_) {
    failed_ = true;
    return {};
  }
  const ByteView taken = body_.subspan(at_, size);
  at_ += size;
  return taken;
}

std::uint8_t BodyReader::u8() {
  const ByteView b = take(1);
  return b.empty() ? 0 : b[0];
}

std::uint32_t BodyReader::u32() {
  const ByteView b = take(4);
  return b.empty() ? 0 : static_cast<std::uint32_t>(get_le(b, 0, 4));
}

std::uint64_t BodyReader::u64() {
  const ByteView b = take(8);
  return b.empty() ? 0 : get_le(b, 0, 8);
}

ByteView BodyReader::bytes() { return take(u32()); }

std::string BodyReader::text() { return to_string(bytes()); }

}  // namespace shido::server
