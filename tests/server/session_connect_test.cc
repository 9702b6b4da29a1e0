// Connect in-process (protocol.md sections 5 and 6): 201 -> 106, its errors, replayed proofs,
// and the lockout after five failures with its expiry and doubling on the fake clock (also
// with a first lock other than the protocol's, as --lock-base sets).
#include "session_fixture.h"

namespace shido::server::test {
namespace {

TEST_F(SessionTest, ConnectWithTheCodeLogsIn) {
  const Account alice = register_account(alice_);
  Conn conn(*this, "peer");
  conn.hello();
  EXPECT_EQ(code_of(conn.one(CommunicationRequest{alice_}.to_json())), 123);
  const Json reply = conn.connect(alice.key, alice_, alice.code);
  EXPECT_EQ(reply, Json({{"code", 106}}));
  EXPECT_EQ(conn.session().phone(), alice_);
  EXPECT_EQ(code_of(conn.one(CommunicationRequest{alice_}.to_json())), 111);
}

TEST_F(SessionTest, ConnectToInvalidOrUnknownPhone) {
  const Account alice = register_account(alice_);
  Conn conn(*this, "peer");
  conn.hello();
  EXPECT_TRUE(IsError(conn.connect(alice.key, "12345", alice.code), Code::kInvalidPhoneNumber));
  conn.hello();
  EXPECT_TRUE(IsError(conn.connect(alice.key, bob_, alice.code), Code::kUserNotFound));
}

TEST_F(SessionTest, ConnectMemberTypesAre124) {
  const Account alice = register_account(alice_);
  Conn conn(*this, "peer");
  for (const char* member : {"phone_number", "salt", "iv_for_wrapped_key", "wrapped_aes_key",
                             "encrypted_secret_code", "iv_for_secret", "mac"}) {
    const Bytes nonce = conn.hello();
    Json request = connect_request(alice.key, alice_, alice.code, nonce);
    request[member] = Json::array();
    EXPECT_TRUE(IsError(conn.one(request), Code::kBadRequest, member)) << member;
  }
  // A type error beats a bad phone format.
  conn.hello();
  EXPECT_TRUE(IsError(conn.one(Json{{"code", 201}, {"phone_number", "bad"}, {"salt", 5}}),
                      Code::kBadRequest, "salt"));
  // None of those was an attempt.
  conn.hello();
  EXPECT_EQ(conn.connect(alice.key, alice_, "abcdef").value("attempts_left", -1), 4);
}

TEST_F(SessionTest, AWrongCodeCountsAnEnvelopeThatDoesNotOpenIsAnsweredAlikeButDoesNot) {
  const Account alice = register_account(alice_);
  const std::string wrong = alice.code == "000000" ? "000001" : "000000";
  Conn conn(*this, "peer");
  std::vector<Json> failures;
  Bytes nonce = conn.hello();
  failures.push_back(connect_request(alice.key, alice_, wrong, nonce));
  // The proofs below are built for the nonce of the HELLO that precedes each.
  auto fresh = [&](auto make) {
    nonce = conn.hello();
    return conn.one(make(nonce));
  };
  const Json wrong_reply = conn.one(failures[0]);
  EXPECT_EQ(wrong_reply.value("attempts_left", -1), 4);
  // Another key (an attacker who knows the code but not the private key): 109, still 4.
  EXPECT_EQ(fresh([&](const Bytes& n) {
              return connect_request(KeyPair::generate(), alice_, alice.code, n);
            }).value("attempts_left", -1),
            4);
  // The register purpose instead of connect.
  EXPECT_EQ(fresh([&](const Bytes& n) {
              return connect_request(alice.key, alice_, alice.code, n, Purpose::kRegister);
            }).value("attempts_left", -1),
            4);
  // A flipped MAC byte.
  const Json tampered = fresh([&](const Bytes& n) {
    Json request = connect_request(alice.key, alice_, alice.code, n);
    Bytes mac = base64_decode(request["mac"].get<std::string>()).value();
    mac[0] ^= 1;
    request["mac"] = base64_encode(mac);
    return request;
  });
  EXPECT_TRUE(IsError(tampered, Code::kInvalidSecretCode));
  EXPECT_EQ(tampered.value("attempts_left", -1), 4);
  // A member of the wrong length: the same answer, no oracle.
  const Json short_salt = fresh([&](const Bytes& n) {
    Json request = connect_request(alice.key, alice_, alice.code, n);
    request["salt"] = base64_encode(Bytes(15, 0));
    return request;
  });
  EXPECT_TRUE(IsError(short_salt, Code::kInvalidSecretCode));
  EXPECT_EQ(short_salt.value("attempts_left", -1), 4);
  // The same answer as a wrong code: nothing tells the two apart but the count.
  EXPECT_EQ(tampered["error_description"], short_salt["error_description"]);
  EXPECT_EQ(tampered["error_description"], wrong_reply["error_description"]);
  EXPECT_EQ(conn.session().phone(), "");
  // The next wrong code counts again.
  conn.hello();
  EXPECT_EQ(conn.connect(alice.key, alice_, wrong).value("attempts_left", -1), 3);
}

TEST_F(SessionTest, ProofsThatNeedNoSecretNeverLockAnAccount) {
  // Anyone can send a 201 with all-zero envelope members for any phone; before design
  // section 10.2, five of them locked the account.
  const Account alice = register_account(alice_);
  Conn attacker(*this, "attacker");
  for (int i = 0; i < 20; ++i) {
    const Bytes nonce = attacker.hello();
    Json zeros = connect_request(alice.key, alice_, alice.code, nonce);
    for (auto& [name, member] : zeros.items()) {
      if (name == "code" || name == "phone_number") continue;
      member = base64_encode(Bytes(base64_decode(member.get<std::string>()).value().size(), 0));
    }
    const Json reply = attacker.one(zeros);
    ASSERT_TRUE(IsError(reply, Code::kInvalidSecretCode)) << reply.dump();
    ASSERT_EQ(reply.value("attempts_left", -1), 5) << "attempt " << i;
  }
  Conn owner(*this, "owner");
  owner.hello();
  EXPECT_EQ(code_of(owner.connect(alice.key, alice_, alice.code)), 106);
}

TEST_F(SessionTest, ReplayedConnectProofFails) {
  const Account alice = register_account(alice_);
  Conn conn(*this, "victim");
  const Bytes nonce = conn.hello();
  const Json proof = connect_request(alice.key, alice_, alice.code, nonce);
  ASSERT_EQ(code_of(conn.one(proof)), 106);

  // Again on the same connection: the nonce is spent.
  EXPECT_TRUE(IsError(conn.one(proof), Code::kUnexpectedCode));
  // After a new HELLO: bound to the old nonce, so it does not open.
  conn.hello();
  EXPECT_TRUE(IsError(conn.one(proof), Code::kInvalidSecretCode));
  // On another connection (an attacker who recorded it).
  Conn attacker(*this, "attacker");
  attacker.hello();
  const Json replayed = attacker.one(proof);
  EXPECT_TRUE(IsError(replayed, Code::kInvalidSecretCode));
  EXPECT_EQ(attacker.session().phone(), "");
  EXPECT_TRUE(
      IsError(attacker.one(CommunicationRequest{alice_}.to_json()), Code::kNotAuthenticated));
}

TEST_F(SessionTest, FiveFailuresLockTheAccountWith107UntilTheLockExpires) {
  const Account alice = register_account(alice_);
  Conn conn(*this, "peer");
  for (int left = 4; left >= 0; --left) {
    conn.hello();
    const Json reply = conn.connect(alice.key, alice_, "abcdef");
    ASSERT_TRUE(IsError(reply, Code::kInvalidSecretCode));
    ASSERT_EQ(reply["attempts_left"], left);
  }
  // Locked: even the right proof gets 107 with retry_after.
  conn.hello();
  Json locked = conn.connect(alice.key, alice_, alice.code);
  ASSERT_TRUE(IsError(locked, Code::kConnectRequestNotAccepted));
  EXPECT_EQ(locked["retry_after"], 60);
  EXPECT_FALSE(locked.contains("attempts_left"));
  EXPECT_EQ(conn.session().phone(), "");

  time_.advance(std::chrono::milliseconds(30'200));
  conn.hello();
  locked = conn.connect(alice.key, alice_, alice.code);
  ASSERT_TRUE(IsError(locked, Code::kConnectRequestNotAccepted));
  EXPECT_EQ(locked["retry_after"], 30);  // 29.8 s rounded up

  // Other accounts are not locked.
  const Account bob = register_account(bob_);
  EXPECT_NE(logged_in(bob), nullptr);

  time_.advance(std::chrono::milliseconds(29'800));
  conn.hello();
  EXPECT_EQ(code_of(conn.connect(alice.key, alice_, alice.code)), 106);
}

TEST_F(SessionTest, LocksDoubleAndASuccessResetsThem) {
  const Account alice = register_account(alice_);
  Conn conn(*this, "peer");
  fail_to_connect(conn, alice);
  EXPECT_EQ(locked_retry_after(conn, alice), 60);
  time_.advance(seconds(60));
  fail_to_connect(conn, alice);
  EXPECT_EQ(locked_retry_after(conn, alice), 120);
  time_.advance(seconds(120));
  // The count restarted with the lock: four failures and then the right code gets in.
  fail_to_connect(conn, alice, 4);
  conn.hello();
  ASSERT_EQ(code_of(conn.connect(alice.key, alice_, alice.code)), 106);
  // The success reset the lock number: the next lock is 60 s again.
  fail_to_connect(conn, alice);
  EXPECT_EQ(locked_retry_after(conn, alice), 60);
}

// A store made as --lock-base 1 makes it: the first lock lasts 1 s instead of 60.
class ShortLockSessionTest : public SessionTest {
 protected:
  static Limits one_second_locks() {
    Limits limits;
    limits.lock_base = seconds(1);
    return limits;
  }
  ShortLockSessionTest() : SessionTest(one_second_locks()) {}
};

// The e2e tests see --lock-base reach the first lock's retry_after; this is what the base
// does on the fake clock: the lock ends after it, a success resets the lock number, and
// lock number 1 lasts twice the base.
TEST_F(ShortLockSessionTest, LocksFollowTheLockBase) {
  const Account alice = register_account(alice_);
  Conn conn(*this, "peer");
  fail_to_connect(conn, alice);
  EXPECT_EQ(locked_retry_after(conn, alice), 1);
  time_.advance(std::chrono::milliseconds(999));
  EXPECT_EQ(locked_retry_after(conn, alice), 1);  // 1 ms rounded up
  time_.advance(std::chrono::milliseconds(1));
  conn.hello();
  ASSERT_EQ(code_of(conn.connect(alice.key, alice_, alice.code)), 106);

  // The success reset the lock number: five new failures lock for the base again.
  Conn attacker(*this, "attacker");
  fail_to_connect(attacker, alice);
  EXPECT_EQ(locked_retry_after(attacker, alice), 1);
  // The connection logged in before is not affected by the lock.
  EXPECT_EQ(code_of(conn.one(CommunicationRequest{alice_}.to_json())), 111);
  // Lock number 1 lasts twice the base.
  time_.advance(seconds(1));
  fail_to_connect(attacker, alice);
  EXPECT_EQ(locked_retry_after(attacker, alice), 2);
}

TEST_F(SessionTest, CheckOrderAroundTheLock) {
  const Account alice = register_account(alice_);
  Conn conn(*this, "peer");
  fail_to_connect(conn, alice);
  // A bad phone format answers before the nonce and the lock.
  EXPECT_TRUE(IsError(conn.connect(alice.key, "123", alice.code), Code::kInvalidPhoneNumber));
  // The missing nonce before the lock.
  EXPECT_TRUE(IsError(conn.connect(alice.key, alice_, alice.code), Code::kUnexpectedCode));
  // A 201 for phone whose envelope is broken beyond opening.
  auto broken_proof_for = [](const std::string& phone) {
    return Json{{"code", 201},           {"phone_number", phone},
                {"salt", "!"},           {"iv_for_wrapped_key", ""},
                {"wrapped_aes_key", ""}, {"encrypted_secret_code", ""},
                {"iv_for_secret", ""},   {"mac", ""}};
  };
  // The lock before the envelope.
  conn.hello();
  EXPECT_TRUE(IsError(conn.one(broken_proof_for(alice_)), Code::kConnectRequestNotAccepted));
  // An unknown account before the envelope.
  conn.hello();
  EXPECT_TRUE(IsError(conn.one(broken_proof_for(bob_)), Code::kUserNotFound));
}

TEST_F(SessionTest, AFailedConnectKeepsTheOldLogin) {
  const Account alice = register_account(alice_);
  const Account bob = register_account(bob_);
  auto conn = logged_in(alice);
  conn->hello();
  EXPECT_TRUE(IsError(conn->connect(bob.key, bob_, "abcdef"), Code::kInvalidSecretCode));
  EXPECT_EQ(conn->session().phone(), alice_);
  conn->hello();
  EXPECT_TRUE(IsError(conn->connect(alice.key, carol_, alice.code), Code::kUserNotFound));
  EXPECT_EQ(conn->session().phone(), alice_);
  // Still alice: her messages go out from her.
  ASSERT_EQ(code_of(conn->one(message_request(alice, bob, "still me"))), 118);
  const auto replies = fetched_by(bob);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[1]["senders_phone_number"], alice_);
}

TEST_F(SessionTest, ConnectingWhileLoggedInSwitchesAccounts) {
  const Account alice = register_account(alice_);
  const Account bob = register_account(bob_);
  auto conn = logged_in(alice);
  conn->hello();
  ASSERT_EQ(code_of(conn->connect(bob.key, bob_, bob.code)), 106);
  EXPECT_EQ(conn->session().phone(), bob_);
  ASSERT_EQ(code_of(conn->one(message_request(bob, alice, "from bob"))), 118);
  const auto replies = fetched_by(alice);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[1]["senders_phone_number"], bob_);
  EXPECT_EQ(replies[1]["senders_public_key"], bob.key.public_key().pem());
}

}  // namespace
}  // namespace shido::server::test
