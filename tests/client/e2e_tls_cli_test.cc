// TLS as the real shido-client binary speaks it (design section 10.1), against the real
// shido-server and against fake servers in test threads: a server with another key behind
// the pinned address is refused during the handshake, and a recording relay in front of it
// shows that the client sent a ClientHello and never a byte of application data; a 101 key
// other than the certificate's stops the client right after HELLO; a server without TLS, a
// failed handshake and a plaintext client at a server that requires TLS each get their own
// message and exit 2; --plaintext talks to a real server in the clear (the relay sees the
// phone numbers) with one warning per command, while by default no phone number crosses
// the network readable. README's tour over TLS is CliTest's (e2e_cli_test), which now runs
// over TLS by default.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client_test_util.h"
#include "shido/base64.h"
#include "shido/crypto/random.h"
#include "shido/net/tls.h"
#include "shido/protocol/frame.h"
#include "shido/protocol/messages.h"

namespace shido::client_test {
namespace {

using namespace std::string_literals;
using testing::HasSubstr;
using testing::Not;

// How long a fake server or the relay waits for a peer before giving up on it.
constexpr std::chrono::milliseconds kPeerTimeout = kClientTimeout;

// The TLS record types (RFC 8446 section 5.1).
constexpr unsigned char kChangeCipherSpec = 0x14;
constexpr unsigned char kAlert = 0x15;
constexpr unsigned char kHandshake = 0x16;
constexpr unsigned char kApplicationData = 0x17;
constexpr unsigned char kClientHello = 0x01;  // handshake message type

struct TlsRecord {
  unsigned char type = 0;
  std::string body;
};

// The TLS records bytes hold, in order; nullopt unless they are whole records and nothing else.
std::optional<std::vector<TlsRecord>> tls_records(std::string_view bytes) {
  constexpr std::size_t kHeader = 5;  // type, version (2), length (2)
  std::vector<TlsRecord> records;
  while (!bytes.empty()) {
    if (bytes.size() < kHeader) return std::nullopt;
    const std::size_t length = std::size_t{static_cast<unsigned char>(bytes[3])} << 8 |
                               static_cast<unsigned char>(bytes[4]);
    if (bytes.size() < kHeader + length) return std::nullopt;
    records.push_back(
        {static_cast<unsigned char>(bytes[0]), std::string(bytes.substr(kHeader, length))});
    bytes.remove_prefix(kHeader + length);
  }
  return records;
}

std::vector<unsigned> record_types(const std::vector<TlsRecord>& records) {
  std::vector<unsigned> types;
  for (const TlsRecord& record : records) types.push_back(record.type);
  return types;
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

constexpr const char* kPlaintextWarning = "warning: --plaintext";

// Sends every byte to a blocking socket; false when the peer is gone.
bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// What the fake servers and the relay finished, handed to the test thread.
template <class T>
class Finished {
 public:
  void add(T item) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      items_.push_back(std::move(item));
    }
    changed_.notify_all();
  }

  // The first `count` items, once there are that many; throws when they do not come in time.
  std::vector<T> wait_for(std::size_t count) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!changed_.wait_for(lock, kPeerTimeout, [&] { return items_.size() >= count; })) {
      throw std::runtime_error("only " + std::to_string(items_.size()) + " of " +
                               std::to_string(count) + " connections ended in time");
    }
    return std::vector<T>(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(count));
  }

  std::size_t size() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return items_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<T> items_;
};

// A listening socket on a free port of 127.0.0.1 whose accepts a test thread can stop.
class Acceptor {
 public:
  Acceptor() : listener_(must(listen_tcp("127.0.0.1", 0), "listen")) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    stop_read_ = UniqueFd(ends[0]);
    stop_write_ = UniqueFd(ends[1]);
  }

  std::uint16_t port() const { return must(local_port(listener_.get()), "port"); }
  int stop_fd() const { return stop_read_.get(); }

  // The next connection; none once stop() was called and no connection is waiting.
  UniqueFd next() {
    for (;;) {
      pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return UniqueFd();
      }
      // A connection already made is served before a stop: its client may wait for it.
      if (fds[0].revents != 0) {
        UniqueFd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (connection.valid()) return connection;
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return UniqueFd();
      }
      if (fds[1].revents != 0) return UniqueFd();
    }
  }

  void stop() {
    // A full pipe already wakes the acceptor; nothing to do if this byte does not fit.
    [[maybe_unused]] const ssize_t written = ::write(stop_write_.get(), "x", 1);
  }

 private:
  UniqueFd listener_;
  UniqueFd stop_read_;
  UniqueFd stop_write_;
};

