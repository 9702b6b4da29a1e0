// TLS 1.3 under the frames (design section 10.1) against the real server: the certificate
// carries the server's key, handshakes that are not Shido's are closed (and logged) while
// the server goes on serving, a handshake must finish within --frame-timeout and holds an
// unauthenticated slot until then, an observer of the wire sees nothing of the frames,
// --require-tls closes plaintext connections without a reply, and without it both
// transports share one port. Plaintext stays covered by a full tour over it.
#include <sys/socket.h>

#include <functional>
#include <random>
#include <thread>

#include "e2e_util.h"
#include "support/recording_relay.h"
#include "support/tls_probe.h"

namespace shido::e2e {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

const Transport kPlaintext{false, std::nullopt};
constexpr std::string_view kHandshakeFailed = "closing: TLS handshake failed";

// How often needle occurs in text.
int count_of(const std::string& text, std::string_view needle) {
  int count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    count += 1;
  }
  return count;
}

class TlsE2eTest : public E2eTest {
 protected:
  ProtocolClient connect_with(const Transport& transport) {
    return must(ProtocolClient::connect(server().host(), server().port(), 30s, transport),
                "connect");
  }

  // A new connection logged in as user.
  ProtocolClient login_with(const User& user, const Transport& transport) {
    ProtocolClient client = connect_with(transport);
    const Greeting greeting = must(client.hello(), "hello");
    (void)must(client.login(user.key, greeting, user.phone, as_bytes(user.code)), "login");
    return client;
  }

  // from sends body to to over client; returns the message id.
  static std::string send_text(ProtocolClient& client, const User& from, const User& to,
                               const std::string& body) {
    const PublicKey key = must(client.recipient_key(to.phone), "recipient_key");
    EXPECT_TRUE(key == to.key.public_key());
    return must(client.send_envelope(to.phone, seal_text(from, to.phone, key, body)),
                "send_envelope");
  }

  // The server log, once it holds needle (or after 30 s, as it is).
  std::string log_once_it_holds(std::string_view needle) {
    std::string log;
    test::eventually([&] {
      log = server().log();
      return log.find(needle) != std::string::npos;
    });
    return log;
  }

  // A probing OpenSSL client's connection to the server.
  test::Probe probe(const test::ProbeOptions& options, UniqueFd& fd) {
    const test::SslCtxPtr context = test::probe_context(options);
    fd = raw_connect(server());
    return test::probe_handshake(context.get(), fd.get());
  }
};

// The first nine bytes of a ClientHello that announces `length` bytes: a handshake record
// header (16 KiB) and the handshake header, and no more.
std::string client_hello_head(std::size_t length) {
  std::string head("\x16\x03\x01\x40\x00\x01", 6);
  head += static_cast<char>(length >> 16 & 0xff);
  head += static_cast<char>(length >> 8 & 0xff);
  head += static_cast<char>(length & 0xff);
  return head;
}

// One HELLO through a probe's TLS connection; the code of the reply (-1 if none came).
int hello_through(test::Probe& probe) {
  if (!probe.write(encode_frame(dump_json(Hello{}.to_json())))) return -1;
  const std::optional<std::string> header = probe.read(4);
  if (!header) return -1;
  std::uint32_t length = 0;
  for (const char byte : *header) length = length << 8 | static_cast<unsigned char>(byte);
  if (length == 0 || length > 65536) return -1;
  const std::optional<std::string> body = probe.read(length);
  if (!body) return -1;
  auto json = parse_frame_json(*body);
  return json.ok() ? code_of(json.value()) : -1;
}

TEST_F(TlsE2eTest, TheCertificateCarriesTheServersKeyAndHelloNamesTheSameKey) {
  start();
  ProtocolClient client = connect_to(server());
  EXPECT_EQ(client.transport(), "TLS");
  ASSERT_TRUE(client.certificate_key().has_value());
  EXPECT_EQ(client.certificate_key()->fingerprint(), server().fingerprint());
  const Greeting greeting = must(client.hello(), "hello");
  EXPECT_TRUE(greeting.server_key == *client.certificate_key());

  // Pinned to that key, a client connects; pinned to another, it stops in the handshake.
  const Transport pinned{true, greeting.server_key};
  ProtocolClient again = connect_with(pinned);
  EXPECT_TRUE(again.hello().ok());
  const Transport wrong{true, KeyPair::generate().public_key()};
  auto refused = ProtocolClient::connect(server().host(), server().port(), 30s, wrong);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, Failure::kSecurity) << refused.error().message;
  EXPECT_NE(refused.error().message.find(server().fingerprint()), std::string::npos)
      << refused.error().message;
  // The server saw the handshake end in the client's alert: no frame was sent.
  const std::string log = log_once_it_holds("alert handshake failure");
  EXPECT_NE(log.find("closing: TLS handshake failed"), std::string::npos) << log;
  EXPECT_NE(log.find("alert handshake failure"), std::string::npos) << log;
}

