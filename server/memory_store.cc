#include "server/memory_store.h"

#include <algorithm>
#include <initializer_list>

#include "shido/crypto/random.h"

namespace shido::server {

namespace {

// The key of one phone asked for from one address.
std::string phone_from_address(const std::string& phone, const std::string& address) {
  return phone + " " + address;
}

// One limit a request must pass: its window and the request's key in it.
struct RateCheck {
  RateLimit limit;
  const RateWindow& window;
  const std::string& key;
};

// The refusal that lasts longest among the checks (the first on a tie), or none: a request
// refused by several limits can pass only once the last of them lets it.
std::optional<RateRefusal> longest_refusal(std::initializer_list<RateCheck> checks, TimePoint now) {
  std::optional<RateRefusal> refusal;
  for (const RateCheck& check : checks) {
    const Clock::duration wait = check.window.wait(check.key, now);
    if (wait > Clock::duration::zero() && (!refusal || wait > refusal->wait)) {
      refusal = RateRefusal{check.limit, wait};
    }
  }
  return refusal;
}

const std::string kServerKey;  // the one key of the server-wide limits

}  // namespace

MemoryStore::MemoryStore(const TimeSource& time, Limits limits, ChangeLog* log)
    : time_(time),
      limits_(limits),
      log_(log),
      codes_per_phone_from_address_(limits.codes_per_phone_per_address, limits.phone_code_window),
      codes_per_address_(limits.codes_per_address, limits.address_code_window),
      codes_per_phone_(limits.codes_per_phone, limits.phone_code_window),
      codes_per_minute_(limits.codes_per_minute, limits.server_code_window),
      failures_per_phone_(limits.failed_registrations_per_phone, limits.failure_window),
      failures_per_address_(limits.failed_registrations_per_address, limits.failure_window),
      failures_per_day_(limits.failed_registrations_per_day, limits.failure_window) {}

Result<std::unique_ptr<ChangeLog::Ticket>> MemoryStore::admit(const Change& change) {
  if (log_ == nullptr) return std::unique_ptr<ChangeLog::Ticket>();
  return log_->admit(change);
}

Status MemoryStore::wait_durable(std::unique_lock<std::mutex>& lock, ChangeLog::Ticket* ticket) {
  if (ticket == nullptr) return {};
  lock.unlock();
  Status durable = ticket->wait_durable();
  lock.lock();
  return durable;
}

Result<std::optional<User>> MemoryStore::find_user(const std::string& phone) const {
  std::lock_guard lock(mutex_);
  auto it = users_.find(phone);
  if (it == users_.end()) return std::optional<User>();
  return std::optional<User>(it->second);
}

Result<AddUserResult> MemoryStore::add_user(User user) {
  std::unique_lock lock(mutex_);
  const std::string phone = user.phone;
  if (users_.contains(phone) || phones_being_added_.contains(phone))
    return AddUserResult::kPhoneTaken;
  auto ticket = admit(UserAdded{user});
  if (!ticket.ok()) return ticket.error();
  phones_being_added_.insert(phone);
  const Status durable = wait_durable(lock, ticket.value().get());
  phones_being_added_.erase(phone);
  if (!durable.ok()) return durable.error();
  users_.emplace(phone, std::move(user));
  return AddUserResult::kAdded;
}

Result<std::optional<RateRefusal>> MemoryStore::take_code_slot(const std::string& phone,
                                                               const std::string& address) {
  const std::string pair = phone_from_address(phone, address);
  std::lock_guard lock(mutex_);
  const TimePoint now = time_.now();
  // Every limit is checked before any is counted: a refused request takes nothing, so one
  // address refused for a phone cannot spend the phone's own budget.
  auto refusal =
      longest_refusal({{RateLimit::kCodesPerPhoneFromAddress, codes_per_phone_from_address_, pair},
                       {RateLimit::kCodesPerAddress, codes_per_address_, address},
                       {RateLimit::kCodesPerPhone, codes_per_phone_, phone},
                       {RateLimit::kCodesPerMinute, codes_per_minute_, kServerKey}},
                      now);
  const auto failures = failures_refusal(phone, address, now);
  if (failures && (!refusal || failures->wait > refusal->wait)) refusal = failures;
  if (refusal) return refusal;
  codes_per_phone_from_address_.add(pair, now);
  codes_per_address_.add(address, now);
  codes_per_phone_.add(phone, now);
  codes_per_minute_.add(kServerKey, now);
  return std::optional<RateRefusal>();
}

Result<std::optional<RateRefusal>> MemoryStore::take_failed_proof_slot(const std::string& phone,
                                                                       const std::string& address) {
  std::lock_guard lock(mutex_);
  const TimePoint now = time_.now();
  if (auto refusal = failures_refusal(phone, address, now)) return refusal;
  failures_per_phone_.add(phone, now);
  failures_per_address_.add(address, now);
  failures_per_day_.add(kServerKey, now);
  return std::optional<RateRefusal>();
}

void MemoryStore::return_failed_proof_slot(const std::string& phone, const std::string& address) {
  std::lock_guard lock(mutex_);
  failures_per_phone_.remove_newest(phone);
  failures_per_address_.remove_newest(address);
  failures_per_day_.remove_newest(kServerKey);
}

std::optional<RateRefusal> MemoryStore::failures_refusal(const std::string& phone,
                                                         const std::string& address,
                                                         TimePoint now) const {
  return longest_refusal({{RateLimit::kFailuresPerPhone, failures_per_phone_, phone},
                          {RateLimit::kFailuresPerAddress, failures_per_address_, address},
                          {RateLimit::kFailuresPerDay, failures_per_day_, kServerKey}},
                         now);
}

std::size_t MemoryStore::rate_limit_keys() const {
  std::lock_guard lock(mutex_);
  return codes_per_phone_from_address_.keys() + codes_per_address_.keys() +
         codes_per_phone_.keys() + codes_per_minute_.keys() + failures_per_phone_.keys() +
         failures_per_address_.keys() + failures_per_day_.keys();
}

Result<std::optional<Clock::duration>> MemoryStore::lock_remaining(const std::string& phone) const {
  std::lock_guard lock(mutex_);
  using Remaining = std::optional<Clock::duration>;
  auto it = lockouts_.find(phone);
  if (it == lockouts_.end()) return Remaining();
  const std::int64_t now = time_.unix_ms();
  if (it->second.locked_until_unix_ms <= now) return Remaining();
  return Remaining(std::chrono::milliseconds(it->second.locked_until_unix_ms - now));
}

Result<int> MemoryStore::connect_attempts_left(const std::string& phone) const {
  std::lock_guard lock(mutex_);
  auto found = lockouts_.find(phone);
  const int failures = found == lockouts_.end() ? 0 : static_cast<int>(found->second.failures);
  return limits_.failures_before_lock - failures;
}

Result<FailureResult> MemoryStore::record_connect_failure(const std::string& phone) {
  std::unique_lock lock(mutex_);
  auto found = lockouts_.find(phone);
  Lockout next = found == lockouts_.end() ? Lockout{} : found->second;
  next.failures += 1;
  FailureResult result{0};
  if (static_cast<int>(next.failures) < limits_.failures_before_lock) {
    result.attempts_left = limits_.failures_before_lock - static_cast<int>(next.failures);
  } else {
    // Lock number n lasts min(base * 2^n, max); the failure count restarts with it.
    // In seconds: base * 2^30 in nanoseconds would overflow.
    const auto doubling = std::min<std::uint32_t>(next.locks, 30);
    const std::chrono::seconds length = std::min<std::chrono::seconds>(
        limits_.lock_base * (std::int64_t{1} << doubling), limits_.lock_max);
    next.locked_until_unix_ms =
        time_.unix_ms() + std::chrono::duration_cast<std::chrono::milliseconds>(length).count();
    next.locks += 1;
    next.failures = 0;
  }
  // The session holds the phone's connect mutex, so no other change to this phone's
  // lockout comes between here and the apply below.
  auto ticket = admit(LockChanged{phone, next.failures, next.locks, next.locked_until_unix_ms});
  if (!ticket.ok()) return ticket.error();
  if (Status durable = wait_durable(lock, ticket.value().get()); !durable.ok())
    return durable.error();
  lockouts_[phone] = next;
  return result;
}

Status MemoryStore::record_connect_success(const std::string& phone) {
  std::unique_lock lock(mutex_);
  // Most logins follow no failure: they change nothing, and write nothing.
  if (!lockouts_.contains(phone)) return {};
  auto ticket = admit(LockChanged{phone, 0, 0, 0});
  if (!ticket.ok()) return ticket.error();
  if (Status durable = wait_durable(lock, ticket.value().get()); !durable.ok()) return durable;
  lockouts_.erase(phone);
  return {};
}

std::mutex& MemoryStore::connect_mutex(const std::string& phone) {
  return connect_stripes_[std::hash<std::string>{}(phone) % connect_stripes_.size()];
}

// A put admitted to the log: finished once the log says the message is durable.
class MemoryStore::Put final : public PutInProgress {
 public:
  // A put whose outcome is already known.
  Put(std::string id, Result<PutResult> outcome)
      : id_(std::move(id)), outcome_(std::move(outcome)) {}
  // A put waiting for its ticket.
  Put(MemoryStore& store, Mailbox& box, std::uint64_t order, StoredMessage message,
      std::unique_ptr<ChangeLog::Ticket> ticket)
      : id_(message.id),
        store_(&store),
        box_(&box),
        order_(order),
        message_(std::move(message)),
        ticket_(std::move(ticket)) {}
  ~Put() override {
    if (!outcome_) (void)finish();
  }
  Put(const Put&) = delete;
  Put& operator=(const Put&) = delete;

