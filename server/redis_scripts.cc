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

// Stores the messages of one batch (a connection's sends in flight), in order, each within
// every limit as if alone: one script for the batch, so that Redis runs and logs one
// transaction, not one per message.
// KEYS: 1 the store's totals, 2 what each sender holds in all mailboxes (bytes); then five
//       per message: its recipient's account, mailbox {bytes, seq}, order (id by arrival),
//       messages (id -> record) and senders' shares ("<phone>:n", "<phone>:b").
// ARGV: the limits: 1 mailbox messages, 2 mailbox bytes, 3 store bytes, 4 share messages,
//       5 share bytes, 6 a sender's bytes in the whole store; 7 the arrivals channel; then
//       six per message: recipient, id, sender, ciphertext bytes, envelope bytes, record.
// Each recipient is published on the channel once its messages are stored
// (server/redis_arrivals.h): in the same step, so no server hears of one it cannot read.
// Returns one code per message: 0 stored, 1 no such user, 2 mailbox full, 3 store full, 4
// the sender's share of the mailbox used up, 5 the sender's share of the store used up
// (PutResult's order).
constexpr std::string_view kPut = R"lua(
local max_messages, max_bytes = tonumber(ARGV[1]), tonumber(ARGV[2])
local max_stored, max_share_n = tonumber(ARGV[3]), tonumber(ARGV[4])
local max_share_b, max_held = tonumber(ARGV[5]), tonumber(ARGV[6])
-- The store's counts and each sender's holdings, read once and written once at the end.
local totals = redis.call('HMGET', KEYS[1], 'bytes', 'envelope_bytes', 'messages')
local stored = tonumber(totals[1] or '0')
local envelopes, messages = tonumber(totals[2] or '0'), tonumber(totals[3] or '0')
local held, held_changed = {}, {}
local published = {}
local codes = {}

local function put(user, box_key, order_key, messages_key, shares_key,
                   recipient, id, sender, size, envelope, record)
  if redis.call('EXISTS', user) == 0 then return 1 end
  local box = redis.call('HMGET', box_key, 'bytes', 'seq')
  local box_bytes = tonumber(box[1] or '0')
  if redis.call('ZCARD', order_key) >= max_messages or box_bytes + size > max_bytes then
    return 2
  end
  if stored + size > max_stored then return 3 end
  local share = redis.call('HMGET', shares_key, sender .. ':n', sender .. ':b')
  local share_n, share_b = tonumber(share[1] or '0'), tonumber(share[2] or '0')
  if share_n > 0 and (share_n + 1 > max_share_n or share_b + size > max_share_b) then
    return 4
  end
  if held[sender] == nil then held[sender] = tonumber(redis.call('HGET', KEYS[2], sender) or '0') end
  if held[sender] + size > max_held then return 5 end
  local order = tonumber(box[2] or '0') + 1
  redis.call('ZADD', order_key, order, id)
  redis.call('HSET', messages_key, id, record)
  redis.call('HSET', box_key, 'bytes', box_bytes + size, 'seq', order)
  redis.call('HSET', shares_key, sender .. ':n', share_n + 1, sender .. ':b', share_b + size)
  stored, envelopes, messages = stored + size, envelopes + envelope, messages + 1
  held[sender] = held[sender] + size
  held_changed[sender] = true
  if not published[recipient] then
    published[recipient] = true
    redis.call('PUBLISH', ARGV[7], recipient)  -- to every server's waiters
  end
  return 0
end

for i = 0, (#ARGV - 7) / 6 - 1 do
  local k, a = 2 + 5 * i, 7 + 6 * i
  codes[#codes + 1] = put(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], KEYS[k + 5],
                          ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], tonumber(ARGV[a + 4]),
                          tonumber(ARGV[a + 5]), ARGV[a + 6])
end
if next(held_changed) then
  redis.call('HSET', KEYS[1], 'bytes', stored, 'envelope_bytes', envelopes, 'messages', messages)
  for sender in pairs(held_changed) do redis.call('HSET', KEYS[2], sender, held[sender]) end
end
return codes
)lua";

// KEYS: the mailbox's order and messages. ARGV: how many at most.
// Returns {id, record, id, record, ...}, oldest first. (HGET per id rather than one HMGET:
// Lua's unpack() has a limit on how many values it can spread.)
constexpr std::string_view kFetch = R"lua(
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then return {} end
local records = redis.call('HMGET', KEYS[2], unpack(ids))
local out = {}
for i, id in ipairs(ids) do
  if records[i] then out[#out + 1] = id; out[#out + 1] = records[i] end
end
return out
)lua";

// KEYS: the mailbox's order, messages, mailbox hash and shares; the totals; the senders'
//       holdings (as for put). ARGV: the ids.
// Deletes the ids that are there (each once) and gives their room back to the mailbox, the
// sender's shares and the store. Returns {deleted, still waiting}.
constexpr std::string_view kAck = R"lua(
local found, seen = {}, {}
local records = {}
-- In slices: Lua's unpack takes a few thousand values at most, and a frame may hold more ids.
for first = 1, #ARGV, 500 do
  local slice = redis.call('HMGET', KEYS[2], unpack(ARGV, first, math.min(first + 499, #ARGV)))
  for i, record in ipairs(slice) do
    local id = ARGV[first + i - 1]
    if record and not seen[id] then
      seen[id] = true
      found[#found + 1] = id
      records[#records + 1] = record
    end
  end
end
-- What the deleted messages held, in all and per sender: each count changes once.
local bytes, envelopes, senders = 0, 0, {}
for _, record in ipairs(records) do
  local size, envelope, sender = string.match(record, '^(%d+) (%d+) %-?%d+ (%S+) ')
  size = tonumber(size)
  bytes = bytes + size
  envelopes = envelopes + tonumber(envelope)
  local share = senders[sender]
  if not share then share = {0, 0}; senders[sender] = share end
  share[1] = share[1] + 1
  share[2] = share[2] + size
end
for first = 1, #found, 500 do
  local last = math.min(first + 499, #found)
  redis.call('ZREM', KEYS[1], unpack(found, first, last))
  redis.call('HDEL', KEYS[2], unpack(found, first, last))
end
if #found > 0 then
  redis.call('HINCRBY', KEYS[3], 'bytes', -bytes)
  for sender, share in pairs(senders) do
    if redis.call('HINCRBY', KEYS[4], sender .. ':n', -share[1]) <= 0 then
      redis.call('HDEL', KEYS[4], sender .. ':n', sender .. ':b')
    else
      redis.call('HINCRBY', KEYS[4], sender .. ':b', -share[2])
    end
    if redis.call('HINCRBY', KEYS[6], sender, -share[2]) <= 0 then
      redis.call('HDEL', KEYS[6], sender)
    end
  end
  redis.call('HINCRBY', KEYS[5], 'bytes', -bytes)
  redis.call('HINCRBY', KEYS[5], 'envelope_bytes', -envelopes)
  redis.call('HINCRBY', KEYS[5], 'messages', -#found)
end
return {#found, redis.call('ZCARD', KEYS[1])}
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