// A client that differs from Shido's in one way, and what the server's log says of it.
struct Hostile {
  const char* name;
  std::function<void(test::ProbeOptions&)> change;
  const char* logged;
};

TEST_F(TlsE2eTest, HandshakesThatAreNotShidosAreClosedAndLoggedAndTheServerGoesOn) {
  start();
  const std::vector<Hostile> hostile = {
      {"TLS 1.2 only", [](test::ProbeOptions& o) { o.max_version = TLS1_2_VERSION; },
       "unsupported protocol"},
      // OpenSSL's reason here is "callback failed" (the ClientHello callback's refusal).
      {"no ALPN", [](test::ProbeOptions& o) { o.alpn.reset(); }, nullptr},
      {"ALPN h2", [](test::ProbeOptions& o) { o.alpn = std::vector<std::string>{"h2"}; },
       "no application protocol"},
      {"P-384 only", [](test::ProbeOptions& o) { o.groups = "P-384"; }, "no suitable key share"},
  };
  for (const Hostile& client : hostile) {
    SCOPED_TRACE(client.name);
    test::ProbeOptions options = test::shido_like();
    options.min_version = TLS1_VERSION;
    client.change(options);
    const int failures_before = count_of(server().log(), kHandshakeFailed);
    UniqueFd fd;
    const test::Probe refused = probe(options, fd);
    EXPECT_FALSE(refused.connected);
    EXPECT_TRUE(drain_until_closed(fd.get())) << "the server kept the connection open";
    EXPECT_TRUE(test::eventually([&] {
      return count_of(server().log(), kHandshakeFailed) > failures_before;
    })) << "not logged";
    if (client.logged != nullptr) {
      const std::string log = server().log();
      EXPECT_NE(log.find(client.logged), std::string::npos) << log;
    }
  }
  {
    SCOPED_TRACE("garbage after a real ClientHello");
    const std::string hello =
        test::capture_client_hello(test::probe_context(test::shido_like()).get());
    std::mt19937 random(0x7e57);
    std::string record("\x17\x03\x03\x01\x00", 5);
    for (int i = 0; i < 256; ++i) record += static_cast<char>(random());
    UniqueFd fd = raw_connect(server());
    send_raw(fd.get(), hello + record);
    EXPECT_TRUE(drain_until_closed(fd.get())) << "the server kept the connection open";
    const std::string log = log_once_it_holds("bad record mac");
    EXPECT_NE(log.find("bad record mac"), std::string::npos) << log;
  }

  {
    SCOPED_TRACE("a ClientHello announcing 20000 bytes");
    UniqueFd fd = raw_connect(server());
    send_raw(fd.get(), client_hello_head(20000));
    EXPECT_TRUE(drain_until_closed(fd.get())) << "the server kept the connection open";
    const std::string log = log_once_it_holds("more than the limit of 16384");
    EXPECT_NE(log.find("a ClientHello of 20000 bytes"), std::string::npos) << log;
  }

  // Each of them ended in a logged handshake failure; and the server still serves.
  EXPECT_EQ(count_of(server().log(), kHandshakeFailed), 6) << server().log();
  ProtocolClient client = connect_to(server());
  const User user = register_user(server(), client, phone_number(1));
  ProtocolClient again = login(server(), user);
  EXPECT_EQ(again.transport(), "TLS");
  EXPECT_TRUE(must(again.fetch(10, 0), "fetch").empty());
}

