// What one address can hold of a server that has not seen it log in (design section 10.4),
// against the real server: a cap per address on connections that have not logged in,
// refusals that never hold up accepting, a login deadline, idle time counted from the last
// complete frame, and a server-wide bound on the bytes of frames still arriving.

#include <fstream>
#include <iterator>
#include <thread>

#include "e2e_util.h"

namespace shido::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class ConnectionLimitsTest : public E2eTest {
 protected:
  ProtocolClient connect_from(const std::string& address, milliseconds timeout = seconds(30)) {
    return must(ProtocolClient::over(raw_connect_from(address, server()), timeout), "connect");
  }
};

std::string hello_frame() { return encode_frame(dump_json(Hello{}.to_json())); }

TEST_F(ConnectionLimitsTest, OneAddressHoldsItsShareOfUnauthenticatedSlotsAndOthersStillLogIn) {
  start({"--max-unauthenticated-per-address", "3"});
  const User alice = [&] {
    ProtocolClient client = connect_from("127.0.0.2");
    return register_user(server(), client, phone_number(1));
  }();

  std::vector<ProtocolClient> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(connect_from("127.0.0.1"));
    must(held.back().hello(), "hello");  // the server has taken it on
  }
  UniqueFd refused = raw_connect_from("127.0.0.1", server());
  const auto reply = read_reply(refused.get());
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 128);
  EXPECT_NE(reply->value("error_description", "").find("your address"), std::string::npos);
  EXPECT_EQ(wait_for_close(refused.get()), Closed::kYes);

  // Another address is not affected.
  ProtocolClient other = connect_from("127.0.0.2");
  const Greeting greeting = must(other.hello(), "hello");
  EXPECT_TRUE(other.login(alice.key, greeting, alice.phone, as_bytes(alice.code)).ok());

  // A connection that logs in gives its slot back at once.
  const Greeting held_greeting = must(held.front().hello(), "hello");
  (void)must(held.front().login(alice.key, held_greeting, alice.phone, as_bytes(alice.code)),
             "login");
  UniqueFd accepted = raw_connect_from("127.0.0.1", server());
  const auto answer = exchange(accepted.get(), hello_frame());
  ASSERT_TRUE(answer);
  EXPECT_EQ(code_of(*answer), 101);
}

TEST_F(ConnectionLimitsTest, RefusalsNeverHoldUpAccepting) {
  start({"--max-unauthenticated-per-address", "1"});
  const User alice = [&] {
    ProtocolClient client = connect_from("127.0.0.2");
    return register_user(server(), client, phone_number(1));
  }();
  UniqueFd holder = raw_connect_from("127.0.0.1", server());
  ASSERT_TRUE(exchange(holder.get(), hello_frame()));
  // Refused connections that never read their 128 and never close: each used to hold the
  // accept loop for 200 ms, a minute for these 300.
  std::vector<UniqueFd> refused;
  for (int i = 0; i < 300; ++i) refused.push_back(raw_connect_from("127.0.0.1", server()));
  ProtocolClient other = connect_from("127.0.0.2", seconds(10));
  const Greeting greeting = must(other.hello(), "hello");
  EXPECT_TRUE(other.login(alice.key, greeting, alice.phone, as_bytes(alice.code)).ok());
  const auto reply = read_reply(refused.back().get());
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 128);
}

