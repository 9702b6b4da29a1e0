// The status line against the real server (issue 15, "watching it"): after a scripted load
// its numbers are exactly the load's, on SIGUSR1 at once and with the server still serving
// afterwards; with --status-interval the lines come on their own; a long interval does not
// hold up a stop.
#include <signal.h>

#include <map>
#include <sstream>

#include "e2e_util.h"

namespace shido::e2e {
namespace {

using Fields = std::map<std::string, std::string>;

// The status lines in a log, each as its key=value fields, oldest first. A last line the
// server is still writing (no newline yet) is left for the next read.
std::vector<Fields> status_lines(const std::string& log) {
  std::vector<Fields> lines;
  std::istringstream in(log.substr(0, log.rfind('\n') + 1));
  for (std::string line; std::getline(in, line);) {
    const std::size_t start = line.find(" - - status ");
    if (start == std::string::npos) continue;
    Fields fields;
    std::istringstream words(line.substr(start + 12));
    for (std::string word; words >> word;) {
      const std::size_t equals = word.find('=');
      if (equals == std::string::npos) throw std::runtime_error("not key=value: " + line);
      fields[word.substr(0, equals)] = word.substr(equals + 1);
    }
    lines.push_back(std::move(fields));
  }
  return lines;
}

// Waits until the server has logged `count` status lines; returns them all.
std::vector<Fields> wait_for_status_lines(const ServerProcess& server, std::size_t count) {
  std::vector<Fields> lines;
  const bool logged = test::eventually([&] {
    lines = status_lines(server.log());
    return lines.size() >= count;
  });
  if (!logged) throw std::runtime_error("fewer than " + std::to_string(count) + " status lines");
  return lines;
}

// A field as a number; throws when it is absent.
double number(const Fields& fields, const std::string& key) {
  const auto found = fields.find(key);
  if (found == fields.end()) throw std::runtime_error("no field " + key);
  return std::stod(found->second);
}

// That the line's rate of `key` is `count` over its interval_s: the rate has two decimals
// and the interval three, so each may be off by half its last digit (lines a fraction of a
// millisecond apart show interval_s=0.000).
void expect_rate(const Fields& line, const std::string& key, double count) {
  const double seconds = number(line, "interval_s");
  const double rate = number(line, key);
  EXPECT_GT(rate, 0) << key;
  EXPECT_NEAR(rate * seconds, count, 0.005 * seconds + 0.0005 * rate + 1e-9) << key;
}

class StatusTest : public E2eTest {
 protected:
  // Two users; Alice sends Bob 10 messages (of different lengths), Bob fetches the 4 oldest
  // and acknowledges them. Both stay connected. Returns the ciphertext bytes of the 6 left.
  std::size_t run_load() {
    alice_ = register_new_user(server(), 1);
    bob_ = register_new_user(server(), 2);
    std::map<std::string, std::size_t> sizes;  // message id -> ciphertext bytes
    for (std::size_t i = 0; i < 10; ++i) {
      const Envelope envelope = seal_text(alice_->user, bob_->user.phone,
                                          bob_->user.key.public_key(), std::string(20 * i, 'x'));
      sizes[must(alice_->client.send_envelope(bob_->user.phone, envelope), "send")] =
          envelope.ciphertext.size();
    }
    const auto fetched = must(bob_->client.fetch(4, 0), "fetch");
    EXPECT_EQ(fetched.size(), 4u);
    std::vector<std::string> ids;
    for (const WaitingMessage& message : fetched) {
      ids.push_back(message.message_id);
      sizes.erase(message.message_id);
    }
    EXPECT_EQ(must(bob_->client.ack(ids), "ack").waiting, 6);
    std::size_t waiting_bytes = 0;
    for (const auto& [id, size] : sizes) waiting_bytes += size;
    return waiting_bytes;
  }

  void signal_server(int signal) { ASSERT_EQ(::kill(server().pid(), signal), 0); }

