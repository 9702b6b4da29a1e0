#include "shido/protocol/messages.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "shido/base64.h"

namespace shido {
namespace {

Bytes filled(std::size_t size, std::uint8_t value) { return Bytes(size, value); }

Envelope sample_envelope(std::size_t ciphertext_size = 32) {
  return Envelope{
      .salt = filled(kSaltSize, 1),
      .iv_for_wrapped_key = filled(kIvSize, 2),
      .wrapped_aes_key = filled(kWrappedKeySize, 3),
      .iv_for_ciphertext = filled(kIvSize, 4),
      .ciphertext = filled(ciphertext_size, 5),
      .mac = filled(kMacSize, 6),
  };
}

const char kPem[] = "-----BEGIN PUBLIC KEY-----\nMFkw...\n-----END PUBLIC KEY-----\n";

// Serialises a message, parses the text back as a frame, and decodes it.
template <class M>
M round_trip(const M& message) {
  const Json json = message.to_json();
  EXPECT_EQ(json.at("code").get<int>(), static_cast<int>(M::kCode));
  auto parsed = parse_frame_json(dump_json(json));
  EXPECT_TRUE(parsed.ok());
  if (!parsed.ok()) return M{};
  auto decoded = M::from_json(parsed.value());
  EXPECT_TRUE(decoded.ok()) << decoded.error().message;
  if (!decoded.ok()) return M{};
  // Every field is written, so equal JSON means equal fields.
  EXPECT_EQ(decoded.value().to_json(), json);
  return decoded.value();
}

template <class M>
void expect_error(const Json& json, Errc code, std::string_view message) {
  auto decoded = M::from_json(json);
  ASSERT_FALSE(decoded.ok()) << "accepted " << dump_json(json);
  EXPECT_EQ(decoded.error().code, code) << decoded.error().message;
  EXPECT_EQ(decoded.error().message, message);
}

// For each required member: absent is kMissingField and a wrong JSON type is kWrongType,
// each naming the member.
template <class M>
void expect_required_members(const M& message, const std::vector<std::string>& members) {
  const Json valid = message.to_json();
  ASSERT_TRUE(M::from_json(valid).ok());
  for (const std::string& name : members) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(valid.contains(name));
    Json missing = valid;
    missing.erase(name);
    expect_error<M>(missing, Errc::kMissingField, "missing member '" + name + "'");

    Json mistyped = valid;
    const bool is_string = valid.at(name).is_string();
    mistyped[name] = is_string ? Json(7) : Json("7");
    expect_error<M>(mistyped, Errc::kWrongType,
                    "member '" + name + "' must be " + (is_string ? "a string" : "an integer"));
  }
}

const std::vector<std::string> kCodeEnvelopeMembers = {
    "salt",          "iv_for_wrapped_key",    "wrapped_aes_key",
    "iv_for_secret", "encrypted_secret_code", "mac"};
const std::vector<std::string> kMessageEnvelopeMembers = {
    "salt", "iv_for_wrapped_key", "wrapped_aes_key", "iv_for_message", "encrypted_message", "mac"};

std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// --- Round trips ----------------------------------------------------------------------

TEST(MessagesTest, ClientMessagesRoundTrip) {
  EXPECT_EQ(round_trip(Hello{.protocol = 1}).protocol, 1);
  EXPECT_EQ(round_trip(Hello{.protocol = 7}).protocol, 7);  // the version is the caller's check

  const auto phone =
      round_trip(SendPhoneNumber{.phone_number = "+972501234567", .email = "a@b.co"});
  EXPECT_EQ(phone.phone_number, "+972501234567");
  EXPECT_EQ(phone.email, "a@b.co");

  const WireEnvelope wire = to_wire(sample_envelope());
  const auto key = round_trip(SendPublicKey{.public_key = kPem, .proof = wire});
  EXPECT_EQ(key.public_key, kPem);
  EXPECT_EQ(key.proof, wire);

  const auto connect = round_trip(ConnectRequest{.phone_number = "+12345678", .proof = wire});
  EXPECT_EQ(connect.phone_number, "+12345678");
  EXPECT_EQ(connect.proof, wire);

  EXPECT_EQ(round_trip(CommunicationRequest{.recipients_phone_number = "+12345678"})
                .recipients_phone_number,
            "+12345678");

  const auto send = round_trip(SendMessage{
      .recipients_phone_number = "+12345678", .envelope = wire, .sender_public_key = std::nullopt});
  EXPECT_EQ(send.envelope, wire);
  EXPECT_FALSE(send.sender_public_key.has_value());

  const auto check = round_trip(CheckWaitingMessages{.max = 500, .wait_seconds = 60});
  EXPECT_EQ(check.max, 500);
  EXPECT_EQ(check.wait_seconds, 60);

  const auto ack = round_trip(AckMessages{.message_ids = {"m1", "m2", ""}});
  EXPECT_EQ(ack.message_ids, (std::vector<std::string>{"m1", "m2", ""}));
  EXPECT_TRUE(round_trip(AckMessages{}).message_ids.empty());

  EXPECT_EQ(round_trip(GeneralClientError{.error_description = "oops"}).error_description, "oops");
  EXPECT_EQ(round_trip(GeneralClientError{}).error_description, "");
  EXPECT_EQ(Bye{}.to_json(), Json({{"code", 199}}));
  round_trip(Bye{});
}

TEST(MessagesTest, ServerMessagesRoundTrip) {
  const auto hello =
      round_trip(ServerHello{.protocol = 1, .public_key = kPem, .nonce = "bm9uY2U="});
  EXPECT_EQ(hello.public_key, kPem);
  EXPECT_EQ(hello.nonce, "bm9uY2U=");

  EXPECT_EQ(round_trip(CodeSent{.expires_in = 600}).expires_in, 600);
  EXPECT_EQ(RegisterSuccess{}.to_json(), Json({{"code", 104}}));
  round_trip(RegisterSuccess{});
  EXPECT_EQ(ConnectAccepted{}.to_json(), Json({{"code", 106}}));
  round_trip(ConnectAccepted{});

  const auto key =
      round_trip(RecipientKey{.recipients_phone_number = "+12345678", .public_key = kPem});
  EXPECT_EQ(key.public_key, kPem);

  EXPECT_EQ(round_trip(MessageStored{.message_id = "id-1"}).message_id, "id-1");
  EXPECT_EQ(round_trip(WaitingApproved{.count = 3}).count, 3);

  const WireEnvelope wire = to_wire(sample_envelope(48));
  const auto waiting = round_trip(WaitingMessage{.message_id = "id-2",
                                                 .senders_phone_number = "+12345678",
                                                 .senders_public_key = kPem,
                                                 .stored_at = 1'700'000'000'123,
                                                 .envelope = wire,
                                                 .remaining_messages = 2});
  EXPECT_EQ(waiting.stored_at, 1'700'000'000'123);
  EXPECT_EQ(waiting.envelope, wire);
  EXPECT_EQ(waiting.remaining_messages, 2);

  const auto ack = round_trip(AckOk{.deleted = 2, .waiting = 5});
  EXPECT_EQ(ack.deleted, 2);
  EXPECT_EQ(ack.waiting, 5);
}

TEST(MessagesTest, ErrorRepliesRoundTrip) {
  const ErrorReply locked{.code = Code::kConnectRequestNotAccepted,
                          .error_description = "locked",
                          .attempts_left = std::nullopt,
                          .retry_after = 60};
  const Json json = locked.to_json();
  EXPECT_EQ(json.at("code").get<int>(), 107);
  EXPECT_FALSE(json.contains("attempts_left"));
  auto back = ErrorReply::from_json(json);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value().code, Code::kConnectRequestNotAccepted);
  EXPECT_EQ(back.value().error_description, "locked");
  EXPECT_EQ(back.value().retry_after, 60);
  EXPECT_FALSE(back.value().attempts_left.has_value());

