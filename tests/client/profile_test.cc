// Profile: one account on disk (client/profile.h), with no server involved.
#include "client/profile.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "client_test_util.h"
#include "shido/crypto/keys.h"
#include "shido/protocol/messages.h"
#include "shido/protocol/text_message.h"

namespace shido::client {
namespace {

using client_test::file_mode;
using client_test::overwrite_file;
using client_test::read_file_or_empty;
using test::TempDir;

constexpr char kPhone[] = "+15550000001";
constexpr char kOther[] = "+15550000002";

class ProfileTest : public testing::Test {
 protected:
  ServerPin server_pin() const { return ServerPin{"127.0.0.1", 5123, server_key_.public_key()}; }

  Profile create(const std::string& phone = kPhone) {
    auto profile = Profile::create(home_.path(), phone, "me@example.com", key_, server_pin());
    if (!profile.ok()) throw std::runtime_error("create: " + profile.error().message);
    return std::move(profile).value();
  }

  Profile registered(const std::string& phone = kPhone) {
    Profile profile = create(phone);
    EXPECT_TRUE(profile.save_code(as_bytes("123456")).ok());
    return profile;
  }

  std::string file(const std::string& phone, const std::string& name) const {
    return home_.path() + "/" + phone + "/" + name;
  }

  TempDir home_{"shido-profile"};
  KeyPair key_ = KeyPair::generate();
  KeyPair server_key_ = KeyPair::generate();
};

TEST_F(ProfileTest, CreateThenOpenGivesBackKeyServerPinAndEmail) {
  Profile made = registered();
  EXPECT_EQ(made.phone(), kPhone);
  EXPECT_EQ(made.directory(), home_.path() + "/" + kPhone);

  auto opened = Profile::open(home_.path(), kPhone);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  const Profile& profile = opened.value();
  EXPECT_EQ(profile.phone(), kPhone);
  EXPECT_EQ(profile.email(), "me@example.com");
  EXPECT_EQ(profile.key().public_key(), key_.public_key());
  EXPECT_EQ(profile.key().pkcs8_pem().as_string_view(), key_.pkcs8_pem().as_string_view());
  EXPECT_EQ(profile.server().host, "127.0.0.1");
  EXPECT_EQ(profile.server().port, 5123);
  EXPECT_EQ(profile.server().key, server_key_.public_key());
  EXPECT_TRUE(profile.registered());
  auto code = profile.code();
  ASSERT_TRUE(code.ok()) << code.error().message;
  EXPECT_EQ(code.value().as_string_view(), "123456");
}

TEST_F(ProfileTest, TheLockExcludesEveryOtherHolderUntilReleased) {
  Profile profile = create();
  // Another process would open the lock file on its own: so does this test.
  auto try_lock = [&] {
    UniqueFd fd(::open((profile.directory() + "/lock").c_str(), O_RDWR | O_CLOEXEC));
    return fd.valid() && ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0;
  };
  {
    auto held = profile.lock();
    ASSERT_TRUE(held.ok()) << held.error().message;
    EXPECT_FALSE(try_lock());
    struct stat info {};
    ASSERT_EQ(::stat((profile.directory() + "/lock").c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0600u);
  }
  EXPECT_TRUE(try_lock());
}

TEST_F(ProfileTest, SecretFilesAndDirectoryArePrivate) {
  registered();
  EXPECT_EQ(file_mode(file(kPhone, "key.pem")), 0600u);
  EXPECT_EQ(file_mode(file(kPhone, "code")), 0600u);
  EXPECT_EQ(file_mode(home_.path() + "/" + kPhone), 0700u);
}

TEST_F(ProfileTest, OpenRefusesAKeyFileOthersCanRead) {
  registered();
  ASSERT_EQ(::chmod(file(kPhone, "key.pem").c_str(), 0644), 0);
  auto opened = Profile::open(home_.path(), kPhone);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, Errc::kInvalidKey);
  EXPECT_NE(opened.error().message.find("0644"), std::string::npos) << opened.error().message;
}

TEST_F(ProfileTest, OpenOfAnUnknownPhoneSaysRegisterFirst) {
  auto opened = Profile::open(home_.path(), kPhone);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, Errc::kNotFound);
  EXPECT_NE(opened.error().message.find("register first"), std::string::npos)
      << opened.error().message;
}

TEST_F(ProfileTest, CreateRefusesARegisteredProfileButReplacesAnUnfinishedOne) {
  create();  // registration never finished: no code
  const KeyPair second = KeyPair::generate();
  auto again = Profile::create(home_.path(), kPhone, "me@example.com", second, server_pin());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again.value().save_code(as_bytes("654321")).ok());