// A TCP relay from a free port to 127.0.0.1:target that records every byte each client
// connection sends, as the network would carry it (TLS records and all), one connection at
// a time. A connection ends once both sides have closed.
class RecordingRelay {
 public:
  explicit RecordingRelay(std::uint16_t target) : target_(target), thread_([this] { serve(); }) {}
  ~RecordingRelay() {
    acceptor_.stop();
    thread_.join();
  }
  RecordingRelay(const RecordingRelay&) = delete;
  RecordingRelay& operator=(const RecordingRelay&) = delete;

  std::uint16_t port() const { return acceptor_.port(); }

  // What the clients sent on the first `count` connections, once those have ended.
  std::vector<std::string> sent_by_clients(std::size_t count) { return sent_.wait_for(count); }
  std::size_t connections_ended() const { return sent_.size(); }

 private:
  void serve() {
    // Each connection is closed before the next is waited for: its peers see the end.
    for (;;) {
      const UniqueFd client = acceptor_.next();
      if (!client.valid()) return;
      auto upstream = connect_tcp("127.0.0.1", target_);
      if (!upstream.ok()) {
        sent_.add("");
        continue;
      }
      sent_.add(relay(client.get(), upstream.value().get()));
    }
  }

  // Copies bytes both ways until both sides have closed (or the stop, or kPeerTimeout);
  // returns what the client sent.
  std::string relay(int client, int upstream) const {
    const auto deadline = SteadyClock::now() + kPeerTimeout;
    std::string from_client;
    bool client_open = true;
    bool upstream_open = true;
    while (client_open || upstream_open) {
      pollfd fds[3] = {{client_open ? client : -1, POLLIN, 0},
                       {upstream_open ? upstream : -1, POLLIN, 0},
                       {acceptor_.stop_fd(), POLLIN, 0}};
      const int ready = ::poll(fds, 3, test::milliseconds_left(deadline));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0 || fds[2].revents != 0) break;
      char buffer[16384];
      if (fds[0].revents != 0) {
        const ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
        if (n > 0) {
          from_client.append(buffer, static_cast<std::size_t>(n));
          (void)send_all(upstream, std::string_view(buffer, static_cast<std::size_t>(n)));
        } else if (n == 0 || errno != EINTR) {
          client_open = false;
          ::shutdown(upstream, SHUT_WR);
        }
      }
      if (fds[1].revents != 0) {
        const ssize_t n = ::recv(upstream, buffer, sizeof buffer, 0);
        if (n > 0) {
          (void)send_all(client, std::string_view(buffer, static_cast<std::size_t>(n)));
        } else if (n == 0 || errno != EINTR) {
          upstream_open = false;
          ::shutdown(client, SHUT_WR);
        }
      }
    }
    return from_client;
  }

  Acceptor acceptor_;
  std::uint16_t target_;
  Finished<std::string> sent_;
  std::thread thread_;  // last: starts once the rest is made
};

// A Shido server as far as HELLO, over TLS: its certificate is made from certificate_key,
// and it answers 200 with a 101 that names hello_key (anything else with 500). It records,
// per connection, how its handshake ended and every frame the client sent.
class FakeTlsServer {
 public:
  struct Connection {
    std::optional<std::string> handshake_error;  // none: the handshake worked
    std::vector<Json> frames;
  };

  FakeTlsServer(const KeyPair& certificate_key, const PublicKey& hello_key)
      : tls_(must(TlsServer::create(certificate_key), "TlsServer::create")),
        hello_pem_(hello_key.pem()),
        thread_([this] { serve(); }) {}
  ~FakeTlsServer() {
    acceptor_.stop();
    thread_.join();
  }
  FakeTlsServer(const FakeTlsServer&) = delete;
  FakeTlsServer& operator=(const FakeTlsServer&) = delete;

  std::uint16_t port() const { return acceptor_.port(); }

  // The first `count` connections, once they have ended.
  std::vector<Connection> connections(std::size_t count) { return done_.wait_for(count); }