  const ErrorReply wrong{.code = Code::kInvalidSecretCode,
                         .error_description = "wrong code",
                         .attempts_left = 0,
                         .retry_after = std::nullopt};
  auto wrong_back = ErrorReply::from_json(wrong.to_json());
  ASSERT_TRUE(wrong_back.ok());
  EXPECT_EQ(wrong_back.value().attempts_left, 0);
  EXPECT_FALSE(wrong_back.value().retry_after.has_value());
}

// The member names as docs/PROTOCOL.md writes them, parsed from text rather than from to_json.
TEST(MessagesTest, DecodesTheProtocolsOwnMemberNames) {
  auto parsed = parse_frame_json(
      R"({"code":110,"recipients_phone_number":"+12345678","salt":"s","iv_for_wrapped_key":"i",
          "wrapped_aes_key":"w","iv_for_message":"v","encrypted_message":"c","mac":"m",
          "unknown_member":[1,2]})");
  ASSERT_TRUE(parsed.ok());
  auto send = SendMessage::from_json(parsed.value());
  ASSERT_TRUE(send.ok()) << send.error().message;
  EXPECT_EQ(send.value().envelope, (WireEnvelope{"s", "i", "w", "v", "c", "m"}));

  parsed = parse_frame_json(
      R"({"code":201,"phone_number":"+12345678","salt":"s","iv_for_wrapped_key":"i",
          "wrapped_aes_key":"w","encrypted_secret_code":"c","iv_for_secret":"v","mac":"m"})");
  ASSERT_TRUE(parsed.ok());
  auto connect = ConnectRequest::from_json(parsed.value());
  ASSERT_TRUE(connect.ok()) << connect.error().message;
  EXPECT_EQ(connect.value().proof, (WireEnvelope{"s", "i", "w", "v", "c", "m"}));

  parsed = parse_frame_json(R"({"code":202})");
  ASSERT_TRUE(parsed.ok());
  auto check = CheckWaitingMessages::from_json(parsed.value());
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check.value().max, kDefaultFetchMax);
  EXPECT_EQ(check.value().wait_seconds, 0);
}

