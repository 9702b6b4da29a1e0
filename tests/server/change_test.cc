// The changes the journal records: each kind round-trips through its record body, and a
// body cut short, grown or bent is refused by name, never half-read.
#include "server/change.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/record.h"
#include "shido/crypto/keys.h"

namespace shido::server {
namespace {

std::vector<Change> sample_changes() {
  const KeyPair key = KeyPair::generate();
  Bytes envelope(kPackedEnvelopeFixedSize + 48, 0xab);
  return {
      UserAdded{
          User{"+15550000001", "alice@example.com", key.public_key(), Bytes(16, 1), Bytes(32, 2)}},
      LockChanged{"+15550000001", 3, 1, 1'780'000'000'000},
      LockChanged{"+15550000002", 0, 0, 0},
      MessageAdded{"+15550000002", std::string(32, 'f'), "+15550000001", 1'780'000'000'123,
                   envelope},
      MessagesAcked{"+15550000002", {std::string(32, 'f'), "another id"}},
      MessagesAcked{"+15550000003", {}},
  };
}

void expect_same(const Change& a, const Change& b) {
  ASSERT_EQ(a.index(), b.index());
  if (const auto* user = std::get_if<UserAdded>(&a)) {
    const User& x = user->user;
    const User& y = std::get<UserAdded>(b).user;
    EXPECT_EQ(x.phone, y.phone);
    EXPECT_EQ(x.email, y.email);
    EXPECT_EQ(x.public_key, y.public_key);
    EXPECT_EQ(x.code_salt, y.code_salt);
    EXPECT_EQ(x.code_hash, y.code_hash);
  } else if (const auto* lock = std::get_if<LockChanged>(&a)) {
    const auto& other = std::get<LockChanged>(b);
    EXPECT_EQ(lock->phone, other.phone);
    EXPECT_EQ(lock->failures, other.failures);
    EXPECT_EQ(lock->locks, other.locks);
    EXPECT_EQ(lock->locked_until_unix_ms, other.locked_until_unix_ms);
  } else if (const auto* message = std::get_if<MessageAdded>(&a)) {
    const auto& other = std::get<MessageAdded>(b);
    EXPECT_EQ(message->recipient, other.recipient);
    EXPECT_EQ(message->id, other.id);
    EXPECT_EQ(message->sender_phone, other.sender_phone);
    EXPECT_EQ(message->stored_at_ms, other.stored_at_ms);
    EXPECT_EQ(message->envelope, other.envelope);
  } else {
    EXPECT_EQ(std::get<MessagesAcked>(a).phone, std::get<MessagesAcked>(b).phone);
    EXPECT_EQ(std::get<MessagesAcked>(a).ids, std::get<MessagesAcked>(b).ids);
  }
}

TEST(ChangeTest, EveryKindRoundTrips) {
  for (const Change& change : sample_changes()) {
    SCOPED_TRACE(static_cast<int>(change_type(change)));
    const Bytes body = encode_change(change);
    auto decoded = decode_change(static_cast<std::uint8_t>(change_type(change)), body);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    expect_same(change, decoded.value());
  }
}

TEST(ChangeTest, AMessageTakesItsEnvelopeAndAFewDozenBytes) {
  const Change message = sample_changes()[3];
  const std::size_t envelope = std::get<MessageAdded>(message).envelope.size();
  EXPECT_LE(encode_change(message).size(), envelope + 96);
}

TEST(ChangeTest, ABodyCutShortOrGrownIsRefused) {
  for (const Change& change : sample_changes()) {
    const auto type = static_cast<std::uint8_t>(change_type(change));
    const Bytes body = encode_change(change);
    for (std::size_t cut = 0; cut < body.size(); ++cut) {
      const auto decoded = decode_change(type, ByteView(body).first(cut));
      EXPECT_FALSE(decoded.ok()) << static_cast<int>(type) << " cut at " << cut;
      if (!decoded.ok()) {
        EXPECT_EQ(decoded.error().code, Errc::kBadValue);
      }
    }
    Bytes longer = body;
    longer.push_back(0);
    EXPECT_FALSE(decode_change(type, longer).ok()) << static_cast<int>(type);
  }
}

TEST(ChangeTest, AnUnknownTypeABadKeyOrABadEnvelopeIsRefused) {
  EXPECT_FALSE(decode_change(0, {}).ok());
  EXPECT_FALSE(decode_change(99, {}).ok());

  UserAdded user = std::get<UserAdded>(sample_changes()[0]);
  Bytes body = encode_change(user);
  // The DER key starts after two length-prefixed strings and its own length.
  const std::size_t key_at = 4 + user.user.phone.size() + 4 + user.user.email.size() + 4;
  body[key_at + 30] ^= 0xff;  // inside the point: no longer on the curve, or not DER
  EXPECT_FALSE(decode_change(1, body).ok());

  MessageAdded message = std::get<MessageAdded>(sample_changes()[3]);
  message.envelope.resize(kPackedEnvelopeFixedSize + 20);  // not whole blocks
  EXPECT_FALSE(decode_change(3, encode_change(message)).ok());
}

TEST(ChangeTest, AnAcknowledgementCountBeyondTheBodyIsRefusedWithoutReservingIt) {
  const Bytes body = BodyWriter().text("+15550000001").u32(0xffffffff).take();
  EXPECT_FALSE(decode_change(4, body).ok());
}

}  // namespace
}  // namespace shido::server
