#include "shido/protocol/frame.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "shido/net/socket.h"

namespace shido {
namespace {

using std::chrono::milliseconds;

// Two connected stream sockets: what one end sends, the other reads.
struct SocketPair {
  UniqueFd a;
  UniqueFd b;
};

SocketPair socket_pair() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    ADD_FAILURE() << "socketpair failed";
    return {};
  }
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

void send_raw(int fd, std::string_view bytes) {
  ASSERT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}

std::string header(std::uint32_t length) {
  return {static_cast<char>(length >> 24), static_cast<char>(length >> 16 & 0xff),
          static_cast<char>(length >> 8 & 0xff), static_cast<char>(length & 0xff)};
}

void expect_error(const Result<std::string>& result, Errc expected) {
  ASSERT_FALSE(result.ok()) << "read a frame of " << result.value().size() << " bytes";
  EXPECT_EQ(result.error().code, expected)
      << errc_name(result.error().code) << ": " << result.error().message;
}

TEST(FrameTest, EncodeWritesBigEndianLength) {
  EXPECT_EQ(encode_frame("abc"), std::string("\0\0\0\3abc", 7));
  const std::string payload(0x012c, 'x');
  const std::string frame = encode_frame(payload);
  EXPECT_EQ(frame.substr(0, 4), std::string("\0\0\x01\x2c", 4));
  EXPECT_EQ(frame.substr(4), payload);
}

TEST(FrameTest, RoundTrip) {
  SocketPair pair = socket_pair();
  const std::string payload = R"({"code":200,"protocol":1})";
  ASSERT_TRUE(write_frame(pair.a.get(), payload).ok());
  auto read = read_frame(pair.b.get());
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read.value(), payload);
}

TEST(FrameTest, FramesKeepTheirBoundaries) {
  SocketPair pair = socket_pair();
  send_raw(pair.a.get(), encode_frame("one") + encode_frame("two") + encode_frame("3"));
  for (std::string_view expected : {"one", "two", "3"}) {
    auto read = read_frame(pair.b.get());
    ASSERT_TRUE(read.ok()) << read.error().message;
    EXPECT_EQ(read.value(), expected);
  }
}

TEST(FrameTest, PayloadMayHoldAnyBytes) {
  SocketPair pair = socket_pair();
  const std::string payload("\0\xff\n\0", 4);
  ASSERT_TRUE(write_frame(pair.a.get(), payload).ok());
  auto read = read_frame(pair.b.get());
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read.value(), payload);
}

TEST(FrameTest, ZeroLengthIsRefused) {
  SocketPair pair = socket_pair();
  ASSERT_TRUE(write_frame(pair.a.get(), "").ok());
  expect_error(read_frame(pair.b.get()), Errc::kFrameEmpty);
}

TEST(FrameTest, ExactlyMaxSizeIsAccepted) {
  SocketPair pair = socket_pair();
  const std::string payload(16, 'a');
  ASSERT_TRUE(write_frame(pair.a.get(), payload).ok());
  auto read = read_frame(pair.b.get(), FrameLimits{.max_size = 16});
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read.value(), payload);
}

TEST(FrameTest, OversizedIsRefusedWithoutReadingThePayload) {
  SocketPair pair = socket_pair();
  const std::string payload(17, 'z');
  ASSERT_TRUE(write_frame(pair.a.get(), payload).ok());
  expect_error(read_frame(pair.b.get(), FrameLimits{.max_size = 16}), Errc::kFrameTooLarge);
  // The payload is still in the socket: only the 4-byte header was consumed.
  std::string rest(64, '\0');
  const ssize_t n = recv(pair.b.get(), rest.data(), rest.size(), MSG_DONTWAIT);
  ASSERT_EQ(n, 17);
  EXPECT_EQ(rest.substr(0, 17), payload);
}