// --- Missing and mistyped members -----------------------------------------------------

TEST(MessagesTest, EveryRequiredMemberIsNamed) {
  const WireEnvelope wire = to_wire(sample_envelope());
  expect_required_members(Hello{}, {"code", "protocol"});
  expect_required_members(SendPhoneNumber{.phone_number = "+12345678", .email = "a@b.c"},
                          {"phone_number", "email"});
  expect_required_members(SendPublicKey{.public_key = kPem, .proof = wire},
                          plus({"public_key"}, kCodeEnvelopeMembers));
  expect_required_members(ConnectRequest{.phone_number = "+12345678", .proof = wire},
                          plus({"phone_number"}, kCodeEnvelopeMembers));
  expect_required_members(CommunicationRequest{.recipients_phone_number = "+12345678"},
                          {"recipients_phone_number"});
  expect_required_members(SendMessage{.recipients_phone_number = "+12345678",
                                      .envelope = wire,
                                      .sender_public_key = std::nullopt},
                          plus({"recipients_phone_number"}, kMessageEnvelopeMembers));
  expect_required_members(ServerHello{.protocol = 1, .public_key = kPem, .nonce = "AA=="},
                          {"protocol", "public_key", "nonce"});
  expect_required_members(CodeSent{}, {"expires_in"});
  expect_required_members(RecipientKey{.recipients_phone_number = "+1", .public_key = kPem},
                          {"recipients_phone_number", "public_key"});
  expect_required_members(MessageStored{.message_id = "x"}, {"message_id"});
  expect_required_members(WaitingApproved{}, {"count"});
  expect_required_members(WaitingMessage{.message_id = "x",
                                         .senders_phone_number = "+12345678",
                                         .senders_public_key = kPem,
                                         .stored_at = 1,
                                         .envelope = wire,
                                         .remaining_messages = 0},
                          plus({"message_id", "senders_phone_number", "senders_public_key",
                                "stored_at", "remaining_messages"},
                               kMessageEnvelopeMembers));
  expect_required_members(AckOk{}, {"deleted", "waiting"});
  expect_required_members(ErrorReply{.code = Code::kBadRequest,
                                     .error_description = "bad",
                                     .attempts_left = std::nullopt,
                                     .retry_after = std::nullopt},
                          {"code", "error_description"});
}

