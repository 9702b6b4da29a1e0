#include "shido/protocol/codes.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "shido/result.h"

namespace shido {
namespace {

constexpr int kClientCodes[] = {200, 102, 103, 201, 203, 110, 202, 120, 105, 199};
constexpr int kServerCodes[] = {101, 115, 104, 106, 111, 118, 112, 119, 121};
constexpr int kErrorCodes[] = {100, 107, 108, 109, 113, 114, 123, 124,
                               125, 126, 127, 128, 129, 131, 132};

TEST(CodesTest, EveryProtocolCodeIsKnown) {
  auto check = [&](int value) {
    const auto code = code_from_int(value);
    ASSERT_TRUE(code.has_value()) << value;
    EXPECT_EQ(static_cast<int>(*code), value);
    EXPECT_NE(code_name(*code), "UNKNOWN") << value;
  };
  for (int v : kClientCodes) check(v);
  for (int v : kServerCodes) check(v);
  for (int v : kErrorCodes) check(v);
}

TEST(CodesTest, UnknownIntegersAreNotCodes) {
  for (long long v :
       {0LL, -1LL, -200LL, 116LL, 117LL, 122LL, 130LL, 133LL, 204LL, 1000LL, 200LL + (1LL << 32)}) {
    EXPECT_FALSE(code_from_int(v).has_value()) << v;
  }
  EXPECT_EQ(code_name(static_cast<Code>(999)), "UNKNOWN");
}

TEST(CodesTest, NamesFollowTheProtocol) {
  EXPECT_EQ(code_name(Code::kHello), "HELLO");
  EXPECT_EQ(code_name(Code::kSendMessage), "SEND_MESSAGE");
  EXPECT_EQ(code_name(Code::kCheckWaitingMessagesApproved), "CHECK_WAITING_MESSAGES_APPROVED");
  EXPECT_EQ(code_name(Code::kFrameTooLarge), "FRAME_TOO_LARGE");
  EXPECT_EQ(code_name(Code::kUnsupportedProtocol), "UNSUPPORTED_PROTOCOL");
  EXPECT_EQ(code_name(Code::kServerPublicKey), "SEND_PUBLIC_KEY");
}

TEST(CodesTest, ClientCodes) {
  for (int v : kClientCodes) EXPECT_TRUE(is_client_code(static_cast<Code>(v))) << v;
  for (int v : kServerCodes) EXPECT_FALSE(is_client_code(static_cast<Code>(v))) << v;
  for (int v : kErrorCodes) EXPECT_FALSE(is_client_code(static_cast<Code>(v))) << v;
}

TEST(CodesTest, ErrorCodes) {
  for (int v : kErrorCodes) EXPECT_TRUE(is_error_code(static_cast<Code>(v))) << v;
  for (int v : kServerCodes) EXPECT_FALSE(is_error_code(static_cast<Code>(v))) << v;
  for (int v : kClientCodes) EXPECT_FALSE(is_error_code(static_cast<Code>(v))) << v;
}

TEST(ErrcTest, EveryErrcHasADistinctName) {
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(Errc::kNotFound); ++i) {
    const std::string_view name = errc_name(static_cast<Errc>(i));
    EXPECT_FALSE(name.empty());
    EXPECT_NE(name, "unknown") << i;
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
  }
  EXPECT_EQ(errc_name(Errc::kFrameTooLarge), "frame too large");
  EXPECT_EQ(errc_name(Errc::kBadBase64), "bad base64");
}

}  // namespace
}  // namespace shido
