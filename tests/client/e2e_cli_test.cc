// The real shido-client binary, driven through its subcommands against the real
// shido-server on a free port, with three client homes: register, send, fetch and
// acknowledge both ways; fetch --json; wrong code, locked account, unknown recipient and
// usage errors with their exit statuses (0 ok, 1 usage or local problem, 2 network or
// refusal, 3 security), help and option errors, and README's table of exit statuses.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client_test_util.h"

namespace shido::client_test {
namespace {

using testing::HasSubstr;
using testing::Not;

class CliTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess(server_options()); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static std::string next_phone() { return phone_number(++next_phone_); }

  // Registers a new phone in home; fails the test when that does not work.
  static std::string registered(const std::string& home) {
    std::string phone = next_phone();
    must_register_cli(*server_, home, phone);
    return phone;
  }

  static RunResult client(const std::string& home, std::vector<std::string> rest,
                          std::string_view input = {}) {
    return run_client(at(home, *server_, std::move(rest)), input);
  }

  // What the server still holds for the account in home (fetched without acknowledging).
  static std::size_t waiting_on_server(const std::string& home, const std::string& phone) {
    auto profile = client::Profile::open(home, phone);
    if (!profile.ok()) throw std::runtime_error(profile.error().message);
    ProtocolClient raw = raw_login(*server_, profile.value());
    return must(raw.fetch(100, 0), "raw fetch").size();
  }

