// The code and registration limits of design section 10.4 against the real server, with its
// default (open-Internet) rate options: one address cannot flood codes (SMS bombing, toll
// fraud), cannot keep the owner of a phone from registering, and cannot exhaust a phone's
// failed registration proofs; the server-wide limit and --code-command-concurrency answer
// 127 with retry_after. Other addresses are the loopback's 127.0.0.2 and up: the client
// binds its socket to one of them before it connects (raw_connect_from).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e_util.h"
#include "shido/base64.h"

namespace shido::e2e {
namespace {

// One request and its one reply on a raw connection; throws when none comes.
Json call(int fd, const Json& request) {
  auto reply = e2e::exchange(fd, encode_frame(request.dump()));
  if (!reply) throw std::runtime_error("no reply to " + request.dump());
  return *reply;
}

// A client on a raw connection from one address: HELLO, 102 and 103 by hand.
class Peer {
 public:
  Peer(const std::string& source, const ServerProcess& server)
      : fd_(raw_connect_from(source, server)) {}

  // HELLO; keeps the server key and nonce for the next proof.
  void hello() {
    const Json reply = call(fd_.get(), Hello{}.to_json());
    if (code_of(reply) != 101) throw std::runtime_error("HELLO got " + reply.dump());
    server_key_ = must(PublicKey::from_pem(reply["public_key"].get<std::string>()), "key");
    nonce_ = must(base64_decode(reply["nonce"].get<std::string>()), "nonce");
  }
  Json request_code(const std::string& phone) {
    return call(fd_.get(), SendPhoneNumber{phone, "someone@example.com"}.to_json());
  }
  // 103 proving `code` with key, after a fresh HELLO (every proof spends the nonce).
  Json prove(const KeyPair& key, const std::string& phone, std::string_view code) {
    hello();
    auto proof = seal(key, *server_key_, as_bytes(code), Purpose::kRegister,
                      Context{to_bytes(phone), nonce_});
    if (!proof.ok()) throw std::runtime_error("seal failed");
    return call(fd_.get(), SendPublicKey{key.public_key().pem(), to_wire(proof.value())}.to_json());
  }

