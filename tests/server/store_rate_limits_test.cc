// The store's rate limits on code requests and failed registration proofs (design section
// 10.4), on a fake clock: per phone from one address, per address, per phone, server-wide;
// which limit answers and for how long; that a refused request counts nowhere; and that
// the bookkeeping forgets what has left every window. Run against every backend (memory,
// disk, Redis: store_backends.h).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "fake_time.h"
#include "server/store.h"
#include "store_backends.h"

namespace shido::server {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using test::Backend;
using test::FakeTime;

// "+1555" and 7 digits: a distinct phone per n.
std::string phone(int n) {
  const std::string digits = std::to_string(n);
  return "+1555" + std::string(7 - digits.size(), '0') + digits;
}
// A distinct address per n.
std::string address(int n) {
  return "10.0." + std::to_string(n / 256) + "." + std::to_string(n % 256);
}

class RateLimitsTest : public ::testing::TestWithParam<Backend> {
 protected:
  explicit RateLimitsTest(Limits limits = {}) : store_(backends_.open(GetParam(), time_, limits)) {}

  // The refusal of a code request, which the test expects.
  RateRefusal refused_code(const std::string& for_phone, const std::string& from) {
    auto refusal = store_->take_code_slot(for_phone, from).value();
    EXPECT_TRUE(refusal) << for_phone << " from " << from << " was not refused";
    return refusal.value_or(RateRefusal{RateLimit::kCodesPerMinute, {}});
  }
  RateRefusal refused_failure(const std::string& for_phone, const std::string& from) {
    auto refusal = store_->take_failed_proof_slot(for_phone, from).value();
    EXPECT_TRUE(refusal) << for_phone << " from " << from << " was not refused";
    return refusal.value_or(RateRefusal{RateLimit::kCodesPerMinute, {}});
  }

