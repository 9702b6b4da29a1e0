// A server that lost its accounts (a memory store restarted on its data directory: the same
// key, no accounts), met by the real shido-client binary: every command that logs in says
// plainly that the server no longer knows the account and prints the command that mends
// it; `register` on the account here registers the same key again with a new code (the
// account's e-mail address by default), keeping contacts, pins and history, so that
// contacts' pins of it stay valid. A server that still knows the account is not asked for a
// code, and the pinned server key is checked as always.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "client_test_util.h"

namespace shido::client_test {
namespace {

using testing::HasSubstr;
using testing::Not;

// What an account keeps on disk, byte for byte.
struct AccountFiles {
  std::string key, server, contacts, history, held, code;
};

AccountFiles files_of(const std::string& home, const std::string& phone) {
  const std::string account = home + "/" + phone + "/";
  return {
      read_file_or_empty(account + "key.pem"),       read_file_or_empty(account + "server.json"),
      read_file_or_empty(account + "contacts.json"), read_file_or_empty(account + "history.jsonl"),
      read_file_or_empty(account + "held.jsonl"),    read_file_or_empty(account + "code")};
}

// Everything but the code is as it was (the code is what registering again replaces).
void expect_kept(const AccountFiles& now, const AccountFiles& before) {
  EXPECT_FALSE(before.key.empty());
  EXPECT_EQ(now.key, before.key);
  EXPECT_EQ(now.server, before.server);
  EXPECT_EQ(now.contacts, before.contacts);
  EXPECT_EQ(now.history, before.history);
  EXPECT_EQ(now.held, before.held);
}

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

class RegisterAgainTest : public testing::Test {
 protected:
  // Stops the first server and starts it again on its data directory, a memory store: the
  // same key, no accounts. Its codes go to its log, with the address each was sent for.
  ServerProcess& restart() {
    first_->stop(SIGTERM);
    first_.reset();
    ServerProcess::Options options = memory_server_options(data_.path());
    options.use_outbox = false;
    again_ = std::make_unique<ServerProcess>(options);
    return *again_;
  }

