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
constexpr std::string_view kUnknownScript = "NOSCRIPT";

}  // namespace

RedisConnection::RedisConnection(RedisAddress address, RedisTimeouts timeouts)
    : address_(std::move(address)), timeouts_(timeouts) {}

Error RedisConnection::lost(const std::string& what) {
  context_.reset();
  return Error{Errc::kIo, std::string(kUnavailable) + address_.describe() + ": " + what};
}

Status RedisConnection::connect() {
  context_.reset(
      redisConnectWithTimeout(address_.host.c_str(), address_.port, to_timeval(timeouts_.connect)));
  if (!context_) return lost("out of memory");
  if (context_->err != 0) return lost(context_->errstr);
  if (redisSetTimeout(context_.get(), to_timeval(timeouts_.command)) != REDIS_OK) {
    return lost("cannot set the command time-out");
  }
  (void)redisEnableKeepAlive(context_.get());  // best effort: finds a dead peer sooner
  if (!address_.password.empty()) {
    // Redis's answer (WRONGPASS ...) never repeats the password.
    if (auto auth = send({"AUTH", address_.password}); !auth.ok())
      return lost(auth.error().message);
  }
  if (address_.db != 0) {
    const std::string db = std::to_string(address_.db);
    if (auto selected = send({"SELECT", db}); !selected.ok()) return lost(selected.error().message);
  }
  return {};
}

Result<RedisReply> RedisConnection::command(const std::vector<std::string_view>& args) {
  if (!context_) {
    if (Status connected = connect(); !connected.ok()) return connected.error();
  }
  return send(args);
}

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
  auto* const node = static_cast<redisReply*>(raw);
  RedisReply reply(node);
  if (node->type == REDIS_REPLY_ERROR) {
    // The connection stays usable: Redis answered, and said no.
    return Error{Errc::kIo,
                 "storage unavailable: redis said: " + std::string(node->str, node->len)};
  }
  return reply;
}

bool RedisConnection::is_unknown_script(const Error& error) {
  return error.message.find(kUnknownScript) != std::string::npos;
}

}  // namespace shido::server
