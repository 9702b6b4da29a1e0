// Security behaviour of the real shido-client binary against the real shido-server: a
// changed server key stops everything with both fingerprints shown; --server-fingerprint
// refuses another server at registration; a changed contact key holds that contact's
// messages back, showing both fingerprints, until the key the person checked is accepted; an
// envelope that fails authentication is reported, acknowledged and dropped; so is a replayed
// envelope (one envelope under several ids), in this run and later ones; secret files others
// can read are refused. Each is exit 3. Control characters in a message never reach the
// terminal.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "client_test_util.h"
#include "shido/base64.h"
#include "shido/crypto/random.h"
#include "shido/protocol/text_message.h"

namespace shido::client_test {
namespace {

using testing::HasSubstr;
using testing::Not;

class SecurityTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess(server_options()); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static std::string registered(const ServerProcess& server, const std::string& home) {
    std::string phone = phone_number(++next_phone_);
    must_register_cli(server, home, phone);
    return phone;
  }
  static std::string registered(const std::string& home) { return registered(*server_, home); }

  static RunResult client(const std::string& home, std::vector<std::string> rest) {
    return run_client(at(home, *server_, std::move(rest)));
  }

  static ServerProcess* server_;
  static int next_phone_;
  TempDir root_{"shido-security"};
  std::string alice_home_ = root_.path() + "/alice";
  std::string bob_home_ = root_.path() + "/bob";
  std::string carol_home_ = root_.path() + "/carol";
};

ServerProcess* SecurityTest::server_ = nullptr;
int SecurityTest::next_phone_ = 300;

TEST_F(SecurityTest, AServerRestartedWithAnotherKeyIsRefusedWithBothFingerprints) {
  TempDir first_data("shido-data1");
  TempDir second_data("shido-data2");
  auto first = std::make_unique<ServerProcess>(server_options(first_data.path()));
  const std::string old_fingerprint = first->fingerprint();
  const std::string alice = registered(*first, alice_home_);
  const std::string bob = registered(*first, bob_home_);
  ASSERT_EQ(run_client(at(alice_home_, *first, {"send", "--to", bob, "before"})).status, 0);
  first->stop(SIGTERM);
  first.reset();

  // Another data directory: another server key, and (with --port 0) another port, which
  // the old profile is pointed at with --port.
  ServerProcess second(server_options(second_data.path()));
  ASSERT_NE(second.fingerprint(), old_fingerprint);
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"fetch"}, std::vector<std::string>{"send", "--to", bob, "secret"},
        std::vector<std::string>{"contacts", "--accept", bob, "--fingerprint", old_fingerprint}}) {
    const RunResult result = run_client(at(alice_home_, second, command));
    EXPECT_EQ(result.status, 3) << result;
    EXPECT_THAT(result.err, HasSubstr("THE SERVER KEY HAS CHANGED"));
    EXPECT_THAT(result.err, HasSubstr("pinned:  " + old_fingerprint));
    EXPECT_THAT(result.err, HasSubstr("offered: " + second.fingerprint()));
    EXPECT_THAT(result.err, HasSubstr("Nothing was sent"));
  }
  // The history holds only what was sent before.
  const std::vector<Json> history =
      json_lines(read_file_or_empty(alice_home_ + "/" + alice + "/history.jsonl"));
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0]["body"], "before");
  // The pin on disk is unchanged.
  EXPECT_EQ(open_profile(alice_home_, alice).server().key.fingerprint(), old_fingerprint);
}

TEST_F(SecurityTest, AServerRestartedOnItsOwnDataDirKeepsItsKey) {
  TempDir data("shido-data");
  auto first = std::make_unique<ServerProcess>(memory_server_options(data.path()));
  const std::string fingerprint = first->fingerprint();
  const std::string alice = registered(*first, alice_home_);
  first->stop(SIGTERM);
  first.reset();

  ServerProcess again(memory_server_options(data.path()));
  ASSERT_EQ(again.fingerprint(), fingerprint);
  // The key check passes; the account is gone (--store memory keeps accounts in memory only).
  const RunResult result = run_client(at(alice_home_, again, {"fetch"}));
  EXPECT_EQ(result.status, 2) << result;
  EXPECT_THAT(result.err, Not(HasSubstr("SERVER KEY")));
  EXPECT_THAT(result.err, HasSubstr("no longer knows the account " + alice));
}

