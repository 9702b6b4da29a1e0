// The protocol state machine in-process (protocol.md sections 4-8): every flow and every
// error code a Session can answer, the order of checks, nonces, code expiry and lockouts
// with a fake clock, and the guards against replay and sender-key substitution.
#include "server/session.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <latch>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fake_time.h"
#include "shido/base64.h"
#include "shido/crypto/digest.h"
#include "shido/crypto/envelope.h"
#include "shido/protocol/messages.h"
#include "shido/protocol/text_message.h"

namespace shido::server {
namespace {

using std::chrono::seconds;
using test::FakeTime;

// A P-384 key and a compressed P-256 point: valid PEM, but not keys the protocol accepts.
constexpr const char* kP384Pem =
    "-----BEGIN PUBLIC KEY-----\n"
    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE+izOH2NfEgYuGhVzCN0aPAnUmX5Ynu9d\n"
    "khkZtULU+QKCzABVoRscCZM+5Lku6NQrHNqHS+hFVKOJr2VqZ8IaqZ06enKO1SXO\n"
    "6S5Pn7CxRPyvx+5sG7Iz0Thlt/wTPo4H\n"
    "-----END PUBLIC KEY-----\n";
constexpr const char* kCompressedP256Pem =
    "-----BEGIN PUBLIC KEY-----\n"
    "MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgACleEoNdKTci2VJnb4vvfI5dDZDtzd\n"
    "N1BHRCtpgdQEpFc=\n"
    "-----END PUBLIC KEY-----\n";

// Seeded, so that every run draws the same nonces and codes (no 1-in-a-million clash of
// two codes can make a test flaky).
class SeededRandom final : public RandomSource {
 public:
  void fill(std::span<std::uint8_t> out) override {
    std::lock_guard lock(mutex_);
    for (auto& byte : out) byte = static_cast<std::uint8_t>(engine_());
  }

 private:
  std::mutex mutex_;
  std::mt19937_64 engine_{20261126};
};

// Keeps every code handed over, per phone; can be told to fail.
class FakeDelivery final : public CodeDelivery {
 public:
  Status deliver(const CodeNotice& notice) override {
    if (on_deliver) on_deliver();
    std::lock_guard lock(mutex_);
    if (fail) return Error{Errc::kIo, "the gateway is down"};
    codes_[notice.phone].push_back(std::string(notice.code.as_string_view()));
    fingerprints_.push_back(notice.server_fingerprint);
    emails_.push_back(notice.email);
    return {};
  }
  std::string last_code(const std::string& phone) {
    std::lock_guard lock(mutex_);
    auto it = codes_.find(phone);
    return it == codes_.end() || it->second.empty() ? std::string() : it->second.back();
  }
  std::size_t count(const std::string& phone) {
    std::lock_guard lock(mutex_);
    auto it = codes_.find(phone);
    return it == codes_.end() ? 0 : it->second.size();
  }
  std::vector<std::string> fingerprints() {
    std::lock_guard lock(mutex_);
    return fingerprints_;
  }
  std::vector<std::string> emails() {
    std::lock_guard lock(mutex_);
    return emails_;
  }
  bool fail = false;
  std::function<void()> on_deliver;  // called first, to look at the world at delivery time

 private:
  std::mutex mutex_;
  std::map<std::string, std::vector<std::string>> codes_;
  std::vector<std::string> fingerprints_;
  std::vector<std::string> emails_;
};

// A peer that is gone: every write fails.
class BrokenSink final : public ReplySink {
 public:
  Status send(const Json&) override { return Error{Errc::kIo, "gone"}; }
  Status flush() override { return Error{Errc::kIo, "gone"}; }
};

class CollectingSink final : public ReplySink {
 public:
  Status send(const Json& reply) override {
    replies.push_back(reply);
    return {};
  }
  Status flush() override {
    flushed_at.push_back(replies.size());
    return {};
  }
  std::vector<Json> replies;
  std::vector<std::size_t> flushed_at;  // how many replies there were at each flush
};

// The reply is error `code` with a non-empty error_description (and, when given, one
// that mentions `mentions`).
::testing::AssertionResult IsError(const Json& reply, Code code, std::string_view mentions = {}) {
  if (!reply.is_object() || !reply.contains("code") || !reply["code"].is_number_integer()) {
    return ::testing::AssertionFailure() << "not a reply: " << reply.dump();
  }
  if (reply["code"].get<int>() != static_cast<int>(code)) {
    return ::testing::AssertionFailure()
           << "expected code " << static_cast<int>(code) << ", got " << reply.dump();
  }
  if (!reply.contains("error_description") || !reply["error_description"].is_string() ||
      reply["error_description"].get<std::string>().empty()) {
    return ::testing::AssertionFailure() << "no error_description: " << reply.dump();
  }
  if (!mentions.empty() &&
      reply["error_description"].get<std::string>().find(mentions) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "error_description does not mention '" << mentions << "': " << reply.dump();
  }
  return ::testing::AssertionSuccess();
}

int code_of(const Json& reply) {
  return reply.is_object() && reply.contains("code") && reply["code"].is_number_integer()
             ? reply["code"].get<int>()
             : -1;
}

struct Account {
  std::string phone;
  KeyPair key;
  std::string code;
};

class SessionTest : public ::testing::Test {
 protected:
  explicit SessionTest(Limits limits = {})
      : store_(make_memory_store(time_, limits)), context_{server_key_, *store_, delivery_,
                                                           logger_,     time_,   rng_} {}

  // One connection: a Session and the replies it produced for the last request.
  class Conn {
   public:
    Conn(SessionTest& test, std::string peer)
        : test_(test), session_(test.context_, std::move(peer)) {}

