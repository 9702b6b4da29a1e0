// The server process itself: its listening line, shutdown on SIGTERM/SIGINT while clients
// are connected and one is long-polling, the server key kept across a restart, refused
// start-ups, and a log that never holds a code, a key or a message. How fast the server
// stops is not asserted here (timing decides no test): a stop's time-out only guards
// against a server that hangs.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cctype>
#include <fstream>
#include <sstream>
#include <thread>

#include "e2e_util.h"
#include "support/child_process.h"

namespace shido::e2e {
namespace {

class LifecycleTest : public E2eTest {};

TEST_F(LifecycleTest, ListeningLineGivesTheRealPortAndTheKeyFingerprint) {
  start();
  EXPECT_NE(server().port(), 0);
  EXPECT_TRUE(test::is_fingerprint_text(server().fingerprint())) << server().fingerprint();
  ProtocolClient client = connect_to(server());
  EXPECT_EQ(must(client.hello(), "hello").server_key.fingerprint(), server().fingerprint());
}

// The time-out a stop gets: shorter than the 60 s long-poll and the 30 s frame time-out in the
// test below, so a server that waited for its clients instead of closing them would hang here.
constexpr std::chrono::seconds kStopGuard{20};

TEST_F(LifecycleTest, SigtermClosesEveryConnectionWhileClientsAreConnectedAndOneLongPolls) {
  start();
  auto [registrar, bob] = register_new_user(server(), 1);

  std::vector<ProtocolClient> idle;
  for (int i = 0; i < 5; ++i) {
    idle.push_back(connect_to(server()));
    must(idle.back().hello(), "hello");
  }
  UniqueFd silent = raw_connect(server());
  UniqueFd half_frame = raw_connect(server());
  send_raw(half_frame.get(), frame_header(1000) + "{");
  ProtocolClient poller = login(server(), bob, std::chrono::seconds(20));
  ASSERT_TRUE(poller.send(CheckWaitingMessages{10, 60}.to_json()).ok());
  must(registrar.fetch(1, 0), "a round trip while the poll is pending");

  const test::ExitInfo exit = server().stop(SIGTERM, kStopGuard);
  EXPECT_TRUE(exit.exited);
  EXPECT_EQ(exit.status, 0);

  // Every connection was closed: the poll ends with nothing (or the close itself).
  auto polled = poller.receive();
  if (polled.ok()) {
    EXPECT_EQ(code_of(polled.value()), 112);
    EXPECT_EQ(polled.value().value("count", -1), 0);
    EXPECT_FALSE(poller.receive().ok());
  }
  for (auto& client : idle) EXPECT_EQ(wait_for_close(client.fd()), Closed::kYes);
  EXPECT_EQ(wait_for_close(silent.get()), Closed::kYes);
  EXPECT_EQ(wait_for_close(half_frame.get()), Closed::kYes);
  // Nothing listens any more.
  EXPECT_FALSE(ProtocolClient::connect(server().host(), server().port()).ok());
  const std::string log = server().log();
  EXPECT_NE(log.find("stopping on SIGTERM"), std::string::npos) << log;
  EXPECT_NE(log.find("stopped"), std::string::npos) << log;
}

TEST_F(LifecycleTest, SigtermWhileConnectionsComeAndGoStillClosesTheIdleOnes) {
  // Connections ending around the signal wake the accept loop, which then races the
  // signal's thread to the shutdown: an idle connection must be closed whichever wins.
  for (int round = 0; round < 8; ++round) {
    start();
    ProtocolClient idle = connect_to(server());
    must(idle.hello(), "hello");
    std::atomic<bool> done{false};
    std::atomic<int> served{0};
    const std::string host = server().host();
    const std::uint16_t port = server().port();
    std::vector<std::jthread> churn;
    for (int t = 0; t < 2; ++t) {
      churn.emplace_back([&] {
        while (!done) {
          auto fd = connect_tcp(host, port);
          if (!fd.ok()) continue;  // the server has stopped listening
          ::shutdown(fd.value().get(), SHUT_WR);
          if (drain_until_closed(fd.value().get(), std::chrono::seconds(10))) served += 1;
        }
      });
    }
    bool answered = true;
    while (served < 20 && answered) answered = idle.hello().ok();  // the churn gets going
    test::ExitInfo exit;
    try {
      exit = server().stop(SIGTERM, kStopGuard);
    } catch (const std::exception& error) {
      ADD_FAILURE() << "round " << round << ": " << error.what();
    }
    done = true;
    churn.clear();  // joins
    EXPECT_TRUE(answered) << "round " << round;
    EXPECT_EQ(exit.status, 0) << "round " << round;
    EXPECT_EQ(wait_for_close(idle.fd()), Closed::kYes);
    server_.reset();
  }
}

TEST_F(LifecycleTest, SigintStopsCleanly) {
  start();
  ProtocolClient client = connect_to(server());
  must(client.hello(), "hello");
  const test::ExitInfo exit = server().stop(SIGINT, kStopGuard);
  EXPECT_TRUE(exit.exited);
  EXPECT_EQ(exit.status, 0);
  EXPECT_NE(server().log().find("stopping on SIGINT"), std::string::npos);
}

TEST_F(LifecycleTest, ServerKeyIsKeptAcrossARestartAndTheMemoryStoreForgetsAccounts) {
  test::TempDir root("shido-restart");
  ServerProcess::Options options = server_options();
  options.data_dir = root.path() + "/data";
  options.extra_args = {"--store", "memory"};

  std::string first_fingerprint;
  User alice;
  {
    ServerProcess first(options);
    first_fingerprint = first.fingerprint();
    ProtocolClient client = connect_to(first);
    alice = register_user(first, client, phone_number(2));
    const test::ExitInfo exit = first.stop(SIGTERM);
    EXPECT_EQ(exit.status, 0);
  }
  struct stat info {};
  ASSERT_EQ(::stat((options.data_dir + "/server_key.pem").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_EQ(::stat(options.data_dir.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0077, 0u) << "the data directory is open to others";

  start_with(options);
  EXPECT_EQ(server().fingerprint(), first_fingerprint);
  ProtocolClient client = connect_to(server());
  const Greeting greeting = must(client.hello(), "hello");
  EXPECT_EQ(greeting.server_key.fingerprint(), first_fingerprint);
  // --store memory keeps only the key: accounts did not survive the restart.
  EXPECT_EQ(refused_code(client.login(alice.key, greeting, alice.phone, as_bytes(alice.code))),
            131);

  // A fresh data directory makes a new key.
  ServerProcess other(server_options());
  EXPECT_NE(other.fingerprint(), first_fingerprint);
  EXPECT_EQ(other.stop(SIGTERM).status, 0);
}

TEST_F(LifecycleTest, KeyFileOthersCanReadIsRefused) {
  test::TempDir root("shido-badkey");
  ServerProcess::Options options = server_options();
  options.data_dir = root.path() + "/data";
  {
    ServerProcess first(options);
    EXPECT_EQ(first.stop(SIGTERM).status, 0);
  }
  ASSERT_EQ(::chmod((options.data_dir + "/server_key.pem").c_str(), 0644), 0);
  EXPECT_THROW({ ServerProcess second(options); }, std::runtime_error);
}

// shido-server run with `args` until it exits by itself: its exit code and its stderr.
std::pair<test::ExitInfo, std::string> run_to_exit(const std::vector<std::string>& args) {
  test::TempDir out("shido-server-out");
  std::vector<std::string> argv = {SHIDO_SERVER_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string err = out.path() + "/stderr";
  const pid_t pid = test::spawn_child(
      argv, {test::ChildFd::file(1, out.path() + "/stdout", O_WRONLY | O_CREAT | O_TRUNC),
             test::ChildFd::file(2, err, O_WRONLY | O_CREAT | O_TRUNC)});
  int status = 0;
  // A guard against a server that starts instead of refusing: it would not exit.
  if (!test::wait_until(pid, std::chrono::steady_clock::now() + std::chrono::seconds(30), status))
    status = test::kill_and_reap(pid);
  return {test::exit_info(status), test::read_text_file(err).value_or("")};
}

TEST_F(LifecycleTest, OptionErrorsExitOneWithCli11sMessage) {
  test::TempDir data("shido-data");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--max-frame", "10"}, "--max-frame"},
      {{"--max-frame", "20000000"}, "--max-frame"},
      {{"--max-pending-frame-bytes", "1048576", "--max-frame", "2097152"},
       "--max-pending-frame-bytes"},
      {{"--max-connections", "-1"}, "--max-connections"},
      {{"--log-level", "chatty"}, "--log-level"},
      {{"--max-stored-bytes", "1000"}, "--max-stored-bytes"},
      {{"--port", "http"}, "--port"},
      {{"--bogus"}, "--bogus"},
      {{"--outbox", data.path(), "--code-command", "true"}, "excludes"},
  };
  for (const auto& [args, named] : cases) {
    std::vector<std::string> all = {"--data-dir", data.path(), "--port", "0"};
    all.insert(all.end(), args.begin(), args.end());
    const auto [exit, err] = run_to_exit(all);
    EXPECT_TRUE(exit.exited) << testing::PrintToString(args);
    EXPECT_EQ(exit.status, 1) << testing::PrintToString(args) << "\n" << err;
    EXPECT_NE(err.find(named), std::string::npos) << testing::PrintToString(args) << "\n" << err;
  }
  const auto [help, text] = run_to_exit({"--help"});
  EXPECT_EQ(help.status, 0) << text;
}

// True when `token` occurs in text with no digit right before or after it.
bool contains_number(const std::string& text, const std::string& token) {
  for (std::size_t at = text.find(token); at != std::string::npos; at = text.find(token, at + 1)) {
    const bool digit_before = at > 0 && std::isdigit(static_cast<unsigned char>(text[at - 1]));
    const std::size_t end = at + token.size();
    const bool digit_after =
        end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]));
    if (!digit_before && !digit_after) return true;
  }
  return false;
}

// The base64 lines inside a PEM text.
std::vector<std::string> pem_body_lines(const std::string& pem) {
  std::vector<std::string> lines;
  std::istringstream in(pem);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.rfind("-----", 0) != 0) lines.push_back(line);
  }
  return lines;
}

