// Communication and waiting messages against the real server over TCP: 203 -> 111,
// 110 -> 118, 202 -> 112 + 119s, 120 -> 121; acknowledgement and redelivery across
// connections, long-poll, sender-key substitution and pipelining.
#include <future>
#include <latch>

#include "e2e_util.h"
#include "shido/base64.h"

namespace shido::e2e {
namespace {

class MessagingTest : public E2eTest {
 protected:
  void SetUp() override {
    start();
    alice_ = register_new_user(server(), 1).user;
    bob_ = register_new_user(server(), 2).user;
  }

  std::string send_text(ProtocolClient& client, const User& from, const User& to,
                        const std::string& body) {
    const PublicKey key = must(client.recipient_key(to.phone), "recipient_key");
    return must(client.send_envelope(to.phone, seal_text(from, to.phone, key, body)),
                "send_envelope");
  }

  User alice_;
  User bob_;
};

// The wall clock in Unix milliseconds, as the server stamps stored_at.
std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST_F(MessagingTest, MessageArrivesIntactAndIsDeletedWhenAcknowledged) {
  ProtocolClient alice = login(server(), alice_);
  const PublicKey bob_key = must(alice.recipient_key(bob_.phone), "recipient_key");
  EXPECT_EQ(bob_key, bob_.key.public_key());
  const std::string body = "Hello Bob — שלום 👋";
  const std::int64_t before_sending = unix_ms_now();
  const std::string id =
      must(alice.send_envelope(bob_.phone, seal_text(alice_, bob_.phone, bob_key, body)),
           "send_envelope");
  EXPECT_FALSE(id.empty());
  EXPECT_LE(id.size(), 64u);

  ProtocolClient bob = login(server(), bob_);
  auto messages = must(bob.fetch(100, 0), "fetch");
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].message_id, id);
  EXPECT_EQ(messages[0].senders_phone_number, alice_.phone);
  EXPECT_EQ(PublicKey::from_pem(messages[0].senders_public_key).value(), alice_.key.public_key());
  EXPECT_EQ(messages[0].remaining_messages, 0);
  // Stamped in Unix milliseconds while it was stored: between sending and fetching.
  EXPECT_GE(messages[0].stored_at, before_sending);
  EXPECT_LE(messages[0].stored_at, unix_ms_now());
  EXPECT_EQ(open_body(bob_, messages[0]), body);

  const AckOk ack = must(bob.ack({id}), "ack");
  EXPECT_EQ(ack.deleted, 1);
  EXPECT_EQ(ack.waiting, 0);
  EXPECT_TRUE(must(bob.fetch(100, 0), "fetch").empty());
  // Alice's mailbox never saw it.
  EXPECT_TRUE(must(alice.fetch(100, 0), "fetch").empty());
}

TEST_F(MessagingTest, UnacknowledgedMessagesComeAgainOnTheNextConnection) {
  ProtocolClient alice = login(server(), alice_);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(send_text(alice, alice_, bob_, "message " + std::to_string(i)));

  std::vector<std::string> first_ids;
  {
    ProtocolClient bob = login(server(), bob_);
    const auto messages = must(bob.fetch(100, 0), "fetch");
    for (const auto& message : messages) first_ids.push_back(message.message_id);
    // The connection drops without an acknowledgement (no BYE either).
  }
  EXPECT_EQ(first_ids, ids);

  ProtocolClient bob = login(server(), bob_);
  auto messages = must(bob.fetch(2, 0), "fetch");
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].message_id, ids[0]);
  EXPECT_EQ(messages[1].message_id, ids[1]);
  EXPECT_EQ(messages[0].remaining_messages, 1);
  EXPECT_EQ(open_body(bob_, messages[1]), "message 1");
  // Acknowledge one, with an unknown id and one of alice's ids, which are ignored.
  const std::string alices = send_text(alice, alice_, alice_, "note to self");
  const AckOk ack = must(bob.ack({ids[1], "unknown", alices}), "ack");
  EXPECT_EQ(ack.deleted, 1);
  EXPECT_EQ(ack.waiting, 2);

  ProtocolClient third = login(server(), bob_);
  messages = must(third.fetch(100, 0), "fetch");
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].message_id, ids[0]);
  EXPECT_EQ(messages[1].message_id, ids[2]);
  EXPECT_EQ(must(third.ack({ids[0], ids[2]}), "ack").waiting, 0);
  EXPECT_EQ(must(alice.fetch(100, 0), "fetch").size(), 1u);
}

