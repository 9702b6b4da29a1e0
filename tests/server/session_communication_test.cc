// Communication in-process (protocol.md section 5): 203 -> 111 with the recipient's key,
// 110 -> 118 storing a message that reaches only its recipient intact, the envelope's
// shape, and the guard against sender-key substitution.
#include "session_fixture.h"

namespace shido::server::test {
namespace {

TEST_F(SessionTest, LoggedInOnlyRequestsAre123BeforeLogin) {
  Conn conn(*this, "peer");
  conn.hello();
  const Account dummy{alice_, KeyPair::generate(), ""};
  for (const Json& request :
       {CommunicationRequest{bob_}.to_json(), message_request(dummy, dummy, "x"),
        CheckWaitingMessages{}.to_json(), AckMessages{{}}.to_json(),
        // The state check answers before member types.
        Json{{"code", 202}, {"max", "lots"}}, Json{{"code", 120}}}) {
    EXPECT_TRUE(IsError(conn.one(request), Code::kNotAuthenticated)) << request.dump();
  }
}

TEST_F(SessionTest, CommunicationRequestGivesTheRecipientsRegisteredKey) {
  const Account alice = register_account(alice_);
  const Account bob = register_account(bob_);
  auto conn = logged_in(alice);
  const Json reply = conn->one(CommunicationRequest{bob_}.to_json());
  ASSERT_EQ(code_of(reply), 111);
  EXPECT_EQ(reply["recipients_phone_number"], bob_);
  EXPECT_EQ(reply["public_key"], bob.key.public_key().pem());
  EXPECT_TRUE(
      IsError(conn->one(CommunicationRequest{"0501234567"}.to_json()), Code::kInvalidPhoneNumber));
  EXPECT_TRUE(IsError(conn->one(CommunicationRequest{carol_}.to_json()), Code::kUserNotFound));
  EXPECT_TRUE(IsError(conn->one(Json{{"code", 203}, {"recipients_phone_number", 5}}),
                      Code::kBadRequest, "recipients_phone_number"));
  EXPECT_TRUE(
      IsError(conn->one(Json{{"code", 203}}), Code::kBadRequest, "recipients_phone_number"));
}

TEST_F(SessionTest, SentMessageReachesOnlyTheRecipientIntact) {
  const Account alice = register_account(alice_);
  const Account bob = register_account(bob_);
  const Account carol = register_account(carol_);
  auto conn = logged_in(alice);
  const Envelope envelope = message_envelope(alice, bob, "hello bob, שלום");
  const Json stored = conn->one(SendMessage{bob_, to_wire(envelope), std::nullopt}.to_json());
  ASSERT_EQ(code_of(stored), 118);
  const std::string id = stored["message_id"];
  EXPECT_FALSE(id.empty());
  EXPECT_LE(id.size(), 64u);

  EXPECT_EQ(fetched_by(carol), std::vector<Json>{Json({{"code", 112}, {"count", 0}})});

  const auto replies = fetched_by(bob);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0], Json({{"code", 112}, {"count", 1}}));
  auto waiting = WaitingMessage::from_json(replies[1]);
  ASSERT_TRUE(waiting.ok()) << replies[1].dump();
  EXPECT_EQ(waiting.value().message_id, id);
  EXPECT_EQ(waiting.value().senders_phone_number, alice_);
  EXPECT_EQ(waiting.value().senders_public_key, alice.key.public_key().pem());
  EXPECT_EQ(waiting.value().stored_at, FakeTime::kStartUnixMs);
  EXPECT_EQ(waiting.value().remaining_messages, 0);
  EXPECT_EQ(waiting.value().envelope, to_wire(envelope));
  auto received = from_wire(waiting.value().envelope, EnvelopeKind::kMessage);
  ASSERT_TRUE(received.ok());
  auto text = open_text_message(bob.key, bob_, alice.key.public_key(), alice_, received.value());
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text.value().body, "hello bob, שלום");
}

TEST_F(SessionTest, SendingToOneselfIsAllowed) {
  Conn conn(*this, "peer");
  const Account alice = register_on(conn, alice_);
  ASSERT_EQ(code_of(conn.one(message_request(alice, alice, "note to self"))), 118);
  const auto replies = conn.call(CheckWaitingMessages{}.to_json());
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[1]["senders_phone_number"], alice_);
}

