// Prints a transcript of every protocol flow, request and reply frames as JSON, by driving
// the server's Session in-process. docs/PROTOCOL.md quotes its output as the examples.
//   build/<dir>/tests/tools/protocol_transcript
#include <iostream>
#include <map>
#include <vector>

#include "server/code_delivery.h"
#include "server/session.h"
#include "server/store.h"
#include "shido/base64.h"
#include "shido/crypto/envelope.h"
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

class PrintingSink final : public ReplySink {
 public:
  Status send(const Json& reply) override {
    replies_.push_back(reply);
    std::cout << "<- " << abbreviate(reply).dump() << "\n";
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

 private:
  std::vector<Json> replies_;  // in order; last() is the newest
};

void exchange(Session& session, PrintingSink& sink, const Json& request) {
  std::cout << "-> " << PrintingSink::abbreviate(request).dump() << "\n";
  (void)session.handle(request, sink);
}

Bytes nonce_of(const Json& hello) {
  return base64_decode(hello.at("nonce").get<std::string>()).value();
}

// Every flow, in the order docs/PROTOCOL.md tells them.
void print_transcript() {
  SystemTime time;
  Logger logger(LogLevel::kError);
  auto store = make_memory_store(time);
  CapturingDelivery delivery;
  const KeyPair server_key = KeyPair::generate();
  ServerContext context{server_key, *store, delivery, logger, time};
  PrintingSink sink;

  const std::string alice = "+972501111111", bob = "+972502222222";
  const KeyPair alice_key = KeyPair::generate(), bob_key = KeyPair::generate();

  auto register_user = [&](const std::string& phone, const std::string& email, const KeyPair& key) {
    Session session(context, "example");
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
  Session alice_session(context, "example");
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
  Session bob_session(context, "example");
  exchange(bob_session, sink, Hello{}.to_json());
  nonce = nonce_of(sink.last());
  proof = seal(bob_key, server_key.public_key(), as_bytes(delivery.codes[bob]), Purpose::kConnect,
               Context{to_bytes(bob), nonce});
  exchange(bob_session, sink, ConnectRequest{bob, to_wire(proof.value())}.to_json());
  exchange(bob_session, sink, CheckWaitingMessages{10, 0}.to_json());
  const std::string id = sink.last().value("message_id", "");
  exchange(bob_session, sink, AckMessages{{id, "unknown-id"}}.to_json());

  std::cout << "\n# Some errors\n";
  Session fresh(context, "example");
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
int main() {
  try {
    print_transcript();
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "protocol_transcript: " << error.what() << "\n";
    return 1;
  }
}
