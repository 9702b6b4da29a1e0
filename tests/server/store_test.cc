// The Store contract, run against every backend (memory, disk, Redis: store_backends.h):
// accounts, connect lockouts, mailboxes and long-polls, with a fake clock so that locks pass
// without sleeping (the rate limits: store_rate_limits_test.cc).
#include "server/store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <latch>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fake_time.h"
#include "shido/crypto/keys.h"
#include "store_backends.h"
#include "store_fixtures.h"

namespace shido::server {
namespace {

using std::chrono::seconds;
using test::Backend;
using test::FakeTime;
using test::make_message;
using test::make_user;

constexpr auto kGenerous = seconds(20);  // how long a woken long-poll may take to return

std::string salt_text(const StoredMessage& message) {
  return to_string(ByteView(message.envelope).first(12));
}

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  explicit StoreTest(Limits limits = {}) : store_(backends_.open(GetParam(), time_, limits)) {}

  std::string put(const std::string& recipient,
                  StoredMessage message = make_message("+15550000001")) {
    std::string id;
    EXPECT_EQ(store_->put_message(recipient, std::move(message), id).value(), PutResult::kStored);
    return id;
  }

  // A fetch of phone's mailbox waiting up to 60 s, on a thread of its own that has started
  // by the time this returns.
  std::future<std::vector<MessagePtr>> long_poll(const std::string& phone) {
    auto started = std::make_shared<std::latch>(1);
    auto polled = std::async(std::launch::async, [this, phone, started] {
      started->count_down();
      return store_->fetch(phone, 10, seconds(60)).value();
    });
    started->wait();
    return polled;
  }

  static std::vector<std::string> ids_of(const std::vector<MessagePtr>& messages) {
    std::vector<std::string> ids;
    for (const MessagePtr& message : messages) ids.push_back(message->id);
    return ids;
  }

  FakeTime time_;
  test::StoreBackends backends_;  // before store_, which it must outlive
  std::unique_ptr<Store> store_;
  const std::string alice_ = "+15550000001";
  const std::string bob_ = "+15550000002";
};

// --- Accounts

TEST_P(StoreTest, AddUserThenFindReturnsIt) {
  EXPECT_FALSE(store_->find_user(alice_).value());
  ASSERT_EQ(store_->add_user(make_user(alice_)).value(), AddUserResult::kAdded);
  auto found = store_->find_user(alice_).value();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->phone, alice_);
  EXPECT_EQ(found->email, "someone@example.com");
  EXPECT_FALSE(store_->find_user(bob_).value());
}

TEST_P(StoreTest, AddUserRefusesATakenPhoneAndKeepsTheFirst) {
  ASSERT_EQ(store_->add_user(make_user(alice_)).value(), AddUserResult::kAdded);
  User second = make_user(alice_);
  second.email = "other@example.com";
  EXPECT_EQ(store_->add_user(second).value(), AddUserResult::kPhoneTaken);
  EXPECT_EQ(store_->find_user(alice_).value()->email, "someone@example.com");
}

// --- Connect lockout

TEST_P(StoreTest, FiveFailuresLockForSixtySeconds) {
  EXPECT_FALSE(store_->lock_remaining(alice_).value());
  for (int expected_left = 4; expected_left >= 1; --expected_left) {
    EXPECT_EQ(store_->record_connect_failure(alice_).value().attempts_left, expected_left);
    EXPECT_FALSE(store_->lock_remaining(alice_).value());
  }
  EXPECT_EQ(store_->record_connect_failure(alice_).value().attempts_left, 0);
  auto remaining = store_->lock_remaining(alice_).value();
  ASSERT_TRUE(remaining);
  EXPECT_EQ(*remaining, seconds(60));
  time_.advance(seconds(59));
  remaining = store_->lock_remaining(alice_).value();
  ASSERT_TRUE(remaining);
  EXPECT_EQ(*remaining, seconds(1));
  time_.advance(seconds(1));
  EXPECT_FALSE(store_->lock_remaining(alice_).value());
  EXPECT_FALSE(store_->lock_remaining(bob_).value());
}

