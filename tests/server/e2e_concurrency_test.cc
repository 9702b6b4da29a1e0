// Many clients at once against the real server: 200 clients register, send to each other
// and fetch until each has every message addressed to it, none lost and none twice; and
// racing registrations of one phone end with exactly one account.
#include <atomic>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "e2e_util.h"

namespace shido::e2e {
namespace {

class ConcurrencyTest : public E2eTest {};

constexpr int kClients = 200;
constexpr int kOffsets[] = {1, 7, 31};  // client i sends to i+1, i+7 and i+31 (mod kClients)
constexpr int kExpected = static_cast<int>(std::size(kOffsets));

std::string body_for(int from, int to) {
  return "message from " + std::to_string(from) + " to " + std::to_string(to) + " ✓";
}

struct Outcome {
  std::string error;
  std::vector<std::string> sent_ids;
  std::map<std::string, std::string> received;  // message id -> body
  std::set<std::string> senders;                // phones the messages came from
  int duplicates = 0;
  int fetches = 0;
  bool mailbox_empty_at_end = false;
};

TEST_F(ConcurrencyTest, TwoHundredClientsExchangeMessagesNoneLostOrDuplicated) {
  start();
  std::vector<User> users(kClients);
  for (int i = 0; i < kClients; ++i)
    users[static_cast<std::size_t>(i)].phone = phone_number(1000 + i);
  std::vector<Outcome> outcomes(kClients);
  std::latch registered(kClients);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(150);

  auto run_client = [&](int i) {
    const auto me = static_cast<std::size_t>(i);
    Outcome& outcome = outcomes[me];
    bool arrived = false;
    try {
      ProtocolClient client = connect_to(server(), std::chrono::seconds(60));
      const User registered_user = register_user(server(), client, users[me].phone);
      users[me].key = registered_user.key;
      users[me].code = registered_user.code;
      arrived = true;
      registered.arrive_and_wait();  // everyone is registered before anyone sends

      for (int offset : kOffsets) {
        const auto to = static_cast<std::size_t>((i + offset) % kClients);
        const PublicKey key = must(client.recipient_key(users[to].phone), "recipient_key");
        if (!(key == users[to].key.public_key()))
          throw std::runtime_error("the server gave a wrong key");
        outcome.sent_ids.push_back(must(
            client.send_envelope(users[to].phone, seal_text(users[me], users[to].phone, key,
                                                            body_for(i, static_cast<int>(to)))),
            "send_envelope"));
      }

      while (static_cast<int>(outcome.received.size()) < kExpected &&
             std::chrono::steady_clock::now() < deadline) {
        const auto messages = must(client.fetch(100, 5), "fetch");
        outcome.fetches += 1;
        std::vector<std::string> ids;
        for (const WaitingMessage& message : messages) {
          ids.push_back(message.message_id);
          if (outcome.received.count(message.message_id) != 0) {
            outcome.duplicates += 1;
            continue;
          }
          outcome.received[message.message_id] = open_body(users[me], message);
          outcome.senders.insert(message.senders_phone_number);
        }
        if (!ids.empty()) must(client.ack(ids), "ack");
      }
      outcome.mailbox_empty_at_end = must(client.fetch(100, 0), "final fetch").empty();
      client.bye();
    } catch (const std::exception& error) {
      outcome.error = error.what();
      if (!arrived) registered.arrive_and_wait();
    }
  };

  std::vector<std::thread> threads;
  threads.reserve(kClients);
  for (int i = 0; i < kClients; ++i) threads.emplace_back(run_client, i);
  for (auto& thread : threads) thread.join();

  std::set<std::string> all_ids;
  std::size_t sent = 0;
  for (int i = 0; i < kClients; ++i) {
    const Outcome& outcome = outcomes[static_cast<std::size_t>(i)];
    ASSERT_EQ(outcome.error, "") << "client " << i;
    sent += outcome.sent_ids.size();
    all_ids.insert(outcome.sent_ids.begin(), outcome.sent_ids.end());

    std::set<std::string> expected_bodies, expected_senders;
    for (int offset : kOffsets) {
      const int from = (i - offset + kClients) % kClients;
      expected_bodies.insert(body_for(from, i));
      expected_senders.insert(users[static_cast<std::size_t>(from)].phone);
    }
    std::set<std::string> bodies;
    for (const auto& [id, body] : outcome.received) bodies.insert(body);
    EXPECT_EQ(bodies, expected_bodies) << "client " << i;
    EXPECT_EQ(outcome.senders, expected_senders) << "client " << i;
    EXPECT_EQ(outcome.duplicates, 0) << "client " << i;
    EXPECT_TRUE(outcome.mailbox_empty_at_end) << "client " << i;
  }
  EXPECT_EQ(sent, static_cast<std::size_t>(kClients * kExpected));
  EXPECT_EQ(all_ids.size(), sent) << "message ids are not unique";
}

TEST_F(ConcurrencyTest, RacingRegistrationsOfOnePhoneMakeOneAccount) {
  start();
  const std::string phone = phone_number(1);
  constexpr int kRacers = 3;  // the phone's three codes in ten minutes
  struct Racer {
    std::unique_ptr<ProtocolClient> client;
    Greeting greeting;
    std::string code;
    KeyPair key = KeyPair::generate();
    int answer = 0;
  };
  std::vector<Racer> racers;
  for (int i = 0; i < kRacers; ++i) {
    auto client = std::make_unique<ProtocolClient>(connect_to(server()));
    Greeting greeting = must(client->hello(), "hello");
    must(client->request_code(phone, "racer@example.com"), "request_code");
    racers.push_back(
        Racer{std::move(client), std::move(greeting), server().read_code(phone)->code});
  }
  std::latch go(kRacers);
  std::vector<std::thread> threads;
  for (Racer& racer : racers) {
    threads.emplace_back([&] {
      go.arrive_and_wait();
      auto result =
          racer.client->register_key(racer.key, racer.greeting, phone, as_bytes(racer.code));
      racer.answer = result.ok() ? 104 : refused_code(result);
    });
  }
  for (auto& thread : threads) thread.join();
  std::multiset<int> answers;
  const Racer* winner = nullptr;
  for (const Racer& racer : racers) {
    answers.insert(racer.answer);
    if (racer.answer == 104) winner = &racer;
  }
  EXPECT_EQ(answers, (std::multiset<int>{104, 114, 114}));
  ASSERT_NE(winner, nullptr);
  ProtocolClient check = connect_to(server());
  const Greeting greeting = must(check.hello(), "hello");
  ASSERT_TRUE(check.login(winner->key, greeting, phone, as_bytes(winner->code)).ok());
  EXPECT_EQ(must(check.recipient_key(phone), "recipient_key"), winner->key.public_key());
}

}  // namespace
}  // namespace shido::e2e
