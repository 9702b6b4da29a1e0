// The interactive menu of the real shido-client (no subcommand), driven through a
// pseudo-terminal as a person would: read the screen until a prompt appears (with a
// deadline, never a fixed sleep), type, and check what the screen showed.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

#include "client_test_util.h"

namespace shido::client_test {
namespace {

using testing::HasSubstr;
using testing::Not;

// shido-client on the slave side of a pseudo-terminal; the test holds the master.
class Terminal {
 public:
  explicit Terminal(const std::vector<std::string>& args) {
    std::vector<std::string> all = {SHIDO_CLIENT_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : all) argv.push_back(arg.data());
    argv.push_back(nullptr);
    winsize size{};
    size.ws_row = 50;
    size.ws_col = 200;
    pid_ = ::forkpty(&master_, nullptr, nullptr, &size);
    if (pid_ < 0) throw std::runtime_error(std::string("forkpty: ") + std::strerror(errno));
    if (pid_ == 0) {
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }

  ~Terminal() {
    if (pid_ > 0) test::kill_and_reap(pid_);
    if (master_ >= 0) ::close(master_);
  }
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  // Reads the screen until `text` appears after what earlier waits consumed; the screen
  // up to the end of `text` is then consumed. False at the deadline or end of output.
  bool wait_for(std::string_view text, std::chrono::milliseconds timeout = kClientTimeout) {
    const auto deadline = SteadyClock::now() + timeout;
    for (;;) {
      const std::size_t at = screen_.find(text, cursor_);
      if (at != std::string::npos) {
        cursor_ = at + text.size();
        return true;
      }
      if (!read_some(deadline)) return false;
    }
  }

  // Types a line (or raw keys) into the terminal.
  void type(std::string_view keys) {
    while (!keys.empty()) {
      const ssize_t n = ::write(master_, keys.data(), keys.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        throw std::runtime_error(std::string("write to the terminal: ") + std::strerror(errno));
      keys.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // Reads the rest of the output and waits for the client to end; its exit code, or -1
  // when it did not exit normally in time.
  int wait_exit(std::chrono::milliseconds timeout = kClientTimeout) {
    const auto deadline = SteadyClock::now() + timeout;
    while (read_some(deadline)) {
    }
    int status = 0;
    if (!test::wait_until(pid_, deadline, status)) return -1;
    pid_ = -1;
    const test::ExitInfo info = test::exit_info(status);
    return info.exited ? info.status : -1;
  }

  const std::string& screen() const { return screen_; }
  // The screen since the last wait_for, for failure messages.
  std::string rest() const { return screen_.substr(cursor_); }

 private:
  bool read_some(SteadyClock::time_point deadline) {
    const int left = test::milliseconds_left(deadline);
    if (left <= 0) return false;
    pollfd p{master_, POLLIN, 0};
    const int ready = ::poll(&p, 1, left);
    if (ready < 0 && errno == EINTR) return true;
    if (ready <= 0) return false;
    char buffer[4096];
    const ssize_t n = ::read(master_, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) return false;  // EIO: the client closed the terminal
    screen_.append(buffer, static_cast<std::size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int master_ = -1;
  std::string screen_;
  std::size_t cursor_ = 0;
};

#define ASSERT_SCREEN(terminal, text)                                                  \
  ASSERT_TRUE((terminal).wait_for(text)) << "waiting for: " << (text) << "\nscreen:\n" \
                                         << (terminal).screen()

class MenuTest : public testing::Test {
 protected:
  ServerProcess server_{server_options()};
  TempDir root_{"shido-menu"};
  std::string home_ = root_.path() + "/alice";
  std::string bob_home_ = root_.path() + "/bob";
};

TEST_F(MenuTest, RegisterSendReadLogOutAndQuit) {
  const std::string alice = phone_number(401);
  const std::string bob = phone_number(402);
  // Bob has an account made with the CLI; he answers Alice while she is logged in.
  ASSERT_EQ(register_cli(server_, bob_home_, bob).status, 0);

  Terminal terminal({"--home", home_, "--port", std::to_string(server_.port())});
  ASSERT_SCREEN(terminal, "Shido: end-to-end encrypted messages.");
  ASSERT_SCREEN(terminal, "1) Register\r\n2) Connect\r\n3) Quit\r\n> ");
  terminal.type("9\n");
  ASSERT_SCREEN(terminal, "Please type a number from 1 to 3.");
  ASSERT_SCREEN(terminal, "> ");
  terminal.type("1\n");
  ASSERT_SCREEN(terminal, "Phone number (E.164, e.g. +972501234567): ");
  terminal.type("0501234567\n");
  ASSERT_SCREEN(terminal, "That is not an E.164 number");
  ASSERT_SCREEN(terminal, "Phone number (E.164, e.g. +972501234567): ");
  terminal.type(alice + "\n");
  ASSERT_SCREEN(terminal, "E-mail: ");
  terminal.type("alice@example.com\n");
  ASSERT_SCREEN(terminal, "Asking the server for a code...");
  ASSERT_SCREEN(terminal, "The server's key fingerprint is:\r\n  " + server_.fingerprint());
  ASSERT_SCREEN(terminal, "Code: ");
  const auto code = server_.read_code(alice);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(code->fingerprint, server_.fingerprint());
  // A wrong code first: the menu asks again.
  terminal.type(other_code(code->code) + "\n");
  ASSERT_SCREEN(terminal, "wrong code, 4 attempts left");
  ASSERT_SCREEN(terminal, "Code: ");
  terminal.type(code->code + "\n");
  ASSERT_SCREEN(terminal, "Registered. Your key fingerprint is:");
  ASSERT_SCREEN(terminal, "Logged in as " + alice + ".");
  ASSERT_SCREEN(terminal,
                "1) Send a message\r\n2) Show waiting messages\r\n3) My fingerprint\r\n4) "
                "Contacts\r\n5) Log out\r\n> ");

  // Send to Bob.
  terminal.type("1\n");
  ASSERT_SCREEN(terminal, "To (phone number): ");
  terminal.type(bob + "\n");
  ASSERT_SCREEN(terminal, "Message: ");
  terminal.type("Hello Bob, from the menu\n");
  ASSERT_SCREEN(terminal, "Sent.");
  ASSERT_SCREEN(terminal, "> ");

  // Bob reads it with the CLI and answers.
  const RunResult at_bob = run_client(at(bob_home_, server_, {"fetch"}));
  ASSERT_EQ(at_bob.status, 0) << at_bob;
  EXPECT_THAT(at_bob.out, HasSubstr(alice + ": Hello Bob, from the menu"));
  const RunResult answer =
      run_client(at(bob_home_, server_, {"send", "--to", alice, "Hi Alice, got it"}));
  ASSERT_EQ(answer.status, 0) << answer;

  // A note to herself, too.
  terminal.type("1\n");
  ASSERT_SCREEN(terminal, "To (phone number): ");
  terminal.type(alice + "\n");
  ASSERT_SCREEN(terminal, "Message: ");
  terminal.type("note to self\n");
  ASSERT_SCREEN(terminal, "Sent.");
  ASSERT_SCREEN(terminal, "> ");

  // Show waiting messages: Bob's answer, then the note.
  terminal.type("2\n");
  ASSERT_SCREEN(terminal, "] " + bob + ": Hi Alice, got it");
  ASSERT_SCREEN(terminal, "] " + alice + ": note to self");
  ASSERT_SCREEN(terminal, "> ");
  terminal.type("2\n");
  ASSERT_SCREEN(terminal, "No new messages.");
  ASSERT_SCREEN(terminal, "> ");

  // Fingerprints and contacts.
  terminal.type("3\n");
  ASSERT_SCREEN(terminal, "Server fingerprint:\r\n  " + server_.fingerprint());
  ASSERT_SCREEN(terminal, "> ");
  terminal.type("4\n");
  ASSERT_SCREEN(terminal, bob + "  not verified");
  ASSERT_SCREEN(terminal, "3) Back\r\n> ");
  terminal.type("3\n");
  ASSERT_SCREEN(terminal, "5) Log out\r\n> ");

  terminal.type("5\n");
  ASSERT_SCREEN(terminal, "Logged out.");
  ASSERT_SCREEN(terminal, "1) Register\r\n2) Connect\r\n3) Quit\r\n> ");

  // Connect again: the only account is chosen without asking.
  terminal.type("2\n");
  ASSERT_SCREEN(terminal, "Logged in as " + alice + ".");
  ASSERT_SCREEN(terminal, "5) Log out\r\n> ");
  terminal.type("5\n");
  ASSERT_SCREEN(terminal, "Logged out.");
  ASSERT_SCREEN(terminal, "3) Quit\r\n> ");
  terminal.type("3\n");
  ASSERT_SCREEN(terminal, "Bye.");
  EXPECT_EQ(terminal.wait_exit(), 0) << terminal.screen();
  EXPECT_THAT(terminal.screen(), Not(HasSubstr("Error")));

  // What the session did is on disk.
  const std::vector<Json> history =
      json_lines(read_file_or_empty(home_ + "/" + alice + "/history.jsonl"));
  ASSERT_EQ(history.size(), 4u);
  EXPECT_EQ(history[0]["body"], "Hello Bob, from the menu");
  EXPECT_EQ(history[0]["direction"], "out");
  EXPECT_EQ(file_mode(home_ + "/" + alice + "/key.pem"), 0600u);
}

TEST_F(MenuTest, CtrlDAtTheFirstMenuLeavesWithByeAndExitZero) {
  Terminal terminal({"--home", home_, "--port", std::to_string(server_.port())});
  ASSERT_SCREEN(terminal, "3) Quit\r\n> ");
  terminal.type("\x04");  // Ctrl-D at the start of a line: end of input
  ASSERT_SCREEN(terminal, "Bye.");
  EXPECT_EQ(terminal.wait_exit(), 0) << terminal.screen();
}

TEST_F(MenuTest, CtrlDAtAPromptInsideAFlowGoesBackOneLevel) {
  Terminal terminal({"--home", home_, "--port", std::to_string(server_.port())});
  ASSERT_SCREEN(terminal, "3) Quit\r\n> ");
  terminal.type("1\n");
  ASSERT_SCREEN(terminal, "Phone number (E.164, e.g. +972501234567): ");
  terminal.type("\x04");
  ASSERT_SCREEN(terminal, "1) Register\r\n2) Connect\r\n3) Quit\r\n> ");
  EXPECT_THAT(terminal.screen(), Not(HasSubstr("Bye.")));
  terminal.type("\x04");  // at the first menu, Ctrl-D leaves
  ASSERT_SCREEN(terminal, "Bye.");
  EXPECT_EQ(terminal.wait_exit(), 0) << terminal.screen();
}

TEST_F(MenuTest, SendChecksTheRecipientFirstAndAsksAgainForAnEmptyMessage) {
  const std::string alice = phone_number(411);
  const std::string bob = phone_number(412);
  ASSERT_EQ(register_cli(server_, home_, alice).status, 0);
  ASSERT_EQ(register_cli(server_, bob_home_, bob).status, 0);
  Terminal terminal({"--home", home_, "--port", std::to_string(server_.port())});
  ASSERT_SCREEN(terminal, "3) Quit\r\n> ");
  terminal.type("2\n");
  ASSERT_SCREEN(terminal, "5) Log out\r\n> ");

  // Someone without an account: said before the message is typed.
  terminal.type("1\n");
  ASSERT_SCREEN(terminal, "To (phone number): ");
  terminal.type(phone_number(9'999'990) + "\n");
  ASSERT_SCREEN(terminal, "Error: ");
  ASSERT_SCREEN(terminal, "5) Log out\r\n> ");
  EXPECT_THAT(terminal.screen(), Not(HasSubstr("Message: ")));

  // An empty or blank message is asked for again; Ctrl-D goes back with nothing sent.
  terminal.type("1\n");
  ASSERT_SCREEN(terminal, "To (phone number): ");
  terminal.type(bob + "\n");
  ASSERT_SCREEN(terminal, "Message: ");
  terminal.type("\n");
  ASSERT_SCREEN(terminal, "the message is empty: type it again, or Ctrl-D to go back.");
  ASSERT_SCREEN(terminal, "Message: ");
  terminal.type("   \n");
  ASSERT_SCREEN(terminal, "the message is empty");
  ASSERT_SCREEN(terminal, "Message: ");
  terminal.type("\x04");
  ASSERT_SCREEN(terminal, "5) Log out\r\n> ");
  const RunResult nothing = run_client(at(bob_home_, server_, {"fetch"}));
  EXPECT_EQ(nothing.out, "No new messages.\n") << nothing;

  // Then a real one goes out.
  terminal.type("1\n");
  ASSERT_SCREEN(terminal, "To (phone number): ");
  terminal.type(bob + "\n");
  ASSERT_SCREEN(terminal, "Message: ");
  terminal.type("not empty\n");
  ASSERT_SCREEN(terminal, "Sent.");

  // Ctrl-D in the contacts menu goes back to the logged-in menu; there, it logs out.
  ASSERT_SCREEN(terminal, "5) Log out\r\n> ");
  terminal.type("4\n");
  ASSERT_SCREEN(terminal, "3) Back\r\n> ");
  terminal.type("\x04");
  ASSERT_SCREEN(terminal, "5) Log out\r\n> ");
  terminal.type("\x04");
  ASSERT_SCREEN(terminal, "Logged out.");
  ASSERT_SCREEN(terminal, "3) Quit\r\n> ");
  terminal.type("3\n");
  ASSERT_SCREEN(terminal, "Bye.");
  EXPECT_EQ(terminal.wait_exit(), 0) << terminal.screen();
  const RunResult received = run_client(at(bob_home_, server_, {"fetch"}));
  EXPECT_THAT(received.out, HasSubstr(alice + ": not empty"));
}

TEST_F(MenuTest, SendWithoutAMessageOnATerminalSaysHowToFinish) {
  const std::string alice = phone_number(421);
  const std::string bob = phone_number(422);
  ASSERT_EQ(register_cli(server_, home_, alice).status, 0);
  ASSERT_EQ(register_cli(server_, bob_home_, bob).status, 0);
  Terminal terminal(
      {"--home", home_, "--port", std::to_string(server_.port()), "send", "--to", bob});
  ASSERT_SCREEN(terminal, "end it with Ctrl-D at the start of a line");
  terminal.type("typed at a terminal\n\x04");
  ASSERT_SCREEN(terminal, "Sent to " + bob);
  EXPECT_EQ(terminal.wait_exit(), 0) << terminal.screen();
}

// Carol registers again with a new key after the server lost its accounts (see
// e2e_security_test for the same with the commands): the menu shows both fingerprints and
// accepts the new key only once Alice confirms the one Carol read out to her.
TEST_F(MenuTest, AChangedContactKeyIsShownAndAcceptedOnlyWhenConfirmed) {
  TempDir data("shido-data");
  const std::string alice = phone_number(431);
  const std::string carol = phone_number(432);
  const std::string carol_again_home = root_.path() + "/carol-again";
  auto first = std::make_unique<ServerProcess>(memory_server_options(data.path()));
  ASSERT_EQ(register_cli(*first, home_, alice).status, 0);
  ASSERT_EQ(register_cli(*first, bob_home_, carol).status, 0);
  ASSERT_EQ(run_client(at(bob_home_, *first, {"send", "--to", alice, "first"})).status, 0);
  ASSERT_EQ(run_client(at(home_, *first, {"fetch"})).status, 0);
  first->stop(SIGTERM);
  first.reset();
  ServerProcess again(memory_server_options(data.path()));
  register_again_after_restart(again, home_, alice, carol_again_home, carol);
  ASSERT_EQ(
      run_client(at(carol_again_home, again, {"send", "--to", alice, "from my new key"})).status,
      0);
  const std::string old_fingerprint =
      open_profile(bob_home_, carol).key().public_key().fingerprint();
  const std::string new_fingerprint =
      open_profile(carol_again_home, carol).key().public_key().fingerprint();

  Terminal terminal({"--home", home_, "--port", std::to_string(again.port())});
  ASSERT_SCREEN(terminal, "3) Quit\r\n> ");
  terminal.type("2\n");
  ASSERT_SCREEN(terminal, "5) Log out\r\n> ");
  terminal.type("2\n");
  ASSERT_SCREEN(terminal, "WARNING: The key of " + carol + " has changed");
  ASSERT_SCREEN(terminal, "pinned key: " + old_fingerprint);
  ASSERT_SCREEN(terminal, "new key:    " + new_fingerprint);
  ASSERT_SCREEN(terminal, "5) Log out\r\n> ");
  EXPECT_THAT(terminal.screen(), Not(HasSubstr("from my new key")));

  // Contacts list the change; accepting asks for confirmation, and "no" accepts nothing.
  terminal.type("4\n");
  ASSERT_SCREEN(terminal, "KEY CHANGED: The key of " + carol + " has changed");
  ASSERT_SCREEN(terminal, "3) Back\r\n> ");
  terminal.type("2\n");
  ASSERT_SCREEN(terminal, "Phone number: ");
  terminal.type(carol + "\n");
  ASSERT_SCREEN(terminal, "Pinned key of " + carol + ":\r\n  " + old_fingerprint);
  ASSERT_SCREEN(terminal, "New key:\r\n  " + new_fingerprint);
  ASSERT_SCREEN(terminal, "Type its first 8 characters as they read them (Enter to cancel): ");
  terminal.type("\n");
  ASSERT_SCREEN(terminal, "Nothing was accepted.");
  ASSERT_SCREEN(terminal, "5) Log out\r\n> ");
  // Contacts, accept Carol's new key, and type what `read_out` says, from the logged-in menu.
  const auto accept_carol_reading = [&](const std::string& read_out) {
    terminal.type("4\n");
    if (!terminal.wait_for("3) Back\r\n> ")) return false;
    terminal.type("2\n");
    if (!terminal.wait_for("Phone number: ")) return false;
    terminal.type(carol + "\n");
    if (!terminal.wait_for("(Enter to cancel): ")) return false;
    terminal.type(read_out + "\n");
    return true;
  };
  // Digits of the old key are not the new key's.
  ASSERT_TRUE(accept_carol_reading(old_fingerprint.substr(0, 9))) << terminal.screen();
  ASSERT_SCREEN(terminal, "That is not a new key of " + carol + ": nothing was accepted.");
  ASSERT_SCREEN(terminal, "5) Log out\r\n> ");
  EXPECT_EQ(open_profile(home_, alice).contact(carol)->key.fingerprint(), old_fingerprint);

  // "abcd ef01", as read out.
  ASSERT_TRUE(accept_carol_reading(new_fingerprint.substr(0, 9))) << terminal.screen();
  ASSERT_SCREEN(terminal, "Accepted the new key of " + carol + ".");
  ASSERT_SCREEN(terminal, "] " + carol + ": from my new key");
  ASSERT_SCREEN(terminal, "5) Log out\r\n> ");
  terminal.type("5\n");
  ASSERT_SCREEN(terminal, "3) Quit\r\n> ");
  terminal.type("3\n");
  EXPECT_EQ(terminal.wait_exit(), 0) << terminal.screen();
  EXPECT_EQ(open_profile(home_, alice).contact(carol)->key.fingerprint(), new_fingerprint);
}

// The server lost Alice's account (a memory store, restarted): Connect says so and how to
// mend it from the menu; Register with her phone number registers her same key again, her
// stored e-mail address the default, keeps her contacts and history, and logs her in.
TEST_F(MenuTest, AnAccountTheServerNoLongerKnowsIsRegisteredAgainWithItsSameKey) {
  TempDir data("shido-data");
  const std::string alice = phone_number(451);
  const std::string bob = phone_number(452);
  auto first = std::make_unique<ServerProcess>(memory_server_options(data.path()));
  ASSERT_EQ(register_cli(*first, home_, alice).status, 0);
  ASSERT_EQ(register_cli(*first, bob_home_, bob).status, 0);
  ASSERT_EQ(run_client(at(home_, *first, {"send", "--to", bob, "before"})).status, 0);
  const std::string account = home_ + "/" + alice;
  const std::string key_before = read_file_or_empty(account + "/key.pem");
  const std::string contacts_before = read_file_or_empty(account + "/contacts.json");
  const std::string history_before = read_file_or_empty(account + "/history.jsonl");
  ASSERT_THAT(contacts_before, HasSubstr(bob));
  first->stop(SIGTERM);
  first.reset();
  ServerProcess::Options options = memory_server_options(data.path());
  options.use_outbox = false;  // codes go to the log, with the address each was sent for
  ServerProcess again(options);
  const std::string server = "the server at 127.0.0.1:" + std::to_string(again.port());

  Terminal terminal({"--home", home_, "--port", std::to_string(again.port())});
  ASSERT_SCREEN(terminal, "3) Quit\r\n> ");
  terminal.type("2\n");
  ASSERT_SCREEN(terminal, "Error: " + server + " no longer knows the account " + alice +
                              ": it may have been restarted without its data (--store memory) "
                              "or restored from an old backup.\r\n");
  ASSERT_SCREEN(terminal,
                "To register this same key again, with a new code (your contacts, pins and "
                "history are kept): choose Register and type " +
                    alice + ".\r\n");
  ASSERT_SCREEN(terminal, "3) Quit\r\n> ");
  EXPECT_THAT(terminal.screen(), Not(HasSubstr("Logged in")));

  terminal.type("1\n");
  ASSERT_SCREEN(terminal, "Phone number (E.164, e.g. +972501234567): ");
  terminal.type(alice + "\n");
  ASSERT_SCREEN(terminal, "The account " + alice + " is here already");
  ASSERT_SCREEN(terminal, "E-mail (Enter for someone@example.com): ");
  terminal.type("\n");
  ASSERT_SCREEN(terminal, "Code: ");
  const auto code = last_code(again, alice);
  ASSERT_TRUE(code.has_value()) << again.log();
  EXPECT_EQ(code->email, "someone@example.com");
  terminal.type(code->code + "\n");
  ASSERT_SCREEN(terminal,
                "Registered again, with the same key: your contacts, pins and history "
                "are kept. Your key fingerprint is:\r\n  " +
                    open_profile(home_, alice).key().public_key().fingerprint());
  ASSERT_SCREEN(terminal, "Logged in as " + alice + ".");
  ASSERT_SCREEN(terminal, "5) Log out\r\n> ");
  terminal.type("5\n");
  ASSERT_SCREEN(terminal, "3) Quit\r\n> ");
  terminal.type("3\n");
  EXPECT_EQ(terminal.wait_exit(), 0) << terminal.screen();

  EXPECT_EQ(read_file_or_empty(account + "/key.pem"), key_before);
  EXPECT_EQ(read_file_or_empty(account + "/contacts.json"), contacts_before);
  EXPECT_EQ(read_file_or_empty(account + "/history.jsonl"), history_before);
  EXPECT_EQ(read_file_or_empty(account + "/code"), code->code);
}

TEST_F(MenuTest, AnEndOfInputInsideAFlowEndsTheMenuLevelByLevel) {
  const std::string alice = phone_number(441);
  ASSERT_EQ(register_cli(server_, home_, alice).status, 0);
  // Connect, Contacts, then the pipe ends: every level ends in turn, never looping.
  const RunResult result =
      run_client({"--home", home_, "--port", std::to_string(server_.port())}, "2\n4\n");
  EXPECT_EQ(result.status, 0) << result;
  EXPECT_THAT(result.out, HasSubstr("Logged out."));
  EXPECT_THAT(result.out, HasSubstr("Bye."));
}

TEST_F(MenuTest, CtrlCLeavesWithByeAndExitZero) {
  Terminal terminal({"--home", home_, "--port", std::to_string(server_.port())});
  ASSERT_SCREEN(terminal, "3) Quit\r\n> ");
  terminal.type("1\n");
  ASSERT_SCREEN(terminal, "Phone number (E.164, e.g. +972501234567): ");
  terminal.type("\x03");  // the terminal turns it into SIGINT for the client
  ASSERT_SCREEN(terminal, "Bye.");
  EXPECT_EQ(terminal.wait_exit(), 0) << terminal.screen();
}

TEST_F(MenuTest, ConnectWithoutAnAccountSaysRegisterFirst) {
  Terminal terminal({"--home", home_, "--port", std::to_string(server_.port())});
  ASSERT_SCREEN(terminal, "3) Quit\r\n> ");
  terminal.type("2\n");
  ASSERT_SCREEN(terminal, "Error: no account in " + home_ + ": register first");
  ASSERT_SCREEN(terminal, "3) Quit\r\n> ");
  terminal.type("3\n");
  ASSERT_SCREEN(terminal, "Bye.");
  EXPECT_EQ(terminal.wait_exit(), 0) << terminal.screen();
}

}  // namespace
}  // namespace shido::client_test
