// Waiting messages in-process (protocol.md sections 5 and 6): 202 -> 112 + 119s oldest first,
// 120 -> 121, long-polls woken by a new message, full mailboxes, and replies flushed
// before the session waits.
#include <future>
#include <latch>
#include <mutex>

#include "session_fixture.h"

namespace shido::server::test {
namespace {

TEST_F(SessionTest, FetchReturnsOldestFirstWithRemainingCountsAndRespectsMax) {
  const Account alice = register_account(alice_);
  const Account bob = register_account(bob_);
  auto conn = logged_in(alice);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    const Json stored = conn->one(message_request(alice, bob, "m" + std::to_string(i)));
    ASSERT_EQ(code_of(stored), 118);
    ids.push_back(stored["message_id"]);
    time_.advance(seconds(1));
  }
  auto bob_conn = logged_in(bob);
  auto replies = bob_conn->call(Json{{"code", 202}, {"max", 3}});
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(replies[0]["count"], 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(replies[static_cast<std::size_t>(i + 1)]["message_id"],
              ids[static_cast<std::size_t>(i)]);
    EXPECT_EQ(replies[static_cast<std::size_t>(i + 1)]["remaining_messages"], 2 - i);
    EXPECT_EQ(replies[static_cast<std::size_t>(i + 1)]["stored_at"],
              FakeTime::kStartUnixMs + std::int64_t{1000} * i);
  }
  // Defaults (max 100, wait 0): all five.
  replies = bob_conn->call(Json{{"code", 202}});
  ASSERT_EQ(replies.size(), 6u);
  EXPECT_EQ(replies[5]["message_id"], ids[4]);
}

TEST_F(SessionTest, FetchRangesAre124) {
  Conn conn(*this, "peer");
  const Account alice = register_on(conn, alice_);
  for (const Json& request :
       {Json{{"code", 202}, {"max", 0}}, Json{{"code", 202}, {"max", 501}},
        Json{{"code", 202}, {"max", -1}}, Json{{"code", 202}, {"wait_seconds", -1}},
        Json{{"code", 202}, {"wait_seconds", 61}}, Json{{"code", 202}, {"max", "5"}},
        Json{{"code", 202}, {"max", 5.0}}, Json{{"code", 202}, {"wait_seconds", true}}}) {
    const Json reply = conn.one(request);
    const std::string member = request.contains("max") ? "max" : "wait_seconds";
    EXPECT_TRUE(IsError(reply, Code::kBadRequest, member)) << request.dump();
  }
  // The edges are fine (a non-empty mailbox, so wait 60 returns at once).
  ASSERT_EQ(code_of(conn.one(message_request(alice, alice, "x"))), 118);
  EXPECT_EQ(conn.call(Json{{"code", 202}, {"max", 500}, {"wait_seconds", 60}}).size(), 2u);
  EXPECT_EQ(conn.call(Json{{"code", 202}, {"max", 1}, {"wait_seconds", 0}}).size(), 2u);
}

TEST_F(SessionTest, AckDeletesAndUnacknowledgedMessagesComeAgainOnAnyConnection) {
  const Account alice = register_account(alice_);
  const Account bob = register_account(bob_);
  auto conn = logged_in(alice);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(conn->one(message_request(alice, bob, "x"))["message_id"]);
  const std::string for_alice = conn->one(message_request(alice, alice, "mine"))["message_id"];

  auto first = logged_in(bob);
  ASSERT_EQ(first->call(CheckWaitingMessages{}.to_json()).size(), 4u);
  // Another connection of bob's sees the same ids again (nothing was acknowledged).
  auto second = logged_in(bob);
  auto replies = second->call(CheckWaitingMessages{}.to_json());
  ASSERT_EQ(replies.size(), 4u);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(replies[static_cast<std::size_t>(i + 1)]["message_id"],
              ids[static_cast<std::size_t>(i)]);

  // Unknown ids, and alice's id, are ignored.
  const Json ack = second->one(AckMessages{{ids[1], "nope", for_alice}}.to_json());
  EXPECT_EQ(ack, Json({{"code", 121}, {"deleted", 1}, {"waiting", 2}}));
  replies = first->call(CheckWaitingMessages{}.to_json());
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[1]["message_id"], ids[0]);
  EXPECT_EQ(replies[2]["message_id"], ids[2]);
  EXPECT_EQ(store_->waiting(alice_), 1u);

