// shido-server: parses options, loads or makes the server key, and runs the server until
// SIGINT or SIGTERM; SIGUSR1 logs a status line.
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <thread>

#include "server/code_delivery.h"
#include "server/connection_capacity.h"
#include "server/data_directory.h"
#include "server/delivery_gate.h"
#include "server/disk_store.h"
#include "server/file_system.h"
#include "server/redis_checks.h"
#include "server/redis_store.h"
#include "server/server.h"
#include "server/status_report.h"
#include "server/store.h"
#include "server/store_import.h"
#include "server/thread_caches.h"
#include "shido/crypto/keys.h"
#include "shido/version.h"

namespace {

using namespace shido;
using namespace shido::server;

struct Options {
  ListenOptions listen;
  std::string proxy_from;  // parsed into listen.proxy_from
  std::string data_dir = "./shido-data";
  std::string store = "disk";
  std::string server_key;  // empty: <data-dir>/server_key.pem, made on first start
  std::size_t redis_pool_size = RedisStoreOptions{}.pool_size;
  bool redis_allow_remote = false;
  std::string fsync = "always";
  bool salvage = false;
  bool import_disk_store = false;
  int compact_after_ack = 3600;
  std::uint64_t compact_min_bytes = std::uint64_t{64} << 20;
  std::string outbox;
  std::string code_command;
  std::size_t max_frame = kDefaultMaxFrame;
  std::uint64_t max_stored_bytes = Limits{}.store_max_bytes;
  std::size_t sender_share_messages = Limits{}.sender_share_messages;
  std::size_t sender_share_bytes = Limits{}.sender_share_bytes;
  std::size_t sender_share_of_store = Limits{}.sender_share_of_store;
  int frame_timeout = 30;
  int idle_timeout = 300;
  int login_deadline = 60;
  std::string log_level = "info";
  int code_ttl = 600;
  int lock_base = 60;
  // Design section 10.4: codes and registration proofs.
  int codes_per_phone_per_address = Limits{}.codes_per_phone_per_address;
  int codes_per_phone = Limits{}.codes_per_phone;
  int codes_per_address = Limits{}.codes_per_address;
  int codes_per_minute = Limits{}.codes_per_minute;
  int failed_registrations_per_phone = Limits{}.failed_registrations_per_phone;
  int failed_registrations_per_address = Limits{}.failed_registrations_per_address;
  int failed_registrations_per_day = Limits{}.failed_registrations_per_day;
  int code_command_concurrency = 4;
  int status_interval = 60;
};

// The server key lives in the data directory: made on first start, reused afterwards.
// --server-key names it instead: every server of one deployment presents the same key, so
// that file is never made here (a mistyped path would give one server a key of its own).
Result<KeyPair> load_or_create_server_key(const Options& options, Logger& logger) {
  if (!options.server_key.empty()) {
    auto given = load_private_key(options.server_key);
    if (!given.ok()) return Error{given.error().code, "--server-key: " + given.error().message};
    return given;
  }
  const std::string path = options.data_dir + "/server_key.pem";
  auto existing = load_private_key(path);
  if (existing.ok() || existing.error().code != Errc::kNotFound) return existing;
  KeyPair key = KeyPair::generate();
  if (auto saved = save_private_key(key, path); !saved.ok()) return saved.error();
  logger.log(LogLevel::kInfo, "", "", "made a new server key in " + path);
  return key;
}

// The connection cap: what --max-connections asks (0: all the kernel's limits allow), never
// more than those limits allow, so that a connection past them gets 128 rather than an
// accept or a thread that fails.
std::size_t connection_cap(std::size_t asked, Logger& logger) {
  const ConnectionCapacity capacity = connection_capacity(read_kernel_limits());
  if (asked == 0) {
    logger.log(LogLevel::kInfo, "", "",
               "serving at most " + std::to_string(capacity.connections) +
                   " connections at once (what " + capacity.limited_by + " allows)");
    return capacity.connections;
  }
  if (asked > capacity.connections) {
    logger.log(LogLevel::kWarn, "", "",
               "--max-connections " + std::to_string(asked) + " is more than " +
                   capacity.limited_by + " allows: serving at most " +
                   std::to_string(capacity.connections));
    return capacity.connections;
  }
  return asked;
}

// Connection threads need little stack (about 16 KiB at most, measured): with glibc's 8 MiB
// default, 15,000 connections would reserve 120 GiB of address space, which a machine
// with strict overcommit refuses. Sanitizers need much more, so they keep the default.
void size_thread_stacks() {
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  constexpr std::size_t kStack = std::size_t{256} << 10;
  pthread_attr_t attributes;
  if (pthread_attr_init(&attributes) != 0) return;
  if (pthread_attr_setstacksize(&attributes, kStack) == 0) {
    pthread_setattr_default_np(&attributes);
  }
  pthread_attr_destroy(&attributes);
#endif
}

std::unique_ptr<CodeDelivery> make_delivery(const Options& options, Logger& logger) {
  if (!options.code_command.empty()) return make_command_delivery(options.code_command);
  if (!options.outbox.empty())
    return make_outbox_delivery(options.outbox, std::chrono::seconds(options.code_ttl));
  return make_log_delivery(logger);
}

FsyncPolicy parse_fsync(const std::string& name) {
  if (name == "everysec") return FsyncPolicy::kEverySec;
  if (name == "no") return FsyncPolicy::kNo;
  return FsyncPolicy::kAlways;
}

// The Redis store of --store redis://...: the password from the URL or, kept out of the
// command line and the config file, from SHIDO_REDIS_PASSWORD. Never logged.
Result<std::unique_ptr<RedisStore>> open_redis_store(const Options& options, const TimeSource& time,
                                                     Limits limits, Logger& logger) {
  auto address = parse_redis_url(options.store);
  if (!address.ok()) return Error{address.error().code, "--store: " + address.error().message};
  if (const char* password = std::getenv("SHIDO_REDIS_PASSWORD");
      password != nullptr && *password != '\0') {
    if (!address.value().password.empty()) {
      return Error{Errc::kInvalidArgument,
                   "--store names a redis password and so does SHIDO_REDIS_PASSWORD: give one"};
    }
    address.value().password = password;
  }
  if (!address.value().is_loopback() && !options.redis_allow_remote) {
    return Error{Errc::kInvalidArgument,
                 "--store: redis at " + address.value().describe() +
                     " is not on this machine, and the link to it is not encrypted (phone "
                     "numbers, messages and the password would cross the network in clear): "
                     "run redis on loopback, or reach it over a private link or a TLS tunnel "
                     "and say so with --redis-allow-remote"};
  }
  {
    // Refuses a Redis that may evict keys or is a replica; warns of weak persistence.
    RedisConnection probe(address.value(), RedisTimeouts{});
    auto checked = check_redis_server(probe);
    if (!checked.ok()) return Error{checked.error().code, "--store: " + checked.error().message};
    for (const std::string& warning : checked.value().warnings) {
      logger.log(LogLevel::kWarn, "", "", warning);
    }
  }
  RedisStoreOptions redis{address.value(), options.redis_pool_size};
  redis.on_reachability = [&logger](bool reachable, const std::string& detail) {
    logger.log(reachable ? LogLevel::kInfo : LogLevel::kWarn, "", "",
               (reachable ? "redis reachable again: " : "redis unreachable: ") + detail);
  };
  redis.subscription_state = [&logger](bool up, const std::string& why) {
    logger.log(up ? LogLevel::kInfo : LogLevel::kWarn, "", "",
               (up ? "redis subscription up: " : "redis subscription lost: ") + why);
  };
  auto store = RedisStore::open(redis, time, limits);
  if (!store.ok()) return store.error();
  logger.log(LogLevel::kInfo, "", "",
             "--store redis at " + address.value().describe() + ", " +
                 std::to_string(options.redis_pool_size) + " connections");
  return store;
}

// The store the options ask for; for the disk store, recovered from the data directory.
Result<std::unique_ptr<Store>> open_store(const Options& options, FileSystem& fs,
                                          const TimeSource& time, Limits limits, Logger& logger) {
  if (options.store.starts_with("redis://")) {
    auto redis = open_redis_store(options, time, limits, logger);
    if (!redis.ok()) return redis.error();
    return std::unique_ptr<Store>(std::move(redis).value());
  }
  if (options.store == "memory") {
    logger.log(LogLevel::kWarn, "", "",
               "--store memory: accounts and messages are lost when the server stops");
    return make_memory_store(time, limits);
  }
  DiskStoreOptions disk;
  disk.directory = options.data_dir;
  disk.fsync = parse_fsync(options.fsync);
  disk.salvage = options.salvage;
  disk.compact_after_ack = std::chrono::seconds(options.compact_after_ack);
  disk.compact_min_bytes = options.compact_min_bytes;
  auto store = DiskStore::open(disk, fs, time, limits, logger);
  if (!store.ok()) return store.error();
  return std::unique_ptr<Store>(std::move(store).value());
}

int serve(const Options& options) {
  Logger logger(*parse_log_level(options.log_level));
  // Signals go to one thread that waits for them; every other thread blocks them (threads
  // inherit the mask, so this comes before any). Blocked from the start, a SIGUSR1 sent
  // while the server starts waits for that thread instead of killing the process.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  const auto fail = [](const Error& error) {
    std::cerr << "shido-server: " << error.message << "\n";
    return 1;
  };
  if (Status prepared = prepare_data_directory(options.data_dir); !prepared.ok())
    return fail(prepared.error());
  auto data_dir_lock = lock_data_directory(options.data_dir);
  if (!data_dir_lock.ok()) return fail(data_dir_lock.error());
  auto key = load_or_create_server_key(options, logger);
  if (!key.ok()) return fail(key.error());
  ListenOptions listen = options.listen;
  listen.max_connections = connection_cap(options.listen.max_connections, logger);
  if (listen.max_connections == 0) {
    std::cerr << "shido-server: the kernel's limits leave no room for a connection\n";
    return 1;
  }
  size_thread_stacks();
  if (!listen.proxy_from.empty()) {
    logger.log(LogLevel::kInfo, "", "",
               "taking PROXY v2 headers from the balancers " + options.proxy_from);
  }