TEST_F(LifecycleTest, LogsHoldNoCodesKeysOrMessageContent) {
  start({"--log-level", "debug"});
  auto [a, alice] = register_new_user(server(), 3);
  auto [b, bob] = register_new_user(server(), 4);
  const std::string body = "the secret plans are in the blue folder";
  const Envelope envelope = seal_text(alice, bob.phone, bob.key.public_key(), body);
  const std::string id = must(a.send_envelope(bob.phone, envelope), "send");
  const auto messages = must(b.fetch(10, 0), "fetch");
  ASSERT_EQ(messages.size(), 1u);
  must(b.ack({id}), "ack");
  // Failures and odd requests get logged too; none of them may leak.
  ProtocolClient c = connect_to(server());
  Greeting greeting = must(c.hello(), "hello");
  EXPECT_EQ(refused_code(c.login(alice.key, greeting, alice.phone, as_bytes("abcdef"))), 109);
  greeting = must(c.hello(), "hello");
  EXPECT_TRUE(c.login(alice.key, greeting, alice.phone, as_bytes(alice.code)).ok());
  ASSERT_TRUE(c.send(GeneralClientError{"client gave up"}.to_json()).ok());
  SendMessage substituted{bob.phone, to_wire(envelope), bob.key.public_key().pem()};
  ASSERT_TRUE(c.send(substituted.to_json()).ok());
  EXPECT_EQ(code_of(must(c.receive(), "receive")), 124);
  const std::string server_key_pem = greeting.server_key.pem();

  const std::string log = stop_server();
  ASSERT_NE(log.find("registered"), std::string::npos) << log;  // the log is not empty
  EXPECT_NE(log.find(alice.phone), std::string::npos) << "the log should name the account";
  for (const User* user : {&alice, &bob}) {
    EXPECT_FALSE(contains_number(log, user->code)) << "the code of " << user->phone << " is logged";
    for (const std::string& line : pem_body_lines(user->key.public_key().pem())) {
      EXPECT_EQ(log.find(line), std::string::npos) << "a public key is logged";
    }
  }
  for (const std::string& line : pem_body_lines(server_key_pem)) {
    EXPECT_EQ(log.find(line), std::string::npos) << "the server key is logged";
  }
  EXPECT_EQ(log.find("BEGIN"), std::string::npos);
  EXPECT_EQ(log.find("PRIVATE"), std::string::npos);
  EXPECT_EQ(log.find(body), std::string::npos);
  const WireEnvelope wire = to_wire(envelope);
  for (const std::string* member :
       {&wire.ciphertext, &wire.mac, &wire.wrapped_aes_key, &wire.salt}) {
    EXPECT_EQ(log.find(member->substr(0, 16)), std::string::npos) << "envelope bytes are logged";
  }
}