TEST(FrameTest, HugeLengthIsRefusedAtOnce) {
  SocketPair pair = socket_pair();
  send_raw(pair.a.get(), header(0xffffffff));
  // Were the payload read, this would end in kFrameTimeout instead.
  expect_error(read_frame(pair.b.get(), FrameLimits{.frame_timeout = milliseconds(2000)}),
               Errc::kFrameTooLarge);
  send_raw(pair.a.get(), header(kDefaultMaxFrame + 1));
  expect_error(read_frame(pair.b.get(), FrameLimits{.frame_timeout = milliseconds(2000)}),
               Errc::kFrameTooLarge);
}

TEST(FrameTest, LengthTooLargeInItsFirstByteIsRefusedAtOnce) {
  SocketPair pair = socket_pair();
  // What an HTTP or SSH server sends first: "H" (0x48) alone announces more than 1 GiB.
  send_raw(pair.a.get(), "H");
  // Were the rest of the header awaited, this would end in kFrameTimeout instead.
  expect_error(read_frame(pair.b.get(), FrameLimits{.frame_timeout = milliseconds(2000)}),
               Errc::kFrameTooLarge);
}

TEST(FrameTest, LengthTooLargeInItsSecondByteIsRefusedAtOnce) {
  SocketPair pair = socket_pair();
  // "\0\x02" already announces at least 128 KiB, over a 64 KiB limit, however its first
  // byte came: the reader must not wait for the rest of the header.
  send_raw(pair.a.get(), std::string("\0\x02", 2));
  expect_error(read_frame(pair.b.get(),
                          FrameLimits{.max_size = 0x10000, .frame_timeout = milliseconds(2000)}),
               Errc::kFrameTooLarge);
}

TEST(FrameTest, PartialHeaderAtTheLimitIsAwaited) {
  SocketPair pair = socket_pair();
  // "\0\x01" could still be a frame of exactly 64 KiB, the limit: the reader waits for the
  // rest, and so finds the peer gone inside the frame rather than a frame too large.
  send_raw(pair.a.get(), std::string("\0\x01", 2));
  ASSERT_EQ(::shutdown(pair.a.get(), SHUT_WR), 0);
  expect_error(read_frame(pair.b.get(), FrameLimits{.max_size = 0x10000}), Errc::kFrameTruncated);
  SocketPair again = socket_pair();
  send_raw(again.a.get(), std::string("\0\x01", 2));
  ASSERT_EQ(::shutdown(again.a.get(), SHUT_WR), 0);
  expect_error(FrameReader(again.b.get()).next(FrameLimits{.max_size = 0x10000}),
               Errc::kFrameTruncated);
}

TEST(FrameTest, ClosedPeerBetweenFrames) {
  SocketPair pair = socket_pair();
  pair.a.reset();
  expect_error(read_frame(pair.b.get()), Errc::kConnectionClosed);
}

TEST(FrameTest, ClosedPeerAfterACompleteFrame) {
  SocketPair pair = socket_pair();
  ASSERT_TRUE(write_frame(pair.a.get(), "last").ok());
  pair.a.reset();
  auto read = read_frame(pair.b.get());
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read.value(), "last");
  expect_error(read_frame(pair.b.get()), Errc::kConnectionClosed);
}

TEST(FrameTest, TruncatedHeader) {
  SocketPair pair = socket_pair();
  send_raw(pair.a.get(), std::string("\0\0", 2));
  pair.a.reset();
  expect_error(read_frame(pair.b.get()), Errc::kFrameTruncated);
}

TEST(FrameTest, TruncatedPayload) {
  SocketPair pair = socket_pair();
  send_raw(pair.a.get(), header(10) + "12345");
  pair.a.reset();
  expect_error(read_frame(pair.b.get()), Errc::kFrameTruncated);
}

TEST(FrameTest, IdleTimeout) {
  SocketPair pair = socket_pair();
  expect_error(read_frame(pair.b.get(), FrameLimits{.idle_timeout = milliseconds(50)}),
               Errc::kIdleTimeout);
}