    // Every reply to one request, in order.
    std::vector<Json> call(const Json& request) {
      sink_.replies.clear();
      last_after_ = session_.handle(request, sink_);
      return sink_.replies;
    }
    // The one reply to a request (a failure is recorded when there is not exactly one).
    Json one(const Json& request) {
      auto replies = call(request);
      EXPECT_EQ(replies.size(), 1u) << "request " << request.dump();
      return replies.empty() ? Json() : replies.front();
    }
    // HELLO; returns the nonce.
    Bytes hello() {
      const Json reply = one(Hello{}.to_json());
      EXPECT_EQ(code_of(reply), 101) << reply.dump();
      auto nonce = base64_decode(reply.value("nonce", std::string()));
      EXPECT_TRUE(nonce.ok());
      nonce_ = nonce.ok() ? nonce.value() : Bytes();
      return nonce_;
    }
    Json request_code(const std::string& phone, const std::string& email = "user@example.com") {
      return one(SendPhoneNumber{phone, email}.to_json());
    }
    // 103 with a register proof over `code` bound to the last nonce.
    Json send_key(const KeyPair& key, const std::string& phone, std::string_view code,
                  Purpose purpose = Purpose::kRegister) {
      return one(test_.register_request(key, phone, code, nonce_, purpose));
    }
    Json connect(const KeyPair& key, const std::string& phone, std::string_view code) {
      return one(test_.connect_request(key, phone, code, nonce_));
    }
    After last_after() const { return last_after_; }
    const Session& session() const { return session_; }
    const Bytes& nonce() const { return nonce_; }

   private:
    SessionTest& test_;
    Session session_;
    CollectingSink sink_;
    Bytes nonce_;
    After last_after_ = After::kContinue;
  };

  Json register_request(const KeyPair& key, const std::string& phone, std::string_view code,
                        const Bytes& nonce, Purpose purpose = Purpose::kRegister) {
    auto proof = seal(key, server_key_.public_key(), as_bytes(code), purpose,
                      Context{to_bytes(phone), nonce});
    EXPECT_TRUE(proof.ok());
    return SendPublicKey{key.public_key().pem(), to_wire(proof.value())}.to_json();
  }

  Json connect_request(const KeyPair& key, const std::string& phone, std::string_view code,
                       const Bytes& nonce, Purpose purpose = Purpose::kConnect) {
    auto proof = seal(key, server_key_.public_key(), as_bytes(code), purpose,
                      Context{to_bytes(phone), nonce});
    EXPECT_TRUE(proof.ok());
    return ConnectRequest{phone, to_wire(proof.value())}.to_json();
  }

  Envelope message_envelope(const Account& from, const Account& to, const std::string& body) {
    auto envelope = seal_text_message(from.key, from.phone, to.key.public_key(), to.phone,
                                      TextMessage{body, 1234});
    EXPECT_TRUE(envelope.ok());
    return envelope.value();
  }

  Json message_request(const Account& from, const Account& to, const std::string& body) {
    return SendMessage{to.phone, to_wire(message_envelope(from, to, body)), std::nullopt}.to_json();
  }

  // Registers phone on conn (HELLO, 102, 103) and leaves conn logged in.
  Account register_on(Conn& conn, const std::string& phone) {
    Account account{phone, KeyPair::generate(), {}};
    conn.hello();
    EXPECT_EQ(code_of(conn.request_code(phone)), 115);
    account.code = delivery_.last_code(phone);
    EXPECT_EQ(code_of(conn.send_key(account.key, phone, account.code)), 104);
    EXPECT_EQ(conn.session().phone(), phone);
    return account;
  }

  Account register_account(const std::string& phone) {
    Conn conn(*this, "registrar");
    return register_on(conn, phone);
  }

  // A connection logged in as account through 201.
  std::unique_ptr<Conn> logged_in(const Account& account) {
    auto conn = std::make_unique<Conn>(*this, "login");
    conn->hello();
    EXPECT_EQ(code_of(conn->connect(account.key, account.phone, account.code)), 106);
    return conn;
  }

  KeyPair server_key_ = KeyPair::generate();
  FakeTime time_;
  std::unique_ptr<Store> store_;
  FakeDelivery delivery_;
  Logger logger_{LogLevel::kError};
  SeededRandom rng_;
  ServerContext context_;