  auto third =
      Profile::create(home_.path(), kPhone, "me@example.com", KeyPair::generate(), server_pin());
  ASSERT_FALSE(third.ok());
  auto opened = Profile::open(home_.path(), kPhone);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened.value().key().public_key(), second.public_key());  // untouched by the refusal
}

// Registering an account again with another address records it; the server pin, the
// address it is reached at and the key stay as they are.
TEST_F(ProfileTest, SaveEmailChangesOnlyTheEmail) {
  Profile profile = registered();
  profile.set_address(std::string("10.0.0.1"), std::uint16_t{6000});  // this run only
  const Json before = Json::parse(read_file_or_empty(file(kPhone, "server.json")));
  ASSERT_TRUE(profile.save_email("new@example.com").ok());
  EXPECT_EQ(profile.email(), "new@example.com");
  Json after = Json::parse(read_file_or_empty(file(kPhone, "server.json")));
  EXPECT_EQ(after["email"], "new@example.com");
  after["email"] = before["email"];
  EXPECT_EQ(after, before);  // host and port as pinned, not this run's
  EXPECT_EQ(file_mode(file(kPhone, "server.json")), 0600u);
  auto opened = Profile::open(home_.path(), kPhone);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened.value().email(), "new@example.com");
  EXPECT_EQ(opened.value().server().port, 5123);
  EXPECT_EQ(opened.value().server().key, server_key_.public_key());
  EXPECT_EQ(opened.value().key().public_key(), key_.public_key());
}

TEST_F(ProfileTest, CreateRefusesAPhoneThatIsNotE164) {
  auto made = Profile::create(home_.path(), "../etc", "me@example.com", key_, server_pin());
  EXPECT_FALSE(made.ok());
}

TEST_F(ProfileTest, CodeWithAFinalNewlineFromAHandEditIsRead) {
  Profile profile = registered();
  overwrite_file(file(kPhone, "code"), "987654\n");
  auto code = profile.code();
  ASSERT_TRUE(code.ok()) << code.error().message;
  EXPECT_EQ(code.value().as_string_view(), "987654");
}

TEST_F(ProfileTest, ContactIsPinnedOnFirstUse) {
  Profile profile = registered();
  EXPECT_FALSE(profile.contact(kOther).has_value());
  const KeyPair theirs = KeyPair::generate();
  ASSERT_TRUE(profile.pin_contact(kOther, theirs.public_key(), 1000).ok());

  auto reopened = Profile::open(home_.path(), kPhone);
  ASSERT_TRUE(reopened.ok());
  auto contact = reopened.value().contact(kOther);
  ASSERT_TRUE(contact.has_value());
  EXPECT_EQ(contact->phone, kOther);
  EXPECT_EQ(contact->key, theirs.public_key());
  EXPECT_EQ(contact->first_seen_ms, 1000);
  EXPECT_FALSE(contact->verified);
  ASSERT_EQ(reopened.value().contacts().size(), 1u);
}

TEST_F(ProfileTest, ADamagedContactEntryIsNotPinnedAfresh) {
  Profile profile = registered();
  ASSERT_TRUE(profile.pin_contact(kOther, KeyPair::generate().public_key(), 1000).ok());
  const std::string contacts = profile.directory() + "/contacts.json";
  Json damaged = Json::parse(client_test::read_file_or_empty(contacts));
  damaged[kOther]["public_key"] = "-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n";
  overwrite_file(contacts, damaged.dump());
  EXPECT_FALSE(profile.contact(kOther).has_value());
  // Whoever now offers a key for kOther is not trusted on first use: it is not the first.
  const Status pinned = profile.pin_contact(kOther, KeyPair::generate().public_key(), 2000);
  ASSERT_FALSE(pinned.ok());
  EXPECT_EQ(pinned.error().code, Errc::kInvalidKey);
  EXPECT_NE(pinned.error().message.find("damaged"), std::string::npos);
  EXPECT_EQ(client_test::read_file_or_empty(contacts), damaged.dump());  // left as it was
}

TEST_F(ProfileTest, VerifiedIsKeptWhenTheSameKeyIsPinnedAgain) {
  Profile profile = registered();
  const KeyPair theirs = KeyPair::generate();
  ASSERT_TRUE(profile.pin_contact(kOther, theirs.public_key(), 1000).ok());
  ASSERT_TRUE(profile.set_verified(kOther, true).ok());
  EXPECT_TRUE(profile.contact(kOther)->verified);

  ASSERT_TRUE(profile.pin_contact(kOther, theirs.public_key(), 2000).ok());
  auto contact = profile.contact(kOther);
  ASSERT_TRUE(contact.has_value());
  EXPECT_TRUE(contact->verified);
  EXPECT_EQ(contact->first_seen_ms, 1000);  // the same key: first seen stays
}

