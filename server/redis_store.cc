#include "server/redis_store.h"

#include <algorithm>
#include <charconv>
#include <thread>
#include <utility>

#include "server/redis_arrivals.h"
#include "server/redis_message.h"
#include "server/redis_pool.h"
#include "server/redis_scripts.h"
#include "shido/crypto/random.h"

namespace shido::server {

// The keys. Everything of one account carries the account's phone as its hash tag, so that
// on Redis Cluster it all lives in one slot and a script over it runs on one node:
//   shido:{PHONE}:user        hash: email, key (DER), salt, hash
//   shido:{PHONE}:lock        hash: failures, locks, until (Unix ms)
//   shido:{PHONE}:box         hash: bytes (ciphertext waiting), seq (the last arrival)
//   shido:{PHONE}:order       sorted set: message id by arrival
//   shido:{PHONE}:messages    hash: id -> record (server/redis_message.h)
//   shido:{PHONE}:shares      hash: "<sender>:n", "<sender>:b" what each sender has waiting
//   shido:{PHONE}:codes       window: codes sent to the phone
//   shido:{PHONE}:codes-from:ADDRESS  window: codes for the phone asked from one address
//   shido:{PHONE}:failures    window: failed registration proofs for the phone
//   shido:addr:{ADDRESS}:codes, shido:addr:{ADDRESS}:failures  windows of one address
// and what the whole store shares, in one slot of its own:
//   shido:{global}:totals     hash: users, messages, bytes, envelope_bytes
//   shido:{global}:held       hash: sender -> ciphertext bytes waiting in all mailboxes
//   shido:{global}:codes, shido:{global}:failures  the server-wide windows
//   shido:{global}:arrivals   a pub/sub channel, not a key: each stored message's recipient
//   shido:{global}:windows    sorted set: every window key by when its newest event leaves
//
// Scripts that touch more than one slot (standalone Redis and a replica set do not care;
// Redis Cluster refuses them): add_user, put and ack (the account's slot and the totals and
// holdings of {global}, for --max-stored-bytes and each sender's share of the store), and
// take_rate_slots (the phone's, the address's and {global}'s windows). On a Cluster these
// would be split: the account's part stays one script (so the mailbox's own limits and its
// senders' shares stay exact), and the global counters become per-node budgets (the store's
// limit divided among the nodes) or are checked in a second step: the global limits then
// become approximate, never the per-account ones.
namespace {

std::string account_key(const std::string& phone, std::string_view part) {
  return "shido:{" + phone + "}:" + std::string(part);
}
std::string address_key(const std::string& address, std::string_view part) {
  return "shido:addr:{" + address + "}:" + std::string(part);
}
std::string global_key(std::string_view part) { return "shido:{global}:" + std::string(part); }

std::string number(std::int64_t value) { return std::to_string(value); }
std::string size_number(std::size_t value) { return number(static_cast<std::int64_t>(value)); }
std::string milliseconds(Clock::duration duration) {
  return number(std::chrono::duration_cast<std::chrono::milliseconds>(duration).count());
}

// A reply's integer, or a string holding one (HGET); `fallback` for nil or anything else.
std::int64_t integer_of(ReplyView reply, std::int64_t fallback = 0) {
  if (reply.is_integer()) return reply.integer();
  const std::string_view text = reply.text();
  std::int64_t value = fallback;
  if (std::from_chars(text.data(), text.data() + text.size(), value).ec != std::errc()) {
    return fallback;
  }
  return value;
}

// How long a long-poll that could not read Redis waits before its error, so that a client
// asking again at once does not spin.
constexpr auto kUnavailableWait = std::chrono::seconds(1);

}  // namespace

Result<std::unique_ptr<RedisStore>> RedisStore::open(const RedisStoreOptions& options,
                                                     const TimeSource& time, Limits limits) {
  auto store = std::make_unique<RedisStore>(options, time, limits);
  auto connection = store->pool_->lease();
  if (auto pong = connection->command({"PING"}); !pong.ok()) return pong.error();
  return store;
}

RedisStore::RedisStore(const RedisStoreOptions& options, const TimeSource& time, Limits limits)
    : time_(time),
      limits_(limits),
      pool_(std::make_unique<RedisPool>(options.address, options.pool_size, RedisTimeouts{}, time,
                                        options.on_reachability)),
      scripts_(std::make_unique<const RedisScripts>()),
      put_arguments_{size_number(limits.mailbox_max_messages),
                     size_number(limits.mailbox_max_bytes),
                     size_number(limits.store_max_bytes),
                     size_number(limits.sender_share_messages),
                     size_number(limits.sender_share_bytes),
                     size_number(limits.store_max_bytes / limits.sender_share_of_store),
                     global_key("arrivals")},
      arrivals_(std::make_unique<RedisArrivals>(
          options.address, global_key("arrivals"),
          ArrivalCallbacks{
              [this](const std::string& phone) { wake(phone); }, [this] { wake_all(); },
              [this, report = options.subscription_state](bool up, const std::string& why) {
                // Redis may be gone: every long-poll reads again, and returns
                // the error rather than wait out its time.
                if (!up) wake_all();
                if (report) report(up, why);
              }})) {}

RedisStore::~RedisStore() = default;

Result<std::optional<User>> RedisStore::find_user(const std::string& phone) const {
  auto connection = pool_->lease();
  auto reply =
      connection->command({"HMGET", account_key(phone, "user"), "email", "key", "salt", "hash"});
  if (!reply.ok()) return reply.error();
  const ReplyView fields = reply.value().view();
  if (fields.size() != 4) return Error{Errc::kIo, "storage unavailable: a bad account reply"};
  if (fields[0].is_nil()) return std::optional<User>();
  auto key = sender_keys_.from_der(as_bytes(fields[1].text()));
  if (!key.ok()) return Error{Errc::kIo, "storage unavailable: a damaged account key in redis"};
  const auto bytes_of = [](std::string_view text) { return Bytes(text.begin(), text.end()); };
  return std::optional<User>(User{phone, std::string(fields[0].text()), std::move(key).value(),
                                  bytes_of(fields[2].text()), bytes_of(fields[3].text())});
}

Result<AddUserResult> RedisStore::add_user(User user) {
  auto connection = pool_->lease();
  const Bytes& key = user.public_key.der();
  auto added =
      scripts_->add_user.run(*connection, {account_key(user.phone, "user"), global_key("totals")},
                             {user.email, std::string(key.begin(), key.end()),
                              std::string(user.code_salt.begin(), user.code_salt.end()),
                              std::string(user.code_hash.begin(), user.code_hash.end())});
  if (!added.ok()) return added.error();
  return added.value().view().integer() == 1 ? AddUserResult::kAdded : AddUserResult::kPhoneTaken;
}

Result<std::optional<RateRefusal>> RedisStore::take_code_slot(const std::string& phone,
                                                              const std::string& address) {
  // Every limit is checked before any is counted, as in the memory store; the failure
  // windows are checked (a code nobody may try is not sent) but not counted.
  return take_slots(
      {RateLimit::kCodesPerPhoneFromAddress, RateLimit::kCodesPerAddress, RateLimit::kCodesPerPhone,
       RateLimit::kCodesPerMinute, RateLimit::kFailuresPerPhone, RateLimit::kFailuresPerAddress,
       RateLimit::kFailuresPerDay},
      4, phone, address);
}

Result<std::optional<RateRefusal>> RedisStore::take_failed_proof_slot(const std::string& phone,
                                                                      const std::string& address) {
  return take_slots(
      {RateLimit::kFailuresPerPhone, RateLimit::kFailuresPerAddress, RateLimit::kFailuresPerDay}, 3,
      phone, address);
}

namespace {

// One limit's window: its key, how many events it allows and in how long.
struct Window {
  std::string key;
  int limit;
  Clock::duration length;
};

Window window_of(RateLimit limit, const Limits& limits, const std::string& phone,
                 const std::string& address) {
  switch (limit) {
    case RateLimit::kCodesPerPhoneFromAddress:
      return {account_key(phone, "codes-from:" + address), limits.codes_per_phone_per_address,
              limits.phone_code_window};
    case RateLimit::kCodesPerAddress:
      return {address_key(address, "codes"), limits.codes_per_address, limits.address_code_window};
    case RateLimit::kCodesPerPhone:
      return {account_key(phone, "codes"), limits.codes_per_phone, limits.phone_code_window};
    case RateLimit::kCodesPerMinute:
      return {global_key("codes"), limits.codes_per_minute, limits.server_code_window};
    case RateLimit::kFailuresPerPhone:
      return {account_key(phone, "failures"), limits.failed_registrations_per_phone,
              limits.failure_window};
    case RateLimit::kFailuresPerAddress:
      return {address_key(address, "failures"), limits.failed_registrations_per_address,
              limits.failure_window};
    case RateLimit::kFailuresPerDay:
      break;
  }
  return {global_key("failures"), limits.failed_registrations_per_day, limits.failure_window};
}

}  // namespace

Result<std::optional<RateRefusal>> RedisStore::take_slots(const std::vector<RateLimit>& checks,
                                                          std::size_t counted,
                                                          const std::string& phone,
                                                          const std::string& address) {
  std::vector<std::string> keys;
  std::vector<std::string> args = {number(time_.unix_ms()), to_hex(random_bytes(8)),
                                   size_number(counted)};
  for (RateLimit limit : checks) {
    Window window = window_of(limit, limits_, phone, address);
    keys.push_back(std::move(window.key));
    args.push_back(number(std::max(window.limit, 1)));  // RateWindow's floor
    args.push_back(milliseconds(window.length));
  }
  keys.push_back(global_key("windows"));
  auto connection = pool_->lease();
  auto taken = scripts_->take_rate_slots.run(*connection, keys, args);
  if (!taken.ok()) return taken.error();
  const ReplyView answer = taken.value().view();
  if (answer.size() != 2) return Error{Errc::kIo, "storage unavailable: a bad rate-limit reply"};
  const std::int64_t refused = answer[0].integer();
  if (refused <= 0 || static_cast<std::size_t>(refused) > checks.size())
    return std::optional<RateRefusal>();
  return std::optional<RateRefusal>(RateRefusal{checks[static_cast<std::size_t>(refused) - 1],
                                                std::chrono::milliseconds(answer[1].integer())});
}

void RedisStore::return_failed_proof_slot(const std::string& phone, const std::string& address) {
  auto connection = pool_->lease();
  // When Redis cannot be reached the slot stays taken: fail closed.
  (void)scripts_->return_rate_slots.run(
      *connection,
      {window_of(RateLimit::kFailuresPerPhone, limits_, phone, address).key,
       window_of(RateLimit::kFailuresPerAddress, limits_, phone, address).key,
       window_of(RateLimit::kFailuresPerDay, limits_, phone, address).key},
      {});
}

std::size_t RedisStore::rate_limit_keys() const {
  auto connection = pool_->lease();
  const std::string after_now = "(" + number(time_.unix_ms());
  auto live = connection->command({"ZCOUNT", global_key("windows"), after_now, "+inf"});
  return live.ok() ? static_cast<std::size_t>(live.value().view().integer()) : 0;
}

Result<std::optional<Clock::duration>> RedisStore::lock_remaining(const std::string& phone) const {
  auto connection = pool_->lease();
  using Remaining = std::optional<Clock::duration>;
  auto until = connection->command({"HGET", account_key(phone, "lock"), "until"});
  if (!until.ok()) return until.error();
  const std::int64_t remaining = integer_of(until.value().view()) - time_.unix_ms();
  if (remaining <= 0) return Remaining();
  return Remaining(std::chrono::milliseconds(remaining));
}

Result<int> RedisStore::connect_attempts_left(const std::string& phone) const {
  auto connection = pool_->lease();
  auto failures = connection->command({"HGET", account_key(phone, "lock"), "failures"});
  if (!failures.ok()) return failures.error();
  return limits_.failures_before_lock - static_cast<int>(integer_of(failures.value().view()));
}

Result<FailureResult> RedisStore::record_connect_failure(const std::string& phone) {
  auto connection = pool_->lease();
  auto left = scripts_->connect_failure.run(
      *connection, {account_key(phone, "lock")},
      {number(time_.unix_ms()), number(limits_.failures_before_lock),
       milliseconds(limits_.lock_base), milliseconds(limits_.lock_max)});
  if (!left.ok()) return left.error();
  return FailureResult{static_cast<int>(left.value().view().integer())};
}

Status RedisStore::record_connect_success(const std::string& phone) {
  auto connection = pool_->lease();
  if (auto cleared = connection->command({"DEL", account_key(phone, "lock")}); !cleared.ok()) {
    return cleared.error();
  }
  return {};
}

std::mutex& RedisStore::connect_mutex(const std::string& phone) {
  return connect_stripes_[std::hash<std::string>{}(phone) % connect_stripes_.size()];
}

// The puts one connection began and has not finished, sent to Redis together, in one round
// trip, when the first of them is finished: a connection with a window of sends in flight
// pays one round trip for the window, as the disk store pays one sync.
struct RedisStore::PutBatch {
  struct Put {
    std::string recipient;
    std::vector<std::string> keys;  // the put script's five of this message
    std::vector<std::string> args;  // and its six
  };
  std::vector<Put> puts;
  std::vector<Result<PutResult>> outcomes;  // one per put, once sent
  bool sent = false;
};

namespace {

class BatchedPut final : public PutInProgress {
 public:
  BatchedPut(RedisStore& store, std::shared_ptr<RedisStore::PutBatch> batch, std::size_t index,
             std::string id)
      : store_(store), batch_(std::move(batch)), index_(index), id_(std::move(id)) {}
  ~BatchedPut() override {
    // Begun is sent, as Store promises; a failure here (out of memory) has no one to tell,
    // and its outcome was never promised to the client.
    try {
      if (!batch_->sent) store_.send(*batch_);
    } catch (...) {  // NOLINT(bugprone-empty-catch): see above
    }
  }
  BatchedPut(const BatchedPut&) = delete;
  BatchedPut& operator=(const BatchedPut&) = delete;