  const std::string alice_ = "+15550000001";
  const std::string bob_ = "+15550000002";
  const std::string carol_ = "+15550000003";
};

// ===== HELLO and the state before it ====================================================

TEST_F(SessionTest, HelloAnswersServerKeyAndAFreshNonceEachTime) {
  Conn conn(*this, "peer");
  const Json reply = conn.one(Hello{}.to_json());
  ASSERT_EQ(code_of(reply), 101);
  EXPECT_EQ(reply["protocol"], 1);
  EXPECT_EQ(reply["public_key"], server_key_.public_key().pem());
  auto nonce = base64_decode(reply["nonce"].get<std::string>());
  ASSERT_TRUE(nonce.ok());
  EXPECT_EQ(nonce.value().size(), 32u);
  const Bytes second = conn.hello();
  EXPECT_NE(second, nonce.value());
  Conn other(*this, "other");
  EXPECT_NE(other.hello(), second);
}

TEST_F(SessionTest, HelloWithAnotherProtocolIs132AndLeavesTheSessionUngreeted) {
  Conn conn(*this, "peer");
  EXPECT_TRUE(IsError(conn.one(Json{{"code", 200}, {"protocol", 2}}), Code::kUnsupportedProtocol));
  EXPECT_TRUE(IsError(conn.one(Json{{"code", 200}, {"protocol", 0}}), Code::kUnsupportedProtocol));
  EXPECT_TRUE(IsError(conn.request_code(alice_), Code::kUnexpectedCode));
  conn.hello();
  EXPECT_EQ(code_of(conn.request_code(alice_)), 115);
}

TEST_F(SessionTest, HelloWithWrongOrMissingProtocolIs124NamingIt) {
  Conn conn(*this, "peer");
  EXPECT_TRUE(
      IsError(conn.one(Json{{"code", 200}, {"protocol", "1"}}), Code::kBadRequest, "protocol"));
  EXPECT_TRUE(
      IsError(conn.one(Json{{"code", 200}, {"protocol", 1.5}}), Code::kBadRequest, "protocol"));
  EXPECT_TRUE(IsError(conn.one(Json{{"code", 200}}), Code::kBadRequest, "protocol"));
}

TEST_F(SessionTest, UnknownMembersAreIgnored) {
  Conn conn(*this, "peer");
  const Json reply = conn.one(Json{{"code", 200}, {"protocol", 1}, {"extra", {1, 2, 3}}});
  EXPECT_EQ(code_of(reply), 101);
}

TEST_F(SessionTest, EveryRequestButHelloBeforeHelloIs129) {
  Conn conn(*this, "peer");
  const Account dummy{alice_, KeyPair::generate(), "123456"};
  const std::vector<Json> requests = {
      SendPhoneNumber{alice_, "a@example.com"}.to_json(),
      register_request(dummy.key, alice_, "123456", Bytes(32, 0)),
      connect_request(dummy.key, alice_, "123456", Bytes(32, 0)),
      CommunicationRequest{bob_}.to_json(),
      message_request(dummy, dummy, "hi"),
      CheckWaitingMessages{}.to_json(),
      AckMessages{{"x"}}.to_json(),
  };
  for (const Json& request : requests) {
    EXPECT_TRUE(IsError(conn.one(request), Code::kUnexpectedCode)) << request["code"];
    EXPECT_EQ(conn.last_after(), After::kContinue);
  }
}

TEST_F(SessionTest, UnknownAndServerCodesAre129AndTheSessionGoesOn) {
  Conn conn(*this, "peer");
  for (long long code : {0LL, 1LL, -200LL, 101LL, 104LL, 124LL, 999LL, 4294967496LL}) {
    EXPECT_TRUE(IsError(conn.one(Json{{"code", code}}), Code::kUnexpectedCode)) << code;
  }
  conn.hello();
  for (long long code : {101LL, 115LL, 121LL, 300LL}) {
    EXPECT_TRUE(IsError(conn.one(Json{{"code", code}}), Code::kUnexpectedCode)) << code;
  }
  EXPECT_EQ(code_of(conn.request_code(alice_)), 115);
}

TEST_F(SessionTest, ByeClosesWithoutReplyInAnyState) {
  Conn before(*this, "peer");
  EXPECT_TRUE(before.call(Json{{"code", 199}}).empty());
  EXPECT_EQ(before.last_after(), After::kClose);

  Conn after(*this, "peer");
  register_on(after, alice_);
  EXPECT_TRUE(after.call(Bye{}.to_json()).empty());
  EXPECT_EQ(after.last_after(), After::kClose);
}

TEST_F(SessionTest, GeneralClientErrorGetsNoReplyInAnyState) {
  Conn conn(*this, "peer");
  EXPECT_TRUE(conn.call(Json{{"code", 105}, {"error_description", "oops"}}).empty());
  EXPECT_EQ(conn.last_after(), After::kContinue);
  // Even with members of the wrong type.
  EXPECT_TRUE(conn.call(Json{{"code", 105}, {"error_description", 5}}).empty());
  register_on(conn, alice_);
  EXPECT_TRUE(conn.call(GeneralClientError{"bad"}.to_json()).empty());
  EXPECT_EQ(conn.session().phone(), alice_);  // still logged in
  EXPECT_EQ(code_of(conn.one(CommunicationRequest{alice_}.to_json())), 111);
}

// ===== Registration =====================================================================

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

  auto user = store_->find_user(alice_);
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

TEST_F(SessionTest, ThreeCodesPerPhoneInTenMinutesThen127WithRetryAfter) {
  Conn conn(*this, "peer");
  conn.hello();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
    time_.advance(seconds(10));
  }
  // From another connection too: the limit is the phone's.
  Conn other(*this, "other");
  other.hello();
  Json limited = other.request_code(alice_);
  ASSERT_TRUE(IsError(limited, Code::kRateLimited));
  EXPECT_EQ(limited["retry_after"], 570);
  EXPECT_EQ(delivery_.count(alice_), 3u);

