// Two real shido-servers on one real Redis (--store redis://...): one community served by
// both. An account made on one logs in on the other, a message sent through one wakes a
// long-poll waiting on the other, locks and rate limits hold across them, a phone can be
// registered only once even through both at the same moment, and Redis crashing during
// traffic costs errors, never an acknowledged message (issue 16).
#include <unistd.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

#include "e2e_util.h"
#include "support/redis_server.h"

namespace shido::e2e {
namespace {

class RedisTest : public ::testing::Test {
 protected:
  explicit RedisTest(test::RedisServer::Options redis_options = {}) : redis_(redis_options) {
    // Both servers present one key: clients pin one server key for the whole deployment.
    if (Status saved = save_private_key(KeyPair::generate(), key_file()); !saved.ok())
      throw std::runtime_error(saved.error().message);
  }

  std::string key_file() const { return key_dir_.path() + "/server_key.pem"; }

  std::unique_ptr<ServerProcess> start_server(std::vector<std::string> extra_args = {}) {
    ServerProcess::Options options =
        server_options({"--store", redis_.url(), "--server-key", key_file()});
    options.extra_args.insert(options.extra_args.end(), extra_args.begin(), extra_args.end());
    options.outbox = outbox_.path();  // codes asked through either server land here
    return std::make_unique<ServerProcess>(std::move(options));
  }

  void start_both(const std::vector<std::string>& extra_args = {}) {
    a_ = start_server(extra_args);
    b_ = start_server(extra_args);
  }

  void TearDown() override {
    for (auto* server : {a_.get(), b_.get()}) {
      if (server == nullptr || !server->running()) continue;
      const test::ExitInfo exit = server->stop(SIGTERM);
      const std::string log = server->log();
      EXPECT_TRUE(exit.exited && exit.status == 0);
      if (HasFailure()) std::cerr << "---- server log ----\n" << log << "---- end ----\n";
    }
  }

  test::TempDir key_dir_{"shido-key"};
  test::TempDir outbox_{"shido-outbox"};
  test::RedisServer redis_;
  std::unique_ptr<ServerProcess> a_;
  std::unique_ptr<ServerProcess> b_;
};

std::string wrong_code(const User& user) { return user.code == "000000" ? "000001" : "000000"; }

TEST_F(RedisTest, AnAccountMadeOnOneServerLogsInOnTheOtherAndMessagesCrossOver) {
  start_both();
  EXPECT_EQ(a_->fingerprint(), b_->fingerprint());
  Registered alice = register_new_user(*a_, 1);
  const User bob = register_new_user(*b_, 2).user;
  ProtocolClient bob_on_b = login(*b_, bob);

  // Bob waits on B; Alice sends through A. The long-poll may wait 60 s: it must be woken by
  // the message well before (the 30 s below only guards against a hang).
  auto waiting =
      std::async(std::launch::async, [&] { return bob_on_b.fetch(10, kMaxWaitSeconds); });
  const PublicKey bob_key = must(alice.client.recipient_key(bob.phone), "recipient_key");
  EXPECT_EQ(bob_key, bob.key.public_key());
  const std::string id =
      must(alice.client.send_envelope(bob.phone, seal_text(alice.user, bob.phone, bob_key, "hi")),
           "send_envelope");
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(30)), std::future_status::ready)
      << "a message stored through A did not wake the long-poll on B";
  const auto messages = must(waiting.get(), "fetch");
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].message_id, id);
  EXPECT_EQ(open_body(bob, messages[0]), "hi");
  // Acknowledged on B, gone on A too.
  EXPECT_EQ(must(bob_on_b.ack({id}), "ack").deleted, 1);
  ProtocolClient bob_on_a = login(*a_, bob);
  EXPECT_TRUE(must(bob_on_a.fetch(10, 0), "fetch").empty());
}

TEST_F(RedisTest, ALockEarnedOnOneServerHoldsOnTheOther) {
  start_both({"--lock-base", "600"});
  const User alice = register_new_user(*a_, 3).user;
  for (int attempt = 0; attempt < 5; ++attempt) {
    ProtocolClient client = connect_to(*a_);
    const Greeting greeting = must(client.hello(), "hello");
    EXPECT_EQ(
        refused_code(client.login(alice.key, greeting, alice.phone, as_bytes(wrong_code(alice)))),
        109);
  }
  ProtocolClient on_b = connect_to(*b_);
  const Greeting greeting = must(on_b.hello(), "hello");
  const auto refused = on_b.login(alice.key, greeting, alice.phone, as_bytes(alice.code));
  EXPECT_EQ(refused_code(refused), 107);  // the right code, and still locked
}

