// The client library in-process (register_account, Messenger) against the real
// shido-server: registration, login, messages both ways, duplicates, envelopes that fail
// authentication, key pins, and the rule that nothing is acknowledged before it is in
// the history.
#include "client/messenger.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <future>
#include <latch>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/commands.h"
#include "client_test_util.h"
#include "shido/base64.h"
#include "shido/crypto/random.h"
#include "shido/net/socket.h"
#include "shido/net/tls.h"
#include "shido/protocol/frame.h"
#include "shido/protocol/text_message.h"

namespace shido::client {
namespace {

using client_test::must;
using client_test::phone_number;
using client_test::raw_login;
using client_test::register_in_process;
using client_test::server_options;
using test::ServerProcess;
using test::TempDir;

class MessengerTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess(server_options()); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  // A fresh account for each test: phones never repeat within the suite.
  Profile new_account() {
    return register_in_process(*server_, home_.path(), phone_number(++next_phone_));
  }

  static Messenger connect(const Profile& profile) {
    return must(Messenger::connect(profile), "connect");
  }

  // What the server still holds for profile (fetched without acknowledging).
  static std::vector<WaitingMessage> waiting_on_server(const Profile& profile) {
    ProtocolClient raw = raw_login(*server_, profile);
    return must(raw.fetch(100, 0), "raw fetch");
  }