TEST_F(SecurityTest, ServerFingerprintMismatchIsRefusedAtRegister) {
  const std::string phone = phone_number(++next_phone_);
  const std::string wrong = KeyPair::generate().public_key().fingerprint();
  const RunResult result = client(alice_home_, {"register", "--phone", phone, "--email",
                                                "a@example.com", "--server-fingerprint", wrong});
  EXPECT_EQ(result.status, 3) << result;
  EXPECT_THAT(result.err, HasSubstr(server_->fingerprint()));
  EXPECT_THAT(result.err, HasSubstr("not the expected " + wrong));
  EXPECT_THAT(result.err, Not(HasSubstr("Code: ")));
  EXPECT_FALSE(server_->read_code(phone).has_value());  // no code was asked for
  EXPECT_TRUE(client::Profile::list(alice_home_).empty());

  // The right fingerprint is accepted.
  const RunResult right = register_cli(*server_, alice_home_, phone, std::nullopt,
                                       {"--server-fingerprint", server_->fingerprint()});
  EXPECT_EQ(right.status, 0) << right;
}

// Carol really registers again (new key) after the server lost its accounts; Alice, who
// pinned Carol's first key, sees both fingerprints everywhere and can accept only the key
// whose fingerprint Carol reads out to her.
TEST_F(SecurityTest, AContactWhoRegisteredAgainIsHeldUntilTheCheckedKeyIsAccepted) {
  TempDir data("shido-data");
  auto first = std::make_unique<ServerProcess>(memory_server_options(data.path()));
  const std::string alice = registered(*first, alice_home_);
  const std::string carol = registered(*first, carol_home_);
  ASSERT_EQ(run_client(at(carol_home_, *first, {"send", "--to", alice, "first"})).status, 0);
  ASSERT_EQ(run_client(at(alice_home_, *first, {"fetch"})).status, 0);  // pins Carol's key
  ASSERT_EQ(run_client(at(alice_home_, *first, {"contacts", "--verify", carol})).status, 0);
  const PublicKey old_key = open_profile(carol_home_, carol).key().public_key();

  // The server restarts on its data directory: same server key, no accounts (--store
  // memory). Both register again: Alice her same key, keeping her contacts, and Carol with a
  // new key in a new home.
  first->stop(SIGTERM);
  first.reset();
  ServerProcess again(memory_server_options(data.path()));
  const std::string alice_account = alice_home_ + "/" + alice;
  const std::string carol_again_home = root_.path() + "/carol-again";
  register_again_after_restart(again, alice_home_, alice, carol_again_home, carol);
  const PublicKey new_key = open_profile(carol_again_home, carol).key().public_key();
  ASSERT_FALSE(new_key == old_key);
  ASSERT_EQ(
      run_client(at(carol_again_home, again, {"send", "--to", alice, "it is me, again"})).status,
      0);

  // Held, with both fingerprints and the command that accepts the new one.
  const RunResult held = run_client(at(alice_home_, again, {"fetch"}));
  EXPECT_EQ(held.status, 3) << held;
  EXPECT_THAT(held.err, HasSubstr("WARNING: The key of " + carol + " has changed"));
  EXPECT_THAT(held.err, HasSubstr("pinned key: " + old_key.fingerprint()));
  EXPECT_THAT(held.err, HasSubstr("new key:    " + new_key.fingerprint()));
  // The command to accept leaves the fingerprint to Alice: the one Carol reads out.
  EXPECT_THAT(held.err, HasSubstr("contacts --accept " + carol +
                                  " --fingerprint '<the fingerprint " + carol + " reads to you>'"));
  EXPECT_THAT(held.out + held.err, Not(HasSubstr("it is me, again")));
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"contacts"},
        std::vector<std::string>{"fingerprint", "--contact", carol}}) {
    const RunResult shown = run_client(at(alice_home_, again, command));
    EXPECT_EQ(shown.status, 0) << shown;
    EXPECT_THAT(shown.out, HasSubstr(old_key.fingerprint()));
    EXPECT_THAT(shown.out, HasSubstr("new key:    " + new_key.fingerprint()));
  }
  // A reply is refused before anything is sent, with both fingerprints.
  const RunResult reply = run_client(at(alice_home_, again, {"send", "--to", carol, "you?"}));
  EXPECT_EQ(reply.status, 3) << reply;
  EXPECT_THAT(reply.err, HasSubstr(old_key.fingerprint()));
  EXPECT_THAT(reply.err, HasSubstr(new_key.fingerprint()));

  // Marking the old key verified now would be a mistake: refused, with both fingerprints.
  const RunResult verify = run_client(at(alice_home_, again, {"contacts", "--verify", carol}));
  EXPECT_EQ(verify.status, 1) << verify;
  EXPECT_THAT(verify.err, HasSubstr("accept it first"));
  EXPECT_THAT(verify.err, HasSubstr(new_key.fingerprint()));

  // No blind accept: without --fingerprint nothing happens; a wrong one is refused.
  const RunResult blind = run_client(at(alice_home_, again, {"contacts", "--accept", carol}));
  EXPECT_EQ(blind.status, 1) << blind;
  EXPECT_THAT(blind.err, HasSubstr("--fingerprint"));
  EXPECT_THAT(blind.err, HasSubstr(new_key.fingerprint()));
  const RunResult wrong = run_client(at(
      alice_home_, again, {"contacts", "--accept", carol, "--fingerprint", old_key.fingerprint()}));
  EXPECT_EQ(wrong.status, 3) << wrong;
  EXPECT_THAT(wrong.err, HasSubstr("nothing was accepted"));
  EXPECT_EQ(open_profile(alice_home_, alice).contact(carol)->key, old_key);

  // Carol reads out her fingerprint as her own client shows it; Alice accepts that one.
  const RunResult own = run_client(at(carol_again_home, again, {"fingerprint"}));
  ASSERT_EQ(own.status, 0) << own;
  ASSERT_THAT(own.out, HasSubstr(new_key.fingerprint()));
  const RunResult accepted = run_client(at(
      alice_home_, again, {"contacts", "--accept", carol, "--fingerprint", new_key.fingerprint()}));
  ASSERT_EQ(accepted.status, 0) << accepted;
  EXPECT_THAT(accepted.out, HasSubstr(carol + ": it is me, again"));
  EXPECT_EQ(open_profile(alice_home_, alice).contact(carol)->key, new_key);
  const RunResult pinned = run_client(at(alice_home_, again, {"fingerprint", "--contact", carol}));
  EXPECT_THAT(pinned.out, HasSubstr("(not verified)"));  // a new key must be verified again
  EXPECT_THAT(pinned.out, Not(HasSubstr("has changed")));
  EXPECT_EQ(read_file_or_empty(alice_account + "/held.jsonl"), "");
  EXPECT_EQ(run_client(at(alice_home_, again, {"send", "--to", carol, "welcome back"})).status, 0);
  const RunResult at_carol = run_client(at(carol_again_home, again, {"fetch"}));
  EXPECT_THAT(at_carol.out, HasSubstr(alice + ": welcome back"));
}

