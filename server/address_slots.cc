#include "server/address_slots.h"

#include <utility>

namespace shido::server {

AddressSlots::Slot::Slot(Slot&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), address_(std::move(other.address_)) {}

AddressSlots::Slot& AddressSlots::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::exchange(other.owner_, nullptr);
    address_ = std::move(other.address_);
  }
  return *this;
}

void AddressSlots::Slot::release() {
  if (owner_ != nullptr) std::exchange(owner_, nullptr)->give_back(address_);
}

std::optional<AddressSlots::Slot> AddressSlots::take(const std::string& address) {
  std::lock_guard lock(mutex_);
  std::size_t& count = held_[address];
  if (count >= per_address_) return std::nullopt;
  count += 1;
  return Slot(this, address);
}

std::size_t AddressSlots::held(const std::string& address) const {
  std::lock_guard lock(mutex_);
  const auto it = held_.find(address);
  return it == held_.end() ? 0 : it->second;
}

void AddressSlots::give_back(const std::string& address) {
  std::lock_guard lock(mutex_);
  const auto it = held_.find(address);
  if (it == held_.end()) return;
  if (--it->second == 0) held_.erase(it);
}

}  // namespace shido::server
