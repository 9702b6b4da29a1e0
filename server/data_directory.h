// The data directory (--data-dir): made with mode 0700 (it holds e-mail addresses, who
// wrote to whom, code hashes and ciphertext), and locked for one server at a time.
#pragma once

#include <string>

#include "shido/net/socket.h"
#include "shido/result.h"

namespace shido::server {

// Creates the directory with mode 0700 if it is missing, and takes its mode back to 0700
// when the group or others may use it.
Status prepare_data_directory(const std::string& directory);

// Locks the directory for this process (an flock on directory/lock, released when the
// returned descriptor closes, which the kernel also does when the process dies). Fails,
// saying so plainly, when another process holds it.
Result<UniqueFd> lock_data_directory(const std::string& directory);

}  // namespace shido::server