  time_.advance(std::chrono::milliseconds(569'500));
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
  conn.hello();
  ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
  const std::string code = delivery_.last_code(alice_);
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
  EXPECT_FALSE(store_->find_user(alice_));
  EXPECT_EQ(conn.session().phone(), "");
}

TEST_F(SessionTest, TheRightCodeOnTheLastAttemptStillRegisters) {
  Conn conn(*this, "peer");
  conn.hello();
  ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
  const std::string code = delivery_.last_code(alice_);
  const KeyPair key = KeyPair::generate();
  for (int i = 0; i < 4; ++i) {
    conn.hello();
    ASSERT_TRUE(IsError(conn.send_key(key, alice_, "abcdef"), Code::kInvalidSecretCode));
  }
  conn.hello();
  EXPECT_EQ(code_of(conn.send_key(key, alice_, code)), 104);
}

TEST_F(SessionTest, RegisterProofFailuresAreAll109) {
  Conn conn(*this, "peer");
  conn.hello();
  ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
  const std::string code = delivery_.last_code(alice_);
  const KeyPair key = KeyPair::generate();
  const KeyPair other = KeyPair::generate();
  int left = 4;
  auto expect_109 = [&](const Json& reply, const char* what) {
    EXPECT_TRUE(IsError(reply, Code::kInvalidSecretCode)) << what;
    EXPECT_EQ(reply.value("attempts_left", -1), left--) << what;
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
  // Still right after all that: the fifth attempt.
  conn.hello();
  EXPECT_EQ(code_of(conn.send_key(key, alice_, code)), 104);
}

TEST_F(SessionTest, RegisterProofBoundToAnotherPhoneIs109) {
  Conn conn(*this, "peer");
  conn.hello();
  ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
  const std::string code = delivery_.last_code(alice_);
  const KeyPair key = KeyPair::generate();
  conn.hello();
  // The phone comes from the pending 102, so a proof made for bob does not open.
  const Json reply = conn.send_key(key, bob_, code);
  EXPECT_TRUE(IsError(reply, Code::kInvalidSecretCode));
  EXPECT_FALSE(store_->find_user(bob_));
}

TEST_F(SessionTest, SendPublicKeyWithoutPending102Is129) {
  Conn conn(*this, "peer");
  conn.hello();
  const KeyPair key = KeyPair::generate();
  EXPECT_TRUE(IsError(conn.send_key(key, alice_, "123456"), Code::kUnexpectedCode));
}

TEST_F(SessionTest, InvalidPublicKeysAre124) {
  Conn conn(*this, "peer");
  conn.hello();
  ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
  const std::string code = delivery_.last_code(alice_);
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
  conn.hello();
  ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
  const std::string code = delivery_.last_code(alice_);
  const KeyPair key = KeyPair::generate();
  time_.advance(seconds(600));
  conn.hello();
  EXPECT_TRUE(IsError(conn.send_key(key, alice_, code), Code::kUnexpectedCode));
  EXPECT_FALSE(store_->find_user(alice_));
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

TEST_F(SessionTest, ALater102ReplacesThePendingRegistration) {
  Conn conn(*this, "peer");
  conn.hello();
  ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
  const std::string first = delivery_.last_code(alice_);
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
  EXPECT_FALSE(store_->find_user(alice_));
}

TEST_F(SessionTest, ARefusedLater102KeepsThePendingRegistration) {
  // "An error never closes the connection ...; the session keeps its state": a 102 that
  // is refused (108, 113, 127, 114, 100) creates no code, so it replaces nothing.
  const Account carol = register_account(carol_);
  Conn exhaust(*this, "other");
  exhaust.hello();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(code_of(exhaust.request_code(bob_)), 115);

  Conn conn(*this, "peer");
  conn.hello();
  ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
  const std::string code = delivery_.last_code(alice_);
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
  first.hello();
  ASSERT_EQ(code_of(first.request_code(alice_)), 115);
  const std::string code = delivery_.last_code(alice_);
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
  EXPECT_EQ(store_->find_user(alice_)->public_key, key.public_key());
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
  EXPECT_TRUE(store_->find_user(alice_));
}

// ===== The nonce ========================================================================

TEST_F(SessionTest, EveryProofSpendsTheNonceWhateverItsOutcome) {
  const Account alice = register_account(alice_);
  Conn conn(*this, "peer");

  // 201 answered 131, 108, 124 and 109: each spends the nonce.
  const std::vector<Json> spenders = {
      connect_request(alice.key, carol_, alice.code, {}),
      Json{{"code", 201}, {"phone_number", "bad"}},
      Json{{"code", 201}, {"phone_number", alice_}},
      connect_request(alice.key, alice_, "abcdef", {}),
      Json{{"code", 103}, {"public_key", 1}},
      register_request(alice.key, alice_, "123456", {}),
  };
  for (const Json& spender : spenders) {
    conn.hello();
    const Json first = conn.one(spender);
    EXPECT_NE(code_of(first), 106) << spender.dump();
    // The valid proof that follows has no nonce left.
    EXPECT_TRUE(IsError(conn.connect(alice.key, alice_, alice.code), Code::kUnexpectedCode))
        << "after " << first.dump();
  }
  // A 129 for a missing nonce counts as no attempt: one failure above, so 3 left now.
  conn.hello();
  EXPECT_EQ(conn.connect(alice.key, alice_, "abcdef").value("attempts_left", -1), 3);
}

TEST_F(SessionTest, ProofWithoutHelloNonceIs129AndNoAttempt) {
  Conn conn(*this, "peer");
  conn.hello();
  ASSERT_EQ(code_of(conn.request_code(alice_)), 115);
  const KeyPair key = KeyPair::generate();
  ASSERT_EQ(conn.send_key(key, alice_, "abcdef").value("attempts_left", -1), 4);
  // The nonce is spent: another proof without HELLO is 129 and costs nothing.
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(IsError(conn.send_key(key, alice_, "abcdef"), Code::kUnexpectedCode));
  }
  conn.hello();
  EXPECT_EQ(conn.send_key(key, alice_, "abcdef").value("attempts_left", -1), 3);
}

// ===== Connect ==========================================================================

TEST_F(SessionTest, ConnectWithTheCodeLogsIn) {
  const Account alice = register_account(alice_);
  Conn conn(*this, "peer");
  conn.hello();
  EXPECT_EQ(code_of(conn.one(CommunicationRequest{alice_}.to_json())), 123);
  const Json reply = conn.connect(alice.key, alice_, alice.code);
  EXPECT_EQ(reply, Json({{"code", 106}}));
  EXPECT_EQ(conn.session().phone(), alice_);
  EXPECT_EQ(code_of(conn.one(CommunicationRequest{alice_}.to_json())), 111);
}

TEST_F(SessionTest, ConnectToInvalidOrUnknownPhone) {
  const Account alice = register_account(alice_);
  Conn conn(*this, "peer");
  conn.hello();
  EXPECT_TRUE(IsError(conn.connect(alice.key, "12345", alice.code), Code::kInvalidPhoneNumber));
  conn.hello();
  EXPECT_TRUE(IsError(conn.connect(alice.key, bob_, alice.code), Code::kUserNotFound));
}

TEST_F(SessionTest, ConnectMemberTypesAre124) {
  const Account alice = register_account(alice_);
  Conn conn(*this, "peer");
  for (const char* member : {"phone_number", "salt", "iv_for_wrapped_key", "wrapped_aes_key",
                             "encrypted_secret_code", "iv_for_secret", "mac"}) {
    const Bytes nonce = conn.hello();
    Json request = connect_request(alice.key, alice_, alice.code, nonce);
    request[member] = Json::array();
    EXPECT_TRUE(IsError(conn.one(request), Code::kBadRequest, member)) << member;
  }
  // A type error beats a bad phone format.
  conn.hello();
  EXPECT_TRUE(IsError(conn.one(Json{{"code", 201}, {"phone_number", "bad"}, {"salt", 5}}),
                      Code::kBadRequest, "salt"));
  // None of those was an attempt.
  conn.hello();
  EXPECT_EQ(conn.connect(alice.key, alice_, "abcdef").value("attempts_left", -1), 4);
}

TEST_F(SessionTest, WrongCodeOrAnyEnvelopeFailureIs109WithAttemptsLeft) {
  const Account alice = register_account(alice_);
  const std::string wrong = alice.code == "000000" ? "000001" : "000000";
  Conn conn(*this, "peer");
  std::vector<Json> failures;
  Bytes nonce = conn.hello();
  failures.push_back(connect_request(alice.key, alice_, wrong, nonce));
  // The proofs below are built for the nonce of the HELLO that precedes each.
  auto fresh = [&](auto make) {
    nonce = conn.hello();
    return conn.one(make(nonce));
  };
  EXPECT_EQ(conn.one(failures[0]).value("attempts_left", -1), 4);
  // Another key (an attacker who knows the code but not the private key).
  EXPECT_EQ(fresh([&](const Bytes& n) {
              return connect_request(KeyPair::generate(), alice_, alice.code, n);
            }).value("attempts_left", -1),
            3);
  // The register purpose instead of connect.
  EXPECT_EQ(fresh([&](const Bytes& n) {
              return connect_request(alice.key, alice_, alice.code, n, Purpose::kRegister);
            }).value("attempts_left", -1),
            2);
  // A flipped MAC byte.
  const Json tampered = fresh([&](const Bytes& n) {
    Json request = connect_request(alice.key, alice_, alice.code, n);
    Bytes mac = base64_decode(request["mac"].get<std::string>()).value();
    mac[0] ^= 1;
    request["mac"] = base64_encode(mac);
    return request;
  });
  EXPECT_TRUE(IsError(tampered, Code::kInvalidSecretCode));
  EXPECT_EQ(tampered.value("attempts_left", -1), 1);
  // A member of the wrong length: the same answer, no oracle.
  const Json short_salt = fresh([&](const Bytes& n) {
    Json request = connect_request(alice.key, alice_, alice.code, n);
    request["salt"] = base64_encode(Bytes(15, 0));
    return request;
  });
  EXPECT_TRUE(IsError(short_salt, Code::kInvalidSecretCode));
  EXPECT_EQ(short_salt.value("attempts_left", -1), 0);
  EXPECT_EQ(tampered["error_description"], short_salt["error_description"]);
  EXPECT_EQ(conn.session().phone(), "");
}

TEST_F(SessionTest, ReplayedConnectProofFails) {
  const Account alice = register_account(alice_);
  Conn conn(*this, "victim");
  const Bytes nonce = conn.hello();
  const Json proof = connect_request(alice.key, alice_, alice.code, nonce);
  ASSERT_EQ(code_of(conn.one(proof)), 106);

  // Again on the same connection: the nonce is spent.
  EXPECT_TRUE(IsError(conn.one(proof), Code::kUnexpectedCode));
  // After a new HELLO: bound to the old nonce, so it does not open.
  conn.hello();
  EXPECT_TRUE(IsError(conn.one(proof), Code::kInvalidSecretCode));
  // On another connection (an attacker who recorded it).
  Conn attacker(*this, "attacker");
  attacker.hello();
  const Json replayed = attacker.one(proof);
  EXPECT_TRUE(IsError(replayed, Code::kInvalidSecretCode));
  EXPECT_EQ(attacker.session().phone(), "");
  EXPECT_TRUE(
      IsError(attacker.one(CommunicationRequest{alice_}.to_json()), Code::kNotAuthenticated));
}

TEST_F(SessionTest, FiveFailuresLockTheAccountWith107UntilTheLockExpires) {
  const Account alice = register_account(alice_);
  Conn conn(*this, "peer");
  for (int left = 4; left >= 0; --left) {
    conn.hello();
    const Json reply = conn.connect(alice.key, alice_, "abcdef");
    ASSERT_TRUE(IsError(reply, Code::kInvalidSecretCode));
    ASSERT_EQ(reply["attempts_left"], left);
  }
  // Locked: even the right proof gets 107 with retry_after.
  conn.hello();
  Json locked = conn.connect(alice.key, alice_, alice.code);
  ASSERT_TRUE(IsError(locked, Code::kConnectRequestNotAccepted));
  EXPECT_EQ(locked["retry_after"], 60);
  EXPECT_FALSE(locked.contains("attempts_left"));
  EXPECT_EQ(conn.session().phone(), "");

  time_.advance(std::chrono::milliseconds(30'200));
  conn.hello();
  locked = conn.connect(alice.key, alice_, alice.code);
  ASSERT_TRUE(IsError(locked, Code::kConnectRequestNotAccepted));
  EXPECT_EQ(locked["retry_after"], 30);  // 29.8 s rounded up

  // Other accounts are not locked.
  const Account bob = register_account(bob_);
  EXPECT_NE(logged_in(bob), nullptr);

  time_.advance(std::chrono::milliseconds(29'800));
  conn.hello();
  EXPECT_EQ(code_of(conn.connect(alice.key, alice_, alice.code)), 106);
}

TEST_F(SessionTest, LocksDoubleAndASuccessResetsThem) {
  const Account alice = register_account(alice_);
  Conn conn(*this, "peer");
  auto fail_five = [&] {
    for (int i = 0; i < 5; ++i) {
      conn.hello();
      ASSERT_EQ(code_of(conn.connect(alice.key, alice_, "abcdef")), 109);
    }
  };
  auto retry_after = [&] {
    conn.hello();
    return conn.connect(alice.key, alice_, alice.code).value("retry_after", -1);
  };
  fail_five();
  EXPECT_EQ(retry_after(), 60);
  time_.advance(seconds(60));
  fail_five();
  EXPECT_EQ(retry_after(), 120);
  time_.advance(seconds(120));
  // The count restarted with the lock: four failures and then the right code gets in.
  for (int i = 0; i < 4; ++i) {
    conn.hello();
    ASSERT_EQ(code_of(conn.connect(alice.key, alice_, "abcdef")), 109);
  }
  conn.hello();
  ASSERT_EQ(code_of(conn.connect(alice.key, alice_, alice.code)), 106);
  // The success reset the lock number: the next lock is 60 s again.
  fail_five();
  EXPECT_EQ(retry_after(), 60);
}

TEST_F(SessionTest, CheckOrderAroundTheLock) {
  const Account alice = register_account(alice_);
  Conn conn(*this, "peer");
  for (int i = 0; i < 5; ++i) {
    conn.hello();
    ASSERT_EQ(code_of(conn.connect(alice.key, alice_, "abcdef")), 109);
  }
  // A bad phone format answers before the nonce and the lock.
  EXPECT_TRUE(IsError(conn.connect(alice.key, "123", alice.code), Code::kInvalidPhoneNumber));
  // The missing nonce before the lock.
  EXPECT_TRUE(IsError(conn.connect(alice.key, alice_, alice.code), Code::kUnexpectedCode));
  // The lock before the envelope.
  conn.hello();
  EXPECT_TRUE(IsError(conn.one(Json{{"code", 201},
                                    {"phone_number", alice_},
                                    {"salt", "!"},
                                    {"iv_for_wrapped_key", ""},
                                    {"wrapped_aes_key", ""},
                                    {"encrypted_secret_code", ""},
                                    {"iv_for_secret", ""},
                                    {"mac", ""}}),
                      Code::kConnectRequestNotAccepted));
  // An unknown account before the envelope.
  conn.hello();
  EXPECT_TRUE(IsError(conn.one(Json{{"code", 201},
                                    {"phone_number", bob_},
                                    {"salt", "!"},
                                    {"iv_for_wrapped_key", ""},
                                    {"wrapped_aes_key", ""},
                                    {"encrypted_secret_code", ""},
                                    {"iv_for_secret", ""},
                                    {"mac", ""}}),
                      Code::kUserNotFound));
}

TEST_F(SessionTest, AFailedConnectKeepsTheOldLogin) {
  const Account alice = register_account(alice_);
  const Account bob = register_account(bob_);
  auto conn = logged_in(alice);
  conn->hello();
  EXPECT_TRUE(IsError(conn->connect(bob.key, bob_, "abcdef"), Code::kInvalidSecretCode));
  EXPECT_EQ(conn->session().phone(), alice_);
  conn->hello();
  EXPECT_TRUE(IsError(conn->connect(alice.key, carol_, alice.code), Code::kUserNotFound));
  EXPECT_EQ(conn->session().phone(), alice_);
  // Still alice: her messages go out from her.
  ASSERT_EQ(code_of(conn->one(message_request(alice, bob, "still me"))), 118);
  auto bob_conn = logged_in(bob);
  const auto replies = bob_conn->call(CheckWaitingMessages{}.to_json());
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[1]["senders_phone_number"], alice_);
}

TEST_F(SessionTest, ConnectingWhileLoggedInSwitchesAccounts) {
  const Account alice = register_account(alice_);
  const Account bob = register_account(bob_);
  auto conn = logged_in(alice);
  conn->hello();
  ASSERT_EQ(code_of(conn->connect(bob.key, bob_, bob.code)), 106);
  EXPECT_EQ(conn->session().phone(), bob_);
  ASSERT_EQ(code_of(conn->one(message_request(bob, alice, "from bob"))), 118);
  auto alice_conn = logged_in(alice);
  const auto replies = alice_conn->call(CheckWaitingMessages{}.to_json());
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[1]["senders_phone_number"], bob_);
  EXPECT_EQ(replies[1]["senders_public_key"], bob.key.public_key().pem());
}

// ===== Communication ====================================================================

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

  auto carol_conn = logged_in(carol);
  EXPECT_EQ(carol_conn->call(CheckWaitingMessages{}.to_json()),
            std::vector<Json>{Json({{"code", 112}, {"count", 0}})});

  auto bob_conn = logged_in(bob);
  const auto replies = bob_conn->call(CheckWaitingMessages{}.to_json());
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
  auto bob_conn = logged_in(bob);
  const auto replies = bob_conn->call(CheckWaitingMessages{}.to_json());
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[1]["senders_public_key"], alice.key.public_key().pem());
}

// ===== Waiting messages =================================================================

TEST_F(SessionTest, FetchReturnsOldestFirstWithRemainingCountsAndRespectsMax) {
  const Account alice = register_account(alice_);
  const Account bob = register_account(bob_);
  auto conn = logged_in(alice);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    const Json stored = conn->one(message_request(alice, bob, "m" + std::to_string(i)));
    ASSERT_EQ(code_of(stored), 118);
    ids.push_back(stored["message_id"]);
    time_.advance(seconds(1));
  }
  auto bob_conn = logged_in(bob);
  auto replies = bob_conn->call(Json{{"code", 202}, {"max", 3}});
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(replies[0]["count"], 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(replies[static_cast<std::size_t>(i + 1)]["message_id"],
              ids[static_cast<std::size_t>(i)]);
    EXPECT_EQ(replies[static_cast<std::size_t>(i + 1)]["remaining_messages"], 2 - i);
    EXPECT_EQ(replies[static_cast<std::size_t>(i + 1)]["stored_at"],
              FakeTime::kStartUnixMs + 1000 * i);
  }
  // Defaults (max 100, wait 0): all five.
  replies = bob_conn->call(Json{{"code", 202}});
  ASSERT_EQ(replies.size(), 6u);
  EXPECT_EQ(replies[5]["message_id"], ids[4]);
}

TEST_F(SessionTest, FetchRangesAre124) {
  Conn conn(*this, "peer");
  const Account alice = register_on(conn, alice_);
  for (const Json& request :
       {Json{{"code", 202}, {"max", 0}}, Json{{"code", 202}, {"max", 501}},
        Json{{"code", 202}, {"max", -1}}, Json{{"code", 202}, {"wait_seconds", -1}},
        Json{{"code", 202}, {"wait_seconds", 61}}, Json{{"code", 202}, {"max", "5"}},
        Json{{"code", 202}, {"max", 5.0}}, Json{{"code", 202}, {"wait_seconds", true}}}) {
    const Json reply = conn.one(request);
    const std::string member = request.contains("max") ? "max" : "wait_seconds";
    EXPECT_TRUE(IsError(reply, Code::kBadRequest, member)) << request.dump();
  }
  // The edges are fine (a non-empty mailbox, so wait 60 returns at once).
  ASSERT_EQ(code_of(conn.one(message_request(alice, alice, "x"))), 118);
  EXPECT_EQ(conn.call(Json{{"code", 202}, {"max", 500}, {"wait_seconds", 60}}).size(), 2u);
  EXPECT_EQ(conn.call(Json{{"code", 202}, {"max", 1}, {"wait_seconds", 0}}).size(), 2u);
}

TEST_F(SessionTest, AckDeletesAndUnacknowledgedMessagesComeAgainOnAnyConnection) {
  const Account alice = register_account(alice_);
  const Account bob = register_account(bob_);
  auto conn = logged_in(alice);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(conn->one(message_request(alice, bob, "x"))["message_id"]);
  const std::string for_alice = conn->one(message_request(alice, alice, "mine"))["message_id"];

  auto first = logged_in(bob);
  ASSERT_EQ(first->call(CheckWaitingMessages{}.to_json()).size(), 4u);
  // Another connection of bob's sees the same ids again (nothing was acknowledged).
  auto second = logged_in(bob);
  auto replies = second->call(CheckWaitingMessages{}.to_json());
  ASSERT_EQ(replies.size(), 4u);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(replies[static_cast<std::size_t>(i + 1)]["message_id"],
              ids[static_cast<std::size_t>(i)]);

  // Unknown ids, and alice's id, are ignored.
  const Json ack = second->one(AckMessages{{ids[1], "nope", for_alice}}.to_json());
  EXPECT_EQ(ack, Json({{"code", 121}, {"deleted", 1}, {"waiting", 2}}));
  replies = first->call(CheckWaitingMessages{}.to_json());
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[1]["message_id"], ids[0]);
  EXPECT_EQ(replies[2]["message_id"], ids[2]);
  EXPECT_EQ(store_->waiting(alice_), 1u);

  EXPECT_EQ(first->one(AckMessages{{ids[0], ids[2]}}.to_json()),
            Json({{"code", 121}, {"deleted", 2}, {"waiting", 0}}));
  EXPECT_EQ(first->one(AckMessages{{}}.to_json()),
            Json({{"code", 121}, {"deleted", 0}, {"waiting", 0}}));
  EXPECT_EQ(first->call(CheckWaitingMessages{}.to_json()).size(), 1u);
}

TEST_F(SessionTest, AckMemberTypesAre124) {
  Conn conn(*this, "peer");
  register_on(conn, alice_);
  for (const Json& request : {Json{{"code", 120}}, Json{{"code", 120}, {"message_ids", "id"}},
                              Json{{"code", 120}, {"message_ids", {"a", 1}}},
                              Json{{"code", 120}, {"message_ids", {{"a"}}}}}) {
    EXPECT_TRUE(IsError(conn.one(request), Code::kBadRequest, "message_ids")) << request.dump();
  }
}

TEST_F(SessionTest, LongPollReturnsWhenAMessageArrives) {
  const Account alice = register_account(alice_);
  const Account bob = register_account(bob_);
  auto bob_conn = logged_in(bob);
  auto alice_conn = logged_in(alice);
  std::latch started(1);
  auto polled = std::async(std::launch::async, [&] {
    started.count_down();
    return bob_conn->call(Json{{"code", 202}, {"wait_seconds", 60}});
  });
  started.wait();
  const Json stored = alice_conn->one(message_request(alice, bob, "wake up"));
  ASSERT_EQ(code_of(stored), 118);
  ASSERT_EQ(polled.wait_for(seconds(20)), std::future_status::ready)
      << "the long-poll was not woken";
  const auto replies = polled.get();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0]["count"], 1);
  EXPECT_EQ(replies[1]["message_id"], stored["message_id"]);
}

