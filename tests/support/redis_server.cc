#include "support/redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <vector>

#include "support/child_process.h"

namespace shido::test {
namespace {

// A file descriptor closed when it goes.
class Socket {
 public:
  Socket() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    if (fd_ < 0) throw std::runtime_error("redis test server: no socket");
  }
  ~Socket() { ::close(fd_); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// A port nothing listens on now: the kernel's pick for a socket bound to port 0. Another
// program could take it before redis-server does; start() then tries another.
int free_port() {
  Socket socket;
  sockaddr_in address = loopback(0);
  socklen_t length = sizeof address;
  if (::bind(socket.fd(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(socket.fd(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("redis test server: no free port");
  }
  return ntohs(address.sin_port);
}

std::string find_redis_server() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/usr/sbin";
  dirs += ":/usr/bin:/usr/sbin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::filesystem::path candidate =
        std::filesystem::path(dirs.substr(start, end - start)) / "redis-server";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  throw std::runtime_error(
      "redis test server: redis-server is not installed (bash cmake/setup.sh test installs it)");
}

// One inline command to 127.0.0.1:port; Redis's first reply line, or "" when it is not up.
std::string ask(int port, const std::string& inline_command) {
  Socket socket;
  const sockaddr_in address = loopback(port);
  if (::connect(socket.fd(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return {};
  }
  const timeval timeout{10, 0};
  ::setsockopt(socket.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const std::string line = inline_command + "\r\n";
  if (::send(socket.fd(), line.data(), line.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(line.size())) {
    return {};
  }
  std::string reply;
  std::array<char, 256> buffer{};
  while (reply.find("\r\n") == std::string::npos) {
    const ssize_t got = ::recv(socket.fd(), buffer.data(), buffer.size(), 0);
    if (got <= 0) return {};
    reply.append(buffer.data(), static_cast<std::size_t>(got));
  }
  return reply.substr(0, reply.find("\r\n"));
}

}  // namespace

RedisServer::RedisServer() : RedisServer(Options{}) {}

RedisServer::RedisServer(Options options) {
  std::string pattern = (std::filesystem::temp_directory_path() / "shido-redis-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("redis test server: no temporary directory");
  }
  directory_ = pattern;
  try {
    start(options);
  } catch (...) {
    std::filesystem::remove_all(directory_);
    throw;
  }
}

void RedisServer::start(const Options& options) {
  options_ = options;
  program_ = find_redis_server();
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = free_port();
    if (launch()) return;
  }
  throw std::runtime_error("redis test server: redis-server did not answer PING (see " +
                           directory_ + "/redis.log)");
}

bool RedisServer::launch() {
  std::vector<std::string> args = {program_,
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--dir",
                                   directory_,
                                   "--save",
                                   "",
                                   "--appendonly",
                                   options_.append_only ? "yes" : "no",
                                   "--daemonize",
                                   "no",
                                   "--logfile",
                                   ""};
  if (options_.append_only) args.insert(args.end(), {"--appendfsync", "always"});
  const std::string log = directory_ + "/redis.log";
  pid_ = spawn_child(args, {ChildFd::file(0, "/dev/null", O_RDONLY),
                            ChildFd::file(1, log, O_WRONLY | O_CREAT | O_APPEND),
                            ChildFd::file(2, log, O_WRONLY | O_CREAT | O_APPEND)});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ask(port_, "PING") == "+PONG") return true;
    if (wait_until(pid_, std::chrono::steady_clock::now(), status)) break;  // it exited
    // A starting redis-server offers nothing to wait on; a test never times this.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!wait_until(pid_, std::chrono::steady_clock::now(), status)) kill_and_reap(pid_);
  pid_ = -1;
  return false;
}

namespace {

// SIGTERM, and SIGKILL if it has not ended within a generous time: Redis ignores SIGTERM
// while it writes its first AOF, and a test must not hang on that.
void terminate(pid_t pid) {
  ::kill(pid, SIGTERM);
  int status = 0;
  if (!wait_until(pid, std::chrono::steady_clock::now() + std::chrono::seconds(30), status)) {
    kill_and_reap(pid, SIGKILL);
  }
}

}  // namespace

void RedisServer::stop() {
  if (pid_ > 0) terminate(pid_);
  pid_ = -1;
}

void RedisServer::kill() {
  if (pid_ > 0) kill_and_reap(pid_, SIGKILL);
  pid_ = -1;
}

void RedisServer::start_again() {
  if (pid_ > 0) return;
  if (!launch()) {
    throw std::runtime_error("redis test server: redis-server did not start again (see " +
                             directory_ + "/redis.log)");
  }
}

RedisServer::~RedisServer() {
  if (pid_ > 0) terminate(pid_);
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
}

std::string RedisServer::url(int db) const {
  return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

std::string RedisServer::command(const std::string& inline_command) const {
  std::string reply = ask(port_, inline_command);
  if (reply.empty()) throw std::runtime_error("redis test server: no answer to " + inline_command);
  return reply;
}

RedisServer& shared_redis_server() {
  static RedisServer server;
  return server;
}

}  // namespace shido::test
