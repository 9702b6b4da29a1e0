// Registration against the real server over TCP (docs/PROTOCOL.md sections 5 and 8): HELLO,
// 102 -> 115 with the code delivered out of band (outbox, command, log), 103 -> 104, and
// every error of the flow, and --code-ttl reaching the server (code expiry itself is tested
// in-process on a fake clock, session_register_test.cc).
#include <sys/stat.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include "e2e_util.h"
#include "shido/base64.h"

namespace shido::e2e {
namespace {

class RegisterTest : public E2eTest {};

Json register_request(const KeyPair& key, const PublicKey& server_key, const std::string& phone,
                      std::string_view code, const Bytes& nonce) {
  auto proof =
      seal(key, server_key, as_bytes(code), Purpose::kRegister, Context{to_bytes(phone), nonce});
  if (!proof.ok()) throw std::runtime_error("seal failed");
  return SendPublicKey{key.public_key().pem(), to_wire(proof.value())}.to_json();
}

TEST_F(RegisterTest, RegistersWithTheCodeFromTheOutboxAndIsLoggedIn) {
  start();
  ProtocolClient client = connect_to(server());
  const Greeting greeting = must(client.hello(), "hello");
  EXPECT_EQ(greeting.server_key.fingerprint(), server().fingerprint());
  EXPECT_EQ(greeting.nonce.size(), 32u);

  const std::string phone = phone_number(1);
  const CodeSent sent = must(client.request_code(phone, "alice@example.com"), "request_code");
  EXPECT_EQ(sent.expires_in, 600);

  // The code file: two lines (code, fingerprint), mode 0600, present before 115 came.
  const std::string path = server().outbox_dir() + "/" + phone + ".code";
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0) << path;
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  const auto text = test::read_text_file(path);
  ASSERT_TRUE(text);
  auto code = server().read_code(phone);
  ASSERT_TRUE(code);
  EXPECT_TRUE(test::is_six_digits(code->code)) << code->code;
  EXPECT_EQ(code->fingerprint, server().fingerprint());
  EXPECT_TRUE(test::is_fingerprint_text(code->fingerprint)) << code->fingerprint;
  EXPECT_EQ(*text, code->code + "\n" + code->fingerprint + "\n");

