// The plain byte stream under the frames (shido/net/stream.h): deadline_in, wait_ready and
// SocketStream over a loopback TCP pair. Deadlines are checked from below only (a call
// never gives up before its deadline); how much later it returns is the machine's business.
#include "shido/net/stream.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>

#include "shido/net/socket.h"
#include "support/test_support.h"

namespace shido {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Both ends of a loopback TCP connection.
struct TcpPair {
  UniqueFd client;
  UniqueFd server;
};

TcpPair tcp_pair() {
  auto listener = listen_tcp("127.0.0.1", 0);
  if (!listener.ok()) throw std::runtime_error(listener.error().message);
  auto port = local_port(listener.value().get());
  if (!port.ok()) throw std::runtime_error(port.error().message);
  auto client = connect_tcp("127.0.0.1", port.value());
  if (!client.ok()) throw std::runtime_error(client.error().message);
  // The kernel completed the connection already: accept does not wait.
  UniqueFd server(::accept4(listener.value().get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!server.valid()) throw std::runtime_error("accept failed");
  return {std::move(client).value(), std::move(server)};
}

void send_all(int fd, std::string_view bytes) {
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(bytes.size()));
}

// Receives until `size` bytes came or something else happened.
std::string receive_exactly(ByteStream& stream, std::size_t size) {
  std::string got;
  const SteadyDeadline deadline = deadline_in(30s);
  while (got.size() < size) {
    char buffer[65536];
    const Received r = stream.receive(buffer, std::min(sizeof buffer, size - got.size()), deadline);
    if (r.kind != Received::Kind::kBytes) break;
    got.append(buffer, r.bytes);
  }
  return got;
}

std::string patterned(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 131 + i / 4099) & 0xff);
  return bytes;
}

TEST(DeadlineInTest, ZeroOrLessMeansNoDeadline) {
  EXPECT_FALSE(deadline_in(0ms).has_value());
  EXPECT_FALSE(deadline_in(-5ms).has_value());
}

TEST(DeadlineInTest, APositiveTimeoutLiesThatFarAhead) {
  const auto before = Clock::now();
  const SteadyDeadline deadline = deadline_in(250ms);
  const auto after = Clock::now();
  ASSERT_TRUE(deadline.has_value());
  EXPECT_GE(*deadline, before + 250ms);
  EXPECT_LE(*deadline, after + 250ms);
}

TEST(WaitReadyTest, APassedDeadlineTimesOutAtOnceWhenNothingArrived) {
  const TcpPair pair = tcp_pair();
  int err = 0;
  EXPECT_EQ(wait_ready(pair.server.get(), WaitFor::kReadable, Clock::now() - 1s, &err),
            Ready::kTimeout);
}

TEST(WaitReadyTest, ReadableOnceBytesArriveEvenWithoutADeadline) {
  const TcpPair pair = tcp_pair();
  send_all(pair.client.get(), "x");
  int err = 0;
  EXPECT_EQ(wait_ready(pair.server.get(), WaitFor::kReadable, std::nullopt, &err), Ready::kYes);
}

TEST(WaitReadyTest, WaitsUntilItsDeadlineAndNoLess) {
  const TcpPair pair = tcp_pair();
  const SteadyDeadline deadline = deadline_in(150ms);
  int err = 0;
  EXPECT_EQ(wait_ready(pair.server.get(), WaitFor::kReadable, deadline, &err), Ready::kTimeout);
  EXPECT_GE(Clock::now(), *deadline);
}

TEST(WaitReadyTest, AConnectedSocketIsWritable) {
  const TcpPair pair = tcp_pair();
  int err = 0;
  EXPECT_EQ(wait_ready(pair.client.get(), WaitFor::kWritable, Clock::now() - 1s, &err),
            Ready::kYes);
}

TEST(WaitReadyTest, APeerThatHungUpCountsAsReadyForTheReadToTell) {
  TcpPair pair = tcp_pair();
  pair.client.reset();
  int err = 0;
  EXPECT_EQ(wait_ready(pair.server.get(), WaitFor::kReadable, deadline_in(30s), &err), Ready::kYes);
  char byte = 0;
  EXPECT_EQ(::recv(pair.server.get(), &byte, 1, 0), 0);
}

TEST(WaitReadyTest, AClosedDescriptorIsAnErrorWithEbadf) {
  const TcpPair pair = tcp_pair();
  const int closed = ::dup(pair.server.get());
  ASSERT_GE(closed, 0);
  ASSERT_EQ(::close(closed), 0);  // this test runs no other thread that could reuse it
  int err = 0;
  EXPECT_EQ(wait_ready(closed, WaitFor::kReadable, deadline_in(30s), &err), Ready::kError);
  EXPECT_EQ(err, EBADF);
}

TEST(SocketStreamTest, NamesItsTransportAndItsSocket) {
  const TcpPair pair = tcp_pair();
  SocketStream stream(pair.client.get());
  EXPECT_EQ(stream.transport(), "TCP");
  EXPECT_EQ(stream.fd(), pair.client.get());
}

TEST(SocketStreamTest, ReceiveGivesWhatArrivedAtMostRoomAtATime) {
  const TcpPair pair = tcp_pair();
  SocketStream stream(pair.server.get());
  send_all(pair.client.get(), "hello");
  char buffer[2];
  const Received first = stream.receive(buffer, sizeof buffer, deadline_in(30s));
  ASSERT_EQ(first.kind, Received::Kind::kBytes);
  ASSERT_EQ(first.bytes, 2u);
  EXPECT_EQ(std::string_view(buffer, 2), "he");
  EXPECT_EQ(receive_exactly(stream, 3), "llo");
}

