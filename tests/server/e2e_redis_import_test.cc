// Moving a disk store into Redis with the real binary (shido-server --import-disk-store,
// issue 16): a community that lived on a disk server carries on from a server on Redis with
// the disk store's key, its users logging in with their old codes, a half-spent lockout
// going on where it stopped and waiting mail fetched with its ids; the disk store's files
// are left as they were, and a second import is refused.
#include <fcntl.h>

#include <filesystem>
#include <map>

#include "e2e_util.h"
#include "support/redis_server.h"

namespace shido::e2e {
namespace {

struct Ran {
  test::ExitInfo exit;
  std::string out;
  std::string err;
};

// shido-server run with `args` until it exits by itself.
Ran run_to_exit(const std::vector<std::string>& args) {
  test::TempDir out("shido-import-out");
  std::vector<std::string> argv = {SHIDO_SERVER_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string out_path = out.path() + "/stdout";
  const std::string err_path = out.path() + "/stderr";
  const pid_t pid =
      test::spawn_child(argv, {test::ChildFd::file(1, out_path, O_WRONLY | O_CREAT | O_TRUNC),
                               test::ChildFd::file(2, err_path, O_WRONLY | O_CREAT | O_TRUNC)});
  int status = 0;
  // A guard against a command that serves instead of exiting: it would not end.
  if (!test::wait_until(pid, std::chrono::steady_clock::now() + std::chrono::seconds(60), status))
    status = test::kill_and_reap(pid);
  return {test::exit_info(status), test::read_text_file(out_path).value_or(""),
          test::read_text_file(err_path).value_or("")};
}

// Every file of the store in dir and its bytes (the lock file aside: the import takes it).
std::map<std::string, std::string> store_files(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name != "lock") files[name] = test::read_text_file(entry.path().string()).value_or("?");
  }
  return files;
}

std::string wrong_code(const User& user) { return user.code == "000000" ? "000001" : "000000"; }

TEST(RedisImportTest, ADiskStoresUsersCarryOnFromRedis) {
  test::RedisServer redis;
  test::TempDir root("shido-import");
  const std::string data_dir = root.path() + "/data";
  User alice;
  User bob;
  User carol;
  std::vector<std::string> ids;
  std::string fingerprint;
  {
    ServerProcess::Options options = server_options();
    options.data_dir = data_dir;
    ServerProcess disk(options);
    fingerprint = disk.fingerprint();
    Registered registered = register_new_user(disk, 1);
    alice = registered.user;
    bob = register_new_user(disk, 2).user;
    carol = register_new_user(disk, 3).user;
    const PublicKey bob_key = must(registered.client.recipient_key(bob.phone), "recipient_key");
    for (const std::string body : {"first", "second"}) {
      ids.push_back(must(
          registered.client.send_envelope(bob.phone, seal_text(alice, bob.phone, bob_key, body)),
          "send_envelope"));
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
      ProtocolClient client = connect_to(disk);
      const Greeting greeting = must(client.hello(), "hello");
      EXPECT_EQ(
          refused_code(client.login(carol.key, greeting, carol.phone, as_bytes(wrong_code(carol)))),
          109);
    }
    const test::ExitInfo stopped = disk.stop(SIGTERM);
    ASSERT_TRUE(stopped.exited && stopped.status == 0) << disk.log();
  }
  const auto files = store_files(data_dir);

  const std::vector<std::string> import = {"--data-dir", data_dir, "--store", redis.url(),
                                           "--import-disk-store"};
  const Ran imported = run_to_exit(import);
  ASSERT_TRUE(imported.exit.exited && imported.exit.status == 0) << imported.err;
  EXPECT_NE(imported.out.find("imported 3 accounts, 2 waiting messages ("), std::string::npos)
      << imported.out;
  EXPECT_NE(imported.out.find("bytes), 1 lock states from " + data_dir +
                              " into redis at 127.0.0.1:" + std::to_string(redis.port()) + "/0"),
            std::string::npos)
      << imported.out;
  EXPECT_NE(imported.out.find(fingerprint), std::string::npos) << imported.out;
  EXPECT_NE(imported.out.find("--server-key " + data_dir + "/server_key.pem"), std::string::npos)
      << imported.out;
  EXPECT_EQ(store_files(data_dir), files) << "the import changed the disk store's files";

  ServerProcess on_redis(
      server_options({"--store", redis.url(), "--server-key", data_dir + "/server_key.pem"}));
  EXPECT_EQ(on_redis.fingerprint(), fingerprint);
  (void)login(on_redis, alice);
  // Carol's two failures came along: her third leaves her two attempts.
  {
    ProtocolClient client = connect_to(on_redis);
    const Greeting greeting = must(client.hello(), "hello");
    auto wrong = client.login(carol.key, greeting, carol.phone, as_bytes(wrong_code(carol)));
    ASSERT_EQ(refused_code(wrong), 109);
    EXPECT_EQ(wrong.error().attempts_left, 2);
  }
  (void)login(on_redis, carol);
  ProtocolClient bob_client = login(on_redis, bob);
  const auto waiting = must(bob_client.fetch(10, 0), "fetch");
  ASSERT_EQ(waiting.size(), 2u);
  EXPECT_EQ(waiting[0].message_id, ids[0]);
  EXPECT_EQ(waiting[1].message_id, ids[1]);
  EXPECT_EQ(open_body(bob, waiting[0]), "first");
  EXPECT_EQ(open_body(bob, waiting[1]), "second");
  EXPECT_EQ(must(bob_client.ack(ids), "ack").deleted, 2);

  const Ran again = run_to_exit(import);
  EXPECT_TRUE(again.exit.exited && again.exit.status == 1) << again.err;
  EXPECT_NE(again.err.find("already holds accounts"), std::string::npos) << again.err;
  EXPECT_TRUE(again.out.empty()) << again.out;

  const test::ExitInfo stopped = on_redis.stop(SIGTERM);
  EXPECT_TRUE(stopped.exited && stopped.status == 0) << on_redis.log();
}

TEST(RedisImportTest, SalvageAndAStoreOtherThanRedisAreRefused) {
  test::TempDir data("shido-import-data");
  const Ran salvage = run_to_exit({"--data-dir", data.path(), "--store", "redis://127.0.0.1:1",
                                   "--import-disk-store", "--salvage"});
  EXPECT_EQ(salvage.exit.status, 1) << salvage.err;
  EXPECT_NE(salvage.err.find("--salvage"), std::string::npos) << salvage.err;
  const Ran disk = run_to_exit({"--data-dir", data.path(), "--import-disk-store"});
  EXPECT_EQ(disk.exit.status, 1) << disk.err;
  EXPECT_NE(disk.err.find("--store redis://"), std::string::npos) << disk.err;
}

}  // namespace
}  // namespace shido::e2e
