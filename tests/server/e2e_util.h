// Helpers for the end-to-end tests: start the real shido-server (SHIDO_SERVER_BINARY) on
// --port 0, register and log in users through ProtocolClient, and poke the server with
// raw bytes. Helpers that cannot use ASSERT (they return values) throw
// std::runtime_error, which GoogleTest reports as a failure of the test.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "shido/crypto/envelope.h"
#include "shido/crypto/keys.h"
#include "shido/net/socket.h"
#include "shido/protocol/frame.h"
#include "shido/protocol/json.h"
#include "shido/protocol/messages.h"
#include "shido/protocol/protocol_client.h"
#include "shido/protocol/text_message.h"
#include "support/must.h"
#include "support/server_process.h"
#include "support/test_support.h"

#ifndef SHIDO_SERVER_BINARY
#error "SHIDO_SERVER_BINARY must name the shido-server binary"
#endif

namespace shido::e2e {

using test::code_of;
using test::must;
using test::phone_number;
using test::refused_code;
using test::ServerProcess;
using namespace std::chrono_literals;

inline ServerProcess::Options server_options(std::vector<std::string> extra_args = {}) {
  ServerProcess::Options options;
  options.binary = SHIDO_SERVER_BINARY;
  options.extra_args = std::move(extra_args);
  return options;
}

inline ProtocolClient connect_to(const ServerProcess& server,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  return must(ProtocolClient::connect(server.host(), server.port(), timeout), "connect");
}

struct User {
  std::string phone;
  KeyPair key = KeyPair::generate();
  std::string code;
};

// Registers phone over client (HELLO, 102, the code from the outbox, 103). The client is
// logged in as the user afterwards.
inline User register_user(const ServerProcess& server, ProtocolClient& client,
                          const std::string& phone) {
  User user;
  user.phone = phone;
  const Greeting greeting = must(client.hello(), "hello");
  (void)must(client.request_code(phone, "user@example.com"), "request_code");
  auto code = server.read_code(phone);
  if (!code) throw std::runtime_error("no code file for " + phone);
  user.code = code->code;
  (void)must(client.register_key(user.key, greeting, phone, as_bytes(user.code)), "register_key");
  return user;
}

// A user registered on a connection of its own, which stays open, logged in as the user.
struct Registered {
  ProtocolClient client;
  User user;
};

// Registers phone_number(n) on a new connection.
inline Registered register_new_user(const ServerProcess& server, int n) {
  ProtocolClient client = connect_to(server);
  User user = register_user(server, client, phone_number(n));
  return {std::move(client), std::move(user)};
}

// A new connection logged in as user through 201.
inline ProtocolClient login(const ServerProcess& server, const User& user,
                            std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  ProtocolClient client = connect_to(server, timeout);
  const Greeting greeting = must(client.hello(), "hello");
  (void)must(client.login(user.key, greeting, user.phone, as_bytes(user.code)), "login");
  return client;
}

inline Envelope seal_text(const User& from, const std::string& to_phone, const PublicKey& to_key,
                          const std::string& body) {
  auto envelope = seal_text_message(from.key, from.phone, to_key, to_phone, TextMessage{body, 1});
  if (!envelope.ok()) throw std::runtime_error("seal_text_message: " + envelope.error().message);
  return std::move(envelope).value();
}

// Opens a fetched message for me; throws when it does not open.
inline std::string open_body(const User& me, const WaitingMessage& message) {
  auto sender_key = PublicKey::from_pem(message.senders_public_key);
  if (!sender_key.ok()) throw std::runtime_error("bad sender key: " + sender_key.error().message);
  auto envelope = from_wire(message.envelope, EnvelopeKind::kMessage);
  if (!envelope.ok()) throw std::runtime_error("bad envelope: " + envelope.error().message);
  auto text = open_text_message(me.key, me.phone, sender_key.value(), message.senders_phone_number,
                                envelope.value());
  if (!text.ok()) throw std::runtime_error("message does not open: " + text.error().message);
  return text.value().body;
}

// --- Raw sockets, for what a well-behaved client never sends --------------------------

inline UniqueFd raw_connect(const ServerProcess& server) {
  auto fd = connect_tcp(server.host(), server.port());
  if (!fd.ok()) throw std::runtime_error("connect: " + fd.error().message);
  return std::move(fd).value();
}

// Connects to a server on an IPv4 loopback address from a source address of the test's
// choosing (127.0.0.2 is another address than 127.0.0.1 to a server's per-address limits).
inline UniqueFd raw_connect_from(const std::string& source, const ServerProcess& server) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in from{};
  from.sin_family = AF_INET;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(server.port());
  if (!fd.valid() || ::inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
      ::inet_pton(AF_INET, server.host().c_str(), &to.sin_addr) != 1 ||
      ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    throw std::runtime_error("cannot connect from " + source + ": " + std::strerror(errno));
  }
  return fd;
}