TEST_F(SessionTest, SendMessageToInvalidOrUnknownRecipient) {
  Conn conn(*this, "peer");
  const Account alice = register_on(conn, alice_);
  Json request = message_request(alice, alice, "x");
  request["recipients_phone_number"] = "+0123";
  EXPECT_TRUE(IsError(conn.one(request), Code::kInvalidPhoneNumber));
  request["recipients_phone_number"] = bob_;
  EXPECT_TRUE(IsError(conn.one(request), Code::kUserNotFound));
  request["recipients_phone_number"] = 5;
  EXPECT_TRUE(IsError(conn.one(request), Code::kBadRequest, "recipients_phone_number"));
}

TEST_F(SessionTest, EnvelopeShapeIsChecked124NamingTheMember) {
  Conn conn(*this, "peer");
  const Account alice = register_on(conn, alice_);
  const Json good = message_request(alice, alice, "x");
  struct Case {
    const char* member;
    Json value;
  };
  const std::vector<Case> cases = {
      {"salt", base64_encode(Bytes(15, 1))},
      {"salt", base64_encode(Bytes(17, 1))},
      {"salt", "AAAA AAAA"},
      {"iv_for_wrapped_key", base64_encode(Bytes(32, 1))},
      {"wrapped_aes_key", base64_encode(Bytes(32, 1))},
      {"wrapped_aes_key", base64_encode(Bytes(64, 1))},
      {"iv_for_message", "AAAAAAAAAAAAAAAAAAAAAA"},  // 16 bytes without its padding
      {"encrypted_message", ""},
      {"encrypted_message", base64_encode(Bytes(17, 1))},
      {"encrypted_message", base64_encode(Bytes(kMaxCiphertextSize + 16, 1))},
      {"encrypted_message", "@@@@"},
      {"mac", base64_encode(Bytes(31, 1))},
      {"mac", base64_encode(Bytes(32, 1)) + "="},
      {"mac", 32},
      {"iv_for_message", nullptr},
  };
  for (const Case& c : cases) {
    Json request = good;
    request[c.member] = c.value;
    EXPECT_TRUE(IsError(conn.one(request), Code::kBadRequest, c.member))
        << c.member << " " << c.value;
  }
  for (const char* member : {"salt", "iv_for_wrapped_key", "wrapped_aes_key", "iv_for_message",
                             "encrypted_message", "mac"}) {
    Json request = good;
    request.erase(member);
    EXPECT_TRUE(IsError(conn.one(request), Code::kBadRequest, member)) << member;
  }
  // The secret-code names do not stand in for the message ones.
  Json renamed = good;
  renamed["encrypted_secret_code"] = renamed["encrypted_message"];
  renamed.erase("encrypted_message");
  EXPECT_TRUE(IsError(conn.one(renamed), Code::kBadRequest, "encrypted_message"));
  EXPECT_EQ(store_->waiting(alice_), 0u);
}

TEST_F(SessionTest, LargestCiphertextIsStored) {
  Conn conn(*this, "peer");
  const Account alice = register_on(conn, alice_);
  Json request = message_request(alice, alice, "x");
  request["encrypted_message"] = base64_encode(Bytes(kMaxCiphertextSize, 7));
  EXPECT_EQ(code_of(conn.one(request)), 118);
}

TEST_F(SessionTest, SenderPublicKeyMustBeTheSendersOwn) {
  const Account alice = register_account(alice_);
  const Account bob = register_account(bob_);
  auto conn = logged_in(alice);
  const Json plain = message_request(alice, bob, "hi");

  Json own = plain;
  own["sender_public_key"] = alice.key.public_key().pem();
  EXPECT_EQ(code_of(conn->one(own)), 118);

  // Substitution: naming bob's (or any other) key as the sender's is refused.
  for (const Json& key :
       {Json(bob.key.public_key().pem()), Json(KeyPair::generate().public_key().pem()),
        Json("garbage"), Json(kCompressedP256Pem)}) {
    Json substituted = plain;
    substituted["sender_public_key"] = key;
    EXPECT_TRUE(IsError(conn->one(substituted), Code::kBadRequest, "sender_public_key")) << key;
  }
  Json typed = plain;
  typed["sender_public_key"] = 7;
  EXPECT_TRUE(IsError(conn->one(typed), Code::kBadRequest, "sender_public_key"));

  // Only the one with her own key was stored, and it carries her registered key.
  const auto replies = fetched_by(bob);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[1]["senders_public_key"], alice.key.public_key().pem());
}

}  // namespace
}  // namespace shido::server::test
