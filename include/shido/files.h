// Files that hold secrets or must never be seen half-written.
#pragma once

#include <string>

#include "shido/bytes.h"

namespace shido {

// Writes contents to path atomically: a temporary file in the same directory created with
// `mode`, written, fsync'ed, then renamed over path (and the directory fsync'ed), so a
// reader sees the old file or the new one, never a mix. Fails with kIo naming the path.
Status write_file_atomic(const std::string& path, ByteView contents, unsigned mode = 0600);

// Reads a whole file of at most max_size bytes. kNotFound when absent, kIo otherwise.
Result<std::string> read_file(const std::string& path, std::size_t max_size = 16 << 20);

// Reads a file that holds a secret. Refuses with kInvalidKey a file that the group or
// others may read or write (mode & 077), saying which mode it has.
Result<SecretBytes> read_private_file(const std::string& path, std::size_t max_size = 1 << 20);

}  // namespace shido
