// shido-bench: drives a real shido-server over TCP (plaintext, or TLS 1.3 with --tls), or two
// on one Redis (--receive-server), and measures registrations, logins, message throughput and
// latencies, checking that every message sent arrives exactly once with the right body. See
// docs/BENCHMARKS.md.
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string_view>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "bench/guarded_main.h"
#include "bench/process_stats.h"
#include "bench/stats.h"
#include "shido/base64.h"
#include "shido/protocol/protocol_client.h"
#include "shido/protocol/text_message.h"
#include "support/must.h"
#include "support/server_process.h"

namespace {

using namespace shido;
using bench::now_ns;

struct Options {
  std::string spawn;
  std::vector<std::string> server_args;  // for the spawned server, each split at spaces
  std::string host = "127.0.0.1";
  std::uint16_t port = 5000;
  // --receive-server HOST:PORT: the receivers' server (a second one on the same store);
  // empty: the receivers use host and port, as everything else does.
  std::string receive_server;
  std::string receive_host;
  std::uint16_t receive_port = 0;
  // --server-pid: servers the run did not spawn, whose CPU it counts as the server's.
  std::vector<int> server_pids;
  std::string outbox;
  int users = 50;
  int clients = 4;
  int messages = 200;
  int size = 256;
  std::string mode = "e2e";
  int logins = 100;  // per client, in login mode
  int window = 1;
  int idle = 0;
  bool fetch_after_send = false;
  bool json = false;
  int timeout = 300;
  // TLS 1.3 on every connection; off by default, so that runs compare with the figures
  // measured before TLS existed.
  bool tls = false;
  // With TLS: the server's key, learnt from the run's first HELLO; every later handshake
  // pins it, as a client that has registered does.
  std::optional<PublicKey> server_key;
};

// How every connection of the run reaches the server.
Transport transport_of(const Options& options) {
  return Transport{options.tls, options.server_key};
}

struct User {
  std::string phone;
  KeyPair key;
  std::string code;
};

[[noreturn]] void fail(const std::string& what) {
  std::cerr << "shido-bench: " << what << "\n";
  std::exit(2);
}

// The value of a call, or the end of the run: the calls run on worker threads, which cannot
// hand an exception to main.
template <class T>
T must(ClientResult<T> result, const std::string& what) {
  if (!result.ok()) fail(test::failure_text(result.error(), what));
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
  auto file = test::read_code_file(outbox, phone);
  if (!file) fail("no code for " + phone + " in " + outbox);
  return file->code;
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

// Which server a connection goes to: the receivers' (--receive-server) or the one everything
// else uses.
enum class Role { kMain, kReceiver };

ProtocolClient logged_in(const Options& options, const User& user, Role role = Role::kMain) {
  const bool apart = role == Role::kReceiver && !options.receive_server.empty();
  auto client = must(ProtocolClient::connect(apart ? options.receive_host : options.host,
                                             apart ? options.receive_port : options.port,
                                             std::chrono::seconds(120), transport_of(options)),
                     "connect");
  Greeting greeting = must(client.hello(), "hello");
  must(client.login(user.key, greeting, user.phone, as_bytes(user.code)), "login of " + user.phone);
  return client;
}

void raise_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// What a run measured and counted, for the report.
struct Results {
  double registrations_per_second = 0;
  double logins_per_second = 0;
  double messages_per_second = 0;
  long sent = 0, received = 0, lost = 0, duplicated = 0, failed_auth = 0, refused = 0;
  std::vector<std::int64_t> store_ns, delivery_ns;
  bench::ProcessStats server;
  int server_peak_threads = 0;
  std::uint64_t server_peak_rss_bytes_all_sent = 0;
  std::uint64_t ciphertext_bytes = 0;  // relay mode: of every message sent
  double seconds = 0;
  // CPU of each process while the messages moved, per message received.
  double server_cpu_us_per_message = 0;
  double bench_cpu_us_per_message = 0;
  // Login mode: each login's time from connect() to its 106, and the CPU per login.
  std::vector<std::int64_t> login_ns;
  double server_cpu_us_per_login = 0;
  double bench_cpu_us_per_login = 0;
};

// --- Before the clock starts -----------------------------------------------------------

// Whether the server binary takes `option` (its --help names it). A "before" server of
// compare_servers.sh may be older than the rate options of design section 10.4: it refuses
// them, and has no such limits to raise.
bool server_takes_option(const std::string& binary, const std::string& option) {
  struct Close {
    void operator()(FILE* pipe) const { ::pclose(pipe); }
  };
  const std::string command = "'" + binary + "' --help 2>/dev/null";
  const std::unique_ptr<FILE, Close> help(::popen(command.c_str(), "r"));
  if (!help) return false;
  std::string text;
  std::array<char, 4096> buffer{};
  while (const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), help.get())) {
    text.append(buffer.data(), n);
  }
  return text.find(option) != std::string::npos;
}