  SystemTime time;
  Limits limits;
  limits.lock_base = std::chrono::seconds(options.lock_base);
  limits.store_max_bytes = static_cast<std::size_t>(options.max_stored_bytes);
  limits.sender_share_messages = options.sender_share_messages;
  limits.sender_share_bytes = options.sender_share_bytes;
  limits.sender_share_of_store = options.sender_share_of_store;
  limits.codes_per_phone_per_address = options.codes_per_phone_per_address;
  limits.codes_per_phone = options.codes_per_phone;
  limits.codes_per_address = options.codes_per_address;
  limits.codes_per_minute = options.codes_per_minute;
  limits.failed_registrations_per_phone = options.failed_registrations_per_phone;
  limits.failed_registrations_per_address = options.failed_registrations_per_address;
  limits.failed_registrations_per_day = options.failed_registrations_per_day;
  auto file_system = make_posix_file_system();
  auto store = open_store(options, *file_system, time, limits, logger);
  if (!store.ok()) return fail(store.error());
  auto delivery = make_delivery(options, logger);
  ServerContext context{key.value(), *store.value(), *delivery, logger, time};
  context.code_ttl = std::chrono::seconds(options.code_ttl);
  // Only a command can be slow: it holds a process and a thread for up to its time-out.
  DeliveryGate delivery_gate(options.code_command_concurrency);
  if (!options.code_command.empty()) context.delivery_gate = &delivery_gate;

