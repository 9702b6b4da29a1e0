#include "server/redis_scripts.h"

namespace shido::server {
namespace {

// Sliding windows (the memory store's RateWindow): a sorted set per window and key, one
// member per event scored by its time. ZREMRANGEBYSCORE drops what has left the window;
// when `limit` events remain, one more may come once the oldest that must leave has left.
// Every window is also listed in an index scored by when its newest event leaves, so that
// counting the live windows costs one ZCOUNT; PEXPIRE lets Redis drop an idle window.
constexpr std::string_view kWindowFunctions = R"lua(
local function window_wait(key, limit, window, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count < limit then return 0 end
  local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
  return tonumber(oldest[2]) + window - now
end
local function window_add(key, window, now, event, index)
  redis.call('ZADD', key, now, event)
  redis.call('PEXPIRE', key, window)
  redis.call('ZADD', index, now + window, key)
end
)lua";

// KEYS: the windows to check, in the order of their limits, then the index.
// ARGV: now, an event id unique to this call, how many of the first windows to count in,
//       then a limit and a window length (ms) per window.
// Returns {0, 0} when the event was counted, else {n, wait}: the window n (from 1) that
// refuses longest (the first on a tie) and for how many ms. A refused event counts nowhere.
constexpr std::string_view kTakeRateSlots = R"lua(
local now = tonumber(ARGV[1])
local index = KEYS[#KEYS]
local windows = #KEYS - 1
local refused, longest = 0, 0
for i = 1, windows do
  local wait = window_wait(KEYS[i], tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i]), now)
  if wait > longest then refused, longest = i, wait end
end
if refused > 0 then return {refused, longest} end
redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
for i = 1, tonumber(ARGV[3]) do
  window_add(KEYS[i], tonumber(ARGV[3 + 2 * i]), now, ARGV[2], index)
end
return {0, 0}
)lua";

// KEYS: windows. Uncounts each one's newest event (a failed-proof slot given back).
constexpr std::string_view kReturnRateSlots = R"lua(
for i = 1, #KEYS do redis.call('ZPOPMAX', KEYS[i]) end
return 0
)lua";

// KEYS: the account, the totals. ARGV: e-mail, key (DER), code salt, code hash.
// Returns 1 when added, 0 when the phone was taken: the check and the write are one step,
// so that two servers registering one phone at once give exactly one account.
constexpr std::string_view kAddUser = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'email', ARGV[1], 'key', ARGV[2], 'salt', ARGV[3], 'hash', ARGV[4])
redis.call('HINCRBY', KEYS[2], 'users', 1)
return 1
)lua";

// KEYS: the phone's lockout hash {failures, locks, until}.
// ARGV: now, failures before a lock, the first lock's length and the longest (ms).
// Returns the attempts left, 0 when this failure started lock number `locks` (from 0), which
// lasts min(base * 2^locks, max); the failures count again from 0 with it.
constexpr std::string_view kConnectFailure = R"lua(
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0') + 1
local locks = tonumber(redis.call('HGET', KEYS[1], 'locks') or '0')
local before_lock = tonumber(ARGV[2])
if failures < before_lock then
  redis.call('HSET', KEYS[1], 'failures', failures, 'locks', locks)
  return before_lock - failures
end
local length = math.min(tonumber(ARGV[3]) * 2 ^ math.min(locks, 30), tonumber(ARGV[4]))
redis.call('HSET', KEYS[1], 'failures', 0, 'locks', locks + 1,
           'until', string.format('%d', tonumber(ARGV[1]) + length))
return 0
)lua";

// KEYS: 1 the recipient's account, 2 its mailbox {bytes, seq}, 3 its order (id by arrival),
//       4 its messages (id -> record), 5 its senders' shares ("<phone>:n", "<phone>:b"),
//       6 the store's totals, 7 what each sender holds in all mailboxes (bytes).
// ARGV: 1 id, 2 sender, 3 ciphertext bytes, 4 envelope bytes, 5 the record, then the
//       limits: 6 mailbox messages, 7 mailbox bytes, 8 store bytes, 9 share messages,
//       10 share bytes, 11 a sender's bytes in the whole store; then 12 the
//       arrivals channel and 13 the recipient's phone, published when the message is stored
//       (server/redis_arrivals.h): in the same step, so no server hears of one it cannot read.
// Returns 0 stored, 1 no such user, 2 mailbox full, 3 store full, 4 the sender's share of
// the mailbox used up, 5 the sender's share of the store used up (PutResult's order).
constexpr std::string_view kPut = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 1 end
local size = tonumber(ARGV[3])
local sender = ARGV[2]
local box_bytes = tonumber(redis.call('HGET', KEYS[2], 'bytes') or '0')
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[6]) or box_bytes + size > tonumber(ARGV[7]) then
  return 2