TEST_F(MessagingTest, AckAndFetchInOneWriteAcknowledgesFirst) {
  ProtocolClient alice = login(server(), alice_);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(send_text(alice, alice_, bob_, "message " + std::to_string(i)));
  ProtocolClient bob = login(server(), bob_);
  const auto first = must(bob.fetch(2, 0), "fetch");
  ASSERT_EQ(first.size(), 2u);
  // 120 and 202 travel together; the server answers the ack before it looks for messages.
  const auto rest =
      must(bob.ack_and_fetch({first[0].message_id, first[1].message_id}, 10, 0), "ack_and_fetch");
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].message_id, ids[2]);
  EXPECT_EQ(rest[0].remaining_messages, 0);
  EXPECT_EQ(open_body(bob_, rest[0]), "message 2");
  // The last one was fetched, not acknowledged: it comes again.
  const auto again = must(bob.fetch(10, 0), "fetch");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].message_id, ids[2]);
}

TEST_F(MessagingTest, AckAndFetchGetsTheAckAnswerBeforeALongPollEnds) {
  // The 121 must leave the server before the pipelined 202 starts waiting, not after. The
  // order proves it, not a clock: the 121 is read, only then is a message sent, and the
  // long-poll's 112 brings that message, so the poll was still waiting when the 121 came.
  ProtocolClient alice = login(server(), alice_);
  const std::string id = send_text(alice, alice_, bob_, "first");
  ProtocolClient bob = login(server(), bob_);
  ASSERT_EQ(must(bob.fetch(10, 0), "fetch").size(), 1u);
  // Both requests in one write, as ProtocolClient::ack_and_fetch sends them.
  send_raw(bob, encode_frame(dump_json(AckMessages{{id}}.to_json())) +
                    encode_frame(dump_json(CheckWaitingMessages{10, 60}.to_json())));
  const Json acked = must(bob.receive(), "the 121 while the poll waits");
  EXPECT_EQ(code_of(acked), 121);
  EXPECT_EQ(acked.value("deleted", -1), 1);

  const std::string second = send_text(alice, alice_, bob_, "second");
  const Json polled = must(bob.receive(std::chrono::seconds(60)), "the long-poll's 112");
  ASSERT_EQ(code_of(polled), 112);
  ASSERT_EQ(polled.value("count", -1), 1) << "the poll ended before the message was sent";
  const Json message = must(bob.receive(), "the 119");
  EXPECT_EQ(message.value("message_id", ""), second);
}

TEST_F(MessagingTest, ARefusedAckStillReadsTheFetchAnswer) {
  // Not logged in: both requests get 123. The call fails, and the connection stays in step.
  ProtocolClient stranger = connect_to(server());
  must(stranger.hello(), "hello");
  auto result = stranger.ack_and_fetch({"0123"}, 10, 0);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().server_code, Code::kNotAuthenticated);
  EXPECT_FALSE(stranger.fetch(10, 0).ok());  // its own 123, not the stale one
  EXPECT_TRUE(stranger.hello().ok());        // and the next reply is a 101
}