TEST_F(TlsE2eTest, AClientHelloMayBeNoLongerThanAFrameBeforeLogin) {
  start({"--max-prelogin-frame", "1024"});
  UniqueFd fd = raw_connect(server());
  send_raw(fd.get(), client_hello_head(1025));
  EXPECT_TRUE(drain_until_closed(fd.get())) << "the server kept the connection open";
  const std::string log = log_once_it_holds("more than the limit of 1024");
  EXPECT_NE(log.find("a ClientHello of 1025 bytes"), std::string::npos) << log;
  // A real ClientHello is far shorter.
  ProtocolClient client = connect_to(server());
  const User user = register_user(server(), client, phone_number(1));
  EXPECT_TRUE(login(server(), user).hello().ok());
}

TEST_F(TlsE2eTest, AClientCertificateIsNeverAskedForAndTheConnectionIsServedAsAny) {
  start();
  const test::Credentials mine = test::make_credentials("a client");
  test::ProbeOptions options = test::shido_like();
  options.certificate = &mine;
  UniqueFd fd;
  test::Probe client = probe(options, fd);
  ASSERT_TRUE(client.connected) << client.error;
  EXPECT_EQ(client.alpn(), "shido/1");
  EXPECT_EQ(SSL_version(client.ssl.get()), TLS1_3_VERSION);
  EXPECT_TRUE(client.log->received_type(SSL3_MT_CERTIFICATE));  // the server's own
  EXPECT_FALSE(client.log->received_type(SSL3_MT_CERTIFICATE_REQUEST));
  EXPECT_FALSE(client.log->sent_type(SSL3_MT_CERTIFICATE));
  EXPECT_EQ(hello_through(client), 101);
}

TEST_F(TlsE2eTest, TheServerIssuesNoSessionTicketsSoNothingResumesAndNoEarlyData) {
  start();
  const test::SslCtxPtr context = test::probe_context(test::shido_like());
  UniqueFd fd = raw_connect(server());
  test::Probe client = test::probe_handshake(context.get(), fd.get());
  ASSERT_TRUE(client.connected) << client.error;
  // Tickets would come before the first reply.
  EXPECT_EQ(hello_through(client), 101);
  EXPECT_FALSE(client.log->received_type(SSL3_MT_NEWSESSION_TICKET));
  const test::SslSessionPtr session(SSL_get1_session(client.ssl.get()));
  ASSERT_TRUE(session);
  EXPECT_EQ(SSL_SESSION_is_resumable(session.get()), 0);
  EXPECT_EQ(SSL_SESSION_get_max_early_data(session.get()), 0u);
  EXPECT_NE(test::try_early_data(context.get(), session.get()), 1);

  UniqueFd again_fd = raw_connect(server());
  test::Probe again = test::probe_handshake(context.get(), again_fd.get(), session.get());
  ASSERT_TRUE(again.connected) << again.error;
  EXPECT_EQ(SSL_session_reused(again.ssl.get()), 0);
  EXPECT_EQ(hello_through(again), 101);
}

TEST_F(TlsE2eTest, AStalledHandshakeHoldsAnUnauthenticatedSlotUntilTheFrameTimeoutClosesIt) {
  start({"--frame-timeout", "1", "--max-unauthenticated-per-address", "2"});
  const std::string hello =
      test::capture_client_hello(test::probe_context(test::shido_like()).get());
  // Two handshakes that never finish: one byte of a record, half a ClientHello. While both
  // are open a third connection from the address is refused. If the machine is so slow that
  // one was closed before the third was accepted, that round says nothing: try again.
  bool refused = false;
  for (int round = 0; round < 5 && !refused; ++round) {
    const auto began = Clock::now();
    UniqueFd one_byte = raw_connect(server());
    send_raw(one_byte.get(), "\x16");
    UniqueFd half_hello = raw_connect(server());
    send_raw(half_hello.get(), hello.substr(0, hello.size() / 2));
    auto third = ProtocolClient::connect(server().host(), server().port(), 30s);
    const bool both_open = wait_for_close(one_byte.get(), milliseconds(0)) == Closed::kNo &&
                           wait_for_close(half_hello.get(), milliseconds(0)) == Closed::kNo;
    if (third.ok()) {
      ASSERT_FALSE(both_open) << "a third connection was served while two handshakes stalled";
      continue;
    }
    refused = true;
    EXPECT_EQ(third.error().kind, Failure::kRefused) << third.error().message;
    ASSERT_TRUE(third.error().server_code.has_value()) << third.error().message;
    EXPECT_EQ(static_cast<int>(*third.error().server_code), 128);
    EXPECT_NE(third.error().message.find("your address"), std::string::npos)
        << third.error().message;
    // Each stalled handshake is closed (without a reply), no sooner than the frame time-out.
    EXPECT_EQ(wait_for_close(one_byte.get()), Closed::kYes);
    EXPECT_GE(Clock::now() - began, std::chrono::seconds(1));
    EXPECT_EQ(wait_for_close(half_hello.get()), Closed::kYes);
  }
  ASSERT_TRUE(refused) << "no round refused a third connection";
  const std::string log = log_once_it_holds("did not finish in time");
  EXPECT_GE(count_of(log, "the TLS handshake did not finish in time"), 2) << log;
  EXPECT_NE(log.find("refused: too many connections from your address"), std::string::npos) << log;
  // Their slots are free again.
  ProtocolClient client = connect_to(server());
  const User user = register_user(server(), client, phone_number(1));
  EXPECT_TRUE(login(server(), user).hello().ok());
}