TEST_F(ConnectionLimitsTest, AConnectionMustLogInOrRegisterByTheDeadline) {
  start({"--login-deadline", "3"});
  const Registered alice = register_new_user(server(), 1);
  // Logged in, and with a registration pending: both may stay. They went quiet before the
  // two below, so by the time those are closed a deadline that wrongly applied to them
  // would have closed them too.
  ProtocolClient logged_in = login(server(), alice.user);
  ProtocolClient registering = connect_to(server());
  const Greeting greeting = must(registering.hello(), "hello");
  (void)must(registering.request_code(phone_number(2), "bob@example.com"), "request_code");

  UniqueFd silent = raw_connect(server());
  ProtocolClient chatty = connect_to(server());
  // Busy but never logging in: HELLO after HELLO does not extend the deadline.
  bool closed = false;
  for (int i = 0; i < 600 && !closed; ++i) {
    closed = !chatty.hello().ok();
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_TRUE(closed) << "still served after 60 s";
  EXPECT_EQ(wait_for_close(silent.get()), Closed::kYes);

  EXPECT_TRUE(logged_in.hello().ok());
  const auto code = server().read_code(phone_number(2));
  ASSERT_TRUE(code);
  KeyPair bob = KeyPair::generate();
  EXPECT_TRUE(registering.register_key(bob, greeting, phone_number(2), as_bytes(code->code)).ok());
  const std::string log = stop_server();
  EXPECT_NE(log.find("did not log in or start a registration in time"), std::string::npos) << log;
}

TEST_F(ConnectionLimitsTest, ARegistrationPendingOutlivesTheIdleTimeout) {
  start({"--idle-timeout", "1"});
  ProtocolClient registering = connect_to(server());
  const Greeting greeting = must(registering.hello(), "hello");
  (void)must(registering.request_code(phone_number(2), "bob@example.com"), "request_code");
  // Quiet since after the registering one went quiet: an idle time-out that applied to it
  // would have closed it first.
  ProtocolClient greeted = connect_to(server());
  must(greeted.hello(), "hello");
  EXPECT_EQ(wait_for_close(greeted.fd()), Closed::kYes);
  const auto code = server().read_code(phone_number(2));
  ASSERT_TRUE(code);
  KeyPair bob = KeyPair::generate();
  EXPECT_TRUE(registering.register_key(bob, greeting, phone_number(2), as_bytes(code->code)).ok());
}

TEST_F(ConnectionLimitsTest, IdleTimeCountsFromTheLastCompleteFrame) {
  start({"--idle-timeout", "1", "--frame-timeout", "600"});
  UniqueFd trickler = raw_connect(server());
  const std::string frame = hello_frame();
  // A byte every 300 ms: the frame would be whole after about 8 s, each byte well within
  // the idle time-out of the one before.
  std::size_t sent = 0;
  for (; sent < frame.size(); ++sent) {
    if (::send(trickler.get(), frame.data() + sent, 1, MSG_NOSIGNAL) != 1) break;
    if (wait_for_close(trickler.get(), milliseconds(300)) != Closed::kNo) break;
  }
  EXPECT_LT(sent, frame.size() - 1) << "the trickle kept the connection until its frame was whole";
  EXPECT_EQ(wait_for_close(trickler.get()), Closed::kYes) << "closed without a reply";
}

TEST_F(ConnectionLimitsTest, FramesStillArrivingShareOneServerWideBudget) {
  start({"--max-prelogin-frame", "1048576", "--max-pending-frame-bytes", "1048576"});
  const std::size_t big = 700000;
  const std::string big_header = frame_header(static_cast<std::uint32_t>(big)) + "{";
  UniqueFd first = raw_connect(server());
  send_raw(first.get(), big_header);
  // Once the first's thread has read its header, a second such frame gets 128. Until then
  // the second may take the budget itself: it is closed and tried again (and if that made
  // the first lose its place, the first starts over).
  std::optional<int> second_answer;
  for (int attempt = 0; attempt < 100 && second_answer != 128; ++attempt) {
    if (wait_for_close(first.get(), milliseconds(0)) != Closed::kNo) {
      first = raw_connect(server());
      send_raw(first.get(), big_header);
    }
    UniqueFd second = raw_connect(server());
    const auto refused = exchange(second.get(), big_header, milliseconds(500));
    second_answer = refused ? std::optional<int>(code_of(*refused)) : std::nullopt;
    if (second_answer == 128) {
      EXPECT_EQ(wait_for_close(second.get()), Closed::kYes);
    }
  }
  ASSERT_EQ(second_answer, 128);

  // Small frames still fit beside the first, and once it ends its share is given back.
  ProtocolClient small = connect_to(server());
  EXPECT_TRUE(small.hello().ok());
  first.reset();
  std::string padded = R"({"code":200,"protocol":1})";
  padded.insert(padded.size() - 1, big - padded.size(), ' ');
  int answer = -1;
  for (int attempt = 0; attempt < 100 && answer != 101; ++attempt) {
    UniqueFd again = raw_connect(server());
    const auto reply = exchange(again.get(), encode_frame(padded));
    answer = reply ? code_of(*reply) : -1;
    if (answer != 101) std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(answer, 101);
}

// An idle connection's thread keeps no cache of freed blocks (server/thread_caches.h): the
// server started itself again with glibc's thread caches off, as the same process.
TEST_F(ConnectionLimitsTest, TheServerRunsWithoutGlibcThreadCaches) {
  start();
  std::ifstream environ("/proc/" + std::to_string(server().pid()) + "/environ");
  std::string all((std::istreambuf_iterator<char>(environ)), std::istreambuf_iterator<char>());
  const bool off = all.find("GLIBC_TUNABLES=glibc.malloc.tcache_count=0") != std::string::npos;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  EXPECT_FALSE(off) << "under a sanitizer, whose malloc has no such caches, it runs as it is";
#else
  EXPECT_TRUE(off);
#endif
  ProtocolClient client = connect_to(server());
  EXPECT_TRUE(client.hello().ok());
}

}  // namespace
}  // namespace shido::e2e