  Result<PutResult> finish() override {
    if (!outcome_) outcome_ = store_->finish_put(*this);
    return *outcome_;
  }
  const std::string& id() const override { return id_; }

 private:
  friend class MemoryStore;
  std::string id_;
  std::optional<Result<PutResult>> outcome_;
  MemoryStore* store_ = nullptr;
  Mailbox* box_ = nullptr;  // mailboxes are never erased
  std::uint64_t order_ = 0;
  std::optional<StoredMessage> message_;  // until applied
  std::unique_ptr<ChangeLog::Ticket> ticket_;
};

std::unique_ptr<PutInProgress> MemoryStore::start_put(const std::string& recipient,
                                                      StoredMessage message) {
  // The id is drawn outside the lock: random, so ids stay unique across restarts too
  // (clients drop duplicates by id).
  message.id = to_hex(random_bytes(16));
  const auto ready = [&](Result<PutResult> outcome) {
    return std::make_unique<Put>(message.id, std::move(outcome));
  };
  const std::size_t size = message.ciphertext_size();
  std::unique_lock lock(mutex_);
  if (!users_.contains(recipient)) return ready(PutResult::kNoSuchUser);
  Mailbox& box = mailboxes_[recipient];
  if (box.messages.size() + box.reserved >= limits_.mailbox_max_messages ||
      box.bytes + size > limits_.mailbox_max_bytes) {
    return ready(PutResult::kMailboxFull);
  }
  if (stored_bytes_ + size > limits_.store_max_bytes) return ready(PutResult::kStoreFull);
  const std::string& sender = message.sender_phone;
  if (auto share = box.by_sender.find(sender);
      share != box.by_sender.end() && (share->second.messages + 1 > limits_.sender_share_messages ||
                                       share->second.bytes + size > limits_.sender_share_bytes)) {
    return ready(PutResult::kSenderShareFull);
  }
  if (auto held = sender_bytes_.find(sender);
      (held == sender_bytes_.end() ? 0 : held->second) + size >
      limits_.store_max_bytes / limits_.sender_share_of_store) {
    return ready(PutResult::kSenderStoreShareFull);
  }
  message.stored_at_ms = time_.unix_ms();
  // The order is taken now, in the log's order, though other messages may be applied first.
  const std::uint64_t order = next_order_++;
  if (log_ == nullptr) {
    std::string id = message.id;
    add_message(box, order, std::make_shared<const StoredMessage>(std::move(message)));
    messages_stored_ += 1;
    // Woken after the unlock, a waiting fetch finds the mutex free instead of blocking on
    // it again.
    lock.unlock();
    box.arrived.notify_all();
    return std::make_unique<Put>(std::move(id), PutResult::kStored);
  }
  auto ticket = log_->admit(MessageAdded{recipient, message.id, message.sender_phone,
                                         message.stored_at_ms, message.envelope});
  if (!ticket.ok()) return ready(ticket.error());
  count_share(box, message.sender_phone, size, +1);
  box.reserved += 1;
  return std::make_unique<Put>(*this, box, order, std::move(message), std::move(ticket).value());
}

Result<PutResult> MemoryStore::finish_put(Put& put) {
  const Status durable = put.ticket_->wait_durable();
  std::unique_lock lock(mutex_);
  Mailbox& box = *put.box_;
  count_share(box, put.message_->sender_phone, put.message_->ciphertext_size(), -1);
  box.reserved -= 1;
  if (durable.ok()) {
    add_message(box, put.order_, std::make_shared<const StoredMessage>(std::move(*put.message_)));
    messages_stored_ += 1;
  }
  put.ticket_.reset();  // settled: applied, or dropped
  lock.unlock();
  if (!durable.ok()) return durable.error();
  box.arrived.notify_all();
  return PutResult::kStored;
}

void MemoryStore::count_share(Mailbox& box, const std::string& sender, std::size_t bytes,
                              int sign) {
  const auto add = [sign](std::size_t& total, std::size_t amount) {
    total = sign > 0 ? total + amount : total - amount;
  };
  add(box.bytes, bytes);
  add(stored_bytes_, bytes);
  Share& share = box.by_sender[sender];
  add(share.messages, 1);
  add(share.bytes, bytes);
  if (share.messages == 0) box.by_sender.erase(sender);
  std::size_t& held = sender_bytes_[sender];
  add(held, bytes);
  if (held == 0) sender_bytes_.erase(sender);
}

void MemoryStore::remove_message(Mailbox& box,
                                 std::map<std::uint64_t, MessagePtr>::iterator message) {
  const StoredMessage& stored = *message->second;
  count_share(box, stored.sender_phone, stored.ciphertext_size(), -1);
  envelope_bytes_ -= stored.envelope.size();
  message_count_ -= 1;
  box.by_id.erase(stored.id);
  box.messages.erase(message);
}

void MemoryStore::add_message(Mailbox& box, std::uint64_t order, MessagePtr message) {
  count_share(box, message->sender_phone, message->ciphertext_size(), +1);
  envelope_bytes_ += message->envelope.size();
  message_count_ += 1;
  box.by_id.emplace(message->id, order);
  box.messages.emplace(order, std::move(message));
}

Result<std::vector<MessagePtr>> MemoryStore::fetch(const std::string& phone, std::size_t max,
                                                   Clock::duration wait) {
  std::unique_lock lock(mutex_);
  Mailbox& box = mailboxes_[phone];
  if (box.messages.empty() && wait > Clock::duration::zero() && !stopping_) {
    box.arrived.wait_for(lock, wait, [&] { return stopping_ || !box.messages.empty(); });
  }
  std::vector<MessagePtr> out;
  for (auto it = box.messages.begin(); it != box.messages.end() && out.size() < max; ++it) {
    out.push_back(it->second);
  }
  messages_fetched_ += out.size();
  return out;
}

Result<AckResult> MemoryStore::ack(const std::string& phone, const std::vector<std::string>& ids) {
  std::unique_lock lock(mutex_);
  Mailbox& box = mailboxes_[phone];
  // Only ids that are there are written: an ack of nothing costs no record.
  std::vector<std::string> present;
  for (const std::string& id : ids) {
    if (box.by_id.contains(id) && std::find(present.begin(), present.end(), id) == present.end()) {
      present.push_back(id);
    }
  }
  if (!present.empty()) {
    auto ticket = admit(MessagesAcked{phone, present});
    if (!ticket.ok()) return ticket.error();
    if (Status durable = wait_durable(lock, ticket.value().get()); !durable.ok())
      return durable.error();
  }
  AckResult result;
  for (const std::string& id : present) {
    // Another connection may have acknowledged it meanwhile.
    auto found = box.by_id.find(id);
    if (found == box.by_id.end()) continue;
    remove_message(box, box.messages.find(found->second));
    result.deleted += 1;
  }
  result.waiting = static_cast<int>(box.messages.size());
  return result;
}

std::size_t MemoryStore::waiting(const std::string& phone) const {
  std::lock_guard lock(mutex_);
  auto it = mailboxes_.find(phone);
  return it == mailboxes_.end() ? 0 : it->second.messages.size();
}

void MemoryStore::shutdown() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  for (auto& [phone, box] : mailboxes_) box.arrived.notify_all();
}

