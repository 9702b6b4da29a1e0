// The limits of design section 10.4 on codes and registration proofs, in-process on a fake
// clock: what one address may do to a phone (issue 13, item 5) and to everyone (item 6),
// what each 127 says and its retry_after, that a refused request changes nothing, and
// --code-command-concurrency.
#include <utility>

#include "server/delivery_gate.h"
#include "session_fixture.h"

namespace shido::server::test {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

// Peers as the server names them: "address:port". Ports differ per connection.
constexpr const char* kAttacker = "192.0.2.66:40001";
constexpr const char* kAttackerAgain = "192.0.2.66:40002";  // the same address
constexpr const char* kOwner = "198.51.100.7:50001";

std::string wrong_code(const std::string& code) { return code == "000000" ? "000001" : "000000"; }

// The 127 reply's retry_after (-1 when it is not a 127 that mentions `mentions`).
int retry_after(const Json& reply, std::string_view mentions) {
  EXPECT_TRUE(IsError(reply, Code::kRateLimited, mentions));
  return reply.value("retry_after", -1);
}

class CodeLimitsTest : public SessionTest {
 protected:
  explicit CodeLimitsTest(Limits limits = {}) : SessionTest(limits) {}

  // `count` wrong register proofs for phone on conn, each after a HELLO; conn must have a
  // pending registration for phone with that many attempts left.
  void fail_to_register(Conn& conn, const std::string& phone, int count) {
    const std::string wrong = wrong_code(delivery_.last_code(phone));
    const KeyPair key = KeyPair::generate();
    for (int i = 0; i < count; ++i) {
      conn.hello();
      ASSERT_TRUE(IsError(conn.send_key(key, phone, wrong), Code::kInvalidSecretCode)) << i;
    }
  }

  // A peer name for address number n (its own address, a port of its own).
  static std::string peer(int n) {
    return "10.0." + std::to_string(n / 256) + "." + std::to_string(n % 256) + ":4000";
  }
};

// --- One phone: the owner is never kept out by one address (item 5)

TEST_F(CodeLimitsTest, AnAddressThatAskedThreeCodesForAPhoneDoesNotKeepItsOwnerOut) {
  Conn attacker(*this, kAttacker);
  attacker.hello();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(code_of(attacker.request_code(alice_)), 115);
    time_.advance(minutes(1));
  }
  // The same address on another connection is the same requester.
  Conn again(*this, kAttackerAgain);
  again.hello();
  EXPECT_EQ(retry_after(again.request_code(alice_), "for this phone from your address"),
            3600 - 180);
  EXPECT_EQ(delivery_.count(alice_), 3u);

  Conn owner(*this, kOwner);
  const Account alice = register_on(owner, alice_);
  EXPECT_EQ(owner.session().phone(), alice.phone);
}

TEST_F(CodeLimitsTest, NoAddressReachesThePhonesTenCodesAnHour) {
  // One address asking every ten minutes for an hour gets three codes.
  Conn attacker(*this, kAttacker);
  attacker.hello();
  for (int step = 0; step < 6; ++step) {
    for (int i = 0; i < 3; ++i) (void)attacker.request_code(alice_);
    time_.advance(minutes(10));
  }
  EXPECT_EQ(delivery_.count(alice_), 3u);
  // Four addresses can fill the phone's hour: then everyone waits for it.
  for (int n = 0; n < 4; ++n) {
    Conn other(*this, peer(n));
    other.hello();
    for (int i = 0; i < (n < 3 ? 3 : 1); ++i) ASSERT_EQ(code_of(other.request_code(alice_)), 115);
  }
  time_.advance(minutes(5));
  Conn owner(*this, kOwner);
  owner.hello();
  EXPECT_EQ(retry_after(owner.request_code(alice_), "too many codes for this phone"), 3600 - 300);
}