TEST_F(MessagingTest, LongPollReturnsWhenAnotherClientSends) {
  // The reply must come within this bound; the poll itself asks for 60 s.
  ProtocolClient bob = login(server(), bob_, std::chrono::seconds(20));
  ProtocolClient alice = login(server(), alice_);
  const PublicKey bob_key = must(alice.recipient_key(bob_.phone), "recipient_key");
  ASSERT_TRUE(bob.send(CheckWaitingMessages{10, 60}.to_json()).ok());
  // Whether the poll is already waiting or not, the message must come back to it.
  const std::string id =
      must(alice.send_envelope(bob_.phone, seal_text(alice_, bob_.phone, bob_key, "ring")),
           "send_envelope");
  const Json approved = must(bob.receive(), "the long-poll's reply");
  ASSERT_EQ(code_of(approved), 112) << approved;
  ASSERT_EQ(approved["count"], 1);
  auto waiting = WaitingMessage::from_json(must(bob.receive(), "119"));
  ASSERT_TRUE(waiting.ok());
  EXPECT_EQ(waiting.value().message_id, id);
  EXPECT_EQ(open_body(bob_, waiting.value()), "ring");
}

TEST_F(MessagingTest, LongPollStartedFirstIsWokenBySend) {
  ProtocolClient bob = login(server(), bob_, std::chrono::seconds(20));
  ProtocolClient alice = login(server(), alice_);
  const PublicKey bob_key = must(alice.recipient_key(bob_.phone), "recipient_key");
  std::latch polling(1);
  auto polled = std::async(std::launch::async, [&] {
    auto sent = bob.send(CheckWaitingMessages{10, 60}.to_json());
    polling.count_down();
    if (!sent.ok()) throw std::runtime_error("send failed");
    // A 20 s reply timeout: a poll that is not woken fails here instead of in 60 s.
    auto reply = must(bob.receive(), "the long-poll's reply");
    std::vector<WaitingMessage> messages;
    for (int i = 0; i < reply.value("count", 0); ++i) {
      auto message = WaitingMessage::from_json(must(bob.receive(), "119"));
      if (!message.ok()) throw std::runtime_error("bad 119: " + message.error().message);
      messages.push_back(std::move(message).value());
    }
    return messages;
  });
  polling.wait();
  // A round trip on another connection gives the server time to start the poll.
  must(alice.fetch(1, 0), "fetch");
  must(alice.send_envelope(bob_.phone, seal_text(alice_, bob_.phone, bob_key, "wake up")), "send");
  const auto messages = polled.get();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(open_body(bob_, messages[0]), "wake up");
}

TEST_F(MessagingTest, LongPollOnAnEmptyMailboxEndsWithNothing) {
  ProtocolClient bob = login(server(), bob_);
  EXPECT_TRUE(must(bob.fetch(10, 1), "fetch").empty());
  // The connection is fine afterwards.
  EXPECT_TRUE(bob.fetch(10, 0).ok());
}

TEST_F(MessagingTest, SenderKeySubstitutionIs124) {
  ProtocolClient alice = login(server(), alice_);
  const Envelope envelope =
      seal_text(alice_, bob_.phone, bob_.key.public_key(), "claimed to be bob");
  SendMessage request{bob_.phone, to_wire(envelope), bob_.key.public_key().pem()};
  ASSERT_TRUE(alice.send(request.to_json()).ok());
  const Json reply = must(alice.receive(), "receive");
  EXPECT_EQ(code_of(reply), 124);
  EXPECT_NE(reply.value("error_description", "").find("sender_public_key"), std::string::npos)
      << reply;

  // Naming her own key is fine, and the stored sender key is the registered one.
  request.sender_public_key = alice_.key.public_key().pem();
  ASSERT_TRUE(alice.send(request.to_json()).ok());
  EXPECT_EQ(code_of(must(alice.receive(), "receive")), 118);
  ProtocolClient bob = login(server(), bob_);
  const auto messages = must(bob.fetch(10, 0), "fetch");
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].senders_public_key, alice_.key.public_key().pem());
}

TEST_F(MessagingTest, CommunicationNeedsALogin) {
  ProtocolClient client = connect_to(server());
  must(client.hello(), "hello");
  EXPECT_EQ(refused_code(client.recipient_key(bob_.phone)), 123);
  EXPECT_EQ(refused_code(client.send_envelope(
                bob_.phone, seal_text(alice_, bob_.phone, bob_.key.public_key(), "x"))),
            123);
  EXPECT_EQ(refused_code(client.fetch(10, 0)), 123);
  EXPECT_EQ(refused_code(client.ack({"x"})), 123);
}