TEST(FrameTest, IdleTimeoutDoesNotHitAWaitingFrame) {
  SocketPair pair = socket_pair();
  ASSERT_TRUE(write_frame(pair.a.get(), "ready").ok());
  auto read = read_frame(pair.b.get(), FrameLimits{.idle_timeout = milliseconds(50),
                                                   .frame_timeout = milliseconds(50)});
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read.value(), "ready");
}

TEST(FrameTest, FrameTimeoutInsideTheHeader) {
  SocketPair pair = socket_pair();
  send_raw(pair.a.get(), std::string("\0", 1));
  expect_error(read_frame(pair.b.get(), FrameLimits{.idle_timeout = milliseconds(200),
                                                    .frame_timeout = milliseconds(100)}),
               Errc::kFrameTimeout);
}

TEST(FrameTest, FrameTimeoutInsideThePayload) {
  SocketPair pair = socket_pair();
  send_raw(pair.a.get(), header(100) + "partial");
  expect_error(read_frame(pair.b.get(), FrameLimits{.frame_timeout = milliseconds(100)}),
               Errc::kFrameTimeout);
}

TEST(FrameTest, WritingToAClosedPeerIsIoWithoutSigpipe) {
  SocketPair pair = socket_pair();
  pair.b.reset();
  // Without MSG_NOSIGNAL, SIGPIPE would end this test process here.
  Status status = write_frame(pair.a.get(), "hello");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Errc::kIo);
}

TEST(FrameTest, APeerThatStopsReadingFailsTheWriteAfterTheSendTimeout) {
  // A blocking socket with SO_SNDTIMEO (as the server sets): once the peer's buffers are
  // full, the write gives up with kIo instead of holding the thread for ever.
  SocketPair pair = socket_pair();
  timeval timeout{0, 100'000};
  ASSERT_EQ(setsockopt(pair.a.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout), 0);
  const std::string payload(16 << 20, 'x');  // far more than the socket buffers hold
  Status status = write_frame(pair.a.get(), payload);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Errc::kIo);
}

TEST(FrameTest, BadDescriptorIsIo) {
  expect_error(read_frame(-1), Errc::kIo);
  Status status = write_frame(-1, "x");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Errc::kIo);
}

std::string big_payload() {
  std::string payload(kDefaultMaxFrame, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  return payload;
}

// A frame much larger than the socket buffer: the writer must loop over short writes.
void round_trip_large(SocketPair& pair) {
  const std::string payload = big_payload();
  Status written;
  std::thread writer([&] { written = write_frame(pair.a.get(), payload); });
  auto read = read_frame(pair.b.get(), FrameLimits{.frame_timeout = milliseconds(30000)});
  writer.join();
  ASSERT_TRUE(written.ok()) << written.error().message;
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read.value().size(), payload.size());
  EXPECT_TRUE(read.value() == payload);
}

TEST(FrameTest, OneMebibyteFrame) {
  SocketPair pair = socket_pair();
  round_trip_large(pair);
}

TEST(FrameTest, OneMebibyteFrameOnNonBlockingSockets) {
  SocketPair pair = socket_pair();
  for (int fd : {pair.a.get(), pair.b.get()}) {
    ASSERT_EQ(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
  }
  round_trip_large(pair);
}

// FrameReader with read-ahead: one recv may hold several frames, or a frame and a part.

TEST(FrameReaderTest, FramesThatArriveTogetherComeOutInOrder) {
  SocketPair pair = socket_pair();
  send_raw(pair.a.get(), encode_frame("one") + encode_frame("two") + encode_frame("3"));
  FrameReader reader(pair.b.get());
  auto first = reader.next();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first.value(), "one");
  EXPECT_EQ(reader.buffered(), 2 * 4 + 4u);  // the other two came with the first recv
  for (std::string_view expected : {"two", "3"}) {
    auto read = reader.next(FrameLimits{.idle_timeout = milliseconds(50)});
    ASSERT_TRUE(read.ok()) << read.error().message;
    EXPECT_EQ(read.value(), expected);
  }
  EXPECT_EQ(reader.buffered(), 0u);
  expect_error(reader.next(FrameLimits{.idle_timeout = milliseconds(50)}), Errc::kIdleTimeout);
}

