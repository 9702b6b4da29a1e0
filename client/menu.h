// The interactive menu of shido-client (what runs with no subcommand), as the original:
// Register / Connect / Quit, and once logged in: Send / Show waiting messages /
// My fingerprint / Contacts / Log out.
#pragma once

#include <iosfwd>

#include "client/commands.h"

namespace shido::client {

// Runs the menu on in/out until the person quits or input ends (Ctrl-D). Returns the
// exit status (0 unless something could not even start).
int run_menu(const CommonOptions& options, std::istream& in, std::ostream& out);

}  // namespace shido::client