// With --spawn, a server of the run's own on a free port, with room for every connection the
// run opens; the options then point at it. Otherwise none: the run uses --host and --port.
// Its per-address and server-wide rate limits are raised (ServerProcess does it): every user
// of the run registers from this one address, many in a minute.
std::unique_ptr<test::ServerProcess> start_server(Options& options) {
  if (options.spawn.empty()) return nullptr;
  const int connections = std::max(1024, options.idle + options.users + options.clients + 64);
  test::ServerProcess::Options spawn;
  spawn.binary = options.spawn;
  spawn.raise_rate_limits = server_takes_option(options.spawn, "--codes-per-address");
  spawn.extra_args = {"--log-level", "warn", "--max-connections", std::to_string(connections)};
  for (const std::string& words : options.server_args) {
    std::istringstream split(words);
    for (std::string word; split >> word;) spawn.extra_args.push_back(word);
  }
  auto server = std::make_unique<test::ServerProcess>(std::move(spawn));
  options.host = server->host();
  options.port = server->port();
  options.outbox = server->outbox_dir();
  return server;
}

// Users with phones unique to this run, so that runs against one server do not collide.
std::vector<User> make_users(int count) {
  std::mt19937_64 seed_rng(std::random_device{}());
  const std::string run_id = std::to_string(100000 + seed_rng() % 900000);
  std::vector<User> users;
  for (int i = 0; i < count; ++i) {
    char phone[32];
    std::snprintf(phone, sizeof phone, "+9%s%05d", run_id.c_str(), i);
    users.push_back({phone, KeyPair::generate(), ""});
  }
  return users;
}

// With --tls, one connection's HELLO tells the server's key, which every later handshake then
// pins, as a registered client's does.
void learn_server_key(Options& options) {
  if (!options.tls) return;
  auto client = must(ProtocolClient::connect(options.host, options.port, std::chrono::seconds(30),
                                             transport_of(options)),
                     "connect");
  options.server_key = must(client.hello(), "hello").server_key;
  client.bye();
}

// Registers every user on a connection of its own (HELLO, 102, the code from the outbox,
// 103), `clients` at a time; returns registrations per second.
double register_users(const Options& options, std::vector<User>& users) {
  const std::int64_t start = now_ns();
  parallel_for(options.users, options.clients, [&](int i) {
    User& user = users[static_cast<std::size_t>(i)];
    auto client = must(ProtocolClient::connect(options.host, options.port, std::chrono::seconds(30),
                                               transport_of(options)),
                       "connect");
    Greeting greeting = must(client.hello(), "hello");
    must(client.request_code(user.phone, "bench@example.com"), "request code");
    user.code = read_code(options.outbox, user.phone);
    must(client.register_key(user.key, greeting, user.phone, as_bytes(user.code)), "register");
    client.bye();
  });
  return options.users / (static_cast<double>(now_ns() - start) / 1e9);
}

// Logs every user in on the connection it will receive on; returns logins per second.
double log_in_receivers(const Options& options, const std::vector<User>& users,
                        std::vector<std::optional<ProtocolClient>>& receivers) {
  receivers.resize(users.size());
  const std::int64_t start = now_ns();
  parallel_for(options.users, options.clients, [&](int i) {
    receivers[static_cast<std::size_t>(i)].emplace(
        logged_in(options, users[static_cast<std::size_t>(i)], Role::kReceiver));
  });
  return options.users / (static_cast<double>(now_ns() - start) / 1e9);
}

