// The disk store's files in --data-dir, and the records that frame them (docs/STORAGE.md).
//
//   snapshot-<generation>  the whole state when that generation began
//   journal-<generation>   every change from then on, appended
//
// Generations are numbered up from 1, in 16 hex digits so that names sort in order. State =
// the newest snapshot, then every journal of its generation or later, in order. Each file
// begins with a header record naming its kind and generation; a snapshot ends with a record
// that counts what it holds, so that one cut short is never taken for a whole one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "server/record.h"
#include "shido/bytes.h"
#include "shido/result.h"

namespace shido::server {

enum class StoreFileKind : std::uint8_t { kJournal = 1, kSnapshot = 2 };

// Record types of the files themselves, beside the changes' (server/change.h).
inline constexpr std::uint8_t kHeaderRecord = 0x80;
inline constexpr std::uint8_t kSnapshotEndRecord = 0x81;
inline constexpr std::uint32_t kStoreFormatVersion = 1;

struct StoreFileName {
  StoreFileKind kind;
  std::uint64_t generation;
};

std::string store_file_name(StoreFileKind kind, std::uint64_t generation);
// The kind and generation a name stands for; nullopt for any other name.
std::optional<StoreFileName> parse_store_file_name(const std::string& name);

Bytes encode_header(StoreFileKind kind, std::uint64_t generation);
// Checks a header record's body against the file's name; a sentence saying what is wrong.
Status check_header(ByteView body, StoreFileKind kind, std::uint64_t generation);

struct SnapshotEnd {
  std::uint64_t users = 0;
  std::uint64_t locks = 0;
  std::uint64_t messages = 0;
};
Bytes encode_snapshot_end(const SnapshotEnd& end);
Result<SnapshotEnd> decode_snapshot_end(ByteView body);

}  // namespace shido::server