TEST_P(StoreTest, LocksDoubleUpToAnHourAndFailuresRestartWithEachLock) {
  const std::vector<int> expected = {60, 120, 240, 480, 960, 1920, 3600, 3600};
  for (std::size_t n = 0; n < expected.size(); ++n) {
    // The count restarted when the previous lock began: four failures leave it unlocked.
    for (int expected_left = 4; expected_left >= 1; --expected_left) {
      ASSERT_EQ(store_->record_connect_failure(alice_).value().attempts_left, expected_left)
          << "lock " << n;
    }
    ASSERT_EQ(store_->record_connect_failure(alice_).value().attempts_left, 0);
    auto remaining = store_->lock_remaining(alice_).value();
    ASSERT_TRUE(remaining);
    EXPECT_EQ(*remaining, seconds(expected[n])) << "lock number " << n;
    time_.advance(*remaining);
    ASSERT_FALSE(store_->lock_remaining(alice_).value());
  }
}

TEST_P(StoreTest, EvenTheFortiethLockLastsAnHour) {
  // 60 s * 2^28 in nanoseconds overflows 64 bits; the length must be capped before that.
  for (int n = 0; n < 40; ++n) {
    for (int i = 0; i < 5; ++i) (void)store_->record_connect_failure(alice_).value();
    auto remaining = store_->lock_remaining(alice_).value();
    ASSERT_TRUE(remaining) << "lock number " << n;
    EXPECT_EQ(*remaining, n < 6 ? seconds(60 << n) : seconds(3600)) << "lock number " << n;
    time_.advance(*remaining);
  }
}

TEST_P(StoreTest, SuccessResetsFailuresAndLockNumber) {
  for (int i = 0; i < 5; ++i) (void)store_->record_connect_failure(alice_).value();
  time_.advance(seconds(60));
  for (int i = 0; i < 3; ++i) (void)store_->record_connect_failure(alice_).value();
  ASSERT_TRUE(store_->record_connect_success(alice_).ok());
  // The count starts again at 5 attempts and the next lock is number 0 again.
  EXPECT_EQ(store_->record_connect_failure(alice_).value().attempts_left, 4);
  for (int i = 0; i < 3; ++i) (void)store_->record_connect_failure(alice_).value();
  EXPECT_EQ(store_->record_connect_failure(alice_).value().attempts_left, 0);
  EXPECT_EQ(*store_->lock_remaining(alice_).value(), seconds(60));
}

TEST_P(StoreTest, LockoutsArePerPhone) {
  for (int i = 0; i < 5; ++i) (void)store_->record_connect_failure(alice_).value();
  EXPECT_TRUE(store_->lock_remaining(alice_).value());
  EXPECT_FALSE(store_->lock_remaining(bob_).value());
  EXPECT_EQ(store_->record_connect_failure(bob_).value().attempts_left, 4);
}

// --- Mailboxes

TEST_P(StoreTest, PutForUnknownRecipientIsRefused) {
  std::string id;
  EXPECT_EQ(store_->put_message(bob_, make_message(alice_), id).value(), PutResult::kNoSuchUser);
  EXPECT_EQ(store_->waiting(bob_), 0u);
}

TEST_P(StoreTest, FetchReturnsOldestFirstWithoutRemoving) {
  ASSERT_EQ(store_->add_user(make_user(bob_)).value(), AddUserResult::kAdded);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(put(bob_, make_message(alice_)));
    time_.advance(seconds(1));
  }
  auto first = store_->fetch(bob_, 3, {}).value();
  EXPECT_EQ(ids_of(first), std::vector<std::string>(ids.begin(), ids.begin() + 3));
  EXPECT_EQ(first[0]->sender_phone, alice_);
  EXPECT_EQ(salt_text(*first[0]), alice_);
  EXPECT_EQ(first[0]->stored_at_ms, FakeTime::kStartUnixMs);
  EXPECT_EQ(first[1]->stored_at_ms, FakeTime::kStartUnixMs + 1000);
  // Nothing was removed: the same messages come again, and all five with a larger max.
  EXPECT_EQ(ids_of(store_->fetch(bob_, 3, {}).value()), ids_of(first));
  EXPECT_EQ(ids_of(store_->fetch(bob_, 100, {}).value()), ids);
  EXPECT_EQ(store_->waiting(bob_), 5u);
}

