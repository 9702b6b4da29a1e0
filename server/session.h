// One connection's protocol state machine (docs/PROTOCOL.md sections 4-8), free of sockets so
// that it can be tested in-process: requests go in as parsed JSON, replies come out
// through a ReplySink in order.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "server/clock.h"
#include "server/code_delivery.h"
#include "server/delivery_gate.h"
#include "server/log.h"
#include "server/log_budget.h"
#include "server/store.h"
#include "shido/crypto/keys.h"
#include "shido/crypto/random.h"
#include "shido/protocol/json.h"

namespace shido::server {

// What every session shares. Everything referenced outlives the sessions.
struct ServerContext {
  const KeyPair& server_key;
  Store& store;
  CodeDelivery& delivery;
  Logger& logger;
  const TimeSource& time;
  RandomSource& rng = system_random();
  std::chrono::seconds code_ttl{600};
  // How many codes may be in delivery at once (--code-command-concurrency); none: no bound,
  // for the channels that cannot be slow (the log, the outbox).
  DeliveryGate* delivery_gate = nullptr;
};

class ReplySink {
 public:
  virtual ~ReplySink() = default;
  // Queues one reply frame; replies to pipelined requests may go out together. A failure
  // means the peer is gone; the session stops sending.
  virtual Status send(const Json& reply) = 0;
  // Sends what is queued now. The session calls it before it waits (a long-poll, a code
  // delivery), so that replies to earlier requests never wait behind a slow one.
  virtual Status flush() = 0;
};

enum class After { kContinue, kClose };

class Session {
 public:
  Session(ServerContext& context, std::string peer);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Handles one request (a JSON object with an integer "code", as parse_frame_json
  // guarantees). Never throws for anything a client can send.
  //
  // A send (110) may be answered later: its message is handed to the store, and the reply
  // waits until settle(), so that pipelined sends share one disk sync. Replies keep the
  // order of the requests.
  After handle(const Json& request, ReplySink& out);

  // Waits for the sends in flight and queues their replies. The connection calls it before
  // it waits for the client (and before it closes).
  void settle(ReplySink& out);

  // The phone this connection is logged in as, or empty.
  const std::string& phone() const { return phone_; }
  // When the code of the registration pending on this connection expires, if one is: the
  // connection may stay until then without logging in (the person is reading the code).
  // An expired code is no registration.
  std::optional<TimePoint> registration_expires_at() const {
    if (!pending_ || pending_->expires_at <= context_.time.now()) return std::nullopt;
    return pending_->expires_at;
  }
  const std::string& peer() const { return peer_; }

 private:
  struct PendingRegistration {
    std::string phone;
    std::string email;
    SecretBytes code;
    TimePoint expires_at;
    int attempts_left = 5;
  };

  // Ends the pending registration, if any: its code was used, expired or failed, and the
  // delivery channel forgets it (the outbox removes its file).
  void drop_pending();
  void on_hello(const Json& request, ReplySink& out);
  void on_send_phone_number(const Json& request, ReplySink& out);
  void on_send_public_key(const Json& request, ReplySink& out);
  void on_connect_request(const Json& request, ReplySink& out);
  void on_communication_request(const Json& request, ReplySink& out);
  struct CheckedSend;
  struct SendInFlight {
    std::unique_ptr<PutInProgress> put;
    std::string recipient;
  };
  // Sends one connection may have in flight before the oldest is waited for.
  static constexpr std::size_t kMaxSendsInFlight = 64;

  CheckedSend check_send(const Json& request) const;
  void on_send_message(const Json& request, ReplySink& out);
  void answer_send(ReplySink& out, SendInFlight& send_in_flight);
  void on_check_waiting_messages(const Json& request, ReplySink& out);
  void on_ack_messages(const Json& request, ReplySink& out);
  void on_general_client_error(const Json& request);

  // Answers 100 for a change the store could not make durable, and logs the cause.
  void storage_failed(ReplySink& out, const std::string& phone, const Error& error);
  // Logs an event of this connection, within its log budget.
  void log(LogLevel level, const std::string& phone, const std::string& event);
  // Says how many lines the budget suppressed, if any.
  void report_suppressed(const std::string& phone);

  // Answers 127 for a request a rate limit refused, and logs which limit.
  void rate_limited(ReplySink& out, const std::string& phone, const RateRefusal& refusal);

  ServerContext& context_;
  const std::string peer_;
  const std::string address_;  // address_key(peer_): what the per-address limits count
  bool greeted_ = false;
  std::optional<Bytes> nonce_;  // unspent HELLO nonce
  std::optional<PendingRegistration> pending_;
  std::string phone_;                         // logged-in account, or empty
  std::optional<User> user_;                  // its record, once logged in
  std::deque<SendInFlight> sends_in_flight_;  // oldest first
  // One connection writes at most kLogBurst lines at once, then one a second.
  static constexpr int kLogBurst = 20;
  LogBudget log_budget_{kLogBurst, std::chrono::seconds(1)};
};

}  // namespace shido::server
