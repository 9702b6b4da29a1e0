// The disk store with the real binary: accounts, messages, acknowledgements and locks
// survive SIGTERM and kill -9 (SIGKILL during pipelined sends, several times over), one data
// directory serves one server, and a damaged journal stops the start with a clear error.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "e2e_util.h"

namespace shido::e2e {
namespace {

class DurabilityTest : public E2eTest {
 protected:
  DurabilityTest() : root_("shido-durable") {
    options_ = server_options({"--fsync", "always"});
    options_.data_dir = root_.path() + "/data";
  }

  // Starts (or restarts) the server on the same data directory.
  void restart() { start_with(options_); }

  test::TempDir root_;
  ServerProcess::Options options_;
};

TEST_F(DurabilityTest, AccountsAndMessagesSurviveARestart) {
  restart();
  Registered alice = register_new_user(server(), 1);
  Registered bob = register_new_user(server(), 2);
  const PublicKey bob_key = must(alice.client.recipient_key(bob.user.phone), "recipient_key");
  (void)must(alice.client.send_envelope(bob.user.phone,
                                        seal_text(alice.user, bob.user.phone, bob_key, "kept")),
             "send");
  alice.client.bye();
  bob.client.bye();
  stop_server();

  restart();
  EXPECT_NE(server().log().find("recovered 2 users and 1 waiting messages"), std::string::npos)
      << server().log();
  ProtocolClient bob_again = login(server(), bob.user);
  const auto waiting = must(bob_again.fetch(10, 0), "fetch");
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(open_body(bob.user, waiting[0]), "kept");
  EXPECT_EQ(waiting[0].senders_phone_number, alice.user.phone);
  (void)login(server(), alice.user);
}

TEST_F(DurabilityTest, ALockSurvivesARestart) {
  options_.extra_args.insert(options_.extra_args.end(), {"--lock-base", "600"});
  restart();
  Registered alice = register_new_user(server(), 1);
  alice.client.bye();
  for (int i = 0; i < 5; ++i) {
    ProtocolClient client = connect_to(server());
    const Greeting greeting = must(client.hello(), "hello");
    EXPECT_EQ(refused_code(client.login(alice.user.key, greeting, alice.user.phone,
                                        as_bytes(std::string("000000")))),
              static_cast<int>(Code::kInvalidSecretCode));
  }
  stop_server();
  restart();
  ProtocolClient client = connect_to(server());
  const Greeting greeting = must(client.hello(), "hello");
  // The right code is refused: the account is still locked, for about ten minutes.
  EXPECT_EQ(refused_code(client.login(alice.user.key, greeting, alice.user.phone,
                                      as_bytes(alice.user.code))),
            static_cast<int>(Code::kConnectRequestNotAccepted));
}

TEST_F(DurabilityTest, ASecondServerOnTheSameDataDirectoryRefusesToStart) {
  restart();
  ServerProcess::Options second = options_;
  second.start_timeout = std::chrono::seconds(10);
  try {
    ServerProcess other(second);
    ADD_FAILURE() << "a second server started on " << options_.data_dir;
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("another shido-server is using"), std::string::npos)
        << error.what();
  }
}

TEST_F(DurabilityTest, ADamagedJournalStopsTheStartWithTheFileAndHowToSalvage) {
  restart();
  Registered alice = register_new_user(server(), 1);
  Registered bob = register_new_user(server(), 2);
  alice.client.bye();
  bob.client.bye();
  stop_server();
  // Flip one byte inside the first account's record (the header record is 45 bytes: 13 of
  // record header, 28 of body, 4 of checksum).
  const std::string journal = options_.data_dir + "/journal-0000000000000001";
  {
    std::fstream file(journal, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(45 + 20);
    file.put('\x7f');
  }
  try {
    restart();
    ADD_FAILURE() << "started on a damaged journal";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(journal + " is damaged at byte 45"), std::string::npos) << message;
    EXPECT_NE(message.find("--salvage"), std::string::npos) << message;
  }
  options_.extra_args.push_back("--salvage");
  restart();
  EXPECT_NE(server().log().find("salvaged " + journal), std::string::npos) << server().log();
}

// The store files of a data directory, by kind.
std::vector<std::string> files_starting(const std::string& directory, const std::string& prefix) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(prefix)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST_F(DurabilityTest, AfterACompactionTheSnapshotAndTheNewJournalHoldEverything) {
  // A snapshot once an acknowledged message is a second old: the files then hold only
  // what waits.
  options_.extra_args.insert(options_.extra_args.end(), {"--compact-after-ack", "1"});
  restart();
  Registered alice = register_new_user(server(), 1);
  Registered bob = register_new_user(server(), 2);
  const PublicKey bob_key = must(alice.client.recipient_key(bob.user.phone), "recipient_key");
  const auto send = [&](const std::string& body) {
    return must(alice.client.send_envelope(bob.user.phone,
                                           seal_text(alice.user, bob.user.phone, bob_key, body)),
                "send");
  };
  const std::string read = send("read before the snapshot");
  (void)send("waiting before the snapshot");
  (void)must(bob.client.ack({read}), "ack");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (files_starting(options_.data_dir, "snapshot-") ==
         std::vector<std::string>{"snapshot-0000000000000001"}) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no snapshot was written";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  (void)send("waiting after the snapshot");
  alice.client.bye();
  bob.client.bye();
  stop_server();
  EXPECT_EQ(files_starting(options_.data_dir, "journal-").size(), 1u);
  EXPECT_EQ(files_starting(options_.data_dir, "snapshot-").size(), 1u);
  // Nothing of the acknowledged message is left in the files, not even its id.
  for (const auto& entry : std::filesystem::directory_iterator(options_.data_dir)) {
    std::ifstream file(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(file)),
                            std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(read), std::string::npos) << entry.path() << " still holds " << read;
  }

