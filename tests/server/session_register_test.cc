// Registration in-process (protocol.md sections 5 to 7): 102 -> 115 with the code
// delivered, 103 -> 104, every error of the flow, the code rate limit, and code expiry on
// the fake clock (also with a code lifetime other than the protocol's, as --code-ttl sets).
#include "session_fixture.h"
#include "shido/crypto/digest.h"

namespace shido::server::test {
namespace {

TEST_F(SessionTest, RegistrationDeliversTheCodeThenLogsIn) {
  Conn conn(*this, "peer");
  conn.hello();
  const Json sent = conn.request_code(alice_, "alice@example.com");
  ASSERT_EQ(code_of(sent), 115);
  EXPECT_EQ(sent["expires_in"], 600);
  const std::string code = delivery_.last_code(alice_);
  ASSERT_EQ(code.size(), 6u);
  for (char c : code) EXPECT_TRUE(c >= '0' && c <= '9') << code;
  ASSERT_EQ(delivery_.fingerprints().size(), 1u);
  EXPECT_EQ(delivery_.fingerprints()[0], server_key_.public_key().fingerprint());
  EXPECT_EQ(delivery_.emails()[0], "alice@example.com");
  EXPECT_EQ(conn.session().phone(), "");

  const KeyPair key = KeyPair::generate();
  const Json done = conn.send_key(key, alice_, code);
  EXPECT_EQ(done, Json({{"code", 104}}));
  EXPECT_EQ(conn.session().phone(), alice_);

  auto user = store_->find_user(alice_).value();
  ASSERT_TRUE(user);
  EXPECT_EQ(user->public_key, key.public_key());
  EXPECT_EQ(user->email, "alice@example.com");
  // Only a salted hash of the code is kept.
  EXPECT_EQ(user->code_salt.size(), 16u);
  EXPECT_EQ(user->code_hash.size(), 32u);
  Bytes salted = user->code_salt;
  salted.insert(salted.end(), code.begin(), code.end());
  EXPECT_EQ(user->code_hash, sha256(salted));
  // Logged in: the communication flow is open.
  EXPECT_EQ(code_of(conn.one(CommunicationRequest{alice_}.to_json())), 111);
}

TEST_F(SessionTest, InvalidPhoneNumbersAre108) {
  Conn conn(*this, "peer");
  conn.hello();
  for (const char* phone :
       {"", "972501234567", "+0972501234567", "+1234567", "+1234567890123456", "+97250123456a",
        " +972501234567", "+972501234567\n", "++972501234567"}) {
    EXPECT_TRUE(IsError(conn.request_code(phone), Code::kInvalidPhoneNumber)) << phone;
  }
  // The shortest and longest E.164 numbers are fine.
  EXPECT_EQ(code_of(conn.request_code("+12345678")), 115);
  EXPECT_EQ(code_of(conn.request_code("+123456789012345")), 115);
  EXPECT_EQ(delivery_.count("+12345678"), 1u);
}

TEST_F(SessionTest, InvalidEmailsAre113AndAPhoneErrorAnswersFirst) {
  Conn conn(*this, "peer");
  conn.hello();
  for (const std::string& email : {std::string(""), std::string("alice"),
                                   std::string("alice@example"), std::string("a b@example.com"),
                                   std::string("@example.com"), std::string(250, 'a') + "@b.cd"}) {
    EXPECT_TRUE(IsError(conn.request_code(alice_, email), Code::kInvalidEmail)) << email;
  }
  EXPECT_TRUE(IsError(conn.request_code("bad", "bad"), Code::kInvalidPhoneNumber));
  EXPECT_EQ(delivery_.count(alice_), 0u);
}

TEST_F(SessionTest, MemberTypesAre124NamingTheMemberBeforeFormats) {
  Conn conn(*this, "peer");
  conn.hello();
  EXPECT_TRUE(IsError(conn.one(Json{{"code", 102}, {"phone_number", 15550000001}, {"email", "x"}}),
                      Code::kBadRequest, "phone_number"));
  EXPECT_TRUE(IsError(conn.one(Json{{"code", 102}, {"phone_number", "bad"}, {"email", nullptr}}),
                      Code::kBadRequest, "email"));
  EXPECT_TRUE(IsError(conn.one(Json{{"code", 102}, {"email", "a@example.com"}}), Code::kBadRequest,
                      "phone_number"));
}

TEST_F(SessionTest, RegisteredPhoneIs114) {
  register_account(alice_);
  Conn conn(*this, "peer");
  conn.hello();
  EXPECT_TRUE(IsError(conn.request_code(alice_), Code::kAlreadyRegistered));
}

TEST_F(SessionTest, ThreeCodesPerPhoneFromOneAddressInAnHourThen127WithRetryAfter) {
  Conn conn(*this, "192.0.2.1:40001");
  conn.hello();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
    time_.advance(seconds(10));
  }
  // From another connection of the same address too (the other limits, and other
  // addresses: session_code_limits_test.cc).
  Conn other(*this, "192.0.2.1:40002");
  other.hello();
  Json limited = other.request_code(alice_);
  ASSERT_TRUE(IsError(limited, Code::kRateLimited, "for this phone from your address"));
  EXPECT_EQ(limited["retry_after"], 3570);
  EXPECT_EQ(delivery_.count(alice_), 3u);