// Bytes through a client's stream (TLS records when it speaks TLS).
inline void send_raw(ProtocolClient& client, std::string_view bytes) {
  (void)must(client.send_bytes(bytes), "send_bytes");
}

inline void send_raw(int fd, std::string_view bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("send failed: " + std::string(std::strerror(errno)));
    sent += static_cast<std::size_t>(n);
  }
}

inline std::string frame_header(std::uint32_t length) {
  std::string header(4, '\0');
  header[0] = static_cast<char>(length >> 24 & 0xff);
  header[1] = static_cast<char>(length >> 16 & 0xff);
  header[2] = static_cast<char>(length >> 8 & 0xff);
  header[3] = static_cast<char>(length & 0xff);
  return header;
}

// One reply frame, or nullopt when the server closed the connection (or nothing came
// within timeout, or the frame is not JSON).
inline std::optional<Json> read_reply(int fd, std::chrono::milliseconds timeout = 30s) {
  FrameLimits limits;
  limits.idle_timeout = timeout;
  limits.frame_timeout = timeout;
  auto frame = read_frame(fd, limits);
  if (!frame.ok()) return std::nullopt;
  auto json = parse_frame_json(frame.value());
  if (!json.ok()) return std::nullopt;
  return std::move(json).value();
}

// Sends bytes on fd and reads the one reply frame they get (nullopt as read_reply).
inline std::optional<Json> exchange(int fd, std::string_view bytes,
                                    std::chrono::milliseconds timeout = 30s) {
  send_raw(fd, bytes);
  return read_reply(fd, timeout);
}

enum class Closed { kYes, kNo, kDataInstead };

// Waits for the server to close fd: kYes on EOF (or a reset), kDataInstead when bytes
// arrive first, kNo when nothing happens within timeout.
inline Closed wait_for_close(int fd, std::chrono::milliseconds timeout = 30s) {
  pollfd p{fd, POLLIN, 0};
  for (;;) {
    const int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return Closed::kNo;
    char byte;
    const ssize_t n = ::recv(fd, &byte, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return Closed::kYes;
    return Closed::kDataInstead;
  }
}

// wait_for_close for a client's connection, read through its stream (with TLS, the
// server's close_notify is bytes on the socket, not data).
inline Closed wait_for_close(ProtocolClient& client) {
  auto reply = client.receive();
  if (reply.ok()) return Closed::kDataInstead;
  const std::string& why = reply.error().message;
  const bool closed = why.find("closed the connection") != std::string::npos ||
                      why.find("reset by peer") != std::string::npos;
  return closed ? Closed::kYes : Closed::kNo;
}

// Reads and discards until the server closes fd; false when it does not within timeout.
inline bool drain_until_closed(int fd, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, test::milliseconds_left(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n < 0) return true;
  }
}

inline bool has_description(const Json& reply) {
  return reply.is_object() && reply.contains("error_description") &&
         reply["error_description"].is_string() &&
         !reply["error_description"].get<std::string>().empty();
}

// A test with one server, stopped with SIGTERM at the end: it must exit 0 (so that a
// sanitizer report or a crash in the server fails the test that caused it).
class E2eTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra_args = {}) {
    server_ = std::make_unique<ServerProcess>(server_options(std::move(extra_args)));
  }
  void start_with(ServerProcess::Options options) {
    server_ = std::make_unique<ServerProcess>(std::move(options));
  }

  // Stops the server; it must exit 0. Returns its log.
  std::string stop_server() {
    if (!server_ || !server_->running()) return server_ ? server_->log() : std::string();
    const test::ExitInfo exit = server_->stop(SIGTERM);
    EXPECT_TRUE(exit.exited) << "killed by signal " << -exit.status;
    EXPECT_EQ(exit.status, 0) << server_->log();
    return server_->log();
  }

  void TearDown() override {
    if (!server_) return;
    std::string log;
    try {
      log = stop_server();
    } catch (const std::exception& error) {
      ADD_FAILURE() << error.what();
      log = server_->log();
    }
    if (HasFailure()) {
      const std::size_t keep = 20000;
      std::cerr << "---- server log" << (log.size() > keep ? " (tail)" : "") << " ----\n"
                << (log.size() > keep ? log.substr(log.size() - keep) : log) << "---- end ----\n";
    }
  }

  ServerProcess& server() { return *server_; }

  std::unique_ptr<ServerProcess> server_;
};

}  // namespace shido::e2e
