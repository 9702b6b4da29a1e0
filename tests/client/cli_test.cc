// The command line's own logic, without running the binary: which command a typo meant.
// (What the binary prints for each mistake is in e2e_cli_test.)
#include "client/cli.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shido::client {
namespace {

const std::vector<std::string> kCommands = {"register",    "send",     "fetch",
                                            "fingerprint", "contacts", "help"};

TEST(NearestCommandTest, OneOrTwoEditsAwayIsATypo) {
  EXPECT_EQ(nearest_command("sned", kCommands), "send");  // two letters swapped
  EXPECT_EQ(nearest_command("fecth", kCommands), "fetch");
  EXPECT_EQ(nearest_command("contact", kCommands), "contacts");  // one missing
  EXPECT_EQ(nearest_command("registr", kCommands), "register");
  EXPECT_EQ(nearest_command("fingerprints", kCommands), "fingerprint");
  EXPECT_EQ(nearest_command("hlp", kCommands), "help");  // short: one edit
}

TEST(NearestCommandTest, FarWordsAndShortWordsWithTwoEditsSuggestNothing) {
  EXPECT_EQ(nearest_command("xyzzy", kCommands), std::nullopt);
  EXPECT_EQ(nearest_command("ls", kCommands), std::nullopt);  // two edits from nothing short
  EXPECT_EQ(nearest_command("hl", kCommands), std::nullopt);  // "help" is two edits away
  EXPECT_EQ(nearest_command("", kCommands), std::nullopt);
  EXPECT_EQ(nearest_command("send", {}), std::nullopt);
}

TEST(NearestCommandTest, AnExactNameIsItsOwnNearest) {
  for (const std::string& command : kCommands)
    EXPECT_EQ(nearest_command(command, kCommands), command);
}

}  // namespace
}  // namespace shido::client
