// Full mailboxes against the real server (docs/PROTOCOL.md section 6): 126 at 10,000 waiting
// messages and at 64 MiB of encrypted_message bytes, 126 when all mailboxes together hold
// --max-stored-bytes, and room again once acknowledged.
#include <map>

#include "e2e_util.h"

namespace shido::e2e {
namespace {

class MailboxTest : public E2eTest {};

// Sends `count` copies of frame on client, at most 64 unanswered at a time, reading the
// replies as they come (one thread: a TLS connection is not for two at once); returns how
// many of each code came back.
std::map<int, int> pipeline(ProtocolClient& client, const std::string& frame, int count) {
  constexpr int kWindow = 64;
  std::map<int, int> codes;
  int sent = 0;
  for (int received = 0; received < count; ++received) {
    std::string burst;
    for (; sent < count && sent - received < kWindow; ++sent) burst += frame;
    if (!burst.empty() && !client.send_bytes(burst).ok()) break;
    auto reply = client.receive();
    if (!reply.ok()) break;
    codes[code_of(reply.value())] += 1;
  }
  return codes;
}

TEST_F(MailboxTest, MailboxFullAtTenThousandMessages) {
  start({"--sender-share-messages", "10000"});  // one sender may fill it here
  auto [alice, sender] = register_new_user(server(), 3);
  auto [bob, recipient] = register_new_user(server(), 4);
  const Envelope envelope = seal_text(sender, recipient.phone, recipient.key.public_key(), "spam");
  const std::string frame = encode_frame(
      dump_json(SendMessage{recipient.phone, to_wire(envelope), std::nullopt}.to_json()));
  auto codes = pipeline(alice, frame, 10001);
  EXPECT_EQ(codes[118], 10000);
  EXPECT_EQ(codes[126], 1);
  // Full for everyone; the sender's own mailbox is not.
  EXPECT_EQ(refused_code(bob.send_envelope(recipient.phone, envelope)), 126);
  EXPECT_TRUE(alice.send_envelope(sender.phone, envelope).ok());
  // Acknowledging makes room for exactly one more.
  const auto oldest = must(bob.fetch(1, 0), "fetch");
  ASSERT_EQ(oldest.size(), 1u);
  EXPECT_EQ(must(bob.ack({oldest[0].message_id}), "ack").waiting, 9999);
  EXPECT_TRUE(alice.send_envelope(recipient.phone, envelope).ok());
  EXPECT_EQ(refused_code(alice.send_envelope(recipient.phone, envelope)), 126);
}

TEST_F(MailboxTest, MailboxFullAtSixtyFourMebibytes) {
  start({"--sender-share-bytes", "67108864"});  // one sender may fill it here
  auto [alice, sender] = register_new_user(server(), 5);
  auto [bob, recipient] = register_new_user(server(), 6);
  Envelope envelope = seal_text(sender, recipient.phone, recipient.key.public_key(), "x");
  envelope.ciphertext.assign(kMaxCiphertextSize, 0x42);  // 128 KiB: 512 fill 64 MiB exactly
  const std::string frame = encode_frame(
      dump_json(SendMessage{recipient.phone, to_wire(envelope), std::nullopt}.to_json()));
  auto codes = pipeline(alice, frame, 513);
  EXPECT_EQ(codes[118], 512);
  EXPECT_EQ(codes[126], 1);
  // A smaller message does not fit either: the bytes are full, not the count.
  envelope.ciphertext.assign(16, 0x42);
  EXPECT_EQ(refused_code(alice.send_envelope(recipient.phone, envelope)), 126);
}

TEST_F(MailboxTest, OneSenderFloodingAMailboxLeavesRoomForEveryoneElse) {
  start();
  auto [alice, sender] = register_new_user(server(), 10);
  auto [bob, recipient] = register_new_user(server(), 11);
  auto [carol, other] = register_new_user(server(), 12);
  const Envelope envelope = seal_text(sender, recipient.phone, recipient.key.public_key(), "spam");
  const std::string frame = encode_frame(
      dump_json(SendMessage{recipient.phone, to_wire(envelope), std::nullopt}.to_json()));
  auto codes = pipeline(alice, frame, 1001);
  EXPECT_EQ(codes[118], 1000);
  EXPECT_EQ(codes[126], 1);
  auto refused = alice.send_envelope(recipient.phone, envelope);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().server_code, Code::kMailboxFull);
  EXPECT_NE(refused.error().message.find("share"), std::string::npos) << refused.error().message;
  // Bob's mailbox still takes Carol's message.
  EXPECT_TRUE(carol
                  .send_envelope(recipient.phone, seal_text(other, recipient.phone,
                                                            recipient.key.public_key(), "hi"))
                  .ok());
}

TEST_F(MailboxTest, TheServerWideLimitRefusesWith126AcrossMailboxes) {
  start({"--max-stored-bytes", "1048576", "--sender-share-of-store", "1"});
  auto [alice, sender] = register_new_user(server(), 7);
  auto [bob, first] = register_new_user(server(), 8);
  auto [carol, second] = register_new_user(server(), 9);
  auto big_to = [&from = sender](const User& to) {
    Envelope envelope = seal_text(from, to.phone, to.key.public_key(), "x");
    envelope.ciphertext.assign(kMaxCiphertextSize, 0x42);  // 128 KiB: 8 fill 1 MiB exactly
    return envelope;
  };
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(alice.send_envelope(first.phone, big_to(first)).ok());
    ASSERT_TRUE(alice.send_envelope(second.phone, big_to(second)).ok());
  }
  // Each mailbox holds 512 KiB, far below its own 64 MiB: the server's total is full.
  auto refused = alice.send_envelope(first.phone, big_to(first));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().server_code, Code::kMailboxFull);
  EXPECT_NE(refused.error().message.find("server"), std::string::npos) << refused.error().message;
  EXPECT_EQ(refused_code(alice.send_envelope(second.phone, big_to(second))), 126);
  // Acknowledging anywhere makes room everywhere.
  const auto oldest = must(carol.fetch(1, 0), "fetch");
  ASSERT_EQ(oldest.size(), 1u);
  must(carol.ack({oldest[0].message_id}), "ack");
  EXPECT_TRUE(alice.send_envelope(first.phone, big_to(first)).ok());
  EXPECT_NE(server().log().find("message store is full"), std::string::npos);
}

}  // namespace
}  // namespace shido::e2e