TEST(FrameReaderTest, APartOfTheNextFrameWaitsForItsRest) {
  SocketPair pair = socket_pair();
  const std::string second = encode_frame("second frame");
  send_raw(pair.a.get(), encode_frame("first") + second.substr(0, 6));
  FrameReader reader(pair.b.get());
  auto first = reader.next();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first.value(), "first");
  EXPECT_EQ(reader.buffered(), 6u);
  send_raw(pair.a.get(), second.substr(6));
  auto read = reader.next();
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read.value(), "second frame");
}

TEST(FrameReaderTest, ABufferedPartThatIsNeverFinishedTimesOut) {
  SocketPair pair = socket_pair();
  send_raw(pair.a.get(), encode_frame("whole") + header(100) + "part");
  FrameReader reader(pair.b.get());
  ASSERT_TRUE(reader.next().ok());
  // The rest never comes: the frame deadline applies although no recv is waiting for a
  // first byte.
  expect_error(reader.next(FrameLimits{.idle_timeout = milliseconds(5000),
                                       .frame_timeout = milliseconds(100)}),
               Errc::kFrameTimeout);
}

TEST(FrameReaderTest, ABufferedPartThenEofIsTruncated) {
  SocketPair pair = socket_pair();
  send_raw(pair.a.get(), encode_frame("whole") + std::string("\0\0", 2));
  pair.a.reset();
  FrameReader reader(pair.b.get());
  ASSERT_TRUE(reader.next().ok());
  expect_error(reader.next(), Errc::kFrameTruncated);
}

TEST(FrameReaderTest, AnOversizedFrameBehindAGoodOneIsRefused) {
  SocketPair pair = socket_pair();
  // Only the header of the big one is sent: were its payload awaited, this would end in
  // kFrameTimeout instead.
  send_raw(pair.a.get(), encode_frame("fine") + header(kDefaultMaxFrame + 1));
  FrameReader reader(pair.b.get());
  const FrameLimits limits{.frame_timeout = milliseconds(2000)};
  auto first = reader.next(limits);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first.value(), "fine");
  expect_error(reader.next(limits), Errc::kFrameTooLarge);
}