TEST_F(ProfileTest, RePinningANewKeyDropsVerified) {
  Profile profile = registered();
  ASSERT_TRUE(profile.pin_contact(kOther, KeyPair::generate().public_key(), 1000).ok());
  ASSERT_TRUE(profile.set_verified(kOther, true).ok());

  const KeyPair replacement = KeyPair::generate();
  ASSERT_TRUE(profile.pin_contact(kOther, replacement.public_key(), 3000).ok());
  auto contact = profile.contact(kOther);
  ASSERT_TRUE(contact.has_value());
  EXPECT_EQ(contact->key, replacement.public_key());
  EXPECT_FALSE(contact->verified);
  EXPECT_EQ(contact->first_seen_ms, 3000);
}

TEST_F(ProfileTest, SetVerifiedOfAnUnknownContactFails) {
  Profile profile = registered();
  auto marked = profile.set_verified(kOther, true);
  ASSERT_FALSE(marked.ok());
  EXPECT_EQ(marked.error().code, Errc::kNotFound);
}

TEST_F(ProfileTest, HistoryIsAppendedAndReadBackInOrder) {
  Profile profile = registered();
  EXPECT_TRUE(profile.history().empty());
  ASSERT_TRUE(profile.append_history({{{"direction", "in"}, {"id", "a"}, {"body", "one"}}}).ok());
  ASSERT_TRUE(profile
                  .append_history({{{"direction", "out"}, {"id", "b"}, {"body", "two"}},
                                   {{"direction", "in"}, {"id", "c"}, {"body", "three"}}})
                  .ok());
  const std::vector<Json> history = profile.history();
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0]["body"], "one");
  EXPECT_EQ(history[1]["body"], "two");
  EXPECT_EQ(history[2]["body"], "three");
  EXPECT_EQ(file_mode(file(kPhone, "history.jsonl")), 0600u);
  // One JSON object a line.
  EXPECT_EQ(client_test::lines_of(read_file_or_empty(file(kPhone, "history.jsonl"))).size(), 3u);
}

TEST_F(ProfileTest, ATruncatedLastHistoryLineIsSkipped) {
  Profile profile = registered();
  ASSERT_TRUE(profile.append_history({{{"direction", "in"}, {"id", "a"}, {"body", "kept"}}}).ok());
  // A crash in the middle of an append leaves half a line behind.
  const std::string text = read_file_or_empty(file(kPhone, "history.jsonl"));
  overwrite_file(file(kPhone, "history.jsonl"), text + R"({"direction":"in","id":"b","bo)");

  const std::vector<Json> history = profile.history();
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0]["id"], "a");
  EXPECT_EQ(profile.known_message_ids(), (std::set<std::string>{"a"}));
}

TEST_F(ProfileTest, AnAppendAfterATruncatedLineIsNotLost) {
  Profile profile = registered();
  ASSERT_TRUE(profile.append_history({{{"direction", "in"}, {"id", "a"}, {"body", "kept"}}}).ok());
  const std::string text = read_file_or_empty(file(kPhone, "history.jsonl"));
  overwrite_file(file(kPhone, "history.jsonl"), text + R"({"direction":"in","id":"b","bo)");

  ASSERT_TRUE(
      profile.append_history({{{"direction", "in"}, {"id", "c"}, {"body", "after the crash"}}})
          .ok());
  const std::vector<Json> history = profile.history();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0]["id"], "a");
  EXPECT_EQ(history[1]["id"], "c");
  EXPECT_EQ(history[1]["body"], "after the crash");
  EXPECT_EQ(profile.known_message_ids(), (std::set<std::string>{"a", "c"}));
}

TEST_F(ProfileTest, HeldMessagesAreAppendedReadAndReplaced) {
  Profile profile = registered();
  EXPECT_TRUE(profile.held().empty());
  ASSERT_TRUE(profile.append_held({{{"message_id", "h1"}}, {{"message_id", "h2"}}}).ok());
  ASSERT_EQ(profile.held().size(), 2u);
  EXPECT_EQ(profile.held()[1]["message_id"], "h2");

  ASSERT_TRUE(profile.replace_held({{{"message_id", "h2"}}}).ok());
  ASSERT_EQ(profile.held().size(), 1u);
  EXPECT_EQ(profile.held()[0]["message_id"], "h2");
  ASSERT_TRUE(profile.replace_held({}).ok());
  EXPECT_TRUE(profile.held().empty());
}

