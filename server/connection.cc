#include "server/connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <exception>

#include "shido/protocol/messages.h"

namespace shido::server {
namespace {

// Collects the replies to one request and writes them with one system call: a fetch
// answers with 1 + count frames. Past kFlushAt bytes it writes at once, so a large fetch
// never sits whole in memory. After the first failure it stops trying.
class SocketSink final : public ReplySink {
 public:
  explicit SocketSink(int fd) : fd_(fd) {}
  Status send(const Json& reply) override {
    if (broken_) return Error{Errc::kIo, "connection already broken"};
    append_frame(pending_, dump_json(reply));
    return pending_.size() >= kFlushAt ? flush() : Status{};
  }
  // Writes what the replies so far left in the buffer.
  Status flush() override {
    if (broken_) return Error{Errc::kIo, "connection already broken"};
    if (pending_.empty()) return {};
    Status written = write_all(fd_, pending_);
    pending_.clear();
    // An idle connection keeps no large buffer from its last big fetch.
    if (pending_.capacity() > kKeptCapacity) std::string().swap(pending_);
    if (!written.ok()) broken_ = true;
    return written;
  }
  bool broken() const { return broken_; }

 private:
  static constexpr std::size_t kFlushAt = std::size_t{64} * 1024;
  static constexpr std::size_t kKeptCapacity = std::size_t{4} * 1024;
  int fd_;
  std::string pending_;
  bool broken_ = false;
};

Json error_json(Code code, std::string description) {
  return ErrorReply{code, std::move(description), std::nullopt, std::nullopt}.to_json();
}

constexpr std::chrono::milliseconds kLinger{500};

}  // namespace

void half_close_and_drain(int fd, std::chrono::milliseconds linger) {
  ::shutdown(fd, SHUT_WR);
  const auto deadline = std::chrono::steady_clock::now() + linger;
  char discard[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd waiting{fd, POLLIN, 0};
    const int ready = ::poll(&waiting, 1, static_cast<int>(left.count()));
    if (ready <= 0) return;
    const ssize_t n = ::recv(fd, discard, sizeof discard, 0);
    if (n <= 0) return;  // the peer has read our reply and closed, or an error
  }
}

void serve_connection(ServerContext& context, const FrameLimits& limits,
                      std::size_t max_prelogin_frame, int fd, const std::string& peer) {
  FrameLimits prelogin = limits;
  prelogin.max_size = std::min(max_prelogin_frame, limits.max_size);
  Logger& logger = context.logger;
  // Outside the try: replies queued for requests already handled still go out if a later
  // one fails beyond repair (a client that missed a 118 would send its message again).
  SocketSink sink(fd);
  try {
    std::string phone;  // of the session, for the last line, which follows its end
    {
      Session session(context, peer);
      FrameReader reader(fd);
      logger.log(LogLevel::kDebug, peer, "", "connected");
      for (;;) {
        auto frame = reader.next(session.phone().empty() ? prelogin : limits);
        if (!frame.ok()) {
          session.settle(sink);
          const Errc error = frame.error().code;
          if (error == Errc::kFrameTooLarge || error == Errc::kFrameEmpty) {
            logger.log(LogLevel::kWarn, peer, session.phone(), "closing: " + frame.error().message);
            (void)sink.send(error_json(Code::kFrameTooLarge, frame.error().message));
            (void)sink.flush();
            half_close_and_drain(fd, kLinger);
          } else if (error != Errc::kConnectionClosed) {
            logger.log(LogLevel::kInfo, peer, session.phone(), "closing: " + frame.error().message);
          }
          break;
        }
        auto request = parse_frame_json(frame.value());
        if (!request.ok()) {
          session.settle(sink);
          (void)sink.send(error_json(Code::kBadRequest, request.error().message));
          if (!reader.frame_ready()) (void)sink.flush();
          if (sink.broken()) break;
          continue;
        }
        After after = After::kContinue;
        try {
          after = session.handle(request.value(), sink);
        } catch (const std::exception& error) {
          // A bug, or the machine out of resources: this request fails, the server goes on.
          logger.log(LogLevel::kError, peer, session.phone(),
                     std::string("request failed: ") + error.what());
          (void)sink.send(error_json(Code::kGeneralServerError, "internal error"));
        }
        // Sends in flight are answered before this thread waits for the client.
        if (after == After::kClose || !reader.frame_ready()) session.settle(sink);
        // Pipelined requests already here are answered first, and all the replies go out in
        // one write; nothing waits in the buffer while this thread waits for the client.
        if (after == After::kClose || !reader.frame_ready()) (void)sink.flush();
        if (after == After::kClose || sink.broken()) break;
      }
      phone = session.phone();
    }  // the session ends here (a pending registration's code is withdrawn)
    logger.log(LogLevel::kDebug, peer, phone, "disconnected");
  } catch (const std::exception& error) {
    logger.log(LogLevel::kError, peer, "", std::string("connection failed: ") + error.what());
  } catch (...) {
    logger.log(LogLevel::kError, peer, "", "connection failed");
  }
  (void)sink.flush();  // nothing is queued here, unless a request failed beyond repair
}

}  // namespace shido::server