TEST_P(StoreTest, FetchSeesOnlyTheCallersMailbox) {
  ASSERT_EQ(store_->add_user(make_user(alice_)).value(), AddUserResult::kAdded);
  ASSERT_EQ(store_->add_user(make_user(bob_)).value(), AddUserResult::kAdded);
  const std::string for_bob = put(bob_, make_message(alice_));
  const std::string for_alice = put(alice_, make_message(bob_));
  EXPECT_EQ(ids_of(store_->fetch(bob_, 10, {}).value()), std::vector<std::string>{for_bob});
  EXPECT_EQ(ids_of(store_->fetch(alice_, 10, {}).value()), std::vector<std::string>{for_alice});
}

TEST_P(StoreTest, AckDeletesListedIdsAndIgnoresOthers) {
  ASSERT_EQ(store_->add_user(make_user(alice_)).value(), AddUserResult::kAdded);
  ASSERT_EQ(store_->add_user(make_user(bob_)).value(), AddUserResult::kAdded);
  const std::string a = put(bob_), b = put(bob_), c = put(bob_);
  const std::string alices = put(alice_);

  // Unknown ids and another mailbox's id are ignored.
  AckResult result = store_->ack(bob_, {b, "no-such-id", alices, ""}).value();
  EXPECT_EQ(result.deleted, 1);
  EXPECT_EQ(result.waiting, 2);
  EXPECT_EQ(ids_of(store_->fetch(bob_, 10, {}).value()), (std::vector<std::string>{a, c}));
  EXPECT_EQ(store_->waiting(alice_), 1u);

  // Acknowledging again deletes nothing more; a repeated id counts once.
  result = store_->ack(bob_, {b, a, a}).value();
  EXPECT_EQ(result.deleted, 1);
  EXPECT_EQ(result.waiting, 1);
  EXPECT_EQ(ids_of(store_->fetch(bob_, 10, {}).value()), std::vector<std::string>{c});
}

// One acknowledgement may list thousands of ids (a frame holds about 30,000): the Redis store
// reads and deletes them in slices (Lua unpacks at most about 8,000 values at once).
TEST_P(StoreTest, AckOfThousandsOfIdsDeletesThoseThere) {
  ASSERT_EQ(store_->add_user(make_user(bob_)).value(), AddUserResult::kAdded);
  const std::string a = put(bob_), b = put(bob_), c = put(bob_);
  std::vector<std::string> ids;
  for (int i = 0; i < 9000; ++i) ids.push_back("unknown-" + std::to_string(i));
  ids.insert(ids.begin() + 10, a);
  ids.insert(ids.begin() + 8500, c);
  ids.push_back(a);
  const AckResult result = store_->ack(bob_, ids).value();
  EXPECT_EQ(result.deleted, 2);
  EXPECT_EQ(result.waiting, 1);
  EXPECT_EQ(ids_of(store_->fetch(bob_, 10, {}).value()), std::vector<std::string>{b});
  const StoreCounts counts = store_->counts();
  EXPECT_EQ(counts.messages, 1u);
  EXPECT_EQ(counts.ciphertext_bytes, make_message(alice_).ciphertext_size());
}

TEST_P(StoreTest, UnacknowledgedMessagesAreDeliveredAgainWithTheSameId) {
  ASSERT_EQ(store_->add_user(make_user(bob_)).value(), AddUserResult::kAdded);
  const std::string id = put(bob_);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(ids_of(store_->fetch(bob_, 10, {}).value()), std::vector<std::string>{id});
  EXPECT_EQ(store_->ack(bob_, {id}).value().deleted, 1);
  EXPECT_TRUE(store_->fetch(bob_, 10, {}).value().empty());
}