 private:
  void serve() {
    for (;;) {
      const UniqueFd fd = acceptor_.next();
      if (!fd.valid()) return;
      done_.add(converse(fd.get()));
    }
  }

  Connection converse(int fd) const {
    Connection connection;
    auto stream = tls_.accept(fd, deadline_in(kPeerTimeout), kPeerTimeout);
    if (!stream.ok()) {
      connection.handshake_error = stream.error().message;
      return connection;
    }
    FrameReader reader(*stream.value());
    FrameLimits limits;
    limits.idle_timeout = kPeerTimeout;
    limits.frame_timeout = kPeerTimeout;
    for (;;) {
      auto frame = reader.next(limits);
      if (!frame.ok()) return connection;  // the client left
      auto request = parse_frame_json(frame.value());
      connection.frames.push_back(request.ok() ? request.value() : Json("not JSON"));
      const Json reply =
          request.ok() && frame_code(request.value()) == static_cast<int>(Code::kHello)
              ? ServerHello{1, hello_pem_, base64_encode(random_bytes(32))}.to_json()
              : ErrorReply{Code::kGeneralServerError, "a fake server", std::nullopt, std::nullopt}
                    .to_json();
      if (!stream.value()->send(encode_frame(dump_json(reply))).ok()) return connection;
    }
  }

  Acceptor acceptor_;
  TlsServer tls_;
  std::string hello_pem_;
  Finished<Connection> done_;
  std::thread thread_;  // last: starts once the rest is made
};

// A server that speaks no TLS: per connection it reads exactly `read_first` bytes, answers
// `reply`, closes its side and reads what else comes until the client closes (so that its
// close never resets a connection the client still reads). It records what it received.
class ScriptedTcpServer {
 public:
  ScriptedTcpServer(std::size_t read_first, std::string reply)
      : read_first_(read_first), reply_(std::move(reply)), thread_([this] { serve(); }) {}
  ~ScriptedTcpServer() {
    acceptor_.stop();
    thread_.join();
  }
  ScriptedTcpServer(const ScriptedTcpServer&) = delete;
  ScriptedTcpServer& operator=(const ScriptedTcpServer&) = delete;

  std::uint16_t port() const { return acceptor_.port(); }

  // What each of the first `count` connections received, once they have ended.
  std::vector<std::string> received(std::size_t count) { return done_.wait_for(count); }

 private:
  void serve() {
    for (;;) {
      const UniqueFd fd = acceptor_.next();
      if (!fd.valid()) return;
      done_.add(converse(fd.get()));
    }
  }

  // Reads into `into` until it holds `size` bytes (size 0: until the end); false on an
  // error or kPeerTimeout.
  static bool read_until(int fd, std::string& into, std::size_t size,
                         SteadyClock::time_point deadline) {
    while (size == 0 || into.size() < size) {
      pollfd polled{fd, POLLIN, 0};
      const int ready = ::poll(&polled, 1, test::milliseconds_left(deadline));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return false;
      char buffer[4096];
      const std::size_t room =
          size == 0 ? sizeof buffer : std::min(sizeof buffer, size - into.size());
      const ssize_t n = ::recv(fd, buffer, room, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return n == 0 && size == 0;
      into.append(buffer, static_cast<std::size_t>(n));
    }
    return true;
  }

  std::string converse(int fd) const {
    const auto deadline = SteadyClock::now() + kPeerTimeout;
    std::string received;
    if (!read_until(fd, received, read_first_, deadline)) return received;
    (void)send_all(fd, reply_);
    ::shutdown(fd, SHUT_WR);
    (void)read_until(fd, received, 0, deadline);
    return received;
  }

  Acceptor acceptor_;
  std::size_t read_first_;
  std::string reply_;
  Finished<std::string> done_;
  std::thread thread_;  // last: starts once the rest is made
};

class TlsCliTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess(server_options()); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static std::string next_phone() { return phone_number(++next_phone_); }

  // A new account in home on `server`, registered over TLS.
  static std::string registered(const ServerProcess& server, const std::string& home) {
    std::string phone = next_phone();
    must_register_cli(server, home, phone);
    return phone;
  }