  TempDir root_{"shido-again"};
  TempDir data_{"shido-data"};
  std::string alice_home_ = root_.path() + "/alice";
  std::string bob_home_ = root_.path() + "/bob";
  std::unique_ptr<ServerProcess> first_ =
      std::make_unique<ServerProcess>(memory_server_options(data_.path()));
  std::unique_ptr<ServerProcess> again_;
};

TEST_F(RegisterAgainTest, TheClientSaysTheServerLostTheAccountAndRegistersTheSameKeyAgain) {
  const std::string alice = phone_number(501);
  const std::string bob = phone_number(502);
  const std::string fingerprint = first_->fingerprint();
  ASSERT_EQ(register_cli(*first_, alice_home_, alice).status, 0);
  // Bob registers with his own address: registering again uses it by default.
  const RunResult bob_registered = run_register_typing_code(
      *first_, at(bob_home_, *first_, {"register", "--phone", bob, "--email", "bob@example.com"}),
      bob);
  ASSERT_EQ(bob_registered.status, 0) << bob_registered;
  ASSERT_EQ(run_client(at(alice_home_, *first_, {"send", "--to", bob, "before"})).status, 0);
  const RunResult first_fetch = run_client(at(bob_home_, *first_, {"fetch"}));  // pins Alice
  ASSERT_EQ(first_fetch.status, 0) << first_fetch;
  ASSERT_THAT(first_fetch.out, HasSubstr(alice + ": before"));
  ASSERT_EQ(run_client(at(bob_home_, *first_, {"contacts", "--verify", alice})).status, 0);
  const PublicKey alice_key = open_profile(alice_home_, alice).key().public_key();
  const PublicKey bob_key = open_profile(bob_home_, bob).key().public_key();
  const AccountFiles alice_before = files_of(alice_home_, alice);
  const AccountFiles bob_before = files_of(bob_home_, bob);
  ASSERT_THAT(bob_before.contacts, HasSubstr(alice_key.fingerprint()));

  ServerProcess& again = restart();
  ASSERT_EQ(again.fingerprint(), fingerprint);
  const std::string server = "the server at 127.0.0.1:" + std::to_string(again.port());
  const std::string lost = " no longer knows the account ";
  const std::string why =
      ": it may have been restarted without its data (--store memory) or restored from an old "
      "backup.\n";
  const std::string bob_command = "shido-client --home " + bob_home_ + " --host 127.0.0.1 --port " +
                                  std::to_string(again.port()) + " register --phone " + bob;

  // Every command that logs in says so, with the command that registers the key again.
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"fetch"}, std::vector<std::string>{"send", "--to", alice, "hi"},
        std::vector<std::string>{"contacts", "--accept", alice, "--fingerprint",
                                 alice_key.fingerprint()}}) {
    const RunResult result = run_client(at(bob_home_, again, command));
    EXPECT_EQ(result.status, 2) << result;
    EXPECT_THAT(result.err, HasSubstr("shido-client: " + server + lost + bob + why));
    EXPECT_THAT(result.err, HasSubstr("Run `" + bob_command +
                                      "` to register this same key again (with a new code); "
                                      "your contacts, pins and history are kept.\n"));
    EXPECT_THAT(result.err, Not(HasSubstr("SERVER KEY")));
    EXPECT_EQ(result.out, "") << result;
  }
  // Alice's send to Bob stops at her own login, the same way; nothing is sent or written.
  const RunResult alice_send = run_client(at(alice_home_, again, {"send", "--to", bob, "lost?"}));
  EXPECT_EQ(alice_send.status, 2) << alice_send;
  EXPECT_THAT(alice_send.err, HasSubstr("shido-client: " + server + lost + alice + why));
  EXPECT_THAT(alice_send.err, HasSubstr("register --phone " + alice + "` to register"));
  EXPECT_EQ(files_of(alice_home_, alice).history, alice_before.history);
  expect_kept(files_of(bob_home_, bob), bob_before);

  // Bob runs the command he was shown: his same key, a new code, his stored address.
  std::vector<std::string> args = words(bob_command);
  ASSERT_EQ(args.front(), "shido-client");
  args.erase(args.begin());
  const RunResult bob_again = run_register_typing_code(again, args, bob);
  ASSERT_EQ(bob_again.status, 0) << bob_again;
  EXPECT_THAT(bob_again.err, HasSubstr("The server no longer knows " + bob +
                                       ": registering the key of the account here again"));
  EXPECT_THAT(bob_again.out, HasSubstr("Registered " + bob +
                                       " again, with the same key: your contacts, pins and "
                                       "history are kept. Your key fingerprint: " +
                                       bob_key.fingerprint() + "\n"));
  const auto bob_code = last_code(again, bob);
  ASSERT_TRUE(bob_code.has_value()) << again.log();
  EXPECT_EQ(bob_code->email, "bob@example.com");
  const AccountFiles bob_after = files_of(bob_home_, bob);
  expect_kept(bob_after, bob_before);
  EXPECT_EQ(bob_after.code, bob_code->code);
  EXPECT_EQ(file_mode(bob_home_ + "/" + bob + "/key.pem"), 0600u);
  EXPECT_EQ(file_mode(bob_home_ + "/" + bob + "/code"), 0600u);
  EXPECT_EQ(open_profile(bob_home_, bob).key().public_key(), bob_key);
  const RunResult bob_fetch = run_client(at(bob_home_, again, {"fetch"}));
  EXPECT_EQ(bob_fetch.status, 0) << bob_fetch;
  EXPECT_THAT(bob_fetch.out, HasSubstr("No new messages."));

  // Alice registers again too, with another address: it is the one used, and recorded.
  const RunResult alice_again =
      register_again_cli(again, alice_home_, alice, std::nullopt, {"--email", "alice@example.org"});
  ASSERT_EQ(alice_again.status, 0) << alice_again;
  EXPECT_EQ(last_code(again, alice)->email, "alice@example.org");
  const client::Profile alice_profile = open_profile(alice_home_, alice);
  EXPECT_EQ(alice_profile.email(), "alice@example.org");
  EXPECT_EQ(alice_profile.server().key.fingerprint(), fingerprint);
  EXPECT_EQ(alice_profile.key().public_key(), alice_key);
  const AccountFiles alice_after = files_of(alice_home_, alice);
  EXPECT_EQ(alice_after.key, alice_before.key);
  EXPECT_EQ(alice_after.contacts, alice_before.contacts);
  EXPECT_EQ(alice_after.history, alice_before.history);

  // Bob's pin of Alice still holds: her message opens, with no key-change warning.
  const RunResult sent = run_client(at(alice_home_, again, {"send", "--to", bob, "after"}));
  ASSERT_EQ(sent.status, 0) << sent;
  const RunResult received = run_client(at(bob_home_, again, {"fetch"}));
  EXPECT_EQ(received.status, 0) << received;
  EXPECT_THAT(received.out, HasSubstr(alice + ": after\n"));
  EXPECT_THAT(received.err, Not(HasSubstr("WARNING")));
  EXPECT_EQ(read_file_or_empty(bob_home_ + "/" + bob + "/held.jsonl"), "");
  const auto pinned = open_profile(bob_home_, bob).contact(alice);
  ASSERT_TRUE(pinned.has_value());
  EXPECT_EQ(pinned->key, alice_key);
  EXPECT_TRUE(pinned->verified);
  // And Alice's pin of Bob: his reply goes out and opens.
  ASSERT_EQ(run_client(at(bob_home_, again, {"send", "--to", alice, "welcome back"})).status, 0);
  const RunResult reply = run_client(at(alice_home_, again, {"fetch"}));
  EXPECT_EQ(reply.status, 0) << reply;
  EXPECT_THAT(reply.out, HasSubstr(bob + ": welcome back\n"));
  EXPECT_THAT(reply.err, Not(HasSubstr("WARNING")));
}

