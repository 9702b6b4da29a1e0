// Fuzzes the server's session handler (server/session.h): the input is what a client sends on
// one connection, frames as on the wire (a 4-byte big-endian length, then the JSON), and
// each is parsed and handled as server/connection.cc does. Every input is played twice, on
// a new connection and on one already logged in (a proof the fuzzer could never forge),
// against a memory store holding two accounts and a message for each, on a clock that stands
// still and with seeded randomness, so that a crash replays. Every reply must be one the
// client accepts: a known server code whose message decodes, an error with its description.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "server/clock.h"
#include "server/code_delivery.h"
#include "server/log.h"
#include "server/packed_envelope.h"
#include "server/session.h"
#include "server/store.h"
#include "shido/base64.h"
#include "shido/crypto/digest.h"
#include "shido/crypto/envelope.h"
#include "shido/protocol/codes.h"
#include "shido/protocol/frame.h"
#include "shido/protocol/json.h"
#include "shido/protocol/messages.h"
#include "shido/protocol/text_message.h"

namespace {

using namespace shido;
using namespace shido::server;
using shido::fuzz::check;

// The phones of the transcript (tests/tools/protocol_transcript.cc), so that its frames,
// the seeds, name accounts that exist here.
const std::string kAlice = "+972501111111";
const std::string kBob = "+972502222222";
const std::string kCode = "123456";
constexpr std::size_t kMaxPreloginFrame = 16384;  // shido-server's --max-prelogin-frame

KeyPair key_from_scalar(const char* hex) {
  return KeyPair::from_private_scalar(from_hex(hex).value()).value();
}

// The keys of the envelope vectors (tests/vectors/shido/envelope_vectors.json): made once,
// not per run.
struct Keys {
  KeyPair server =
      key_from_scalar("519b423d715f8b581f4fa8ee59f4771a5b44c8130b4e3eacca54a56dda72b464");
  KeyPair alice =
      key_from_scalar("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
  KeyPair bob = key_from_scalar("0f56db78ca460b055c500064824bed999a25aaf48ebb519ac201537b85479813");
};
const Keys& keys() {
  static const Keys fixed;
  return fixed;
}

// Time stands still, so that a run depends on its input only (no code or lock expires).
class StillTime final : public TimeSource {
 public:
  TimePoint now() const override { return TimePoint(std::chrono::hours(1000)); }
  std::int64_t unix_ms() const override { return 1'800'000'000'000; }
};

// The same bytes for every input, so that a crash replays.
class SeededRandom final : public RandomSource {
 public:
  void fill(std::span<std::uint8_t> out) override {
    for (auto& byte : out) byte = static_cast<std::uint8_t>(engine_());
  }

 private:
  std::mt19937_64 engine_{20261126};
};

// Codes go nowhere: the fuzzer could not use them (a proof needs a private key).
class NoDelivery final : public CodeDelivery {
 public:
  Status deliver(const CodeNotice& /*notice*/) override { return {}; }
};

// A reply the client would accept: a server code, and the message of that code.
bool client_accepts(const Json& reply) {
  if (!reply.is_object() || !reply.contains("code") || !reply["code"].is_number_integer()) {
    return false;
  }
  const std::optional<Code> code = code_from_int(frame_code(reply));
  if (!code || is_client_code(*code)) return false;
  if (is_error_code(*code)) {
    auto error = ErrorReply::from_json(reply);
    return error.ok() && !error.value().error_description.empty();
  }
  switch (*code) {
    case Code::kServerPublicKey:
      return ServerHello::from_json(reply).ok();
    case Code::kCodeSent:
      return CodeSent::from_json(reply).ok();
    case Code::kRegisterSuccess:
      return RegisterSuccess::from_json(reply).ok();
    case Code::kConnectRequestAccepted:
      return ConnectAccepted::from_json(reply).ok();
    case Code::kSendYourEncryptedMessage:
      return RecipientKey::from_json(reply).ok();
    case Code::kMessageStored:
      return MessageStored::from_json(reply).ok();
    case Code::kCheckWaitingMessagesApproved:
      return WaitingApproved::from_json(reply).ok();
    case Code::kWaitingMessage:
      return WaitingMessage::from_json(reply).ok();
    case Code::kAckOk:
      return AckOk::from_json(reply).ok();
    default:
      return false;
  }
}

// Checks every reply as the session queues it, writes it as the connection would, and keeps
// the nonce of the last 101.
class CheckingSink final : public ReplySink {
 public:
  Status send(const Json& reply) override {
    check(client_accepts(reply), "every reply is one the client accepts");
    (void)dump_json(reply);
    if (reply.contains("nonce") && reply["nonce"].is_string()) nonce = reply["nonce"];
    return {};
  }
  Status flush() override { return {}; }
  std::string nonce;  // of the last 101
};

// A server with Alice and Bob registered (code kCode) and a message waiting for each.
struct Server {
  StillTime time;
  SeededRandom rng;
  NoDelivery delivery;
  Logger logger{LogLevel::kError};
  std::unique_ptr<Store> store = make_memory_store(time);
  ServerContext context{keys().server, *store, delivery, logger, time, rng};

