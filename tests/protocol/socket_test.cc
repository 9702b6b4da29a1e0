#include "shido/net/socket.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "shido/protocol/frame.h"

namespace shido {
namespace {

TEST(UniqueFdTest, ClosesOnResetAndDestruction) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const int read_end = fds[0];
  {
    UniqueFd owner(fds[1]);
    EXPECT_TRUE(owner.valid());
    UniqueFd moved(std::move(owner));
    EXPECT_FALSE(owner.valid());  // NOLINT(bugprone-use-after-move): the contract says so
    EXPECT_EQ(moved.get(), fds[1]);
  }
  EXPECT_EQ(fcntl(fds[1], F_GETFD), -1);  // closed by the destructor

  UniqueFd reader(read_end);
  reader.reset();
  EXPECT_FALSE(reader.valid());
  EXPECT_EQ(fcntl(read_end, F_GETFD), -1);
}

TEST(UniqueFdTest, ReleaseGivesUpOwnership) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  UniqueFd a(fds[0]);
  UniqueFd b(fds[1]);
  const int raw = a.release();
  EXPECT_FALSE(a.valid());
  a.reset();
  EXPECT_NE(fcntl(raw, F_GETFD), -1);  // still open: nobody owns it
  ::close(raw);
}

TEST(SocketTest, ListenOnPortZeroConnectAndTalk) {
  auto listener = listen_tcp("127.0.0.1", 0);
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  auto port = local_port(listener.value().get());
  ASSERT_TRUE(port.ok()) << port.error().message;
  EXPECT_NE(port.value(), 0);

  auto client = connect_tcp("127.0.0.1", port.value());
  ASSERT_TRUE(client.ok()) << client.error().message;
  // The connection is queued by the kernel, so accept does not block.
  UniqueFd server(accept(listener.value().get(), nullptr, nullptr));
  ASSERT_TRUE(server.valid());

  auto client_port = local_port(client.value().get());
  ASSERT_TRUE(client_port.ok());
  EXPECT_NE(client_port.value(), port.value());

  ASSERT_TRUE(write_frame(client.value().get(), R"({"code":200})").ok());
  auto frame = read_frame(server.get());
  ASSERT_TRUE(frame.ok()) << frame.error().message;
  EXPECT_EQ(frame.value(), R"({"code":200})");
}

TEST(SocketTest, ResolvesLocalhostName) {
  auto listener = listen_tcp("localhost", 0);
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  auto port = local_port(listener.value().get());
  ASSERT_TRUE(port.ok());
  EXPECT_GT(port.value(), 0);
}

TEST(SocketTest, ConnectToAClosedPortFails) {
  // Take a free port, then close the listener so nothing listens there.
  std::uint16_t closed_port = 0;
  {
    auto listener = listen_tcp("127.0.0.1", 0);
    ASSERT_TRUE(listener.ok());
    auto port = local_port(listener.value().get());
    ASSERT_TRUE(port.ok());
    closed_port = port.value();
  }
  auto client = connect_tcp("127.0.0.1", closed_port);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().code, Errc::kIo);
  EXPECT_NE(client.error().message.find("127.0.0.1:" + std::to_string(closed_port)),
            std::string::npos)
      << client.error().message;
}

TEST(SocketTest, BadHostFailsWithIo) {
  auto client = connect_tcp("no such host.invalid", 5000);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().code, Errc::kIo);
  auto listener = listen_tcp("256.1.1.1", 0);
  ASSERT_FALSE(listener.ok());
  EXPECT_EQ(listener.error().code, Errc::kIo);
}

TEST(SocketTest, PortInUseFailsWithIo) {
  auto first = listen_tcp("127.0.0.1", 0);
  ASSERT_TRUE(first.ok());
  auto port = local_port(first.value().get());
  ASSERT_TRUE(port.ok());
  auto second = listen_tcp("127.0.0.1", port.value());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, Errc::kIo);
}

TEST(SocketTest, LocalPortOfANonInetSocketFails) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  UniqueFd a(fds[0]);
  UniqueFd b(fds[1]);
  auto port = local_port(a.get());
  ASSERT_FALSE(port.ok());
  EXPECT_EQ(port.error().code, Errc::kIo);
  EXPECT_FALSE(local_port(-1).ok());
}

}  // namespace
}  // namespace shido