TEST(FrameReaderTest, ManyPipelinedFramesOfManySizesArriveIntact) {
  // More bytes than one recv takes, written while the reader reads: frames straddle every
  // kind of boundary.
  SocketPair pair = socket_pair();
  std::vector<std::string> payloads;
  for (int i = 0; i < 400; ++i)
    payloads.push_back(std::string(1 + (i * 7919) % 3000, static_cast<char>('a' + i % 26)));
  std::string stream;
  for (const std::string& payload : payloads) append_frame(stream, payload);
  Status written;
  std::thread writer([&] { written = write_all(pair.a.get(), stream); });
  FrameReader reader(pair.b.get());
  std::vector<std::string> got;
  while (got.size() < payloads.size()) {
    auto read = reader.next(FrameLimits{.frame_timeout = milliseconds(30000)});
    if (!read.ok()) {
      ADD_FAILURE() << "frame " << got.size() << ": " << read.error().message;
      break;
    }
    got.push_back(std::move(read).value());
  }
  pair.b.reset();  // frees the writer should the reader have stopped early
  writer.join();
  EXPECT_TRUE(written.ok());
  EXPECT_TRUE(got == payloads);
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(FrameReaderTest, LoneFramesOfEverySizeNearTheFirstReceiveArriveIntact) {
  // An empty reader's first recv takes at most 2 KiB: frames just under, at and over it,
  // each the only thing in the socket, and then each followed by the start of the next.
  SocketPair pair = socket_pair();
  FrameReader reader(pair.b.get());
  const FrameLimits limits{.frame_timeout = milliseconds(5000)};
  for (std::size_t size : {1u, 2043u, 2044u, 2045u, 2048u, 4100u, 9000u}) {
    const std::string payload(size, static_cast<char>('a' + size % 26));
    send_raw(pair.a.get(), encode_frame(payload));
    auto read = reader.next(limits);
    ASSERT_TRUE(read.ok()) << size << ": " << read.error().message;
    EXPECT_EQ(read.value(), payload) << size;
    EXPECT_EQ(reader.buffered(), 0u) << size;
  }
  for (std::size_t size : {2041u, 2044u, 2047u}) {
    const std::string payload(size, 'x');
    const std::string next = encode_frame("next");
    send_raw(pair.a.get(), encode_frame(payload) + next.substr(0, 3));
    auto read = reader.next(limits);
    ASSERT_TRUE(read.ok()) << size << ": " << read.error().message;
    EXPECT_EQ(read.value(), payload) << size;
    send_raw(pair.a.get(), next.substr(3));
    auto rest = reader.next(limits);
    ASSERT_TRUE(rest.ok()) << size << ": " << rest.error().message;
    EXPECT_EQ(rest.value(), "next") << size;
    EXPECT_EQ(reader.buffered(), 0u) << size;
  }
}

TEST(FrameReaderTest, OneMebibyteFrameAmongSmallOnes) {
  SocketPair pair = socket_pair();
  const std::string big = big_payload();
  std::string stream = encode_frame("before");
  append_frame(stream, big);
  append_frame(stream, "after");
  Status written;
  std::thread writer([&] { written = write_all(pair.a.get(), stream); });
  FrameReader reader(pair.b.get());
  const FrameLimits limits{.frame_timeout = milliseconds(30000)};
  auto before = reader.next(limits);
  auto middle = reader.next(limits);
  auto after = reader.next(limits);
  pair.b.reset();  // frees the writer should the reader have stopped early
  writer.join();
  ASSERT_TRUE(before.ok() && middle.ok() && after.ok());
  EXPECT_EQ(before.value(), "before");
  EXPECT_TRUE(middle.value() == big);
  EXPECT_EQ(after.value(), "after");
}

TEST(FrameReaderTest, FrameReadyOnlyWhenAWholeFrameIsBuffered) {
  // What arrived with a frame stays buffered; frame_ready() looks only at that.
  SocketPair pair = socket_pair();
  const std::string second = encode_frame("second");
  FrameReader reader(pair.b.get());
  EXPECT_FALSE(reader.frame_ready()) << "nothing buffered";
  send_raw(pair.a.get(), encode_frame("first") + second.substr(0, 2));
  ASSERT_TRUE(reader.next().ok());
  EXPECT_FALSE(reader.frame_ready()) << "half a header";
  send_raw(pair.a.get(), second.substr(2) + encode_frame("third") + header(0));
  auto read = reader.next();
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read.value(), "second");
  EXPECT_TRUE(reader.frame_ready()) << "\"third\" came along";
  ASSERT_TRUE(reader.next().ok());
  EXPECT_TRUE(reader.frame_ready()) << "an empty frame's header is all of it";
  expect_error(reader.next(), Errc::kFrameEmpty);

  SocketPair other = socket_pair();
  FrameReader partial(other.b.get());
  send_raw(other.a.get(), encode_frame("one") + encode_frame("two").substr(0, 6));
  ASSERT_TRUE(partial.next().ok());
  EXPECT_FALSE(partial.frame_ready()) << "a header and part of the body";
}

TEST(FrameReaderTest, AppendFrameMatchesEncodeFrame) {
  std::string out = "x";
  append_frame(out, "abc");
  EXPECT_EQ(out, "x" + encode_frame("abc"));
}