TEST_P(StoreTest, IdsAreUniqueAndShort) {
  ASSERT_EQ(store_->add_user(make_user(alice_)).value(), AddUserResult::kAdded);
  ASSERT_EQ(store_->add_user(make_user(bob_)).value(), AddUserResult::kAdded);
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = put(i % 2 ? alice_ : bob_);
    ASSERT_FALSE(id.empty());
    ASSERT_LE(id.size(), 64u);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

TEST_P(StoreTest, ConcurrentPutsFromManyThreadsAllArriveOnce) {
  ASSERT_EQ(store_->add_user(make_user(bob_)).value(), AddUserResult::kAdded);
  constexpr int kThreads = 8, kEach = 200;
  std::vector<std::thread> threads;
  std::vector<std::vector<std::string>> stored(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string id;
        // A sender each: one sender may have at most 1,000 waiting in one mailbox.
        const std::string sender = "+1555000010" + std::to_string(t);
        if (store_->put_message(bob_, make_message(sender), id).value() == PutResult::kStored) {
          stored[static_cast<std::size_t>(t)].push_back(id);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::string> expected;
  for (const auto& ids : stored) expected.insert(ids.begin(), ids.end());
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(kThreads * kEach));
  const auto fetched = ids_of(store_->fetch(bob_, kThreads * kEach + 1, {}).value());
  EXPECT_EQ(std::set<std::string>(fetched.begin(), fetched.end()), expected);
  EXPECT_EQ(fetched.size(), expected.size());
}

// Limits small enough to reach: 3 messages or 100 bytes a mailbox, 150 bytes in all.
class SmallLimitsTest : public StoreTest {
 protected:
  static Limits small() {
    Limits limits;
    limits.mailbox_max_messages = 3;
    limits.mailbox_max_bytes = 100;
    limits.store_max_bytes = 150;
    limits.sender_share_of_store = 1;  // the mailbox's and the store's limits are tested here
    return limits;
  }
  SmallLimitsTest() : StoreTest(small()) {}
};

class SenderShareTest : public StoreTest {
 protected:
  static Limits shares() {
    Limits limits;
    limits.sender_share_messages = 3;
    limits.sender_share_bytes = 64;
    limits.store_max_bytes = 1600;
    limits.sender_share_of_store = 16;  // 100 bytes each
    return limits;
  }
  SenderShareTest() : StoreTest(shares()) {}

  PutResult try_put(const std::string& recipient, const std::string& sender, std::size_t size) {
    std::string id;
    return store_->put_message(recipient, make_message(sender, size), id).value();
  }
};

TEST_P(SenderShareTest, OneSenderFillsOnlyItsShareOfAMailbox) {
  const std::string carol = "+15550000003";
  ASSERT_EQ(store_->add_user(make_user(bob_)).value(), AddUserResult::kAdded);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(try_put(bob_, alice_, 16), PutResult::kStored);
  EXPECT_EQ(try_put(bob_, alice_, 16), PutResult::kSenderShareFull);
  // Anyone else still gets through to Bob.
  EXPECT_EQ(try_put(bob_, carol, 16), PutResult::kStored);
  // Bytes count too: 48 of Carol's 64 would be one too many after her 16.
  EXPECT_EQ(try_put(bob_, carol, 64), PutResult::kSenderShareFull);
  // An acknowledgement gives the share back.
  const MessagePtr oldest = store_->fetch(bob_, 1, {}).value().at(0);
  ASSERT_EQ(oldest->sender_phone, alice_);
  ASSERT_EQ(store_->ack(bob_, {oldest->id}).value().deleted, 1);
  EXPECT_EQ(try_put(bob_, alice_, 16), PutResult::kStored);
}

TEST_P(SenderShareTest, OneSenderHoldsOnlyItsShareOfTheStore) {
  for (const std::string phone : {"+15550000011", "+15550000012", "+15550000013"})
    ASSERT_EQ(store_->add_user(make_user(phone)).value(), AddUserResult::kAdded);
  // 48 + 48 bytes in two mailboxes: the third 48 would pass 100, 1/16 of the store.
  EXPECT_EQ(try_put("+15550000011", alice_, 48), PutResult::kStored);
  EXPECT_EQ(try_put("+15550000012", alice_, 48), PutResult::kStored);
  EXPECT_EQ(try_put("+15550000013", alice_, 48), PutResult::kSenderStoreShareFull);
  EXPECT_EQ(try_put("+15550000013", bob_, 48), PutResult::kStored);
}

// Sends a connection has in flight are begun together and finished in order (one disk
// sync, one Redis round trip for them all): each still meets the limits as if alone.
TEST_P(SmallLimitsTest, PutsBegunTogetherFinishInOrderEachWithinTheLimits) {
  ASSERT_EQ(store_->add_user(make_user(bob_)).value(), AddUserResult::kAdded);
  std::vector<std::unique_ptr<PutInProgress>> puts;
  for (int i = 0; i < 5; ++i) puts.push_back(store_->start_put(bob_, make_message(alice_, 16)));
  puts.push_back(store_->start_put("+15550000099", make_message(alice_, 16)));
  std::vector<PutResult> outcomes;
  for (auto& put : puts) outcomes.push_back(put->finish().value());
  EXPECT_EQ(outcomes, (std::vector<PutResult>{PutResult::kStored, PutResult::kStored,
                                              PutResult::kStored, PutResult::kMailboxFull,
                                              PutResult::kMailboxFull, PutResult::kNoSuchUser}));
  std::vector<std::string> stored = {puts[0]->id(), puts[1]->id(), puts[2]->id()};
  EXPECT_EQ(ids_of(store_->fetch(bob_, 10, seconds(0)).value()), stored);

  // Begun after the others were finished: a batch of its own, within the limit again.
  ASSERT_EQ(store_->ack(bob_, {stored[0]}).value().deleted, 1);
  auto later = store_->start_put(bob_, make_message(alice_, 16));
  EXPECT_EQ(later->finish().value(), PutResult::kStored);
}

TEST_P(StoreTest, APutNeverFinishedIsFinishedWhenItEnds) {
  ASSERT_EQ(store_->add_user(make_user(bob_)).value(), AddUserResult::kAdded);
  std::string id;
  {
    auto put = store_->start_put(bob_, make_message(alice_));
    id = put->id();
  }
  EXPECT_EQ(ids_of(store_->fetch(bob_, 10, seconds(0)).value()), std::vector<std::string>{id});
}

TEST_P(SmallLimitsTest, FullByCountUntilOneIsAcknowledged) {
  ASSERT_EQ(store_->add_user(make_user(bob_)).value(), AddUserResult::kAdded);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(put(bob_, make_message(alice_, 16)));
  std::string id;
  EXPECT_EQ(store_->put_message(bob_, make_message(alice_, 16), id).value(),
            PutResult::kMailboxFull);
  EXPECT_EQ(store_->waiting(bob_), 3u);
  EXPECT_EQ(store_->ack(bob_, {ids[0]}).value().deleted, 1);
  EXPECT_EQ(store_->put_message(bob_, make_message(alice_, 16), id).value(), PutResult::kStored);
}

TEST_P(SmallLimitsTest, FullByBytesExactlyAtTheLimit) {
  ASSERT_EQ(store_->add_user(make_user(bob_)).value(), AddUserResult::kAdded);
  const std::string first = put(bob_, make_message(alice_, 48));
  std::string id;
  // 48 + 64 = 112 > 100: refused; 48 + 52 = 100: exactly the limit, stored.
  EXPECT_EQ(store_->put_message(bob_, make_message(alice_, 64), id).value(),
            PutResult::kMailboxFull);
  EXPECT_EQ(store_->put_message(bob_, make_message(alice_, 52), id).value(), PutResult::kStored);
  EXPECT_EQ(store_->put_message(bob_, make_message(alice_, 1), id).value(),
            PutResult::kMailboxFull);
  // Acknowledging gives the bytes back.
  EXPECT_EQ(store_->ack(bob_, {first}).value().deleted, 1);
  EXPECT_EQ(store_->put_message(bob_, make_message(alice_, 48), id).value(), PutResult::kStored);
}

TEST_P(SmallLimitsTest, AFullMailboxDoesNotAffectOthers) {
  ASSERT_EQ(store_->add_user(make_user(alice_)).value(), AddUserResult::kAdded);
  ASSERT_EQ(store_->add_user(make_user(bob_)).value(), AddUserResult::kAdded);
  for (int i = 0; i < 3; ++i) put(bob_, make_message(alice_, 16));
  std::string id;
  EXPECT_EQ(store_->put_message(bob_, make_message(alice_, 16), id).value(),
            PutResult::kMailboxFull);
  EXPECT_EQ(store_->put_message(alice_, make_message(bob_, 16), id).value(), PutResult::kStored);
}

TEST_P(SmallLimitsTest, TheWholeStoreFillsAcrossMailboxesAndEmptiesWithAcks) {
  ASSERT_EQ(store_->add_user(make_user(alice_)).value(), AddUserResult::kAdded);
  ASSERT_EQ(store_->add_user(make_user(bob_)).value(), AddUserResult::kAdded);
  const std::string to_bob = put(bob_, make_message(alice_, 80));
  put(alice_, make_message(bob_, 70));  // 150: exactly the limit, each mailbox under its own
  std::string id;
  EXPECT_EQ(store_->put_message(alice_, make_message(bob_, 1), id).value(), PutResult::kStoreFull);
  EXPECT_EQ(store_->put_message(bob_, make_message(alice_, 1), id).value(), PutResult::kStoreFull);
  // A mailbox over its own limit says so first.
  EXPECT_EQ(store_->put_message(bob_, make_message(alice_, 30), id).value(),
            PutResult::kMailboxFull);
  EXPECT_EQ(store_->ack(bob_, {to_bob}).value().deleted, 1);
  EXPECT_EQ(store_->put_message(alice_, make_message(bob_, 30), id).value(), PutResult::kStored);
  EXPECT_EQ(store_->put_message(bob_, make_message(alice_, 50), id).value(), PutResult::kStored);
  EXPECT_EQ(store_->put_message(bob_, make_message(alice_, 1), id).value(), PutResult::kStoreFull);
}

// --- Long-poll

TEST_P(StoreTest, FetchWithWaitReturnsEmptyWhenTheWaitPasses) {
  ASSERT_EQ(store_->add_user(make_user(bob_)).value(), AddUserResult::kAdded);
  EXPECT_TRUE(store_->fetch(bob_, 10, std::chrono::milliseconds(20)).value().empty());
}

TEST_P(StoreTest, LongPollWakesWhenAMessageArrives) {
  ASSERT_EQ(store_->add_user(make_user(bob_)).value(), AddUserResult::kAdded);
  auto polled = long_poll(bob_);
  const std::string id = put(bob_, make_message(alice_));
  ASSERT_EQ(polled.wait_for(kGenerous), std::future_status::ready)
      << "the put did not wake the fetch";
  const auto messages = polled.get();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]->id, id);
  EXPECT_EQ(messages[0]->sender_phone, alice_);
}

