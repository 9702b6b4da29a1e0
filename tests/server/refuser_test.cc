// The refuser: the last reply goes out and the connection lingers, without ever making the
// caller (the accept loop) wait.
#include "server/refuser.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "support/test_support.h"

namespace shido::server {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

struct Pair {
  UniqueFd server_end;
  UniqueFd peer;
};

Pair connected_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    ADD_FAILURE() << "socketpair failed";
    return {};
  }
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Everything the peer receives until the server end is closed.
std::string read_to_end(int fd) {
  std::string all;
  char buffer[256];
  for (;;) {
    pollfd waiting{fd, POLLIN, 0};
    if (::poll(&waiting, 1, 30000) <= 0) return all + "<no end within 30 s>";
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return all;
    all.append(buffer, static_cast<std::size_t>(n));
  }
}

TEST(RefuserTest, ThePeerReadsTheReplyAndTheConnectionEndsWhenThePeerCloses) {
  Refuser refuser(hours(1));
  Pair pair = connected_pair();
  refuser.refuse(std::move(pair.server_end), "busy");
  char buffer[16];
  ASSERT_EQ(::recv(pair.peer.get(), buffer, sizeof buffer, 0), 4);
  EXPECT_EQ(std::string(buffer, 4), "busy");
  EXPECT_EQ(::recv(pair.peer.get(), buffer, sizeof buffer, 0), 0) << "half-closed after the reply";
  EXPECT_EQ(refuser.held(), 1u) << "it lingers while the peer may still send";
  pair.peer.reset();
  EXPECT_TRUE(test::eventually([&] { return refuser.held() == 0; }));
}

TEST(RefuserTest, WhatThePeerSendsMeanwhileIsReadAndDropped) {
  Refuser refuser(hours(1));
  Pair pair = connected_pair();
  refuser.refuse(std::move(pair.server_end), "busy");
  const std::string noise(100000, 'x');
  std::size_t sent = 0;
  while (sent < noise.size()) {
    const ssize_t n =
        ::send(pair.peer.get(), noise.data() + sent, noise.size() - sent, MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << "the refuser stopped reading";
    sent += static_cast<std::size_t>(n);
  }
  EXPECT_EQ(read_to_end(pair.peer.get()).substr(0, 4), "busy");
}

TEST(RefuserTest, ALingerEndsTheConnectionOfAPeerThatNeverCloses) {
  Refuser refuser(milliseconds(50));
  Pair pair = connected_pair();
  refuser.refuse(std::move(pair.server_end), "busy");
  EXPECT_EQ(read_to_end(pair.peer.get()), "busy");
  EXPECT_TRUE(test::eventually([&] { return refuser.held() == 0; }));
}

TEST(RefuserTest, PastItsCapANewcomerIsClosedAtOnceAndRefusingNeverWaits) {
  Refuser refuser(hours(1), 3);
  std::vector<UniqueFd> peers;
  for (int i = 0; i < 500; ++i) {  // silent peers that never read nor close
    Pair pair = connected_pair();
    refuser.refuse(std::move(pair.server_end), "busy");
    peers.push_back(std::move(pair.peer));
  }
  EXPECT_EQ(refuser.held(), 3u);
  EXPECT_EQ(read_to_end(peers.back().get()), "busy") << "the newest got its reply, then closed";
  const char byte = 'x';
  EXPECT_EQ(::send(peers.back().get(), &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT), -1);
  EXPECT_EQ(::send(peers.front().get(), &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT), 1)
      << "the oldest still lingers";
}

TEST(RefuserTest, StoppingClosesEveryConnectionStillHeld) {
  std::vector<UniqueFd> peers;
  {
    Refuser refuser(hours(1));
    for (int i = 0; i < 5; ++i) {
      Pair pair = connected_pair();
      refuser.refuse(std::move(pair.server_end), "busy");
      peers.push_back(std::move(pair.peer));
    }
  }
  for (UniqueFd& peer : peers) EXPECT_EQ(read_to_end(peer.get()), "busy");
}

}  // namespace
}  // namespace shido::server