  // The options that point a client home at 127.0.0.1:port (a fake server or the relay).
  static std::vector<std::string> at_port(const std::string& home, std::uint16_t port,
                                          std::vector<std::string> rest) {
    std::vector<std::string> args = {"--home",    home,     "--host",
                                     "127.0.0.1", "--port", std::to_string(port)};
    args.insert(args.end(), rest.begin(), rest.end());
    return args;
  }

  static ServerProcess* server_;
  static int next_phone_;
  TempDir root_{"shido-tls-cli"};
  std::string alice_home_ = root_.path() + "/alice";
  std::string bob_home_ = root_.path() + "/bob";
};

ServerProcess* TlsCliTest::server_ = nullptr;
int TlsCliTest::next_phone_ = 700;

TEST_F(TlsCliTest, AServerWithAnotherKeyIsRefusedInTheHandshakeBeforeAnyFrameIsSent) {
  const std::string alice = registered(*server_, alice_home_);
  const std::string bob = next_phone();
  const KeyPair impostor_key = KeyPair::generate();
  const std::string offered = impostor_key.public_key().fingerprint();
  ASSERT_NE(offered, server_->fingerprint());

  // Every command that logs in, registering the account again included (its first login
  // asks whether the server still knows it).
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"fetch"}, std::vector<std::string>{"send", "--to", bob, "secret"},
        std::vector<std::string>{"register", "--phone", alice}}) {
    SCOPED_TRACE(command.front());
    // The impostor holds the private half of its key, so its certificate is a good one:
    // only the pin tells it from the real server.
    FakeTlsServer impostor(impostor_key, impostor_key.public_key());
    RecordingRelay relay(impostor.port());
    const RunResult result = run_client(at_port(alice_home_, relay.port(), command));
    EXPECT_EQ(result.status, 3) << result;
    EXPECT_THAT(result.err, HasSubstr("THE SERVER KEY HAS CHANGED"));
    EXPECT_THAT(result.err, HasSubstr("pinned:  " + server_->fingerprint()));
    EXPECT_THAT(result.err, HasSubstr("offered: " + offered));
    EXPECT_THAT(result.err, HasSubstr("Nothing was sent"));
    EXPECT_THAT(result.err, Not(HasSubstr("Code: ")));

    // On the wire: a ClientHello, then at most an alert (and a ChangeCipherSpec), in the
    // clear; no record of type application_data, which in TLS 1.3 carries every encrypted
    // byte, frames included.
    const std::vector<std::string> sent = relay.sent_by_clients(1);
    const auto records = tls_records(sent[0]);
    ASSERT_TRUE(records.has_value()) << "not whole TLS records: " << sent[0].size() << " bytes";
    ASSERT_FALSE(records->empty());
    EXPECT_EQ(records->front().type, kHandshake);
    ASSERT_FALSE(records->front().body.empty());
    EXPECT_EQ(static_cast<unsigned char>(records->front().body[0]), kClientHello);
    EXPECT_THAT(record_types(*records), Not(testing::Contains(kApplicationData)));
    EXPECT_THAT(record_types(*records),
                testing::Each(testing::AnyOf(kHandshake, kAlert, kChangeCipherSpec)));
    EXPECT_EQ(sent[0].find(alice), std::string::npos);

    // The impostor's handshake failed, so it read no frame.
    const auto connections = impostor.connections(1);
    EXPECT_TRUE(connections[0].handshake_error.has_value());
    EXPECT_TRUE(connections[0].frames.empty());
    EXPECT_EQ(relay.connections_ended(), 1u);  // no second try
  }
  // The pin on disk is unchanged.
  EXPECT_EQ(open_profile(alice_home_, alice).server().key.fingerprint(), server_->fingerprint());
}

