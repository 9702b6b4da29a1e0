#include "server/delivery_gate.h"

namespace shido::server {

std::optional<DeliveryGate::Turn> DeliveryGate::try_enter() {
  int in_use = in_use_.load();
  do {
    if (in_use >= turns_) return std::nullopt;
  } while (!in_use_.compare_exchange_weak(in_use, in_use + 1));
  return Turn(this);
}

}  // namespace shido::server