// Logged-in connections that stay quiet through the run: what idle clients cost the server.
std::vector<ProtocolClient> open_idle_connections(const Options& options,
                                                  const std::vector<User>& users) {
  std::vector<ProtocolClient> idle;
  for (int i = 0; i < options.idle; ++i)
    idle.push_back(logged_in(options, users[static_cast<std::size_t>(i) % users.size()]));
  return idle;
}

// The user sending client c's messages.
std::size_t sender_of(int client, const std::vector<User>& users) {
  return static_cast<std::size_t>(client) % users.size();
}

// Message `tag` from sender to `to`, sealed now.
WireEnvelope seal_message(int tag, int size, const User& sender, const User& to,
                          const PublicKey& to_key) {
  auto envelope =
      seal_text_message(sender.key, sender.phone, to_key, to.phone, {make_body(tag, size), 0});
  if (!envelope.ok()) fail("seal: " + envelope.error().message);
  return to_wire(envelope.value());
}

std::string send_message_frame(const User& to, const WireEnvelope& envelope) {
  return dump_json(SendMessage{to.phone, envelope, std::nullopt}.to_json());
}

// Who sends what to whom, decided before the clock starts (the same every run). Relay mode
// also seals every message up front, so that the run measures the server and not the
// bench's cryptography, and knows each envelope by its MAC.
struct Plan {
  bool relay = false;
  int total = 0;                                    // messages, tagged 0 .. total-1
  std::vector<int> recipient;                       // by tag: index into the users
  std::vector<PublicKey> public_keys;               // by user
  std::vector<std::string> frames;                  // relay: by tag, ready to send
  std::unordered_map<std::string, int> tag_by_mac;  // relay
  std::uint64_t ciphertext_bytes = 0;               // relay: what --max-stored-bytes counts
};

Plan make_plan(const Options& options, const std::vector<User>& users) {
  Plan plan;
  plan.relay = options.mode == "relay";
  plan.total = options.clients * options.messages;
  for (const User& user : users) plan.public_keys.push_back(user.key.public_key());
  std::mt19937 rng(12345);
  plan.recipient.resize(static_cast<std::size_t>(plan.total));
  for (int& r : plan.recipient) r = static_cast<int>(rng() % users.size());
  if (!plan.relay) return plan;
  plan.frames.resize(static_cast<std::size_t>(plan.total));
  for (int tag = 0; tag < plan.total; ++tag) {
    const User& sender = users[sender_of(tag / options.messages, users)];
    const auto to = static_cast<std::size_t>(plan.recipient[static_cast<std::size_t>(tag)]);
    const WireEnvelope wire =
        seal_message(tag, options.size, sender, users[to], plan.public_keys[to]);
    plan.tag_by_mac[wire.mac] = tag;
    plan.ciphertext_bytes += base64_decode(wire.ciphertext).value().size();
    plan.frames[static_cast<std::size_t>(tag)] = send_message_frame(users[to], wire);
  }
  return plan;
}

// --- While the messages move -----------------------------------------------------------

// What the senders, the receivers and the main thread share while the messages move.
struct Traffic {
  Traffic(const Options& run_options, const std::vector<User>& run_users, Plan run_plan)
      : options(run_options),
        users(run_users),
        plan(std::move(run_plan)),
        sent_at(static_cast<std::size_t>(plan.total)),
        seen(static_cast<std::size_t>(plan.total)),
        may_fetch(!run_options.fetch_after_send) {}

  // Wakes the main thread after messages arrived or were refused: it waits, it does not poll.
  void announce_progress() {
    { std::lock_guard lock(progress_mutex); }
    progress.notify_all();
  }

  const Options& options;
  const std::vector<User>& users;
  const Plan plan;
  std::vector<std::atomic<std::int64_t>> sent_at;  // by tag
  std::vector<std::atomic<int>> seen;              // by tag: how often it arrived
  std::atomic<long> received{0}, duplicated{0}, failed_auth{0}, refused{0};
  std::atomic<bool> done{false};
  // With --fetch-after-send the receivers start once every message is stored, so that the
  // server holds them all at once (for its memory, not for latency).
  std::atomic<bool> may_fetch;
  std::mutex samples_mutex;  // guards the two below
  std::vector<std::int64_t> store_ns, delivery_ns;
  std::mutex progress_mutex;
  std::condition_variable progress;
};

