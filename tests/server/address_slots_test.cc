// Per-address counts of connections that have not logged in.
#include "server/address_slots.h"

#include <gtest/gtest.h>

#include <vector>

namespace shido::server {
namespace {

TEST(AddressSlotsTest, OneAddressGetsItsShareAndNoMoreWhileOthersStillGetTheirs) {
  AddressSlots slots(2);
  std::vector<AddressSlots::Slot> held;
  for (int i = 0; i < 2; ++i) {
    auto slot = slots.take("192.0.2.7");
    ASSERT_TRUE(slot.has_value()) << i;
    held.push_back(std::move(*slot));
  }
  EXPECT_FALSE(slots.take("192.0.2.7").has_value());
  EXPECT_EQ(slots.held("192.0.2.7"), 2u);
  EXPECT_TRUE(slots.take("198.51.100.1").has_value());
}

TEST(AddressSlotsTest, ASlotReleasedOrDestroyedIsGivenBackOnce) {
  AddressSlots slots(1);
  auto slot = slots.take("192.0.2.7");
  ASSERT_TRUE(slot.has_value());
  slot->release();
  slot->release();  // a second release gives nothing back twice
  EXPECT_EQ(slots.held("192.0.2.7"), 0u);
  {
    auto again = slots.take("192.0.2.7");
    ASSERT_TRUE(again.has_value());
    EXPECT_FALSE(slots.take("192.0.2.7").has_value());
  }
  EXPECT_EQ(slots.held("192.0.2.7"), 0u);
  EXPECT_TRUE(slots.take("192.0.2.7").has_value());
}

TEST(AddressSlotsTest, AMovedSlotIsGivenBackByItsNewOwnerOnly) {
  AddressSlots slots(1);
  auto slot = slots.take("192.0.2.7");
  ASSERT_TRUE(slot.has_value());
  AddressSlots::Slot moved = std::move(*slot);
  slot.reset();
  EXPECT_EQ(slots.held("192.0.2.7"), 1u);
  moved = AddressSlots::Slot();
  EXPECT_EQ(slots.held("192.0.2.7"), 0u);
}

}  // namespace
}  // namespace shido::server