  static ServerProcess* server_;
  static int next_phone_;
  TempDir root_{"shido-cli"};
  std::string alice_home_ = root_.path() + "/alice";
  std::string bob_home_ = root_.path() + "/bob";
  std::string carol_home_ = root_.path() + "/carol";
};

ServerProcess* CliTest::server_ = nullptr;
int CliTest::next_phone_ = 200;

std::vector<std::string> split(const std::string& text, const std::string& separator) {
  std::vector<std::string> parts;
  std::size_t from = 0;
  for (std::size_t at; (at = text.find(separator, from)) != std::string::npos;
       from = at + separator.size()) {
    parts.push_back(text.substr(from, at - from));
  }
  parts.push_back(text.substr(from));
  return parts;
}

// A TCP server that is not Shido: it reads what comes and answers with `reply`, then keeps
// the connection open, as an HTTP or SSH server on the wrong port would.
class NotShidoServer {
 public:
  explicit NotShidoServer(std::string reply)
      : listener_(must(listen_tcp("127.0.0.1", 0), "listen")),
        port_(must(local_port(listener_.get()), "port")),
        thread_([this, reply = std::move(reply)] { serve(reply); }) {}
  ~NotShidoServer() {
    ::shutdown(listener_.get(), SHUT_RDWR);  // wakes the accept
    thread_.join();
  }
  NotShidoServer(const NotShidoServer&) = delete;
  NotShidoServer& operator=(const NotShidoServer&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  void serve(const std::string& reply) {
    std::vector<UniqueFd> connections;  // held open until the server ends
    for (;;) {
      UniqueFd connection(::accept(listener_.get(), nullptr, nullptr));
      if (!connection.valid()) return;
      char request[256];
      (void)::recv(connection.get(), request, sizeof request, 0);
      (void)::send(connection.get(), reply.data(), reply.size(), MSG_NOSIGNAL);
      connections.push_back(std::move(connection));
    }
  }

  UniqueFd listener_;
  std::uint16_t port_;
  std::thread thread_;
};

TEST_F(CliTest, RegisterShowsTheServerFingerprintAndCreatesTheAccount) {
  const std::string phone = next_phone();
  const RunResult result = register_cli(*server_, alice_home_, phone);
  ASSERT_EQ(result.status, 0) << result;
  // The fingerprint shown before the code prompt is the one sent with the code.
  EXPECT_THAT(result.err, HasSubstr("Server key fingerprint"));
  EXPECT_THAT(result.err, HasSubstr(server_->fingerprint()));
  EXPECT_THAT(result.out, HasSubstr("Registered " + phone + ". Your key fingerprint: "));
  // Used, the code's file is gone from the server's outbox.
  EXPECT_FALSE(server_->read_code(phone));
  EXPECT_EQ(client::Profile::list(alice_home_), std::vector<std::string>{phone});
  EXPECT_EQ(file_mode(alice_home_ + "/" + phone + "/key.pem"), 0600u);

  const RunResult fingerprint = client(alice_home_, {"fingerprint"});
  ASSERT_EQ(fingerprint.status, 0) << fingerprint;
  EXPECT_THAT(fingerprint.out, HasSubstr(server_->fingerprint()));
  const std::string own =
      client::Profile::open(alice_home_, phone).value().key().public_key().fingerprint();
  EXPECT_THAT(fingerprint.out, HasSubstr(own));
  EXPECT_THAT(result.out, HasSubstr(own));
}

TEST_F(CliTest, RegisterTwiceForOnePhoneIsRefused) {
  const std::string phone = registered(alice_home_);
  // Another home: the server refuses the phone (114) before any code is sent.
  const RunResult again =
      client(bob_home_, {"register", "--phone", phone, "--email", "x@example.com"});
  EXPECT_EQ(again.status, 2) << again;
  EXPECT_THAT(again.err, HasSubstr("already registered"));
  EXPECT_THAT(again.err, Not(HasSubstr("Code: ")));
}

TEST_F(CliTest, SendFetchAndAcknowledgeBothWays) {
  const std::string alice = registered(alice_home_);
  const std::string bob = registered(bob_home_);
  const std::string carol = registered(carol_home_);

  const RunResult sent =
      client(alice_home_, {"send", "--to", bob, "Hi Bob, this is end-to-end encrypted."});
  ASSERT_EQ(sent.status, 0) << sent;
  EXPECT_THAT(sent.out, HasSubstr("Sent to " + bob));
  // The message from stdin when not given.
  const RunResult replied = client(bob_home_, {"send", "--to", alice}, "Hi Alice!\n");
  ASSERT_EQ(replied.status, 0) << replied;
  const RunResult to_carol = client(alice_home_, {"send", "--to", carol, "Hello Carol"});
  ASSERT_EQ(to_carol.status, 0) << to_carol;

  const RunResult at_bob = client(bob_home_, {"fetch"});
  ASSERT_EQ(at_bob.status, 0) << at_bob;
  EXPECT_THAT(at_bob.out, HasSubstr("] " + alice + ": Hi Bob, this is end-to-end encrypted.\n"));
  EXPECT_THAT(at_bob.out, Not(HasSubstr("Hello Carol")));  // only the caller's own mailbox
  EXPECT_EQ(lines_of(at_bob.out).size(), 1u) << at_bob;

  const RunResult at_alice = client(alice_home_, {"fetch"});
  ASSERT_EQ(at_alice.status, 0) << at_alice;
  EXPECT_THAT(at_alice.out, HasSubstr("] " + bob + ": Hi Alice!\n"));

  const RunResult at_carol = client(carol_home_, {"fetch"});
  ASSERT_EQ(at_carol.status, 0) << at_carol;
  EXPECT_THAT(at_carol.out, HasSubstr("] " + alice + ": Hello Carol\n"));

  // Acknowledged: the server holds nothing more, a second fetch brings nothing.
  EXPECT_EQ(waiting_on_server(bob_home_, bob), 0u);
  EXPECT_EQ(waiting_on_server(alice_home_, alice), 0u);
  const RunResult again = client(bob_home_, {"fetch"});
  ASSERT_EQ(again.status, 0) << again;
  EXPECT_EQ(again.out, "No new messages.\n");

  // Each side keeps both directions in its history and pinned the other's key.
  const std::vector<Json> history =
      json_lines(read_file_or_empty(bob_home_ + "/" + bob + "/history.jsonl"));
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0]["direction"], "out");
  EXPECT_EQ(history[0]["body"], "Hi Alice!");
  EXPECT_EQ(history[1]["direction"], "in");
  EXPECT_EQ(history[1]["body"], "Hi Bob, this is end-to-end encrypted.");
  const RunResult pinned = client(bob_home_, {"fingerprint", "--contact", alice});
  ASSERT_EQ(pinned.status, 0) << pinned;
  EXPECT_THAT(pinned.out, HasSubstr("(not verified)"));
  EXPECT_THAT(
      pinned.out,
      HasSubstr(
          client::Profile::open(alice_home_, alice).value().key().public_key().fingerprint()));
}

