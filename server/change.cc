#include "server/change.h"

#include "server/packed_envelope.h"
#include "server/record.h"

namespace shido::server {
namespace {

Bytes to_bytes_of(ByteView view) { return Bytes(view.begin(), view.end()); }

Error bad(const char* what) {
  return Error{Errc::kBadValue, std::string("a damaged ") + what + " record"};
}

Result<Change> decode_user(BodyReader& in) {
  std::string phone = in.text();
  std::string email = in.text();
  const ByteView der = in.bytes();
  Bytes salt = to_bytes_of(in.bytes());
  Bytes hash = to_bytes_of(in.bytes());
  if (!in.done()) return bad("user");
  auto key = PublicKey::from_der(der);
  if (!key.ok()) return bad("user");
  return Change{UserAdded{User{std::move(phone), std::move(email), std::move(key).value(),
                               std::move(salt), std::move(hash)}}};
}

Result<Change> decode_lock(BodyReader& in) {
  LockChanged lock;
  lock.phone = in.text();
  lock.failures = in.u32();
  lock.locks = in.u32();
  lock.locked_until_unix_ms = in.i64();
  if (!in.done()) return bad("lock");
  return Change{std::move(lock)};
}

Result<Change> decode_message(BodyReader& in) {
  MessageAdded message;
  message.recipient = in.text();
  message.id = in.text();
  message.sender_phone = in.text();
  message.stored_at_ms = in.i64();
  message.envelope = to_bytes_of(in.bytes());
  if (!in.done() || !is_packed_envelope(message.envelope)) return bad("message");
  return Change{std::move(message)};
}

Result<Change> decode_ack(BodyReader& in) {
  MessagesAcked ack;
  ack.phone = in.text();
  const std::uint32_t count = in.u32();
  // Each id takes at least its 4-byte length: a count beyond that is damage, not a reason
  // to reserve gigabytes.
  if (in.failed() || count > kMaxRecordBody / 4) return bad("acknowledgement");
  for (std::uint32_t i = 0; i < count && !in.failed(); ++i) ack.ids.push_back(in.text());
  if (!in.done()) return bad("acknowledgement");
  return Change{std::move(ack)};
}

}  // namespace

ChangeType change_type(const Change& change) {
  struct Visitor {
    ChangeType operator()(const UserAdded&) const { return ChangeType::kUser; }
    ChangeType operator()(const LockChanged&) const { return ChangeType::kLock; }
    ChangeType operator()(const MessageAdded&) const { return ChangeType::kMessage; }
    ChangeType operator()(const MessagesAcked&) const { return ChangeType::kAck; }
  };
  return std::visit(Visitor{}, change);
}

Bytes encode_change(const Change& change) {
  struct Visitor {
    Bytes operator()(const UserAdded& added) const {
      const User& user = added.user;
      return BodyWriter()
          .text(user.phone)
          .text(user.email)
          .bytes(user.public_key.der())
          .bytes(user.code_salt)
          .bytes(user.code_hash)
          .take();
    }
    Bytes operator()(const LockChanged& lock) const {
      return BodyWriter()
          .text(lock.phone)
          .u32(lock.failures)
          .u32(lock.locks)
          .i64(lock.locked_until_unix_ms)
          .take();
    }
    Bytes operator()(const MessageAdded& message) const {
      return BodyWriter()
          .text(message.recipient)
          .text(message.id)
          .text(message.sender_phone)
          .i64(message.stored_at_ms)
          .bytes(message.envelope)
          .take();
    }
    Bytes operator()(const MessagesAcked& ack) const {
      BodyWriter out;
      out.text(ack.phone).u32(static_cast<std::uint32_t>(ack.ids.size()));
      for (const std::string& id : ack.ids) out.text(id);
      return out.take();
    }
  };
  return std::visit(Visitor{}, change);
}

Result<Change> decode_change(std::uint8_t type, ByteView body) {
  BodyReader in(body);
  switch (static_cast<ChangeType>(type)) {
    case ChangeType::kUser:
      return decode_user(in);
    case ChangeType::kLock:
      return decode_lock(in);
    case ChangeType::kMessage:
      return decode_message(in);
    case ChangeType::kAck:
      return decode_ack(in);
  }
  return Error{Errc::kBadValue, "a record of unknown type " + std::to_string(type)};
}

}  // namespace shido::server
