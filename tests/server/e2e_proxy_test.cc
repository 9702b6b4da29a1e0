// PROXY protocol v2 behind a TCP load balancer (--proxy-from), against the real server: the
// header a listed balancer (here 127.0.0.1) sends names the client for the log and every
// per-address limit, before a plaintext or a TLS stream; a balancer's connection without
// one is closed; and from any other peer, or without --proxy-from, a header is no more
// than a bad frame, so no client can claim another address.
#include <sstream>

#include "e2e_util.h"

namespace shido::e2e {
namespace {

const Transport kPlaintext{false, std::nullopt};
const std::string kBalancer = "127.0.0.1";
const std::string kNotABalancer = "127.0.0.2";

// The header HAProxy's send-proxy-v2 writes for a TCP client a.b.c.d:port of IPv4.
std::string proxy_v2(const std::string& client, std::uint16_t port) {
  in_addr address{};
  if (::inet_pton(AF_INET, client.c_str(), &address) != 1) throw std::runtime_error(client);
  std::string header("\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A\x21\x11\x00\x0C", 16);
  header.append(reinterpret_cast<const char*>(&address), 4);  // network order already
  header.append("\x7F\x00\x00\x01", 4);                       // to 127.0.0.1
  header += static_cast<char>(port >> 8);
  header += static_cast<char>(port & 0xFF);
  header.append("\x13\x88", 2);  // to port 5000
  return header;
}

// A balancer's health check: LOCAL, no addresses.
const std::string kLocal("\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A\x20\x00\x00\x00", 16);

std::string hello_frame() { return encode_frame(dump_json(Hello{}.to_json())); }

// Whether one line of log holds both.
bool logged(const std::string& log, const std::string& first, const std::string& second) {
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(first) != std::string::npos && line.find(second) != std::string::npos) {
      return true;
    }
  }
  return false;
}

class ProxyE2eTest : public E2eTest {
 protected:
  // A connection from `from` that has sent `header` (nothing more) already.
  UniqueFd connect_with_header(const std::string& header, const std::string& from = kBalancer) {
    UniqueFd fd = raw_connect_from(from, server());
    send_raw(fd.get(), header);
    return fd;
  }

  // A client behind the balancer, relayed for client:port.
  ProtocolClient relayed(const std::string& client, std::uint16_t port,
                         const Transport& transport = kPlaintext) {
    return must(ProtocolClient::over(connect_with_header(proxy_v2(client, port)), 30s, transport),
                "connect");
  }
};

TEST_F(ProxyE2eTest, TheHeaderNamesTheClientInTheLog) {
  start({"--proxy-from", kBalancer});
  ProtocolClient client = relayed("198.51.100.7", 40312);
  const User user = register_user(server(), client, phone_number(1));
  // The balancer's own connection (a health check) is served as the balancer.
  UniqueFd check = connect_with_header(kLocal);
  const auto reply = exchange(check.get(), hello_frame());
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 101);
  const std::string log = stop_server();
  EXPECT_TRUE(logged(log, "198.51.100.7:40312", user.phone + " registered")) << log;
  EXPECT_FALSE(logged(log, "127.0.0.1:", "registered")) << log;
}

TEST_F(ProxyE2eTest, PerAddressLimitsCountTheClientNotTheBalancer) {
  start({"--proxy-from", kBalancer, "--max-unauthenticated-per-address", "1"});
  ProtocolClient first = relayed("198.51.100.7", 1001);
  must(first.hello(), "hello");  // holds 198.51.100.7's one place

  UniqueFd again = connect_with_header(proxy_v2("198.51.100.7", 1002));
  const auto refused = read_reply(again.get());
  ASSERT_TRUE(refused);
  EXPECT_EQ(code_of(*refused), 128);
  EXPECT_NE(refused->value("error_description", "").find("your address"), std::string::npos);
  EXPECT_EQ(wait_for_close(again.get()), Closed::kYes);

  // Another client through the same balancer has a place of its own.
  ProtocolClient other = relayed("198.51.100.8", 1003);
  EXPECT_TRUE(other.hello().ok());
  const std::string log = stop_server();
  EXPECT_TRUE(logged(log, "198.51.100.7:1002", "refused: too many connections")) << log;
}

TEST_F(ProxyE2eTest, ABalancersConnectionWithoutAHeaderIsClosed) {
  start({"--proxy-from", kBalancer});
  UniqueFd bare = raw_connect_from(kBalancer, server());
  send_raw(bare.get(), hello_frame());
  EXPECT_EQ(wait_for_close(bare.get()), Closed::kYes);
  // A version 1 (text) header is no better.
  UniqueFd text = connect_with_header("PROXY TCP4 198.51.100.7 127.0.0.1 40312 5000\r\n");
  EXPECT_EQ(wait_for_close(text.get()), Closed::kYes);
  const std::string log = stop_server();
  EXPECT_TRUE(logged(log, "closing: a balancer's connection", "no PROXY protocol version 2"))
      << log;
  EXPECT_TRUE(logged(log, "closing: a balancer's connection", "version 1 (text) header")) << log;
}

TEST_F(ProxyE2eTest, TlsBehindTheHeader) {
  start({"--proxy-from", kBalancer});
  ProtocolClient client = relayed("198.51.100.9", 40313, Transport{});
  const User user = register_user(server(), client, phone_number(2));
  const std::string log = stop_server();
  EXPECT_TRUE(logged(log, "198.51.100.9:40313", user.phone + " registered")) << log;
}

TEST_F(ProxyE2eTest, BalancersStillCountAgainstTheConnectionCap) {
  start({"--proxy-from", kBalancer, "--max-connections", "2"});
  ProtocolClient first = relayed("198.51.100.7", 1001);
  ProtocolClient second = relayed("198.51.100.8", 1002);
  must(first.hello(), "hello");
  must(second.hello(), "hello");
  UniqueFd third = connect_with_header(proxy_v2("198.51.100.9", 1003));
  const auto reply = read_reply(third.get());
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 128);
  EXPECT_NE(reply->value("error_description", "").find("connection limit"), std::string::npos);
}

TEST_F(ProxyE2eTest, AHeaderFromAnyoneElseIsABadFrame) {
  start({"--proxy-from", kBalancer});
  UniqueFd spoofing =
      connect_with_header(proxy_v2("198.51.100.7", 40312) + hello_frame(), kNotABalancer);
  const auto reply = read_reply(spoofing.get());
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 125);  // 0x0D0A0D0A read as a frame's length
  EXPECT_EQ(wait_for_close(spoofing.get()), Closed::kYes);
  const std::string log = stop_server();
  EXPECT_FALSE(logged(log, "198.51.100.7", "")) << log;
}

TEST_F(ProxyE2eTest, WithoutProxyFromAHeaderIsABadFrame) {
  start();
  UniqueFd fd = connect_with_header(proxy_v2("198.51.100.7", 40312) + hello_frame());
  const auto reply = read_reply(fd.get());
  ASSERT_TRUE(reply);
  EXPECT_EQ(code_of(*reply), 125);
  EXPECT_EQ(wait_for_close(fd.get()), Closed::kYes);
  const std::string log = stop_server();
  EXPECT_FALSE(logged(log, "198.51.100.7", "")) << log;
}

}  // namespace
}  // namespace shido::e2e