TEST_F(LifecycleTest, AConfigFileSetsTheOptions) {
  // Every option can come from --config (key = value, names as the long options).
  const test::TempDir dir("shido-config");
  const std::string config = dir.path() + "/server.conf";
  {
    std::ofstream file(config);
    file << "max-connections = 1\nlog-level = debug\n";
  }
  start({"--config", config});
  ProtocolClient first = connect_to(server());
  must(first.hello(), "hello");
  // The file's cap of 1: the refusal comes before any handshake, and the client reports it.
  auto second = ProtocolClient::connect(server().host(), server().port());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().server_code, Code::kServerBusy);
  EXPECT_NE(server().log().find("DEBUG"), std::string::npos);  // the file's log level
}

TEST_F(LifecycleTest, AConfigFileKeyThatIsNoOptionStopsTheServer) {
  // A misspelt key would otherwise leave its option at the default without a word; a key
  // under a [section] is not read as a top-level one, so it is refused too.
  const test::TempDir dir("shido-config");
  const std::string config = dir.path() + "/server.conf";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"stor = memory\n", "the key 'stor'"},
      {"[shido]\nstore = memory\n", "the section [shido]"},
  };
  for (const auto& [text, named] : cases) {
    std::ofstream(config) << text;
    const auto [exit, err] = run_to_exit({"--config", config, "--data-dir", dir.path() + "/data"});
    EXPECT_TRUE(exit.exited) << text;
    EXPECT_EQ(exit.status, 1) << text << err;
    EXPECT_NE(err.find("not an option"), std::string::npos) << text << err;
    EXPECT_NE(err.find(named), std::string::npos) << text << err;
  }
}

}  // namespace
}  // namespace shido::e2e