TEST_F(ProfileTest, KnownMessageIdsAreReceivedAndHeldButNotSent) {
  Profile profile = registered();
  ASSERT_TRUE(profile
                  .append_history({{{"direction", "in"}, {"id", "received"}},
                                   {{"direction", "out"}, {"id", "sent"}},
                                   {{"direction", "in"}, {"id", "dropped"}, {"status", "dropped"}}})
                  .ok());
  // held.jsonl keeps the 119 frame as it came: its id is "message_id".
  ASSERT_TRUE(
      profile
          .append_held({{{"code", 119}, {"message_id", "held"}, {"senders_phone_number", kOther}}})
          .ok());
  // A message sent to oneself comes back with the id it was sent with: it must not count
  // as a duplicate of the outgoing entry.
  EXPECT_EQ(profile.known_message_ids(), (std::set<std::string>{"dropped", "held", "received"}));
}

// A held message from `phone`, sealed to this profile's key with `sender`'s key.
Json held_message(const std::string& id, const std::string& phone, const KeyPair& sender,
                  const PublicKey& recipient) {
  auto envelope = seal_text_message(sender, phone, recipient, kPhone, TextMessage{"held " + id, 1});
  if (!envelope.ok()) throw std::runtime_error(envelope.error().message);
  return WaitingMessage{id, phone, sender.public_key().pem(), 1, to_wire(envelope.value()), 0}
      .to_json();
}

TEST_F(ProfileTest, KeyChangesNameThePinnedKeyAndEachNewKeyOnce) {
  Profile profile = registered();
  const KeyPair pinned = KeyPair::generate();
  const KeyPair first_new = KeyPair::generate();
  const KeyPair second_new = KeyPair::generate();
  constexpr char kStranger[] = "+15550000003";
  ASSERT_TRUE(profile.pin_contact(kOther, pinned.public_key(), 1).ok());
  EXPECT_TRUE(profile.key_changes().empty());

  const PublicKey own = key_.public_key();
  ASSERT_TRUE(profile
                  .append_held({held_message("a", kOther, first_new, own),
                                held_message("b", kOther, second_new, own),
                                held_message("c", kOther, first_new, own),
                                held_message("d", kOther, pinned, own),        // not a change
                                held_message("e", kStranger, first_new, own),  // not a contact
                                {{"message_id", "damaged"}}})
                  .ok());
  const std::vector<KeyChange> changes = profile.key_changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].phone, kOther);
  EXPECT_EQ(changes[0].pinned, pinned.public_key());
  EXPECT_EQ(changes[0].offered,
            (std::vector<PublicKey>{first_new.public_key(), second_new.public_key()}));
  EXPECT_EQ(changes[0].held_messages, 3);
  ASSERT_TRUE(profile.key_change(kOther).has_value());
  EXPECT_EQ(profile.key_change(kOther)->held_messages, 3);
  EXPECT_FALSE(profile.key_change(kStranger).has_value());

  // Against another pin, the same messages tell another story, in order of arrival.
  ASSERT_TRUE(profile.pin_contact(kOther, first_new.public_key(), 2).ok());
  ASSERT_EQ(profile.key_changes().size(), 1u);
  EXPECT_EQ(profile.key_changes()[0].offered,
            (std::vector<PublicKey>{second_new.public_key(), pinned.public_key()}));
  EXPECT_EQ(profile.key_changes()[0].held_messages, 2);
}

TEST_F(ProfileTest, ListGivesTheRegisteredAccountsSorted) {
  EXPECT_TRUE(Profile::list(home_.path()).empty());
  EXPECT_TRUE(Profile::list(home_.path() + "/does-not-exist").empty());
  registered(kOther);
  registered(kPhone);
  ASSERT_EQ(::mkdir((home_.path() + "/not-a-phone").c_str(), 0700), 0);
  EXPECT_EQ(Profile::list(home_.path()), (std::vector<std::string>{kPhone, kOther}));
}

TEST_F(ProfileTest, ListLeavesOutARegistrationThatNeverFinished) {
  registered(kPhone);
  create(kOther);  // e.g. the code was wrong: a key and a server pin, but no code
  EXPECT_EQ(Profile::list(home_.path()), (std::vector<std::string>{kPhone}));
}

}  // namespace
}  // namespace shido::client