  static ServerProcess* server_;
  static int next_phone_;
  TempDir home_{"shido-messenger"};
};

ServerProcess* MessengerTest::server_ = nullptr;
int MessengerTest::next_phone_ = 100;

TEST_F(MessengerTest, RegisterPinsTheServerKeyAndSavesTheCode) {
  const std::string phone = phone_number(++next_phone_);
  std::string shown_fingerprint;
  std::string delivered;  // the code read from the outbox
  int asked = 0;
  RegisterRequest request{home_.path(),    phone,           "alice@example.com",
                          server_->host(), server_->port(), std::nullopt};
  auto profile = register_account(
      request,
      [&](const std::string& fingerprint, const std::string& retry) -> std::optional<std::string> {
        ++asked;
        shown_fingerprint = fingerprint;
        EXPECT_TRUE(retry.empty());
        auto code = server_->read_code(phone);
        if (!code) return std::nullopt;
        EXPECT_EQ(code->fingerprint, fingerprint);  // what came with the code is what was pinned
        delivered = code->code;
        return code->code;
      });
  ASSERT_TRUE(profile.ok()) << profile.error().message;
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(shown_fingerprint, server_->fingerprint());
  EXPECT_EQ(profile.value().server().key.fingerprint(), server_->fingerprint());
  EXPECT_EQ(profile.value().server().port, server_->port());

  auto opened = Profile::open(home_.path(), phone);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_TRUE(opened.value().registered());
  EXPECT_EQ(opened.value().code().value().as_string_view(), delivered);
  // Used, the code's file is gone from the server's outbox.
  EXPECT_FALSE(server_->read_code(phone));
  EXPECT_EQ(opened.value().email(), "alice@example.com");
}

TEST_F(MessengerTest, RegisterAsksAgainAfterAWrongCodeWhenAllowed) {
  const std::string phone = phone_number(++next_phone_);
  std::vector<std::string> reasons;
  RegisterRequest request{home_.path(),    phone,           "bob@example.com",
                          server_->host(), server_->port(), std::nullopt};
  auto profile = register_account(
      request,
      [&](const std::string&, const std::string& retry) -> std::optional<std::string> {
        reasons.push_back(retry);
        const std::string code = server_->read_code(phone)->code;
        return reasons.size() == 1 ? client_test::other_code(code) : code;
      },
      5);
  ASSERT_TRUE(profile.ok()) << profile.error().message;
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_EQ(reasons[0], "");
  EXPECT_EQ(reasons[1], "wrong code, 4 attempts left");
}

TEST_F(MessengerTest, RegisterWithOneTryReportsAWrongCodeAsASecurityFailure) {
  const std::string phone = phone_number(++next_phone_);
  RegisterRequest request{home_.path(),    phone,           "c@example.com",
                          server_->host(), server_->port(), std::nullopt};
  auto profile = register_account(
      request, [&](const std::string&, const std::string&) -> std::optional<std::string> {
        return client_test::other_code(server_->read_code(phone)->code);
      });
  ASSERT_FALSE(profile.ok());
  EXPECT_EQ(profile.error().server_code, Code::kInvalidSecretCode);
  EXPECT_EQ(profile.error().attempts_left, 4);
  EXPECT_EQ(exit_status(profile.error()), 3);
  EXPECT_FALSE(Profile::open(home_.path(), phone).ok() &&
               Profile::open(home_.path(), phone).value().registered());
}

TEST_F(MessengerTest, RegisterRefusesAnUnexpectedServerFingerprintBeforeAskingForACode) {
  const std::string phone = phone_number(++next_phone_);
  RegisterRequest request{home_.path(),    phone,           "d@example.com",
                          server_->host(), server_->port(), std::string(79, 'a')};
  bool asked = false;
  auto profile = register_account(
      request, [&](const std::string&, const std::string&) -> std::optional<std::string> {
        asked = true;
        return std::nullopt;
      });
  ASSERT_FALSE(profile.ok());
  EXPECT_EQ(profile.error().kind, Failure::kSecurity);
  EXPECT_NE(profile.error().message.find(server_->fingerprint()), std::string::npos)
      << profile.error().message;
  EXPECT_FALSE(asked);
  EXPECT_FALSE(server_->read_code(phone).has_value());  // no code was even requested
  EXPECT_TRUE(Profile::list(home_.path()).empty());
}

TEST_F(MessengerTest, SendAndFetchBothWays) {
  Profile alice = new_account();
  Profile bob = new_account();
  Messenger a = connect(alice);
  Messenger b = connect(bob);

  const std::int64_t before = now_ms();
  const std::string id_ab =
      must(a.send(bob.phone(), "Hi Bob, this is end-to-end encrypted."), "send a->b");
  const std::string id_ba =
      must(b.send(alice.phone(), "Hi Alice! \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d"), "send b->a");
  EXPECT_NE(id_ab, id_ba);

  FetchReport at_bob = must(b.fetch(0), "fetch bob");
  const std::int64_t after = now_ms();
  ASSERT_EQ(at_bob.messages.size(), 1u);
  EXPECT_EQ(at_bob.messages[0].id, id_ab);
  EXPECT_EQ(at_bob.messages[0].from, alice.phone());
  EXPECT_EQ(at_bob.messages[0].message.body, "Hi Bob, this is end-to-end encrypted.");
  // Both clocks are this machine's: each time lies between the two readings around them.
  EXPECT_GE(at_bob.messages[0].message.sent_at, before);
  EXPECT_LE(at_bob.messages[0].message.sent_at, after);
  EXPECT_GE(at_bob.messages[0].stored_at_ms, before);
  EXPECT_LE(at_bob.messages[0].stored_at_ms, after);
  EXPECT_TRUE(at_bob.warnings.empty());
  EXPECT_EQ(at_bob.held + at_bob.failed_authentication + at_bob.duplicates, 0);

  FetchReport at_alice = must(a.fetch(0), "fetch alice");
  ASSERT_EQ(at_alice.messages.size(), 1u);
  EXPECT_EQ(at_alice.messages[0].id, id_ba);
  EXPECT_EQ(at_alice.messages[0].from, bob.phone());
  EXPECT_EQ(at_alice.messages[0].message.body, "Hi Alice! \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d");

  // Acknowledged: nothing is left on the server, a second fetch brings nothing.
  EXPECT_TRUE(waiting_on_server(bob).empty());
  EXPECT_TRUE(must(b.fetch(0), "fetch bob again").messages.empty());

  // Both directions are in each history; each side pinned the other's key.
  const std::vector<Json> history = bob.history();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0]["direction"], "out");
  EXPECT_EQ(history[0]["id"], id_ba);
  EXPECT_EQ(history[1]["direction"], "in");
  EXPECT_EQ(history[1]["id"], id_ab);
  EXPECT_EQ(history[1]["from"], alice.phone());
  EXPECT_EQ(history[1]["body"], "Hi Bob, this is end-to-end encrypted.");
  ASSERT_TRUE(bob.contact(alice.phone()).has_value());
  EXPECT_EQ(bob.contact(alice.phone())->key, alice.key().public_key());
  ASSERT_TRUE(alice.contact(bob.phone()).has_value());
  EXPECT_EQ(alice.contact(bob.phone())->key, bob.key().public_key());
}

TEST_F(MessengerTest, ManyMessagesComeInTheOrderSent) {
  Profile alice = new_account();
  Profile bob = new_account();
  Messenger a = connect(alice);
  for (int i = 0; i < 120; ++i)
    (void)must(a.send(bob.phone(), "message " + std::to_string(i)), "send");
  Messenger b = connect(bob);
  FetchReport report = must(b.fetch(0), "fetch");  // more than one batch of 100
  ASSERT_EQ(report.messages.size(), 120u);
  for (int i = 0; i < 120; ++i)
    EXPECT_EQ(report.messages[static_cast<std::size_t>(i)].message.body,
              "message " + std::to_string(i));
  EXPECT_TRUE(waiting_on_server(bob).empty());
}

