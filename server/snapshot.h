// Writing a snapshot: the whole state as records, in a temporary file that is synced and
// then renamed into place (and the directory synced), so that a snapshot on disk is always
// whole. Reading one back is recovery's (server/recovery.h).
#pragma once

#include <cstdint>
#include <string>

#include "server/file_system.h"
#include "server/memory_store.h"
#include "shido/result.h"

namespace shido::server {

// Writes `image` as directory/snapshot-<generation>. On failure the temporary file is
// removed and no snapshot-<generation> exists.
Status write_snapshot(FileSystem& fs, const std::string& directory, std::uint64_t generation,
                      const StoreImage& image);

}  // namespace shido::server