TEST_F(CliTest, FetchJsonGivesOneObjectPerLine) {
  const std::string alice = registered(alice_home_);
  const std::string bob = registered(bob_home_);
  const std::vector<std::string> bodies = {"first", "two\nlines", "\"quoted\" \xc3\xa9"};
  std::set<std::string> ids;
  for (const std::string& body : bodies) {
    const RunResult sent = client(alice_home_, {"send", "--to", bob, body});
    ASSERT_EQ(sent.status, 0) << sent;
  }
  const RunResult fetched = client(bob_home_, {"fetch", "--json"});
  ASSERT_EQ(fetched.status, 0) << fetched;
  const std::vector<Json> lines = json_lines(fetched.out);
  ASSERT_EQ(lines.size(), bodies.size()) << fetched;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const Json& line = lines[i];
    ASSERT_TRUE(line.is_object());
    EXPECT_EQ(line.size(), 5u) << line.dump();
    ASSERT_TRUE(line.contains("id") && line["id"].is_string()) << line.dump();
    ids.insert(line["id"].get<std::string>());
    EXPECT_EQ(line["from"], alice);
    EXPECT_EQ(line["body"], bodies[i]);
    ASSERT_TRUE(line.contains("sent_at") && line["sent_at"].is_number_integer());
    ASSERT_TRUE(line.contains("stored_at") && line["stored_at"].is_number_integer());
    EXPECT_GT(line["sent_at"].get<std::int64_t>(), 1'600'000'000'000);
    EXPECT_GT(line["stored_at"].get<std::int64_t>(), 1'600'000'000'000);
  }
  EXPECT_EQ(ids.size(), bodies.size());
  // Nothing left: --json prints nothing at all then (no "No new messages." line).
  const RunResult again = client(bob_home_, {"fetch", "--json"});
  ASSERT_EQ(again.status, 0) << again;
  EXPECT_EQ(again.out, "");
}

TEST_F(CliTest, FetchWaitReturnsAMessageSentWhileWaiting) {
  const std::string alice = registered(alice_home_);
  const std::string bob = registered(bob_home_);
  ClientProcess waiting(at(bob_home_, *server_, {"fetch", "--wait", "20", "--json"}));
  const RunResult sent = client(alice_home_, {"send", "--to", bob, "while you wait"});
  ASSERT_EQ(sent.status, 0) << sent;
  const RunResult fetched = waiting.finish();
  ASSERT_EQ(fetched.status, 0) << fetched;
  const std::vector<Json> lines = json_lines(fetched.out);
  ASSERT_EQ(lines.size(), 1u) << fetched;
  EXPECT_EQ(lines[0]["body"], "while you wait");
}

TEST_F(CliTest, CommonOptionsMayComeAfterTheSubcommandAndPhoneChoosesTheAccount) {
  const std::string alice = registered(alice_home_);
  const std::string second = registered(alice_home_);  // two accounts in one home

  const RunResult ambiguous = client(alice_home_, {"fingerprint"});
  EXPECT_EQ(ambiguous.status, 1) << ambiguous;
  EXPECT_THAT(ambiguous.err, HasSubstr("--phone"));

  const RunResult chosen = run_client({"fingerprint", "--home", alice_home_, "--phone", second});
  ASSERT_EQ(chosen.status, 0) << chosen;
  EXPECT_THAT(chosen.out, HasSubstr("(" + second + ")"));
  const RunResult sent =
      run_client({"send", "--to", second, "--phone", alice, "--home", alice_home_, "--port",
                  std::to_string(server_->port()), "between my accounts"});
  ASSERT_EQ(sent.status, 0) << sent;
  const RunResult fetched = client(alice_home_, {"--phone", second, "fetch"});
  ASSERT_EQ(fetched.status, 0) << fetched;
  EXPECT_THAT(fetched.out, HasSubstr(alice + ": between my accounts"));
}