// A server counts a connection's idle time from its last complete frame: the deadline
// holds however the bytes trickle in.
TEST(FrameDeadlineTest, BeforeTheFirstByteItIsAnIdleTimeout) {
  SocketPair pair = socket_pair();
  FrameLimits limits;
  limits.deadline = std::chrono::steady_clock::now() + milliseconds(50);
  expect_error(read_frame(pair.b.get(), limits), Errc::kIdleTimeout);
}

TEST(FrameDeadlineTest, BytesThatTrickleInDoNotExtendIt) {
  SocketPair pair = socket_pair();
  FrameLimits limits;
  limits.frame_timeout = milliseconds(60000);
  limits.deadline = std::chrono::steady_clock::now() + milliseconds(300);
  std::thread trickle([&] {
    // Ten seconds at this pace: far past the deadline, within the frame time-out.
    const std::string frame = encode_frame("0123456789012345");
    for (char byte : frame) {
      if (send(pair.a.get(), &byte, 1, MSG_NOSIGNAL) != 1) return;  // the reader is gone
      std::this_thread::sleep_for(milliseconds(500));
    }
  });
  expect_error(read_frame(pair.b.get(), limits), Errc::kFrameTimeout);
  pair.b.reset();
  trickle.join();
}

TEST(FrameDeadlineTest, AFrameAlreadyHereIsReadAfterIt) {
  SocketPair pair = socket_pair();
  ASSERT_TRUE(write_frame(pair.a.get(), "ready").ok());
  FrameLimits limits;
  limits.deadline = std::chrono::steady_clock::now() - milliseconds(1);
  auto read = read_frame(pair.b.get(), limits);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read.value(), "ready");
}

TEST(FrameBudgetTest, AFrameTakesItsLengthWhileItArrivesAndGivesItBack) {
  FrameBudget budget(100);
  SocketPair pair = socket_pair();
  FrameLimits limits;
  limits.budget = &budget;
  ASSERT_TRUE(budget.take(60));  // another connection's frame, half here
  send_raw(pair.a.get(), header(50));
  expect_error(FrameReader(pair.b.get()).next(limits), Errc::kFramesBusy);
  EXPECT_EQ(budget.left(), 40u) << "a refused frame takes nothing";

  budget.give_back(60);
  SocketPair again = socket_pair();
  ASSERT_TRUE(write_frame(again.a.get(), std::string(50, 'x')).ok());
  auto read = FrameReader(again.b.get()).next(limits);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(budget.left(), 100u);
}

TEST(FrameBudgetTest, AFrameThatFailsGivesItsShareBack) {
  FrameBudget budget(100);
  SocketPair pair = socket_pair();
  FrameLimits limits;
  limits.budget = &budget;
  send_raw(pair.a.get(), header(80) + "partial");
  pair.a.reset();
  expect_error(FrameReader(pair.b.get()).next(limits), Errc::kFrameTruncated);
  EXPECT_EQ(budget.left(), 100u);
}

TEST(FrameBudgetTest, FramesUpToTheThresholdTakeNothing) {
  FrameBudget budget(100);
  ASSERT_TRUE(budget.take(100));
  FrameLimits limits;
  limits.budget = &budget;
  limits.budget_above = 50;
  SocketPair pair = socket_pair();
  ASSERT_TRUE(write_frame(pair.a.get(), std::string(50, 'x')).ok());
  ASSERT_TRUE(write_frame(pair.a.get(), std::string(51, 'x')).ok());
  FrameReader reader(pair.b.get());
  EXPECT_TRUE(reader.next(limits).ok()) << "a small frame gets through a spent budget";
  expect_error(reader.next(limits), Errc::kFramesBusy);
}

TEST(FrameBudgetTest, TakesNeverOverdrawFromManyThreads) {
  FrameBudget budget(1000);
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (budget.take(7)) taken.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(taken.load(), 1000 / 7);
  EXPECT_EQ(budget.left(), 1000u % 7);
}

}  // namespace
}  // namespace shido
