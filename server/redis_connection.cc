#include "server/redis_connection.h"

#include <sys/time.h>

#include <utility>

namespace shido::server {
namespace {

timeval to_timeval(std::chrono::milliseconds duration) {
  timeval out{};
  out.tv_sec = static_cast<time_t>(duration.count() / 1000);
  out.tv_usec = static_cast<suseconds_t>((duration.count() % 1000) * 1000);
  return out;
}

constexpr std::string_view kUnavailable = "storage unavailable: redis at ";
constexpr std::string_view kRefused = "storage unavailable: redis said: ";
constexpr std::string_view kUnknownScript = "NOSCRIPT";

// An error of send() without "storage unavailable: " or "...: redis at HOST:PORT/DB: ", so
// that a failed AUTH or SELECT reads "redis said: WRONGPASS ..." in connect()'s error.
std::string reason_of(const Error& error, const RedisAddress& address) {
  const std::string lost_prefix = std::string(kUnavailable) + address.describe() + ": ";
  if (error.message.starts_with(lost_prefix)) return error.message.substr(lost_prefix.size());
  constexpr std::string_view kStorage = "storage unavailable: ";
  if (error.message.starts_with(kStorage)) return error.message.substr(kStorage.size());
  return error.message;
}

}  // namespace

RedisConnection::RedisConnection(RedisAddress address, RedisTimeouts timeouts, RedisHealth* health)
    : address_(std::move(address)), timeouts_(timeouts), health_(health) {}

Error RedisConnection::lost(const std::string& what) {
  context_.reset();
  return Error{Errc::kIo, std::string(kUnavailable) + address_.describe() + ": " + what};
}

Status RedisConnection::connect() {
  std::optional<RedisHealth::Attempt> attempt;
  if (health_ != nullptr) {
    std::string why;
    attempt = health_->begin(why);
    if (!attempt) return lost(why);
  }
  std::optional<std::string> failure = open();
  if (health_ != nullptr) {
    if (failure) {
      health_->failed(*attempt, *failure);
    } else {
      health_->succeeded(*attempt);
    }
  }
  if (failure) return lost(*failure);
  return {};
}

std::optional<std::string> RedisConnection::open() {
  context_.reset(
      redisConnectWithTimeout(address_.host.c_str(), address_.port, to_timeval(timeouts_.connect)));
  if (!context_) return "out of memory";
  if (context_->err != 0) return std::string(context_->errstr);
  if (redisSetTimeout(context_.get(), to_timeval(timeouts_.command)) != REDIS_OK) {
    return "cannot set the command time-out";
  }
  (void)redisEnableKeepAlive(context_.get());  // best effort: finds a dead peer sooner
  if (!address_.password.empty()) {
    // Redis's answer (WRONGPASS ...) never repeats the password.
    if (auto auth = send({"AUTH", address_.password}); !auth.ok()) {
      return "AUTH: " + reason_of(auth.error(), address_);
    }
  }
  if (address_.db != 0) {
    const std::string db = std::to_string(address_.db);
    if (auto selected = send({"SELECT", db}); !selected.ok()) {
      return "SELECT: " + reason_of(selected.error(), address_);
    }
  }
  return std::nullopt;
}

Result<RedisReply> RedisConnection::command(const std::vector<std::string_view>& args) {
  if (!context_) {
    if (Status connected = connect(); !connected.ok()) return connected.error();
  }
  return send(args);
}

namespace {

// A reply as command() gives it: Redis's error replies become errors.
Result<RedisReply> reply_or_refusal(redisReply* node) {
  RedisReply reply(node);
  if (node->type == REDIS_REPLY_ERROR) {
    // The connection stays usable: Redis answered, and said no.
    return Error{Errc::kIo, std::string(kRefused) + std::string(node->str, node->len)};
  }
  return reply;
}

}  // namespace

Result<RedisReply> RedisConnection::send(const std::vector<std::string_view>& args) {
  std::vector<const char*> pointers;
  std::vector<std::size_t> lengths;
  pointers.reserve(args.size());
  lengths.reserve(args.size());
  for (std::string_view arg : args) {
    pointers.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  void* raw = redisCommandArgv(context_.get(), static_cast<int>(args.size()), pointers.data(),
                               lengths.data());
  if (raw == nullptr) return lost(context_->err != 0 ? context_->errstr : "no reply");
  return reply_or_refusal(static_cast<redisReply*>(raw));
}

bool RedisConnection::is_unknown_script(const Error& error) {
  return error.message.find(kUnknownScript) != std::string::npos;
}

bool RedisConnection::is_refusal(const Error& error) { return error.message.starts_with(kRefused); }

std::string_view RedisConnection::refusal_text(const Error& error) {
  if (!is_refusal(error)) return {};
  return std::string_view(error.message).substr(kRefused.size());
}

}  // namespace shido::server