TEST_F(CliTest, AWrongCodeExitsThreeWithAClearMessage) {
  const std::string phone = next_phone();
  // The code exists only once the client has asked for it: type another one then.
  ASSERT_FALSE(server_->read_code(phone).has_value());
  const RunResult wrong = [&] {
    ClientProcess registering(
        at(alice_home_, *server_, {"register", "--phone", phone, "--email", "a@example.com"}));
    if (registering.wait_for_stderr("Code: "))
      registering.write(other_code(server_->read_code(phone).value().code) + "\n");
    return registering.finish();
  }();
  EXPECT_EQ(wrong.status, 3) << wrong;
  EXPECT_THAT(wrong.err, HasSubstr("shido-client: wrong code (4 attempts left)"));
  EXPECT_THAT(wrong.out, Not(HasSubstr("Registered")));

  // The failed attempt is no account.
  EXPECT_TRUE(client::Profile::list(alice_home_).empty());
  const RunResult none = client(alice_home_, {"fetch"});
  EXPECT_EQ(none.status, 1) << none;
  EXPECT_THAT(none.err, HasSubstr("register first"));

  // Registering again (with a new code) works.
  const RunResult again = register_cli(*server_, alice_home_, phone);
  ASSERT_EQ(again.status, 0) << again;
  EXPECT_EQ(client::Profile::list(alice_home_), std::vector<std::string>{phone});
}

TEST_F(CliTest, EndOfInputAtTheCodePromptAbandonsTheRegistration) {
  const std::string phone = next_phone();
  const RunResult result =
      client(alice_home_, {"register", "--phone", phone, "--email", "a@example.com"});
  EXPECT_EQ(result.status, 1) << result;
  EXPECT_THAT(result.err, HasSubstr("registration abandoned"));
  EXPECT_TRUE(client::Profile::list(alice_home_).empty());
}

TEST_F(CliTest, FiveWrongCodesLockTheAccountWithRetryAfter) {
  const std::string phone = registered(alice_home_);
  const std::string code_path = alice_home_ + "/" + phone + "/code";
  const std::string real = read_file_or_empty(code_path).substr(0, 6);
  overwrite_file(code_path, other_code(real) + "\n");  // by hand: the file keeps mode 0600
  ASSERT_EQ(file_mode(code_path), 0600u);

  for (int left = 4; left >= 0; --left) {
    const RunResult refused = client(alice_home_, {"fetch"});
    EXPECT_EQ(refused.status, 3) << refused;
    EXPECT_THAT(refused.err, HasSubstr("(" + std::to_string(left) + " attempts left)")) << refused;
  }
  const RunResult locked = client(alice_home_, {"fetch"});
  EXPECT_EQ(locked.status, 3) << locked;
  EXPECT_THAT(locked.err, HasSubstr("locked"));
  EXPECT_THAT(locked.err, HasSubstr("(retry after "));

  // Even the right code is refused while the lock lasts.
  overwrite_file(code_path, real);
  const RunResult still = client(alice_home_, {"send", "--to", phone, "hello?"});
  EXPECT_EQ(still.status, 3) << still;
  EXPECT_THAT(still.err, HasSubstr("retry after"));
}

TEST_F(CliTest, RegisterReadsTheCodeFromACodeFileOnceTheServerSentIt) {
  // The outbox file does not exist before the server is asked; --code-file is read only
  // after the server answered 115, so a script can register without a terminal.
  const std::string phone = next_phone();
  const std::string code_file = server_->outbox_dir() + "/" + phone + ".code";
  const RunResult result = client(alice_home_, {"--phone", phone, "register", "--email",
                                                "a@example.com", "--code-file", code_file});
  ASSERT_EQ(result.status, 0) << result;
  EXPECT_THAT(result.out, HasSubstr(server_->fingerprint()));
  EXPECT_EQ(client::Profile::list(alice_home_), std::vector<std::string>{phone});

  // Registering the same phone again, while the server knows it, is refused before the
  // server is asked for a code.
  const std::string code = read_file_or_empty(code_file);
  const RunResult again = client(alice_home_, {"--phone", phone, "register", "--email",
                                               "a@example.com", "--code-file", code_file});
  EXPECT_EQ(again.status, 1) << again;
  EXPECT_THAT(again.err, HasSubstr("already registered"));
  EXPECT_EQ(read_file_or_empty(code_file), code);
}

TEST_F(CliTest, ACodeFileWithoutACodeAbandonsTheRegistration) {
  const std::string phone = next_phone();
  const std::string bogus = root_.path() + "/not-a-code";
  overwrite_file(bogus, "hello\n");
  const RunResult result = client(alice_home_, {"--phone", phone, "register", "--email",
                                                "a@example.com", "--code-file", bogus});
  EXPECT_NE(result.status, 0) << result;
  EXPECT_THAT(result.err, HasSubstr("does not start with a 6-digit code"));
  EXPECT_TRUE(client::Profile::list(alice_home_).empty());
}