// Which message a fetched one is, or -1: relay mode knows envelopes by their MAC; e2e mode
// opens the envelope and checks the whole body, as a user would read it.
int identify(const Traffic& traffic, const WaitingMessage& message, const User& me) {
  const Plan& plan = traffic.plan;
  if (plan.relay) {
    auto found = plan.tag_by_mac.find(message.envelope.mac);
    return found == plan.tag_by_mac.end() ? -1 : found->second;
  }
  auto sender_key = PublicKey::from_pem(message.senders_public_key);
  auto envelope = from_wire(message.envelope, EnvelopeKind::kMessage);
  if (!sender_key.ok() || !envelope.ok()) return -1;
  auto text = open_text_message(me.key, me.phone, sender_key.value(), message.senders_phone_number,
                                envelope.value());
  if (!text.ok()) return -1;
  const int tag = tag_of(text.value().body);
  return tag >= 0 && tag < plan.total && text.value().body == make_body(tag, traffic.options.size)
             ? tag
             : -1;
}

// Counts one fetched message for user u: received once, a duplicate, or not for u at all
// (failed authentication); times its delivery from its sending.
void count_arrival(Traffic& traffic, const WaitingMessage& message, std::size_t u,
                   std::int64_t arrived, std::vector<std::int64_t>& delivery) {
  const int tag = identify(traffic, message, traffic.users[u]);
  if (tag < 0 || tag >= traffic.plan.total ||
      traffic.plan.recipient[static_cast<std::size_t>(tag)] != static_cast<int>(u)) {
    traffic.failed_auth += 1;
    return;
  }
  if (traffic.seen[static_cast<std::size_t>(tag)].fetch_add(1) > 0) {
    traffic.duplicated += 1;
    return;
  }
  delivery.push_back(arrived - traffic.sent_at[static_cast<std::size_t>(tag)].load());
  traffic.received += 1;
}

// User u's receiving connection: fetches, checks and acknowledges its own mailbox until the
// run is done (each acknowledgement rides on the next fetch).
void receive_mailbox(Traffic& traffic, ProtocolClient& client, std::size_t u) {
  std::vector<std::int64_t> delivery;
  std::vector<std::string> ids;  // of the last batch, acknowledged with the next fetch
  traffic.may_fetch.wait(false);
  while (!traffic.done) {
    auto batch = ids.empty() ? client.fetch(500, 1) : client.ack_and_fetch(ids, 500, 1);
    if (!batch.ok()) fail("fetch: " + batch.error().message);
    ids.clear();
    const std::int64_t arrived = now_ns();
    for (const WaitingMessage& message : batch.value()) {
      ids.push_back(message.message_id);
      count_arrival(traffic, message, u, arrived, delivery);
    }
    if (!batch.value().empty()) traffic.announce_progress();
  }
  if (!ids.empty()) must(client.ack(ids), "ack");
  std::lock_guard lock(traffic.samples_mutex);
  traffic.delivery_ns.insert(traffic.delivery_ns.end(), delivery.begin(), delivery.end());
}

std::vector<std::thread> start_receivers(Traffic& traffic,
                                         std::vector<std::optional<ProtocolClient>>& receivers) {
  std::vector<std::thread> threads;
  for (std::size_t u = 0; u < receivers.size(); ++u)
    threads.emplace_back([&traffic, &receivers, u] { receive_mailbox(traffic, *receivers[u], u); });
  return threads;
}

// The sending connections, logged in before the clock starts.
std::vector<std::optional<ProtocolClient>> connect_senders(const Options& options,
                                                           const std::vector<User>& users) {
  std::vector<std::optional<ProtocolClient>> senders(static_cast<std::size_t>(options.clients));
  parallel_for(options.clients, options.clients, [&](int c) {
    senders[static_cast<std::size_t>(c)].emplace(logged_in(options, users[sender_of(c, users)]));
  });
  return senders;
}

