// DeliveryGate: at most N turns at once, refused (not queued) beyond them, and each turn
// given back exactly once, moved or not.
#include "server/delivery_gate.h"

#include <gtest/gtest.h>

#include <optional>
#include <utility>

namespace shido::server {
namespace {

TEST(DeliveryGateTest, GivesAtMostItsTurnsAtOnce) {
  DeliveryGate gate(2);
  auto first = gate.try_enter();
  auto second = gate.try_enter();
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_FALSE(gate.try_enter());
  first.reset();  // a delivery finished
  auto third = gate.try_enter();
  EXPECT_TRUE(third);
  EXPECT_FALSE(gate.try_enter());
}

TEST(DeliveryGateTest, AMovedTurnIsGivenBackOnce) {
  DeliveryGate gate(1);
  {
    auto turn = gate.try_enter();
    ASSERT_TRUE(turn);
    std::optional<DeliveryGate::Turn> moved(std::move(*turn));
    turn.reset();  // the moved-from turn gives nothing back
    EXPECT_FALSE(gate.try_enter());
  }
  EXPECT_TRUE(gate.try_enter());
  // Had the moved-from turn given one back too, there would be two now.
  auto one = gate.try_enter();
  ASSERT_TRUE(one);
  EXPECT_FALSE(gate.try_enter());
}

}  // namespace
}  // namespace shido::server
