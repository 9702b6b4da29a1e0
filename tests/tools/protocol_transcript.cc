// Prints a transcript of every protocol flow, request and reply frames as JSON, by driving
// the server's Session in-process. docs/PROTOCOL.md quotes its output as the examples.
//   build/<dir>/tests/tools/protocol_transcript [--frames DIR]
// With --frames, every frame is also written to DIR in full, the fuzzers' seed corpus
// (docs/FUZZING.md): each connection's requests as they go on the wire, <connection>.frames,
// and each frame's JSON, frame-<n>-request.json and frame-<n>-reply.json.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/code_delivery.h"
#include "server/session.h"
#include "server/store.h"
#include "shido/base64.h"
#include "shido/crypto/envelope.h"
#include "shido/protocol/frame.h"
#include "shido/protocol/messages.h"
#include "shido/protocol/text_message.h"

namespace {

using namespace shido;
using namespace shido::server;

// Keeps the last code per phone, as the out-of-band channel would.
class CapturingDelivery final : public CodeDelivery {
 public:
  Status deliver(const CodeNotice& notice) override {
    codes[notice.phone] = std::string(notice.code.as_string_view());
    return {};
  }
  std::map<std::string, std::string> codes;
};

// Writes every frame, whole, into a directory (--frames).
class FrameFiles {
 public:
  explicit FrameFiles(std::filesystem::path directory) : directory_(std::move(directory)) {
    std::filesystem::create_directories(directory_);
  }
  // A request of the connection named `connection`: its JSON, and its frame appended to the
  // connection's wire stream.
  void request(const std::string& connection, const Json& json) {
    const std::string text = dump_json(json);
    write("frame-" + number() + "-request.json", text);
    std::string& stream = streams_[connection];
    append_frame(stream, text);
    write(connection + ".frames", stream);
  }
  void reply(const Json& json) { write("frame-" + number() + "-reply.json", dump_json(json)); }

 private:
  std::string number() {
    const std::string n = std::to_string(++count_);
    return std::string(3 - std::min<std::size_t>(n.size(), 3), '0') + n;
  }
  void write(const std::string& name, const std::string& bytes) {
    std::ofstream file(directory_ / name, std::ios::binary | std::ios::trunc);
    file << bytes;
    if (!file) throw std::runtime_error("cannot write " + (directory_ / name).string());
  }
  std::filesystem::path directory_;
  std::map<std::string, std::string> streams_;  // each connection's requests so far
  int count_ = 0;
};

class PrintingSink final : public ReplySink {
 public:
  explicit PrintingSink(std::optional<FrameFiles>& files) : files_(files) {}
  Status send(const Json& reply) override {
    replies_.push_back(reply);
    std::cout << "<- " << abbreviate(reply).dump() << "\n";
    if (files_) files_->reply(reply);
    return {};
  }
  Status flush() override { return {}; }  // every reply is printed as it comes
  // Long base64 and PEM values are cut so the transcript stays readable.
  static Json abbreviate(Json json) {
    for (auto& [key, value] : json.items()) {
      if (value.is_string() && value.get<std::string>().size() > 48) {
        value = value.get<std::string>().substr(0, 44) + "...";
      }
    }
    return json;
  }
  const Json& last() const { return replies_.back(); }
  std::optional<FrameFiles>& files() { return files_; }