TEST_P(StoreTest, LongPollIsNotWokenByAnotherMailbox) {
  ASSERT_EQ(store_->add_user(make_user(alice_)).value(), AddUserResult::kAdded);
  ASSERT_EQ(store_->add_user(make_user(bob_)).value(), AddUserResult::kAdded);
  put(alice_, make_message(bob_));
  // Bob's mailbox stays empty: his short poll runs out and returns nothing.
  EXPECT_TRUE(store_->fetch(bob_, 10, std::chrono::milliseconds(50)).value().empty());
}

TEST_P(StoreTest, ShutdownWakesWaitingFetchesAndLaterOnes) {
  ASSERT_EQ(store_->add_user(make_user(bob_)).value(), AddUserResult::kAdded);
  auto polled = long_poll(bob_);
  store_->shutdown();
  ASSERT_EQ(polled.wait_for(kGenerous), std::future_status::ready)
      << "shutdown did not wake the fetch";
  EXPECT_TRUE(polled.get().empty());
  // After shutdown a long-poll returns at once.
  auto later = long_poll(bob_);
  ASSERT_EQ(later.wait_for(kGenerous), std::future_status::ready);
  EXPECT_TRUE(later.get().empty());
}

const auto kAllBackends = ::testing::Values(Backend::kMemory, Backend::kDisk, Backend::kRedis);
INSTANTIATE_TEST_SUITE_P(Stores, StoreTest, kAllBackends, test::backend_name);
INSTANTIATE_TEST_SUITE_P(Stores, SmallLimitsTest, kAllBackends, test::backend_name);
INSTANTIATE_TEST_SUITE_P(Stores, SenderShareTest, kAllBackends, test::backend_name);

}  // namespace
}  // namespace shido::server