// Replies to pipelined requests are queued and written together; before the session waits,
// it sends what is queued, so an earlier reply never waits behind a slow request.
TEST_F(SessionTest, EarlierRepliesAreFlushedBeforeTheCodeIsDelivered) {
  Session session(context_, "pipelining");
  CollectingSink sink;
  session.handle(Hello{}.to_json(), sink);
  ASSERT_EQ(sink.replies.size(), 1u);
  EXPECT_TRUE(sink.flushed_at.empty()) << "HELLO never waits";
  std::vector<std::size_t> flushed_when_delivered;
  delivery_.on_deliver = [&] { flushed_when_delivered = sink.flushed_at; };
  session.handle(SendPhoneNumber{alice_, "alice@example.com"}.to_json(), sink);
  ASSERT_EQ(sink.replies.size(), 2u);
  EXPECT_EQ(code_of(sink.replies[1]), 115);
  EXPECT_EQ(flushed_when_delivered, std::vector<std::size_t>{1})
      << "the 101 goes out before the delivery";
}

TEST_F(SessionTest, ACodeIsNotDeliveredToAConnectionThatIsGone) {
  Session session(context_, "gone");
  BrokenSink sink;
  session.handle(Hello{}.to_json(), sink);
  session.handle(SendPhoneNumber{alice_, "alice@example.com"}.to_json(), sink);
  EXPECT_EQ(delivery_.count(alice_), 0u);
}