// The SEND_MESSAGE frame of message tag: sealed up front in relay mode, now in e2e mode
// (the sender's own cost of end-to-end encryption).
std::string frame_of(const Traffic& traffic, int tag, const User& sender) {
  if (traffic.plan.relay) return traffic.plan.frames[static_cast<std::size_t>(tag)];
  const auto to = static_cast<std::size_t>(traffic.plan.recipient[static_cast<std::size_t>(tag)]);
  const User& recipient = traffic.users[to];
  return send_message_frame(recipient, seal_message(tag, traffic.options.size, sender, recipient,
                                                    traffic.plan.public_keys[to]));
}

// Client c's messages over its connection, up to `window` SEND_MESSAGE frames in flight;
// times each from sending to its 118.
void send_messages(Traffic& traffic, ProtocolClient& client, int c) {
  const Options& options = traffic.options;
  const User& sender = traffic.users[sender_of(c, traffic.users)];
  std::deque<int> in_flight;
  std::vector<std::int64_t> store;
  int next = 0;
  while (next < options.messages || !in_flight.empty()) {
    while (next < options.messages && static_cast<int>(in_flight.size()) < options.window) {
      const int tag = c * options.messages + next++;
      const std::string frame = frame_of(traffic, tag, sender);
      traffic.sent_at[static_cast<std::size_t>(tag)] = now_ns();
      if (!client.send_bytes(encode_frame(frame)).ok()) fail("send failed");
      in_flight.push_back(tag);
    }
    auto reply = must(client.receive(), "reply");
    const int tag = in_flight.front();
    in_flight.pop_front();
    store.push_back(now_ns() - traffic.sent_at[static_cast<std::size_t>(tag)].load());
    if (frame_code(reply) != static_cast<int>(Code::kMessageStored)) {
      traffic.refused += 1;
      traffic.seen[static_cast<std::size_t>(tag)] = -1000000;  // never counted as received
      traffic.announce_progress();
    }
  }
  std::lock_guard lock(traffic.samples_mutex);
  traffic.store_ns.insert(traffic.store_ns.end(), store.begin(), store.end());
}

