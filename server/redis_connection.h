// One connection to Redis (hiredis 0.14, blocking), owned: the context and every reply are
// freed by their std::unique_ptr, and nothing of hiredis leaves server/redis_*.
//
// A command that fails (Redis unreachable, a timeout, a reset) returns an error whose
// message begins "storage unavailable" and drops the context, so that the next command
// connects again; nothing throws. Redis's own error replies come back as errors too, with
// Redis's text. Given a RedisHealth (the pool's), a connection connects only when the
// health allows it, and tells it how the connect went.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/redis_health.h"
#include "server/redis_url.h"
#include "shido/result.h"

namespace shido::server {

// A node of a reply (the reply itself, or one of its elements); valid while its RedisReply
// lives.
class ReplyView {
 public:
  explicit ReplyView(const redisReply* reply) : reply_(reply) {}
  bool is_nil() const { return reply_->type == REDIS_REPLY_NIL; }
  bool is_integer() const { return reply_->type == REDIS_REPLY_INTEGER; }
  bool is_string() const {
    return reply_->type == REDIS_REPLY_STRING || reply_->type == REDIS_REPLY_STATUS;
  }
  bool is_array() const { return reply_->type == REDIS_REPLY_ARRAY; }
  std::int64_t integer() const { return reply_->integer; }
  // The bytes of a string (binary-safe), empty for other types.
  std::string_view text() const {
    return is_string() ? std::string_view(reply_->str, reply_->len) : std::string_view();
  }
  std::size_t size() const { return is_array() ? reply_->elements : 0; }
  ReplyView operator[](std::size_t index) const { return ReplyView(reply_->element[index]); }

 private:
  const redisReply* reply_;
};

class RedisReply {
 public:
  explicit RedisReply(redisReply* reply) : reply_(reply) {}
  ReplyView view() const { return ReplyView(reply_.get()); }

 private:
  struct Free {
    void operator()(redisReply* reply) const { freeReplyObject(reply); }
  };
  std::unique_ptr<redisReply, Free> reply_;
};

struct RedisTimeouts {
  std::chrono::milliseconds connect{2000};
  std::chrono::milliseconds command{5000};
};

class RedisConnection {
 public:
  // health (may be null: connect whenever needed) must outlive the connection.
  RedisConnection(RedisAddress address, RedisTimeouts timeouts, RedisHealth* health = nullptr);

  // Sends args as one command (each binary-safe) and reads its reply; connects first (with
  // AUTH and SELECT) when not connected.
  Result<RedisReply> command(const std::vector<std::string_view>& args);
  // True when the error is Redis saying it does not know a script's SHA (after a restart
  // or SCRIPT FLUSH): the caller loads it again.
  static bool is_unknown_script(const Error& error);
  // True when Redis answered and refused (an error reply: an unknown or forbidden command,
  // a wrong argument), false when Redis could not be reached.
  static bool is_refusal(const Error& error);
  // A refusal's text as Redis gave it ("ERR unknown command ..."); "" for other errors.
  static std::string_view refusal_text(const Error& error);

  const RedisAddress& address() const { return address_; }

 private:
  Status connect();
  // Connects, AUTHs and SELECTs; the reason when that failed (the context is then dropped).
  std::optional<std::string> open();
  Result<RedisReply> send(const std::vector<std::string_view>& args);
  // Drops the context after a failure that leaves its stream in an unknown state.
  Error lost(const std::string& what);

  struct Free {
    void operator()(redisContext* context) const { redisFree(context); }
  };
  const RedisAddress address_;
  const RedisTimeouts timeouts_;
  RedisHealth* const health_;
  std::unique_ptr<redisContext, Free> context_;
};

}  // namespace shido::server
