// The seam between the memory store and what makes its changes durable (the disk store's
// journal; nothing for --store memory). The store admits each change under its own lock, so
// that the log's order is the order of the changes, waits for it without the lock, and
// applies it only once it is durable: nothing unwritten is acknowledged, and a change that
// could not be written is never applied.
#pragma once

#include <memory>

#include "server/change.h"
#include "shido/result.h"

namespace shido::server {

class ChangeLog {
 public:
  // One admitted change. Destroyed once the store has applied or dropped the change (under
  // the store's lock), which tells the log that the change is settled.
  class Ticket {
   public:
    virtual ~Ticket() = default;
    // Waits until the change is as durable as the log promises; the error when it cannot
    // be. Called without the store's lock.
    virtual Status wait_durable() = 0;
  };

  virtual ~ChangeLog() = default;

  // Takes a change to write, or refuses it (the log cannot write now) with the reason.
  // Called under the store's lock; does no I/O.
  virtual Result<std::unique_ptr<Ticket>> admit(const Change& change) = 0;
};

}  // namespace shido::server