TEST_F(CliTest, CommonOptionsMayComeAfterTheSubcommand) {
  const std::string alice = registered(alice_home_);
  const std::string bob = registered(bob_home_);
  const RunResult sent =
      run_client({"send", "--to", bob, "--home", alice_home_, "--port",
                  std::to_string(server_->port()), "--phone", alice, "late options"});
  ASSERT_EQ(sent.status, 0) << sent;
  const RunResult fetched =
      run_client({"fetch", "--json", "--home", bob_home_, "--host", server_->host(), "--port",
                  std::to_string(server_->port())});
  ASSERT_EQ(fetched.status, 0) << fetched;
  EXPECT_THAT(fetched.out, HasSubstr("late options"));
}

TEST_F(CliTest, AnUnknownRecipientExitsTwoWithAClearMessage) {
  const std::string alice = registered(alice_home_);
  const std::string nobody = phone_number(9'999'999);
  const RunResult result = client(alice_home_, {"send", "--to", nobody, "anyone there?"});
  EXPECT_EQ(result.status, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("shido-client: "));
  EXPECT_THAT(result.err, HasSubstr("no account with the phone number " + nobody));
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(read_file_or_empty(alice_home_ + "/" + alice + "/history.jsonl"), "");
}

TEST_F(CliTest, NoAccountExitsOne) {
  const RunResult result = client(alice_home_, {"fetch"});
  EXPECT_EQ(result.status, 1) << result;
  EXPECT_THAT(result.err, HasSubstr("register first"));
}

TEST_F(CliTest, UsageErrorsExitOne) {
  const std::string home = alice_home_;
  const std::vector<std::vector<std::string>> cases = {
      {"--home", home, "--bogus"},
      {"--home", home, "send", "hello"},  // --to is required
      {"--home", home, "send", "--to", "0501234567", "hello"},
      {"--home", home, "register", "--email", "a@example.com"},  // no --phone
      {"--home", home, "--phone", "+1555", "register", "--email", "a@example.com"},
      {"--home", home, "--phone", phone_number(1), "register", "--email", "not-an-address"},
      {"--home", home, "--phone", phone_number(1), "register", "--email", "a@example.com", "--code",
       "123456"},
      {"--home", home, "fetch", "--wait", "61"},
      {"--home", home, "--port", "70000", "fetch"},
      {"--home", home, "fetch", "send"},
  };
  for (const auto& args : cases) {
    const RunResult result = run_client(args);
    EXPECT_EQ(result.status, 1) << testing::PrintToString(args) << "\n" << result;
    EXPECT_NE(result.err, "") << testing::PrintToString(args);
  }
  EXPECT_TRUE(client::Profile::list(home).empty());
  EXPECT_FALSE(server_->read_code(phone_number(1)).has_value());  // nothing reached the server
}

TEST_F(CliTest, HelpAndVersionExitZero) {
  const RunResult help = run_client({"--help"});
  EXPECT_EQ(help.status, 0) << help;
  EXPECT_THAT(help.out, HasSubstr("register"));
  EXPECT_THAT(help.out, HasSubstr("fetch"));
  const RunResult version = run_client({"--version"});
  EXPECT_EQ(version.status, 0) << version;
  EXPECT_THAT(version.out, HasSubstr("shido-client "));  // the number: package.version
}

TEST_F(CliTest, ContactsListAndVerify) {
  const std::string alice = registered(alice_home_);
  const std::string bob = registered(bob_home_);
  const RunResult empty = client(alice_home_, {"contacts"});
  ASSERT_EQ(empty.status, 0) << empty;
  EXPECT_EQ(empty.out, "No contacts yet.\n");

  ASSERT_EQ(client(alice_home_, {"send", "--to", bob, "hi"}).status, 0);
  const RunResult listed = client(alice_home_, {"contacts"});
  ASSERT_EQ(listed.status, 0) << listed;
  EXPECT_THAT(listed.out, HasSubstr(bob + "  not verified"));
  EXPECT_THAT(
      listed.out,
      HasSubstr(client::Profile::open(bob_home_, bob).value().key().public_key().fingerprint()));

  const RunResult verified = client(alice_home_, {"contacts", "--verify", bob});
  ASSERT_EQ(verified.status, 0) << verified;
  const RunResult after = client(alice_home_, {"fingerprint", "--contact", bob});
  ASSERT_EQ(after.status, 0) << after;
  EXPECT_THAT(after.out, HasSubstr("(verified)"));

  const RunResult unknown = client(alice_home_, {"contacts", "--verify", phone_number(9'999'998)});
  EXPECT_EQ(unknown.status, 1) << unknown;
  const RunResult no_pin =
      client(alice_home_, {"fingerprint", "--contact", phone_number(9'999'998)});
  EXPECT_EQ(no_pin.status, 1) << no_pin;
}