TEST_F(MessengerTest, TwoProcessesFetchingOneAccountAtOnceShowEachMessageOnce) {
  // Two Messengers on one profile directory stand for the menu and a scripted fetch. Both
  // get the same unacknowledged batch; the profile lock makes the second see the first's
  // history and count duplicates instead of writing every message twice.
  Profile alice = new_account();
  Profile bob = new_account();
  Messenger a = connect(alice);
  std::set<std::string> sent;
  for (int i = 0; i < 50; ++i)
    sent.insert(must(a.send(bob.phone(), "m" + std::to_string(i)), "send"));
  Messenger first = connect(bob);
  Messenger second = connect(bob);
  std::latch ready(2);
  auto fetch_on = [&](Messenger& messenger) {
    ready.arrive_and_wait();
    return messenger.fetch(0);
  };
  auto one = std::async(std::launch::async, fetch_on, std::ref(first));
  auto two = std::async(std::launch::async, fetch_on, std::ref(second));
  const FetchReport report_one = must(one.get(), "first fetch");
  const FetchReport report_two = must(two.get(), "second fetch");
  EXPECT_EQ(report_one.messages.size() + report_two.messages.size(), sent.size());
  std::multiset<std::string> in_history;
  for (const Json& entry : bob.history()) in_history.insert(entry.at("id").get<std::string>());
  EXPECT_EQ(in_history.size(), sent.size()) << "a message was written twice, or lost";
  EXPECT_EQ(std::set<std::string>(in_history.begin(), in_history.end()), sent);
  EXPECT_TRUE(waiting_on_server(bob).empty());
}

TEST_F(MessengerTest, ADamagedPinStopsTheFetchAndLeavesTheMessagesOnTheServer) {
  Profile alice = new_account();
  Profile bob = new_account();
  Messenger a = connect(alice);
  Messenger b = connect(bob);
  (void)must(a.send(bob.phone(), "first"), "send");
  ASSERT_EQ(must(b.fetch(0), "fetch").messages.size(), 1u);  // alice is pinned now
  const std::string contacts = bob.directory() + "/contacts.json";
  Json damaged = Json::parse(client_test::read_file_or_empty(contacts));
  damaged[alice.phone()]["public_key"] = 42;
  client_test::overwrite_file(contacts, damaged.dump());
  (void)must(a.send(bob.phone(), "second"), "send");
  auto fetched = b.fetch(0);
  ASSERT_FALSE(fetched.ok());
  EXPECT_EQ(fetched.error().kind, Failure::kSecurity);
  EXPECT_NE(fetched.error().message.find("damaged"), std::string::npos) << fetched.error().message;
  EXPECT_EQ(waiting_on_server(bob).size(), 1u);  // not acknowledged: nothing lost
}

TEST_F(MessengerTest, AMessageToOneselfIsNotTakenForADuplicate) {
  Profile alice = new_account();
  Messenger a = connect(alice);
  const std::string id = must(a.send(alice.phone(), "note to self"), "send");
  FetchReport report = must(a.fetch(0), "fetch");
  ASSERT_EQ(report.messages.size(), 1u);
  EXPECT_EQ(report.messages[0].id, id);
  EXPECT_EQ(report.messages[0].message.body, "note to self");
  EXPECT_EQ(report.duplicates, 0);
}

TEST_F(MessengerTest, FetchWaitsForAMessageThatArrivesLater) {
  Profile alice = new_account();
  Profile bob = new_account();
  Messenger b = connect(bob);
  std::thread sender([&] {
    Messenger a = connect(alice);
    (void)must(a.send(bob.phone(), "worth the wait"), "send");
  });
  FetchReport report = must(b.fetch(20), "fetch with wait");
  sender.join();
  // The long poll returns on the first message; the sender may not have finished yet when
  // it started, but it has when the fetch returns.
  ASSERT_EQ(report.messages.size(), 1u);
  EXPECT_EQ(report.messages[0].message.body, "worth the wait");
}

TEST_F(MessengerTest, AMessageFetchedButNotAcknowledgedComesAgainAndIsShownOnce) {
  Profile alice = new_account();
  Profile bob = new_account();
  Messenger a = connect(alice);
  const std::string id = must(a.send(bob.phone(), "once"), "send");

  // Another connection fetched it and died before acknowledging.
  ASSERT_EQ(waiting_on_server(bob).size(), 1u);

  Messenger b = connect(bob);
  FetchReport first = must(b.fetch(0), "fetch");
  ASSERT_EQ(first.messages.size(), 1u);
  EXPECT_EQ(first.messages[0].id, id);
  EXPECT_EQ(first.duplicates, 0);
  EXPECT_TRUE(waiting_on_server(bob).empty());
  EXPECT_EQ(bob.history().size(), 1u);
}

