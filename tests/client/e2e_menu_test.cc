// The interactive menu of the real shido-client (no subcommand), driven through a
// pseudo-terminal as a person would: read the screen until a prompt appears (with a
// deadline, never a fixed sleep), type, and check what the screen showed.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/syscall.h>
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
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
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
    // A pidfd becomes readable when the client ends: wait on it, up to the deadline.
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd < 0) throw std::runtime_error(std::string("pidfd_open: ") + std::strerror(errno));
    for (;;) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
      pollfd p{pidfd, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(std::max<long long>(0, left)));
      if (ready < 0 && errno == EINTR) continue;
      break;
    }
    ::close(pidfd);
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  const std::string& screen() const { return screen_; }
  // The screen since the last wait_for, for failure messages.
  std::string rest() const { return screen_.substr(cursor_); }

 private:
  bool read_some(SteadyClock::time_point deadline) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) return false;
    pollfd p{master_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left));
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
  ASSERT_SCREEN(terminal, "2) Back\r\n> ");
  terminal.type("2\n");
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

TEST_F(MenuTest, CtrlDAtAPromptInsideAFlowLeavesToo) {
  Terminal terminal({"--home", home_, "--port", std::to_string(server_.port())});
  ASSERT_SCREEN(terminal, "3) Quit\r\n> ");
  terminal.type("1\n");
  ASSERT_SCREEN(terminal, "Phone number (E.164, e.g. +972501234567): ");
  terminal.type("\x04");
  ASSERT_SCREEN(terminal, "Bye.");
  EXPECT_EQ(terminal.wait_exit(), 0) << terminal.screen();
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
