#include "server/session.h"

#include <utility>

#include "server/peer_address.h"
#include "shido/base64.h"
#include "shido/crypto/digest.h"
#include "shido/crypto/envelope.h"
#include "shido/protocol/messages.h"
#include "shido/protocol/validation.h"

namespace shido::server {
namespace {

constexpr std::size_t kNonceSize = 32;
constexpr std::size_t kCodeSaltSize = 16;
constexpr int kRegisterAttempts = 5;

void send_error(ReplySink& out, Code code, std::string description,
                std::optional<int> attempts_left = std::nullopt,
                std::optional<int> retry_after = std::nullopt) {
  ErrorReply reply{code, std::move(description), attempts_left, retry_after};
  (void)out.send(reply.to_json());
}

template <class Message>
void send(ReplySink& out, const Message& message) {
  (void)out.send(message.to_json());
}

// Decodes a request of type T, answering 124 (naming the member) when it does not fit.
template <class T>
std::optional<T> decode(const Json& request, ReplySink& out) {
  auto decoded = T::from_json(request);
  if (!decoded.ok()) {
    send_error(out, Code::kBadRequest, decoded.error().message);
    return std::nullopt;
  }
  return std::move(decoded).value();
}

Bytes code_hash(ByteView salt, ByteView code) {
  Bytes input(salt.begin(), salt.end());
  input.insert(input.end(), code.begin(), code.end());
  Bytes hash = sha256(input);
  wipe(input.data(), input.size());
  return hash;
}

// Opens a register or connect proof; nullopt for any failure (one answer, no oracle).
std::optional<SecretBytes> open_proof(const KeyPair& server_key, const PublicKey& client_key,
                                      const WireEnvelope& wire, Purpose purpose,
                                      const std::string& phone, const Bytes& nonce) {
  auto envelope = from_wire(wire, EnvelopeKind::kSecretCode);
  if (!envelope.ok()) return std::nullopt;
  auto code =
      open(server_key, client_key, envelope.value(), purpose, Context{to_bytes(phone), nonce});
  if (!code.ok()) return std::nullopt;
  return std::move(code).value();
}

// What a 127 says for each limit: whose doing it is, and the option that sets it.
std::string describe(RateLimit limit) {
  switch (limit) {
    case RateLimit::kCodesPerPhoneFromAddress:
      return "too many codes for this phone from your address (--codes-per-phone-per-address); "
             "try again later";
    case RateLimit::kCodesPerAddress:
      return "too many codes asked for from your address (--codes-per-address); try again later";
    case RateLimit::kCodesPerPhone:
      return "too many codes for this phone (--codes-per-phone); try again later";
    case RateLimit::kCodesPerMinute:
      return "the server is sending as many codes as it may (server-wide limit, "
             "--codes-per-minute); try again later";
    case RateLimit::kFailuresPerPhone:
      return "too many failed registration attempts for this phone "
             "(--failed-registrations-per-phone); try again later";
    case RateLimit::kFailuresPerAddress:
      return "too many failed registration attempts from your address "
             "(--failed-registrations-per-address); try again later";
    case RateLimit::kFailuresPerDay:
      return "too many failed registration attempts on this server (server-wide limit, "
             "--failed-registrations-per-day); try again later";
  }
  return "rate limited; try again later";
}

// A code command usually finishes within a second; the longest it may take is its time-out.
constexpr int kDeliveryBusyRetryAfter = 1;

bool needs_login(Code code) {
  return code == Code::kCommunicationRequest || code == Code::kSendMessage ||
         code == Code::kCheckWaitingMessages || code == Code::kAckMessages;
}

}  // namespace

Session::Session(ServerContext& context, std::string peer)
    : context_(context), peer_(std::move(peer)), address_(address_key(peer_)) {}

// A registration pending on a connection that is gone can never finish.
Session::~Session() {
  drop_pending();
  report_suppressed(phone_);
}

void Session::drop_pending() {
  if (!pending_) return;
  context_.delivery.withdraw(pending_->phone, pending_->code);
  pending_.reset();
}

void Session::storage_failed(ReplySink& out, const std::string& phone, const Error& error) {
  log(LogLevel::kError, phone, "the store failed: " + error.message);
  send_error(out, Code::kGeneralServerError,
             "the server could not store this (storage unavailable); nothing was changed, try "
             "again later");
}

void Session::rate_limited(ReplySink& out, const std::string& phone, const RateRefusal& refusal) {
  const std::string description = describe(refusal.limit);
  log(LogLevel::kWarn, phone, "refused: " + description.substr(0, description.find(';')));
  send_error(out, Code::kRateLimited, description, std::nullopt, whole_seconds_up(refusal.wait));
}

void Session::log(LogLevel level, const std::string& phone, const std::string& event) {
  if (!context_.logger.enabled(level)) return;
  if (!log_budget_.take(context_.time.now())) return;
  report_suppressed(phone);
  context_.logger.log(level, peer_, phone, event);
}

void Session::report_suppressed(const std::string& phone) {
  if (const int suppressed = log_budget_.take_suppressed(); suppressed > 0) {
    context_.logger.log(LogLevel::kWarn, peer_, phone,
                        std::to_string(suppressed) +
                            " log lines of this connection were suppressed (it wrote more than " +
                            std::to_string(kLogBurst) + " at once)");
  }
}

After Session::handle(const Json& request, ReplySink& out) {
  const long long number = frame_code(request);
  const std::optional<Code> code = code_from_int(number);

  // Only sends are answered later, in a batch (see settle()): any other request's replies
  // go after theirs.
  if (code != Code::kSendMessage) settle(out);

  // The code and the session's state come first (docs/PROTOCOL.md section 7).
  if (code == Code::kBye) return After::kClose;
  if (code == Code::kGeneralClientError) {
    on_general_client_error(request);
    return After::kContinue;
  }
  if (!code || !is_client_code(*code)) {
    send_error(out, Code::kUnexpectedCode, "unknown request code " + std::to_string(number));
    return After::kContinue;
  }
  if (!greeted_ && code != Code::kHello) {
    send_error(out, Code::kUnexpectedCode, "send HELLO (200) first");
    return After::kContinue;
  }
  if (needs_login(*code) && phone_.empty()) {
    send_error(out, Code::kNotAuthenticated, "log in first: register or connect");
    return After::kContinue;
  }

  switch (*code) {
    case Code::kHello:
      on_hello(request, out);
      break;
    case Code::kSendPhoneNumber:
      on_send_phone_number(request, out);
      break;
    case Code::kSendPublicKey:
      on_send_public_key(request, out);
      break;
    case Code::kConnectRequest:
      on_connect_request(request, out);
      break;
    case Code::kCommunicationRequest:
      on_communication_request(request, out);
      break;
    case Code::kSendMessage:
      on_send_message(request, out);
      break;
    case Code::kCheckWaitingMessages:
      on_check_waiting_messages(request, out);
      break;
    case Code::kAckMessages:
      on_ack_messages(request, out);
      break;
    default:
      send_error(out, Code::kUnexpectedCode, "unexpected request code");
      break;
  }
  return After::kContinue;
}

void Session::on_hello(const Json& request, ReplySink& out) {
  auto hello = decode<Hello>(request, out);
  if (!hello) return;
  if (hello->protocol != kProtocolVersion) {
    send_error(out, Code::kUnsupportedProtocol, "this server speaks protocol version 1 only");
    return;
  }
  greeted_ = true;
  nonce_ = random_bytes(kNonceSize, context_.rng);
  send(out, ServerHello{kProtocolVersion, context_.server_key.public_key().pem(),
                        base64_encode(*nonce_)});
}

void Session::on_send_phone_number(const Json& request, ReplySink& out) {
  auto message = decode<SendPhoneNumber>(request, out);
  if (!message) return;
  if (!is_valid_phone(message->phone_number)) {
    send_error(out, Code::kInvalidPhoneNumber, "phone_number must be E.164, e.g. +972501234567");
    return;
  }
  if (!is_valid_email(message->email)) {
    send_error(out, Code::kInvalidEmail, "email is not a valid address");
    return;
  }
  const std::string& phone = message->phone_number;
  // The rate limits answer before the account check (docs/PROTOCOL.md section 7). A refused
  // 102 leaves the session's state alone (section 4: "the session keeps its state"), so
  // the pending registration is replaced only once a new code has been delivered.
  //
  // A turn to deliver comes first, so that a request refused for want of one counts in no
  // limit; it is held until the code is delivered.
  DeliveryGate* const gate = context_.delivery_gate;
  const std::optional<DeliveryGate::Turn> turn = gate ? gate->try_enter() : std::nullopt;
  if (gate != nullptr && !turn) {
    log(LogLevel::kWarn, phone, "refused: every code delivery turn is taken");
    send_error(out, Code::kRateLimited,
               "the server is delivering as many codes at once as it may "
               "(--code-command-concurrency); try again in a moment",
               std::nullopt, kDeliveryBusyRetryAfter);
    return;
  }
  const auto refused = context_.store.take_code_slot(phone, address_);
  if (!refused.ok()) {
    storage_failed(out, phone, refused.error());
    return;
  }
  if (refused.value()) {
    rate_limited(out, phone, *refused.value());
    return;
  }
  const auto existing = context_.store.find_user(phone);
  if (!existing.ok()) {
    storage_failed(out, phone, existing.error());
    return;
  }
  if (existing.value()) {
    send_error(out, Code::kAlreadyRegistered, "this phone number is already registered");
    return;
  }

  PendingRegistration pending{phone, message->email, random_code(context_.rng),
                              context_.time.now() + context_.code_ttl, kRegisterAttempts};
  const std::string fingerprint = context_.server_key.public_key().fingerprint();
  // A code command may take seconds; and a code is not sent for a connection that is gone.
  if (!out.flush().ok()) return;
  if (auto delivered = context_.delivery.deliver({phone, pending.email, pending.code, fingerprint});
      !delivered.ok()) {
    log(LogLevel::kError, phone, "code delivery failed: " + delivered.error().message);
    send_error(out, Code::kGeneralServerError, "the code could not be delivered; try again later");
    return;
  }
  drop_pending();  // a code asked for earlier on this connection is of no use any more
  pending_ = std::move(pending);
  log(LogLevel::kInfo, phone, "registration started, code delivered");
  send(out, CodeSent{static_cast<int>(context_.code_ttl.count())});
}

void Session::on_send_public_key(const Json& request, ReplySink& out) {
  // Every proof spends the nonce, whatever its outcome.
  const std::optional<Bytes> nonce = std::exchange(nonce_, std::nullopt);
  auto message = decode<SendPublicKey>(request, out);
  if (!message) return;
  auto client_key = PublicKey::from_pem(message->public_key);
  if (!client_key.ok()) {
    send_error(out, Code::kBadRequest, "invalid public key: " + client_key.error().message);
    return;
  }
  if (!nonce) {
    send_error(out, Code::kUnexpectedCode, "no unspent nonce: send HELLO (200) again");
    return;
  }
  if (pending_ && pending_->expires_at <= context_.time.now()) {
    log(LogLevel::kInfo, pending_->phone, "registration code expired");
    drop_pending();
  }
  if (!pending_) {
    send_error(out, Code::kUnexpectedCode,
               "no registration pending on this connection (or its code expired): send 102 first");
    return;
  }
  const std::string phone = pending_->phone;
  // A proof is a guess at the code: before it is looked at, it takes one of the failed
  // proofs the phone, the address and the server may have in a day (design section 10.4),
  // given back below when it is no failure. A refusal keeps the pending registration.
  const auto refused = context_.store.take_failed_proof_slot(phone, address_);
  if (!refused.ok()) {
    storage_failed(out, phone, refused.error());  // the pending registration is kept
    return;
  }
  if (refused.value()) {
    rate_limited(out, phone, *refused.value());
    return;
  }
  const auto existing = context_.store.find_user(phone);
  if (!existing.ok()) {
    context_.store.return_failed_proof_slot(phone, address_);
    storage_failed(out, phone, existing.error());
    return;
  }
  if (existing.value()) {
    context_.store.return_failed_proof_slot(phone, address_);
    drop_pending();
    send_error(out, Code::kAlreadyRegistered, "this phone number is already registered");
    return;
  }

  auto code = open_proof(context_.server_key, client_key.value(), message->proof,
                         Purpose::kRegister, phone, *nonce);
  if (!code) {
    // Not made with this key, for this phone, purpose and nonce: it says nothing about the
    // code, so it is no attempt (design section 10.2); answered as one, attempts unchanged.
    context_.store.return_failed_proof_slot(phone, address_);
    log(LogLevel::kWarn, phone, "registration proof that does not open: not counted");
    send_error(out, Code::kInvalidSecretCode, "wrong code", pending_->attempts_left);
    return;
  }
  if (!constant_time_equal(code->view(), pending_->code.view())) {
    const int left = --pending_->attempts_left;
    log(LogLevel::kWarn, phone,
        "wrong registration code, " + std::to_string(left) + " attempts left");
    if (left <= 0) drop_pending();
    send_error(out, Code::kInvalidSecretCode, "wrong code", left);
    return;
  }

  context_.store.return_failed_proof_slot(phone, address_);  // the right code: no failure
  User user{
      phone, pending_->email, client_key.value(), random_bytes(kCodeSaltSize, context_.rng), {}};
  user.code_hash = code_hash(user.code_salt, code->view());
  drop_pending();
  const auto added = context_.store.add_user(user);
  if (!added.ok()) {
    storage_failed(out, phone, added.error());
    return;
  }
  if (added.value() == AddUserResult::kPhoneTaken) {
    send_error(out, Code::kAlreadyRegistered, "this phone number is already registered");
    return;
  }
  phone_ = phone;
  user_ = std::move(user);
  log(LogLevel::kInfo, phone, "registered");
  send(out, RegisterSuccess{});
}

void Session::on_connect_request(const Json& request, ReplySink& out) {
  const std::optional<Bytes> nonce = std::exchange(nonce_, std::nullopt);
  auto message = decode<ConnectRequest>(request, out);
  if (!message) return;
  const std::string& phone = message->phone_number;
  if (!is_valid_phone(phone)) {
    send_error(out, Code::kInvalidPhoneNumber, "phone_number must be E.164, e.g. +972501234567");
    return;
  }
  if (!nonce) {
    send_error(out, Code::kUnexpectedCode, "no unspent nonce: send HELLO (200) again");
    return;
  }
  // From the lock check to the recorded outcome, one proof per account at a time.
  std::lock_guard serialised(context_.store.connect_mutex(phone));
  const auto locked = context_.store.lock_remaining(phone);
  if (!locked.ok()) {
    storage_failed(out, phone, locked.error());
    return;
  }
  if (locked.value()) {
    send_error(out, Code::kConnectRequestNotAccepted, "account locked after failed attempts",
               std::nullopt, whole_seconds_up(*locked.value()));
    return;
  }
  auto found = context_.store.find_user(phone);
  if (!found.ok()) {
    storage_failed(out, phone, found.error());
    return;
  }
  std::optional<User> user = std::move(found).value();
  if (!user) {
    send_error(out, Code::kUserNotFound, "no account with this phone number");
    return;
  }

  auto code = open_proof(context_.server_key, user->public_key, message->proof, Purpose::kConnect,
                         phone, *nonce);
  if (!code) {
    // Not made with the account's key: it says nothing about the code, so it never counts
    // and never locks (design section 10.2; anyone could otherwise lock any account). The
    // answer is the one a wrong code gets, with the attempts left unchanged.
    log(LogLevel::kWarn, phone, "connect proof that does not open: not counted");
    const auto left = context_.store.connect_attempts_left(phone);
    if (!left.ok()) {
      storage_failed(out, phone, left.error());
      return;
    }
    send_error(out, Code::kInvalidSecretCode, "wrong code or key", left.value());
    return;
  }
  if (!constant_time_equal(code_hash(user->code_salt, code->view()), user->code_hash)) {
    const auto recorded = context_.store.record_connect_failure(phone);
    if (!recorded.ok()) {
      storage_failed(out, phone, recorded.error());
      return;
    }
    const FailureResult failure = recorded.value();
    log(LogLevel::kWarn, phone,
        failure.attempts_left == 0
            ? "failed connect proof, account locked"
            : "failed connect proof, " + std::to_string(failure.attempts_left) + " attempts left");
    send_error(out, Code::kInvalidSecretCode, "wrong code or key", failure.attempts_left);
    return;
  }
  if (Status cleared = context_.store.record_connect_success(phone); !cleared.ok()) {
    storage_failed(out, phone, cleared.error());
    return;
  }
  phone_ = phone;
  user_ = std::move(user);
  log(LogLevel::kInfo, phone, "connected");
  send(out, ConnectAccepted{});
}

void Session::on_communication_request(const Json& request, ReplySink& out) {
  auto message = decode<CommunicationRequest>(request, out);
  if (!message) return;
  const std::string& recipient = message->recipients_phone_number;
  if (!is_valid_phone(recipient)) {
    send_error(out, Code::kInvalidPhoneNumber, "recipients_phone_number must be E.164");
    return;
  }
  const auto user = context_.store.find_user(recipient);
  if (!user.ok()) {
    storage_failed(out, phone_, user.error());
    return;
  }
  if (!user.value()) {
    send_error(out, Code::kUserNotFound, "no account with this phone number");
    return;
  }
  send(out, RecipientKey{recipient, user.value()->public_key.pem()});
}

// A send that passed every check before the store: the message to store, or why it is
// refused.
struct Session::CheckedSend {
  std::optional<ErrorReply> refusal;
  std::string recipient;
  std::optional<StoredMessage> message;  // when not refused
};

Session::CheckedSend Session::check_send(const Json& request) const {
  const auto refuse = [](Code code, std::string description) {
    return CheckedSend{
        ErrorReply{code, std::move(description), std::nullopt, std::nullopt}, {}, {}};
  };
  auto message = SendMessage::from_json(request);
  if (!message.ok()) return refuse(Code::kBadRequest, message.error().message);
  auto envelope = from_wire(message.value().envelope, EnvelopeKind::kMessage);
  if (!envelope.ok()) return refuse(Code::kBadRequest, envelope.error().message);
  // The sender key is always the registered one; a client may only name it, not choose it.
  if (message.value().sender_public_key) {
    auto named = PublicKey::from_pem(*message.value().sender_public_key);
    if (!named.ok() || !(named.value() == user_->public_key)) {
      return refuse(Code::kBadRequest, "sender_public_key is not your registered key");
    }
  }
  std::string recipient = std::move(message.value().recipients_phone_number);
  if (!is_valid_phone(recipient)) {
    return refuse(Code::kInvalidPhoneNumber, "recipients_phone_number must be E.164");
  }
  return CheckedSend{std::nullopt, std::move(recipient),
                     StoredMessage{.id = {},
                                   .sender_phone = phone_,
                                   .sender_key = user_->public_key,
                                   .stored_at_ms = 0,
                                   .envelope = pack_envelope(envelope.value())}};
}

void Session::on_send_message(const Json& request, ReplySink& out) {
  CheckedSend checked = check_send(request);
  if (checked.refusal) {
    settle(out);  // its reply goes after those of the sends before it
    (void)out.send(checked.refusal->to_json());
    return;
  }
  if (sends_in_flight_.size() >= kMaxSendsInFlight) settle(out);
  auto put = context_.store.start_put(checked.recipient, std::move(*checked.message));
  sends_in_flight_.push_back({std::move(put), std::move(checked.recipient)});
}

void Session::settle(ReplySink& out) {
  while (!sends_in_flight_.empty()) {
    SendInFlight send_in_flight = std::move(sends_in_flight_.front());
    sends_in_flight_.pop_front();
    answer_send(out, send_in_flight);
  }
}

void Session::answer_send(ReplySink& out, SendInFlight& send_in_flight) {
  const std::string& recipient = send_in_flight.recipient;
  const auto put = send_in_flight.put->finish();
  if (!put.ok()) {
    storage_failed(out, phone_, put.error());
    return;
  }
  switch (put.value()) {
    case PutResult::kNoSuchUser:
      send_error(out, Code::kUserNotFound, "no account with this phone number");
      return;
    case PutResult::kMailboxFull:
      log(LogLevel::kWarn, phone_, "mailbox of " + recipient + " is full");
      send_error(out, Code::kMailboxFull, "the recipient's mailbox is full; try again later");
      return;
    case PutResult::kStoreFull:
      log(LogLevel::kWarn, phone_, "the message store is full (--max-stored-bytes)");
      send_error(out, Code::kMailboxFull, "the server's message storage is full; try again later");
      return;
    case PutResult::kSenderShareFull:
      log(LogLevel::kWarn, phone_, "has used up its share of the mailbox of " + recipient);
      send_error(out, Code::kMailboxFull,
                 "you have as many messages waiting for this recipient as one sender may "
                 "(your share of their mailbox, --sender-share-messages and "
                 "--sender-share-bytes); try again once they have fetched some");
      return;
    case PutResult::kSenderStoreShareFull:
      log(LogLevel::kWarn, phone_, "has used up its share of the message store");
      send_error(out, Code::kMailboxFull,
                 "your messages waiting in all mailboxes hold as much as one sender may (your "
                 "share of the server's storage, --sender-share-of-store); try again once they "
                 "have been fetched");
      return;
    case PutResult::kStored:
      break;
  }
  const std::string& id = send_in_flight.put->id();
  log(LogLevel::kDebug, phone_, "stored message " + id + " for " + recipient);
  send(out, MessageStored{id});
}

void Session::on_check_waiting_messages(const Json& request, ReplySink& out) {
  auto message = decode<CheckWaitingMessages>(request, out);
  if (!message) return;
  // The long-poll may wait for a minute: the replies before it go out first.
  if (message->wait_seconds > 0 && !out.flush().ok()) return;
  const auto fetched = context_.store.fetch(phone_, static_cast<std::size_t>(message->max),
                                            std::chrono::seconds(message->wait_seconds));
  if (!fetched.ok()) {
    storage_failed(out, phone_, fetched.error());
    return;
  }
  const std::vector<MessagePtr>& messages = fetched.value();
  const int count = static_cast<int>(messages.size());
  if (!out.send(WaitingApproved{count}.to_json()).ok()) return;
  for (int i = 0; i < count; ++i) {
    const StoredMessage& stored = *messages[static_cast<std::size_t>(i)];
    WaitingMessage waiting{stored.id,
                           stored.sender_phone,
                           stored.sender_key.pem(),
                           stored.stored_at_ms,
                           wire_from_packed(stored.envelope),
                           count - 1 - i};
    if (!out.send(waiting.to_json()).ok()) return;
  }
  if (count > 0) log(LogLevel::kDebug, phone_, "delivered " + std::to_string(count) + " messages");
}

void Session::on_ack_messages(const Json& request, ReplySink& out) {
  auto message = decode<AckMessages>(request, out);
  if (!message) return;
  const auto result = context_.store.ack(phone_, message->message_ids);
  if (!result.ok()) {
    storage_failed(out, phone_, result.error());
    return;
  }
  send(out, AckOk{result.value().deleted, result.value().waiting});
}

void Session::on_general_client_error(const Json& request) {
  auto message = GeneralClientError::from_json(request);
  const std::string description = message.ok() ? message.value().error_description : "";
  log(LogLevel::kWarn, phone_, "client reported an error: " + description.substr(0, 200));
  drop_pending();
}

}  // namespace shido::server