// What a relay between the clients and the server records while two users register, send,
// fetch and acknowledge: with TLS (true) nothing of the frames, in plaintext (false, the
// control that shows the check can fail) all of it.
class WireTest : public TlsE2eTest, public ::testing::WithParamInterface<bool> {};

TEST_P(WireTest, AnObserverOfTheWireSeesNoFrameContentOnlyWithTls) {
  const bool tls = GetParam();
  start();
  const test::RecordingRelay relay(server().host(), server().port());
  const Transport transport{tls, std::nullopt};
  const auto through_relay = [&] {
    return must(ProtocolClient::over(must(connect_tcp(relay.host(), relay.port()), "relay"), 30s,
                                     transport),
                "connect through the relay");
  };
  ProtocolClient alice_client = through_relay();
  const User alice = register_user(server(), alice_client, phone_number(1));
  ProtocolClient bob_client = through_relay();
  const User bob = register_user(server(), bob_client, phone_number(2));
  EXPECT_EQ(alice_client.transport(), tls ? "TLS" : "TCP");
  const std::string id = send_text(alice_client, alice, bob, "meet me at noon");
  const auto messages = must(bob_client.fetch(10, 0), "fetch");
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(open_body(bob, messages[0]), "meet me at noon");
  EXPECT_EQ(must(bob_client.ack({id}), "ack").deleted, 1);
  EXPECT_EQ(relay.connections(), 2);

  // Every reply has been read, and the relay records before it forwards.
  const std::string up = relay.client_to_server();
  const std::string down = relay.server_to_client();
  EXPECT_GT(up.size(), 1000u);
  EXPECT_GT(down.size(), 1000u);
  const std::vector<std::string> upward = {alice.phone,  bob.phone,           "phone_number",
                                           "public_key", "encrypted_message", "wrapped_aes_key",
                                           "\"code\"",   "user@example.com",  "message_ids"};
  const std::vector<std::string> downward = {alice.phone,       "senders_phone_number",
                                             "public_key",      "encrypted_message",
                                             "wrapped_aes_key", "\"code\"",
                                             "message_id"};
  for (const std::string& needle : upward)
    EXPECT_EQ(up.find(needle) != std::string::npos, !tls) << needle << " (client to server)";
  for (const std::string& needle : downward)
    EXPECT_EQ(down.find(needle) != std::string::npos, !tls) << needle << " (server to client)";
}

std::string wire_name(const ::testing::TestParamInfo<bool>& info) {
  return info.param ? "Tls" : "PlaintextControl";
}

INSTANTIATE_TEST_SUITE_P(Transports, WireTest, ::testing::Values(true, false), wire_name);