TEST_F(MessengerTest, AMessageAlreadyInTheHistoryIsDroppedAsADuplicateAndAcknowledged) {
  Profile alice = new_account();
  Profile bob = new_account();
  Messenger a = connect(alice);
  const std::string id = must(a.send(bob.phone(), "seen before"), "send");
  const std::string fresh = must(a.send(bob.phone(), "new"), "send");

  // As after a crash between writing the history and acknowledging.
  ASSERT_TRUE(
      bob.append_history(
             {{{"direction", "in"}, {"id", id}, {"from", alice.phone()}, {"body", "seen before"}}})
          .ok());

  Messenger b = connect(bob);
  FetchReport report = must(b.fetch(0), "fetch");
  EXPECT_EQ(report.duplicates, 1);
  ASSERT_EQ(report.messages.size(), 1u);
  EXPECT_EQ(report.messages[0].id, fresh);
  EXPECT_EQ(report.messages[0].message.body, "new");
  EXPECT_TRUE(waiting_on_server(bob).empty());  // the duplicate was acknowledged too
  EXPECT_EQ(bob.history().size(), 2u);          // and not written twice
}

// A well-formed 110 whose envelope members are random bytes of the right sizes: the server
// stores it (it cannot check the MAC); the recipient cannot open it.
std::string send_forged(ProtocolClient& raw, const std::string& to) {
  Json request = {{"code", 110},
                  {"recipients_phone_number", to},
                  {"salt", base64_encode(random_bytes(16))},
                  {"iv_for_wrapped_key", base64_encode(random_bytes(16))},
                  {"wrapped_aes_key", base64_encode(random_bytes(48))},
                  {"iv_for_message", base64_encode(random_bytes(16))},
                  {"encrypted_message", base64_encode(random_bytes(64))},
                  {"mac", base64_encode(random_bytes(32))}};
  (void)must(raw.send(request), "send 110");
  Json reply = must(raw.receive(), "receive 118");
  if (reply.value("code", 0) != 118)
    throw std::runtime_error("forged envelope not stored: " + reply.dump());
  return reply["message_id"].get<std::string>();
}

TEST_F(MessengerTest, AnEnvelopeThatFailsAuthenticationIsReportedAcknowledgedAndDropped) {
  Profile mallory = new_account();
  Profile bob = new_account();
  ProtocolClient raw = raw_login(*server_, mallory);
  const std::string forged = send_forged(raw, bob.phone());
  const std::string genuine = must(connect(mallory).send(bob.phone(), "genuine"), "send");
  ASSERT_EQ(waiting_on_server(bob).size(), 2u);

  Messenger b = connect(bob);
  FetchReport report = must(b.fetch(0), "fetch");
  EXPECT_EQ(report.failed_authentication, 1);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("failed authentication"), std::string::npos)
      << report.warnings[0];
  EXPECT_NE(report.warnings[0].find(mallory.phone()), std::string::npos) << report.warnings[0];
  ASSERT_EQ(report.messages.size(), 1u);  // the genuine one still comes through
  EXPECT_EQ(report.messages[0].id, genuine);
  EXPECT_EQ(report.messages[0].message.body, "genuine");

  EXPECT_TRUE(waiting_on_server(bob).empty());  // acknowledged: the server no longer has it
  const std::vector<Json> history = bob.history();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0]["id"], forged);
  EXPECT_EQ(history[0]["status"], "dropped");
  EXPECT_FALSE(history[0].contains("body"));

  // The dropped id is known: should the server hand it out again, it is not re-reported.
  EXPECT_EQ(bob.known_message_ids().count(forged), 1u);
}

TEST_F(MessengerTest, NothingIsAcknowledgedBeforeItIsInTheHistory) {
  Profile alice = new_account();
  Profile bob = new_account();
  const std::string id = must(connect(alice).send(bob.phone(), "must not be lost"), "send");

  // history.jsonl cannot be written (a directory stands in its place).
  const std::string history_path = bob.directory() + "/history.jsonl";
  ASSERT_EQ(::mkdir(history_path.c_str(), 0700), 0);
  {
    Messenger b = connect(bob);
    auto report = b.fetch(0);
    ASSERT_FALSE(report.ok());
    EXPECT_NE(report.error().message.find("history.jsonl"), std::string::npos)
        << report.error().message;
  }
  // Not acknowledged: the server still has it.
  std::vector<WaitingMessage> still = waiting_on_server(bob);
  ASSERT_EQ(still.size(), 1u);
  EXPECT_EQ(still[0].message_id, id);

  // Once the history can be written, the message is delivered and then acknowledged.
  ASSERT_EQ(::rmdir(history_path.c_str()), 0);
  Messenger b = connect(bob);
  FetchReport report = must(b.fetch(0), "fetch");
  ASSERT_EQ(report.messages.size(), 1u);
  EXPECT_EQ(report.messages[0].message.body, "must not be lost");
  EXPECT_TRUE(waiting_on_server(bob).empty());
  ASSERT_EQ(bob.history().size(), 1u);
  EXPECT_EQ(bob.history()[0]["body"], "must not be lost");
}