TEST_F(TlsCliTest, ARegistrationWhose101KeyIsNotTheCertificateKeyStopsRightAfterHello) {
  const KeyPair certificate_key = KeyPair::generate();
  const PublicKey hello_key = KeyPair::generate().public_key();
  FakeTlsServer middle(certificate_key, hello_key);
  const std::string phone = next_phone();
  const RunResult result = run_client(
      at_port(alice_home_, middle.port(), {"register", "--phone", phone, "--email", "a@b.co"}));
  EXPECT_EQ(result.status, 3) << result;
  EXPECT_THAT(result.err, HasSubstr("TLS certificate"));
  EXPECT_THAT(result.err, HasSubstr(certificate_key.public_key().fingerprint()));
  EXPECT_THAT(result.err, HasSubstr(hello_key.fingerprint()));
  EXPECT_THAT(result.err, Not(HasSubstr("Code: ")));
  EXPECT_TRUE(client::Profile::list(alice_home_).empty());

  // The handshake worked (nothing was pinned yet); HELLO was all the client said.
  const auto connections = middle.connections(1);
  EXPECT_FALSE(connections[0].handshake_error.has_value()) << *connections[0].handshake_error;
  ASSERT_EQ(connections[0].frames.size(), 1u);
  EXPECT_EQ(frame_code(connections[0].frames[0]), static_cast<int>(Code::kHello));
}

TEST_F(TlsCliTest, ALoginWhose101KeyIsNotTheCertificateKeyStopsBeforeTheProof) {
  const std::string alice = registered(*server_, alice_home_);
  // The account pins certificate_key, as if it had registered with the fake server: the
  // handshake passes, and only 101 is wrong.
  const KeyPair certificate_key = KeyPair::generate();
  const PublicKey hello_key = KeyPair::generate().public_key();
  const std::string pin_path = alice_home_ + "/" + alice + "/server.json";
  Json pin = Json::parse(read_file_or_empty(pin_path));
  pin["server_public_key"] = certificate_key.public_key().pem();
  overwrite_file(pin_path, pin.dump());

  FakeTlsServer middle(certificate_key, hello_key);
  const RunResult result = run_client(at_port(alice_home_, middle.port(), {"fetch"}));
  EXPECT_EQ(result.status, 3) << result;
  EXPECT_THAT(result.err, HasSubstr("TLS certificate"));
  EXPECT_THAT(result.err, HasSubstr(certificate_key.public_key().fingerprint()));
  EXPECT_THAT(result.err, HasSubstr(hello_key.fingerprint()));

  // No login (201): the proof of the code never went to the server in the middle.
  const auto connections = middle.connections(1);
  EXPECT_FALSE(connections[0].handshake_error.has_value()) << *connections[0].handshake_error;
  ASSERT_EQ(connections[0].frames.size(), 1u);
  EXPECT_EQ(frame_code(connections[0].frames[0]), static_cast<int>(Code::kHello));
}

TEST_F(TlsCliTest, AServerWithoutTlsIsRefusedWithAClearMessageAndNothingIsSent) {
  const std::string alice = registered(*server_, alice_home_);
  // An older server reads a frame header, finds the ClientHello's "length" too large and
  // answers 125 in plaintext.
  const std::string too_large = encode_frame(dump_json(
      ErrorReply{Code::kFrameTooLarge, "frame too large", std::nullopt, std::nullopt}.to_json()));
  const std::string new_phone = next_phone();
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"register", "--phone", new_phone, "--email", "b@b.co"},
        std::vector<std::string>{"fetch"}}) {
    SCOPED_TRACE(command.front());
    ScriptedTcpServer old_server(4, too_large);
    const RunResult result = run_client(at_port(alice_home_, old_server.port(), command));
    EXPECT_EQ(result.status, 2) << result;
    EXPECT_THAT(result.err, HasSubstr("the server answered without TLS"));
    EXPECT_THAT(result.err, HasSubstr("--plaintext"));
    EXPECT_THAT(result.err, HasSubstr("Nothing was sent"));
    EXPECT_THAT(result.err, Not(HasSubstr("does not look like a Shido server")));
    EXPECT_THAT(result.err, Not(HasSubstr(kPlaintextWarning)));

    // It got a ClientHello, no frame; the phone numbers never crossed.
    const std::vector<std::string> received = old_server.received(1);
    const auto records = tls_records(received[0]);
    ASSERT_TRUE(records.has_value()) << "not whole TLS records: " << received[0].size() << " bytes";
    ASSERT_FALSE(records->empty());
    EXPECT_EQ(records->front().type, kHandshake);
    EXPECT_THAT(record_types(*records), Not(testing::Contains(kApplicationData)));
    EXPECT_EQ(received[0].find(alice), std::string::npos);
    EXPECT_EQ(received[0].find(new_phone), std::string::npos);
  }
  // The new phone got no account here.
  EXPECT_EQ(client::Profile::list(alice_home_), std::vector<std::string>{alice});
}