TEST_F(SecurityTest, AnEnvelopeThatFailsAuthenticationIsReportedAcknowledgedAndDropped) {
  const std::string alice = registered(alice_home_);
  const std::string bob = registered(bob_home_);
  {
    ProtocolClient raw = raw_login(*server_, open_profile(alice_home_, alice));
    Json forged = {{"code", 110},
                   {"recipients_phone_number", bob},
                   {"salt", base64_encode(random_bytes(16))},
                   {"iv_for_wrapped_key", base64_encode(random_bytes(16))},
                   {"wrapped_aes_key", base64_encode(random_bytes(48))},
                   {"iv_for_message", base64_encode(random_bytes(16))},
                   {"encrypted_message", base64_encode(random_bytes(32))},
                   {"mac", base64_encode(random_bytes(32))}};
    (void)must(raw.send(forged), "send 110");
    const Json reply = must(raw.receive(), "receive");
    ASSERT_EQ(reply.value("code", 0), 118) << reply.dump();
  }
  const RunResult fetched = client(bob_home_, {"fetch"});
  EXPECT_EQ(fetched.status, 3) << fetched;
  EXPECT_THAT(fetched.err, HasSubstr("WARNING: a message claiming to be from " + alice +
                                     " failed authentication and was dropped"));
  EXPECT_EQ(fetched.out, "No new messages.\n");

  const RunResult again = client(bob_home_, {"fetch"});
  EXPECT_EQ(again.status, 0) << again;  // acknowledged: it does not come back
  EXPECT_EQ(again.err, "");
}