TEST(SocketStreamTest, ReceiveTimesOutAtItsDeadline) {
  const TcpPair pair = tcp_pair();
  SocketStream stream(pair.server.get());
  const SteadyDeadline deadline = deadline_in(150ms);
  char buffer[16];
  const Received got = stream.receive(buffer, sizeof buffer, deadline);
  EXPECT_EQ(got.kind, Received::Kind::kTimeout);
  EXPECT_GE(Clock::now(), *deadline);
}

TEST(SocketStreamTest, ReceiveReportsEofWhenThePeerCloses) {
  TcpPair pair = tcp_pair();
  SocketStream stream(pair.server.get());
  send_all(pair.client.get(), "last");
  pair.client.reset();
  EXPECT_EQ(receive_exactly(stream, 4), "last");
  char buffer[16];
  EXPECT_EQ(stream.receive(buffer, sizeof buffer, deadline_in(30s)).kind, Received::Kind::kEof);
}

TEST(SocketStreamTest, FinishSendingHalfClosesAndTheAnswerStillComesBack) {
  const TcpPair pair = tcp_pair();
  SocketStream client(pair.client.get());
  SocketStream server(pair.server.get());
  ASSERT_TRUE(client.send("request").ok());
  client.finish_sending();
  EXPECT_EQ(receive_exactly(server, 7), "request");
  char buffer[16];
  EXPECT_EQ(server.receive(buffer, sizeof buffer, deadline_in(30s)).kind, Received::Kind::kEof);
  ASSERT_TRUE(server.send("answer").ok());
  EXPECT_EQ(receive_exactly(client, 6), "answer");
}

TEST(SocketStreamTest, ANegativeDescriptorFailsAtOnceInsteadOfWaitingForEver) {
  SocketStream stream(-1);
  char buffer[16];
  const Received got = stream.receive(buffer, sizeof buffer, std::nullopt);
  EXPECT_EQ(got.kind, Received::Kind::kError);
  EXPECT_FALSE(got.error.empty());
  const Status sent = stream.send("x");
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, Errc::kIo);
}

TEST(SocketStreamTest, ShutdownFromAnotherThreadWakesAReceiveWithoutADeadline) {
  const TcpPair pair = tcp_pair();
  SocketStream stream(pair.server.get());
  std::atomic<pid_t> receiver{0};
  auto received = std::async(std::launch::async, [&] {
    receiver = static_cast<pid_t>(::syscall(SYS_gettid));
    char buffer[16];
    return stream.receive(buffer, sizeof buffer, std::nullopt);
  });
  ASSERT_TRUE(test::eventually([&] { return receiver != 0 && test::waiting_in_poll(receiver); }))
      << "the receiving thread never waited in poll()";
  ASSERT_EQ(::shutdown(pair.server.get(), SHUT_RDWR), 0);
  ASSERT_EQ(received.wait_for(30s), std::future_status::ready) << "receive() did not wake";
  const Received got = received.get();
  EXPECT_TRUE(got.kind == Received::Kind::kEof || got.kind == Received::Kind::kError)
      << static_cast<int>(got.kind);
}

// On a blocking socket and on a non-blocking one (which waits in poll() for room).
class SocketStreamSendTest : public ::testing::TestWithParam<bool> {};

TEST_P(SocketStreamSendTest, SendDeliversAMebibyteWhole) {
  const TcpPair pair = tcp_pair();
  if (GetParam()) {
    ASSERT_EQ(::fcntl(pair.client.get(), F_SETFL, ::fcntl(pair.client.get(), F_GETFL) | O_NONBLOCK),
              0);
  }
  const std::string mebibyte = patterned(std::size_t{1} << 20);
  SocketStream reader(pair.server.get());
  auto got =
      std::async(std::launch::async, [&] { return receive_exactly(reader, mebibyte.size()); });
  SocketStream writer(pair.client.get());
  const Status sent = writer.send(mebibyte);
  EXPECT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_TRUE(got.get() == mebibyte) << "the bytes that arrived differ from those sent";
}

std::string blocking_name(const ::testing::TestParamInfo<bool>& info) {
  return info.param ? "NonBlocking" : "Blocking";
}

INSTANTIATE_TEST_SUITE_P(BlockingOrNot, SocketStreamSendTest, ::testing::Values(false, true),
                         blocking_name);

TEST(SocketStreamTest, SendingToAVanishedPeerFailsWithIoAndRaisesNoSigpipe) {
  TcpPair pair = tcp_pair();
  SocketStream stream(pair.client.get());
  pair.server.reset();
  // The first write may still be taken; the peer's reset makes a later one fail (EPIPE),
  // and SIGPIPE, were it raised, would end this test program.
  Status sent;
  ASSERT_TRUE(test::eventually([&] {
    sent = stream.send("are you there?");
    return !sent.ok();
  }));
  EXPECT_EQ(sent.error().code, Errc::kIo);
}

TEST(SocketStreamTest, ABlockingSocketsSendTimeoutEndsASendToAPeerThatDoesNotRead) {
  const TcpPair pair = tcp_pair();
  const timeval timeout{0, 200000};
  ASSERT_EQ(::setsockopt(pair.client.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout), 0);
  SocketStream stream(pair.client.get());
  // Far more than the loopback's socket buffers hold; nobody reads the other end.
  const std::string flood(std::size_t{64} << 20, 'x');
  const Status sent = stream.send(flood);
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, Errc::kIo);
  EXPECT_NE(sent.error().message.find("peer not reading"), std::string::npos)
      << sent.error().message;
}

}  // namespace
}  // namespace shido