TEST_F(TlsCliTest, WithPlaintextRegisterSendAndFetchWorkInTheClearAndWarnOncePerCommand) {
  // The relay shows what the network sees.
  RecordingRelay relay(server_->port());
  const std::string alice = next_phone();
  const RunResult registered_alice = run_register_typing_code(
      *server_,
      at_port(alice_home_, relay.port(),
              {"--plaintext", "register", "--phone", alice, "--email", "alice@example.com"}),
      alice);
  ASSERT_EQ(registered_alice.status, 0) << registered_alice;
  EXPECT_EQ(occurrences(registered_alice.err, kPlaintextWarning), 1u) << registered_alice;
  // The 101 of a plaintext connection is pinned as the server's key: the real one.
  EXPECT_EQ(open_profile(alice_home_, alice).server().key.fingerprint(), server_->fingerprint());

  // Bob registers over TLS: no warning.
  const std::string bob = next_phone();
  const RunResult registered_bob = register_cli(*server_, bob_home_, bob);
  ASSERT_EQ(registered_bob.status, 0) << registered_bob;
  EXPECT_EQ(occurrences(registered_bob.err, kPlaintextWarning), 0u) << registered_bob;

  const RunResult sent = run_client(
      at_port(alice_home_, relay.port(), {"send", "--to", bob, "--plaintext", "over plain TCP"}));
  ASSERT_EQ(sent.status, 0) << sent;
  EXPECT_EQ(occurrences(sent.err, kPlaintextWarning), 1u) << sent;

  const RunResult fetched = run_client(at_port(bob_home_, relay.port(), {"--plaintext", "fetch"}));
  ASSERT_EQ(fetched.status, 0) << fetched;
  EXPECT_THAT(fetched.out, HasSubstr("over plain TCP"));
  EXPECT_EQ(occurrences(fetched.err, kPlaintextWarning), 1u) << fetched;

  // Three connections (register, send, fetch), each a plaintext frame from its first byte
  // on, each with the phone number of its account readable; the message itself stays
  // end-to-end encrypted.
  const std::vector<std::string> connections = relay.sent_by_clients(3);
  const std::vector<std::string> phones = {alice, alice, bob};
  for (std::size_t i = 0; i < connections.size(); ++i) {
    SCOPED_TRACE("connection " + std::to_string(i));
    ASSERT_FALSE(connections[i].empty());
    EXPECT_EQ(connections[i][0], '\0');
    EXPECT_NE(connections[i].find(phones[i]), std::string::npos);
    EXPECT_EQ(connections[i].find("over plain TCP"), std::string::npos);
  }
}

TEST_F(TlsCliTest, ByDefaultEveryConnectionIsTlsAndNoPhoneNumberCrossesInTheClear) {
  RecordingRelay relay(server_->port());
  const std::string alice = next_phone();
  const std::string bob = registered(*server_, bob_home_);
  const RunResult registered_alice = run_register_typing_code(
      *server_,
      at_port(alice_home_, relay.port(),
              {"register", "--phone", alice, "--email", "alice@example.com"}),
      alice);
  ASSERT_EQ(registered_alice.status, 0) << registered_alice;
  const RunResult sent =
      run_client(at_port(alice_home_, relay.port(), {"send", "--to", bob, "over TLS"}));
  ASSERT_EQ(sent.status, 0) << sent;
  const RunResult fetched = run_client(at_port(bob_home_, relay.port(), {"fetch"}));
  ASSERT_EQ(fetched.status, 0) << fetched;
  EXPECT_THAT(fetched.out, HasSubstr("over TLS"));
  for (const RunResult* result : {&registered_alice, &sent, &fetched})
    EXPECT_EQ(occurrences(result->err, kPlaintextWarning), 0u) << *result;

  const std::vector<std::string> connections = relay.sent_by_clients(3);
  for (std::size_t i = 0; i < connections.size(); ++i) {
    SCOPED_TRACE("connection " + std::to_string(i));
    const auto records = tls_records(connections[i]);
    ASSERT_TRUE(records.has_value()) << "not whole TLS records";
    ASSERT_FALSE(records->empty());
    EXPECT_EQ(records->front().type, kHandshake);
    EXPECT_THAT(record_types(*records), testing::Contains(kApplicationData));
    for (const std::string& secret : {alice, bob, "alice@example.com"s})
      EXPECT_EQ(connections[i].find(secret), std::string::npos) << secret;
  }
}

