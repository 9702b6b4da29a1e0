// Connect (log in again) against the real server over TCP: 201 -> 106, its errors, replay
// of a recorded proof, the lockout, and --lock-base reaching the server (the lock's expiry is
// tested in-process on a fake clock, session_connect_test.cc).
#include "e2e_util.h"
#include "shido/base64.h"

namespace shido::e2e {
namespace {

class ConnectTest : public E2eTest {
 protected:
  // A registered user (its registering connection closed).
  User make_user(int n) { return register_new_user(server(), n).user; }
};

Json connect_request(const User& user, const PublicKey& server_key, const Bytes& nonce,
                     std::string_view code) {
  auto proof = seal(user.key, server_key, as_bytes(code), Purpose::kConnect,
                    Context{to_bytes(user.phone), nonce});
  if (!proof.ok()) throw std::runtime_error("seal failed");
  return ConnectRequest{user.phone, to_wire(proof.value())}.to_json();
}

std::string wrong_code(const User& user) { return user.code == "000000" ? "000001" : "000000"; }

// The call was refused with 107 and a retry_after from a lock of `seconds`. The lock counts
// down in real time from the failure that started it, so retry_after may be a little less;
// more than half the length tells one lock length from another without timing anything.
void expect_locked_for(const ClientResult<Done>& result, int seconds) {
  ASSERT_EQ(refused_code(result), 107);
  ASSERT_TRUE(result.error().retry_after);
  EXPECT_LE(*result.error().retry_after, seconds);
  EXPECT_GT(*result.error().retry_after, seconds / 2);
}

TEST_F(ConnectTest, ConnectOnANewConnectionLogsIn) {
  start();
  const User alice = make_user(1);
  ProtocolClient client = connect_to(server());
  const Greeting greeting = must(client.hello(), "hello");
  // Not logged in yet: 123.
  EXPECT_EQ(refused_code(client.recipient_key(alice.phone)), 123);
  ASSERT_TRUE(client.login(alice.key, greeting, alice.phone, as_bytes(alice.code)).ok());
  EXPECT_EQ(must(client.recipient_key(alice.phone), "recipient_key"), alice.key.public_key());
}

TEST_F(ConnectTest, ErrorsOfTheConnectFlow) {
  start();
  const User alice = make_user(2);
  ProtocolClient client = connect_to(server());
  // Before HELLO: 129.
  ASSERT_TRUE(
      client.send(connect_request(alice, alice.key.public_key(), Bytes(32, 0), alice.code)).ok());
  EXPECT_EQ(code_of(must(client.receive(), "receive")), 129);

  Greeting greeting = must(client.hello(), "hello");
  EXPECT_EQ(refused_code(client.login(alice.key, greeting, "12345", as_bytes(alice.code))), 108);
  greeting = must(client.hello(), "hello");
  EXPECT_EQ(refused_code(client.login(alice.key, greeting, phone_number(99), as_bytes(alice.code))),
            131);
  // The proof spent the nonce: without a new HELLO, 129.
  EXPECT_EQ(refused_code(client.login(alice.key, greeting, alice.phone, as_bytes(alice.code))),
            129);
  // A bad member type: 124 naming it.
  greeting = must(client.hello(), "hello");
  Json typed = connect_request(alice, greeting.server_key, greeting.nonce, alice.code);
  typed["mac"] = 12;
  ASSERT_TRUE(client.send(typed).ok());
  const Json reply = must(client.receive(), "receive");
  EXPECT_EQ(code_of(reply), 124);
  EXPECT_NE(reply.value("error_description", "").find("mac"), std::string::npos) << reply;
  // A wrong code counts down; a proof made with another key is answered alike but does not
  // count (it was not made with the account's key: design section 10.2).
  greeting = must(client.hello(), "hello");
  auto wrong = client.login(alice.key, greeting, alice.phone, as_bytes(wrong_code(alice)));
  ASSERT_EQ(refused_code(wrong), 109);
  EXPECT_EQ(wrong.error().attempts_left, 4);
  greeting = must(client.hello(), "hello");
  auto other_key = client.login(KeyPair::generate(), greeting, alice.phone, as_bytes(alice.code));
  ASSERT_EQ(refused_code(other_key), 109);
  EXPECT_EQ(other_key.error().attempts_left, 4);
  // And then the right one.
  greeting = must(client.hello(), "hello");
  EXPECT_TRUE(client.login(alice.key, greeting, alice.phone, as_bytes(alice.code)).ok());
}

TEST_F(ConnectTest, ReplayedConnectProofFails) {
  start();
  const User alice = make_user(3);
  ProtocolClient victim = connect_to(server());
  const Greeting greeting = must(victim.hello(), "hello");
  const Json proof = connect_request(alice, greeting.server_key, greeting.nonce, alice.code);
  ASSERT_TRUE(victim.send(proof).ok());
  ASSERT_EQ(code_of(must(victim.receive(), "receive")), 106);

  // The same frame again on the same connection: the nonce is spent.
  ASSERT_TRUE(victim.send(proof).ok());
  EXPECT_EQ(code_of(must(victim.receive(), "receive")), 129);

  // Recorded and replayed on the attacker's own connection after its HELLO.
  ProtocolClient attacker = connect_to(server());
  must(attacker.hello(), "hello");
  ASSERT_TRUE(attacker.send(proof).ok());
  const Json reply = must(attacker.receive(), "receive");
  EXPECT_EQ(code_of(reply), 109);
  EXPECT_EQ(refused_code(attacker.fetch(10, 0)), 123);
  // The victim is still logged in.
  EXPECT_TRUE(victim.fetch(10, 0).ok());
}

TEST_F(ConnectTest, LockoutAfterFiveFailures) {
  start();
  const User alice = make_user(4);
  const User bob = make_user(5);
  ProtocolClient logged_in = login(server(), alice);
  ProtocolClient client = connect_to(server());
  for (int left = 4; left >= 0; --left) {
    const Greeting greeting = must(client.hello(), "hello");
    auto failed = client.login(alice.key, greeting, alice.phone, as_bytes(wrong_code(alice)));
    ASSERT_EQ(refused_code(failed), 109);
    EXPECT_EQ(failed.error().attempts_left, left);
  }
  // Locked: even the right code gets 107, for the protocol's first lock of 60 s.
  const Greeting greeting = must(client.hello(), "hello");
  expect_locked_for(client.login(alice.key, greeting, alice.phone, as_bytes(alice.code)), 60);
  // Another account is not locked.
  EXPECT_NO_THROW(login(server(), bob));
  // A connection logged in before the lock is not affected by it.
  EXPECT_TRUE(logged_in.fetch(10, 0).ok());
  // The lock's end, a success resetting it and the doubling are
  // ShortLockSessionTest.LocksFollowTheLockBase, on a fake clock: nothing here waits.
}

TEST_F(ConnectTest, WrongProofsSentAtOnceGetNoMoreThanFiveTries) {
  // Twenty connections, each greeted, send a wrong proof at the same moment: the lock
  // check and the recorded failure are one step per account, so exactly five are tried
  // (109) and the rest find the account locked (107).
  start();
  const User alice = make_user(7);
  constexpr int kConnections = 20;
  std::vector<ProtocolClient> clients;
  std::vector<Json> proofs;
  for (int i = 0; i < kConnections; ++i) {
    clients.push_back(connect_to(server()));
    const Greeting greeting = must(clients.back().hello(), "hello");
    proofs.push_back(
        connect_request(alice, greeting.server_key, greeting.nonce, wrong_code(alice)));
  }
  for (int i = 0; i < kConnections; ++i)
    ASSERT_TRUE(
        clients[static_cast<std::size_t>(i)].send(proofs[static_cast<std::size_t>(i)]).ok());
  int tried = 0, locked = 0;
  for (ProtocolClient& client : clients) {
    const int code = code_of(must(client.receive(), "receive"));
    if (code == 109) ++tried;
    if (code == 107) ++locked;
  }
  EXPECT_EQ(tried, 5);
  EXPECT_EQ(locked, kConnections - 5);
}

TEST_F(ConnectTest, LockBaseOptionReachesTheServer) {
  // Far from the protocol's 60 s, so that the reply shows which one the server used.
  constexpr int kLockBase = 1800;
  start({"--lock-base", std::to_string(kLockBase)});
  const User alice = make_user(6);
  ProtocolClient client = connect_to(server());
  for (int i = 0; i < 5; ++i) {
    const Greeting greeting = must(client.hello(), "hello");
    ASSERT_EQ(
        refused_code(client.login(alice.key, greeting, alice.phone, as_bytes(wrong_code(alice)))),
        109);
  }
  const Greeting greeting = must(client.hello(), "hello");
  expect_locked_for(client.login(alice.key, greeting, alice.phone, as_bytes(alice.code)),
                    kLockBase);
}

TEST_F(ConnectTest, AFailedConnectKeepsTheLoginAndASuccessfulOneSwitches) {
  start();
  const User alice = make_user(7);
  const User bob = make_user(8);
  ProtocolClient client = login(server(), alice);
  Greeting greeting = must(client.hello(), "hello");
  EXPECT_EQ(refused_code(client.login(bob.key, greeting, bob.phone, as_bytes(wrong_code(bob)))),
            109);
  // Still alice: a message sent now comes from her.
  const PublicKey bob_key = must(client.recipient_key(bob.phone), "recipient_key");
  must(client.send_envelope(bob.phone, seal_text(alice, bob.phone, bob_key, "from alice")), "send");

  greeting = must(client.hello(), "hello");
  ASSERT_TRUE(client.login(bob.key, greeting, bob.phone, as_bytes(bob.code)).ok());
  // Now bob: the fetch is bob's mailbox.
  const auto messages = must(client.fetch(10, 0), "fetch");
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].senders_phone_number, alice.phone);
  EXPECT_EQ(open_body(bob, messages[0]), "from alice");
}

}  // namespace
}  // namespace shido::e2e