TEST_F(MessengerTest, AHeldMessageIsNotAcknowledgedBeforeItIsSavedEither) {
  Profile alice = new_account();
  Profile bob = new_account();
  Profile carol = new_account();
  // Bob pinned another key for Alice than the one she has.
  ASSERT_TRUE(bob.pin_contact(alice.phone(), carol.key().public_key(), now_ms()).ok());
  (void)must(connect(alice).send(bob.phone(), "held"), "send");

  const std::string held_path = bob.directory() + "/held.jsonl";
  ASSERT_EQ(::mkdir(held_path.c_str(), 0700), 0);
  {
    Messenger b = connect(bob);
    EXPECT_FALSE(b.fetch(0).ok());
  }
  EXPECT_EQ(waiting_on_server(bob).size(), 1u);
  ASSERT_EQ(::rmdir(held_path.c_str()), 0);
  Messenger b = connect(bob);
  FetchReport report = must(b.fetch(0), "fetch");
  EXPECT_EQ(report.held, 1);
  EXPECT_TRUE(waiting_on_server(bob).empty());
  EXPECT_EQ(bob.held().size(), 1u);
}

TEST_F(MessengerTest, AHeldMessageThatComesAgainIsADuplicateNotHeldTwice) {
  Profile alice = new_account();
  Profile bob = new_account();
  Profile carol = new_account();
  ASSERT_TRUE(bob.pin_contact(alice.phone(), carol.key().public_key(), now_ms()).ok());
  (void)must(connect(alice).send(bob.phone(), "only once"), "send");

  // As after a crash between saving the held message and acknowledging it.
  const std::vector<WaitingMessage> waiting = waiting_on_server(bob);
  ASSERT_EQ(waiting.size(), 1u);
  ASSERT_TRUE(bob.append_held({waiting[0].to_json()}).ok());

  Messenger b = connect(bob);
  FetchReport report = must(b.fetch(0), "fetch");
  EXPECT_EQ(report.held, 0);
  EXPECT_EQ(report.duplicates, 1);
  EXPECT_TRUE(waiting_on_server(bob).empty());
  EXPECT_EQ(bob.held().size(), 1u);

  FetchReport accepted =
      must(b.accept_new_key(alice.phone(), alice.key().public_key().fingerprint()), "accept");
  ASSERT_EQ(accepted.messages.size(), 1u);
  EXPECT_EQ(accepted.messages[0].message.body, "only once");
  EXPECT_EQ(bob.history().size(), 1u);
}

TEST_F(MessengerTest, AChangedContactKeyHoldsMessagesBackUntilAccepted) {
  Profile alice = new_account();
  Profile bob = new_account();
  Profile carol = new_account();
  ASSERT_TRUE(bob.pin_contact(alice.phone(), carol.key().public_key(), now_ms()).ok());
  const std::string id = must(connect(alice).send(bob.phone(), "behind the new key"), "send");

  Messenger b = connect(bob);
  FetchReport report = must(b.fetch(0), "fetch");
  EXPECT_TRUE(report.messages.empty());
  EXPECT_EQ(report.held, 1);
  EXPECT_TRUE(report.warnings.empty());
  ASSERT_EQ(report.key_changes.size(), 1u);
  EXPECT_EQ(report.key_changes[0].phone, alice.phone());
  EXPECT_EQ(report.key_changes[0].pinned, carol.key().public_key());
  ASSERT_EQ(report.key_changes[0].offered.size(), 1u);
  EXPECT_EQ(report.key_changes[0].offered[0], alice.key().public_key());
  EXPECT_EQ(report.key_changes[0].held_messages, 1);
  EXPECT_TRUE(waiting_on_server(bob).empty());  // kept locally, not blocking the mailbox
  EXPECT_TRUE(bob.history().empty());

  // Sending to the changed contact is refused as well.
  auto refused = b.send(alice.phone(), "reply");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, Failure::kSecurity);
  EXPECT_NE(refused.error().message.find(carol.key().public_key().fingerprint()),
            std::string::npos);
  EXPECT_NE(refused.error().message.find(alice.key().public_key().fingerprint()),
            std::string::npos);

  // A fingerprint that is not the new key's is refused, and nothing changes.
  auto wrong = b.accept_new_key(alice.phone(), KeyPair::generate().public_key().fingerprint());
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().kind, Failure::kSecurity);
  EXPECT_NE(wrong.error().message.find(alice.key().public_key().fingerprint()), std::string::npos);
  EXPECT_EQ(bob.contact(alice.phone())->key, carol.key().public_key());
  EXPECT_EQ(bob.held().size(), 1u);

  // The fingerprint the person checked, however they wrote it down.
  std::string typed = alice.key().public_key().fingerprint();
  std::erase(typed, ' ');
  std::transform(typed.begin(), typed.end(), typed.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  FetchReport accepted = must(b.accept_new_key(alice.phone(), typed), "accept");
  ASSERT_EQ(accepted.messages.size(), 1u);
  EXPECT_EQ(accepted.messages[0].id, id);
  EXPECT_EQ(accepted.messages[0].message.body, "behind the new key");
  EXPECT_TRUE(accepted.key_changes.empty());
  EXPECT_TRUE(bob.held().empty());
  EXPECT_EQ(bob.contact(alice.phone())->key, alice.key().public_key());
  ASSERT_EQ(bob.history().size(), 1u);
  EXPECT_EQ(bob.history()[0]["body"], "behind the new key");
  (void)must(b.send(alice.phone(), "reply"), "send after accepting");
}

