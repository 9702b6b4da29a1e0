// How many codes may be in delivery at once (--code-command-concurrency). A code command may
// take up to its 10 s time-out, and each one holds a process and a connection's thread:
// without a bound, a flood of 102s would start as many commands as requests came.
//
// A request that finds every turn taken is refused at once (127), not queued: waiting would
// let a flood hold threads while it waits, and the safest answer to a burst is a short
// retry_after. Thread-safe.
#pragma once

#include <atomic>
#include <optional>

namespace shido::server {

class DeliveryGate {
 public:
  // One turn to deliver; given back when destroyed.
  class Turn {
   public:
    Turn(Turn&& other) noexcept : gate_(other.gate_) { other.gate_ = nullptr; }
    Turn& operator=(Turn&&) = delete;
    Turn(const Turn&) = delete;
    Turn& operator=(const Turn&) = delete;
    ~Turn() {
      if (gate_ != nullptr) gate_->in_use_.fetch_sub(1);
    }

   private:
    friend class DeliveryGate;
    explicit Turn(DeliveryGate* gate) : gate_(gate) {}
    DeliveryGate* gate_;
  };

  // At most `turns` (>= 1) deliveries at once.
  explicit DeliveryGate(int turns) : turns_(turns < 1 ? 1 : turns) {}

  // A turn, or nullopt when all are taken.
  std::optional<Turn> try_enter();

 private:
  const int turns_;
  std::atomic<int> in_use_{0};
};

}  // namespace shido::server
