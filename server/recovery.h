// Start-up: loads the newest snapshot in the data directory and replays every journal of
// its generation or later into a memory store (server/store_files.h).
//
// A torn tail (what a crash leaves at the end of a file being appended to: a partial or
// bad record with no good one after it) is cut off, with a warning saying how many bytes
// were dropped. Damage anywhere else refuses to start, naming the file and offset; with
// `salvage`, the good records before the damage are kept (the damaged file is moved aside
// as <name>.damaged and its good prefix written in its place) and start-up goes on.
#pragma once

#include <cstdint>
#include <string>

#include "server/file_system.h"
#include "server/log.h"
#include "server/memory_store.h"
#include "shido/result.h"

namespace shido::server {

struct Recovered {
  std::uint64_t snapshot = 0;           // the generation of the snapshot loaded; 0 for none
  std::uint64_t journals = 0;           // journals replayed
  std::uint64_t records = 0;            // change records read, snapshot's and journals'
  std::uint64_t last_journal = 0;       // the newest journal's generation; 0 for none
  std::uint64_t last_sequence = 0;      // its last good record's sequence; 0 when it has none
  std::uint64_t journal_bytes = 0;      // what the replayed journals hold, after cutting tails
  std::uint64_t newest_generation = 0;  // the highest generation any file names
  bool salvaged = false;                // a damaged file was cut to its good prefix
};

Result<Recovered> recover(FileSystem& fs, const std::string& directory, MemoryStore& store,
                          bool salvage, Logger& logger);

}  // namespace shido::server