  Server server(context, listen);
  if (auto listening = server.listen(); !listening.ok()) {
    std::cerr << "shido-server: " << listening.error().message << "\n";
    return 1;
  }
  std::cout << "shido-server listening on " << options.listen.host << ":" << server.port()
            << " server key fingerprint " << key.value().public_key().fingerprint() << std::endl;

  // Lines every --status-interval (a thread of its own) and on SIGUSR1.
  StatusReporter status([&server] { return server.status_counts(); }, logger, time,
                        std::chrono::seconds(options.status_interval));
  std::thread signal_waiter([&] {
    int signal = 0;
    // SIGUSR1 is consumed here, so it interrupts no call in any other thread.
    while (sigwait(&signals, &signal) == 0 && signal == SIGUSR1) status.report();
    logger.log(LogLevel::kInfo, "", "",
               std::string("stopping on ") + (signal == SIGINT ? "SIGINT" : "SIGTERM"));
    server.stop();
  });
  server.run();
  // run() only returns after stop(); if stop() came from elsewhere, wake the waiter. SIGTERM
  // is blocked in every thread, so this ends the waiter's sigwait and kills nothing.
  pthread_kill(signal_waiter.native_handle(),  // NOLINT(bugprone-bad-signal-to-kill-thread)
               SIGTERM);
  signal_waiter.join();
  status.stop();  // wakes its timer: no wait for the next line
  logger.log(LogLevel::kInfo, "", "", "stopped");
  return 0;
}

