// CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected; the iSCSI and ext4 checksum):
// what guards every record of the journal and the snapshots against torn and damaged
// writes. Not a defence against anyone who can write the files: only against accidents.
#pragma once

#include <cstdint>

#include "shido/bytes.h"

namespace shido::server {

// The CRC-32C of data, continuing from `crc` (the CRC of what came before; 0 to start).
// crc32c(b, crc32c(a)) == crc32c(a || b).
std::uint32_t crc32c(ByteView data, std::uint32_t crc = 0);

// The same, one byte at a time from a table: what crc32c uses where the CPU has no crc32
// instruction (tests check that both agree).
std::uint32_t crc32c_portable(ByteView data, std::uint32_t crc = 0);

}  // namespace shido::server
