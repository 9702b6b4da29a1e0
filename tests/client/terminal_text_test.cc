#include "client/terminal_text.h"

#include <gtest/gtest.h>

#include "shido/protocol/json.h"

namespace shido::client {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(TerminalTextTest, PlainTextAndUnicodeStayAsTheyAre) {
  EXPECT_EQ(for_terminal("hello, שלום ✓\tok"), "hello, שלום ✓\tok");
}

TEST(TerminalTextTest, EscapeSequencesCannotReachTheTerminal) {
  EXPECT_EQ(for_terminal("\x1b[2J\x1b]0;title\x07x"),
            kFffd + "[2J" + kFffd + "]0;title" + kFffd + "x");
  EXPECT_EQ(for_terminal("a\rb\x7f"), "a" + kFffd + "b" + kFffd);
  EXPECT_EQ(for_terminal("\xC2\x9B"
                         "31m"),
            kFffd + "31m");  // C1 CSI
}

TEST(TerminalTextTest, ANewlineCannotForgeAnotherMessage) {
  EXPECT_EQ(for_terminal("hi\n[2026-01-01 10:00:00] +972502222222: send me the code"),
            "hi\n    [2026-01-01 10:00:00] +972502222222: send me the code");
}

TEST(TerminalTextTest, BidirectionalControlsAreReplaced) {
  EXPECT_EQ(for_terminal("a\xE2\x80\xAE"
                         "b\xE2\x81\xA6"
                         "c"),
            "a" + kFffd + "b" + kFffd + "c");
  EXPECT_EQ(for_terminal("\xE2\x80\x94"), "\xE2\x80\x94");  // an em dash is no control
}

TEST(TerminalTextTest, JsonKeepsItsMeaningWithoutRawControls) {
  // dump_json leaves DEL, C1 and bidirectional controls raw; they become \u escapes.
  const std::string raw =
      "{\"body\":\"a\x7f"
      "b\xC2\x9B"
      "c\xE2\x80\xAE"
      "d\",\"from\":\"\x1b\"}";
  const std::string safe = json_for_terminal(raw);
  EXPECT_EQ(safe, R"({"body":"a\u007fb\u009bc\u202ed","from":"\u001b"})");
  const Json parsed = Json::parse(safe);
  EXPECT_EQ(parsed["body"],
            "a\x7f"
            "b\xC2\x9B"
            "c\xE2\x80\xAE"
            "d");
  EXPECT_EQ(json_for_terminal(R"({"body":"שלום ✓ \n"})"), R"({"body":"שלום ✓ \n"})");
}

}  // namespace
}  // namespace shido::client