end
local stored = tonumber(redis.call('HGET', KEYS[6], 'bytes') or '0')
if stored + size > tonumber(ARGV[8]) then return 3 end
local share_n = tonumber(redis.call('HGET', KEYS[5], sender .. ':n') or '0')
local share_b = tonumber(redis.call('HGET', KEYS[5], sender .. ':b') or '0')
if share_n > 0 and (share_n + 1 > tonumber(ARGV[9]) or share_b + size > tonumber(ARGV[10])) then
  return 4
end
local held = tonumber(redis.call('HGET', KEYS[7], sender) or '0')
if held + size > tonumber(ARGV[11]) then return 5 end
local order = redis.call('HINCRBY', KEYS[2], 'seq', 1)
redis.call('ZADD', KEYS[3], order, ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[5])
redis.call('HINCRBY', KEYS[2], 'bytes', size)
redis.call('HINCRBY', KEYS[5], sender .. ':n', 1)
redis.call('HINCRBY', KEYS[5], sender .. ':b', size)
redis.call('HINCRBY', KEYS[6], 'bytes', size)
redis.call('HINCRBY', KEYS[6], 'envelope_bytes', tonumber(ARGV[4]))
redis.call('HINCRBY', KEYS[6], 'messages', 1)
redis.call('HINCRBY', KEYS[7], sender, size)
redis.call('PUBLISH', ARGV[12], ARGV[13])  -- the recipient, to every server's waiters
return 0
)lua";

// KEYS: the mailbox's order and messages. ARGV: how many at most.
// Returns {id, record, id, record, ...}, oldest first. (HGET per id rather than one HMGET:
// Lua's unpack() has a limit on how many values it can spread.)
constexpr std::string_view kFetch = R"lua(
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local out = {}
for _, id in ipairs(ids) do
  local record = redis.call('HGET', KEYS[2], id)
  if record then out[#out + 1] = id; out[#out + 1] = record end
end
return out
)lua";

// KEYS: the mailbox's order, messages, mailbox hash and shares; the totals; the senders'
//       holdings (as for put). ARGV: the ids.
// Deletes the ids that are there (each once) and gives their room back to the mailbox, the
// sender's shares and the store. Returns {deleted, still waiting}.
constexpr std::string_view kAck = R"lua(
local deleted = 0
for i = 1, #ARGV do
  local id = ARGV[i]
  local record = redis.call('HGET', KEYS[2], id)
  if record then
    local size, envelope, sender = string.match(record, '^(%d+) (%d+) %-?%d+ (%S+) ')
    size = tonumber(size)
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('HINCRBY', KEYS[3], 'bytes', -size)
    if redis.call('HINCRBY', KEYS[4], sender .. ':n', -1) <= 0 then
      redis.call('HDEL', KEYS[4], sender .. ':n', sender .. ':b')
    else
      redis.call('HINCRBY', KEYS[4], sender .. ':b', -size)
    end
    redis.call('HINCRBY', KEYS[5], 'bytes', -size)
    redis.call('HINCRBY', KEYS[5], 'envelope_bytes', -tonumber(envelope))
    redis.call('HINCRBY', KEYS[5], 'messages', -1)
    if redis.call('HINCRBY', KEYS[6], sender, -size) <= 0 then
      redis.call('HDEL', KEYS[6], sender)
    end
    deleted = deleted + 1
  end
end
return {deleted, redis.call('ZCARD', KEYS[1])}
)lua";

// KEYS: 1 the account, 2 its lockout hash, 3 its mailbox {bytes, seq}, 4 its order, 5 its
//       messages, 6 its senders' shares; 7 the totals, 8 the senders' holdings (as for put).
// ARGV: 1 e-mail, 2 key (DER), 3 code salt, 4 code hash, 5 failures, 6 locks, 7 locked
//       until (Unix ms; all three 0: no lockout), then per message, oldest first: id, sender,
//       ciphertext bytes, envelope bytes, record.
// Writes the account, its lockout and its mailbox as add_user, connect_failure and one put
// per message would have left them (without limits: the other store kept its own), in one
// step. Returns 1, or 0 and writes nothing when Redis holds any of the account's state.
constexpr std::string_view kImportAccount = R"lua(
for i = 1, 6 do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
redis.call('HSET', KEYS[1], 'email', ARGV[1], 'key', ARGV[2], 'salt', ARGV[3], 'hash', ARGV[4])
redis.call('HINCRBY', KEYS[7], 'users', 1)
if ARGV[5] ~= '0' or ARGV[6] ~= '0' then
  redis.call('HSET', KEYS[2], 'failures', ARGV[5], 'locks', ARGV[6], 'until', ARGV[7])
