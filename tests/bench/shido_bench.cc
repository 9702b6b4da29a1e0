// shido-bench: drives a real shido-server over TCP and measures registrations, logins,
// message throughput and latencies, checking that every message sent arrives exactly once
// with the right body. See docs/BENCHMARKS.md.
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <deque>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "bench/spawned_server.h"
#include "bench/stats.h"
#include "shido/protocol/protocol_client.h"
#include "shido/protocol/text_message.h"

namespace {

using namespace shido;
using bench::now_ns;

struct Options {
  std::string spawn;
  std::string host = "127.0.0.1";
  std::uint16_t port = 5000;
  std::string outbox;
  int users = 50;
  int clients = 4;
  int messages = 200;
  int size = 256;
  std::string mode = "e2e";
  int window = 1;
  int idle = 0;
  bool fetch_after_send = false;
  bool json = false;
  int timeout = 300;
};

struct User {
  std::string phone;
  KeyPair key;
  std::string code;
};

[[noreturn]] void fail(const std::string& what) {
  std::cerr << "shido-bench: " << what << "\n";
  std::exit(2);
}

template <class T>
T must(ClientResult<T> result, const std::string& what) {
  if (!result.ok()) fail(what + ": " + result.error().message);
  return std::move(result).value();
}

// Body of message `tag`: a prefix naming it, then filler, exactly `size` bytes.
std::string make_body(int tag, int size) {
  std::string body = "m" + std::to_string(tag) + ":";
  body.reserve(static_cast<std::size_t>(size));
  while (static_cast<int>(body.size()) < size)
    body += static_cast<char>('a' + (tag + body.size()) % 26);
  body.resize(static_cast<std::size_t>(std::max(size, 0)));
  return body;
}

// The tag a body names, or -1.
int tag_of(const std::string& body) {
  const auto colon = body.find(':');
  if (body.empty() || body[0] != 'm' || colon == std::string::npos || colon > 12) return -1;
  int tag = 0;
  for (std::size_t i = 1; i < colon; ++i) {
    if (body[i] < '0' || body[i] > '9') return -1;
    tag = tag * 10 + (body[i] - '0');
  }
  return tag;
}

std::string read_code(const std::string& outbox, const std::string& phone) {
  std::ifstream file(outbox + "/" + phone + ".code");
  std::string code;
  if (!std::getline(file, code)) fail("no code for " + phone + " in " + outbox);
  return code;
}

// Runs fn(i) for i in [0, n) on `threads` threads.
template <class Fn>
void parallel_for(int n, int threads, Fn fn) {
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, std::min(threads, n)); ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < n; i = next++) fn(i);
    });
  }
  for (auto& thread : pool) thread.join();
}

ProtocolClient logged_in(const Options& options, const User& user,
                         Greeting* greeting_out = nullptr) {
  auto client = must(ProtocolClient::connect(options.host, options.port, std::chrono::seconds(120)),
                     "connect");
  Greeting greeting = must(client.hello(), "hello");
  must(client.login(user.key, greeting, user.phone, as_bytes(user.code)), "login of " + user.phone);
  if (greeting_out != nullptr) *greeting_out = greeting;
  return client;
}

void raise_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

struct Results {
  double registrations_per_second = 0;
  double logins_per_second = 0;
  double messages_per_second = 0;
  long sent = 0, received = 0, lost = 0, duplicated = 0, failed_auth = 0, refused = 0;
  std::vector<std::int64_t> store_ns, delivery_ns;
  bench::ProcessStats server;
  int server_peak_threads = 0;
  double seconds = 0;
  // CPU of each process while the messages moved, per message received.
  double server_cpu_us_per_message = 0;
  double bench_cpu_us_per_message = 0;
};

