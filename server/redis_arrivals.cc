#include "server/redis_arrivals.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace shido::server {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct FreeContext {
  void operator()(redisContext* context) const { redisFree(context); }
};

Error failed(std::string why) { return Error{Errc::kIo, std::move(why)}; }

// hiredis's own words for what broke the context.
Error lost(const redisContext& context) {
  return failed(context.err != 0 ? context.errstr : "the connection failed");
}

void append(redisContext& context, const std::vector<std::string_view>& args) {
  std::vector<const char*> pointers;
  std::vector<std::size_t> lengths;
  for (std::string_view arg : args) {
    pointers.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  // Only buffers the command (it fails only without memory, which flush() then finds).
  (void)redisAppendCommandArgv(&context, static_cast<int>(args.size()), pointers.data(),
                               lengths.data());
}

}  // namespace

RedisArrivals::RedisArrivals(RedisAddress address, std::string channel, ArrivalCallbacks callbacks,
                             RedisTimeouts timeouts, RedisBackoff backoff)
    : address_(std::move(address)),
      channel_(std::move(channel)),
      callbacks_(std::move(callbacks)),
      timeouts_(timeouts),
      backoff_(backoff) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw std::system_error(errno, std::generic_category(), "cannot create a pipe");
  }
  stop_read_.reset(pipe_fds[0]);
  stop_write_.reset(pipe_fds[1]);
  thread_ = std::thread([this] { run(); });
}

RedisArrivals::~RedisArrivals() { stop(); }

void RedisArrivals::stop() {
  stopping_ = true;
  const char byte = 1;
  // The pipe is never drained: one byte keeps every later wait from blocking.
  [[maybe_unused]] const ssize_t n = ::write(stop_write_.get(), &byte, 1);
  if (thread_.joinable()) thread_.join();
}

void RedisArrivals::run() {
  auto delay = backoff_.first;
  while (!stopping_) {
    bool subscribed = false;
    try {
      const std::string why = listen(subscribed);
      if (stopping_) return;
      if (subscribed) delay = backoff_.first;
      report(false, address_.describe() + ": " + why + "; retrying in " +
                        std::to_string(delay.count()) + " ms");
    } catch (...) {
      // A callback threw (or memory ran out): a lost connection like any other, untold.
      if (subscribed) delay = backoff_.first;
    }
    if (wait(-1, 0, SteadyClock::now() + delay) == Wake::kStopped) return;
    delay = std::min(delay * 2, backoff_.longest);
  }
}

std::string RedisArrivals::listen(bool& subscribed) {
  // Non-blocking throughout, so that every wait is a poll() that also watches stop().
  const std::unique_ptr<redisContext, FreeContext> context(
      redisConnectNonBlock(address_.host.c_str(), address_.port));
  if (!context) return "out of memory";
  if (context->err != 0) return context->errstr;
  // A non-blocking connect is over when the socket is writable; SO_ERROR says how it went.
  switch (wait(context->fd, POLLOUT, SteadyClock::now() + timeouts_.connect)) {
    case Wake::kReady:
      break;
    case Wake::kTimeout:
      return "no connection in time";
    case Wake::kStopped:
      return "stopping";
  }
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(context->fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) return std::strerror(error);
  (void)redisEnableKeepAlive(context.get());  // best effort: finds a dead peer sooner

  // No SELECT: channels are the same in every database.
  const Deadline answer_by = SteadyClock::now() + timeouts_.command;
  if (!address_.password.empty()) append(*context, {"AUTH", address_.password});
  append(*context, {"SUBSCRIBE", channel_});
  if (Status sent = flush(*context, answer_by); !sent.ok()) return sent.error().message;
  if (!address_.password.empty()) {
    // Redis's answer (WRONGPASS ...) never repeats the password.
    if (auto auth = read_reply(*context, answer_by); !auth.ok()) return auth.error().message;
  }
  auto confirmed = read_reply(*context, answer_by);
  if (!confirmed.ok()) return confirmed.error().message;
  if (const ReplyView view = confirmed.value().view();
      view.size() != 3 || view[0].text() != "subscribe") {
    return "an unexpected answer to SUBSCRIBE";
  }
  subscribed = true;
  report(true, "subscribed to " + channel_ + " at " + address_.describe());
  if (callbacks_.resubscribed) callbacks_.resubscribed();

  for (;;) {
    auto reply = read_reply(*context, std::nullopt);
    if (!reply.ok()) return reply.error().message;
    // {"message", channel, phone}; anything else is not an arrival.
    const ReplyView view = reply.value().view();
    if (view.size() == 3 && view[0].text() == "message" && callbacks_.arrived) {
      callbacks_.arrived(std::string(view[2].text()));
    }
  }
}

Status RedisArrivals::flush(redisContext& context, Deadline deadline) const {
  for (;;) {
    int done = 0;
    if (redisBufferWrite(&context, &done) != REDIS_OK) return lost(context);
    if (done != 0) return {};
    switch (wait(context.fd, POLLOUT, deadline)) {
      case Wake::kReady:
        break;
      case Wake::kTimeout:
        return failed("redis took no command in time");
      case Wake::kStopped:
        return failed("stopping");
    }
  }
}

Result<RedisReply> RedisArrivals::read_reply(redisContext& context, Deadline deadline) const {
  for (;;) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(&context, &raw) != REDIS_OK) return lost(context);
    if (raw != nullptr) {
      auto* const node = static_cast<redisReply*>(raw);
      RedisReply reply(node);
      if (node->type == REDIS_REPLY_ERROR) {
        return failed("redis said: " + std::string(node->str, node->len));
      }
      return reply;
    }
    switch (wait(context.fd, POLLIN, deadline)) {
      case Wake::kReady:
        break;
      case Wake::kTimeout:
        return failed("redis did not answer in time");
      case Wake::kStopped:
        return failed("stopping");
    }
    // One read(): the socket is readable (or failed, which this then reports).
    if (redisBufferRead(&context) != REDIS_OK) return lost(context);
  }
}

void RedisArrivals::report(bool up, const std::string& why) {
  if (reported_ == up) return;
  reported_ = up;
  if (callbacks_.state) callbacks_.state(up, why);
}

RedisArrivals::Wake RedisArrivals::wait(int fd, short events, Deadline deadline) const {
  std::array<pollfd, 2> polled{{{stop_read_.get(), POLLIN, 0}, {fd, events, 0}}};
  for (;;) {
    int timeout = -1;
    if (deadline) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(*deadline - SteadyClock::now());
      timeout = static_cast<int>(std::clamp<long long>(left.count(), 0, INT_MAX));
    }
    const int ready = ::poll(polled.data(), polled.size(), timeout);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return Wake::kTimeout;  // no memory for poll(): the caller gives up
    if (polled[0].revents != 0) return Wake::kStopped;
    if (polled[1].revents != 0) return Wake::kReady;  // an error or a hang-up too: read it
    if (ready == 0) return Wake::kTimeout;
  }
}

}  // namespace shido::server