TEST(MessagesTest, MessageIdsMustBeAnArrayOfStrings) {
  expect_error<AckMessages>(Json{{"code", 120}}, Errc::kMissingField,
                            "missing member 'message_ids'");
  for (const Json& bad : {Json("m1"), Json({"m1", 2}), Json::object(), Json::array({nullptr})}) {
    expect_error<AckMessages>(Json{{"code", 120}, {"message_ids", bad}}, Errc::kWrongType,
                              "member 'message_ids' must be an array of strings");
  }
}

TEST(MessagesTest, IntegersMustBeJsonIntegers) {
  expect_error<WaitingApproved>(Json{{"code", 112}, {"count", 1.0}}, Errc::kWrongType,
                                "member 'count' must be an integer");
  expect_error<Hello>(Json{{"code", 200}, {"protocol", true}}, Errc::kWrongType,
                      "member 'protocol' must be an integer");
  expect_error<Hello>(Json{{"code", 200}, {"protocol", nullptr}}, Errc::kWrongType,
                      "member 'protocol' must be an integer");
  // Any integer is a protocol version (the server answers 132 to all but 1), however large.
  auto big = Hello::from_json(Json{{"code", 200}, {"protocol", 3000000000LL}});
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big.value().protocol, 3000000000LL);
  // Other integers that do not fit an int are bad values.
  expect_error<AckOk>(Json{{"code", 121}, {"deleted", 18446744073709551615ULL}, {"waiting", 0}},
                      Errc::kBadValue, "member 'deleted' must be between 0 and 2147483647");
  expect_error<WaitingApproved>(Json{{"code", 112}, {"count", -1}}, Errc::kBadValue,
                                "member 'count' must be between 0 and 2147483647");
}

TEST(MessagesTest, StoredAtIsA64BitInteger) {
  WaitingMessage message{.message_id = "x",
                         .senders_phone_number = "+12345678",
                         .senders_public_key = kPem,
                         .stored_at = 0,
                         .envelope = to_wire(sample_envelope()),
                         .remaining_messages = 0};
  Json json = message.to_json();
  json["stored_at"] = 9'000'000'000'000'000'000LL;
  auto decoded = WaitingMessage::from_json(json);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded.value().stored_at, 9'000'000'000'000'000'000LL);

  json["stored_at"] = 18446744073709551615ULL;
  expect_error<WaitingMessage>(json, Errc::kBadValue,
                               "member 'stored_at' must be between -9223372036854775808 and "
                               "9223372036854775807");
}

TEST(MessagesTest, CodeMustMatchTheMessage) {
  expect_error<Hello>(Json{{"code", 102}, {"protocol", 1}}, Errc::kBadValue,
                      "member 'code' must be 200");
  expect_error<Bye>(Json{{"code", 1.5}}, Errc::kWrongType, "member 'code' must be an integer");
  auto not_object = Hello::from_json(Json::array({200}));
  ASSERT_FALSE(not_object.ok());
  EXPECT_EQ(not_object.error().code, Errc::kNotObject);
}

TEST(MessagesTest, FirstProblemInMemberOrderAnswers) {
  // Both members are wrong; phone_number is read first.
  expect_error<SendPhoneNumber>(Json{{"code", 102}, {"email", 1}}, Errc::kMissingField,
                                "missing member 'phone_number'");
}

// --- Ranges ---------------------------------------------------------------------------

TEST(MessagesTest, FetchMaxRange) {
  for (int max : {1, 100, 500}) {
    auto decoded = CheckWaitingMessages::from_json(Json{{"code", 202}, {"max", max}});
    ASSERT_TRUE(decoded.ok()) << max;
    EXPECT_EQ(decoded.value().max, max);
    EXPECT_EQ(decoded.value().wait_seconds, 0);
  }
  for (long long max : {0LL, -1LL, 501LL, 1LL << 40}) {
    expect_error<CheckWaitingMessages>(Json{{"code", 202}, {"max", max}}, Errc::kBadValue,
                                       "member 'max' must be between 1 and 500");
  }
  expect_error<CheckWaitingMessages>(Json{{"code", 202}, {"max", "10"}}, Errc::kWrongType,
                                     "member 'max' must be an integer");
  expect_error<CheckWaitingMessages>(Json{{"code", 202}, {"max", 10.0}}, Errc::kWrongType,
                                     "member 'max' must be an integer");
}