TEST_F(MessengerTest, AcceptingOneOfTwoNewKeysOpensOnlyWhatCameWithIt) {
  Profile alice = new_account();
  Profile bob = new_account();
  Profile carol = new_account();
  const KeyPair stale = KeyPair::generate();
  // Bob's pin for Alice is a key she never had; then two messages come, one with her real
  // key, and one, as a hostile server might, with Carol's key under Alice's number.
  ASSERT_TRUE(bob.pin_contact(alice.phone(), stale.public_key(), now_ms()).ok());
  (void)must(connect(alice).send(bob.phone(), "really alice"), "send");
  const std::vector<WaitingMessage> real = waiting_on_server(bob);
  ASSERT_EQ(real.size(), 1u);
  auto forged_envelope = seal_text_message(carol.key(), alice.phone(), bob.key().public_key(),
                                           bob.phone(), TextMessage{"not alice", now_ms()});
  ASSERT_TRUE(forged_envelope.ok());
  const WaitingMessage forged{"f0f0",
                              alice.phone(),
                              carol.key().public_key().pem(),
                              now_ms(),
                              to_wire(forged_envelope.value()),
                              0};
  ASSERT_TRUE(bob.append_held({forged.to_json()}).ok());

  Messenger b = connect(bob);
  FetchReport report = must(b.fetch(0), "fetch");
  ASSERT_EQ(report.key_changes.size(), 1u);
  EXPECT_EQ(report.key_changes[0].offered,
            (std::vector<PublicKey>{carol.key().public_key(), alice.key().public_key()}));
  EXPECT_EQ(report.key_changes[0].held_messages, 2);

  FetchReport accepted =
      must(b.accept_new_key(alice.phone(), alice.key().public_key().fingerprint()), "accept");
  ASSERT_EQ(accepted.messages.size(), 1u);
  EXPECT_EQ(accepted.messages[0].message.body, "really alice");
  // The other stays held, now a change from the key just pinned.
  ASSERT_EQ(bob.held().size(), 1u);
  EXPECT_EQ(bob.held()[0]["message_id"], "f0f0");
  ASSERT_EQ(accepted.key_changes.size(), 1u);
  EXPECT_EQ(accepted.key_changes[0].offered, (std::vector<PublicKey>{carol.key().public_key()}));
  EXPECT_EQ(bob.contact(alice.phone())->key, alice.key().public_key());
}

Envelope seal_for(const Profile& from, const Profile& to, const std::string& body) {
  return must(seal_text_message(from.key(), from.phone(), to.key().public_key(), to.phone(),
                                TextMessage{body, now_ms()}),
              "seal");
}

// Stores one envelope of `from` under `copies` new ids, as a server replaying it would
// hand it out: the sender's raw connection sends the same wire envelope again.
std::vector<std::string> store_copies(const ServerProcess& server, const Profile& from,
                                      const std::string& to, const Envelope& envelope, int copies) {
  ProtocolClient raw = raw_login(server, from);
  std::vector<std::string> ids;
  for (int i = 0; i < copies; ++i)
    ids.push_back(must(raw.send_envelope(to, envelope), "send_envelope"));
  raw.bye();
  return ids;
}