TEST_F(CliTest, EmptyMessagesAreRefusedAndNothingIsSent) {
  const std::string alice = registered(alice_home_);
  const std::string bob = registered(bob_home_);
  for (const auto& [argument, input] : std::vector<std::pair<std::string, std::string>>{
           {"", ""}, {" \t ", ""}, {"-", ""}, {"-", "\n"}, {"-", "  \n\n"}}) {
    std::vector<std::string> args = {"send", "--to", bob};
    if (argument != "-") args.push_back(argument);  // "-": the body comes from stdin
    const RunResult result = client(alice_home_, args, input);
    EXPECT_EQ(result.status, 1) << testing::PrintToString(args) << result;
    EXPECT_THAT(result.err, HasSubstr("the message is empty")) << result;
    EXPECT_THAT(result.out, Not(HasSubstr("Sent")));
  }
  EXPECT_EQ(waiting_on_server(bob_home_, bob), 0u);
  EXPECT_EQ(read_file_or_empty(alice_home_ + "/" + alice + "/history.jsonl"), "");
}

TEST_F(CliTest, HelpIsACommandAndEachCommandListsTheCommonOptions) {
  const RunResult help = run_client({"help"});
  EXPECT_EQ(help.status, 0) << help;
  EXPECT_EQ(help.out, run_client({"--help"}).out);
  for (const std::string command : {"register", "send", "fetch", "fingerprint", "contacts"}) {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"help", command}, std::vector<std::string>{command, "--help"}}) {
      const RunResult shown = run_client(args);
      EXPECT_EQ(shown.status, 0) << shown;
      EXPECT_THAT(shown.out, HasSubstr("shido-client " + command)) << shown;
      for (const char* common : {"--home", "--phone", "--host", "--port"})
        EXPECT_THAT(shown.out, HasSubstr(common)) << testing::PrintToString(args);
    }
  }
  EXPECT_THAT(run_client({"help", "contacts"}).out, HasSubstr("--fingerprint"));
}

TEST_F(CliTest, AnUnknownCommandSaysSoAndSuggestsTheNearest) {
  const RunResult typo = run_client({"--home", alice_home_, "sned", "--to", phone_number(1)});
  EXPECT_EQ(typo.status, 1) << typo;
  EXPECT_THAT(typo.err, HasSubstr("unknown command 'sned'; did you mean 'send'?"));
  const RunResult far = run_client({"xyzzy"});
  EXPECT_EQ(far.status, 1) << far;
  EXPECT_THAT(far.err, HasSubstr("unknown command 'xyzzy'"));
  EXPECT_THAT(far.err, Not(HasSubstr("did you mean")));
  const RunResult help_typo = run_client({"help", "fecth"});
  EXPECT_EQ(help_typo.status, 1) << help_typo;
  EXPECT_THAT(help_typo.err, HasSubstr("unknown command 'fecth'; did you mean 'fetch'?"));
}

TEST_F(CliTest, UnexpectedArgumentsAreReportedInTheOrderTyped) {
  const RunResult words =
      run_client({"--home", alice_home_, "send", "--to", phone_number(1), "one", "two", "three"});
  EXPECT_EQ(words.status, 1) << words;
  EXPECT_THAT(words.err, HasSubstr("unexpected arguments for send: 'two' 'three'"));
  EXPECT_THAT(words.err, HasSubstr("quotes"));
  const RunResult option = run_client({"--home", alice_home_, "fetch", "--bogus", "x"});
  EXPECT_EQ(option.status, 1) << option;
  EXPECT_THAT(option.err, HasSubstr("unknown option '--bogus' for fetch"));
}