  restart();
  ProtocolClient bob_again = login(server(), bob.user);
  std::vector<std::string> bodies;
  for (const WaitingMessage& message : must(bob_again.fetch(10, 0), "fetch"))
    bodies.push_back(open_body(bob.user, message));
  EXPECT_EQ(bodies, (std::vector<std::string>{"waiting before the snapshot",
                                              "waiting after the snapshot"}));
}

// Sends to `to` over its own connection, up to 16 in flight, until the server goes away;
// the ids that came back in 118 go into `stored`.
void send_until_gone(const ServerProcess& server, const User& from, const User& to,
                     const PublicKey& to_key, std::mutex& mutex, std::set<std::string>& stored) {
  try {
    ProtocolClient client = login(server, from);
    const std::string frame = dump_json(
        SendMessage{to.phone, to_wire(seal_text(from, to.phone, to_key, "x")), std::nullopt}
            .to_json());
    int in_flight = 0;
    for (;;) {
      while (in_flight < 16) {
        if (!client.send_bytes(encode_frame(frame)).ok()) return;
        in_flight += 1;
      }
      auto reply = client.receive();
      if (!reply.ok()) return;
      in_flight -= 1;
      if (code_of(reply.value()) == static_cast<int>(Code::kMessageStored)) {
        std::lock_guard lock(mutex);
        stored.insert(reply.value()["message_id"].get<std::string>());
      }
    }
  } catch (const std::exception&) {
    // The server was killed under us: what was stored so far is recorded.
  }
}

// Fetches and acknowledges until the server goes away; ids whose 121 came back go into
// `acked`, ids of an acknowledgement sent without its reply into `maybe_acked` (the server
// may have deleted them before it was killed, or not).
void ack_until_gone(const ServerProcess& server, const User& me, std::mutex& mutex,
                    std::set<std::string>& acked, std::set<std::string>& maybe_acked) {
  try {
    ProtocolClient client = login(server, me);
    for (;;) {
      auto waiting = client.fetch(50, 1);
      if (!waiting.ok()) return;
      std::vector<std::string> ids;
      for (const WaitingMessage& message : waiting.value()) ids.push_back(message.message_id);
      if (ids.empty()) continue;
      {
        std::lock_guard lock(mutex);
        maybe_acked.insert(ids.begin(), ids.end());
      }
      if (!client.ack(ids).ok()) return;
      std::lock_guard lock(mutex);
      acked.insert(ids.begin(), ids.end());
    }
  } catch (const std::exception&) {
  }
}

TEST_F(DurabilityTest, KillDashNineDuringPipelinedSendsLosesNothingAcknowledged) {
  restart();
  Registered alice = register_new_user(server(), 1);
  Registered bob = register_new_user(server(), 2);
  const PublicKey bob_key = must(alice.client.recipient_key(bob.user.phone), "recipient_key");
  alice.client.bye();
  bob.client.bye();

  std::mutex mutex;
  std::set<std::string> stored;  // got 118
  std::set<std::string> acked;   // got 121
  std::set<std::string> maybe_acked;
  for (int round = 0; round < 3; ++round) {
    std::thread sender(
        [&] { send_until_gone(server(), alice.user, bob.user, bob_key, mutex, stored); });
    std::thread reader([&] { ack_until_gone(server(), bob.user, mutex, acked, maybe_acked); });
    // Kill once both sides have done some work this round.
    const std::size_t stored_before = stored.size();
    const std::size_t acked_before = acked.size();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      {
        std::lock_guard lock(mutex);
        if (stored.size() >= stored_before + 300 && acked.size() >= acked_before + 50) break;
      }
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no progress in round " << round;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    (void)server().stop(SIGKILL);
    sender.join();
    reader.join();

    restart();
    ProtocolClient client = login(server(), bob.user);
    std::set<std::string> waiting;
    for (const WaitingMessage& message : must(client.fetch(500, 0), "fetch")) {
      EXPECT_TRUE(waiting.insert(message.message_id).second) << "delivered twice";
    }
    // The fetch is capped at 500: room for everything stored and not acknowledged here.
    ASSERT_LT(waiting.size(), 500u);
    std::lock_guard lock(mutex);
    for (const std::string& id : stored) {
      if (!maybe_acked.contains(id)) {
        EXPECT_TRUE(waiting.contains(id)) << "round " << round << ": 118 for " << id << " but lost";
      }
    }
    for (const std::string& id : acked) {
      EXPECT_FALSE(waiting.contains(id))
          << "round " << round << ": 121 for " << id << " but it came back";
    }
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace shido::e2e