TEST_F(MessengerTest, AReplayedEnvelopeIsShownOnceAcknowledgedAndRememberedAcrossRestarts) {
  Profile alice = new_account();
  Profile bob = new_account();
  const Envelope envelope = seal_for(alice, bob, "pay Bob $100");
  const std::vector<std::string> ids = store_copies(*server_, alice, bob.phone(), envelope, 3);
  ASSERT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 3u);  // three ids, one envelope

  FetchReport report = must(connect(bob).fetch(0), "fetch");
  ASSERT_EQ(report.messages.size(), 1u);
  EXPECT_EQ(report.messages[0].id, ids[0]);
  EXPECT_EQ(report.messages[0].message.body, "pay Bob $100");
  EXPECT_EQ(report.replays, 2);
  ASSERT_EQ(report.warnings.size(), 2u);
  EXPECT_EQ(report.warnings[0], "a message from " + alice.phone() +
                                    " repeats one already received (the server delivered it "
                                    "again under a new id) and was dropped");
  EXPECT_TRUE(waiting_on_server(bob).empty());  // the replays are acknowledged too

  const std::vector<Json> history = bob.history();
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0]["body"], "pay Bob $100");
  for (std::size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(history[i]["id"], ids[i]);
    EXPECT_EQ(history[i]["status"], "dropped");
    EXPECT_EQ(history[i]["reason"], "replay of a message already received");
    EXPECT_FALSE(history[i].contains("body"));
  }
  EXPECT_EQ(client_test::file_mode(bob.directory() + "/accepted.jsonl"), 0600u);

  // A client started afresh (the record read from disk) drops a fourth copy as well, and a
  // new message from the same sender still comes through.
  const std::string fourth = store_copies(*server_, alice, bob.phone(), envelope, 1).at(0);
  const std::string fresh = must(connect(alice).send(bob.phone(), "and a new one"), "send");
  Profile reopened = must(Profile::open(home_.path(), bob.phone()), "open");
  report = must(connect(reopened).fetch(0), "fetch again");
  ASSERT_EQ(report.messages.size(), 1u);
  EXPECT_EQ(report.messages[0].id, fresh);
  EXPECT_EQ(report.replays, 1);
  EXPECT_TRUE(waiting_on_server(bob).empty());
  EXPECT_EQ(reopened.history().at(3)["id"], fourth);
  EXPECT_EQ(reopened.history().at(3)["status"], "dropped");
}

TEST_F(MessengerTest, AReplayHeldBehindAChangedKeyIsOpenedOnceWhenTheKeyIsAccepted) {
  Profile alice = new_account();
  Profile bob = new_account();
  Profile carol = new_account();
  ASSERT_TRUE(bob.pin_contact(alice.phone(), carol.key().public_key(), now_ms()).ok());
  const Envelope envelope = seal_for(alice, bob, "pay Bob $100");
  const std::vector<std::string> ids = store_copies(*server_, alice, bob.phone(), envelope, 2);

  Messenger b = connect(bob);
  FetchReport report = must(b.fetch(0), "fetch");
  EXPECT_EQ(report.held, 2);
  report = must(b.accept_new_key(alice.phone(), alice.key().public_key().fingerprint()), "accept");
  ASSERT_EQ(report.messages.size(), 1u);
  EXPECT_EQ(report.messages[0].id, ids[0]);
  EXPECT_EQ(report.replays, 1);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("repeats one already received"), std::string::npos);
  const std::vector<Json> history = bob.history();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1]["id"], ids[1]);
  EXPECT_EQ(history[1]["status"], "dropped");
  EXPECT_TRUE(bob.held().empty());

  // Delivered once more after the accept: dropped at the fetch.
  (void)store_copies(*server_, alice, bob.phone(), envelope, 1);
  report = must(b.fetch(0), "fetch again");
  EXPECT_TRUE(report.messages.empty());
  EXPECT_EQ(report.replays, 1);
  EXPECT_EQ(report.held, 0);
}

// Just enough of a Shido server to log anyone in, hand over `waiting` at the first fetch
// and acknowledge what comes: as hostile a server as the client can meet.
class ScriptedServer {
 public:
  ScriptedServer(const KeyPair& key, std::vector<WaitingMessage> waiting)
      : key_(key),
        waiting_(std::move(waiting)),
        listener_(must(listen_tcp("127.0.0.1", 0), "listen")),
        port_(must(local_port(listener_.get()), "port")),
        thread_([this] { serve(); }) {}
  ~ScriptedServer() { thread_.join(); }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  void serve() {
    UniqueFd connection(::accept(listener_.get(), nullptr, nullptr));
    // TLS with the scripted key, as a real server speaks.
    const TlsServer tls = must(TlsServer::create(key_), "tls");
    auto stream = tls.accept(connection.get(), deadline_in(std::chrono::seconds(30)),
                             std::chrono::seconds(30));
    if (!stream.ok()) return;
    FrameReader reader(*stream.value());
    for (;;) {
      auto frame = reader.next();
      if (!frame.ok()) return;
      const Json request = must(parse_frame_json(frame.value()), "parse");
      std::string replies;
      const auto reply = [&](const Json& json) { append_frame(replies, dump_json(json)); };
      switch (frame_code(request)) {
        case 200:
          reply(ServerHello{1, key_.public_key().pem(), base64_encode(random_bytes(32))}.to_json());
          break;
        case 201:
          reply(ConnectAccepted{}.to_json());
          break;
        case 202:
          reply(WaitingApproved{static_cast<int>(waiting_.size())}.to_json());
          for (const WaitingMessage& message : waiting_) reply(message.to_json());
          waiting_.clear();
          break;
        case 120:
          reply(AckOk{static_cast<int>(request["message_ids"].size()), 0}.to_json());
          break;
        default:
          return;  // 199 and anything else: the end
      }
      if (!stream.value()->send(replies).ok()) return;
    }
  }

