// What the in-process Session tests (session_*_test.cc) share: a Session driven with parsed
// JSON on a fake clock, a seeded random source, a code delivery that keeps every code, and
// helpers that register and log in accounts. One file per part of the protocol uses it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "fake_time.h"
#include "server/session.h"
#include "shido/base64.h"
#include "shido/crypto/envelope.h"
#include "shido/protocol/messages.h"
#include "shido/protocol/text_message.h"
#include "support/test_support.h"

namespace shido::server::test {

using shido::test::code_of;
using std::chrono::seconds;

// A P-384 key and a compressed P-256 point: valid PEM, but not keys the protocol accepts.
inline constexpr const char* kP384Pem =
    "-----BEGIN PUBLIC KEY-----\n"
    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE+izOH2NfEgYuGhVzCN0aPAnUmX5Ynu9d\n"
    "khkZtULU+QKCzABVoRscCZM+5Lku6NQrHNqHS+hFVKOJr2VqZ8IaqZ06enKO1SXO\n"
    "6S5Pn7CxRPyvx+5sG7Iz0Thlt/wTPo4H\n"
    "-----END PUBLIC KEY-----\n";
inline constexpr const char* kCompressedP256Pem =
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
inline ::testing::AssertionResult IsError(const Json& reply, Code code,
                                          std::string_view mentions = {}) {
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
  // With another store, made from the test's clock.
  explicit SessionTest(const std::function<std::unique_ptr<Store>(const TimeSource&)>& make_store)
      : store_(make_store(time_)),
        context_{server_key_, *store_, delivery_, logger_, time_, rng_} {}

  // One connection: a Session and the replies it produced for the last request.
  class Conn {
   public:
    Conn(SessionTest& test, std::string peer)
        : test_(test), session_(test.context_, std::move(peer)) {}

    // Every reply to one request, in order.
    std::vector<Json> call(const Json& request) {
      sink_.replies.clear();
      last_after_ = session_.handle(request, sink_);
      session_.settle(sink_);  // as the connection does when no other request is waiting
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

  // HELLO and 102 for phone on conn; returns the code delivered (a failure is recorded when
  // none was).
  std::string request_code_on(Conn& conn, const std::string& phone) {
    conn.hello();
    EXPECT_EQ(code_of(conn.request_code(phone)), 115);
    return delivery_.last_code(phone);
  }

  // Registers phone on conn (HELLO, 102, 103) and leaves conn logged in.
  Account register_on(Conn& conn, const std::string& phone) {
    Account account{phone, KeyPair::generate(), request_code_on(conn, phone)};
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

  // What account's mailbox holds, fetched (202) on a new connection: the 112, then the 119s.
  std::vector<Json> fetched_by(const Account& account) {
    return logged_in(account)->call(CheckWaitingMessages{}.to_json());
  }

  // `times` wrong connect proofs for account on conn, each after a HELLO: five lock it.
  void fail_to_connect(Conn& conn, const Account& account, int times = 5) {
    for (int i = 0; i < times; ++i) {
      conn.hello();
      ASSERT_EQ(code_of(conn.connect(account.key, account.phone, "abcdef")), 109);
    }
  }

  // The retry_after of the 107 that the right proof gets while account is locked.
  int locked_retry_after(Conn& conn, const Account& account) {
    conn.hello();
    const Json locked = conn.connect(account.key, account.phone, account.code);
    EXPECT_TRUE(IsError(locked, Code::kConnectRequestNotAccepted));
    return locked.value("retry_after", -1);
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

}  // namespace shido::server::test