  EXPECT_EQ(first->one(AckMessages{{ids[0], ids[2]}}.to_json()),
            Json({{"code", 121}, {"deleted", 2}, {"waiting", 0}}));
  EXPECT_EQ(first->one(AckMessages{{}}.to_json()),
            Json({{"code", 121}, {"deleted", 0}, {"waiting", 0}}));
  EXPECT_EQ(first->call(CheckWaitingMessages{}.to_json()).size(), 1u);
}

TEST_F(SessionTest, AckMemberTypesAre124) {
  Conn conn(*this, "peer");
  register_on(conn, alice_);
  for (const Json& request : {Json{{"code", 120}}, Json{{"code", 120}, {"message_ids", "id"}},
                              Json{{"code", 120}, {"message_ids", {"a", 1}}},
                              Json{{"code", 120}, {"message_ids", {{"a"}}}}}) {
    EXPECT_TRUE(IsError(conn.one(request), Code::kBadRequest, "message_ids")) << request.dump();
  }
}

TEST_F(SessionTest, LongPollReturnsWhenAMessageArrives) {
  const Account alice = register_account(alice_);
  const Account bob = register_account(bob_);
  auto bob_conn = logged_in(bob);
  auto alice_conn = logged_in(alice);
  std::latch started(1);
  auto polled = std::async(std::launch::async, [&] {
    started.count_down();
    return bob_conn->call(Json{{"code", 202}, {"wait_seconds", 60}});
  });
  started.wait();
  const Json stored = alice_conn->one(message_request(alice, bob, "wake up"));
  ASSERT_EQ(code_of(stored), 118);
  ASSERT_EQ(polled.wait_for(seconds(20)), std::future_status::ready)
      << "the long-poll was not woken";
  const auto replies = polled.get();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0]["count"], 1);
  EXPECT_EQ(replies[1]["message_id"], stored["message_id"]);
}

// Replies to pipelined requests are queued and written together; before the session waits,
// it sends what is queued, so an earlier reply never waits behind a slow request.
TEST_F(SessionTest, EarlierRepliesAreFlushedBeforeTheCodeIsDelivered) {
  Session session(context_, "pipelining");
  CollectingSink sink;
  session.handle(Hello{}.to_json(), sink);
  ASSERT_EQ(sink.replies.size(), 1u);
  EXPECT_TRUE(sink.flushed_at.empty()) << "HELLO never waits";
  std::vector<std::size_t> flushed_when_delivered;
  delivery_.on_deliver = [&] { flushed_when_delivered = sink.flushed_at; };
  session.handle(SendPhoneNumber{alice_, "alice@example.com"}.to_json(), sink);
  ASSERT_EQ(sink.replies.size(), 2u);
  EXPECT_EQ(code_of(sink.replies[1]), 115);
  EXPECT_EQ(flushed_when_delivered, std::vector<std::size_t>{1})
      << "the 101 goes out before the delivery";
}

// A peer that is gone: every write fails.
class BrokenSink final : public ReplySink {
 public:
  Status send(const Json&) override { return Error{Errc::kIo, "gone"}; }
  Status flush() override { return Error{Errc::kIo, "gone"}; }
};

TEST_F(SessionTest, ACodeIsNotDeliveredToAConnectionThatIsGone) {
  Session session(context_, "gone");
  BrokenSink sink;
  session.handle(Hello{}.to_json(), sink);
  session.handle(SendPhoneNumber{alice_, "alice@example.com"}.to_json(), sink);
  EXPECT_EQ(delivery_.count(alice_), 0u);
}