// Flushes are recorded from the thread that long-polls, and the first one is announced.
class ThreadSafeSink final : public ReplySink {
 public:
  Status send(const Json& reply) override {
    std::lock_guard lock(mutex_);
    replies_.push_back(reply);
    return {};
  }
  Status flush() override {
    std::lock_guard lock(mutex_);
    if (!announced_) first_flush_.set_value(replies_.size());
    announced_ = true;
    return {};
  }
  std::future<std::size_t> first_flush() { return first_flush_.get_future(); }
  std::vector<Json> replies() {
    std::lock_guard lock(mutex_);
    return replies_;
  }

 private:
  std::mutex mutex_;
  std::vector<Json> replies_;
  std::promise<std::size_t> first_flush_;
  bool announced_ = false;
};

TEST_F(SessionTest, EarlierRepliesAreFlushedBeforeALongPollWaits) {
  const Account alice = register_account(alice_);
  const Account bob = register_account(bob_);
  Session session(context_, "pipelining");
  ThreadSafeSink sink;
  auto flushed = sink.first_flush();
  session.handle(Hello{}.to_json(), sink);
  auto nonce = base64_decode(sink.replies().back()["nonce"].get<std::string>());
  ASSERT_TRUE(nonce.ok());
  session.handle(connect_request(alice.key, alice.phone, alice.code, nonce.value()), sink);
  ASSERT_EQ(code_of(sink.replies().back()), 106);
  session.handle(Json{{"code", 202}, {"wait_seconds", 0}}, sink);
  session.handle(Json{{"code", 120}, {"message_ids", {"00112233445566778899aabbccddeeff"}}}, sink);
  ASSERT_EQ(flushed.wait_for(seconds(0)), std::future_status::timeout) << "nothing waited yet";
  const std::size_t queued = sink.replies().size();

  // The mailbox is empty: the long-poll waits, and the replies before it must be out by then.
  auto polled = std::async(std::launch::async, [&] {
    session.handle(Json{{"code", 202}, {"wait_seconds", 60}}, sink);
  });
  ASSERT_EQ(flushed.wait_for(seconds(20)), std::future_status::ready)
      << "the queued replies wait behind the long-poll";
  EXPECT_EQ(flushed.get(), queued);
  ASSERT_EQ(code_of(logged_in(bob)->one(message_request(bob, alice, "wake up"))), 118);
  ASSERT_EQ(polled.wait_for(seconds(20)), std::future_status::ready)
      << "the long-poll was not woken";
  EXPECT_EQ(code_of(sink.replies()[queued]), 112);
}