TEST_F(CliTest, APortThatIsNotAShidoServerFailsAtOnce) {
  // Each keeps the connection open: waiting for more would end in a time-out instead.
  for (const std::string reply :
       {"HTTP/1.1 400 Bad Request\r\n\r\n", "SSH-2.0-OpenSSH_9.2\r\n", "x"}) {
    NotShidoServer other(reply);
    const RunResult result =
        run_client({"--home", alice_home_, "--port", std::to_string(other.port()), "register",
                    "--phone", next_phone(), "--email", "a@example.com"});
    EXPECT_EQ(result.status, 2) << result;
    EXPECT_THAT(result.err, HasSubstr("this does not look like a Shido server")) << reply;
    EXPECT_THAT(result.err, Not(HasSubstr("in time")));
  }
  EXPECT_TRUE(client::Profile::list(alice_home_).empty());
}

TEST_F(CliTest, AShidoServerThatRefusesAtOnceIsStillAShidoServer) {
  // Its first answer is a Shido error frame (128 SERVER_BUSY): said as the server says it.
  ServerProcess::Options options = server_options();
  options.extra_args = {"--max-connections", "1"};
  ServerProcess busy(options);
  ProtocolClient holder = must(ProtocolClient::connect(busy.host(), busy.port()), "connect");
  (void)must(holder.hello(), "hello");  // the one slot is taken
  const RunResult result =
      run_client(at(alice_home_, busy, {"register", "--phone", next_phone(), "--email", "a@b.co"}));
  EXPECT_EQ(result.status, 2) << result;
  EXPECT_THAT(result.err, Not(HasSubstr("does not look like a Shido server")));
  EXPECT_THAT(result.err, HasSubstr("at its connection limit"));
}

