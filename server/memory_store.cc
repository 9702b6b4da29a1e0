// MemoryStore: every piece of state behind one mutex. Operations are short (no I/O, no
// crypto), so one lock keeps the code simple; long-polls wait on their mailbox's condition
// variable, which releases it.
#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "server/store.h"
#include "shido/crypto/random.h"

namespace shido::server {
namespace {

struct Lockout {
  int failures = 0;        // consecutive failed proofs since the last lock or success
  int locks = 0;           // n: locks since the last success
  TimePoint locked_until;  // in the past when not locked
};

struct Mailbox {
  std::map<std::uint64_t, MessagePtr> messages;          // by arrival order
  std::unordered_map<std::string, std::uint64_t> by_id;  // id -> arrival order
  std::size_t bytes = 0;                                 // sum of ciphertext sizes
  std::condition_variable arrived;
};

class MemoryStore final : public Store {
 public:
  MemoryStore(const TimeSource& time, Limits limits) : time_(time), limits_(limits) {}

  std::optional<User> find_user(const std::string& phone) const override {
    std::lock_guard lock(mutex_);
    auto it = users_.find(phone);
    if (it == users_.end()) return std::nullopt;
    return it->second;
  }

  bool add_user(User user) override {
    std::lock_guard lock(mutex_);
    std::string phone = user.phone;
    return users_.emplace(std::move(phone), std::move(user)).second;
  }

  std::optional<Clock::duration> take_code_slot(const std::string& phone) override {
    std::lock_guard lock(mutex_);
    const TimePoint now = time_.now();
    forget_old_code_issues(now);
    auto& issued = code_issues_[phone];
    if (static_cast<int>(issued.size()) >= limits_.codes_per_window) {
      return issued.front() + limits_.code_window - now;
    }
    issued.push_back(now);
    code_issue_order_.emplace_back(now, phone);
    return std::nullopt;
  }

  std::size_t phones_with_recent_codes() const override {
    std::lock_guard lock(mutex_);
    return code_issues_.size();
  }

  std::optional<Clock::duration> lock_remaining(const std::string& phone) const override {
    std::lock_guard lock(mutex_);
    auto it = lockouts_.find(phone);
    if (it == lockouts_.end()) return std::nullopt;
    const TimePoint now = time_.now();
    if (it->second.locked_until <= now) return std::nullopt;
    return it->second.locked_until - now;
  }

  FailureResult record_connect_failure(const std::string& phone) override {
    std::lock_guard lock(mutex_);
    Lockout& state = lockouts_[phone];
    state.failures += 1;
    if (state.failures < limits_.failures_before_lock) {
      return {limits_.failures_before_lock - state.failures};
    }
    // Lock number n lasts min(base * 2^n, max); the failure count restarts with it.
    // In seconds: base * 2^30 in nanoseconds would overflow.
    const auto doubling = std::min(state.locks, 30);
    const std::chrono::seconds length = std::min<std::chrono::seconds>(
        limits_.lock_base * (std::int64_t{1} << doubling), limits_.lock_max);
    state.locked_until = time_.now() + length;
    state.locks += 1;
    state.failures = 0;
    return {0};
  }

  void record_connect_success(const std::string& phone) override {
    std::lock_guard lock(mutex_);
    lockouts_.erase(phone);
  }

  std::mutex& connect_mutex(const std::string& phone) override {
    return connect_stripes_[std::hash<std::string>{}(phone) % connect_stripes_.size()];
  }