// Flushes are recorded from the thread that long-polls, and the first one is announced.
class ThreadSafeSink final : public ReplySink {
 public:
  Status send(const Json& reply) override {
    std::lock_guard lock(mutex_);
    replies_.push_back(reply);
    return {};
  }
  Status flush() override {
    std::lock_guard lock(mutex_);
    if (!announced_) first_flush_.set_value(replies_.size());
    announced_ = true;
    return {};
  }
  std::future<std::size_t> first_flush() { return first_flush_.get_future(); }
  std::vector<Json> replies() {
    std::lock_guard lock(mutex_);
    return replies_;
  }

 private:
  std::mutex mutex_;
  std::vector<Json> replies_;
  std::promise<std::size_t> first_flush_;
  bool announced_ = false;
};

TEST_F(SessionTest, EarlierRepliesAreFlushedBeforeALongPollWaits) {
  const Account alice = register_account(alice_);
  const Account bob = register_account(bob_);
  Session session(context_, "pipelining");
  ThreadSafeSink sink;
  auto flushed = sink.first_flush();
  session.handle(Hello{}.to_json(), sink);
  auto nonce = base64_decode(sink.replies().back()["nonce"].get<std::string>());
  ASSERT_TRUE(nonce.ok());
  session.handle(connect_request(alice.key, alice.phone, alice.code, nonce.value()), sink);
  ASSERT_EQ(code_of(sink.replies().back()), 106);
  session.handle(Json{{"code", 202}, {"wait_seconds", 0}}, sink);
  session.handle(Json{{"code", 120}, {"message_ids", {"00112233445566778899aabbccddeeff"}}}, sink);
  ASSERT_EQ(flushed.wait_for(seconds(0)), std::future_status::timeout) << "nothing waited yet";
  const std::size_t queued = sink.replies().size();

  // The mailbox is empty: the long-poll waits, and the replies before it must be out by then.
  auto polled = std::async(std::launch::async, [&] {
    session.handle(Json{{"code", 202}, {"wait_seconds", 60}}, sink);
  });
  ASSERT_EQ(flushed.wait_for(seconds(20)), std::future_status::ready)
      << "the queued replies wait behind the long-poll";
  EXPECT_EQ(flushed.get(), queued);
  ASSERT_EQ(code_of(logged_in(bob)->one(message_request(bob, alice, "wake up"))), 118);
  ASSERT_EQ(polled.wait_for(seconds(20)), std::future_status::ready)
      << "the long-poll was not woken";
  EXPECT_EQ(code_of(sink.replies()[queued]), 112);
}

class SmallMailboxSessionTest : public SessionTest {
 protected:
  static Limits small() {
    Limits limits;
    limits.mailbox_max_messages = 2;
    return limits;
  }
  SmallMailboxSessionTest() : SessionTest(small()) {}
};

TEST_F(SmallMailboxSessionTest, FullMailboxIs126UntilAcknowledged) {
  const Account alice = register_account(alice_);
  const Account bob = register_account(bob_);
  auto conn = logged_in(alice);
  const std::string first = conn->one(message_request(alice, bob, "1"))["message_id"];
  ASSERT_EQ(code_of(conn->one(message_request(alice, bob, "2"))), 118);
  EXPECT_TRUE(IsError(conn->one(message_request(alice, bob, "3")), Code::kMailboxFull));
  // Alice's own mailbox is not full.
  EXPECT_EQ(code_of(conn->one(message_request(alice, alice, "self"))), 118);
  auto bob_conn = logged_in(bob);
  ASSERT_EQ(code_of(bob_conn->one(AckMessages{{first}}.to_json())), 121);
  EXPECT_EQ(code_of(conn->one(message_request(alice, bob, "3"))), 118);
}

}  // namespace
}  // namespace shido::server::test