int run(Options options) {
  raise_file_limit();
  std::optional<bench::SpawnedServer> server;
  if (!options.spawn.empty()) {
    const int connections = std::max(1024, options.idle + options.users + options.clients + 64);
    server.emplace(options.spawn,
                   std::vector<std::string>{"--max-connections", std::to_string(connections)});
    options.port = server->port();
    options.outbox = server->outbox();
  }
  if (options.outbox.empty()) fail("--outbox is needed to read codes (or use --spawn)");
  const bool relay = options.mode == "relay";
  const int total = options.clients * options.messages;
  Results results;

  // Users: phones unique to this run, so runs against one server do not collide.
  std::mt19937_64 seed_rng(std::random_device{}());
  const std::string run_id = std::to_string(100000 + seed_rng() % 900000);
  std::vector<User> users;
  for (int i = 0; i < options.users; ++i) {
    char phone[32];
    std::snprintf(phone, sizeof phone, "+9%s%05d", run_id.c_str(), i);
    users.push_back({phone, KeyPair::generate(), ""});
  }

  // Registrations.
  std::int64_t start = now_ns();
  parallel_for(options.users, options.clients, [&](int i) {
    User& user = users[static_cast<std::size_t>(i)];
    auto client = must(ProtocolClient::connect(options.host, options.port), "connect");
    Greeting greeting = must(client.hello(), "hello");
    must(client.request_code(user.phone, "bench@example.com"), "request code");
    user.code = read_code(options.outbox, user.phone);
    must(client.register_key(user.key, greeting, user.phone, as_bytes(user.code)), "register");
    client.bye();
  });
  results.registrations_per_second = options.users / (static_cast<double>(now_ns() - start) / 1e9);

  std::vector<PublicKey> public_keys;
  for (const User& user : users) public_keys.push_back(user.key.public_key());

  // Logins: every user's receiving connection.
  std::vector<std::optional<ProtocolClient>> receivers(users.size());
  start = now_ns();
  parallel_for(options.users, options.clients, [&](int i) {
    receivers[static_cast<std::size_t>(i)].emplace(
        logged_in(options, users[static_cast<std::size_t>(i)]));
  });
  results.logins_per_second = options.users / (static_cast<double>(now_ns() - start) / 1e9);

  // Idle connections, held through the run.
  std::vector<ProtocolClient> idle;
  for (int i = 0; i < options.idle; ++i)
    idle.push_back(logged_in(options, users[static_cast<std::size_t>(i) % users.size()]));

  // Who sends what to whom, decided up front.
  std::mt19937 rng(12345);
  std::vector<int> recipient(static_cast<std::size_t>(total));
  for (int& r : recipient) r = static_cast<int>(rng() % users.size());
  auto sender_of = [&](int client) { return static_cast<std::size_t>(client) % users.size(); };

  // Relay mode seals everything before the clock starts and knows each envelope by its MAC.
  std::vector<std::string> frames(relay ? static_cast<std::size_t>(total) : 0);
  std::unordered_map<std::string, int> tag_by_mac;
  if (relay) {
    for (int tag = 0; tag < total; ++tag) {
      const User& sender = users[sender_of(tag / options.messages)];
      const int to = recipient[static_cast<std::size_t>(tag)];
      auto envelope = seal_text_message(
          sender.key, sender.phone, public_keys[static_cast<std::size_t>(to)],
          users[static_cast<std::size_t>(to)].phone, {make_body(tag, options.size), 0});
      if (!envelope.ok()) fail("seal: " + envelope.error().message);
      const WireEnvelope wire = to_wire(envelope.value());
      tag_by_mac[wire.mac] = tag;
      frames[static_cast<std::size_t>(tag)] = dump_json(
          SendMessage{users[static_cast<std::size_t>(to)].phone, wire, std::nullopt}.to_json());
    }
  }

  std::vector<std::atomic<std::int64_t>> sent_at(static_cast<std::size_t>(total));
  std::vector<std::atomic<int>> seen(static_cast<std::size_t>(total));
  std::atomic<long> received{0}, duplicated{0}, failed_auth{0}, refused{0};
  std::atomic<bool> done{false};
  // With --fetch-after-send the receivers start once every message is stored, so that the
  // server holds them all at once (for its memory, not for latency).
  std::atomic<bool> may_fetch{!options.fetch_after_send};
  std::mutex samples_mutex;

  // Which message this is, or -1: relay mode knows envelopes by their MAC; e2e mode opens
  // the envelope and checks the whole body.
  auto tag_by_mac_of = [&](const WaitingMessage& message) {
    auto found = tag_by_mac.find(message.envelope.mac);
    return found == tag_by_mac.end() ? -1 : found->second;
  };
  auto tag_by_body_of = [&](const WaitingMessage& message, const User& me) {
    auto sender_key = PublicKey::from_pem(message.senders_public_key);
    auto envelope = from_wire(message.envelope, EnvelopeKind::kMessage);
    if (!sender_key.ok() || !envelope.ok()) return -1;
    auto text = open_text_message(me.key, me.phone, sender_key.value(),
                                  message.senders_phone_number, envelope.value());
    if (!text.ok()) return -1;
    const int tag = tag_of(text.value().body);
    return tag >= 0 && tag < total && text.value().body == make_body(tag, options.size) ? tag : -1;
  };

  // Receivers: every user fetches, verifies and acknowledges its own mailbox.
  std::vector<std::thread> receiver_threads;
  for (std::size_t u = 0; u < users.size(); ++u) {
    receiver_threads.emplace_back([&, u] {
      ProtocolClient& client = *receivers[u];
      std::vector<std::int64_t> delivery;
      std::vector<std::string> ids;  // of the last batch, acknowledged with the next fetch
      may_fetch.wait(false);
      while (!done) {
        auto batch = ids.empty() ? client.fetch(500, 1) : client.ack_and_fetch(ids, 500, 1);
        if (!batch.ok()) fail("fetch: " + batch.error().message);
        ids.clear();
        const std::int64_t arrived = now_ns();
        for (const WaitingMessage& message : batch.value()) {
          ids.push_back(message.message_id);
          const int tag = relay ? tag_by_mac_of(message) : tag_by_body_of(message, users[u]);
          if (tag < 0 || tag >= total ||
              recipient[static_cast<std::size_t>(tag)] != static_cast<int>(u)) {
            failed_auth += 1;
            continue;
          }
          if (seen[static_cast<std::size_t>(tag)].fetch_add(1) > 0) {
            duplicated += 1;
            continue;
          }
          delivery.push_back(arrived - sent_at[static_cast<std::size_t>(tag)].load());
          received += 1;
        }
      }
      if (!ids.empty()) must(client.ack(ids), "ack");
      std::lock_guard lock(samples_mutex);
      results.delivery_ns.insert(results.delivery_ns.end(), delivery.begin(), delivery.end());
    });
  }

  // Senders: C connections, each keeping up to `window` SEND_MESSAGE frames in flight.
  std::vector<std::optional<ProtocolClient>> senders(static_cast<std::size_t>(options.clients));
  parallel_for(options.clients, options.clients, [&](int c) {
    senders[static_cast<std::size_t>(c)].emplace(logged_in(options, users[sender_of(c)]));
  });
  std::atomic<int> peak_threads{0};
  std::thread monitor([&] {
    while (!done && server) {
      peak_threads =
          std::max(peak_threads.load(), bench::read_process_stats(server->pid()).threads);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });

  const double server_cpu_at_start = server ? bench::cpu_seconds(server->pid()) : 0;
  const double bench_cpu_at_start = bench::cpu_seconds(::getpid());
  start = now_ns();
  std::vector<std::thread> sender_threads;
  for (int c = 0; c < options.clients; ++c) {
    sender_threads.emplace_back([&, c] {
      ProtocolClient& client = *senders[static_cast<std::size_t>(c)];
      const User& sender = users[sender_of(c)];
      std::deque<int> in_flight;
      std::vector<std::int64_t> store;
      int next = 0;
      while (next < options.messages || !in_flight.empty()) {
        while (next < options.messages && static_cast<int>(in_flight.size()) < options.window) {
          const int tag = c * options.messages + next++;
          std::string frame;
          if (relay) {
            frame = frames[static_cast<std::size_t>(tag)];
          } else {
            const int to = recipient[static_cast<std::size_t>(tag)];
            auto envelope = seal_text_message(
                sender.key, sender.phone, public_keys[static_cast<std::size_t>(to)],
                users[static_cast<std::size_t>(to)].phone, {make_body(tag, options.size), 0});
            if (!envelope.ok()) fail("seal: " + envelope.error().message);
            frame = dump_json(SendMessage{users[static_cast<std::size_t>(to)].phone,
                                          to_wire(envelope.value()), std::nullopt}
                                  .to_json());
          }
          sent_at[static_cast<std::size_t>(tag)] = now_ns();
          if (!write_frame(client.fd(), frame).ok()) fail("send failed");
          in_flight.push_back(tag);
        }
        auto reply = must(client.receive(), "reply");
        const int tag = in_flight.front();
        in_flight.pop_front();
        store.push_back(now_ns() - sent_at[static_cast<std::size_t>(tag)].load());
        if (frame_code(reply) != static_cast<int>(Code::kMessageStored)) {
          refused += 1;
          seen[static_cast<std::size_t>(tag)] = -1000000;  // never counted as received
        }
      }
      std::lock_guard lock(samples_mutex);
      results.store_ns.insert(results.store_ns.end(), store.begin(), store.end());
    });
  }
  for (auto& thread : sender_threads) thread.join();
  const std::uint64_t rss_all_stored =
      server ? bench::read_process_stats(server->pid()).peak_rss_bytes : 0;
  may_fetch = true;
  may_fetch.notify_all();

  // Wait until everything stored has arrived, or nothing has moved for a while.
  long last = -1;
  std::int64_t last_progress = now_ns();
  const std::int64_t deadline = now_ns() + std::int64_t{options.timeout} * 1000000000;
  while (received + refused < total && now_ns() < deadline) {
    if (received != last) {
      last = received;
      last_progress = now_ns();
    } else if (now_ns() - last_progress > 10'000'000'000) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const std::int64_t finished = now_ns();
  const double server_cpu = server ? bench::cpu_seconds(server->pid()) - server_cpu_at_start : 0;
  const double bench_cpu = bench::cpu_seconds(::getpid()) - bench_cpu_at_start;
  done = true;
  for (auto& thread : receiver_threads) thread.join();
  monitor.join();

  results.seconds = static_cast<double>(finished - start) / 1e9;
  results.sent = total - refused;
  results.received = received;
  results.refused = refused;
  results.duplicated = duplicated;
  results.failed_auth = failed_auth;
  results.lost = results.sent - results.received;
  results.messages_per_second = static_cast<double>(results.received) / results.seconds;
  if (results.received > 0) {
    results.server_cpu_us_per_message = server_cpu * 1e6 / static_cast<double>(results.received);
    results.bench_cpu_us_per_message = bench_cpu * 1e6 / static_cast<double>(results.received);
  }
  if (server) {
    results.server = bench::read_process_stats(server->pid());
    results.server_peak_threads = peak_threads;
  }

  const Json report = {
      {"mode", options.mode},
      {"users", options.users},
      {"clients", options.clients},
      {"messages_per_client", options.messages},
      {"size", options.size},
      {"window", options.window},
      {"idle", options.idle},
      {"registrations_per_second", results.registrations_per_second},
      {"logins_per_second", results.logins_per_second},
      {"messages_per_second", results.messages_per_second},
      {"sent", results.sent},
      {"received", results.received},
      {"lost", results.lost},
      {"duplicated", results.duplicated},
      {"failed_auth", results.failed_auth},
      {"refused", results.refused},
      {"store_p50_ms", bench::percentile_ms(results.store_ns, 50)},
      {"store_p95_ms", bench::percentile_ms(results.store_ns, 95)},
      {"store_p99_ms", bench::percentile_ms(results.store_ns, 99)},
      {"delivery_p50_ms", bench::percentile_ms(results.delivery_ns, 50)},
      {"delivery_p95_ms", bench::percentile_ms(results.delivery_ns, 95)},
      {"delivery_p99_ms", bench::percentile_ms(results.delivery_ns, 99)},
      {"server_peak_rss_bytes", results.server.peak_rss_bytes},
      {"server_peak_threads", results.server_peak_threads},
      {"payload_bytes",
       static_cast<std::uint64_t>(total) * static_cast<std::uint64_t>(options.size)},
      {"server_peak_rss_bytes_all_sent", rss_all_stored},
      {"fetch_after_send", options.fetch_after_send},
      {"seconds", results.seconds},
      {"server_cpu_us_per_message",
       server ? Json(results.server_cpu_us_per_message) : Json(nullptr)},
      {"bench_cpu_us_per_message", results.bench_cpu_us_per_message},
  };
  if (options.json) {
    std::cout << report.dump() << std::endl;
  } else {
    std::cout << "mode " << options.mode << ", " << options.users << " users, " << options.clients
              << " clients x " << options.messages << " messages of " << options.size
              << " bytes, window " << options.window << ", " << options.idle
              << " idle connections\n";
    for (const auto& [key, value] : report.items())
      std::cout << "  " << key << ": " << value << "\n";
  }
  const bool clean = results.lost == 0 && results.duplicated == 0 && results.failed_auth == 0 &&
                     results.refused == 0;
  if (!clean) {
    std::cerr << "shido-bench: " << results.lost << " lost, " << results.duplicated
              << " duplicated, " << results.failed_auth << " failed authentication, "
              << results.refused << " refused\n";
  }
  return clean ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"shido-bench: load a shido-server and check that no message is lost or duplicated",
               "shido-bench"};
  auto* spawn = app.add_option("--spawn", options.spawn,
                               "Start this shido-server on a free port for the run");
  app.add_option("--host", options.host, "Server address (without --spawn)")
      ->excludes(spawn)
      ->capture_default_str();
  app.add_option("--port", options.port, "Server port (without --spawn)")
      ->excludes(spawn)
      ->capture_default_str();
  app.add_option("--outbox", options.outbox,
                 "The server's --outbox, to read codes (without --spawn)")
      ->excludes(spawn);
  app.add_option("--users", options.users, "Users to register")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--clients", options.clients, "Sending connections")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--messages", options.messages, "Messages per client")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  app.add_option("--size", options.size, "Message body bytes")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  app.add_option("--mode", options.mode, "e2e: clients seal and open; relay: sealed up front")
      ->check(CLI::IsMember({"e2e", "relay"}))
      ->capture_default_str();
  app.add_option("--window", options.window, "SEND_MESSAGE frames in flight per client")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--idle", options.idle, "Idle logged-in connections held during the run")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  app.add_flag("--fetch-after-send", options.fetch_after_send,
               "Receivers start fetching only once every message is stored (to measure memory)");
  app.add_option("--timeout", options.timeout, "Seconds to wait for delivery at most")
      ->capture_default_str();
  app.add_flag("--json", options.json, "One JSON object on stdout");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(options);
  } catch (const std::exception& error) {
    std::cerr << "shido-bench: " << error.what() << "\n";
    return 2;
  }
}