  const KeyPair& key_;
  std::vector<WaitingMessage> waiting_;
  UniqueFd listener_;
  std::uint16_t port_;
  std::thread thread_;
};

TEST_F(MessengerTest, ASenderThatIsNotAPhoneNumberIsDroppedNeverShownNorPinned) {
  const KeyPair server_key = KeyPair::generate();
  const KeyPair sender = KeyPair::generate();
  const KeyPair own = KeyPair::generate();
  const std::string phone = phone_number(++next_phone_);
  // Terminal control text, passed off as a phone number.
  const std::string fake_sender = "\x1b[2J\x1b[H+15550000001";
  auto envelope = seal_text_message(sender, fake_sender, own.public_key(), phone,
                                    TextMessage{"clear screen", now_ms()});
  ASSERT_TRUE(envelope.ok());
  ScriptedServer hostile(server_key, {WaitingMessage{"bad1", fake_sender, sender.public_key().pem(),
                                                     now_ms(), to_wire(envelope.value()), 0}});
  Profile profile =
      must(Profile::create(home_.path(), phone, "me@example.com", own,
                           ServerPin{"127.0.0.1", hostile.port(), server_key.public_key()}),
           "create");
  ASSERT_TRUE(profile.save_code(as_bytes("123456")).ok());

  Messenger messenger = connect(profile);
  FetchReport report = must(messenger.fetch(0), "fetch");
  messenger.bye();
  EXPECT_TRUE(report.messages.empty());
  EXPECT_EQ(report.failed_authentication, 1);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("not a phone number"), std::string::npos);
  EXPECT_EQ(report.warnings[0].find('\x1b'), std::string::npos);
  EXPECT_TRUE(profile.contacts().empty());
  EXPECT_TRUE(profile.key_changes().empty());
  ASSERT_EQ(profile.history().size(), 1u);
  EXPECT_EQ(profile.history()[0]["status"], "dropped");
}

TEST_F(MessengerTest, AChangedServerKeyStopsTheLoginWithBothFingerprints) {
  Profile alice = new_account();
  // Rewrite the pin on disk, as if the server had been another one at registration.
  const KeyPair other = KeyPair::generate();
  const std::string path = alice.directory() + "/server.json";
  Json pin = Json::parse(client_test::read_file_or_empty(path));
  pin["server_public_key"] = other.public_key().pem();
  client_test::overwrite_file(path, pin.dump());
  auto reopened = Profile::open(home_.path(), alice.phone());
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;

  auto connected = Messenger::connect(reopened.value());
  ASSERT_FALSE(connected.ok());
  EXPECT_EQ(connected.error().kind, Failure::kSecurity);
  EXPECT_EQ(exit_status(connected.error()), 3);
  EXPECT_NE(connected.error().message.find(other.public_key().fingerprint()), std::string::npos);
  EXPECT_NE(connected.error().message.find(server_->fingerprint()), std::string::npos);
}

TEST_F(MessengerTest, AWrongCodeIsRefusedWithAttemptsLeft) {
  Profile alice = new_account();
  const std::string real(alice.code().value().as_string_view());
  ASSERT_TRUE(alice.save_code(as_bytes(client_test::other_code(real))).ok());
  auto connected = Messenger::connect(alice);
  ASSERT_FALSE(connected.ok());
  EXPECT_EQ(connected.error().server_code, Code::kInvalidSecretCode);
  EXPECT_EQ(connected.error().attempts_left, 4);
  EXPECT_EQ(exit_status(connected.error()), 3);
}

TEST_F(MessengerTest, SendingToAnUnknownPhoneIsRefusedWith131) {
  Profile alice = new_account();
  Messenger a = connect(alice);
  auto sent = a.send(phone_number(999'999), "anyone?");
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().server_code, Code::kUserNotFound);
  EXPECT_EQ(exit_status(sent.error()), 2);
  EXPECT_TRUE(alice.history().empty());
  EXPECT_FALSE(alice.contact(phone_number(999'999)).has_value());
}

}  // namespace
}  // namespace shido::client
