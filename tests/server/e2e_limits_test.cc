// The limits and time-outs of docs/PROTOCOL.md section 6 against the real server: frame size
// (125 then close), frame and idle time-outs (closed without a reply) and the connection
// cap (128 then close). Full mailboxes are in e2e_mailbox_test.cc.

#include "e2e_util.h"

namespace shido::e2e {
namespace {

class LimitsTest : public E2eTest {};

// A HELLO padded with spaces to exactly `size` bytes of JSON.
std::string hello_of_size(std::size_t size) {
  std::string text = R"({"code":200,"protocol":1})";
  text.insert(text.size() - 1, size - text.size(), ' ');
  return text;
}

TEST_F(LimitsTest, ZeroLengthFrameGets125ThenClose) {
  start({"--max-frame", "2048"});
  UniqueFd fd = raw_connect(server());
  const auto reply = exchange(fd.get(), frame_header(0));
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 125);
  EXPECT_TRUE(has_description(*reply));
  EXPECT_EQ(wait_for_close(fd.get()), Closed::kYes);
}

TEST_F(LimitsTest, OversizedFramesGet125ThenClose) {
  start({"--max-frame", "2048"});
  for (std::uint32_t length : {2049u, 1u << 20, 0xffffffffu}) {
    UniqueFd fd = raw_connect(server());
    // The payload is never read: the length alone is refused.
    const auto reply = exchange(fd.get(), frame_header(length) + hello_of_size(100));
    ASSERT_TRUE(reply) << length;
    EXPECT_EQ(code_of(*reply), 125) << length;
    EXPECT_EQ(wait_for_close(fd.get()), Closed::kYes) << length;
  }
  // Even logged in, the connection is closed; and the server serves others afterwards.
  ProtocolClient client = connect_to(server());
  register_user(server(), client, phone_number(1));
  send_raw(client, frame_header(4096));
  EXPECT_EQ(code_of(must(client.receive(), "receive")), 125);
  EXPECT_EQ(wait_for_close(client), Closed::kYes);
  ProtocolClient other = connect_to(server());
  EXPECT_TRUE(other.hello().ok());
}

TEST_F(LimitsTest, FrameOfExactlyTheLimitIsServed) {
  start({"--max-frame", "2048"});
  UniqueFd fd = raw_connect(server());
  const auto reply = exchange(fd.get(), encode_frame(hello_of_size(2048)));
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 101);
}

TEST_F(LimitsTest, DefaultLimitIsOneMebibyte) {
  start({"--max-prelogin-frame", "1048576"});  // the limit of logged-in connections
  UniqueFd fd = raw_connect(server());
  auto reply = exchange(fd.get(), encode_frame(hello_of_size(1048576)));
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 101);
  reply = exchange(fd.get(), frame_header(1048577));
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 125);
  EXPECT_EQ(wait_for_close(fd.get()), Closed::kYes);
}

TEST_F(LimitsTest, BeforeLoginFramesAreLimitedTo16KiB) {
  start();
  UniqueFd fd = raw_connect(server());
  auto reply = exchange(fd.get(), encode_frame(hello_of_size(16384)));
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 101);
  // One byte more is refused on its header alone: nothing of it is held.
  reply = exchange(fd.get(), frame_header(16385));
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 125);
  EXPECT_EQ(wait_for_close(fd.get()), Closed::kYes);

  // Logged in, the connection may send up to --max-frame (1 MiB).
  ProtocolClient client = connect_to(server());
  (void)register_user(server(), client, phone_number(1));
  std::string fetch = R"({"code":202,"max":1,"wait_seconds":0})";
  fetch.insert(fetch.size() - 1, 100000, ' ');
  ASSERT_EQ(fetch.size(), 100037u);
  ASSERT_TRUE(client.send_bytes(encode_frame(fetch)).ok());
  auto waiting = client.receive();
  ASSERT_TRUE(waiting.ok());
  EXPECT_EQ(code_of(waiting.value()), 112);
}

TEST_F(LimitsTest, FrameThatStallsIsClosedWithoutReply) {
  start({"--frame-timeout", "1", "--idle-timeout", "60"});
  // A client that is merely quiet (between frames) is not closed by the frame time-out. It
  // went quiet before the two below started their frames, so by the time they are closed a
  // frame time-out that wrongly applied to it would have closed it too: the order shows it,
  // with no waiting for something not to happen.
  ProtocolClient quiet = connect_to(server());
  must(quiet.hello(), "hello");
  UniqueFd in_header = raw_connect(server());
  UniqueFd in_payload = raw_connect(server());
  send_raw(in_header.get(), std::string("\0\0", 2));
  send_raw(in_payload.get(), frame_header(100) + R"({"code":200,)");
  EXPECT_EQ(wait_for_close(in_header.get()), Closed::kYes);
  EXPECT_EQ(wait_for_close(in_payload.get()), Closed::kYes);
  EXPECT_EQ(wait_for_close(quiet.fd(), std::chrono::milliseconds(0)), Closed::kNo);
  EXPECT_TRUE(quiet.hello().ok());
  const std::string log = stop_server();
  EXPECT_NE(log.find("did not arrive whole"), std::string::npos) << log;
}

TEST_F(LimitsTest, IdleConnectionIsClosedWithoutReply) {
  start({"--idle-timeout", "1"});
  UniqueFd silent = raw_connect(server());
  ProtocolClient greeted = connect_to(server());
  must(greeted.hello(), "hello");
  EXPECT_EQ(wait_for_close(silent.get()), Closed::kYes);
  EXPECT_EQ(wait_for_close(greeted.fd()), Closed::kYes);
  const std::string log = stop_server();
  EXPECT_NE(log.find("no frame started"), std::string::npos) << log;
}

TEST_F(LimitsTest, LongPollOutlastsTheIdleTimeout) {
  start({"--idle-timeout", "1"});
  ProtocolClient client = connect_to(server());
  register_user(server(), client, phone_number(2));
  // The server is busy answering, not idle, while the poll waits 2 s.
  auto polled = client.fetch(10, 2);
  ASSERT_TRUE(polled.ok()) << polled.error().message;
  EXPECT_TRUE(polled.value().empty());
}

TEST_F(LimitsTest, ConnectionsBeyondTheCapGet128ThenClose) {
  start({"--max-connections", "3"});
  std::vector<ProtocolClient> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(connect_to(server()));
    must(clients.back().hello(), "hello");  // the server has taken it on
  }
  UniqueFd refused = raw_connect(server());
  const auto reply = read_reply(refused.get());
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 128);
  EXPECT_TRUE(has_description(*reply));
  EXPECT_EQ(wait_for_close(refused.get()), Closed::kYes);
  // The three are still served.
  for (auto& client : clients) EXPECT_TRUE(client.hello().ok());

  // Once one leaves, a new connection is accepted (as soon as the server has noticed).
  clients.front().bye();
  EXPECT_EQ(wait_for_close(clients.front().fd()), Closed::kYes);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int answer = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    UniqueFd fd = raw_connect(server());
    const auto first = exchange(fd.get(), encode_frame(dump_json(Hello{}.to_json())));
    answer = first ? code_of(*first) : -1;
    if (answer != 128) break;
  }
  EXPECT_EQ(answer, 101);
}

}  // namespace
}  // namespace shido::e2e
