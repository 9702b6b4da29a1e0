// shido-echo-bench: the ceiling of Shido's design on this machine. A minimal
// thread-per-connection server and its clients, in one process, exchange frames of the
// size and framing of a relay SEND_MESSAGE with no protocol work: the server echoes each
// frame back. Shido's relay throughput is reported as a share of this. With --tls every
// connection is TLS 1.3 as shido-server and its clients speak it (handshakes before the
// clock starts), for the ceiling of the TLS transport.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <deque>
#include <iostream>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "bench/guarded_main.h"
#include "bench/stats.h"
#include "shido/crypto/keys.h"
#include "shido/net/socket.h"
#include "shido/net/stream.h"
#include "shido/net/tls.h"
#include "shido/protocol/frame.h"
#include "shido/protocol/messages.h"
#include "shido/protocol/text_message.h"

namespace {

using namespace shido;
using bench::now_ns;

// The bytes of a SEND_MESSAGE frame carrying a body of `size` bytes, as shido-bench sends.
std::string sample_frame(int size) {
  const KeyPair a = KeyPair::generate(), b = KeyPair::generate();
  auto envelope = seal_text_message(a, "+972500000001", b.public_key(), "+972500000002",
                                    {std::string(static_cast<std::size_t>(size), 'x'), 0});
  return dump_json(SendMessage{"+972500000002", to_wire(envelope.value()), std::nullopt}.to_json());
}

constexpr std::chrono::seconds kHandshakeTimeout{30};

// The value of a result, or the end of the run with what failed.
template <class T>
T must(Result<T> result, const std::string& what) {
  if (!result.ok()) throw std::runtime_error(what + ": " + result.error().message);
  return std::move(result).value();
}

// Echoes frames on each accepted connection, one thread per connection, until told to stop.
// With a TlsServer each connection first completes a TLS handshake, as shido-server's do.
class EchoServer {
 public:
  explicit EchoServer(const TlsServer* tls)
      : tls_(tls),
        listener_(listen_tcp("127.0.0.1", 0).value()),
        port_(local_port(listener_.get()).value()) {
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~EchoServer() {
    stopping_ = true;
    ::shutdown(listener_.get(), SHUT_RDWR);
    accept_thread_.join();
    for (auto& thread : threads_) thread.join();
  }
  std::uint16_t port() const { return port_; }

 private:
  void accept_loop() {
    while (!stopping_) {
      UniqueFd fd(::accept(listener_.get(), nullptr, nullptr));
      if (!fd.valid()) continue;
      int one = 1;
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      threads_.emplace_back([this, fd = std::move(fd)] {
        std::unique_ptr<ByteStream> stream = std::make_unique<SocketStream>(fd.get());
        if (tls_ != nullptr) {
          auto accepted =
              tls_->accept(fd.get(), deadline_in(kHandshakeTimeout), std::chrono::milliseconds(0));
          if (!accepted.ok()) return;
          stream = std::move(accepted).value();
        }
        FrameReader reader(*stream);  // as shido-server reads
        for (;;) {
          auto frame = reader.next();
          if (!frame.ok() || !stream->send(encode_frame(frame.value())).ok()) return;
        }
      });
    }
  }

  const TlsServer* tls_;
  UniqueFd listener_;
  std::uint16_t port_;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::list<std::thread> threads_;
};

// Parses the options and runs the echo benchmark.
int run(int argc, char** argv) {
  int clients = 4, messages = 1000, size = 256, window = 1;
  bool json = false, tls = false;
  CLI::App app{"shido-echo-bench: the thread-per-connection ceiling for frames like Shido's",
               "shido-echo-bench"};
  app.add_option("--clients", clients, "Connections")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--messages", messages, "Frames per connection")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  app.add_option("--size", size, "Message body bytes the frames are sized for")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  app.add_option("--window", window, "Frames in flight per connection")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_flag("--tls", tls,
               "TLS 1.3 on every connection, as shido-server speaks it (default: plaintext TCP, "
               "so that figures compare with those measured before TLS)");
  app.add_flag("--json", json, "One JSON object on stdout");
  CLI11_PARSE(app, argc, argv);

  const std::string frame = sample_frame(size);
  // With --tls: the server's key makes its certificate; the clients accept any key (the
  // pin costs the same comparison either way).
  std::optional<TlsServer> tls_server;
  std::optional<TlsClient> tls_client;
  if (tls) {
    tls_server.emplace(must(TlsServer::create(KeyPair::generate()), "TLS server"));
    tls_client.emplace(must(TlsClient::create(), "TLS client"));
  }
  EchoServer server(tls_server ? &*tls_server : nullptr);
  std::vector<std::int64_t> latencies;
  std::mutex latencies_mutex;
  std::atomic<long> echoed{0};

  std::vector<UniqueFd> connections;
  std::vector<std::unique_ptr<ByteStream>> streams;
  const TlsClient::KeyCheck any_key = [](const PublicKey&) { return true; };
  for (int c = 0; c < clients; ++c) {
    auto fd = connect_tcp("127.0.0.1", server.port());
    if (!fd.ok()) {
      std::cerr << "shido-echo-bench: " << fd.error().message << "\n";
      return 2;
    }
    int one = 1;
    ::setsockopt(fd.value().get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (tls_client) {
      streams.push_back(
          must(tls_client->connect(fd.value().get(), any_key, deadline_in(kHandshakeTimeout),
                                   std::chrono::milliseconds(0)),
               "TLS handshake")
              .stream);
    } else {
      streams.push_back(std::make_unique<SocketStream>(fd.value().get()));
    }
    connections.push_back(std::move(fd).value());
  }

  const std::int64_t start = now_ns();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      ByteStream& stream = *streams[static_cast<std::size_t>(c)];
      FrameReader reader(stream);  // as shido's clients read
      std::deque<std::int64_t> in_flight;
      std::vector<std::int64_t> mine;
      int next = 0;
      while (next < messages || !in_flight.empty()) {
        while (next < messages && static_cast<int>(in_flight.size()) < window) {
          in_flight.push_back(now_ns());
          if (!stream.send(encode_frame(frame)).ok()) return;
          ++next;
        }
        auto reply = reader.next();
        if (!reply.ok() || reply.value().size() != frame.size()) return;
        mine.push_back(now_ns() - in_flight.front());
        in_flight.pop_front();
        echoed += 1;
      }
      std::lock_guard lock(latencies_mutex);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& thread : threads) thread.join();
  const double seconds = static_cast<double>(now_ns() - start) / 1e9;
  for (auto& fd : connections) ::shutdown(fd.get(), SHUT_RDWR);

  const Json report = {{"tls", tls},
                       {"clients", clients},
                       {"messages_per_client", messages},
                       {"size", size},
                       {"frame_bytes", frame.size()},
                       {"window", window},
                       {"echoed", echoed.load()},
                       {"messages_per_second", static_cast<double>(echoed.load()) / seconds},
                       {"p50_ms", bench::percentile_ms(latencies, 50)},
                       {"p99_ms", bench::percentile_ms(latencies, 99)},
                       {"seconds", seconds}};
  if (json) {
    std::cout << report.dump() << std::endl;
  } else {
    for (const auto& [key, value] : report.items()) std::cout << key << ": " << value << "\n";
  }
  return echoed.load() == static_cast<long>(clients) * messages ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  return shido::bench::guarded_main("shido-echo-bench", [&] { return run(argc, argv); });
}