class SmallMailboxSessionTest : public SessionTest {
 protected:
  static Limits small() {
    Limits limits;
    limits.mailbox_max_messages = 2;
    return limits;
  }
  SmallMailboxSessionTest() : SessionTest(small()) {}
};

TEST_F(SmallMailboxSessionTest, FullMailboxIs126UntilAcknowledged) {
  const Account alice = register_account(alice_);
  const Account bob = register_account(bob_);
  auto conn = logged_in(alice);
  const std::string first = conn->one(message_request(alice, bob, "1"))["message_id"];
  ASSERT_EQ(code_of(conn->one(message_request(alice, bob, "2"))), 118);
  EXPECT_TRUE(IsError(conn->one(message_request(alice, bob, "3")), Code::kMailboxFull));
  // Alice's own mailbox is not full.
  EXPECT_EQ(code_of(conn->one(message_request(alice, alice, "self"))), 118);
  auto bob_conn = logged_in(bob);
  ASSERT_EQ(code_of(bob_conn->one(AckMessages{{first}}.to_json())), 121);
  EXPECT_EQ(code_of(conn->one(message_request(alice, bob, "3"))), 118);
}

// ===== Errors never change the session's state ==========================================

TEST_F(SessionTest, ErrorsKeepTheSessionsState) {
  Conn conn(*this, "peer");
  const Account alice = register_on(conn, alice_);
  for (const Json& request : {Json{{"code", 999}}, Json{{"code", 200}, {"protocol", 9}},
                              Json{{"code", 102}, {"phone_number", 1}},
                              Json{{"code", 203}, {"recipients_phone_number", "+1"}},
                              Json{{"code", 202}, {"max", 0}}, Json{{"code", 103}}}) {
    const Json reply = conn.one(request);
    EXPECT_GE(code_of(reply), 100) << request.dump();
    EXPECT_EQ(conn.session().phone(), alice_) << request.dump();
  }
  EXPECT_EQ(code_of(conn.one(message_request(alice, alice, "ok"))), 118);
}

}  // namespace
}  // namespace shido::server