TEST(MessagesTest, WaitSecondsRange) {
  for (int wait : {0, 1, 60}) {
    auto decoded = CheckWaitingMessages::from_json(Json{{"code", 202}, {"wait_seconds", wait}});
    ASSERT_TRUE(decoded.ok()) << wait;
    EXPECT_EQ(decoded.value().wait_seconds, wait);
    EXPECT_EQ(decoded.value().max, kDefaultFetchMax);
  }
  for (int wait : {-1, 61, 3600}) {
    expect_error<CheckWaitingMessages>(Json{{"code", 202}, {"wait_seconds", wait}}, Errc::kBadValue,
                                       "member 'wait_seconds' must be between 0 and 60");
  }
  expect_error<CheckWaitingMessages>(Json{{"code", 202}, {"wait_seconds", nullptr}},
                                     Errc::kWrongType, "member 'wait_seconds' must be an integer");
}

// --- Optional members -----------------------------------------------------------------

TEST(MessagesTest, OptionalSenderPublicKey) {
  SendMessage message{.recipients_phone_number = "+12345678",
                      .envelope = to_wire(sample_envelope()),
                      .sender_public_key = kPem};
  const Json json = message.to_json();
  EXPECT_EQ(json.at("sender_public_key").get<std::string>(), kPem);
  const auto back = round_trip(message);
  ASSERT_TRUE(back.sender_public_key.has_value());
  EXPECT_EQ(*back.sender_public_key, kPem);

  message.sender_public_key.reset();
  EXPECT_FALSE(message.to_json().contains("sender_public_key"));

  Json mistyped = json;
  mistyped["sender_public_key"] = 5;
  expect_error<SendMessage>(mistyped, Errc::kWrongType,
                            "member 'sender_public_key' must be a string");
}

TEST(MessagesTest, OptionalErrorMembers) {
  expect_error<GeneralClientError>(Json{{"code", 105}, {"error_description", 3}}, Errc::kWrongType,
                                   "member 'error_description' must be a string");
  expect_error<ErrorReply>(Json{{"code", 109}, {"error_description", "x"}, {"attempts_left", "4"}},
                           Errc::kWrongType, "member 'attempts_left' must be an integer");
  expect_error<ErrorReply>(Json{{"code", 127}, {"error_description", "x"}, {"retry_after", -5}},
                           Errc::kBadValue,
                           "member 'retry_after' must be between 0 and 2147483647");
}

TEST(MessagesTest, ErrorReplyNeedsAnErrorCode) {
  for (int code : {104, 200, 101, 0, 999}) {
    auto decoded = ErrorReply::from_json(Json{{"code", code}, {"error_description", "x"}});
    ASSERT_FALSE(decoded.ok()) << code;
    EXPECT_EQ(decoded.error().code, Errc::kBadValue) << code;
    EXPECT_NE(decoded.error().message.find("'code'"), std::string::npos);
  }
  for (int code : {100, 107, 108, 109, 113, 114, 123, 124, 125, 126, 127, 128, 129, 131, 132}) {
    auto decoded = ErrorReply::from_json(Json{{"code", code}, {"error_description", "x"}});
    ASSERT_TRUE(decoded.ok()) << code;
    EXPECT_EQ(static_cast<int>(decoded.value().code), code);
  }
}

TEST(MessagesTest, FrameCode) {
  auto parsed = parse_frame_json(R"({"code":203})");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(frame_code(parsed.value()), 203);
  EXPECT_EQ(frame_code(Json{{"code", -7}}), -7);
  EXPECT_EQ(frame_code(Json{{"code", 18446744073709551615ULL}}), LLONG_MAX);
  EXPECT_EQ(frame_code(Json{{"x", 1}}), -1);
}

// --- Envelopes on the wire ------------------------------------------------------------

