// Session before and around its flows (protocol.md sections 4, 5 and 8): HELLO and its nonce,
// what is answered before HELLO, unknown codes, BYE, 105, and errors that never change
// the session's state.
#include "session_fixture.h"

namespace shido::server::test {
namespace {

TEST_F(SessionTest, HelloAnswersServerKeyAndAFreshNonceEachTime) {
  Conn conn(*this, "peer");
  const Json reply = conn.one(Hello{}.to_json());
  ASSERT_EQ(code_of(reply), 101);
  EXPECT_EQ(reply["protocol"], 1);
  EXPECT_EQ(reply["public_key"], server_key_.public_key().pem());
  auto nonce = base64_decode(reply["nonce"].get<std::string>());
  ASSERT_TRUE(nonce.ok());
  EXPECT_EQ(nonce.value().size(), 32u);
  const Bytes second = conn.hello();
  EXPECT_NE(second, nonce.value());
  Conn other(*this, "other");
  EXPECT_NE(other.hello(), second);
}

TEST_F(SessionTest, HelloWithAnotherProtocolIs132AndLeavesTheSessionUngreeted) {
  Conn conn(*this, "peer");
  EXPECT_TRUE(IsError(conn.one(Json{{"code", 200}, {"protocol", 2}}), Code::kUnsupportedProtocol));
  EXPECT_TRUE(IsError(conn.one(Json{{"code", 200}, {"protocol", 0}}), Code::kUnsupportedProtocol));
  EXPECT_TRUE(IsError(conn.request_code(alice_), Code::kUnexpectedCode));
  conn.hello();
  EXPECT_EQ(code_of(conn.request_code(alice_)), 115);
}

TEST_F(SessionTest, HelloWithWrongOrMissingProtocolIs124NamingIt) {
  Conn conn(*this, "peer");
  EXPECT_TRUE(
      IsError(conn.one(Json{{"code", 200}, {"protocol", "1"}}), Code::kBadRequest, "protocol"));
  EXPECT_TRUE(
      IsError(conn.one(Json{{"code", 200}, {"protocol", 1.5}}), Code::kBadRequest, "protocol"));
  EXPECT_TRUE(IsError(conn.one(Json{{"code", 200}}), Code::kBadRequest, "protocol"));
}

TEST_F(SessionTest, UnknownMembersAreIgnored) {
  Conn conn(*this, "peer");
  const Json reply = conn.one(Json{{"code", 200}, {"protocol", 1}, {"extra", {1, 2, 3}}});
  EXPECT_EQ(code_of(reply), 101);
}

TEST_F(SessionTest, EveryRequestButHelloBeforeHelloIs129) {
  Conn conn(*this, "peer");
  const Account dummy{alice_, KeyPair::generate(), "123456"};
  const std::vector<Json> requests = {
      SendPhoneNumber{alice_, "a@example.com"}.to_json(),
      register_request(dummy.key, alice_, "123456", Bytes(32, 0)),
      connect_request(dummy.key, alice_, "123456", Bytes(32, 0)),
      CommunicationRequest{bob_}.to_json(),
      message_request(dummy, dummy, "hi"),
      CheckWaitingMessages{}.to_json(),
      AckMessages{{"x"}}.to_json(),
  };
  for (const Json& request : requests) {
    EXPECT_TRUE(IsError(conn.one(request), Code::kUnexpectedCode)) << request["code"];
    EXPECT_EQ(conn.last_after(), After::kContinue);
  }
}

TEST_F(SessionTest, UnknownAndServerCodesAre129AndTheSessionGoesOn) {
  Conn conn(*this, "peer");
  for (long long code : {0LL, 1LL, -200LL, 101LL, 104LL, 124LL, 999LL, 4294967496LL}) {
    EXPECT_TRUE(IsError(conn.one(Json{{"code", code}}), Code::kUnexpectedCode)) << code;
  }
  conn.hello();
  for (long long code : {101LL, 115LL, 121LL, 300LL}) {
    EXPECT_TRUE(IsError(conn.one(Json{{"code", code}}), Code::kUnexpectedCode)) << code;
  }
  EXPECT_EQ(code_of(conn.request_code(alice_)), 115);
}

TEST_F(SessionTest, ByeClosesWithoutReplyInAnyState) {
  Conn before(*this, "peer");
  EXPECT_TRUE(before.call(Json{{"code", 199}}).empty());
  EXPECT_EQ(before.last_after(), After::kClose);

  Conn after(*this, "peer");
  register_on(after, alice_);
  EXPECT_TRUE(after.call(Bye{}.to_json()).empty());
  EXPECT_EQ(after.last_after(), After::kClose);
}

TEST_F(SessionTest, GeneralClientErrorGetsNoReplyInAnyState) {
  Conn conn(*this, "peer");
  EXPECT_TRUE(conn.call(Json{{"code", 105}, {"error_description", "oops"}}).empty());
  EXPECT_EQ(conn.last_after(), After::kContinue);
  // Even with members of the wrong type.
  EXPECT_TRUE(conn.call(Json{{"code", 105}, {"error_description", 5}}).empty());
  register_on(conn, alice_);
  EXPECT_TRUE(conn.call(GeneralClientError{"bad"}.to_json()).empty());
  EXPECT_EQ(conn.session().phone(), alice_);  // still logged in
  EXPECT_EQ(code_of(conn.one(CommunicationRequest{alice_}.to_json())), 111);
}

// Errors never change the session's state.
TEST_F(SessionTest, ErrorsKeepTheSessionsState) {
  Conn conn(*this, "peer");
  const Account alice = register_on(conn, alice_);
  for (const Json& request : {Json{{"code", 999}}, Json{{"code", 200}, {"protocol", 9}},
                              Json{{"code", 102}, {"phone_number", 1}},
                              Json{{"code", 203}, {"recipients_phone_number", "+1"}},
                              Json{{"code", 202}, {"max", 0}}, Json{{"code", 103}}}) {
    const Json reply = conn.one(request);
    EXPECT_GE(code_of(reply), 100) << request.dump();
    EXPECT_EQ(conn.session().phone(), alice_) << request.dump();
  }
  EXPECT_EQ(code_of(conn.one(message_request(alice, alice, "ok"))), 118);
}

}  // namespace
}  // namespace shido::server::test
