// The HELLO nonce (protocol.md section 5): every proof spends it, whatever the outcome,
// and a proof without one is 129 and costs no attempt.
#include "session_fixture.h"

namespace shido::server::test {
namespace {

TEST_F(SessionTest, EveryProofSpendsTheNonceWhateverItsOutcome) {
  const Account alice = register_account(alice_);
  Conn conn(*this, "peer");

  // 201 answered 131, 108, 124 and 109: each spends the nonce.
  const std::vector<Json> spenders = {
      connect_request(alice.key, carol_, alice.code, {}),
      Json{{"code", 201}, {"phone_number", "bad"}},
      Json{{"code", 201}, {"phone_number", alice_}},
      connect_request(alice.key, alice_, "abcdef", {}),
      Json{{"code", 103}, {"public_key", 1}},
      register_request(alice.key, alice_, "123456", {}),
  };
  for (const Json& spender : spenders) {
    conn.hello();
    const Json first = conn.one(spender);
    EXPECT_NE(code_of(first), 106) << spender.dump();
    // The valid proof that follows has no nonce left.
    EXPECT_TRUE(IsError(conn.connect(alice.key, alice_, alice.code), Code::kUnexpectedCode))
        << "after " << first.dump();
  }
  // A 129 for a missing nonce counts as no attempt, nor does the proof above bound to no
  // nonce (it does not open): this wrong code is the first attempt, 4 left.
  conn.hello();
  EXPECT_EQ(conn.connect(alice.key, alice_, "abcdef").value("attempts_left", -1), 4);
}

TEST_F(SessionTest, ProofWithoutHelloNonceIs129AndNoAttempt) {
  Conn conn(*this, "peer");
  conn.hello();
  ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
  const KeyPair key = KeyPair::generate();
  ASSERT_EQ(conn.send_key(key, alice_, "abcdef").value("attempts_left", -1), 4);
  // The nonce is spent: another proof without HELLO is 129 and costs nothing.
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(IsError(conn.send_key(key, alice_, "abcdef"), Code::kUnexpectedCode));
  }
  conn.hello();
  EXPECT_EQ(conn.send_key(key, alice_, "abcdef").value("attempts_left", -1), 3);
}

}  // namespace
}  // namespace shido::server::test