// --import-disk-store: moves the disk store of --data-dir into the Redis of --store, then
// exits without serving (server/store_import.h). The store's files are only read; the data
// directory's lock keeps a disk server from writing them meanwhile.
int import_disk_store(const Options& options) {
  Logger logger(*parse_log_level(options.log_level));
  const auto fail = [](const std::string& message) {
    std::cerr << "shido-server: --import-disk-store: " << message << "\n";
    return 1;
  };
  if (!options.store.starts_with("redis://"))
    return fail("it moves the disk store of --data-dir into Redis: give --store redis://...");
  if (options.salvage) {
    return fail(
        "--salvage rewrites a damaged file, and the import writes none: start the disk "
        "server once with --salvage, stop it, then import");
  }
  auto data_dir_lock = lock_data_directory(options.data_dir);
  if (!data_dir_lock.ok()) return fail(data_dir_lock.error().message);
  auto file_system = make_posix_file_system();
  auto image = read_disk_store(*file_system, options.data_dir, logger);
  if (!image.ok()) return fail(image.error().message);
  SystemTime time;
  auto redis = open_redis_store(options, time, Limits{}, logger);
  if (!redis.ok()) return fail(redis.error().message);
  auto imported = import_store_image(image.value(), *redis.value());
  if (!imported.ok()) return fail(imported.error().message);
  std::cout << describe_import(imported.value(), options.data_dir,
                               parse_redis_url(options.store).value().describe())
            << "\n";
  // Clients pin the server key: a server that presents another one is refused by all of them.
  const std::string key_path =
      options.server_key.empty() ? options.data_dir + "/server_key.pem" : options.server_key;
  auto key = load_private_key(key_path);
  if (key.ok()) {
    std::cout << "clients pin this store's server key (fingerprint "
              << key.value().public_key().fingerprint()
              << "): start every server on this redis with --server-key " << key_path
              << " (or a copy)\n";
  } else {
    std::cout << "clients pin the disk server's key, and " << key_path << " could not be read ("
              << key.error().message
              << "): start every server on this redis with --server-key and that key\n";
  }
  return 0;
}