TEST(WireEnvelopeTest, RoundTrip) {
  for (std::size_t size : {std::size_t{16}, std::size_t{32}, kMaxCiphertextSize}) {
    const Envelope envelope = sample_envelope(size);
    const WireEnvelope wire = to_wire(envelope);
    EXPECT_EQ(wire.salt, base64_encode(envelope.salt));
    EXPECT_EQ(wire.ciphertext, base64_encode(envelope.ciphertext));
    auto back = from_wire(wire, EnvelopeKind::kMessage);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back.value(), envelope);
  }
}

TEST(WireEnvelopeTest, RejectsBadBase64NamingTheMember) {
  const WireEnvelope good = to_wire(sample_envelope());
  struct Case {
    std::string WireEnvelope::*member;
    std::string secret_name;
    std::string message_name;
  };
  const Case cases[] = {
      {&WireEnvelope::salt, "salt", "salt"},
      {&WireEnvelope::iv_for_wrapped_key, "iv_for_wrapped_key", "iv_for_wrapped_key"},
      {&WireEnvelope::wrapped_aes_key, "wrapped_aes_key", "wrapped_aes_key"},
      {&WireEnvelope::iv_for_ciphertext, "iv_for_secret", "iv_for_message"},
      {&WireEnvelope::ciphertext, "encrypted_secret_code", "encrypted_message"},
      {&WireEnvelope::mac, "mac", "mac"},
  };
  for (const Case& c : cases) {
    for (const std::string& bad :
         {std::string("!!!!"), good.*c.member + "\n", good.*c.member + "=", std::string("AB=C")}) {
      WireEnvelope wire = good;
      wire.*c.member = bad;
      auto secret = from_wire(wire, EnvelopeKind::kSecretCode);
      ASSERT_FALSE(secret.ok()) << c.secret_name << " " << bad;
      EXPECT_EQ(secret.error().code, Errc::kBadBase64);
      EXPECT_EQ(secret.error().message, "member '" + c.secret_name + "' is not base64");
      auto message = from_wire(wire, EnvelopeKind::kMessage);
      ASSERT_FALSE(message.ok());
      EXPECT_EQ(message.error().message, "member '" + c.message_name + "' is not base64");
    }
  }
}

TEST(WireEnvelopeTest, FixedSizes) {
  auto expect_size_error = [](const Envelope& envelope, const std::string& message) {
    auto decoded = from_wire(to_wire(envelope), EnvelopeKind::kMessage);
    ASSERT_FALSE(decoded.ok()) << message;
    EXPECT_EQ(decoded.error().code, Errc::kBadValue);
    EXPECT_EQ(decoded.error().message, message);
  };
  Envelope e = sample_envelope();
  e.salt.pop_back();
  expect_size_error(e, "member 'salt' must be 16 bytes");
  e = sample_envelope();
  e.iv_for_wrapped_key.push_back(0);
  expect_size_error(e, "member 'iv_for_wrapped_key' must be 16 bytes");
  e = sample_envelope();
  e.wrapped_aes_key.resize(32);
  expect_size_error(e, "member 'wrapped_aes_key' must be 48 bytes");
  e = sample_envelope();
  e.iv_for_ciphertext.clear();
  expect_size_error(e, "member 'iv_for_message' must be 16 bytes");
  e = sample_envelope();
  e.mac.resize(16);
  expect_size_error(e, "member 'mac' must be 32 bytes");
}

TEST(WireEnvelopeTest, CiphertextSize) {
  const std::string message =
      "member 'encrypted_message' must be a non-zero multiple of 16 bytes, at most 131072";
  for (std::size_t size : {std::size_t{0}, std::size_t{15}, std::size_t{17}, std::size_t{33},
                           kMaxCiphertextSize + 16}) {
    auto decoded = from_wire(to_wire(sample_envelope(size)), EnvelopeKind::kMessage);
    ASSERT_FALSE(decoded.ok()) << size;
    EXPECT_EQ(decoded.error().code, Errc::kBadValue);
    EXPECT_EQ(decoded.error().message, message);
  }
  auto secret = from_wire(to_wire(sample_envelope(15)), EnvelopeKind::kSecretCode);
  ASSERT_FALSE(secret.ok());
  EXPECT_NE(secret.error().message.find("'encrypted_secret_code'"), std::string::npos);
}

}  // namespace
}  // namespace shido
