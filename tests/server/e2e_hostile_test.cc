// Hostile input against the real server: random bytes, deep nesting, truncated frames and
// malformed JSON. Bad input never kills the server nor another user's session: after each
// attack a normal client registers and exchanges a message, and a session that was
// logged in before the attack still works.
#include <random>
#include <thread>

#include "e2e_util.h"

namespace shido::e2e {
namespace {

class HostileTest : public E2eTest {
 protected:
  virtual std::vector<std::string> server_args() const { return {}; }

  void SetUp() override {
    start(server_args());
    bystander_client_ = std::make_unique<ProtocolClient>(connect_to(server()));
    bystander_ = register_user(server(), *bystander_client_, phone_number(1));
  }

  // A new user registers and sends a message to the bystander, whose session from before
  // the attack receives and opens it.
  void expect_server_still_serves() {
    ProtocolClient client = connect_to(server());
    const User user = register_user(server(), client, phone_number(100 + next_user_++));
    const PublicKey key = must(client.recipient_key(bystander_.phone), "recipient_key");
    const std::string id =
        must(client.send_envelope(bystander_.phone,
                                  seal_text(user, bystander_.phone, key, "still here")),
             "send_envelope");
    const auto messages = must(bystander_client_->fetch(10, 0), "the bystander's fetch");
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].message_id, id);
    EXPECT_EQ(open_body(bystander_, messages[0]), "still here");
    EXPECT_EQ(must(bystander_client_->ack({id}), "ack").deleted, 1);
  }

  std::unique_ptr<ProtocolClient> bystander_client_;
  User bystander_;
  int next_user_ = 0;
};

TEST_F(HostileTest, HundredConnectionsOfRandomBytes) {
  std::mt19937 random(0x5eed);
  std::vector<std::string> garbage;
  for (int i = 0; i < 100; ++i) {
    std::string bytes(std::uniform_int_distribution<std::size_t>(1, 4096)(random), '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    // Every fourth one has a plausible length, so the bytes reach the JSON parser.
    if (i % 4 == 0) bytes = frame_header(static_cast<std::uint32_t>(bytes.size())) + bytes;
    garbage.push_back(std::move(bytes));
  }
  // Four attackers at once, 25 connections each.
  std::atomic<int> closed{0};
  std::vector<std::thread> attackers;
  for (int t = 0; t < 4; ++t) {
    attackers.emplace_back([&, t] {
      for (int i = t; i < 100; i += 4) {
        UniqueFd fd = raw_connect(server());
        send_raw(fd.get(), garbage[static_cast<std::size_t>(i)]);
        ::shutdown(fd.get(), SHUT_WR);
        // Whatever the server answered, it ends the connection once we stop sending.
        if (drain_until_closed(fd.get())) closed += 1;
      }
    });
  }
  for (auto& attacker : attackers) attacker.join();
  EXPECT_EQ(closed.load(), 100);
  expect_server_still_serves();
}

// The JSON parser against a mebibyte of hostile text: frames that large are allowed before
// login here (by default they are refused from 16 KiB on, before any parsing).
class HostileMebibyteTest : public HostileTest {
 protected:
  std::vector<std::string> server_args() const override {
    return {"--max-prelogin-frame", "1048576"};
  }
};

TEST_F(HostileMebibyteTest, MebibyteOfOpenBracketsGets124AndTheConnectionStaysUsable) {
  UniqueFd fd = raw_connect(server());
  auto reply = exchange(fd.get(), encode_frame(std::string(1048576, '[')));
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 124);
  EXPECT_TRUE(has_description(*reply));
  reply = exchange(fd.get(), encode_frame(dump_json(Hello{}.to_json())));
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 101);
  expect_server_still_serves();
}

TEST_F(HostileMebibyteTest, MebibyteNestedArrayInsideARequestGets124) {
  // A whole, well-formed JSON text of exactly 1 MiB: an object whose member nests deep.
  const std::string head = R"({"code":200,"protocol":1,"a":)";
  const std::size_t depth = (1048576 - head.size() - 1) / 2;
  std::string text = head + std::string(depth, '[') + std::string(depth, ']');
  text += std::string(1048576 - 1 - text.size(), ' ') + "}";
  ASSERT_EQ(text.size(), 1048576u);
  UniqueFd fd = raw_connect(server());
  auto reply = exchange(fd.get(), encode_frame(text));
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 124);
  reply = exchange(fd.get(), encode_frame(dump_json(Hello{}.to_json())));
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 101);
  expect_server_still_serves();
}