TEST_F(RedisTest, OnePhoneRegisteredThroughBothAtOnceGetsExactlyOne104) {
  start_both();
  const std::string phone = phone_number(4);
  // A code for the phone on a connection to each server (the second code replaces the
  // first in the outbox, so each is read before the next is asked for).
  struct Pending {
    ProtocolClient client;
    Greeting greeting;
    std::string code;
    KeyPair key = KeyPair::generate();
  };
  const auto ask = [&](const ServerProcess& server) {
    ProtocolClient client = connect_to(server);
    Greeting greeting = must(client.hello(), "hello");
    (void)must(client.request_code(phone, "x@example.com"), "request_code");
    auto code = server.read_code(phone);
    if (!code) throw std::runtime_error("no code");
    return Pending{std::move(client), std::move(greeting), code->code};
  };
  Pending on_a = ask(*a_);
  Pending on_b = ask(*b_);
  const auto prove = [&phone](Pending& pending) {
    return pending.client.register_key(pending.key, pending.greeting, phone,
                                       as_bytes(pending.code));
  };
  auto through_a = std::async(std::launch::async, [&] { return prove(on_a); });
  auto through_b = std::async(std::launch::async, [&] { return prove(on_b); });
  const auto result_a = through_a.get();
  const auto result_b = through_b.get();
  EXPECT_EQ(result_a.ok() + result_b.ok(), 1);
  EXPECT_EQ(std::max(refused_code(result_a), refused_code(result_b)), 114);
}

TEST_F(RedisTest, RateLimitsAreSharedByTheServers) {
  start_both({"--codes-per-phone-per-address", "2"});
  const std::string phone = phone_number(5);
  for (const ServerProcess* server : {a_.get(), b_.get()}) {
    ProtocolClient client = connect_to(*server);
    (void)must(client.hello(), "hello");
    (void)must(client.request_code(phone, "x@example.com"), "request_code");
  }
  ProtocolClient client = connect_to(*a_);
  (void)must(client.hello(), "hello");
  EXPECT_EQ(refused_code(client.request_code(phone, "x@example.com")), 127);
}

class RedisCrashTest : public RedisTest {
 protected:
  RedisCrashTest() : RedisTest(test::RedisServer::Options{.append_only = true}) {}
};

// Redis is killed (SIGKILL) in the middle of a stream of sends and started again from its
// AOF (appendfsync always): the sends meanwhile get 100, the servers stay up, a waiting
// fetch returns, and every message a 118 acknowledged is delivered afterwards.
TEST_F(RedisCrashTest, RedisKilledDuringTrafficLosesNothingAcknowledged) {
  start_both();
  Registered alice = register_new_user(*a_, 6);
  const User bob = register_new_user(*b_, 7).user;
  const PublicKey bob_key = must(alice.client.recipient_key(bob.phone), "recipient_key");
  ProtocolClient bob_on_b = login(*b_, bob);

  std::set<std::string> acknowledged;
  int refused = 0;
  const auto send_one = [&](int n) {
    auto sent = alice.client.send_envelope(
        bob.phone, seal_text(alice.user, bob.phone, bob_key, "message " + std::to_string(n)));
    if (sent.ok()) {
      acknowledged.insert(sent.value());
    } else {
      ASSERT_EQ(refused_code(sent), 100) << sent.error().message;
      refused += 1;
    }
  };
  int n = 0;
  for (; n < 30; ++n) send_one(n);
  // Carol, whose mailbox is empty, waits on B when Redis dies: her long-poll must come
  // back with an error, not at its end (the 30 s below only guards against a hang).
  const User carol = register_new_user(*b_, 9).user;
  ProtocolClient carol_on_b = login(*b_, carol);
  std::atomic<int> carol_tid{0};
  auto waiting = std::async(std::launch::async, [&] {
    carol_tid = static_cast<int>(::gettid());
    return carol_on_b.fetch(10, kMaxWaitSeconds);
  });
  ASSERT_TRUE(test::eventually([&] { return carol_tid != 0 && test::waiting_in_poll(carol_tid); }));
  redis_.kill();
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(30)), std::future_status::ready)
      << "a long-poll did not return when Redis went away";
  EXPECT_EQ(refused_code(waiting.get()), 100);
  for (int i = 0; i < 5; ++i, ++n) send_one(n);
  EXPECT_EQ(refused, 5);
  EXPECT_EQ(refused_code(bob_on_b.fetch(10, 1)), 100);
  {
    ProtocolClient newcomer = connect_to(*a_);
    (void)must(newcomer.hello(), "hello");
    EXPECT_EQ(refused_code(newcomer.request_code(phone_number(8), "x@example.com")), 100);
  }
  redis_.start_again();
  // The servers reconnect on their own (after their back-off): sends succeed again.
  const std::size_t before = acknowledged.size();
  for (int tries = 0; acknowledged.size() < before + 20 && tries < 400; ++tries, ++n) {
    send_one(n);
    if (acknowledged.size() == before) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(acknowledged.size(), before + 20) << "the servers did not get Redis back";
  EXPECT_TRUE(a_->running());
  EXPECT_TRUE(b_->running());

  std::set<std::string> delivered;
  for (const WaitingMessage& message : must(bob_on_b.fetch(500, 0), "fetch")) {
    delivered.insert(message.message_id);
  }
  for (const std::string& id : acknowledged) EXPECT_TRUE(delivered.contains(id)) << id;
  EXPECT_EQ(delivered.size(), acknowledged.size());  // nothing refused was stored either
}

}  // namespace
}  // namespace shido::e2e