TEST_F(SecurityTest, AReplayedEnvelopeIsShownOnceInThisRunAndInLaterOnes) {
  const std::string alice = registered(alice_home_);
  const std::string bob = registered(bob_home_);
  const client::Profile from = open_profile(alice_home_, alice);
  const Envelope envelope =
      must(seal_text_message(from.key(), alice, open_profile(bob_home_, bob).key().public_key(),
                             bob, TextMessage{"pay Bob $100", client::now_ms()}),
           "seal");
  // A server replaying it: the one wire envelope stored under a new id each time (here the
  // real server, sent the same envelope again by Alice's raw connection).
  const auto store_again = [&](int copies) {
    ProtocolClient raw = raw_login(*server_, from);
    for (int i = 0; i < copies; ++i) (void)must(raw.send_envelope(bob, envelope), "send");
    raw.bye();
  };
  const std::string warning = "WARNING: a message from " + alice +
                              " repeats one already received (the server delivered it again "
                              "under a new id) and was dropped\n";
  store_again(3);
  const RunResult fetched = client(bob_home_, {"fetch"});
  EXPECT_EQ(fetched.status, 3) << fetched;
  EXPECT_EQ(lines_of(fetched.out).size(), 1u) << fetched;
  EXPECT_THAT(fetched.out, HasSubstr(alice + ": pay Bob $100"));
  EXPECT_EQ(fetched.err, warning + warning) << fetched;

  // A later run of the client, and the same envelope once more.
  store_again(1);
  const RunResult later = client(bob_home_, {"fetch", "--json"});
  EXPECT_EQ(later.status, 3) << later;
  EXPECT_EQ(later.out, "");
  EXPECT_EQ(later.err, warning);
  const RunResult quiet = client(bob_home_, {"fetch"});
  EXPECT_EQ(quiet.status, 0) << quiet;  // acknowledged: nothing comes back
  EXPECT_EQ(quiet.err, "");
}

TEST_F(SecurityTest, ControlCharactersInAMessageNeverReachTheTerminal) {
  const std::string alice = registered(alice_home_);
  const std::string bob = registered(bob_home_);
  const std::string body =
      "clear\x1b[2J\x1b]0;title\x07 bell\x7f c1\xC2\x9B"
      "31m end";
  ASSERT_EQ(client(alice_home_, {"send", "--to", bob, body}).status, 0);
  const RunResult shown = client(bob_home_, {"fetch"});
  ASSERT_EQ(client(alice_home_, {"send", "--to", bob, body}).status, 0);
  const RunResult json = client(bob_home_, {"fetch", "--json"});
  ASSERT_EQ(shown.status, 0) << shown;
  ASSERT_EQ(json.status, 0) << json;
  for (const RunResult* result : {&shown, &json}) {
    for (const char c : result->out) {
      const auto byte = static_cast<unsigned char>(c);
      EXPECT_TRUE(byte == '\n' || (byte >= 0x20 && byte != 0x7F)) << static_cast<int>(byte);
    }
    EXPECT_EQ(result->out.find("\xC2\x9B"), std::string::npos);
  }
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_THAT(shown.out, HasSubstr(": clear" + fffd + "[2J" + fffd + "]0;title" + fffd + " bell" +
                                   fffd + " c1" + fffd + "31m end"));
  // --json keeps the text exact, with escapes instead of the raw characters.
  const std::vector<Json> lines = json_lines(json.out);
  ASSERT_EQ(lines.size(), 1u) << json;
  EXPECT_EQ(lines[0]["body"], body);
  // The history keeps the body as it came.
  const std::vector<Json> history =
      json_lines(read_file_or_empty(bob_home_ + "/" + bob + "/history.jsonl"));
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0]["body"], body);
}

TEST_F(SecurityTest, AKeyFileOthersCanReadIsRefused) {
  const std::string alice = registered(alice_home_);
  const std::string key_path = alice_home_ + "/" + alice + "/key.pem";
  ASSERT_EQ(::chmod(key_path.c_str(), 0644), 0);
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"fetch"}, std::vector<std::string>{"send", "--to", alice, "hi"},
        std::vector<std::string>{"fingerprint"}}) {
    const RunResult result = client(alice_home_, command);
    EXPECT_EQ(result.status, 3) << result;
    EXPECT_THAT(result.err, HasSubstr("key.pem has mode 0644"));
    EXPECT_THAT(result.err, HasSubstr("chmod 600"));
    EXPECT_EQ(result.out, "");
  }
  ASSERT_EQ(::chmod(key_path.c_str(), 0600), 0);
  const RunResult fixed = client(alice_home_, {"fetch"});
  EXPECT_EQ(fixed.status, 0) << fixed;
}

TEST_F(SecurityTest, ACodeFileOthersCanReadIsRefused) {
  const std::string alice = registered(alice_home_);
  const std::string code_path = alice_home_ + "/" + alice + "/code";
  ASSERT_EQ(::chmod(code_path.c_str(), 0644), 0);
  const RunResult result = client(alice_home_, {"fetch"});
  EXPECT_EQ(result.status, 3) << result;
  EXPECT_THAT(result.err, HasSubstr("code has mode 0644"));
}

}  // namespace
}  // namespace shido::client_test