end
local order = 0
for i = 8, #ARGV, 5 do
  local id, sender = ARGV[i], ARGV[i + 1]
  local size, envelope = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  order = order + 1
  redis.call('ZADD', KEYS[4], order, id)
  redis.call('HSET', KEYS[5], id, ARGV[i + 4])
  redis.call('HINCRBY', KEYS[3], 'bytes', size)
  redis.call('HINCRBY', KEYS[6], sender .. ':n', 1)
  redis.call('HINCRBY', KEYS[6], sender .. ':b', size)
  redis.call('HINCRBY', KEYS[7], 'bytes', size)
  redis.call('HINCRBY', KEYS[7], 'envelope_bytes', envelope)
  redis.call('HINCRBY', KEYS[7], 'messages', 1)
  redis.call('HINCRBY', KEYS[8], sender, size)
end
if order > 0 then redis.call('HSET', KEYS[3], 'seq', order) end
return 1
)lua";

std::string with_windows(std::string_view body) {
  return std::string(kWindowFunctions) + std::string(body);
}

}  // namespace

RedisScripts::RedisScripts()
    : add_user(std::string(kAddUser)),
      take_rate_slots(with_windows(kTakeRateSlots)),
      return_rate_slots(std::string(kReturnRateSlots)),
      connect_failure(std::string(kConnectFailure)),
      put(std::string(kPut)),
      fetch(std::string(kFetch)),
      ack(std::string(kAck)),
      import_account(std::string(kImportAccount)) {}

Result<std::string> RedisScript::load(RedisConnection& connection) const {
  auto loaded = connection.command({"SCRIPT", "LOAD", source_});
  if (!loaded.ok()) return loaded.error();
  std::string sha(loaded.value().view().text());
  std::lock_guard lock(mutex_);
  sha_ = sha;
  return sha;
}

namespace {

// EVALSHA sha key_count keys... args..., as views into the strings given.
std::vector<std::string_view> evalsha_command(const std::string& sha, const std::string& key_count,
                                              const std::vector<std::string>& keys,
                                              const std::vector<std::string>& args) {
  std::vector<std::string_view> command = {"EVALSHA", sha, key_count};
  command.reserve(3 + keys.size() + args.size());
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  return command;
}

}  // namespace

Result<RedisReply> RedisScript::evalsha(RedisConnection& connection, const std::string& sha,
                                        const std::vector<std::string>& keys,
                                        const std::vector<std::string>& args) const {
  const std::string key_count = std::to_string(keys.size());
  return connection.command(evalsha_command(sha, key_count, keys, args));
}

Result<std::string> RedisScript::loaded_sha(RedisConnection& connection) const {
  {
    std::lock_guard lock(mutex_);
    if (!sha_.empty()) return sha_;
  }
  return load(connection);
}

std::vector<Result<RedisReply>> RedisScript::run_all(RedisConnection& connection,
                                                     const std::vector<Call>& calls) const {
  auto sha = loaded_sha(connection);
  std::vector<Result<RedisReply>> outcomes;
  if (!sha.ok()) {
    for (std::size_t i = 0; i < calls.size(); ++i) outcomes.emplace_back(sha.error());
    return outcomes;
  }
  std::vector<std::string> key_counts;
  key_counts.reserve(calls.size());
  std::vector<std::vector<std::string_view>> commands;
  commands.reserve(calls.size());
  for (const Call& call : calls) {
    key_counts.push_back(std::to_string(call.keys.size()));
    commands.push_back(evalsha_command(sha.value(), key_counts.back(), call.keys, call.args));
  }
  outcomes = connection.pipeline(commands);
  for (std::size_t i = 0; i < calls.size(); ++i) {
    if (!outcomes[i].ok() && RedisConnection::is_unknown_script(outcomes[i].error())) {
      outcomes[i] = run(connection, calls[i].keys, calls[i].args);
    }
  }
  return outcomes;
}

Result<RedisReply> RedisScript::run(RedisConnection& connection,
                                    const std::vector<std::string>& keys,
                                    const std::vector<std::string>& args) const {
  auto sha = loaded_sha(connection);
  if (!sha.ok()) return sha.error();
  auto reply = evalsha(connection, sha.value(), keys, args);
  if (reply.ok() || !RedisConnection::is_unknown_script(reply.error())) return reply;
  auto loaded = load(connection);
  if (!loaded.ok()) return loaded.error();
  return evalsha(connection, loaded.value(), keys, args);
}

}  // namespace shido::server
