// Counts, per address, the connections that have not logged in (design section 10.4), so
// that one address cannot take every connection the server has while its owners wait.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace shido::server {

class AddressSlots {
 public:
  // One connection's place in its address's count, given back when it logs in or ends.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { release(); }
    void release();

   private:
    friend class AddressSlots;
    Slot(AddressSlots* owner, std::string address) : owner_(owner), address_(std::move(address)) {}
    AddressSlots* owner_ = nullptr;
    std::string address_;
  };

  explicit AddressSlots(std::size_t per_address) : per_address_(per_address) {}

  // A slot for address (an address_key()), or nothing when it holds all it may.
  std::optional<Slot> take(const std::string& address);
  std::size_t held(const std::string& address) const;

 private:
  void give_back(const std::string& address);

  const std::size_t per_address_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::size_t> held_;  // only addresses holding any
};

}  // namespace shido::server
