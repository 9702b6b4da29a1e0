// The per-connection log budget: a burst, then one line per interval; refused lines counted.
#include "server/log_budget.h"

#include <gtest/gtest.h>

namespace shido::server {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(LogBudgetTest, ABurstThenOneLinePerInterval) {
  LogBudget budget(3, seconds(1));
  const TimePoint start(std::chrono::hours(5));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(budget.take(start)) << i;
  EXPECT_FALSE(budget.take(start));
  EXPECT_FALSE(budget.take(start + milliseconds(999)));
  EXPECT_TRUE(budget.take(start + seconds(1)));
  EXPECT_FALSE(budget.take(start + seconds(1)));
  EXPECT_EQ(budget.take_suppressed(), 3);
  EXPECT_EQ(budget.take_suppressed(), 0);
}

TEST(LogBudgetTest, AQuietSpellRefillsTheBurstAndNoMore) {
  LogBudget budget(3, seconds(1));
  const TimePoint start(std::chrono::hours(5));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(budget.take(start));
  const TimePoint later = start + std::chrono::hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(budget.take(later)) << i;
  EXPECT_FALSE(budget.take(later));
  EXPECT_EQ(budget.take_suppressed(), 1);
}

}  // namespace
}  // namespace shido::server