ReplayResult MemoryStore::replay(Change change) {
  std::lock_guard lock(mutex_);
  if (auto* added = std::get_if<UserAdded>(&change)) {
    const std::string phone = added->user.phone;
    return users_.emplace(phone, std::move(added->user)).second ? ReplayResult::kApplied
                                                                : ReplayResult::kAlreadyThere;
  }
  if (auto* lock_state = std::get_if<LockChanged>(&change)) {
    if (lock_state->failures == 0 && lock_state->locks == 0) {
      lockouts_.erase(lock_state->phone);
    } else {
      lockouts_[lock_state->phone] = {lock_state->failures, lock_state->locks,
                                      lock_state->locked_until_unix_ms};
    }
    return ReplayResult::kApplied;
  }
  if (auto* added = std::get_if<MessageAdded>(&change)) {
    auto sender = users_.find(added->sender_phone);
    if (sender == users_.end() || !users_.contains(added->recipient))
      return ReplayResult::kNoSuchUser;
    Mailbox& box = mailboxes_[added->recipient];
    if (box.by_id.contains(added->id)) return ReplayResult::kAlreadyThere;
    add_message(box, next_order_++,
                std::make_shared<const StoredMessage>(StoredMessage{
                    std::move(added->id), std::move(added->sender_phone), sender->second.public_key,
                    added->stored_at_ms, std::move(added->envelope)}));
    return ReplayResult::kApplied;
  }
  const auto& acked = std::get<MessagesAcked>(change);
  auto box = mailboxes_.find(acked.phone);
  if (box == mailboxes_.end()) return ReplayResult::kApplied;
  for (const std::string& id : acked.ids) {
    auto found = box->second.by_id.find(id);
    if (found == box->second.by_id.end()) continue;
    remove_message(box->second, box->second.messages.find(found->second));
  }
  return ReplayResult::kApplied;
}

StoreImage MemoryStore::capture() const {
  std::lock_guard lock(mutex_);
  StoreImage image;
  image.users.reserve(users_.size());
  for (const auto& [phone, user] : users_) image.users.push_back(user);
  for (const auto& [phone, state] : lockouts_) {
    image.locks.push_back({phone, state.failures, state.locks, state.locked_until_unix_ms});
  }
  image.messages.reserve(message_count_);
  for (const auto& [phone, box] : mailboxes_) {
    for (const auto& [order, message] : box.messages) image.messages.push_back({phone, message});
  }
  return image;
}

StoreCounts MemoryStore::counts() const {
  std::lock_guard lock(mutex_);
  StoreCounts counts;
  counts.users = users_.size();
  counts.messages = message_count_;
  counts.ciphertext_bytes = stored_bytes_;
  counts.envelope_bytes = envelope_bytes_;
  counts.messages_stored = messages_stored_;
  counts.messages_fetched = messages_fetched_;
  return counts;
}

std::unique_ptr<Store> make_memory_store(const TimeSource& time, Limits limits) {
  return std::make_unique<MemoryStore>(time, limits);
}

}  // namespace shido::server
