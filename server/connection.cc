#include "server/connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <memory>
#include <optional>
#include <utility>

#include "shido/protocol/messages.h"

namespace shido::server {
namespace {

// Collects the replies to one request and writes them with one system call: a fetch
// answers with 1 + count frames. Past kFlushAt bytes it writes at once, so a large fetch
// never sits whole in memory. After the first failure it stops trying.
class StreamSink final : public ReplySink {
 public:
  explicit StreamSink(ByteStream& stream) : stream_(stream) {}
  Status send(const Json& reply) override {
    if (broken_) return Error{Errc::kIo, "connection already broken"};
    append_frame(pending_, dump_json(reply));
    return pending_.size() >= kFlushAt ? flush() : Status{};
  }
  // Writes what the replies so far left in the buffer.
  Status flush() override {
    if (broken_) return Error{Errc::kIo, "connection already broken"};
    if (pending_.empty()) return {};
    Status written = stream_.send(pending_);
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
  ByteStream& stream_;
  std::string pending_;
  bool broken_ = false;
};

Json error_json(Code code, std::string description) {
  return ErrorReply{code, std::move(description), std::nullopt, std::nullopt}.to_json();
}

constexpr std::chrono::milliseconds kLinger{500};

// The reply a read error gets before the connection is closed, if any: 125 for a frame the
// server will not take, 128 when the frames arriving hold all the memory they may.
std::optional<Json> closing_reply(const Error& error) {
  switch (error.code) {
    case Errc::kFrameTooLarge:
    case Errc::kFrameEmpty:
      return error_json(Code::kFrameTooLarge, error.message);
    case Errc::kFramesBusy:
      return error_json(Code::kServerBusy,
                        "the server is short of memory for frames; try again later");
    default:
      return std::nullopt;
  }
}

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

namespace {

using SteadyClock = std::chrono::steady_clock;

// The connection's deadline for its next frame, and what it is. Idle time counts from the
// last complete frame (or the end of the last request's handling, a long-poll), so bytes
// that trickle in never extend it; a connection that has not
// logged in must do so by its login deadline, unless a registration is pending on it.
struct NextDeadline {
  std::optional<SteadyClock::time_point> at;
  bool for_login = false;
};

NextDeadline next_deadline(const Session& session, const ConnectionLimits& limits,
                           SteadyClock::time_point last_active, SteadyClock::time_point login_by,
                           const TimeSource& time) {
  NextDeadline next;
  if (limits.frames.idle_timeout.count() > 0) next.at = last_active + limits.frames.idle_timeout;
  if (!session.phone().empty() || limits.login_deadline.count() <= 0) return next;
  if (const auto expires = session.registration_expires_at()) {
    // The person is reading the code: the connection stays until it expires, even past
    // the idle time-out (300 s against a code's 600 s by default).
    const SteadyClock::time_point expiry = SteadyClock::now() + (*expires - time.now());
    if (!next.at || expiry > *next.at) next = {expiry, true};
    return next;
  }
  if (!next.at || login_by < *next.at) next = {login_by, true};
  return next;
}

// The earlier of two deadlines, either of which may be absent.
std::optional<SteadyClock::time_point> earlier(std::optional<SteadyClock::time_point> a,
                                               std::optional<SteadyClock::time_point> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

// The stream the peer speaks, told by its first byte: 0x16 begins a TLS handshake, which
// must finish within the frame time-out (and by the login deadline) as a frame would; any
// other byte begins a plaintext frame. None when the peer left, was too slow, failed its
// handshake, or spoke plaintext to a server that requires TLS: each is logged.
std::unique_ptr<ByteStream> open_stream(int fd, const Transports& transports,
                                        const ConnectionLimits& limits,
                                        std::optional<SteadyClock::time_point> login_by,
                                        Logger& logger, const std::string& peer) {
  const auto idle_by = deadline_in(limits.frames.idle_timeout);
  int err = 0;
  switch (wait_ready(fd, WaitFor::kReadable, earlier(idle_by, login_by), &err)) {
    case Ready::kYes:
      break;
    case Ready::kTimeout:
      logger.log(LogLevel::kInfo, peer, "", "closing: sent nothing in time");
      return nullptr;
    case Ready::kError:
      return nullptr;
  }
  unsigned char first = 0;
  ssize_t peeked = 0;
  do {
    peeked = ::recv(fd, &first, 1, MSG_PEEK);
  } while (peeked < 0 && errno == EINTR);
  if (peeked <= 0) return nullptr;  // gone before a byte
  if (first == kTlsHandshakeByte && transports.tls != nullptr) {
    const auto handshake_by = earlier(deadline_in(limits.frames.frame_timeout), login_by);
    // Its ClientHello may be as long as a frame before login, no longer.
    auto stream = transports.tls->accept(fd, handshake_by, limits.frames.frame_timeout,
                                         std::min(limits.max_prelogin_frame, kMaxClientHello));
    if (!stream.ok()) {
      logger.log(LogLevel::kInfo, peer, "", "closing: " + stream.error().message);
      return nullptr;
    }
    return std::move(stream).value();
  }
  if (transports.require_tls) {
    logger.log(LogLevel::kInfo, peer, "", "closing: a plaintext connection (--require-tls)");
    // Its first frame is still unread: closing now would reset the connection, and the
    // client would read "connection reset" where an end tells it to leave out --plaintext.
    half_close_and_drain(fd, kLinger);
    return nullptr;
  }
  return std::make_unique<SocketStream>(fd);
}

// Counts a connection among those logged in, from its login to its end (however it ends).
class LoggedInMark {
 public:
  explicit LoggedInMark(std::atomic<std::size_t>& logged_in) : logged_in_(logged_in) {}
  ~LoggedInMark() {
    if (marked_) logged_in_.fetch_sub(1, std::memory_order_relaxed);
  }
  LoggedInMark(const LoggedInMark&) = delete;
  LoggedInMark& operator=(const LoggedInMark&) = delete;

  // Once: a connection that logs in again (as another account) is still one.
  void mark() {
    if (!std::exchange(marked_, true)) logged_in_.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  std::atomic<std::size_t>& logged_in_;
  bool marked_ = false;
};

}  // namespace

void serve_connection(ServerContext& context, const ConnectionLimits& limits,
                      const Transports& transports, int fd, const std::string& peer,
                      AddressSlots::Slot unauthenticated,
                      std::atomic<std::size_t>& logged_in_count) {
  FrameLimits prelogin = limits.frames;
  prelogin.max_size = std::min(limits.max_prelogin_frame, limits.frames.max_size);
  Logger& logger = context.logger;
  auto last_active = SteadyClock::now();
  auto login_by = last_active + limits.login_deadline;
  std::unique_ptr<ByteStream> stream;
  try {
    stream = open_stream(fd, transports, limits,
                         limits.login_deadline.count() > 0
                             ? std::optional<SteadyClock::time_point>(login_by)
                             : std::nullopt,
                         logger, peer);
  } catch (const std::exception& error) {
    logger.log(LogLevel::kError, peer, "", std::string("connection failed: ") + error.what());
  }
  if (!stream) return;
  last_active = SteadyClock::now();  // a handshake counts as a frame
  // Outside the try: replies queued for requests already handled still go out if a later
  // one fails beyond repair (a client that missed a 118 would send its message again).
  StreamSink sink(*stream);
  try {
    std::string phone;  // of the session, for the last line, which follows its end
    {
      LoggedInMark logged_in_mark(logged_in_count);  // ends after the session
      Session session(context, peer);
      FrameReader reader(*stream);
      logger.log(LogLevel::kDebug, peer, "", "connected over " + std::string(stream->transport()));
      bool was_pending = false;
      for (;;) {
        const bool logged_in = !session.phone().empty();
        // A registration that ended (done, failed or expired) gives a new login deadline:
        // the person may have taken the code's whole life to type it.
        const bool pending = session.registration_expires_at().has_value();
        if (was_pending && !pending) login_by = SteadyClock::now() + limits.login_deadline;
        was_pending = pending;

        const NextDeadline deadline =
            next_deadline(session, limits, last_active, login_by, context.time);
        FrameLimits frame_limits = logged_in ? limits.frames : prelogin;
        frame_limits.idle_timeout = std::chrono::milliseconds(0);  // the deadline counts it
        frame_limits.deadline = deadline.at;
        auto frame = reader.next(frame_limits);
        if (!frame.ok()) {
          session.settle(sink);
          const Errc error = frame.error().code;
          if (const std::optional<Json> reply = closing_reply(frame.error())) {
            logger.log(LogLevel::kWarn, peer, session.phone(), "closing: " + frame.error().message);
            (void)sink.send(*reply);
            (void)sink.flush();
            stream->finish_sending();
            half_close_and_drain(fd, kLinger);
          } else if ((error == Errc::kIdleTimeout || error == Errc::kFrameTimeout) &&
                     deadline.for_login && SteadyClock::now() >= *deadline.at) {
            logger.log(LogLevel::kInfo, peer, "",
                       "closing: did not log in or start a registration in time");
          } else if (error != Errc::kConnectionClosed) {
            logger.log(LogLevel::kInfo, peer, session.phone(), "closing: " + frame.error().message);
          }
          break;
        }
        last_active = SteadyClock::now();
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
        // Logged in: the connection no longer counts against its address (before the reply
        // goes out, so that the client may count on it).
        if (!session.phone().empty()) {
          unauthenticated.release();
          logged_in_mark.mark();
        }
        // Sends in flight are answered before this thread waits for the client.
        if (after == After::kClose || !reader.frame_ready()) session.settle(sink);
        // Pipelined requests already here are answered first, and all the replies go out in
        // one write; nothing waits in the buffer while this thread waits for the client.
        if (after == After::kClose || !reader.frame_ready()) (void)sink.flush();
        if (after == After::kClose || sink.broken()) break;
        // A long-poll that just ended was no idle time of the client's.
        last_active = SteadyClock::now();
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
