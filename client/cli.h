// shido-client's command line: the subcommands and their options, help that lists what
// each one accepts (the common options included), and errors that name what was wrong in
// the order it was typed.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shido::client {

// Parses the command line and runs the subcommand, or the menu without one. Returns the
// exit status (see commands.h).
int run_command_line(int argc, char** argv);

// The command a mistyped word most likely meant: the nearest by edit distance, if at most
// two edits (one for words of three letters or fewer) away.
std::optional<std::string> nearest_command(std::string_view typed,
                                           const std::vector<std::string>& commands);

}  // namespace shido::client