 private:
  UniqueFd fd_;
  std::optional<PublicKey> server_key_;
  Bytes nonce_;
};

std::string description(const Json& reply) { return reply.value("error_description", ""); }

// A code that is not `code`.
std::string wrong_code(const std::string& code) { return code == "000000" ? "000001" : "000000"; }

class CodeLimitsTest : public E2eTest {
 protected:
  // A server with the rate options at their defaults (ServerProcess raises them for the
  // tests that register many accounts from one address).
  void start_with_default_limits(std::vector<std::string> extra_args = {}) {
    ServerProcess::Options options = server_options(std::move(extra_args));
    options.raise_rate_limits = false;
    start_with(std::move(options));
  }
};

// Issue 13, item 6: one client asked for 35,200 codes to distinct phones in 20 s.
TEST_F(CodeLimitsTest, OneAddressGetsTenCodesInTenMinutesThen127) {
  start_with_default_limits();
  Peer flooder("127.0.0.1", server());
  flooder.hello();
  for (int n = 0; n < 10; ++n) {
    ASSERT_EQ(code_of(flooder.request_code(phone_number(100 + n))), 115) << n;
  }
  const Json limited = flooder.request_code(phone_number(110));
  ASSERT_EQ(code_of(limited), 127) << limited;
  EXPECT_NE(description(limited).find("your address"), std::string::npos) << limited;
  ASSERT_TRUE(limited.contains("retry_after")) << limited;
  EXPECT_GT(limited["retry_after"].get<int>(), 540);  // the first code was just sent
  EXPECT_LE(limited["retry_after"].get<int>(), 600);
  EXPECT_FALSE(server().read_code(phone_number(110)));  // no code was delivered

  // Another address is not held back by this one's limit.
  Peer other("127.0.0.2", server());
  other.hello();
  EXPECT_EQ(code_of(other.request_code(phone_number(110))), 115);
}

TEST_F(CodeLimitsTest, TheServerSendsAtMostSixtyCodesAMinute) {
  // Sixty-one addresses would do; one address with a raised share is the same to the
  // server-wide count.
  start_with_default_limits({"--codes-per-address", "1000"});
  Peer client("127.0.0.1", server());
  client.hello();
  for (int n = 0; n < 60; ++n) {
    ASSERT_EQ(code_of(client.request_code(phone_number(200 + n))), 115) << n;
  }
  Peer other("127.0.0.2", server());
  other.hello();
  const Json limited = other.request_code(phone_number(260));
  ASSERT_EQ(code_of(limited), 127) << limited;
  EXPECT_NE(description(limited).find("server-wide"), std::string::npos) << limited;
  ASSERT_TRUE(limited.contains("retry_after")) << limited;
  EXPECT_GT(limited["retry_after"].get<int>(), 0);
  EXPECT_LE(limited["retry_after"].get<int>(), 60);
}

// Issue 13, item 5: three code requests for a victim's phone kept its owner from
// registering for ten minutes.
TEST_F(CodeLimitsTest, OneAddressCannotKeepTheOwnerOfAPhoneFromRegistering) {
  start_with_default_limits();
  const std::string victim = phone_number(300);
  Peer attacker("127.0.0.1", server());
  attacker.hello();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(code_of(attacker.request_code(victim)), 115) << i;
  const Json limited = attacker.request_code(victim);
  ASSERT_EQ(code_of(limited), 127) << limited;
  EXPECT_NE(description(limited).find("for this phone from your address"), std::string::npos)
      << limited;

  // The owner, from another address, gets a code and registers.
  Peer owner("127.0.0.2", server());
  owner.hello();
  ASSERT_EQ(code_of(owner.request_code(victim)), 115);
  const std::string code = server().read_code(victim)->code;
  EXPECT_EQ(code_of(owner.prove(KeyPair::generate(), victim, code)), 104);
}

TEST_F(CodeLimitsTest, FailedRegistrationProofsAreCappedPerAddressAndPerPhone) {
  start_with_default_limits();
  const std::string victim = phone_number(400);
  const KeyPair key = KeyPair::generate();
  // Each of two addresses guesses two codes' worth (5 wrong proofs each): ten per address
  // is all one address may fail in a day.
  for (const std::string source : {"127.0.0.1", "127.0.0.2"}) {
    Peer guesser(source, server());
    for (int round = 0; round < 2; ++round) {
      guesser.hello();
      ASSERT_EQ(code_of(guesser.request_code(victim)), 115) << source << " round " << round;
      const std::string wrong = wrong_code(server().read_code(victim)->code);
      for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(code_of(guesser.prove(key, victim, wrong)), 109) << source << " " << i;
      }
    }
    guesser.hello();
    const Json spent = guesser.request_code(phone_number(401));
    ASSERT_EQ(code_of(spent), 127) << spent;
    EXPECT_NE(description(spent).find("failed registration attempts from your address"),
              std::string::npos)
        << spent;
    EXPECT_GT(spent["retry_after"].get<int>(), 86000);  // a day after the first failure
  }
  // Twenty failed proofs are all the phone may have in a day, from any address.
  Peer third("127.0.0.3", server());
  third.hello();
  const Json capped = third.request_code(victim);
  ASSERT_EQ(code_of(capped), 127) << capped;
  EXPECT_NE(description(capped).find("failed registration attempts for this phone"),
            std::string::npos)
      << capped;
  EXPECT_LE(capped["retry_after"].get<int>(), 86400);
  // Other phones are not held back.
  EXPECT_EQ(code_of(third.request_code(phone_number(402))), 115);
}

// Runs shido-server with args until it exits; its status and what it wrote to stdout.
std::pair<test::ExitInfo, std::string> run_to_exit(const std::vector<std::string>& args) {
  test::TempDir out("shido-server-out");
  std::vector<std::string> argv = {SHIDO_SERVER_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string stdout_path = out.path() + "/stdout";
  const pid_t pid = test::spawn_child(
      argv, {test::ChildFd::file(1, stdout_path, O_WRONLY | O_CREAT | O_TRUNC),
             test::ChildFd::file(2, out.path() + "/stderr", O_WRONLY | O_CREAT | O_TRUNC)});
  int status = 0;
  // A guard against a server that starts instead of exiting.
  if (!test::wait_until(pid, std::chrono::steady_clock::now() + std::chrono::seconds(30), status))
    status = test::kill_and_reap(pid);
  return {test::exit_info(status), test::read_text_file(stdout_path).value_or("")};
}

TEST(CodeLimitOptionsTest, HelpNamesEachLimitWithTheProtocolsDefault) {
  const auto [exit, help] = run_to_exit({"--help"});
  ASSERT_EQ(exit.status, 0);
  for (const auto& [option, fallback] : std::vector<std::pair<std::string, std::string>>{
           {"--codes-per-phone-per-address", "3"},
           {"--codes-per-phone", "10"},
           {"--codes-per-address", "10"},
           {"--codes-per-minute", "60"},
           {"--failed-registrations-per-phone", "20"},
           {"--failed-registrations-per-address", "10"},
           {"--failed-registrations-per-day", "200"},
           {"--code-command-concurrency", "4"}}) {
    const std::size_t at = help.find("  " + option + " ");
    ASSERT_NE(at, std::string::npos) << option << " is not in --help:\n" << help;
    const std::string line = help.substr(at, help.find('\n', at) - at);
    EXPECT_NE(line.find("]=" + fallback), std::string::npos) << line;
  }
  // A limit of zero would refuse everyone: it is an option error.
  EXPECT_EQ(run_to_exit({"--codes-per-minute", "0"}).first.status, 1);
}

// A FIFO the test and the code command meet at: opening one end waits for the other.
std::string make_fifo(const std::string& path) {
  if (::mkfifo(path.c_str(), 0600) != 0)
    throw std::runtime_error("mkfifo " + path + ": " + std::strerror(errno));
  return path;
}

// Opens a FIFO (waiting until the command opens its other end), and reads a line from it
// or writes one to it.
void meet(const std::string& fifo, int flags) {
  UniqueFd fd(::open(fifo.c_str(), flags | O_CLOEXEC));
  if (fd.get() < 0) throw std::runtime_error("open " + fifo + ": " + std::strerror(errno));
  char line[2] = {'x', '\n'};
  const ssize_t n =
      (flags & O_WRONLY) != 0 ? ::write(fd.get(), line, 2) : ::read(fd.get(), line, 2);
  if (n <= 0) throw std::runtime_error("the code command did not meet the test at " + fifo);
}

TEST_F(CodeLimitsTest, CodeCommandsBeyondTheConcurrencyLimitAre127) {
  test::TempDir dir("shido-code-concurrency");
  const std::string started = make_fifo(dir.path() + "/started");
  const std::string go = make_fifo(dir.path() + "/go");
  // The command says it has started, then waits for the test's word.
  ServerProcess::Options options = server_options(
      {"--code-command", "echo started > '" + started + "' && read word < '" + go + "'",
       "--code-command-concurrency", "1"});
  options.use_outbox = false;
  start_with(std::move(options));

  ProtocolClient first = connect_to(server());
  must(first.hello(), "hello");
  ASSERT_TRUE(first.send(SendPhoneNumber{phone_number(500), "a@example.com"}.to_json()).ok());
  meet(started, O_RDONLY);  // the first command runs, and holds the one turn

  ProtocolClient second = connect_to(server());
  must(second.hello(), "hello");
  const auto busy = second.request_code(phone_number(501), "b@example.com");
  ASSERT_EQ(refused_code(busy), 127);
  ASSERT_TRUE(busy.error().retry_after);
  EXPECT_GE(*busy.error().retry_after, 1);
  EXPECT_LE(*busy.error().retry_after, 10);
  EXPECT_NE(busy.error().message.find("at once"), std::string::npos) << busy.error().message;

  meet(go, O_WRONLY);
  EXPECT_EQ(code_of(must(first.receive(), "115")), 115);
  // The turn is free again, and the refused request took no code slot.
  ASSERT_TRUE(second.send(SendPhoneNumber{phone_number(501), "b@example.com"}.to_json()).ok());
  meet(started, O_RDONLY);
  meet(go, O_WRONLY);
  EXPECT_EQ(code_of(must(second.receive(), "115")), 115);
}

}  // namespace
}  // namespace shido::e2e