// README's table of exit statuses, row by row: every case it names is run here, and must
// end with the status of its row.
TEST_F(CliTest, ReadmeExitStatusTableHolds) {
  const std::string alice = registered(alice_home_);
  const std::string bob = registered(bob_home_);
  ASSERT_EQ(client(alice_home_, {"send", "--to", bob, "pins bob"}).status, 0);
  const std::string empty_home = root_.path() + "/nobody";
  const std::string two_home = root_.path() + "/two";
  (void)registered(two_home);
  (void)registered(two_home);
  const auto with_tampered = [&](const std::string& file, auto change) {
    const std::string home = root_.path() + "/tampered-" + std::to_string(next_phone_);
    const std::string phone = registered(home);
    change(home + "/" + phone + "/" + file);
    return client(home, {"fetch"});
  };
  std::uint16_t closed_port = 0;
  {
    auto listener = must(listen_tcp("127.0.0.1", 0), "listen");
    closed_port = must(local_port(listener.get()), "port");
  }
  const std::map<std::string, std::function<RunResult()>> cases = {
      {"done", [&] { return client(alice_home_, {"fetch"}); }},
      {"an unknown command or option", [&] { return client(alice_home_, {"sned"}); }},
      {"no account here", [&] { return client(empty_home, {"fetch"}); }},
      {"several accounts without --phone", [&] { return client(two_home, {"fetch"}); }},
      {"registering an account here that the server still knows",
       [&] {
         return client(alice_home_, {"--phone", alice, "register", "--email", "a@example.com"});
       }},
      {"an empty message",
       [&] {
         return client(alice_home_, {"send", "--to", bob, ""});
       }},
      {"a message over 64 KiB",
       [&] {
         return client(alice_home_, {"send", "--to", bob}, std::string(65537, 'x'));
       }},
      {"a message that is not UTF-8",
       [&] {
         return client(alice_home_, {"send", "--to", bob, "caf\xe9"});
       }},
      {"registration abandoned",
       [&] {
         return client(empty_home, {"register", "--phone", next_phone(), "--email", "a@b.co"});
       }},
      {"no pinned key for that contact",
       [&] {
         return client(alice_home_, {"fingerprint", "--contact", phone_number(9'999'997)});
       }},
      {"no server at that address",
       [&] {
         return run_client({"--home", alice_home_, "--port", std::to_string(closed_port), "fetch"});
       }},
      {"not a Shido server",
       [&] {
         NotShidoServer other("HTTP/1.1 400 Bad Request\r\n\r\n");
         return run_client(
             {"--home", alice_home_, "--port", std::to_string(other.port()), "fetch"});
       }},
      {"a server without TLS, unless --plaintext",
       [&] {
         // What a version-1 server answers a ClientHello: its first bytes read as a frame
         // length far over the limit.
         const ErrorReply too_large{Code::kFrameTooLarge, "frame too large", std::nullopt,
                                    std::nullopt};
         NotShidoServer old(encode_frame(dump_json(too_large.to_json())));
         return run_client({"--home", alice_home_, "--port", std::to_string(old.port()), "fetch"});
       }},
      {"a failed TLS handshake",
       [&] {
         // A TLS alert record (fatal, handshake_failure) in place of a ServerHello.
         NotShidoServer failing(std::string("\x15\x03\x03\x00\x02\x02\x28", 7));
         return run_client(
             {"--home", alice_home_, "--port", std::to_string(failing.port()), "fetch"});
       }},
      {"--plaintext to a server that requires TLS",
       [&] {
         ServerProcess::Options options = server_options();
         options.extra_args = {"--require-tls"};
         ServerProcess tls_only(options);
         return run_client(at(alice_home_, tls_only, {"--plaintext", "fetch"}));
       }},
      {"no account with that phone number on the server",
       [&] {
         return client(alice_home_, {"send", "--to", phone_number(9'999'996), "hi"});
       }},
      {"an account the server no longer knows",
       [&] {
         // A memory store restarted on its data directory: the same key, no accounts.
         TempDir data("shido-data");
         const std::string home = root_.path() + "/lost";
         const std::string phone = next_phone();
         {
           ServerProcess first(memory_server_options(data.path()));
           must_register_cli(first, home, phone);
         }
         ServerProcess again(memory_server_options(data.path()));
         return run_client(at(home, again, {"fetch"}));
       }},
      {"a wrong code",
       [&] {
         return with_tampered("code", [](const std::string& path) {
           overwrite_file(path, other_code(read_file_or_empty(path).substr(0, 6)));
         });
       }},
      {"a changed server key",
       [&] {
         return with_tampered("server.json", [](const std::string& path) {
           Json pin = Json::parse(read_file_or_empty(path));
           pin["server_public_key"] = KeyPair::generate().public_key().pem();
           overwrite_file(path, pin.dump());
         });
       }},
      {"a fingerprint that matches no new key",
       [&] {
         return client(alice_home_, {"contacts", "--accept", bob, "--fingerprint",
                                     KeyPair::generate().public_key().fingerprint()});
       }},
      {"a private key file others can read",
       [&] {
         return with_tampered("key.pem",
                              [](const std::string& path) { ::chmod(path.c_str(), 0644); });
       }},
  };

  const std::vector<std::string> table = lines_of(read_file_or_empty(SHIDO_README));
  int rows = 0;
  for (const std::string& line : table) {
    // "| 1 | a usage error ...: case; case; case |"
    if (line.size() < 6 || line.rfind("| ", 0) != 0 || line[2] < '0' || line[2] > '3' ||
        line.substr(3, 3) != " | ")
      continue;
    ++rows;
    const int status = line[2] - '0';
    std::string text = line.substr(6, line.rfind(" |") - 6);
    if (const auto colon = text.find(": "); colon != std::string::npos) text.erase(0, colon + 2);
    for (const std::string& name : split(text, "; ")) {
      SCOPED_TRACE("README: exit " + std::to_string(status) + " for " + name);
      const auto found = cases.find(name);
      ASSERT_NE(found, cases.end()) << "README names a case this test does not run";
      const RunResult result = found->second();
      EXPECT_EQ(result.status, status) << result;
    }
  }
  EXPECT_EQ(rows, 4) << "README's table of exit statuses was not found";
}

TEST_F(CliTest, AServerThatIsGoneIsANetworkErrorExitTwo) {
  const std::string alice = registered(alice_home_);
  // A port nobody listens on: bind one, learn it, close it.
  std::uint16_t port = 0;
  {
    auto listener = listen_tcp("127.0.0.1", 0);
    ASSERT_TRUE(listener.ok());
    port = local_port(listener.value().get()).value();
  }
  const RunResult result =
      run_client({"--home", alice_home_, "--port", std::to_string(port), "fetch"});
  EXPECT_EQ(result.status, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("shido-client: "));
}

}  // namespace
}  // namespace shido::client_test