  const KeyPair key = KeyPair::generate();
  ASSERT_TRUE(client.register_key(key, greeting, phone, as_bytes(code->code)).ok());
  // Logged in: the server hands out the registered key.
  const PublicKey stored = must(client.recipient_key(phone), "recipient_key");
  EXPECT_EQ(stored, key.public_key());
  // The used code's file is gone, and nothing was left in its place (no temporary files).
  EXPECT_TRUE(std::filesystem::is_empty(server().outbox_dir()));
}

std::size_t count_of(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

TEST_F(RegisterTest, ACodeFileGoesWhenItsConnectionClosesUnlessANewerCodeReplacedIt) {
  start({"--log-level", "debug"});  // "disconnected" says when a connection's end is handled
  const std::string phone = phone_number(5);
  const std::string path = server().outbox_dir() + "/" + phone + ".code";
  ProtocolClient first = connect_to(server());
  (void)must(first.hello(), "hello");
  (void)must(first.request_code(phone, "a@example.com"), "code");
  ASSERT_TRUE(std::filesystem::exists(path));
  // A second connection asks for the same phone: its code replaces the file.
  ProtocolClient second = connect_to(server());
  (void)must(second.hello(), "hello");
  (void)must(second.request_code(phone, "a@example.com"), "code");
  const std::string newer = server().read_code(phone).value().code;

  first.bye();
  ASSERT_TRUE(test::eventually([&] { return count_of(server().log(), " disconnected") >= 1; }));
  // The first connection's end does not take the second one's code away.
  ASSERT_TRUE(server().read_code(phone));
  EXPECT_EQ(server().read_code(phone)->code, newer);

  // Once the connection that holds it is gone, nobody can use the code: its file goes.
  second.bye();
  EXPECT_TRUE(test::eventually([&] { return !std::filesystem::exists(path); }));
}

TEST_F(RegisterTest, AnExpiredCodeFileGoesAtTheNextDelivery) {
  start();
  const std::string old_phone = phone_number(6);
  const std::string old_path = server().outbox_dir() + "/" + old_phone + ".code";
  ProtocolClient holder = connect_to(server());
  (void)must(holder.hello(), "hello");
  (void)must(holder.request_code(old_phone, "a@example.com"), "code");
  // Written eleven minutes ago, as far as the file system says: past the ten of a code.
  const auto past = std::filesystem::file_time_type::clock::now() - std::chrono::minutes(11);
  std::filesystem::last_write_time(old_path, past);
  ProtocolClient other = connect_to(server());
  (void)must(other.hello(), "hello");
  (void)must(other.request_code(phone_number(7), "b@example.com"), "code");
  EXPECT_FALSE(std::filesystem::exists(old_path));
  EXPECT_TRUE(std::filesystem::exists(server().outbox_dir() + "/" + phone_number(7) + ".code"));
}

TEST_F(RegisterTest, EachNewCodeReplacesTheFileAndOnlyTheLatestWorks) {
  start();
  ProtocolClient client = connect_to(server());
  Greeting greeting = must(client.hello(), "hello");
  const std::string phone = phone_number(2);
  must(client.request_code(phone, "a@example.com"), "first code");
  const std::string first = server().read_code(phone)->code;
  must(client.request_code(phone, "a@example.com"), "second code");
  const std::string second = server().read_code(phone)->code;
  const KeyPair key = KeyPair::generate();
  if (first != second) {  // one in a million they are equal
    auto wrong = client.register_key(key, greeting, phone, as_bytes(first));
    EXPECT_EQ(refused_code(wrong), 109);
    EXPECT_EQ(wrong.error().attempts_left, 4);
    greeting = must(client.hello(), "hello");
  }
  EXPECT_TRUE(client.register_key(key, greeting, phone, as_bytes(second)).ok());
}

TEST_F(RegisterTest, ErrorsOfTheRegistrationFlow) {
  start();
  ProtocolClient client = connect_to(server());

  // Before HELLO: 129.
  auto early = client.request_code(phone_number(3), "a@example.com");
  EXPECT_EQ(refused_code(early), 129);
  // Another protocol version: 132.
  ASSERT_TRUE(client.send(Json{{"code", 200}, {"protocol", 2}}).ok());
  auto reply = must(client.receive(), "receive");
  EXPECT_EQ(code_of(reply), 132);
  EXPECT_TRUE(has_description(reply));

  Greeting greeting = must(client.hello(), "hello");
  EXPECT_EQ(refused_code(client.request_code("0501234567", "a@example.com")), 108);
  EXPECT_EQ(refused_code(client.request_code(phone_number(3), "not an email")), 113);
  // 103 with no 102 pending on this connection.
  const KeyPair key = KeyPair::generate();
  EXPECT_EQ(refused_code(client.register_key(key, greeting, phone_number(3), as_bytes("123456"))),
            129);

  // Wrong codes: 109 with 4..0 attempts left, then the registration is gone (129).
  must(client.request_code(phone_number(3), "a@example.com"), "request_code");
  const std::string code = server().read_code(phone_number(3))->code;
  const std::string wrong = code == "000000" ? "000001" : "000000";
  for (int left = 4; left >= 0; --left) {
    greeting = must(client.hello(), "hello");
    auto failed = client.register_key(key, greeting, phone_number(3), as_bytes(wrong));
    ASSERT_EQ(refused_code(failed), 109);
    EXPECT_EQ(failed.error().attempts_left, left);
  }
  greeting = must(client.hello(), "hello");
  EXPECT_EQ(refused_code(client.register_key(key, greeting, phone_number(3), as_bytes(code))), 129);

  // An invalid public key: 124.
  must(client.request_code(phone_number(3), "a@example.com"), "request_code");
  greeting = must(client.hello(), "hello");
  Json request = register_request(key, greeting.server_key, phone_number(3),
                                  server().read_code(phone_number(3))->code, greeting.nonce);
  request["public_key"] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
  ASSERT_TRUE(client.send(request).ok());
  reply = must(client.receive(), "receive");
  EXPECT_EQ(code_of(reply), 124);
  EXPECT_NE(reply.value("error_description", "").find("public key"), std::string::npos) << reply;

  // A third code for the phone from this address, then the rate limit: 127 with
  // retry_after, within the hour.
  must(client.request_code(phone_number(3), "a@example.com"), "third code");
  auto limited = client.request_code(phone_number(3), "a@example.com");
  ASSERT_EQ(refused_code(limited), 127);
  ASSERT_TRUE(limited.error().retry_after);
  EXPECT_GT(*limited.error().retry_after, 0);
  EXPECT_LE(*limited.error().retry_after, 3600);

  // The last code still registers; then the phone is taken: 114.
  greeting = must(client.hello(), "hello");
  ASSERT_TRUE(client
                  .register_key(key, greeting, phone_number(3),
                                as_bytes(server().read_code(phone_number(3))->code))
                  .ok());
  ProtocolClient other = connect_to(server());
  must(other.hello(), "hello");
  EXPECT_EQ(refused_code(other.request_code(phone_number(4), "b@example.com")), -1);
  ProtocolClient third = connect_to(server());
  must(third.hello(), "hello");
  // The rate limit of phone 3 answers before its registration (docs/PROTOCOL.md section 7)...
  EXPECT_EQ(refused_code(third.request_code(phone_number(3), "b@example.com")), 127);
  // ...while a registered phone with free slots gets 114.
  ProtocolClient fourth = connect_to(server());
  const User registered = register_user(server(), fourth, phone_number(5));
  EXPECT_EQ(refused_code(third.request_code(registered.phone, "b@example.com")), 114);
}

TEST_F(RegisterTest, TwoConnectionsRegisteringOnePhoneOnlyTheFirstWins) {
  start();
  ProtocolClient first = connect_to(server());
  ProtocolClient second = connect_to(server());
  const std::string phone = phone_number(6);
  const Greeting g1 = must(first.hello(), "hello");
  must(first.request_code(phone, "a@example.com"), "code 1");
  const std::string code1 = server().read_code(phone)->code;
  const Greeting g2 = must(second.hello(), "hello");
  must(second.request_code(phone, "b@example.com"), "code 2");
  const std::string code2 = server().read_code(phone)->code;

  // The second connection cannot spend the first one's code: its own pending code is
  // code2 (and a 103 on the first with code2 fails).
  const KeyPair key1 = KeyPair::generate(), key2 = KeyPair::generate();
  ASSERT_TRUE(first.register_key(key1, g1, phone, as_bytes(code1)).ok());
  EXPECT_EQ(refused_code(second.register_key(key2, g2, phone, as_bytes(code2))), 114);
  // The account is the first one's.
  EXPECT_EQ(must(first.recipient_key(phone), "key"), key1.public_key());
}

TEST_F(RegisterTest, GeneralClientErrorDropsThePendingRegistrationAndByeCloses) {
  start();
  ProtocolClient client = connect_to(server());
  must(client.hello(), "hello");
  const std::string phone = phone_number(7);
  must(client.request_code(phone, "a@example.com"), "request_code");
  const auto code = server().read_code(phone);
  ASSERT_TRUE(code);
  ASSERT_TRUE(client.send(GeneralClientError{"the user gave up"}.to_json()).ok());
  const Greeting greeting = must(client.hello(), "hello");  // 105 had no reply
  // The dropped registration's code is withdrawn from the outbox.
  EXPECT_FALSE(server().read_code(phone));
  EXPECT_EQ(
      refused_code(client.register_key(KeyPair::generate(), greeting, phone, as_bytes(code->code))),
      129);
  client.bye();
  EXPECT_EQ(wait_for_close(client.fd()), Closed::kYes);
}

TEST_F(RegisterTest, CodeTtlOptionReachesTheServer) {
  // The option sets the lifetime 115 announces. That the same value ends the code is
  // SessionTest.ACodeLifetimeOtherThanTheProtocolsIsAnnouncedAndEndsTheCode, on a fake
  // clock: nothing here waits for a code to expire.
  start({"--code-ttl", "45"});
  ProtocolClient client = connect_to(server());
  const std::string phone = phone_number(8);
  const Greeting greeting = must(client.hello(), "hello");
  EXPECT_EQ(must(client.request_code(phone, "a@example.com"), "request_code").expires_in, 45);
  EXPECT_TRUE(client
                  .register_key(KeyPair::generate(), greeting, phone,
                                as_bytes(server().read_code(phone)->code))
                  .ok());
}

TEST_F(RegisterTest, CodeCommandGetsTheCodeAndTheFingerprint) {
  test::TempDir out("shido-code-command");
  ServerProcess::Options options = server_options();
  options.use_outbox = false;
  options.extra_args = {
      "--code-command",
      "printf '%s\\n%s\\n%s\\n%s\\n' \"$SHIDO_CODE\" \"$SHIDO_SERVER_FINGERPRINT\" "
      "\"$SHIDO_PHONE\" \"$SHIDO_EMAIL\" > '" +
          out.path() + "'/\"$SHIDO_PHONE\".out"};
  start_with(options);
  ProtocolClient client = connect_to(server());
  const Greeting greeting = must(client.hello(), "hello");
  const std::string phone = phone_number(9);
  must(client.request_code(phone, "carol@example.com"), "request_code");

  // The command has finished before the 115 was sent.
  const auto text = test::read_text_file(out.path() + "/" + phone + ".out");
  ASSERT_TRUE(text);
  std::istringstream lines(*text);
  std::string code, fingerprint, seen_phone, email;
  std::getline(lines, code);
  std::getline(lines, fingerprint);
  std::getline(lines, seen_phone);
  std::getline(lines, email);
  EXPECT_TRUE(test::is_six_digits(code)) << code;
  EXPECT_EQ(fingerprint, server().fingerprint());
  EXPECT_EQ(seen_phone, phone);
  EXPECT_EQ(email, "carol@example.com");
  EXPECT_TRUE(client.register_key(KeyPair::generate(), greeting, phone, as_bytes(code)).ok());
  // Not in the log: this channel is not the log.
  const std::string log = stop_server();
  EXPECT_EQ(log.find(" code " + code), std::string::npos);
}

TEST_F(RegisterTest, FailingCodeCommandIs100AndTheServerGoesOn) {
  ServerProcess::Options options = server_options();
  options.use_outbox = false;
  options.extra_args = {"--code-command", "exit 3"};
  start_with(options);
  ProtocolClient client = connect_to(server());
  const Greeting greeting = must(client.hello(), "hello");
  ASSERT_TRUE(client.send(SendPhoneNumber{phone_number(10), "a@example.com"}.to_json()).ok());
  const Json reply = must(client.receive(), "receive");
  EXPECT_EQ(code_of(reply), 100);
  EXPECT_TRUE(has_description(reply));
  // Nothing is pending, and the connection still answers.
  EXPECT_EQ(refused_code(client.register_key(KeyPair::generate(), greeting, phone_number(10),
                                             as_bytes("123456"))),
            129);
  EXPECT_TRUE(client.hello().ok());
}

TEST_F(RegisterTest, DefaultDeliveryWritesTheCodeToTheLog) {
  ServerProcess::Options options = server_options();
  options.use_outbox = false;
  start_with(options);
  ProtocolClient client = connect_to(server());
  const Greeting greeting = must(client.hello(), "hello");
  const std::string phone = phone_number(11);
  must(client.request_code(phone, "a@example.com"), "request_code");
  // The log line is written before the 115 is sent.
  const std::string log = server().log();
  const auto at = log.find(" code ");
  ASSERT_NE(at, std::string::npos) << log;
  const std::string code = log.substr(at + 6, 6);
  ASSERT_TRUE(test::is_six_digits(code)) << log;
  EXPECT_NE(log.find(server().fingerprint()), std::string::npos);
  EXPECT_TRUE(client.register_key(KeyPair::generate(), greeting, phone, as_bytes(code)).ok());
}

}  // namespace
}  // namespace shido::e2e