TEST_F(CodeLimitsTest, AnIpv6SubscriberIsOneAddressPerSlash64) {
  Conn first(*this, "[2001:db8:0:1::1]:40001");
  first.hello();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(code_of(first.request_code(alice_)), 115);
  Conn same_subnet(*this, "[2001:db8:0:1:ffff::2]:40002");
  same_subnet.hello();
  EXPECT_TRUE(IsError(same_subnet.request_code(alice_), Code::kRateLimited, "from your address"));
  Conn next_subnet(*this, "[2001:db8:0:2::1]:40003");
  next_subnet.hello();
  EXPECT_EQ(code_of(next_subnet.request_code(alice_)), 115);
}

// --- Everyone's codes (item 6)

TEST_F(CodeLimitsTest, OneAddressGetsTenCodesInTenMinutesThen127AndNoCodeIsSent) {
  Conn flooder(*this, kAttacker);
  flooder.hello();
  for (int n = 0; n < 10; ++n) {
    ASSERT_EQ(code_of(flooder.request_code("+1555100000" + std::to_string(n))), 115) << n;
    time_.advance(std::chrono::seconds(30));
  }
  const std::string last = delivery_.last_code("+15551000009");
  EXPECT_EQ(retry_after(flooder.request_code("+15551000010"), "from your address"), 600 - 300);
  EXPECT_EQ(delivery_.count("+15551000010"), 0u);
  // The refusal left the pending registration alone: the tenth code still registers.
  flooder.hello();
  EXPECT_EQ(code_of(flooder.send_key(KeyPair::generate(), "+15551000009", last)), 104);
  // Another address is not held back.
  Conn owner(*this, kOwner);
  owner.hello();
  EXPECT_EQ(code_of(owner.request_code("+15551000010")), 115);
}

TEST_F(CodeLimitsTest, TheServerSendsSixtyCodesAMinute) {
  for (int n = 0; n < 60; ++n) {
    Conn conn(*this, peer(n));
    conn.hello();
    ASSERT_EQ(code_of(conn.request_code("+155520000" + std::to_string(10 + n))), 115) << n;
  }
  time_.advance(std::chrono::seconds(20));
  Conn late(*this, kOwner);
  late.hello();
  EXPECT_EQ(retry_after(late.request_code(alice_), "server-wide"), 40);
  time_.advance(std::chrono::seconds(40));
  EXPECT_EQ(code_of(late.request_code(alice_)), 115);
}

// --- Failed registration proofs (item 5)

TEST_F(CodeLimitsTest, AnAddressMayFailTenProofsADayAndAPhoneTwenty) {
  for (const char* guesser_peer : {kAttacker, "203.0.113.9:40001"}) {
    Conn guesser(*this, guesser_peer);
    for (int round = 0; round < 2; ++round) {
      request_code_on(guesser, alice_);
      fail_to_register(guesser, alice_, 5);
      time_.advance(minutes(30));
    }
    // Ten wrong codes: this address gets no more codes today, for any phone.
    guesser.hello();
    EXPECT_EQ(
        retry_after(guesser.request_code(bob_), "failed registration attempts from your address"),
        86400 - 3600);
  }
  // Twenty for the phone: nobody gets a code for it until the first leaves the day...
  Conn owner(*this, kOwner);
  owner.hello();
  EXPECT_EQ(retry_after(owner.request_code(alice_), "failed registration attempts for this phone"),
            86400 - 7200);
  // ...while other phones are not held back.
  EXPECT_EQ(code_of(owner.request_code(bob_)), 115);
  time_.advance(hours(22));
  EXPECT_EQ(code_of(owner.request_code(alice_)), 115);
}

TEST_F(CodeLimitsTest, ProofsThatDoNotOpenAndRightCodesAreNoFailures) {
  Conn conn(*this, kAttacker);
  const std::string code = request_code_on(conn, alice_);
  const KeyPair key = KeyPair::generate();
  for (int i = 0; i < 30; ++i) {
    conn.hello();
    ASSERT_TRUE(
        IsError(conn.send_key(key, alice_, code, Purpose::kConnect), Code::kInvalidSecretCode));
  }
  conn.hello();
  ASSERT_EQ(code_of(conn.send_key(key, alice_, code)), 104);
  // All ten failures are still this address's to make.
  for (int round = 0; round < 2; ++round) {
    request_code_on(conn, bob_);
    fail_to_register(conn, bob_, 5);
  }
  conn.hello();
  EXPECT_TRUE(IsError(conn.request_code(carol_), Code::kRateLimited, "from your address"));
}

