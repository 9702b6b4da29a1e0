// The code command's time-out ends the command and everything it started.
#include "server/code_delivery.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "support/server_process.h"
#include "support/test_support.h"

namespace shido::server {
namespace {

// Whether process pid is gone (or a zombie nobody has reaped yet: dead all the same).
bool gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  const auto state_at = line.rfind(')');
  return state_at != std::string::npos && state_at + 2 < line.size() && line[state_at + 2] == 'Z';
}

TEST(CodeDeliveryTest, ATimedOutCommandIsKilledWithWhatItStarted) {
  test::TempDir dir("shido-code-command");
  const std::string pid_file = dir.path() + "/sleeper.pid";
  // The shell starts a long sleep in the background and waits for it.
  auto delivery = make_command_delivery("sleep 300 & echo $! > '" + pid_file + "'; wait", 1);
  const SecretBytes code(as_bytes(std::string("123456")));
  const std::string phone = "+15550000001", email = "a@example.com", fingerprint = "ab";
  const Status delivered = delivery->deliver({phone, email, code, fingerprint});
  ASSERT_FALSE(delivered.ok());
  EXPECT_NE(delivered.error().message.find("did not finish in time"), std::string::npos);

  std::ifstream file(pid_file);
  pid_t sleeper = 0;
  ASSERT_TRUE(file >> sleeper) << "the command did not start its sleep";
  EXPECT_TRUE(test::eventually([&] { return gone(sleeper); })) << "the command's sleep outlived it";
  if (!gone(sleeper)) ::kill(sleeper, SIGKILL);
}

}  // namespace
}  // namespace shido::server