  Result<PutResult> finish() override {
    if (!batch_->sent) store_.send(*batch_);
    const Result<PutResult>& outcome = batch_->outcomes[index_];
    if (!outcome.ok()) return outcome.error();
    return outcome.value();
  }
  const std::string& id() const override { return id_; }

 private:
  RedisStore& store_;
  std::shared_ptr<RedisStore::PutBatch> batch_;
  std::size_t index_;
  std::string id_;
};

Result<PutResult> put_outcome(ReplyView reply) {
  static constexpr std::array kOutcomes = {
      PutResult::kStored,    PutResult::kNoSuchUser,      PutResult::kMailboxFull,
      PutResult::kStoreFull, PutResult::kSenderShareFull, PutResult::kSenderStoreShareFull};
  const std::int64_t code = reply.is_integer() ? reply.integer() : -1;
  if (code < 0 || static_cast<std::size_t>(code) >= kOutcomes.size()) {
    return Error{Errc::kIo, "storage unavailable: the put script answered " + number(code)};
  }
  return kOutcomes[static_cast<std::size_t>(code)];
}

}  // namespace

std::unique_ptr<PutInProgress> RedisStore::start_put(const std::string& recipient,
                                                     StoredMessage message) {
  // Random, as in the memory store: unique across servers and restarts without a counter.
  message.id = to_hex(random_bytes(16));
  message.stored_at_ms = time_.unix_ms();
  const std::size_t size = message.ciphertext_size();
  PutBatch::Put put{recipient,
                    {account_key(recipient, "user"), account_key(recipient, "box"),
                     account_key(recipient, "order"), account_key(recipient, "messages"),
                     account_key(recipient, "shares")},
                    {recipient, message.id, message.sender_phone, size_number(size),
                     size_number(message.envelope.size()), encode_redis_message(message)}};
  std::shared_ptr<PutBatch> batch = open_batch();
  const std::size_t index = batch->puts.size();
  batch->puts.push_back(std::move(put));
  return std::make_unique<BatchedPut>(*this, std::move(batch), index, std::move(message.id));
}

std::shared_ptr<RedisStore::PutBatch> RedisStore::open_batch() {
  std::lock_guard lock(batches_mutex_);
  std::weak_ptr<PutBatch>& open = open_batches_[std::this_thread::get_id()];
  std::shared_ptr<PutBatch> batch = open.lock();
  if (!batch || batch->sent) {
    batch = std::make_shared<PutBatch>();
    open = batch;
  }
  return batch;
}

void RedisStore::send(PutBatch& batch) {
  {
    // Puts begun after this one go in a batch of their own.
    std::lock_guard lock(batches_mutex_);
    auto open = open_batches_.find(std::this_thread::get_id());
    if (open != open_batches_.end() && open->second.lock().get() == &batch) {
      open_batches_.erase(open);
    }
  }
  std::vector<std::string> keys = {global_key("totals"), global_key("held")};
  std::vector<std::string> args = put_arguments_;
  for (const PutBatch::Put& put : batch.puts) {
    keys.insert(keys.end(), put.keys.begin(), put.keys.end());
    args.insert(args.end(), put.args.begin(), put.args.end());
  }
  Result<RedisReply> reply = scripts_->put.run(*pool_->lease(), keys, args);
  batch.sent = true;
  const std::size_t count = batch.puts.size();
  if (reply.ok() && reply.value().view().size() != count) {
    reply = Error{Errc::kIo, "storage unavailable: the put script answered no codes"};
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (!reply.ok()) {
      batch.outcomes.emplace_back(reply.error());
      continue;
    }
    batch.outcomes.push_back(put_outcome(reply.value().view()[i]));
    if (batch.outcomes.back().ok() && batch.outcomes.back().value() == PutResult::kStored) {
      messages_stored_ += 1;
      // At once, not after the publication's trip, nor only while subscribed; the
      // publication wakes it again, harmlessly, and the waiters on other servers.
      wake(batch.puts[i].recipient);
    }
  }
}

Result<std::vector<MessagePtr>> RedisStore::read_mailbox(const std::string& phone,
                                                         std::size_t max) {
  std::vector<MessagePtr> out;
  if (max == 0) return out;
  auto connection = pool_->lease();
  auto read = scripts_->fetch.run(*connection,
                                  {account_key(phone, "order"), account_key(phone, "messages")},
                                  {size_number(std::min<std::size_t>(max, INT32_MAX))});
  if (!read.ok()) return read.error();
  const ReplyView pairs = read.value().view();
  out.reserve(pairs.size() / 2);
  for (std::size_t i = 0; i + 1 < pairs.size(); i += 2) {
    auto message =
        decode_redis_message(std::string(pairs[i].text()), pairs[i + 1].text(), sender_keys_);
    if (!message) return Error{Errc::kIo, "storage unavailable: a damaged message in redis"};
    out.push_back(std::make_shared<const StoredMessage>(std::move(*message)));
  }
  return out;
}

void RedisStore::wake(const std::string& phone) {
  std::lock_guard lock(waiters_mutex_);
  auto found = waiters_.find(phone);
  if (found == waiters_.end()) return;  // nobody waits here: nothing to count
  found->second.arrivals += 1;
  found->second.arrived.notify_all();
}

void RedisStore::wake_all() {
  std::lock_guard lock(waiters_mutex_);
  for (auto& [phone, waiters] : waiters_) {
    waiters.arrivals += 1;
    waiters.arrived.notify_all();
  }
}

Result<std::vector<MessagePtr>> RedisStore::fetch(const std::string& phone, std::size_t max,
                                                  Clock::duration wait) {
  bool waits = false;
  std::uint64_t seen = 0;
  {
    std::lock_guard lock(waiters_mutex_);
    if (wait > Clock::duration::zero() && !stopping_) {
      // Registered before Redis is read: a put that lands after the read still wakes us.
      Waiters& waiters = waiters_[phone];
      waiters.count += 1;
      seen = waiters.arrivals;
      waits = true;
    }
  }
  auto messages = read_mailbox(phone, max);
  if (waits && (!messages.ok() || messages.value().empty())) {
    // Nothing waiting: wait for an arrival (or, when Redis could not be read, a moment before
    // the error, so that a client that asks again at once does not spin). A wake-up that
    // brings nothing (every waiter wakes after a resubscription) waits on.
    const TimePoint until =
        Clock::now() + (messages.ok() ? wait : std::min<Clock::duration>(wait, kUnavailableWait));
    bool arrived = false;
    do {
      arrived = wait_for_arrival(phone, seen, until);
      if (messages.ok()) messages = read_mailbox(phone, max);
    } while (arrived && messages.ok() && messages.value().empty());
  }
  if (waits) {
    std::lock_guard lock(waiters_mutex_);
    auto found = waiters_.find(phone);
    if (--found->second.count == 0) waiters_.erase(found);
  }
  if (!messages.ok()) return messages.error();
  messages_fetched_ += messages.value().size();
  return messages;
}

bool RedisStore::wait_for_arrival(const std::string& phone, std::uint64_t& seen, TimePoint until) {
  std::unique_lock lock(waiters_mutex_);
  Waiters& waiters = waiters_.at(phone);
  waiters.arrived.wait_until(lock, until, [&] { return stopping_ || waiters.arrivals != seen; });
  const bool arrived = !stopping_ && waiters.arrivals != seen;
  seen = waiters.arrivals;
  return arrived;
}

Result<AckResult> RedisStore::ack(const std::string& phone, const std::vector<std::string>& ids) {
  auto connection = pool_->lease();
  auto acked = scripts_->ack.run(
      *connection,
      {account_key(phone, "order"), account_key(phone, "messages"), account_key(phone, "box"),
       account_key(phone, "shares"), global_key("totals"), global_key("held")},
      ids);
  if (!acked.ok()) return acked.error();
  const ReplyView answer = acked.value().view();
  if (answer.size() != 2) return Error{Errc::kIo, "storage unavailable: a bad ack reply"};
  return AckResult{static_cast<int>(answer[0].integer()), static_cast<int>(answer[1].integer())};
}

std::size_t RedisStore::waiting(const std::string& phone) const {
  auto connection = pool_->lease();
  auto count = connection->command({"ZCARD", account_key(phone, "order")});
  return count.ok() ? static_cast<std::size_t>(count.value().view().integer()) : 0;
}

void RedisStore::shutdown() {
  std::lock_guard lock(waiters_mutex_);
  stopping_ = true;
  for (auto& [phone, waiters] : waiters_) waiters.arrived.notify_all();
}

StoreCounts RedisStore::counts() const {
  StoreCounts counts;
  counts.messages_stored = messages_stored_.load();
  counts.messages_fetched = messages_fetched_.load();
  auto connection = pool_->lease();
  auto totals = connection->command(
      {"HMGET", global_key("totals"), "users", "messages", "bytes", "envelope_bytes"});
  if (!totals.ok() || totals.value().view().size() != 4) return counts;
  const ReplyView fields = totals.value().view();
  const auto size_at = [&](std::size_t i) {
    return static_cast<std::size_t>(std::max<std::int64_t>(integer_of(fields[i]), 0));
  };
  counts.users = size_at(0);
  counts.messages = size_at(1);
  counts.ciphertext_bytes = size_at(2);
  counts.envelope_bytes = size_at(3);
  return counts;
}

Result<bool> RedisStore::holds_accounts() const {
  auto connection = pool_->lease();
  auto users = connection->command({"HGET", global_key("totals"), "users"});
  if (!users.ok()) return users.error();
  if (integer_of(users.value().view()) > 0) return true;
  // The totals may be gone while accounts are not (a key deleted by hand): look for one.
  std::string cursor = "0";
  do {
    auto page = connection->command({"SCAN", cursor, "MATCH", "shido:{*}:user", "COUNT", "1000"});
    if (!page.ok()) return page.error();
    const ReplyView reply = page.value().view();
    if (reply.size() != 2) return Error{Errc::kIo, "storage unavailable: a bad SCAN reply"};
    if (reply[1].size() > 0) return true;
    cursor = std::string(reply[0].text());
  } while (cursor != "0");
  return false;
}

// Like put, the script touches {global}'s totals and holdings too (see the top).
Status RedisStore::import_account(const ImportedAccount& account) {
  const std::string& phone = account.user.phone;
  const auto text = [](const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); };
  const std::vector<std::string> keys = {
      account_key(phone, "user"),     account_key(phone, "lock"),
      account_key(phone, "box"),      account_key(phone, "order"),
      account_key(phone, "messages"), account_key(phone, "shares"),
      global_key("totals"),           global_key("held")};
  std::vector<std::string> args = {account.user.email,
                                   text(account.user.public_key.der()),
                                   text(account.user.code_salt),
                                   text(account.user.code_hash),
                                   number(account.failures),
                                   number(account.locks),
                                   number(account.locked_until_unix_ms)};
  args.reserve(args.size() + 5 * account.mailbox.size());
  for (const MessagePtr& message : account.mailbox) {
    args.push_back(message->id);
    args.push_back(message->sender_phone);
    args.push_back(size_number(message->ciphertext_size()));
    args.push_back(size_number(message->envelope.size()));
    args.push_back(encode_redis_message(*message));
  }
  auto connection = pool_->lease();
  auto written = scripts_->import_account.run(*connection, keys, args);
  if (!written.ok()) return written.error();
  if (written.value().view().integer() != 1)
    return Error{Errc::kBadValue, "redis already holds the account " + phone};
  return {};
}

}  // namespace shido::server