class ShortFailureWindowTest : public CodeLimitsTest {
 protected:
  static Limits short_window() {
    Limits limits;
    limits.failure_window = minutes(5);  // shorter than a code's ten minutes
    return limits;
  }
  ShortFailureWindowTest() : CodeLimitsTest(short_window()) {}
};

TEST_F(ShortFailureWindowTest, AProofRefusedByTheCapKeepsItsPendingRegistration) {
  Conn owner(*this, kOwner);
  const std::string code = request_code_on(owner, alice_);
  // Two addresses spend the phone's twenty failures meanwhile.
  for (const char* guesser_peer : {kAttacker, "203.0.113.9:40001"}) {
    Conn guesser(*this, guesser_peer);
    for (int round = 0; round < 2; ++round) {
      request_code_on(guesser, alice_);
      fail_to_register(guesser, alice_, 5);
    }
  }
  time_.advance(minutes(1));
  // The owner's right code is not even looked at: the phone's guesses are spent.
  owner.hello();
  const KeyPair key = KeyPair::generate();
  EXPECT_EQ(retry_after(owner.send_key(key, alice_, code), "for this phone"), 240);
  EXPECT_EQ(owner.session().phone(), "");
  // Its registration is still pending: once the failures have left the window, it goes on.
  time_.advance(minutes(4));
  owner.hello();
  EXPECT_EQ(code_of(owner.send_key(key, alice_, code)), 104);
}

class ServerWideFailuresTest : public CodeLimitsTest {
 protected:
  static Limits few() {
    Limits limits;
    limits.failed_registrations_per_day = 3;
    return limits;
  }
  ServerWideFailuresTest() : CodeLimitsTest(few()) {}
};

TEST_F(ServerWideFailuresTest, FailedProofsAreCappedServerWide) {
  Conn late(*this, kOwner);
  const std::string code = request_code_on(late, carol_);
  for (int n = 0; n < 3; ++n) {
    Conn guesser(*this, peer(n));
    const std::string phone = "+155530000" + std::to_string(10 + n);
    request_code_on(guesser, phone);
    fail_to_register(guesser, phone, 1);
  }
  time_.advance(minutes(5));  // within the ten minutes of the late one's code
  Conn other(*this, peer(9));
  other.hello();
  EXPECT_EQ(retry_after(other.request_code(bob_), "server-wide"), 86400 - 300);
  late.hello();
  EXPECT_EQ(retry_after(late.send_key(KeyPair::generate(), carol_, code), "server-wide"),
            86400 - 300);
}

// --- Code command concurrency (item 6)

TEST_F(CodeLimitsTest, ACodeRequestBeyondTheDeliveryTurnsIs127AndCountsNowhere) {
  DeliveryGate gate(1);
  context_.delivery_gate = &gate;
  Conn first(*this, kAttacker);
  Conn second(*this, kOwner);
  second.hello();
  // While the first code is being delivered, the one turn is taken.
  Json refused;
  bool asked = false;
  delivery_.on_deliver = [&] {
    if (std::exchange(asked, true)) return;
    refused = second.request_code(bob_);
  };
  first.hello();
  ASSERT_EQ(code_of(first.request_code(alice_)), 115);
  ASSERT_TRUE(asked);
  EXPECT_EQ(retry_after(refused, "at once"), 1);
  EXPECT_EQ(delivery_.count(bob_), 0u);
  // The turn is back; and the refused request took none of bob's three codes from this
  // address.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(code_of(second.request_code(bob_)), 115) << i;
  EXPECT_TRUE(IsError(second.request_code(bob_), Code::kRateLimited, "from your address"));
}

}  // namespace
}  // namespace shido::server::test
