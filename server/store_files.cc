#include "server/store_files.h"

#include <cstdio>

namespace shido::server {
namespace {

constexpr std::string_view kMagic = "shido-store";

const char* prefix(StoreFileKind kind) {
  return kind == StoreFileKind::kJournal ? "journal-" : "snapshot-";
}

}  // namespace

std::string store_file_name(StoreFileKind kind, std::uint64_t generation) {
  char digits[17];
  std::snprintf(digits, sizeof digits, "%016llx", static_cast<unsigned long long>(generation));
  return prefix(kind) + std::string(digits);
}

std::optional<StoreFileName> parse_store_file_name(const std::string& name) {
  for (const StoreFileKind kind : {StoreFileKind::kJournal, StoreFileKind::kSnapshot}) {
    const std::string_view start = prefix(kind);
    if (name.size() != start.size() + 16 || name.compare(0, start.size(), start) != 0) continue;
    std::uint64_t generation = 0;
    for (std::size_t i = start.size(); i < name.size(); ++i) {
      const char c = name[i];
      int digit = 0;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else {
        return std::nullopt;
      }
      generation = generation * 16 + static_cast<std::uint64_t>(digit);
    }
    if (generation == 0) return std::nullopt;
    return StoreFileName{kind, generation};
  }
  return std::nullopt;
}

Bytes encode_header(StoreFileKind kind, std::uint64_t generation) {
  return BodyWriter()
      .text(kMagic)
      .u32(kStoreFormatVersion)
      .u8(static_cast<std::uint8_t>(kind))
      .u64(generation)
      .take();
}

Status check_header(ByteView body, StoreFileKind kind, std::uint64_t generation) {
  BodyReader in(body);
  const std::string magic = in.text();
  const std::uint32_t version = in.u32();
  const std::uint8_t read_kind = in.u8();
  const std::uint64_t read_generation = in.u64();
  if (!in.done() || magic != kMagic) return Error{Errc::kBadValue, "not a Shido store file"};
  if (version != kStoreFormatVersion) {
    return Error{Errc::kBadValue, "format version " + std::to_string(version) +
                                      " (this server reads version " +
                                      std::to_string(kStoreFormatVersion) + ")"};
  }
  if (read_kind != static_cast<std::uint8_t>(kind) || read_generation != generation) {
    return Error{Errc::kBadValue, "its header names another file"};
  }
  return {};
}

Bytes encode_snapshot_end(const SnapshotEnd& end) {
  return BodyWriter().u64(end.users).u64(end.locks).u64(end.messages).take();
}

Result<SnapshotEnd> decode_snapshot_end(ByteView body) {
  BodyReader in(body);
  SnapshotEnd end;
  end.users = in.u64();
  end.locks = in.u64();
  end.messages = in.u64();
  if (!in.done()) return Error{Errc::kBadValue, "a damaged snapshot end record"};
  return end;
}

}  // namespace shido::server
