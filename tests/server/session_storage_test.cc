// What a client sees when the disk store cannot write (a full disk, an I/O error): 100 with
// a description, nothing changed, and the rest of the protocol still served.
#include <thread>

#include "fake_file_system.h"
#include "server/disk_store.h"
#include "session_fixture.h"

namespace shido::server::test {
namespace {

using Call = FakeFileSystem::Call;

// The file system comes first, so that it outlives the store the session test makes.
struct WithFileSystem {
  FakeFileSystem fs;
  Logger store_logger{LogLevel::kError};
};

class StorageSessionTest : private WithFileSystem, public SessionTest {
 protected:
  StorageSessionTest()
      : SessionTest([this](const TimeSource& time) -> std::unique_ptr<Store> {
          DiskStoreOptions options;
          options.directory = "data";
          return std::move(DiskStore::open(options, fs, time, Limits{}, store_logger)).value();
        }) {}

  // The next journal write fails; the store takes changes again once it has written a new
  // snapshot (the disk is fine after that one failure).
  void fail_next_write() { fs.fail(Call::kAppend); }
  bool writable() { return dynamic_cast<DiskStore&>(*store_).stats().writable; }
  void wait_until_writable() {
    ASSERT_TRUE(shido::test::eventually([&] { return writable(); }));
  }
};

TEST_F(StorageSessionTest, AMessageThatCannotBeWrittenGets100AndIsNotStored) {
  const Account alice = register_account(alice_);
  const Account bob = register_account(bob_);
  auto conn = logged_in(alice);
  fail_next_write();
  const Json refused = conn->one(
      SendMessage{bob_, to_wire(message_envelope(alice, bob, "lost?")), std::nullopt}.to_json());
  EXPECT_TRUE(IsError(refused, Code::kGeneralServerError)) << refused.dump();
  EXPECT_NE(refused.value("error_description", "").find("nothing was changed"), std::string::npos);
  // Fetches go on, and find nothing.
  EXPECT_EQ(fetched_by(bob), std::vector<Json>{Json({{"code", 112}, {"count", 0}})});
  wait_until_writable();
  EXPECT_EQ(code_of(conn->one(
                SendMessage{bob_, to_wire(message_envelope(alice, bob, "kept")), std::nullopt}
                    .to_json())),
            118);
}

TEST_F(StorageSessionTest, ARegistrationThatCannotBeWrittenGets100AndLeavesThePhoneFree) {
  Conn conn(*this, "registrar");
  const KeyPair key = KeyPair::generate();
  const std::string code = request_code_on(conn, alice_);
  fail_next_write();
  EXPECT_TRUE(IsError(conn.send_key(key, alice_, code), Code::kGeneralServerError));
  EXPECT_EQ(conn.session().phone(), "");
  EXPECT_FALSE(store_->find_user(alice_).value());
  wait_until_writable();
  register_account(alice_);
}

TEST_F(StorageSessionTest, AFailedProofThatCannotBeRecordedGets100AndDoesNotCount) {
  const Account alice = register_account(alice_);
  Conn conn(*this, "attacker");
  fail_to_connect(conn, alice, 4);
  fail_next_write();
  conn.hello();
  EXPECT_TRUE(IsError(conn.connect(alice.key, alice_, "abcdef"), Code::kGeneralServerError));
  wait_until_writable();
  // Four failures were counted, not five: one attempt is left, and the right code works.
  conn.hello();
  EXPECT_EQ(conn.connect(alice.key, alice_, "abcdef").value("attempts_left", -1), 0);
}

}  // namespace
}  // namespace shido::server::test
