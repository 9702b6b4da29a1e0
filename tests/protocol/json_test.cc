#include "shido/protocol/json.h"

#include <gtest/gtest.h>

#include <string>

namespace shido {
namespace {

// n nested arrays around a value, inside an object with a code: depth n + 1.
std::string nested_frame(int arrays) {
  return R"({"code":200,"x":)" + std::string(static_cast<std::size_t>(arrays), '[') + "1" +
         std::string(static_cast<std::size_t>(arrays), ']') + "}";
}

void expect_error(std::string_view text, Errc expected) {
  auto result = parse_frame_json(text);
  ASSERT_FALSE(result.ok()) << "accepted " << text.substr(0, 80);
  EXPECT_EQ(result.error().code, expected)
      << errc_name(result.error().code) << ": " << result.error().message;
}

TEST(JsonDepthTest, CountsTheTopLevelAsOne) {
  EXPECT_EQ(json_depth("1"), 0);
  EXPECT_EQ(json_depth("{}"), 1);
  EXPECT_EQ(json_depth("[]"), 1);
  EXPECT_EQ(json_depth(R"({"a":[1,{"b":[]}],"c":{}})"), 4);
  EXPECT_EQ(json_depth("[[],[],[[]]]"), 3);
}

TEST(JsonDepthTest, IgnoresBracketsInsideStrings) {
  EXPECT_EQ(json_depth(R"({"a":"[[[[{{{{"})"), 1);
  EXPECT_EQ(json_depth(R"({"a":"\"[[[["})"), 1);      // escaped quote stays inside
  EXPECT_EQ(json_depth(R"({"a":"\\","b":[1]})"), 2);  // escaped backslash ends nothing
  EXPECT_EQ(json_depth(R"({"[":"]}}}}","b":[[1]]})"), 3);
}

TEST(JsonDepthTest, StopsPastTheLimit) {
  EXPECT_EQ(json_depth(std::string(100, '['), 32), 33);
  EXPECT_EQ(json_depth(std::string(5, '['), 3), 4);
  EXPECT_EQ(json_depth(std::string(3, '['), 3), 3);
}

TEST(ParseFrameJsonTest, AcceptsAnObjectWithAnIntegerCode) {
  auto result = parse_frame_json(R"( {"protocol":1, "code":200, "extra":[null]} )");
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result.value().at("code").get<int>(), 200);
  EXPECT_TRUE(parse_frame_json(R"({"code":-5})").ok());  // an unknown code is the caller's call
}

TEST(ParseFrameJsonTest, RejectsNonUtf8First) {
  expect_error("{\"code\":200,\"x\":\"\xff\"}", Errc::kNotUtf8);
  expect_error("\xc0\x80", Errc::kNotUtf8);
  // Bad UTF-8 beats every later check, e.g. depth.
  expect_error(std::string(100, '[') + "\xff", Errc::kNotUtf8);
}

TEST(ParseFrameJsonTest, Depth32AcceptedAnd33Refused) {
  ASSERT_EQ(json_depth(nested_frame(31)), 32);
  auto ok = parse_frame_json(nested_frame(31));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  ASSERT_EQ(json_depth(nested_frame(32)), 33);
  expect_error(nested_frame(32), Errc::kTooDeep);
}

TEST(ParseFrameJsonTest, BracketsInsideStringsDoNotCount) {
  const std::string frame = R"({"code":200,"x":")" + std::string(1000, '[') + R"("})";
  auto result = parse_frame_json(frame);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result.value().at("x").get<std::string>().size(), 1000u);
}

TEST(ParseFrameJsonTest, AMebibyteOfBracketsIsRefused) {
  // A recursive parser would overflow the stack here (and ASan would say so); the depth
  // scan refuses it in one pass. How fast is a benchmark's business, not this test's.
  const std::string frame(1 << 20, '[');
  expect_error(frame, Errc::kTooDeep);
  EXPECT_EQ(json_depth(frame), kMaxJsonDepth + 1);
}

TEST(JsonElementCountTest, CountsValuesOutsideStringsAndStopsPastTheLimit) {
  EXPECT_EQ(json_element_count(R"({"code":200})"), 2u);
  EXPECT_EQ(json_element_count(R"({"a":[1,2,3],"b":{}})"), 7u);
  EXPECT_EQ(json_element_count(R"({"a":",,,[[{{"})"), 2u);  // inside a string: nothing
  EXPECT_EQ(json_element_count(std::string(100, ','), 10), 11u);
}

TEST(ParseFrameJsonTest, AMebibyteOfEmptyObjectsIsRefusedBeforeParsing) {
  // 350,000 tiny values would make a parse tree of tens of megabytes per frame.
  std::string frame = R"({"code":200,"x":[)";
  while (frame.size() < (1u << 20) - 8) frame += "{},";
  frame += "{}]}";
  expect_error(frame, Errc::kTooMany);
}

TEST(ParseFrameJsonTest, TheLargestRealRequestIsWellUnderTheValueLimit) {
  // An ACK of 500 ids (the most one fetch can return) is the request with the most values.
  Json ids = Json::array();
  for (int i = 0; i < 500; ++i) ids.push_back(std::string(32, 'a'));
  auto parsed = parse_frame_json(dump_json({{"code", 120}, {"message_ids", ids}}));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
}

TEST(ParseFrameJsonTest, RejectsBadJson) {
  for (std::string_view text :
       {"", " ", "{", R"({"code":200)", R"({"code":200,})", R"({code:200})", R"({'code':200})",
        R"({"code":200} {})", R"({"code":200}x)", R"({"code":0200})", "]}"}) {
    expect_error(text, Errc::kBadJson);
  }
}

TEST(ParseFrameJsonTest, RejectsWhatIsNotAnObject) {
  for (std::string_view text : {"[]", R"([{"code":200}])", "200", R"("code")", "null", "true"}) {
    expect_error(text, Errc::kNotObject);
  }
}

TEST(ParseFrameJsonTest, RequiresAnIntegerCode) {
  for (std::string_view text : {"{}", R"({"Code":200})", R"({"code":1.0})", R"({"code":1e2})",
                                R"({"code":200.0})", R"({"code":"200"})", R"({"code":null})",
                                R"({"code":true})", R"({"code":[200]})", R"({"code":{"v":200}})"}) {
    expect_error(text, Errc::kBadCode);
  }
}

TEST(ParseFrameJsonTest, CheckOrderIsUtf8DepthJsonObjectCode) {
  // Too deep and not JSON: depth answers.
  expect_error(std::string(40, '{'), Errc::kTooDeep);
  // Bad JSON inside an array: JSON answers before "not an object".
  expect_error("[1,", Errc::kBadJson);
}

TEST(DumpJsonTest, CompactWithRawUtf8) {
  Json json = {{"code", 110}, {"body", "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d"}};
  const std::string text = dump_json(json);
  EXPECT_EQ(text, "{\"body\":\"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d\",\"code\":110}");
  EXPECT_EQ(text.find("\\u"), std::string::npos);
}

TEST(DumpJsonTest, ReplacesInvalidUtf8InsteadOfThrowing) {
  Json json = {{"code", 124}, {"error_description", "bad \xff byte"}};
  std::string text;
  ASSERT_NO_THROW(text = dump_json(json));
  EXPECT_NE(text.find("\xef\xbf\xbd"), std::string::npos);  // U+FFFD
  EXPECT_EQ(text.find('\xff'), std::string::npos);
}

TEST(DumpJsonTest, RoundTripsThroughParse) {
  Json json = {{"code", 202}, {"max", 100}, {"wait_seconds", 0}, {"ids", {"a", "b"}}};
  auto parsed = parse_frame_json(dump_json(json));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed.value(), json);
}

}  // namespace
}  // namespace shido