// Samples the server's thread count every 100 ms until the traffic is done: the peak shows
// whether the server's threads stay bounded under load.
std::thread watch_server_threads(const test::ServerProcess* server, const Traffic& traffic,
                                 std::atomic<int>& peak_threads) {
  return std::thread([server, &traffic, &peak_threads] {
    while (!traffic.done && server != nullptr) {
      peak_threads =
          std::max(peak_threads.load(), bench::read_process_stats(server->pid()).threads);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
}

// Waits until everything stored has arrived, or nothing has arrived for 10 s (a stall: the
// messages missing are reported as lost), or --timeout has passed.
void wait_for_delivery(Traffic& traffic) {
  const auto all_accounted = [&] {
    return traffic.received + traffic.refused >= traffic.plan.total;
  };
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(traffic.options.timeout);
  std::unique_lock lock(traffic.progress_mutex);
  while (!all_accounted() && std::chrono::steady_clock::now() < deadline) {
    const long before = traffic.received;
    const auto stall =
        std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(10));
    if (!traffic.progress.wait_until(
            lock, stall, [&] { return all_accounted() || traffic.received != before; }) &&
        stall < deadline) {
      break;
    }
  }
}

// CPU seconds the servers (the spawned one and those of --server-pid together; 0 without
// any) and the bench have used so far.
struct CpuUse {
  double server = 0;
  double bench = 0;
};

CpuUse cpu_use(const test::ServerProcess* server, const Options& options) {
  double servers = server != nullptr ? bench::cpu_seconds(server->pid()) : 0;
  for (const int pid : options.server_pids) servers += bench::cpu_seconds(pid);
  return {servers, bench::cpu_seconds(::getpid())};
}

// Whether the servers' CPU is measured: a spawned server, or --server-pid.
bool server_cpu_known(const test::ServerProcess* server, const Options& options) {
  return server != nullptr || !options.server_pids.empty();
}

// What the traffic came to: counts, the rate, the CPU per message and the latency samples.
void count_results(Traffic& traffic, double seconds, CpuUse spent, Results& results) {
  results.seconds = seconds;
  results.sent = traffic.plan.total - traffic.refused;
  results.received = traffic.received;
  results.refused = traffic.refused;
  results.duplicated = traffic.duplicated;
  results.failed_auth = traffic.failed_auth;
  results.lost = results.sent - results.received;
  results.messages_per_second = static_cast<double>(results.received) / results.seconds;
  if (results.received > 0) {
    results.server_cpu_us_per_message = spent.server * 1e6 / static_cast<double>(results.received);
    results.bench_cpu_us_per_message = spent.bench * 1e6 / static_cast<double>(results.received);
  }
  results.store_ns = std::move(traffic.store_ns);
  results.delivery_ns = std::move(traffic.delivery_ns);
}

// Runs the timed phase: receivers wait on their mailboxes, the senders' connections log in,
// then the clock starts and the senders go; ends once everything stored has arrived (or
// stalled). Fills in the message counts, rates, latencies and resource figures.
void move_messages(Traffic& traffic, std::vector<std::optional<ProtocolClient>>& receivers,
                   const test::ServerProcess* server, Results& results) {
  std::vector<std::thread> receiver_threads = start_receivers(traffic, receivers);
  std::vector<std::optional<ProtocolClient>> senders =
      connect_senders(traffic.options, traffic.users);
  std::atomic<int> peak_threads{0};
  std::thread monitor = watch_server_threads(server, traffic, peak_threads);

  const CpuUse cpu_at_start = cpu_use(server, traffic.options);
  const std::int64_t start = now_ns();
  std::vector<std::thread> sender_threads;
  for (int c = 0; c < traffic.options.clients; ++c) {
    sender_threads.emplace_back(
        [&, c] { send_messages(traffic, *senders[static_cast<std::size_t>(c)], c); });
  }
  for (auto& thread : sender_threads) thread.join();
  results.server_peak_rss_bytes_all_sent =
      server != nullptr ? bench::read_process_stats(server->pid()).peak_rss_bytes : 0;
  traffic.may_fetch = true;
  traffic.may_fetch.notify_all();

  wait_for_delivery(traffic);
  const std::int64_t finished = now_ns();
  const CpuUse cpu_at_end = cpu_use(server, traffic.options);
  traffic.done = true;
  for (auto& thread : receiver_threads) thread.join();
  monitor.join();

  count_results(traffic, static_cast<double>(finished - start) / 1e9,
                {cpu_at_end.server - cpu_at_start.server, cpu_at_end.bench - cpu_at_start.bench},
                results);
  if (server != nullptr) {
    results.server = bench::read_process_stats(server->pid());
    results.server_peak_threads = peak_threads;
  }
}

// Login mode: `clients` threads each log in `logins` times, every time on a new connection
// (connect, with --tls the handshake, HELLO, 201 -> 106; then BYE and close). Fills in
// logins per second, each login's latency and the CPU per login of both processes.
void measure_logins(const Options& options, const std::vector<User>& users,
                    const test::ServerProcess* server, Results& results) {
  std::vector<std::vector<std::int64_t>> latencies(static_cast<std::size_t>(options.clients));
  const CpuUse cpu_at_start = cpu_use(server, options);
  const std::int64_t start = now_ns();
  std::vector<std::thread> threads;
  for (int c = 0; c < options.clients; ++c) {
    threads.emplace_back([&, c] {
      std::vector<std::int64_t>& mine = latencies[static_cast<std::size_t>(c)];
      mine.reserve(static_cast<std::size_t>(options.logins));
      for (int i = 0; i < options.logins; ++i) {
        const auto u = static_cast<std::size_t>(c * options.logins + i) % users.size();
        const std::int64_t began = now_ns();
        ProtocolClient client = logged_in(options, users[u]);
        mine.push_back(now_ns() - began);
        client.bye();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const std::int64_t finished = now_ns();
  const CpuUse cpu_at_end = cpu_use(server, options);

  const double logins = static_cast<double>(options.clients) * options.logins;
  results.seconds = static_cast<double>(finished - start) / 1e9;
  results.logins_per_second = logins / results.seconds;
  results.server_cpu_us_per_login = (cpu_at_end.server - cpu_at_start.server) * 1e6 / logins;
  results.bench_cpu_us_per_login = (cpu_at_end.bench - cpu_at_start.bench) * 1e6 / logins;
  for (const auto& mine : latencies)
    results.login_ns.insert(results.login_ns.end(), mine.begin(), mine.end());
  if (server != nullptr) results.server = bench::read_process_stats(server->pid());
}

// --- After the run ---------------------------------------------------------------------

// The run's settings and figures, one JSON object (the keys docs/BENCHMARKS.md and
// summarize.py read). server_cpu: whether the servers' CPU was measured.
Json make_report(const Options& options, const Results& results, bool server_cpu) {
  const bool login_mode = options.mode == "login";
  const int total = login_mode ? 0 : options.clients * options.messages;
  // Figures of login mode only: null in the others.
  const auto login_figure = [&](double value) { return login_mode ? Json(value) : Json(nullptr); };
  Json report = {
      {"mode", options.mode},
      {"tls", options.tls},
      {"users", options.users},
      {"clients", options.clients},
      {"messages_per_client", login_mode ? 0 : options.messages},
      {"logins_per_client", login_mode ? Json(options.logins) : Json(nullptr)},
      {"size", options.size},
      {"window", options.window},
      {"idle", options.idle},
      {"registrations_per_second", results.registrations_per_second},
      {"logins_per_second", results.logins_per_second},
      {"login_p50_ms", login_figure(bench::percentile_ms(results.login_ns, 50))},
      {"login_p99_ms", login_figure(bench::percentile_ms(results.login_ns, 99))},
      {"server_cpu_us_per_login",
       server_cpu ? login_figure(results.server_cpu_us_per_login) : Json(nullptr)},
      {"bench_cpu_us_per_login", login_figure(results.bench_cpu_us_per_login)},
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
      {"server_peak_rss_bytes_all_sent", results.server_peak_rss_bytes_all_sent},
      {"ciphertext_bytes",
       results.ciphertext_bytes == 0 ? Json(nullptr) : Json(results.ciphertext_bytes)},
      {"fetch_after_send", options.fetch_after_send},
      {"seconds", results.seconds},
      {"server_cpu_us_per_message",
       server_cpu ? Json(results.server_cpu_us_per_message) : Json(nullptr)},
      {"bench_cpu_us_per_message", results.bench_cpu_us_per_message},
  };
  // Only with --receive-server, so that other runs' lines stay as they were.
  if (!options.receive_server.empty()) report["receive_server"] = options.receive_server;
  return report;
}

// One JSON line with --json (for scripts), else a header line and one line per figure.
void print_report(const Options& options, const Json& report) {
  if (options.json) {
    std::cout << report.dump() << std::endl;
    return;
  }
  std::cout << "mode " << options.mode << " over " << (options.tls ? "TLS" : "plaintext TCP")
            << ", " << options.users << " users, " << options.clients << " clients x ";
  if (options.mode == "login") {
    std::cout << options.logins << " logins\n";
  } else {
    std::cout << options.messages << " messages of " << options.size << " bytes, window "
              << options.window << ", " << options.idle << " idle connections\n";
  }
  for (const auto& [key, value] : report.items()) std::cout << "  " << key << ": " << value << "\n";
}

// True when every message arrived exactly once and intact; else says on stderr what went
// wrong (the exit status is what the smoke tests check).
bool delivered_cleanly(const Results& results) {
  const bool clean = results.lost == 0 && results.duplicated == 0 && results.failed_auth == 0 &&
                     results.refused == 0;
  if (!clean) {
    std::cerr << "shido-bench: " << results.lost << " lost, " << results.duplicated
              << " duplicated, " << results.failed_auth << " failed authentication, "
              << results.refused << " refused\n";
  }
  return clean;
}

// Registrations, logins, then the messages (or, in login mode, the logins alone); the report;
// 0 when nothing was lost.
int run(Options options) {
  raise_file_limit();
  const std::unique_ptr<test::ServerProcess> server = start_server(options);
  if (options.outbox.empty()) fail("--outbox is needed to read codes (or use --spawn)");
  Results results;
  learn_server_key(options);
  std::vector<User> users = make_users(options.users);
  results.registrations_per_second = register_users(options, users);
  if (options.mode == "login") {
    measure_logins(options, users, server.get(), results);
    print_report(options, make_report(options, results, server_cpu_known(server.get(), options)));
    if (server) server->stop(SIGTERM);
    return 0;
  }
  std::vector<std::optional<ProtocolClient>> receivers;
  results.logins_per_second = log_in_receivers(options, users, receivers);
  const std::vector<ProtocolClient> idle = open_idle_connections(options, users);
  Traffic traffic(options, users, make_plan(options, users));
  results.ciphertext_bytes = traffic.plan.ciphertext_bytes;
  move_messages(traffic, receivers, server.get(), results);

  print_report(options, make_report(options, results, server_cpu_known(server.get(), options)));
  const bool clean = delivered_cleanly(results);
  // SIGTERM, as an operator stops it (its destructor would SIGKILL it).
  if (server) server->stop(SIGTERM);
  return clean ? 0 : 1;
}

// "HOST:PORT" split at its last colon; nullopt when it is not that.
std::optional<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  const std::string_view digits = std::string_view(text).substr(colon + 1);
  unsigned port = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() || port == 0 ||
      port > 65535) {
    return std::nullopt;
  }
  return std::pair{text.substr(0, colon), static_cast<std::uint16_t>(port)};
}

// The command line, then the run.
int parse_and_run(int argc, char** argv) {
  Options options;
  CLI::App app{"shido-bench: load a shido-server and check that no message is lost or duplicated",
               "shido-bench"};
  auto* spawn = app.add_option("--spawn", options.spawn,
                               "Start this shido-server on a free port for the run");
  app.add_option("--server-arg", options.server_args,
                 "Options for the spawned server, e.g. --server-arg \"--store memory\" "
                 "(repeatable)")
      ->needs(spawn);
  app.add_option("--host", options.host, "Server address (without --spawn)")
      ->excludes(spawn)
      ->capture_default_str();
  app.add_option("--port", options.port, "Server port (without --spawn)")
      ->excludes(spawn)
      ->capture_default_str();
  app.add_option("--outbox", options.outbox,
                 "The server's --outbox, to read codes (without --spawn)")
      ->excludes(spawn);
  app.add_option("--receive-server", options.receive_server,
                 "HOST:PORT of a second server on the same store (the same --store redis://... "
                 "and --server-key): the receivers log in and long-poll there, while users "
                 "register and senders send through the first server, so that every message "
                 "crosses servers and reaches its receiver by the cross-server wake-up")
      ->check(
          [](const std::string& value) -> std::string {
            return split_host_port(value) ? "" : "must be HOST:PORT";
          },
          "HOST:PORT");
  app.add_option("--server-pid", options.server_pids,
                 "A server this run did not spawn (e.g. both of a --receive-server run); their "
                 "CPU together is reported as server_cpu_us_per_message (repeatable)")
      ->check(
          [](const std::string& pid) -> std::string {
            return std::filesystem::exists("/proc/" + pid + "/stat") ? ""
                                                                     : "no such process: " + pid;
          },
          "PID");
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
  app.add_option("--mode", options.mode,
                 "e2e: clients seal and open; relay: sealed up front; login: logins per second, "
                 "each on a new connection (connect, handshake, HELLO, 201), --clients at a time")
      ->check(CLI::IsMember({"e2e", "relay", "login"}))
      ->capture_default_str();
  app.add_option("--logins", options.logins, "Logins per client in --mode login")
      ->check(CLI::Range(1, 10000000))
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
  app.add_flag("--tls", options.tls,
               "TLS 1.3 on every connection, pinned to the server key of the run's first HELLO "
               "(default: plaintext TCP, so that figures compare with those measured before TLS)");
  app.add_flag("--json", options.json, "One JSON object on stdout");
  CLI11_PARSE(app, argc, argv);
  if (const auto receive = split_host_port(options.receive_server)) {
    std::tie(options.receive_host, options.receive_port) = *receive;
  }
  return run(options);
}

}  // namespace

int main(int argc, char** argv) {
  return shido::bench::guarded_main("shido-bench", [&] { return parse_and_run(argc, argv); });
}
