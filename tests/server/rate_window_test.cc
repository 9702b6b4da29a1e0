// RateWindow on its own: at most `limit` events per key in any window, the wait until the
// next may come, giving back a reservation, and the sweep that keeps memory bounded.
#include "server/rate_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>

namespace shido::server {
namespace {

using std::chrono::seconds;

const TimePoint kStart = TimePoint(std::chrono::hours(1000));

TEST(RateWindowTest, AKeyMayHaveLimitEventsInAnyWindow) {
  RateWindow window(2, seconds(10));
  EXPECT_EQ(window.wait("a", kStart), Clock::duration::zero());
  window.add("a", kStart);
  EXPECT_EQ(window.wait("a", kStart + seconds(3)), Clock::duration::zero());
  window.add("a", kStart + seconds(3));
  // Full: the first leaves the window at 10 s.
  EXPECT_EQ(window.wait("a", kStart + seconds(4)), seconds(6));
  EXPECT_EQ(window.wait("a", kStart + seconds(10)), Clock::duration::zero());
  window.add("a", kStart + seconds(10));
  // Now the one from 3 s is the oldest in the window.
  EXPECT_EQ(window.wait("a", kStart + seconds(10)), seconds(3));
  // Other keys are their own.
  EXPECT_EQ(window.wait("b", kStart + seconds(10)), Clock::duration::zero());
}

TEST(RateWindowTest, RemovingTheNewestGivesItsPlaceBack) {
  RateWindow window(1, seconds(10));
  window.add("a", kStart);
  EXPECT_GT(window.wait("a", kStart), Clock::duration::zero());
  window.remove_newest("a");
  EXPECT_EQ(window.wait("a", kStart), Clock::duration::zero());
  EXPECT_EQ(window.keys(), 0u);
  window.remove_newest("never seen");  // nothing to give back: no harm
  EXPECT_EQ(window.keys(), 0u);
}

TEST(RateWindowTest, KeysWhoseEventsLeftTheWindowAreSweptOnceAWindowHasPassed) {
  RateWindow window(1, seconds(10));
  for (int i = 0; i < 1000; ++i) window.add(std::to_string(i), kStart);
  EXPECT_EQ(window.keys(), 1000u);
  window.add("late", kStart + seconds(9));  // the others are still in their window
  EXPECT_EQ(window.keys(), 1001u);
  window.add("later", kStart + seconds(10));
  EXPECT_EQ(window.keys(), 2u);
  EXPECT_EQ(window.wait("5", kStart + seconds(10)), Clock::duration::zero());
}

TEST(RateWindowTest, KeysHeldStayWithinTwiceThoseInTheWindow) {
  // 100 new keys a second, each in its window for 10 s: about 1,000 are live at a time.
  RateWindow window(1, seconds(10));
  std::size_t most = 0;
  int key = 0;
  for (int second = 0; second < 100; ++second) {
    for (int i = 0; i < 100; ++i) {
      window.add(std::to_string(key++), kStart + seconds(second));
      most = std::max(most, window.keys());
    }
  }
  EXPECT_GE(most, 1000u);
  EXPECT_LE(most, 2100u);
}

}  // namespace
}  // namespace shido::server