TEST_F(MessagingTest, UnknownAndInvalidRecipients) {
  ProtocolClient alice = login(server(), alice_);
  EXPECT_EQ(refused_code(alice.recipient_key(phone_number(77))), 131);
  EXPECT_EQ(refused_code(alice.recipient_key("+1")), 108);
  const Envelope envelope = seal_text(alice_, bob_.phone, bob_.key.public_key(), "x");
  EXPECT_EQ(refused_code(alice.send_envelope(phone_number(77), envelope)), 131);
  EXPECT_EQ(refused_code(alice.send_envelope("555", envelope)), 108);
  // A broken envelope: 124.
  Json request = SendMessage{bob_.phone, to_wire(envelope), std::nullopt}.to_json();
  request["mac"] = base64_encode(Bytes(31, 0));
  ASSERT_TRUE(alice.send(request).ok());
  EXPECT_EQ(code_of(must(alice.receive(), "receive")), 124);
  // Fetch ranges: 124.
  ASSERT_TRUE(alice.send(Json{{"code", 202}, {"max", 501}}).ok());
  EXPECT_EQ(code_of(must(alice.receive(), "receive")), 124);
  ASSERT_TRUE(alice.send(Json{{"code", 202}, {"wait_seconds", 61}}).ok());
  EXPECT_EQ(code_of(must(alice.receive(), "receive")), 124);
}

TEST_F(MessagingTest, LargestMessagesTravel) {
  ProtocolClient alice = login(server(), alice_);
  // The longest body a client may send, through the real envelope.
  const std::string body(kMaxBodySize, 'x');
  const std::string id = send_text(alice, alice_, bob_, body);
  // The longest ciphertext the server accepts (it cannot check the MAC).
  Envelope biggest = seal_text(alice_, bob_.phone, bob_.key.public_key(), "y");
  biggest.ciphertext.assign(kMaxCiphertextSize, 0x5a);
  must(alice.send_envelope(bob_.phone, biggest), "the largest ciphertext");
  biggest.ciphertext.resize(kMaxCiphertextSize + 16, 0x5a);
  EXPECT_EQ(refused_code(alice.send_envelope(bob_.phone, biggest)), 124);

  ProtocolClient bob = login(server(), bob_);
  const auto messages = must(bob.fetch(10, 0), "fetch");
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].message_id, id);
  EXPECT_EQ(open_body(bob_, messages[0]), body);
  EXPECT_EQ(base64_decode(messages[1].envelope.ciphertext).value().size(), kMaxCiphertextSize);
}

TEST_F(MessagingTest, PipelinedRequestsAreAnsweredInOrder) {
  ProtocolClient alice = login(server(), alice_);
  const Envelope envelope = seal_text(alice_, bob_.phone, bob_.key.public_key(), "pipelined");
  std::string burst;
  const std::vector<Json> requests = {
      CommunicationRequest{bob_.phone}.to_json(),
      SendMessage{bob_.phone, to_wire(envelope), std::nullopt}.to_json(),
      Json{{"code", 999}},
      CommunicationRequest{phone_number(77)}.to_json(),
      SendMessage{alice_.phone, to_wire(envelope), std::nullopt}.to_json(),
      CheckWaitingMessages{10, 0}.to_json(),
  };
  for (const Json& request : requests) burst += encode_frame(dump_json(request));
  send_raw(alice, burst);
  std::vector<int> codes;
  for (int i = 0; i < 7; ++i) codes.push_back(code_of(must(alice.receive(), "receive")));
  // The note to herself is the one message in alice's mailbox: 112 with count 1, one 119.
  EXPECT_EQ(codes, (std::vector<int>{111, 118, 129, 131, 118, 112, 119}));
}

TEST_F(MessagingTest, SendingToOneselfIsAllowed) {
  ProtocolClient alice = login(server(), alice_);
  send_text(alice, alice_, alice_, "memo");
  const auto messages = must(alice.fetch(10, 0), "fetch");
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(open_body(alice_, messages[0]), "memo");
}

}  // namespace
}  // namespace shido::e2e