  std::optional<Registered> alice_;
  std::optional<Registered> bob_;
};

TEST_F(StatusTest, SigusrOneLogsTheNumbersOfAScriptedLoadAtOnce) {
  start({"--status-interval", "0"});  // only SIGUSR1 makes lines
  const std::size_t waiting_bytes = run_load();
  signal_server(SIGUSR1);
  const Fields line = wait_for_status_lines(server(), 1).at(0);
  EXPECT_EQ(line.at("connections"), "2");
  EXPECT_EQ(line.at("logged_in"), "2");
  EXPECT_EQ(line.at("accounts"), "2");
  EXPECT_EQ(line.at("waiting_messages"), "6");
  EXPECT_EQ(line.at("waiting_bytes"), std::to_string(waiting_bytes));
  EXPECT_EQ(line.at("stored_total"), "10");
  EXPECT_EQ(line.at("fetched_total"), "4");
  // The first line's rates are the totals over the time since the start.
  expect_rate(line, "stored_per_s", 10);
  expect_rate(line, "fetched_per_s", 4);
  EXPECT_GT(number(line, "journal_bytes"), 0);  // --store disk, the default

  // The server goes on: Bob fetches the 6 left, and the next line counts only them.
  EXPECT_TRUE(server().running());
  EXPECT_EQ(must(bob_->client.fetch(100, 0), "fetch after SIGUSR1").size(), 6u);
  signal_server(SIGUSR1);
  const Fields next = wait_for_status_lines(server(), 2).at(1);
  EXPECT_EQ(next.at("fetched_total"), "10");
  EXPECT_EQ(next.at("stored_per_s"), "0.00");
  expect_rate(next, "fetched_per_s", 6);
  EXPECT_EQ(status_lines(server().log()).size(), 2u);  // --status-interval 0: no timer lines
}

TEST_F(StatusTest, TheLineCarriesNoPhoneNumberAndNoJournalWithoutADisk) {
  start({"--status-interval", "0", "--store", "memory"});
  run_load();
  signal_server(SIGUSR1);
  const Fields line = wait_for_status_lines(server(), 1).at(0);
  EXPECT_EQ(line.count("journal_bytes"), 0u);
  EXPECT_EQ(line.at("waiting_messages"), "6");
  for (const auto& [key, value] : line) {
    EXPECT_EQ(value.find('+'), std::string::npos) << key << "=" << value;
  }
  const std::string log = server().log();
  const std::size_t status = log.find(" status ");
  ASSERT_NE(status, std::string::npos);
  const std::string text = log.substr(status, log.find('\n', status) - status);
  EXPECT_EQ(text.find(alice_->user.phone.substr(1)), std::string::npos) << text;
  EXPECT_EQ(text.find(bob_->user.phone.substr(1)), std::string::npos) << text;
}

TEST_F(StatusTest, LoggedInConnectionsAreCountedUntilTheyEnd) {
  start({"--status-interval", "0"});
  run_load();
  ProtocolClient anonymous = connect_to(server());
  (void)must(anonymous.hello(), "hello");
  signal_server(SIGUSR1);
  const Fields with = wait_for_status_lines(server(), 1).at(0);
  EXPECT_EQ(with.at("connections"), "3");
  EXPECT_EQ(with.at("logged_in"), "2");
  // Bob leaves; his connection's thread ends soon after his BYE, and both counts drop.
  bob_->client.bye();
  std::vector<Fields> lines;
  EXPECT_TRUE(test::eventually([&] {
    signal_server(SIGUSR1);
    lines = wait_for_status_lines(server(), lines.size() + 1);
    return lines.back().at("logged_in") == "1" && lines.back().at("connections") == "2";
  })) << "last: logged_in="
      << lines.back().at("logged_in") << " connections=" << lines.back().at("connections");
  EXPECT_EQ(lines.back().at("accounts"), "2");
}

TEST_F(StatusTest, AShortIntervalLogsLinesOnItsOwn) {
  start({"--status-interval", "1"});
  const std::vector<Fields> lines = wait_for_status_lines(server(), 2);
  EXPECT_EQ(lines[0].at("accounts"), "0");
  EXPECT_EQ(lines[1].at("waiting_messages"), "0");
  EXPECT_GT(number(lines[1], "interval_s"), 0);
}

TEST_F(StatusTest, ALongIntervalDoesNotHoldUpTheStop) {
  // An hour between lines; TearDown's SIGTERM must still end the server within its
  // 30-second guard, and with exit status 0.
  start({"--status-interval", "3600"});
  signal_server(SIGUSR1);
  (void)wait_for_status_lines(server(), 1);
  const std::string log = stop_server();
  EXPECT_NE(log.find("stopping on SIGTERM"), std::string::npos);
}

}  // namespace
}  // namespace shido::e2e