  time_.advance(std::chrono::milliseconds(3'569'500));
  limited = other.request_code(alice_);
  ASSERT_TRUE(IsError(limited, Code::kRateLimited));
  EXPECT_EQ(limited["retry_after"], 1);  // 0.5 s, rounded up
  time_.advance(std::chrono::milliseconds(500));
  EXPECT_EQ(code_of(other.request_code(alice_)), 115);
  // Other phones were never limited.
  EXPECT_EQ(code_of(other.request_code(bob_)), 115);
}

TEST_F(SessionTest, RateLimitAnswersBeforeAlreadyRegistered) {
  Conn conn(*this, "peer");
  conn.hello();
  ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
  ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
  ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
  const KeyPair key = KeyPair::generate();
  ASSERT_EQ(code_of(conn.send_key(key, alice_, delivery_.last_code(alice_))), 104);
  conn.hello();
  EXPECT_TRUE(IsError(conn.request_code(alice_), Code::kRateLimited));
}

TEST_F(SessionTest, DeliveryFailureIs100AndLeavesNothingPending) {
  Conn conn(*this, "peer");
  conn.hello();
  delivery_.fail = true;
  EXPECT_TRUE(IsError(conn.request_code(alice_), Code::kGeneralServerError));
  delivery_.fail = false;
  const KeyPair key = KeyPair::generate();
  EXPECT_TRUE(IsError(conn.send_key(key, alice_, "000000"), Code::kUnexpectedCode));
}

TEST_F(SessionTest, WrongCodesCountDownThenThePendingRegistrationIsDropped) {
  Conn conn(*this, "peer");
  const std::string code = request_code_on(conn, alice_);
  const std::string wrong = code == "000000" ? "000001" : "000000";
  const KeyPair key = KeyPair::generate();
  for (int left = 4; left >= 0; --left) {
    conn.hello();
    const Json reply = conn.send_key(key, alice_, wrong);
    ASSERT_TRUE(IsError(reply, Code::kInvalidSecretCode));
    EXPECT_EQ(reply["attempts_left"], left);
  }
  conn.hello();
  EXPECT_TRUE(IsError(conn.send_key(key, alice_, code), Code::kUnexpectedCode));
  EXPECT_FALSE(store_->find_user(alice_).value());
  EXPECT_EQ(conn.session().phone(), "");
}

TEST_F(SessionTest, TheRightCodeOnTheLastAttemptStillRegisters) {
  Conn conn(*this, "peer");
  const std::string code = request_code_on(conn, alice_);
  const KeyPair key = KeyPair::generate();
  for (int i = 0; i < 4; ++i) {
    conn.hello();
    ASSERT_TRUE(IsError(conn.send_key(key, alice_, "abcdef"), Code::kInvalidSecretCode));
  }
  conn.hello();
  EXPECT_EQ(code_of(conn.send_key(key, alice_, code)), 104);
}

TEST_F(SessionTest, RegisterProofsThatDoNotOpenAre109ButNoAttempt) {
  Conn conn(*this, "peer");
  const std::string code = request_code_on(conn, alice_);
  const KeyPair key = KeyPair::generate();
  const KeyPair other = KeyPair::generate();
  // None of these was made with the key sent, for this purpose and nonce: they say nothing
  // about the code (design section 10.2), so all five attempts remain.
  auto expect_109 = [&](const Json& reply, const char* what) {
    EXPECT_TRUE(IsError(reply, Code::kInvalidSecretCode)) << what;
    EXPECT_EQ(reply.value("attempts_left", -1), 5) << what;
  };

  // Sealed for the connect purpose.
  conn.hello();
  expect_109(conn.send_key(key, alice_, code, Purpose::kConnect), "connect purpose");
  // Sealed with another key than the one sent.
  const Bytes nonce = conn.hello();
  Json swapped = register_request(other, alice_, code, nonce);
  swapped["public_key"] = key.public_key().pem();
  expect_109(conn.one(swapped), "another key");
  // Bound to an old nonce.
  const Bytes old = conn.hello();
  conn.hello();
  expect_109(conn.one(register_request(key, alice_, code, old)), "old nonce");
  // Envelope members that are not base64 or have the wrong size.
  conn.hello();
  Json broken = register_request(key, alice_, code, conn.nonce());
  broken["mac"] = "not base64!";
  expect_109(conn.one(broken), "bad base64");
  // A wrong code sealed properly is an attempt.
  conn.hello();
  const std::string wrong = code == "000000" ? "000001" : "000000";
  EXPECT_EQ(conn.send_key(key, alice_, wrong).value("attempts_left", -1), 4);
  conn.hello();
  EXPECT_EQ(code_of(conn.send_key(key, alice_, code)), 104);
}

TEST_F(SessionTest, RegisterProofBoundToAnotherPhoneIs109) {
  Conn conn(*this, "peer");
  const std::string code = request_code_on(conn, alice_);
  const KeyPair key = KeyPair::generate();
  conn.hello();
  // The phone comes from the pending 102, so a proof made for bob does not open.
  const Json reply = conn.send_key(key, bob_, code);
  EXPECT_TRUE(IsError(reply, Code::kInvalidSecretCode));
  EXPECT_FALSE(store_->find_user(bob_).value());
}

TEST_F(SessionTest, SendPublicKeyWithoutPending102Is129) {
  Conn conn(*this, "peer");
  conn.hello();
  const KeyPair key = KeyPair::generate();
  EXPECT_TRUE(IsError(conn.send_key(key, alice_, "123456"), Code::kUnexpectedCode));
}

TEST_F(SessionTest, InvalidPublicKeysAre124) {
  Conn conn(*this, "peer");
  const std::string code = request_code_on(conn, alice_);
  const KeyPair key = KeyPair::generate();
  const std::string real = key.public_key().pem();
  for (const std::string& pem :
       {std::string("not a key"), std::string(kP384Pem), std::string(kCompressedP256Pem),
        std::string(""), real.substr(0, real.size() / 2), real + std::string(1100, ' ')}) {
    const Bytes nonce = conn.hello();
    Json request = register_request(key, alice_, code, nonce);
    request["public_key"] = pem;
    EXPECT_TRUE(IsError(conn.one(request), Code::kBadRequest, "public key")) << pem;
  }
  // Not attempts: the code is still good, with all five attempts.
  conn.hello();
  Json wrong = conn.send_key(key, alice_, "abcdef");
  EXPECT_EQ(wrong.value("attempts_left", -1), 4);
  conn.hello();
  EXPECT_EQ(code_of(conn.send_key(key, alice_, code)), 104);
}

TEST_F(SessionTest, SendPublicKeyMemberTypesAre124NamingTheMember) {
  Conn conn(*this, "peer");
  conn.hello();
  ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
  const KeyPair key = KeyPair::generate();
  for (const char* member : {"public_key", "salt", "iv_for_wrapped_key", "wrapped_aes_key",
                             "encrypted_secret_code", "iv_for_secret", "mac"}) {
    const Bytes nonce = conn.hello();
    Json request = register_request(key, alice_, "123456", nonce);
    request[member] = 42;
    EXPECT_TRUE(IsError(conn.one(request), Code::kBadRequest, member)) << member;
    request.erase(member);
    conn.hello();
    EXPECT_TRUE(IsError(conn.one(request), Code::kBadRequest, member)) << member;
  }
}

TEST_F(SessionTest, CodeExpiresAfterTenMinutes) {
  Conn conn(*this, "peer");
  const std::string code = request_code_on(conn, alice_);
  const KeyPair key = KeyPair::generate();
  time_.advance(seconds(600));
  conn.hello();
  EXPECT_TRUE(IsError(conn.send_key(key, alice_, code), Code::kUnexpectedCode));
  EXPECT_FALSE(store_->find_user(alice_).value());
}

TEST_F(SessionTest, CodeIsGoodJustBeforeItExpires) {
  Conn conn(*this, "peer");
  conn.hello();
  ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
  time_.advance(seconds(599));
  conn.hello();
  const KeyPair key = KeyPair::generate();
  EXPECT_EQ(code_of(conn.send_key(key, alice_, delivery_.last_code(alice_))), 104);
}

// --code-ttl sets context.code_ttl. The e2e test sees the option reach 115's expires_in;
// this is what the same value does to the code, on the fake clock.
TEST_F(SessionTest, ACodeLifetimeOtherThanTheProtocolsIsAnnouncedAndEndsTheCode) {
  context_.code_ttl = seconds(1);  // as with --code-ttl 1
  Conn conn(*this, "peer");
  conn.hello();
  const Json sent = conn.request_code(alice_);
  ASSERT_EQ(code_of(sent), 115);
  EXPECT_EQ(sent["expires_in"], 1);
  const std::string expired = delivery_.last_code(alice_);
  const KeyPair key = KeyPair::generate();
  time_.advance(seconds(1));
  conn.hello();
  EXPECT_TRUE(IsError(conn.send_key(key, alice_, expired), Code::kUnexpectedCode));
  // A new code works, up to its last millisecond.
  ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
  time_.advance(std::chrono::milliseconds(999));
  conn.hello();
  EXPECT_EQ(code_of(conn.send_key(key, alice_, delivery_.last_code(alice_))), 104);
}

TEST_F(SessionTest, ALater102ReplacesThePendingRegistration) {
  Conn conn(*this, "peer");
  const std::string first = request_code_on(conn, alice_);
  ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
  const std::string second = delivery_.last_code(alice_);
  ASSERT_NE(first, second);
  const KeyPair key = KeyPair::generate();
  conn.hello();
  EXPECT_TRUE(IsError(conn.send_key(key, alice_, first), Code::kInvalidSecretCode));
  // A 102 for another phone replaces it too.
  ASSERT_EQ(code_of(conn.request_code(bob_)), 115);
  conn.hello();
  EXPECT_TRUE(IsError(conn.send_key(key, alice_, second), Code::kInvalidSecretCode));
  conn.hello();
  EXPECT_EQ(code_of(conn.send_key(key, bob_, delivery_.last_code(bob_))), 104);
  EXPECT_EQ(conn.session().phone(), bob_);
  EXPECT_FALSE(store_->find_user(alice_).value());
}

TEST_F(SessionTest, ARefusedLater102KeepsThePendingRegistration) {
  // "An error never closes the connection ...; the session keeps its state": a 102 that
  // is refused (108, 113, 127, 114, 100) creates no code, so it replaces nothing.
  const Account carol = register_account(carol_);
  Conn exhaust(*this, "192.0.2.1:40001");
  exhaust.hello();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(code_of(exhaust.request_code(bob_)), 115);

  Conn conn(*this, "192.0.2.1:40002");  // the same address
  const std::string code = request_code_on(conn, alice_);
  ASSERT_TRUE(IsError(conn.request_code("+1", "a@example.com"), Code::kInvalidPhoneNumber));
  ASSERT_TRUE(IsError(conn.request_code(bob_, "bad"), Code::kInvalidEmail));
  ASSERT_TRUE(IsError(conn.request_code(bob_), Code::kRateLimited));
  ASSERT_TRUE(IsError(conn.request_code(carol_), Code::kAlreadyRegistered));
  delivery_.fail = true;
  ASSERT_TRUE(IsError(conn.request_code("+15550000009"), Code::kGeneralServerError));
  delivery_.fail = false;
  conn.hello();
  const KeyPair key = KeyPair::generate();
  EXPECT_EQ(code_of(conn.send_key(key, alice_, code)), 104);
  EXPECT_EQ(conn.session().phone(), alice_);
}

TEST_F(SessionTest, AnotherConnectionCannotSpendOrReplaceThePendingRegistration) {
  Conn first(*this, "first");
  const std::string code = request_code_on(first, alice_);
  const KeyPair key = KeyPair::generate();

  Conn second(*this, "second");
  second.hello();
  EXPECT_TRUE(IsError(second.send_key(key, alice_, code), Code::kUnexpectedCode));
  ASSERT_EQ(code_of(second.request_code(alice_)), 115);
  const std::string second_code = delivery_.last_code(alice_);

  // The first connection's code still works...
  first.hello();
  EXPECT_EQ(code_of(first.send_key(key, alice_, code)), 104);
  // ...and the second one, whose registration came later, gets 114 even with its own code.
  second.hello();
  EXPECT_TRUE(
      IsError(second.send_key(KeyPair::generate(), alice_, second_code), Code::kAlreadyRegistered));
  EXPECT_EQ(store_->find_user(alice_).value()->public_key, key.public_key());
  EXPECT_EQ(second.session().phone(), "");
}

TEST_F(SessionTest, AlreadyRegisteredAnswersBeforeTheCodeCheck) {
  Conn first(*this, "first");
  first.hello();
  ASSERT_EQ(code_of(first.request_code(alice_)), 115);
  Conn second(*this, "second");
  register_on(second, alice_);  // takes the second slot and registers
  first.hello();
  EXPECT_TRUE(
      IsError(first.send_key(KeyPair::generate(), alice_, "wrong!"), Code::kAlreadyRegistered));
}

TEST_F(SessionTest, GeneralClientErrorDropsThePendingRegistration) {
  Conn conn(*this, "peer");
  conn.hello();
  ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
  EXPECT_TRUE(conn.call(GeneralClientError{"the user gave up"}.to_json()).empty());
  conn.hello();
  EXPECT_TRUE(IsError(conn.send_key(KeyPair::generate(), alice_, delivery_.last_code(alice_)),
                      Code::kUnexpectedCode));
}

TEST_F(SessionTest, RegisteringWhileLoggedInSwitchesToTheNewAccount) {
  Conn conn(*this, "peer");
  register_on(conn, alice_);
  register_on(conn, bob_);
  EXPECT_EQ(conn.session().phone(), bob_);
  EXPECT_TRUE(store_->find_user(alice_).value());
}

}  // namespace
}  // namespace shido::server::test
