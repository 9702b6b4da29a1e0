// Reading a balancer's PROXY v2 header off a socket: exactly the header, so that the first
// byte the server tests next (TLS or plaintext) is the client's; and every way it fails.
#include "server/proxy_reader.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "shido/net/socket.h"

namespace shido::server {
namespace {

// TCP over IPv4 from 198.51.100.7:40312, then a NOOP TLV of 3 bytes.
const std::string kHeader(
    "\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A\x21\x11\x00\x12"
    "\xC6\x33\x64\x07\xCB\x00\x71\x01\x9D\x78\x13\x88"
    "\x04\x00\x03pad",
    34);

// A deadline far enough that only a bug reaches it (the reader would otherwise wait for
// ever); no test depends on how long anything takes.
SteadyDeadline guard() { return std::chrono::steady_clock::now() + std::chrono::seconds(60); }

class ProxyReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    server_.reset(fds[0]);
    balancer_.reset(fds[1]);
  }

  void send_all(const std::string& bytes) {
    ASSERT_EQ(::send(balancer_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }

  // What is left to read on the server's end, once the balancer's end is closed.
  std::string rest() {
    balancer_.reset();
    std::string left;
    char buffer[256];
    ssize_t n = 0;
    while ((n = ::recv(server_.get(), buffer, sizeof buffer, 0)) > 0) left.append(buffer, n);
    return left;
  }

  UniqueFd server_;
  UniqueFd balancer_;
};

TEST_F(ProxyReaderTest, ReadsTheHeaderAndNothingAfterIt) {
  send_all(kHeader + "\x16\x03\x01 the client's ClientHello");
  auto header = read_proxy_header(server_.get(), guard());
  ASSERT_TRUE(header.ok()) << header.error().message;
  EXPECT_EQ(header.value().client, "198.51.100.7:40312");
  EXPECT_EQ(header.value().length, kHeader.size());
  EXPECT_EQ(rest(), "\x16\x03\x01 the client's ClientHello");
}

TEST_F(ProxyReaderTest, ReadsAHeaderThatArrivesAByteAtATime) {
  std::thread writer([&] {
    for (const char byte : kHeader + "rest") {
      if (::send(balancer_.get(), &byte, 1, MSG_NOSIGNAL) != 1) return;
    }
  });
  auto header = read_proxy_header(server_.get(), guard());
  writer.join();
  ASSERT_TRUE(header.ok()) << header.error().message;
  EXPECT_EQ(header.value().client, "198.51.100.7:40312");
  EXPECT_EQ(rest(), "rest");
}

TEST_F(ProxyReaderTest, ABalancersOwnConnectionNamesNoClient) {
  send_all(std::string("\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A\x20\x00\x00\x00", 16));
  auto header = read_proxy_header(server_.get(), guard());
  ASSERT_TRUE(header.ok()) << header.error().message;
  EXPECT_FALSE(header.value().client);
}

TEST_F(ProxyReaderTest, AConnectionWithoutAHeaderFailsAtItsFirstByte) {
  // A plaintext HELLO, its sender still waiting for the reply: nothing more is waited for.
  send_all(std::string("\x00\x00\x00\x0C{\"code\":200}", 16));
  auto header = read_proxy_header(server_.get(), guard());
  ASSERT_FALSE(header.ok());
  EXPECT_EQ(header.error().code, Errc::kBadValue);
  EXPECT_NE(header.error().message.find("signature"), std::string::npos);
}

TEST_F(ProxyReaderTest, APeerThatLeavesMidHeaderFails) {
  send_all(kHeader.substr(0, 20));
  balancer_.reset();
  auto header = read_proxy_header(server_.get(), guard());
  ASSERT_FALSE(header.ok());
  EXPECT_EQ(header.error().code, Errc::kConnectionClosed);
}

TEST_F(ProxyReaderTest, AHeaderNotWholeByTheDeadlineFails) {
  send_all(kHeader.substr(0, 20));
  // A deadline already past: the reader takes what is there and waits no longer.
  auto header = read_proxy_header(server_.get(), std::chrono::steady_clock::now());
  ASSERT_FALSE(header.ok());
  EXPECT_EQ(header.error().code, Errc::kFrameTimeout);
}

}  // namespace
}  // namespace shido::server