TEST_F(TlsCliTest, AFailedTlsHandshakeIsANetworkErrorExitTwo) {
  const std::string alice = registered(*server_, alice_home_);
  // What answers the ClientHello: a handshake record cut short, a handshake message of no
  // known type, a fatal handshake_failure alert.
  for (const std::string& reply :
       {"\x16\x03\x03\x00\x02\xff\xff"s, "\x16\x03\x03\x00\x04\xff\x00\x00\x00"s,
        "\x15\x03\x03\x00\x02\x02\x28"s}) {
    for (const std::vector<std::string>& command :
         {std::vector<std::string>{"register", "--phone", next_phone(), "--email", "b@b.co"},
          std::vector<std::string>{"fetch"}}) {
      SCOPED_TRACE(command.front() + " answered with " + std::to_string(reply.size()) +
                   " bytes starting " + std::to_string(static_cast<unsigned char>(reply[0])) +
                   ", " + std::to_string(static_cast<unsigned char>(reply[5])));
      ScriptedTcpServer broken(5, reply);  // a record header: the ClientHello began
      const RunResult result = run_client(at_port(alice_home_, broken.port(), command));
      EXPECT_EQ(result.status, 2) << result;
      EXPECT_THAT(result.err, HasSubstr("no secure connection to the server"));
      EXPECT_THAT(result.err, Not(HasSubstr("SERVER KEY")));
      EXPECT_THAT(result.err, Not(HasSubstr("without TLS")));
      EXPECT_THAT(result.err, Not(HasSubstr("Code: ")));
      const std::vector<std::string> received = broken.received(1);
      const auto records = tls_records(received[0]);
      ASSERT_TRUE(records.has_value()) << "not whole TLS records";
      EXPECT_THAT(record_types(*records), Not(testing::Contains(kApplicationData)));
    }
  }
  EXPECT_EQ(client::Profile::list(alice_home_), std::vector<std::string>{alice});
}

TEST_F(TlsCliTest, APlaintextClientAtAServerThatRequiresTlsIsToldToLeaveOutPlaintext) {
  ServerProcess::Options options = server_options();
  options.extra_args = {"--require-tls"};
  const ServerProcess tls_only(options);

  // Registering in plaintext: refused before a code is sent.
  const std::string phone = next_phone();
  const RunResult plain_register = run_client(at(
      alice_home_, tls_only, {"--plaintext", "register", "--phone", phone, "--email", "a@b.co"}));
  EXPECT_EQ(plain_register.status, 2) << plain_register;
  EXPECT_THAT(plain_register.err, HasSubstr("leave out --plaintext"));
  EXPECT_EQ(occurrences(plain_register.err, kPlaintextWarning), 1u) << plain_register;
  EXPECT_THAT(plain_register.err, Not(HasSubstr("Code: ")));
  EXPECT_FALSE(tls_only.read_code(phone).has_value());
  EXPECT_TRUE(client::Profile::list(alice_home_).empty());

  // Over TLS it works, and a later command with --plaintext is refused the same way.
  const RunResult tls_register = register_cli(tls_only, alice_home_, phone);
  ASSERT_EQ(tls_register.status, 0) << tls_register;
  const RunResult plain_fetch = run_client(at(alice_home_, tls_only, {"fetch", "--plaintext"}));
  EXPECT_EQ(plain_fetch.status, 2) << plain_fetch;
  EXPECT_THAT(plain_fetch.err, HasSubstr("leave out --plaintext"));
  const RunResult tls_fetch = run_client(at(alice_home_, tls_only, {"fetch"}));
  EXPECT_EQ(tls_fetch.status, 0) << tls_fetch;
}

TEST_F(TlsCliTest, HelpListsThePlaintextOption) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--help"}, std::vector<std::string>{"help", "fetch"},
        std::vector<std::string>{"send", "--help"}}) {
    const RunResult help = run_client(args);
    EXPECT_EQ(help.status, 0) << help;
    EXPECT_THAT(help.out, HasSubstr("--plaintext")) << args.front();
  }
}

}  // namespace
}  // namespace shido::client_test