  Server() {
    store->shutdown();  // a long-poll (202 with wait_seconds) returns at once
    add(kAlice, keys().alice);
    add(kBob, keys().bob);
    send(kAlice, keys().alice, kBob, keys().bob);
    send(kBob, keys().bob, kAlice, keys().alice);
  }

  void add(const std::string& phone, const KeyPair& key) {
    User user{phone, "user@example.com", key.public_key(), random_bytes(16, rng), {}};
    Bytes salted = user.code_salt;
    salted.insert(salted.end(), kCode.begin(), kCode.end());
    user.code_hash = sha256(salted);
    check(store->add_user(std::move(user)).ok(), "adding an account");
  }

  void send(const std::string& from, const KeyPair& from_key, const std::string& to,
            const KeyPair& to_key) {
    std::string id;
    auto put = store->put_message(to,
                                  StoredMessage{.id = {},
                                                .sender_phone = from,
                                                .sender_key = from_key.public_key(),
                                                .stored_at_ms = time.unix_ms(),
                                                .envelope = sealed(from, from_key, to, to_key)},
                                  id);
    check(put.ok() && put.value() == PutResult::kStored, "storing a message");
  }

  // The packed envelope of a message from one to the other, sealed once: sealing costs more
  // than the rest of a run.
  static Bytes sealed(const std::string& from, const KeyPair& from_key, const std::string& to,
                      const KeyPair& to_key) {
    static std::map<std::string, Bytes> envelopes;
    Bytes& envelope = envelopes[from + to];
    if (envelope.empty()) {
      auto message =
          seal_text_message(from_key, from, to_key.public_key(), to, {"Hi!", 1795734000000});
      envelope = pack_envelope(message.value());
    }
    return envelope;
  }
};

// Logs session in as Alice with a real proof, as the fuzzer cannot.
void log_in(Session& session, CheckingSink& sink) {
  (void)session.handle(Hello{}.to_json(), sink);
  const Bytes nonce = base64_decode(sink.nonce).value();
  auto proof = seal(keys().alice, keys().server.public_key(), as_bytes(kCode), Purpose::kConnect,
                    Context{to_bytes(kAlice), nonce});
  (void)session.handle(ConnectRequest{kAlice, to_wire(proof.value())}.to_json(), sink);
  check(session.phone() == kAlice, "logging in before the input");
}

// The next whole frame of input (advancing it), or nothing when none is left whole: as
// the server does, a frame that is empty or over the limit ends the connection.
std::optional<std::string_view> next_frame(std::string_view& input, std::size_t max_size) {
  if (input.size() < 4) return std::nullopt;
  std::size_t size = 0;
  for (std::size_t i = 0; i < 4; ++i) size = size << 8 | static_cast<unsigned char>(input[i]);
  if (size == 0 || size > max_size || input.size() - 4 < size) return std::nullopt;
  const std::string_view frame = input.substr(4, size);
  input.remove_prefix(4 + size);
  return frame;
}

// Plays input on one connection, as server/connection.cc serves it.
void play(std::string_view input, bool logged_in) {
  Server server;
  CheckingSink sink;
  Session session(server.context, "fuzz");
  if (logged_in) log_in(session, sink);
  for (;;) {
    const auto frame =
        next_frame(input, session.phone().empty() ? kMaxPreloginFrame : kDefaultMaxFrame);
    if (!frame) break;
    auto request = parse_frame_json(*frame);
    if (!request.ok()) {
      session.settle(sink);  // the server answers 124 itself and reads on
      continue;
    }
    const After after = session.handle(request.value(), sink);
    if (after == After::kClose) break;
    std::string_view rest = input;
    if (!next_frame(rest, kDefaultMaxFrame)) session.settle(sink);
  }
  session.settle(sink);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  play(input, false);
  play(input, true);
  return 0;
}