TEST_F(HostileTest, FiveThousandErrorReportsWriteAFewLogLinesAndSaySoNotFiveThousand) {
  UniqueFd fd = raw_connect(server());
  std::string frames;
  append_frame(frames, dump_json(Hello{}.to_json()));
  for (int i = 0; i < 5000; ++i)
    append_frame(frames, dump_json(GeneralClientError{"flood " + std::to_string(i)}.to_json()));
  append_frame(frames, dump_json(Json{{"code", 100}}));  // not a client code: 129
  const auto reply = exchange(fd.get(), frames);         // the 101
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 101);
  ASSERT_TRUE(read_reply(fd.get()));  // the 129: every report was handled
  fd.reset();                         // the connection ends: the summary is written
  (void)test::eventually(
      [&] { return server().log().find("were suppressed") != std::string::npos; });
  const std::string log = server().log();
  std::size_t reports = 0;
  for (auto at = log.find("client reported an error"); at != std::string::npos;
       at = log.find("client reported an error", at + 1))
    ++reports;
  EXPECT_GE(reports, 20u);
  EXPECT_LE(reports, 40u) << "one connection flooded the log";
  EXPECT_NE(log.find("log lines of this connection were suppressed"), std::string::npos) << log;
  expect_server_still_serves();
}

TEST_F(HostileTest, NestingOf32IsAllowedAnd33Is124) {
  auto nested = [](int depth) {
    // The object counts as 1; each array adds one.
    return R"({"code":200,"protocol":1,"a":)" +
           std::string(static_cast<std::size_t>(depth - 1), '[') +
           std::string(static_cast<std::size_t>(depth - 1), ']') + "}";
  };
  UniqueFd fd = raw_connect(server());
  send_raw(fd.get(), encode_frame(nested(32)) + encode_frame(nested(33)));
  auto first = read_reply(fd.get());
  auto second = read_reply(fd.get());
  ASSERT_TRUE(first && second);
  EXPECT_EQ(code_of(*first), 101);
  EXPECT_EQ(code_of(*second), 124);
}

constexpr char kWithNul[] = "{\"code\":200,\0\"protocol\":1}";

TEST_F(HostileTest, UnparsableFramesGet124AndKeepTheConnection) {
  const std::vector<std::string> payloads = {
      std::string("\xff\xfe{\"code\":200}"),               // not UTF-8
      "{\"code\":200,\"protocol\":1,\"s\":\"\xc0\xaf\"}",  // overlong UTF-8 in a string
      "not json at all",
      R"({"code":200,"protocol":1)",  // cut short
      R"([200])",                     // not an object
      R"("code")",
      R"(200)",
      R"({})",  // no code
      R"({"code":"200","protocol":1})",
      R"({"code":200.0,"protocol":1})",
      R"({"code":2e2,"protocol":1})",
      R"({"code":true})",
      R"({"code":null})",
      R"({"code":1e400})",
      R"({"code":200,"protocol":1,"s":"\ud800"})",  // a lone surrogate escape
      std::string(kWithNul, sizeof kWithNul - 1),   // a NUL between members
      R"({"code":200,"protocol":1} trailing)",
  };
  UniqueFd fd = raw_connect(server());
  std::string burst;
  for (const std::string& payload : payloads) burst += encode_frame(payload);
  send_raw(fd.get(), burst);
  for (const std::string& payload : payloads) {
    const auto reply = read_reply(fd.get());
    ASSERT_TRUE(reply) << payload;
    EXPECT_EQ(code_of(*reply), 124) << payload;
    EXPECT_TRUE(has_description(*reply)) << payload;
  }
  const auto reply = exchange(fd.get(), encode_frame(dump_json(Hello{}.to_json())));
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 101);
}

TEST_F(HostileTest, TruncatedFramesThenTheServerStillServes) {
  const std::vector<std::string> cuts = {
      std::string("\0", 1),  // inside the header
      std::string("\0\0\0", 3),
      frame_header(100) + R"({"code":200,)",                          // inside the payload
      frame_header(1048576) + "[",                                    // a big frame, barely begun
      encode_frame(dump_json(Hello{}.to_json())) + frame_header(50),  // after a whole frame
  };
  for (const std::string& cut : cuts) {
    UniqueFd fd = raw_connect(server());
    send_raw(fd.get(), cut);
    ::shutdown(fd.get(), SHUT_WR);
    EXPECT_TRUE(drain_until_closed(fd.get())) << cut.size();
  }
  // The same with an abrupt close (a reset) from the client side.
  for (const std::string& cut : cuts) {
    UniqueFd fd = raw_connect(server());
    send_raw(fd.get(), cut);
    const linger reset{1, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
  expect_server_still_serves();
}

TEST_F(HostileTest, ClientThatVanishesMidLongPollDoesNotDisturbOthers) {
  {
    ProtocolClient poller = login(server(), bystander_);
    ASSERT_TRUE(poller.send(CheckWaitingMessages{10, 60}.to_json()).ok());
    ProtocolClient other = connect_to(server());
    must(other.hello(), "hello");  // a round trip while the poll is pending
  }                                // both vanish, the poll still waiting on the server
  expect_server_still_serves();
}

}  // namespace
}  // namespace shido::e2e