  FakeTime time_;
  test::StoreBackends backends_;  // before store_, which it must outlive
  std::unique_ptr<Store> store_;
  const std::string alice_ = phone(1);
  const std::string bob_ = phone(2);
  const std::string attacker_ = "192.0.2.66";
  const std::string owner_ = "198.51.100.7";
};

// --- Codes for one phone

TEST_P(RateLimitsTest, OneAddressGetsThreeCodesForAPhoneInAnHour) {
  EXPECT_FALSE(store_->take_code_slot(alice_, attacker_).value());
  time_.advance(seconds(100));
  EXPECT_FALSE(store_->take_code_slot(alice_, attacker_).value());
  time_.advance(seconds(100));
  EXPECT_FALSE(store_->take_code_slot(alice_, attacker_).value());

  RateRefusal refusal = refused_code(alice_, attacker_);
  EXPECT_EQ(refusal.limit, RateLimit::kCodesPerPhoneFromAddress);
  EXPECT_EQ(refusal.wait, seconds(3400));  // the first (t=0) leaves the hour at t=3600
  time_.advance(seconds(3399));
  EXPECT_EQ(refused_code(alice_, attacker_).wait, seconds(1));
  time_.advance(seconds(1));
  EXPECT_FALSE(store_->take_code_slot(alice_, attacker_).value());
  EXPECT_EQ(refused_code(alice_, attacker_).wait, seconds(100));  // the second, from t=100
}

TEST_P(RateLimitsTest, AnAddressThatSpentItsCodesForAPhoneLeavesTheOwnersAlone) {
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(store_->take_code_slot(alice_, attacker_).value());
  // However often it asks again, it spends nothing of the phone's ten.
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(store_->take_code_slot(alice_, attacker_).value());
  EXPECT_FALSE(store_->take_code_slot(alice_, owner_).value());
}

TEST_P(RateLimitsTest, APhoneGetsTenCodesAnHourWhichOneAddressCannotReach) {
  // One address asking all hour long gets its three, and no more.
  int granted = 0;
  for (int step = 0; step < 6; ++step) {
    for (int i = 0; i < 3; ++i)
      granted += store_->take_code_slot(alice_, attacker_).value() ? 0 : 1;
    time_.advance(minutes(10));
  }
  EXPECT_EQ(granted, 3);
  // t=60 min: the attacker's three have just left the hour. Four addresses fill it.
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(store_->take_code_slot(alice_, address(1)).value());
  time_.advance(minutes(1));
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(store_->take_code_slot(alice_, address(2)).value());
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(store_->take_code_slot(alice_, address(3)).value());
  ASSERT_FALSE(store_->take_code_slot(alice_, address(4)).value());
  const RateRefusal refusal = refused_code(alice_, owner_);
  EXPECT_EQ(refusal.limit, RateLimit::kCodesPerPhone);
  EXPECT_EQ(refusal.wait, minutes(59));  // address 1's first code, a minute older
  EXPECT_FALSE(store_->take_code_slot(bob_, owner_).value());
}

// --- Codes from one address, and from everyone

TEST_P(RateLimitsTest, OneAddressGetsTenCodesInTenMinutesForAllPhones) {
  for (int n = 0; n < 10; ++n) {
    ASSERT_FALSE(store_->take_code_slot(phone(100 + n), attacker_).value()) << n;
    time_.advance(seconds(10));
  }
  const RateRefusal refusal = refused_code(phone(110), attacker_);
  EXPECT_EQ(refusal.limit, RateLimit::kCodesPerAddress);
  EXPECT_EQ(refusal.wait, seconds(500));  // the first, at t=0, leaves at t=600; now t=100
  EXPECT_FALSE(store_->take_code_slot(phone(110), owner_).value());
  time_.advance(seconds(500));
  EXPECT_FALSE(store_->take_code_slot(phone(110), attacker_).value());
}

TEST_P(RateLimitsTest, RefusedRequestsCountInNoLimit) {
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(store_->take_code_slot(alice_, attacker_).value());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(store_->take_code_slot(alice_, attacker_).value());
  // The address has used 3 of its 10, whatever it was refused.
  for (int n = 0; n < 7; ++n)
    ASSERT_FALSE(store_->take_code_slot(phone(100 + n), attacker_).value()) << n;
  EXPECT_EQ(refused_code(phone(107), attacker_).limit, RateLimit::kCodesPerAddress);
}

TEST_P(RateLimitsTest, TheServerSendsSixtyCodesAMinute) {
  for (int n = 0; n < 60; ++n)
    ASSERT_FALSE(store_->take_code_slot(phone(n), address(n)).value()) << n;
  time_.advance(seconds(15));
  const RateRefusal refusal = refused_code(phone(60), address(60));
  EXPECT_EQ(refusal.limit, RateLimit::kCodesPerMinute);
  EXPECT_EQ(refusal.wait, seconds(45));
  time_.advance(seconds(45));
  EXPECT_FALSE(store_->take_code_slot(phone(60), address(60)).value());
}

class NarrowRateLimitsTest : public RateLimitsTest {
 protected:
  static Limits narrow() {
    Limits limits;
    limits.codes_per_address = 3;
    limits.address_code_window = hours(2);
    return limits;
  }
  NarrowRateLimitsTest() : RateLimitsTest(narrow()) {}
};

TEST_P(NarrowRateLimitsTest, TheLimitThatRefusesLongestAnswers) {
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(store_->take_code_slot(alice_, attacker_).value());
  // Both the phone from this address (an hour) and the address (two hours) refuse: the
  // request can pass only in two hours, so that is what the answer says.
  RateRefusal refusal = refused_code(alice_, attacker_);
  EXPECT_EQ(refusal.limit, RateLimit::kCodesPerAddress);
  EXPECT_EQ(refusal.wait, hours(2));
  time_.advance(hours(1));
  refusal = refused_code(alice_, attacker_);
  EXPECT_EQ(refusal.limit, RateLimit::kCodesPerAddress);
  EXPECT_EQ(refusal.wait, hours(1));
}

class EqualWindowsTest : public RateLimitsTest {
 protected:
  static Limits equal() {
    Limits limits;
    limits.codes_per_address = 3;
    limits.address_code_window = hours(1);
    return limits;
  }
  EqualWindowsTest() : RateLimitsTest(equal()) {}
};

TEST_P(EqualWindowsTest, OnATieTheFirstLimitInTheOrderAnswers) {
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(store_->take_code_slot(alice_, attacker_).value());
  const RateRefusal refusal = refused_code(alice_, attacker_);
  EXPECT_EQ(refusal.limit, RateLimit::kCodesPerPhoneFromAddress);
  EXPECT_EQ(refusal.wait, hours(1));
}

// --- Failed registration proofs

TEST_P(RateLimitsTest, FailedProofsAreCappedPerAddressAndPerPhone) {
  for (int i = 0; i < 10; ++i)
    ASSERT_FALSE(store_->take_failed_proof_slot(alice_, attacker_).value()) << i;
  time_.advance(hours(1));
  RateRefusal refusal = refused_failure(alice_, attacker_);
  EXPECT_EQ(refusal.limit, RateLimit::kFailuresPerAddress);
  EXPECT_EQ(refusal.wait, hours(23));
  // An address with no failed proofs left gets no code either, for any phone.
  refusal = refused_code(bob_, attacker_);
  EXPECT_EQ(refusal.limit, RateLimit::kFailuresPerAddress);
  EXPECT_EQ(refusal.wait, hours(23));

  // A second address may fail ten more for the phone: then the phone's twenty are spent.
  for (int i = 0; i < 10; ++i)
    ASSERT_FALSE(store_->take_failed_proof_slot(alice_, address(2)).value());
  refusal = refused_failure(alice_, owner_);
  EXPECT_EQ(refusal.limit, RateLimit::kFailuresPerPhone);
  EXPECT_EQ(refusal.wait, hours(23));
  EXPECT_EQ(refused_code(alice_, owner_).limit, RateLimit::kFailuresPerPhone);
  EXPECT_FALSE(store_->take_code_slot(bob_, owner_).value());  // other phones are not held back

  time_.advance(hours(23));
  EXPECT_FALSE(store_->take_code_slot(alice_, owner_).value());
  EXPECT_FALSE(store_->take_failed_proof_slot(alice_, attacker_).value());
}

TEST_P(RateLimitsTest, ReturnedFailedProofSlotsDoNotCount) {
  for (int i = 0; i < 100; ++i) {
    ASSERT_FALSE(store_->take_failed_proof_slot(alice_, attacker_).value()) << i;
    store_->return_failed_proof_slot(alice_, attacker_);
  }
  for (int i = 0; i < 10; ++i)
    ASSERT_FALSE(store_->take_failed_proof_slot(alice_, attacker_).value()) << i;
  EXPECT_TRUE(store_->take_failed_proof_slot(alice_, attacker_).value());
}

class ServerWideFailuresTest : public RateLimitsTest {
 protected:
  static Limits few() {
    Limits limits;
    limits.failed_registrations_per_day = 3;
    return limits;
  }
  ServerWideFailuresTest() : RateLimitsTest(few()) {}
};

TEST_P(ServerWideFailuresTest, FailedProofsAreCappedServerWide) {
  for (int n = 0; n < 3; ++n) {
    ASSERT_FALSE(store_->take_failed_proof_slot(phone(n), address(n)).value()) << n;
    time_.advance(hours(1));
  }
  RateRefusal refusal = refused_failure(phone(3), address(3));
  EXPECT_EQ(refusal.limit, RateLimit::kFailuresPerDay);
  EXPECT_EQ(refusal.wait, hours(21));
  refusal = refused_code(phone(3), address(3));
  EXPECT_EQ(refusal.limit, RateLimit::kFailuresPerDay);
  EXPECT_EQ(refusal.wait, hours(21));
  time_.advance(hours(21));
  EXPECT_FALSE(store_->take_failed_proof_slot(phone(3), address(3)).value());
}

// --- Memory

TEST_P(RateLimitsTest, TheBookkeepingForgetsWhatHasLeftEveryWindow) {
  // Every phone and address ever seen must not stay in memory.
  for (int n = 0; n < 1000; ++n) {
    ASSERT_FALSE(store_->take_code_slot(phone(n), address(n)).value()) << n;
    if (n < 150) {
      ASSERT_FALSE(store_->take_failed_proof_slot(phone(n), address(n)).value()) << n;
    }
    if (n % 50 == 49) time_.advance(minutes(1));  // within the server's sixty a minute
  }
  // Twenty minutes: every phone is in its hour, the last ten minutes' addresses in theirs.
  EXPECT_GE(store_->rate_limit_keys(), 2500u);
  time_.advance(hours(24));
  ASSERT_FALSE(store_->take_code_slot(alice_, owner_).value());
  ASSERT_FALSE(store_->take_failed_proof_slot(alice_, owner_).value());
  // Four code limits and three failure limits, one key each.
  EXPECT_EQ(store_->rate_limit_keys(), 7u);
  // And a forgotten phone has its whole budget again.
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(store_->take_code_slot(phone(5), address(5)).value());
  EXPECT_TRUE(store_->take_code_slot(phone(5), address(5)).value());
}

const auto kAllBackends = ::testing::Values(Backend::kMemory, Backend::kDisk, Backend::kRedis);
INSTANTIATE_TEST_SUITE_P(Stores, RateLimitsTest, kAllBackends, test::backend_name);
INSTANTIATE_TEST_SUITE_P(Stores, NarrowRateLimitsTest, kAllBackends, test::backend_name);
INSTANTIATE_TEST_SUITE_P(Stores, EqualWindowsTest, kAllBackends, test::backend_name);
INSTANTIATE_TEST_SUITE_P(Stores, ServerWideFailuresTest, kAllBackends, test::backend_name);

}  // namespace
}  // namespace shido::server