TEST_F(TlsE2eTest, RequireTlsClosesPlaintextWithoutAReplyAndServesTls) {
  start({"--require-tls"});
  ProtocolClient plaintext = connect_with(kPlaintext);
  EXPECT_EQ(plaintext.transport(), "TCP");
  auto greeting = plaintext.hello();
  ASSERT_FALSE(greeting.ok());
  EXPECT_EQ(greeting.error().kind, Failure::kNetwork);
  EXPECT_NE(greeting.error().message.find("closed"), std::string::npos) << greeting.error().message;
  // The same with raw bytes: no reply frame, only the close.
  UniqueFd raw = raw_connect(server());
  send_raw(raw.get(), encode_frame(dump_json(Hello{}.to_json())));
  EXPECT_EQ(wait_for_close(raw.get()), Closed::kYes);
  const std::string log = log_once_it_holds("a plaintext connection (--require-tls)");
  EXPECT_GE(count_of(log, "closing: a plaintext connection (--require-tls)"), 2) << log;

  // TLS on the same port is served.
  ProtocolClient client = connect_to(server());
  const User user = register_user(server(), client, phone_number(1));
  ProtocolClient again = login(server(), user);
  EXPECT_EQ(again.transport(), "TLS");
  EXPECT_TRUE(again.hello().ok());
}

TEST_F(TlsE2eTest, WithoutRequireTlsBothTransportsShareOnePort) {
  start();
  ProtocolClient alice_tls = connect_to(server());
  const User alice = register_user(server(), alice_tls, phone_number(1));
  ProtocolClient bob_plain = connect_with(kPlaintext);
  const User bob = register_user(server(), bob_plain, phone_number(2));
  EXPECT_EQ(alice_tls.transport(), "TLS");
  EXPECT_EQ(bob_plain.transport(), "TCP");
  EXPECT_FALSE(bob_plain.certificate_key().has_value());

  // Alice logs in over plaintext and writes; Bob reads over TLS and answers.
  ProtocolClient alice_plain = login_with(alice, kPlaintext);
  EXPECT_EQ(alice_plain.transport(), "TCP");
  const std::string to_bob = send_text(alice_plain, alice, bob, "over TCP");
  ProtocolClient bob_tls = login(server(), bob);
  const auto for_bob = must(bob_tls.fetch(10, 0), "fetch");
  ASSERT_EQ(for_bob.size(), 1u);
  EXPECT_EQ(for_bob[0].message_id, to_bob);
  EXPECT_EQ(open_body(bob, for_bob[0]), "over TCP");
  const std::string to_alice = send_text(bob_tls, bob, alice, "over TLS");
  const auto for_alice = must(alice_plain.fetch(10, 0), "fetch");
  ASSERT_EQ(for_alice.size(), 1u);
  EXPECT_EQ(for_alice[0].message_id, to_alice);
  EXPECT_EQ(open_body(alice, for_alice[0]), "over TLS");
}

TEST_F(TlsE2eTest, PlaintextStillCarriesTheWholeTour) {
  start();
  ProtocolClient alice_client = connect_with(kPlaintext);
  const User alice = register_user(server(), alice_client, phone_number(1));
  ProtocolClient bob_client = connect_with(kPlaintext);
  const User bob = register_user(server(), bob_client, phone_number(2));
  EXPECT_EQ(alice_client.transport(), "TCP");
  EXPECT_EQ(bob_client.transport(), "TCP");

  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(send_text(alice_client, alice, bob, "message " + std::to_string(i)));
  ProtocolClient bob_again = login_with(bob, kPlaintext);
  const auto messages = must(bob_again.fetch(10, 0), "fetch");
  ASSERT_EQ(messages.size(), 3u);
  for (std::size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(messages[i].message_id, ids[i]);
    EXPECT_EQ(messages[i].senders_phone_number, alice.phone);
    EXPECT_EQ(open_body(bob, messages[i]), "message " + std::to_string(i));
  }
  const AckOk ack = must(bob_again.ack(ids), "ack");
  EXPECT_EQ(ack.deleted, 3);
  EXPECT_EQ(ack.waiting, 0);
  EXPECT_TRUE(must(bob_client.fetch(10, 0), "fetch").empty());
  const std::string reply = send_text(bob_again, bob, alice, "all three arrived");
  const auto for_alice = must(alice_client.fetch(10, 0), "fetch");
  ASSERT_EQ(for_alice.size(), 1u);
  EXPECT_EQ(for_alice[0].message_id, reply);
  EXPECT_EQ(open_body(alice, for_alice[0]), "all three arrived");
  EXPECT_EQ(must(alice_client.ack({reply}), "ack").deleted, 1);
}

}  // namespace
}  // namespace shido::e2e