// The server still knows the account: refused with exit 1, and no code is asked for. A
// code request would spend one of the three the server allows a phone in ten minutes (it
// counts even those it refuses), so three refusals in a row show that none was made.
TEST_F(RegisterAgainTest, AnAccountTheServerStillKnowsIsNotRegisteredAgain) {
  const std::string alice = phone_number(511);
  ASSERT_EQ(register_cli(*first_, alice_home_, alice).status, 0);
  const AccountFiles before = files_of(alice_home_, alice);
  for (int i = 0; i < 3; ++i) {
    const RunResult result = run_client(at(alice_home_, *first_, {"register", "--phone", alice}));
    EXPECT_EQ(result.status, 1) << result;
    EXPECT_THAT(result.err, HasSubstr("shido-client: " + alice + " is already registered, here (" +
                                      alice_home_ + "/" + alice + ") and on the server at"));
    EXPECT_THAT(result.err, HasSubstr("which still knows it: there is nothing to register again"));
    EXPECT_THAT(result.err, Not(HasSubstr("Code: ")));
  }
  const AccountFiles after = files_of(alice_home_, alice);
  expect_kept(after, before);
  EXPECT_EQ(after.code, before.code);
  EXPECT_EQ(run_client(at(alice_home_, *first_, {"fetch"})).status, 0);
}

// Registering again trusts no other server key than the pinned one, nor a
// --server-fingerprint that is not the pin's; nothing is asked for and nothing changes.
TEST_F(RegisterAgainTest, RegisteringAgainChecksThePinnedServerKey) {
  const std::string alice = phone_number(521);
  const std::string pinned = first_->fingerprint();
  ASSERT_EQ(register_cli(*first_, alice_home_, alice).status, 0);
  const AccountFiles before = files_of(alice_home_, alice);
  first_->stop(SIGTERM);
  first_.reset();
  TempDir other_data("shido-data-other");
  ServerProcess other(memory_server_options(other_data.path()));
  ASSERT_NE(other.fingerprint(), pinned);

  const RunResult changed = run_client(at(alice_home_, other, {"register", "--phone", alice}));
  EXPECT_EQ(changed.status, 3) << changed;
  EXPECT_THAT(changed.err, HasSubstr("THE SERVER KEY HAS CHANGED"));
  EXPECT_THAT(changed.err, HasSubstr("pinned:  " + pinned));
  EXPECT_THAT(changed.err, HasSubstr("offered: " + other.fingerprint()));
  EXPECT_THAT(changed.err, Not(HasSubstr("Code: ")));
  EXPECT_FALSE(other.read_code(alice).has_value());

  const RunResult expected =
      run_client(at(alice_home_, other,
                    {"register", "--phone", alice, "--server-fingerprint", other.fingerprint()}));
  EXPECT_EQ(expected.status, 3) << expected;
  EXPECT_THAT(expected.err, HasSubstr("the server key fingerprint pinned for " + alice + " is " +
                                      pinned + ", not the expected " + other.fingerprint()));
  EXPECT_FALSE(other.read_code(alice).has_value());

  const AccountFiles after = files_of(alice_home_, alice);
  expect_kept(after, before);
  EXPECT_EQ(after.code, before.code);
}

// A wrong code leaves the account as it was (its old code too); the next try works.
TEST_F(RegisterAgainTest, AWrongCodeWhenRegisteringAgainChangesNothing) {
  const std::string alice = phone_number(531);
  ASSERT_EQ(register_cli(*first_, alice_home_, alice).status, 0);
  const AccountFiles before = files_of(alice_home_, alice);
  ServerProcess& again = restart();

  ClientProcess client(at(alice_home_, again, {"register", "--phone", alice}));
  ASSERT_TRUE(client.wait_for_stderr("Code: ")) << client.err();
  const auto code = last_code(again, alice);
  ASSERT_TRUE(code.has_value()) << again.log();
  client.write(other_code(code->code) + "\n");
  const RunResult wrong = client.finish();
  EXPECT_EQ(wrong.status, 3) << wrong;
  EXPECT_THAT(wrong.err, HasSubstr("wrong code"));
  const AccountFiles after_wrong = files_of(alice_home_, alice);
  expect_kept(after_wrong, before);
  EXPECT_EQ(after_wrong.code, before.code);

  const RunResult right = register_again_cli(again, alice_home_, alice);
  ASSERT_EQ(right.status, 0) << right;
  expect_kept(files_of(alice_home_, alice), before);
  EXPECT_EQ(run_client(at(alice_home_, again, {"fetch"})).status, 0);
}

// A new account still needs an e-mail address: only an account here has one to reuse.
TEST_F(RegisterAgainTest, ANewAccountStillNeedsAnEmail) {
  const std::string alice = phone_number(541);
  const RunResult result = run_client(at(alice_home_, *first_, {"register", "--phone", alice}));
  EXPECT_EQ(result.status, 1) << result;
  EXPECT_THAT(result.err, HasSubstr("a new account needs --email"));
  EXPECT_FALSE(first_->read_code(alice).has_value());
  EXPECT_TRUE(client::Profile::list(alice_home_).empty());
}

}  // namespace
}  // namespace shido::client_test
