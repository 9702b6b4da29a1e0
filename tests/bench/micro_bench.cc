// Micro-benchmarks of libshido's building blocks and of the server store (Google Benchmark).
//   build/<dir>/tests/bench/shido-micro-bench [--benchmark_filter=Envelope]
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "server/clock.h"
#include "server/disk_store.h"
#include "server/file_system.h"
#include "server/store.h"
#include "shido/crypto/aes_cbc.h"
#include "shido/crypto/digest.h"
#include "shido/crypto/ecdh.h"
#include "shido/crypto/envelope.h"
#include "shido/crypto/hkdf.h"
#include "shido/protocol/frame.h"
#include "shido/protocol/messages.h"
#include "shido/protocol/text_message.h"

namespace {

using namespace shido;

const KeyPair& alice() {
  static const KeyPair key = KeyPair::generate();
  return key;
}
const KeyPair& bob() {
  static const KeyPair key = KeyPair::generate();
  return key;
}
const Context& message_context() {
  static const Context context{to_bytes("+972501111111"), to_bytes("+972502222222")};
  return context;
}

void BM_Ecdh(benchmark::State& state) {
  for ([[maybe_unused]] auto _ : state) benchmark::DoNotOptimize(ecdh(alice(), bob().public_key()));
}
BENCHMARK(BM_Ecdh);

void BM_EnvelopeSeal(benchmark::State& state) {
  const Bytes plaintext(static_cast<std::size_t>(state.range(0)), 'x');
  for ([[maybe_unused]] auto _ : state) {
    benchmark::DoNotOptimize(
        seal(alice(), bob().public_key(), plaintext, Purpose::kMessage, message_context()));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_EnvelopeSeal)->Arg(64)->Arg(1024)->Arg(65536);

void BM_EnvelopeOpen(benchmark::State& state) {
  const Bytes plaintext(static_cast<std::size_t>(state.range(0)), 'x');
  const Envelope envelope =
      seal(alice(), bob().public_key(), plaintext, Purpose::kMessage, message_context()).value();
  for ([[maybe_unused]] auto _ : state) {
    benchmark::DoNotOptimize(
        open(bob(), alice().public_key(), envelope, Purpose::kMessage, message_context()));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_EnvelopeOpen)->Arg(64)->Arg(1024)->Arg(65536);

void BM_EnvelopeSealAndOpen(benchmark::State& state) {
  const Bytes plaintext(static_cast<std::size_t>(state.range(0)), 'x');
  for ([[maybe_unused]] auto _ : state) {
    auto envelope =
        seal(alice(), bob().public_key(), plaintext, Purpose::kMessage, message_context());
    benchmark::DoNotOptimize(
        open(bob(), alice().public_key(), envelope.value(), Purpose::kMessage, message_context()));
  }
}
BENCHMARK(BM_EnvelopeSealAndOpen)->Arg(1024);

void BM_HkdfSha256(benchmark::State& state) {
  const Bytes ikm(32, 1), salt(16, 2);
  for ([[maybe_unused]] auto _ : state)
    benchmark::DoNotOptimize(hkdf_sha256(ikm, salt, as_bytes("shido/1 message"), 64));
}
BENCHMARK(BM_HkdfSha256);

// What the Redis store pays per fetched message to turn the sender's stored key back into a
// PublicKey (server/redis_message.cc).
static void BM_PublicKeyFromDer(benchmark::State& state) {
  const Bytes der = KeyPair::generate().public_key().der();
  for (auto _ : state) benchmark::DoNotOptimize(PublicKey::from_der(der).ok());
}
BENCHMARK(BM_PublicKeyFromDer);

// The original design derived its key with PBKDF2-HMAC-SHA256 at 1,000,000 iterations.
void BM_Pbkdf2Sha256Million(benchmark::State& state) {
  std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(EVP_KDF_fetch(nullptr, "PBKDF2", nullptr),
                                                        EVP_KDF_free);
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(EVP_KDF_CTX_new(kdf.get()),
                                                                EVP_KDF_CTX_free);
  Bytes password(32, 1), salt(16, 2), out(32);
  char digest[] = "SHA256";
  unsigned int iterations = 1000000;
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string("pass", password.data(), password.size()),
      OSSL_PARAM_construct_octet_string("salt", salt.data(), salt.size()),
      OSSL_PARAM_construct_uint("iter", &iterations),
      OSSL_PARAM_construct_utf8_string("digest", digest, 0),
      OSSL_PARAM_construct_end(),
  };
  for ([[maybe_unused]] auto _ : state) {
    if (!ctx || EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
      state.SkipWithError("PBKDF2 failed");
      break;
    }
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_Pbkdf2Sha256Million)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_Aes256CbcEncrypt(benchmark::State& state) {
  const Bytes key(32, 7), iv(16, 9), plaintext(static_cast<std::size_t>(state.range(0)), 'x');
  for ([[maybe_unused]] auto _ : state)
    benchmark::DoNotOptimize(aes_cbc_encrypt(key, iv, plaintext));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Aes256CbcEncrypt)->Arg(1024)->Arg(65536);

void BM_HmacSha256(benchmark::State& state) {
  const Bytes key(32, 7), data(static_cast<std::size_t>(state.range(0)), 'x');
  for ([[maybe_unused]] auto _ : state) benchmark::DoNotOptimize(hmac_sha256(key, data));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_HmacSha256)->Arg(1024)->Arg(65536);

SendMessage sample_send_message(std::size_t body_size) {
  auto envelope = seal_text_message(alice(), "+972501111111", bob().public_key(), "+972502222222",
                                    {std::string(body_size, 'x'), 0});
  return SendMessage{"+972502222222", to_wire(envelope.value()), std::nullopt};
}

void BM_SendMessageEncode(benchmark::State& state) {
  const SendMessage message = sample_send_message(256);
  for ([[maybe_unused]] auto _ : state)
    benchmark::DoNotOptimize(encode_frame(dump_json(message.to_json())));
}
BENCHMARK(BM_SendMessageEncode);

void BM_SendMessageDecode(benchmark::State& state) {
  const std::string text = dump_json(sample_send_message(256).to_json());
  for ([[maybe_unused]] auto _ : state) {
    auto json = parse_frame_json(text);
    auto message = SendMessage::from_json(json.value());
    benchmark::DoNotOptimize(from_wire(message.value().envelope, EnvelopeKind::kMessage));
  }
}
BENCHMARK(BM_SendMessageDecode);

// One message through the store: put, fetch, ack.
void BM_StorePutFetchAck(benchmark::State& state) {
  server::SystemTime time;
  auto store = server::make_memory_store(time);
  (void)store->add_user(
      {"+972502222222", "b@example.com", bob().public_key(), Bytes(16), Bytes(32)});
  const SendMessage message = sample_send_message(256);
  const Bytes packed =
      server::pack_envelope(from_wire(message.envelope, EnvelopeKind::kMessage).value());
  for ([[maybe_unused]] auto _ : state) {
    server::StoredMessage stored{.id = {},
                                 .sender_phone = "+972501111111",
                                 .sender_key = alice().public_key(),
                                 .stored_at_ms = 0,
                                 .envelope = packed};
    std::string id;
    (void)store->put_message("+972502222222", std::move(stored), id);
    auto fetched = store->fetch("+972502222222", 100, std::chrono::seconds(0)).value();
    benchmark::DoNotOptimize(store->ack("+972502222222", {id}));
  }
}
BENCHMARK(BM_StorePutFetchAck);

// Start-up of the disk store: a journal of N stored 256-byte messages (written before the
// clock starts) loaded into memory. Reports records per second, and the journal's bytes per
// message beside the message's envelope.
void BM_DiskStoreRecovery(benchmark::State& state) {
  const auto messages = static_cast<std::size_t>(state.range(0));
  std::string directory = (std::filesystem::temp_directory_path() / "shido-recovery.XXXXXX");
  if (::mkdtemp(directory.data()) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  server::SystemTime time;
  server::Logger logger(server::LogLevel::kWarn);
  auto fs = server::make_posix_file_system();
  server::DiskStoreOptions options;
  options.directory = directory;
  options.fsync = server::FsyncPolicy::kNo;
  options.compact_min_bytes = std::uint64_t{1} << 40;  // one journal, replayed whole
  server::Limits limits;
  limits.mailbox_max_messages = messages;
  limits.mailbox_max_bytes = std::size_t{1} << 40;
  limits.store_max_bytes = std::size_t{1} << 40;
  const Bytes packed = server::pack_envelope(
      from_wire(sample_send_message(256).envelope, EnvelopeKind::kMessage).value());
  {
    auto store = server::DiskStore::open(options, *fs, time, limits, logger).value();
    for (const auto& [phone, key] :
         {std::pair{"+972501111111", &alice()}, std::pair{"+972502222222", &bob()}}) {
      (void)store->add_user({phone, "a@example.com", key->public_key(), Bytes(16), Bytes(32)});
    }
    // In batches, as pipelined sends are: one write each.
    std::vector<std::unique_ptr<server::PutInProgress>> batch;
    for (std::size_t i = 0; i < messages; ++i) {
      batch.push_back(store->start_put("+972502222222", {.id = {},
                                                         .sender_phone = "+972501111111",
                                                         .sender_key = alice().public_key(),
                                                         .stored_at_ms = 0,
                                                         .envelope = packed}));
      if (batch.size() == 256 || i + 1 == messages) {
        for (auto& put : batch) (void)put->finish();
        batch.clear();
      }
    }
  }
  std::uintmax_t journal_bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    if (entry.path().filename().string().starts_with("journal-"))
      journal_bytes += std::filesystem::file_size(entry.path());
  }
  for ([[maybe_unused]] auto _ : state) {
    auto store = server::DiskStore::open(options, *fs, time, limits, logger).value();
    benchmark::DoNotOptimize(store->counts());
    state.PauseTiming();
    store.reset();  // its stop is not recovery
    state.ResumeTiming();
  }
  std::filesystem::remove_all(directory);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * messages));
  state.counters["journal_bytes_per_message"] =
      static_cast<double>(journal_bytes) / static_cast<double>(messages);
  state.counters["envelope_bytes"] = static_cast<double>(packed.size());
}
BENCHMARK(BM_DiskStoreRecovery)
    ->Arg(100000)
    ->Arg(1000000)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