  PutResult put_message(const std::string& recipient, StoredMessage message,
                        std::string& id_out) override {
    // The id is drawn outside the lock: random, so ids stay unique across restarts too
    // (clients drop duplicates by id).
    message.id = to_hex(random_bytes(16));
    std::unique_lock lock(mutex_);
    if (users_.find(recipient) == users_.end()) return PutResult::kNoSuchUser;
    Mailbox& box = mailboxes_[recipient];
    if (box.messages.size() >= limits_.mailbox_max_messages ||
        box.bytes + message.ciphertext_size() > limits_.mailbox_max_bytes) {
      return PutResult::kMailboxFull;
    }
    if (stored_bytes_ + message.ciphertext_size() > limits_.store_max_bytes)
      return PutResult::kStoreFull;
    message.stored_at_ms = time_.unix_ms();
    id_out = message.id;
    const std::uint64_t order = next_order_++;
    box.bytes += message.ciphertext_size();
    stored_bytes_ += message.ciphertext_size();
    box.by_id.emplace(message.id, order);
    box.messages.emplace(order, std::make_shared<const StoredMessage>(std::move(message)));
    // Woken after the unlock, a waiting fetch finds the mutex free instead of blocking on
    // it again. The mailbox outlives this: mailboxes are never erased.
    lock.unlock();
    box.arrived.notify_all();
    return PutResult::kStored;
  }

  std::vector<MessagePtr> fetch(const std::string& phone, std::size_t max,
                                Clock::duration wait) override {
    std::unique_lock lock(mutex_);
    Mailbox& box = mailboxes_[phone];
    if (box.messages.empty() && wait > Clock::duration::zero() && !stopping_) {
      box.arrived.wait_for(lock, wait, [&] { return stopping_ || !box.messages.empty(); });
    }
    std::vector<MessagePtr> out;
    for (auto it = box.messages.begin(); it != box.messages.end() && out.size() < max; ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  AckResult ack(const std::string& phone, const std::vector<std::string>& ids) override {
    std::lock_guard lock(mutex_);
    Mailbox& box = mailboxes_[phone];
    AckResult result;
    for (const std::string& id : ids) {
      auto found = box.by_id.find(id);
      if (found == box.by_id.end()) continue;
      auto message = box.messages.find(found->second);
      box.bytes -= message->second->ciphertext_size();
      stored_bytes_ -= message->second->ciphertext_size();
      box.messages.erase(message);
      box.by_id.erase(found);
      result.deleted += 1;
    }
    result.waiting = static_cast<int>(box.messages.size());
    return result;
  }

  std::size_t waiting(const std::string& phone) const override {
    std::lock_guard lock(mutex_);
    auto it = mailboxes_.find(phone);
    return it == mailboxes_.end() ? 0 : it->second.messages.size();
  }

  void shutdown() override {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& [phone, box] : mailboxes_) box.arrived.notify_all();
  }

 private:
  // Drops code issues older than the window, oldest first, and the records of phones left
  // with none: without this, every phone ever asked for would stay in memory.
  void forget_old_code_issues(TimePoint now) {
    while (!code_issue_order_.empty() &&
           now - code_issue_order_.front().first >= limits_.code_window) {
      const std::string& phone = code_issue_order_.front().second;
      auto record = code_issues_.find(phone);
      if (record != code_issues_.end()) {
        record->second.pop_front();
        if (record->second.empty()) code_issues_.erase(record);
      }
      code_issue_order_.pop_front();
    }
  }

  const TimeSource& time_;
  const Limits limits_;

  std::array<std::mutex, 64> connect_stripes_;  // see Store::connect_mutex

  mutable std::mutex mutex_;  // guards everything below
  std::unordered_map<std::string, User> users_;
  std::unordered_map<std::string, std::deque<TimePoint>> code_issues_;
  std::deque<std::pair<TimePoint, std::string>> code_issue_order_;  // every issue, oldest first
  std::unordered_map<std::string, Lockout> lockouts_;
  // std::map: a Mailbox holds a condition variable, so it must never move.
  std::map<std::string, Mailbox> mailboxes_;
  std::size_t stored_bytes_ = 0;  // the sum of every mailbox's bytes
  std::uint64_t next_order_ = 0;
  bool stopping_ = false;
};

}  // namespace

std::unique_ptr<Store> make_memory_store(const TimeSource& time, Limits limits) {
  return std::make_unique<MemoryStore>(time, limits);
}

}  // namespace shido::server
