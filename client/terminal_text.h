// Text from other people (message bodies, server error descriptions) made safe to print
// on a terminal: it must not move the cursor, recolour or rewrite the screen, or pass
// itself off as another message or as one of our warnings.
#pragma once

#include <string>
#include <string_view>

namespace shido::client {

// Replaces C0 and C1 control characters, DEL and the Unicode bidirectional controls with
// U+FFFD, and indents each line after the first by four spaces so that a body can never
// look like a line of its own. Tabs are kept.
std::string for_terminal(std::string_view text);

// The same for JSON text (as `fetch --json` prints it): what for_terminal replaces becomes a
// \uXXXX escape instead, which stays valid JSON that means the same. Such characters can
// only stand inside strings there, since JSON's own syntax is plain ASCII.
std::string json_for_terminal(std::string_view json);

}  // namespace shido::client