 private:
  std::optional<FrameFiles>& files_;
  std::vector<Json> replies_;  // in order; last() is the newest
};

// Each connection's Session is named after it (its peer), which names its .frames file.
void exchange(Session& session, PrintingSink& sink, const Json& request) {
  std::cout << "-> " << PrintingSink::abbreviate(request).dump() << "\n";
  if (sink.files()) sink.files()->request(session.peer(), request);
  (void)session.handle(request, sink);
}

Bytes nonce_of(const Json& hello) {
  return base64_decode(hello.at("nonce").get<std::string>()).value();
}

// Every flow, in the order docs/PROTOCOL.md tells them.
void print_transcript(std::optional<FrameFiles>& files) {
  SystemTime time;
  Logger logger(LogLevel::kError);
  auto store = make_memory_store(time);
  CapturingDelivery delivery;
  const KeyPair server_key = KeyPair::generate();
  ServerContext context{server_key, *store, delivery, logger, time};
  PrintingSink sink(files);

  const std::string alice = "+972501111111", bob = "+972502222222";
  const KeyPair alice_key = KeyPair::generate(), bob_key = KeyPair::generate();

  auto register_user = [&](const std::string& phone, const std::string& email, const KeyPair& key) {
    Session session(context, "register-" + email.substr(0, email.find('@')));
    std::cout << "\n# Registration of " << phone << "\n";
    exchange(session, sink, Hello{}.to_json());
    const Bytes nonce = nonce_of(sink.last());
    exchange(session, sink, SendPhoneNumber{phone, email}.to_json());
    const std::string& code = delivery.codes[phone];
    auto proof = seal(key, server_key.public_key(), as_bytes(code), Purpose::kRegister,
                      Context{to_bytes(phone), nonce});
    exchange(session, sink,
             SendPublicKey{key.public_key().pem(), to_wire(proof.value())}.to_json());
  };
  register_user(alice, "alice@example.com", alice_key);
  register_user(bob, "bob@example.com", bob_key);

  std::cout << "\n# Connect (Alice, later, on a new connection), then communication\n";
  Session alice_session(context, "connect-alice");
  exchange(alice_session, sink, Hello{}.to_json());
  Bytes nonce = nonce_of(sink.last());
  auto proof = seal(alice_key, server_key.public_key(), as_bytes(delivery.codes[alice]),
                    Purpose::kConnect, Context{to_bytes(alice), nonce});
  exchange(alice_session, sink, ConnectRequest{alice, to_wire(proof.value())}.to_json());
  std::cout << "# the same proof replayed: its nonce is spent\n";
  exchange(alice_session, sink, ConnectRequest{alice, to_wire(proof.value())}.to_json());
  exchange(alice_session, sink, CommunicationRequest{bob}.to_json());
  auto envelope =
      seal_text_message(alice_key, alice, bob_key.public_key(), bob, {"Hi Bob!", 1795734000000});
  exchange(alice_session, sink,
           SendMessage{bob, to_wire(envelope.value()), std::nullopt}.to_json());

  std::cout << "\n# Waiting messages (Bob)\n";
  Session bob_session(context, "fetch-bob");
  exchange(bob_session, sink, Hello{}.to_json());
  nonce = nonce_of(sink.last());
  proof = seal(bob_key, server_key.public_key(), as_bytes(delivery.codes[bob]), Purpose::kConnect,
               Context{to_bytes(bob), nonce});
  exchange(bob_session, sink, ConnectRequest{bob, to_wire(proof.value())}.to_json());
  exchange(bob_session, sink, CheckWaitingMessages{10, 0}.to_json());
  const std::string id = sink.last().value("message_id", "");
  exchange(bob_session, sink, AckMessages{{id, "unknown-id"}}.to_json());

  std::cout << "\n# Some errors\n";
  Session fresh(context, "errors");
  exchange(fresh, sink, CheckWaitingMessages{}.to_json());
  exchange(fresh, sink, Json{{"code", 200}, {"protocol", 2}});
  exchange(fresh, sink, Hello{}.to_json());
  exchange(fresh, sink, SendPhoneNumber{"0501234567", "a@example.com"}.to_json());
  exchange(fresh, sink, SendPhoneNumber{alice, "not-an-address"}.to_json());
  exchange(fresh, sink, SendPhoneNumber{alice, "alice@example.com"}.to_json());
  exchange(fresh, sink, Json{{"code", 202}, {"max", "ten"}});
  exchange(fresh, sink, CommunicationRequest{bob}.to_json());
  exchange(fresh, sink, Json{{"code", 201}, {"phone_number", "+15550000000"}});
  exchange(fresh, sink, Json{{"code", 777}});
}

}  // namespace

// Nothing escapes main.
int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args.size() != 2 || args[0] != "--frames")) {
    std::cerr << "usage: protocol_transcript [--frames DIR]\n";
    return 2;
  }
  try {
    std::optional<FrameFiles> files;
    if (!args.empty()) files.emplace(args[1]);
    print_transcript(files);
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "protocol_transcript: " << error.what() << "\n";
    return 1;
  }
}