// What CLI11 refused in a config file, from its "INI was not able to parse KEY", where a
// [SECTION] header shows as "SECTION.++".
std::string config_file_culprit(std::string_view message) {
  constexpr std::string_view kPrefix = "INI was not able to parse ";
  constexpr std::string_view kSectionMark = ".++";
  if (message.substr(0, kPrefix.size()) != kPrefix) return std::string(message);
  std::string_view name = message.substr(kPrefix.size());
  if (name.ends_with(kSectionMark)) {
    name.remove_suffix(kSectionMark.size());
    return "the section [" + std::string(name) + "] (options go at the top level)";
  }
  return "the key '" + std::string(name) + "'";
}

// Fills `options` from the command line (and a --config file). Returns the exit status when
// the program should stop here: 0 after --help or --version, 1 after an option error, which
// CLI11 has explained on stderr.
std::optional<int> parse_options(int argc, char** argv, Options& options) {
  CLI::App app{
      "shido-server: the Shido end-to-end-encrypted messenger server.\n"
      "Accounts and waiting messages live in memory and, with --store disk (the default), in\n"
      "a journal and snapshots in --data-dir, so that they survive restarts and crashes.",
      "shido-server"};
  app.set_config("--config", "",
                 "Read options from a TOML/INI file (key = value, names as the long options)");
  // A misspelt key in the config file must stop the server, not leave an option at its
  // default without a word.
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.set_version_flag("--version", "shido-server " + std::string(kShidoVersion) + " (protocol 1)");
  app.add_option("--host", options.listen.host, "Address to listen on")->capture_default_str();
  app.add_option("--port", options.listen.port, "TCP port; 0 picks a free one")
      ->capture_default_str();
  app.add_flag("--require-tls", options.listen.require_tls,
               "Close plaintext connections without a reply (TLS 1.3 is always served on the "
               "same port; clients use it unless told --plaintext)");
  app.add_option("--proxy-from", options.proxy_from,
                 "Load balancers (addresses or ADDR/BITS networks, comma-separated) whose "
                 "connections must begin with a PROXY protocol v2 header; the client it names "
                 "is the peer for the log and every per-address limit. No other peer is read "
                 "for one");
  app.add_option("--data-dir", options.data_dir,
                 "Directory (mode 0700) for the server key and, with --store disk, the journal "
                 "and snapshots; one server at a time")
      ->capture_default_str();
  app.add_option("--store", options.store,
                 "disk: kept in --data-dir across restarts; memory: lost at every stop; "
                 "redis://[:PASSWORD@]HOST:PORT[/DB]: in Redis, shared by every server given "
                 "the same URL (docs/SCALING.md; the password may come from "
                 "SHIDO_REDIS_PASSWORD instead)")
      ->capture_default_str()
      ->check(
          [](const std::string& value) -> std::string {
            if (value == "disk" || value == "memory" || value.starts_with("redis://")) return {};
            return "must be disk, memory or redis://HOST:PORT";
          },
          "disk|memory|redis://...");
  app.add_option("--server-key", options.server_key,
                 "The server's private key (PEM, mode 0600), the same file on every server "
                 "behind one address; default: server_key.pem in --data-dir, made on first "
                 "start");
  app.add_option("--redis-pool-size", options.redis_pool_size,
                 "With --store redis://: connections to Redis shared by the connection threads")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1024}));
  app.add_flag("--redis-allow-remote", options.redis_allow_remote,
               "With --store redis://: allow a Redis that is not on loopback (hiredis has no "
               "TLS: only over a private link or a tunnel)");
  app.add_flag("--import-disk-store", options.import_disk_store,
               "Move the disk store of --data-dir (accounts, connect failures and locks, "
               "waiting messages) into the Redis of --store redis://..., which must hold no "
               "account yet, print what was moved and exit without serving. Stop the disk "
               "server first; its files are only read, not changed (not even a torn tail is "
               "cut; --salvage is refused). Then start every server with --server-key "
               "<data-dir>/server_key.pem: clients pin that key (docs/SCALING.md)");
  app.add_option("--fsync", options.fsync,
                 "always: replies 104, 118 and 121 wait for the disk (nothing acknowledged is "
                 "lost); everysec: a crash of the machine loses about the last second; no: the "
                 "kernel writes when it likes")
      ->capture_default_str()
      ->check(CLI::IsMember({"always", "everysec", "no"}));
  app.add_option("--compact-after-ack", options.compact_after_ack,
                 "Seconds within which an acknowledged message's ciphertext is gone from the "
                 "files (a new snapshot is written)")
      ->capture_default_str()
      ->check(CLI::Range(1, 7 * 86400));
  app.add_flag("--salvage", options.salvage,
               "Start even if a store file is damaged: keep the good records before the damage "
               "and move the damaged file aside (<name>.damaged)");
  app.add_option("--compact-min-bytes", options.compact_min_bytes,
                 "Journal bytes from which a snapshot is written once the journal holds more "
                 "than twice the live data")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{4096}, std::uint64_t{1} << 40))
      ->group("Testing");
  auto* outbox = app.add_option("--outbox", options.outbox,
                                "Deliver codes as files OUTBOX/<phone>.code instead of the log");
  app.add_option("--code-command", options.code_command,
                 "Deliver codes by running CMD with SHIDO_PHONE, SHIDO_EMAIL, SHIDO_CODE and "
                 "SHIDO_SERVER_FINGERPRINT in its environment")
      ->excludes(outbox);
  app.add_option("--code-command-concurrency", options.code_command_concurrency,
                 "Code commands running at once; a code request beyond them gets 127 with "
                 "retry_after 1 at once (it does not wait)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  // Design section 10.4. Tests that register many accounts from one address raise these.
  app.add_option("--codes-per-phone-per-address", options.codes_per_phone_per_address,
                 "Codes one address may ask for one phone in any hour; keep it below "
                 "--codes-per-phone, so that one address cannot use up a phone's codes")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000000));
  app.add_option("--codes-per-phone", options.codes_per_phone,
                 "Codes one phone may be sent in any hour, from all addresses")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000000));
  app.add_option("--codes-per-address", options.codes_per_address,
                 "Codes one address (IPv6: one /64) may ask for in any 10 minutes, all phones")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000000));
  app.add_option("--codes-per-minute", options.codes_per_minute,
                 "Codes the whole server may send in any minute (SMS bombing, toll fraud)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000000));
  app.add_option("--failed-registrations-per-phone", options.failed_registrations_per_phone,
                 "Wrong registration codes one phone may have in any 24 hours; then it gets "
                 "no code, and its proofs 127")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000000));
  app.add_option("--failed-registrations-per-address", options.failed_registrations_per_address,
                 "Wrong registration codes one address may send in any 24 hours; keep it below "
                 "--failed-registrations-per-phone")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000000));
  app.add_option("--failed-registrations-per-day", options.failed_registrations_per_day,
                 "Wrong registration codes the whole server may see in any 24 hours: bounds "
                 "the guesses at all phones together")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000000));
  options.listen.max_connections = 0;  // what the kernel's limits allow
  app.add_option("--max-connections", options.listen.max_connections,
                 "Connections served at once; 0: as many as the open-file limit, the kernel's "
                 "thread limits and vm.max_map_count allow (the log says which binds)")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000000));
  app.add_option("--max-frame", options.max_frame,
                 "Largest frame in bytes once logged in; at most 16 MiB (design section 10.1: a "
                 "frame's first byte is then 0x00, never a TLS record's)")
      ->capture_default_str()
      ->check(CLI::Range(1024, 16 << 20));
  app.add_option("--max-prelogin-frame", options.listen.connection.max_prelogin_frame,
                 "Largest frame in bytes before the connection logs in (HELLO, 102, 103 and 201 "
                 "are small); a larger one gets 125 and the connection is closed")
      ->capture_default_str()
      ->check(CLI::Range(1024, 1 << 30));
  app.add_option("--max-pending-frame-bytes", options.listen.max_pending_frame_bytes,
                 "Bytes all frames still arriving may hold together; past it a frame gets 128 "
                 "and its connection is closed")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1} << 20, std::size_t{1} << 40));
  app.add_option("--max-unauthenticated-per-address",
                 options.listen.max_unauthenticated_per_address,
                 "Connections from one address (IPv6: one /64) that have not logged in; more "
                 "get 128 and are closed")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30));
  app.add_option("--login-deadline", options.login_deadline,
                 "Seconds a connection has to log in or start a registration (one with a "
                 "registration pending may stay until its code expires); 0: no deadline")
      ->capture_default_str()
      ->check(CLI::Range(0, 86400));
  app.add_option(
         "--max-stored-bytes", options.max_stored_bytes,
         "Encrypted message bytes all mailboxes may hold together; beyond it senders get 126")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1} << 20, std::uint64_t{1} << 40));
  app.add_option("--sender-share-messages", options.sender_share_messages,
                 "Messages one sender may have waiting in one mailbox; beyond it that sender "
                 "gets 126, others can still write")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
  app.add_option("--sender-share-bytes", options.sender_share_bytes,
                 "Encrypted bytes one sender may have waiting in one mailbox")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1} << 10, std::size_t{1} << 40));
  app.add_option("--sender-share-of-store", options.sender_share_of_store,
                 "N: one sender's waiting messages may hold at most 1/N of --max-stored-bytes")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
  app.add_option("--frame-timeout", options.frame_timeout,
                 "Seconds a frame may take to arrive whole")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_option("--idle-timeout", options.idle_timeout,
                 "Seconds without a complete frame before a connection is closed")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_option("--log-level", options.log_level, "debug, info, warn or error")
      ->capture_default_str()
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.add_option("--status-interval", options.status_interval,
                 "Seconds between status lines in the log (info: connections, accounts, waiting "
                 "messages, messages stored and fetched per second); 0: none. SIGUSR1 logs one "
                 "at once, always")
      ->capture_default_str()
      ->check(CLI::Range(0, 86400));
  app.add_option("--code-ttl", options.code_ttl,
                 "Seconds a registration code stays valid (protocol: 600)")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400))
      ->group("Testing");
  app.add_option("--lock-base", options.lock_base,
                 "Seconds of the first connect lock; doubles up to 3600 (protocol: 60)")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600))
      ->group("Testing");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ConfigError& error) {
    std::cerr << "shido-server: the config file has " << config_file_culprit(error.what())
              << ", which is not an option of shido-server --help\n";
    return 1;
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 1;
  }

  if (options.listen.max_pending_frame_bytes < options.max_frame) {
    std::cerr << "shido-server: --max-pending-frame-bytes ("
              << options.listen.max_pending_frame_bytes << ") must be at least --max-frame ("
              << options.max_frame << "), or a frame of the largest size could never be received\n";
    return 1;
  }
  options.listen.connection.frames.max_size = options.max_frame;
  options.listen.connection.frames.frame_timeout = std::chrono::seconds(options.frame_timeout);
  options.listen.connection.frames.idle_timeout = std::chrono::seconds(options.idle_timeout);
  options.listen.connection.login_deadline = std::chrono::seconds(options.login_deadline);
  auto proxy_from = ProxySources::parse(options.proxy_from);
  if (!proxy_from.ok()) {
    std::cerr << "shido-server: --proxy-from: " << proxy_from.error().message << "\n";
    return 1;
  }
  options.listen.proxy_from = std::move(proxy_from).value();
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  restart_without_thread_caches(argv);
  try {
    Options options;
    if (const std::optional<int> stop = parse_options(argc, argv, options)) return *stop;
    return options.import_disk_store ? import_disk_store(options) : serve(options);
  } catch (const std::exception& error) {
    std::cerr << "shido-server: " << error.what() << "\n";
    return 1;
  }
}
