// TLS clients built directly with OpenSSL, for what Shido's own TlsClient never does: offer
// TLS 1.2, leave out ALPN or ask for another protocol, present a client certificate, offer
// other groups, or stop half-way through a ClientHello. The tests point them at TlsServer
// (in process) and at the real shido-server. Header only, no GoogleTest; OpenSSL objects
// are owned through std::unique_ptr.
#pragma once

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace shido::test {

struct SslCtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};
struct SslSessionFree {
  void operator()(SSL_SESSION* p) const { SSL_SESSION_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;
using SslSessionPtr = std::unique_ptr<SSL_SESSION, SslSessionFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

// OpenSSL's error queue as text ("" when empty), emptied.
inline std::string openssl_errors() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    char line[256];
    ERR_error_string_n(code, line, sizeof line);
    if (!text.empty()) text += "; ";
    text += line;
  }
  return text;
}

// A P-256 key and a self-signed certificate over it: a client certificate to present, or a
// plain OpenSSL server's.
struct Credentials {
  PkeyPtr key;
  X509Ptr certificate;
};

inline Credentials make_credentials(const char* common_name) {
  Credentials made;
  made.key.reset(EVP_EC_gen("P-256"));
  made.certificate.reset(X509_new());
  X509* cert = made.certificate.get();
  if (!made.key || !cert) throw std::runtime_error("make_credentials: " + openssl_errors());
  X509_NAME* name = X509_get_subject_name(cert);
  if (X509_set_version(cert, X509_VERSION_3) != 1 ||
      ASN1_INTEGER_set(X509_get_serialNumber(cert), 1) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert), 3600) == nullptr ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(common_name), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert, name) != 1 || X509_set_pubkey(cert, made.key.get()) != 1 ||
      X509_sign(cert, made.key.get(), EVP_sha256()) <= 0) {
    throw std::runtime_error("make_credentials: " + openssl_errors());
  }
  return made;
}

// How a probing client differs from Shido's own.
struct ProbeOptions {
  int min_version = TLS1_VERSION;
  int max_version = TLS1_3_VERSION;
  // Protocols offered by ALPN, in order; none: no ALPN extension at all.
  std::optional<std::vector<std::string>> alpn = std::vector<std::string>{"shido/1"};
  // OpenSSL's group list; empty: OpenSSL's default.
  std::string groups;
  // A client certificate and key to present if asked.
  const Credentials* certificate = nullptr;
};

// A client context that accepts any server certificate (what is checked here is what the
// server does with us, not who it is).
inline SslCtxPtr probe_context(const ProbeOptions& options = {}) {
  SslCtxPtr context(SSL_CTX_new(TLS_client_method()));
  SSL_CTX* ctx = context.get();
  if (!ctx || SSL_CTX_set_min_proto_version(ctx, options.min_version) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, options.max_version) != 1) {
    throw std::runtime_error("probe_context: " + openssl_errors());
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  if (options.alpn) {
    std::string wire;
    for (const std::string& name : *options.alpn) {
      wire += static_cast<char>(name.size());
      wire += name;
    }
    // Returns 0 on success.
    if (SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                                static_cast<unsigned int>(wire.size())) != 0) {
      throw std::runtime_error("probe_context: ALPN: " + openssl_errors());
    }
  }
  if (!options.groups.empty() && SSL_CTX_set1_groups_list(ctx, options.groups.c_str()) != 1)
    throw std::runtime_error("probe_context: groups: " + openssl_errors());
  if (options.certificate != nullptr &&
      (SSL_CTX_use_certificate(ctx, options.certificate->certificate.get()) != 1 ||
       SSL_CTX_use_PrivateKey(ctx, options.certificate->key.get()) != 1)) {
    throw std::runtime_error("probe_context: certificate: " + openssl_errors());
  }
  return context;
}

// The handshake messages (their type bytes) a connection sent and received.
struct HandshakeLog {
  std::vector<int> sent;
  std::vector<int> received;

  bool received_type(int type) const {
    for (const int seen : received) {
      if (seen == type) return true;
    }
    return false;
  }
  bool sent_type(int type) const {
    for (const int seen : sent) {
      if (seen == type) return true;
    }
    return false;
  }
};

inline void record_handshake_message(int write_p, int /*version*/, int content_type,
                                     const void* buf, std::size_t len, SSL* /*ssl*/, void* arg) {
  if (content_type != SSL3_RT_HANDSHAKE || len == 0 || arg == nullptr) return;
  auto* log = static_cast<HandshakeLog*>(arg);
  const int type = static_cast<const unsigned char*>(buf)[0];
  (write_p != 0 ? log->sent : log->received).push_back(type);
}

// Blocks SIGPIPE on this thread while it lives, and takes a SIGPIPE raised meanwhile: an
// OpenSSL socket BIO writes with write(), and the server may close first. (The library's
// own streams are not covered: they must never raise it at all.)
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlocked() {
    const timespec zero{};
    while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
};

// One probing client connection over a blocking socket the caller owns.
struct Probe {
  std::unique_ptr<HandshakeLog> log = std::make_unique<HandshakeLog>();
  SslPtr ssl;
  bool connected = false;  // SSL_connect finished
  std::string error;       // OpenSSL's reasons otherwise

  // ALPN's choice ("" for none).
  std::string alpn() const {
    const unsigned char* chosen = nullptr;
    unsigned int size = 0;
    SSL_get0_alpn_selected(ssl.get(), &chosen, &size);
    return chosen == nullptr ? std::string()
                             : std::string(reinterpret_cast<const char*>(chosen), size);
  }
  // Writes all of bytes; false on failure.
  bool write(std::string_view bytes) {
    const SigpipeBlocked guard;
    std::size_t written = 0;
    return SSL_write_ex(ssl.get(), bytes.data(), bytes.size(), &written) == 1 &&
           written == bytes.size();
  }
  // Reads until `size` bytes came; nullopt on failure or a close first.
  std::optional<std::string> read(std::size_t size) {
    const SigpipeBlocked guard;
    std::string got;
    while (got.size() < size) {
      char buffer[4096];
      std::size_t n = 0;
      if (SSL_read_ex(ssl.get(), buffer, std::min(sizeof buffer, size - got.size()), &n) != 1)
        return std::nullopt;
      got.append(buffer, n);
    }
    return got;
  }
};

// Runs the client side of a handshake on fd (blocking) with context, and may then use the
// connection; a session to resume may be offered.
inline Probe probe_handshake(SSL_CTX* context, int fd, SSL_SESSION* resume = nullptr) {
  Probe probe;
  probe.ssl.reset(SSL_new(context));
  SSL* ssl = probe.ssl.get();
  if (!ssl || SSL_set_fd(ssl, fd) != 1) throw std::runtime_error("SSL_new: " + openssl_errors());
  SSL_set_msg_callback(ssl, record_handshake_message);
  SSL_set_msg_callback_arg(ssl, probe.log.get());
  if (resume != nullptr && SSL_set_session(ssl, resume) != 1)
    throw std::runtime_error("SSL_set_session: " + openssl_errors());
  const SigpipeBlocked guard;
  ERR_clear_error();
  probe.connected = SSL_connect(ssl) == 1;
  if (!probe.connected) {
    probe.error = openssl_errors();
    if (probe.error.empty()) probe.error = "the connection was closed";
  }
  return probe;
}

// A client connection made with context over two memory BIOs (what it writes stays in its
// write BIO; nothing touches a socket).
inline SslPtr memory_client(SSL_CTX* context, const char* what) {
  SslPtr ssl(SSL_new(context));
  BioPtr in(BIO_new(BIO_s_mem()));
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!ssl || !in || !out) throw std::runtime_error(std::string(what) + ": " + openssl_errors());
  SSL_set_bio(ssl.get(), in.release(), out.release());  // ssl owns both now
  SSL_set_connect_state(ssl.get());
  return ssl;
}

// The first flight a client made with context sends: its ClientHello record(s), as a
// memory BIO caught them (nothing touched a socket).
inline std::string capture_client_hello(SSL_CTX* context) {
  SslPtr ssl = memory_client(context, "capture_client_hello");
  BIO* out = SSL_get_wbio(ssl.get());
  // It cannot finish without a peer: it wants the ServerHello.
  const int result = SSL_do_handshake(ssl.get());
  if (result == 1 || SSL_get_error(ssl.get(), result) != SSL_ERROR_WANT_READ) {
    throw std::runtime_error("capture_client_hello: unexpected handshake state");
  }
  std::string hello;
  char buffer[4096];
  int n = 0;
  while ((n = BIO_read(out, buffer, sizeof buffer)) > 0) hello.append(buffer, n);
  ERR_clear_error();
  if (hello.empty()) throw std::runtime_error("capture_client_hello: no ClientHello");
  return hello;
}

// Whether a client can try early data (0-RTT) with the session it holds: SSL_write_early_data
// on a fresh connection that offers the session, over memory BIOs (nothing reaches a
// socket). 1 when it can.
inline int try_early_data(SSL_CTX* context, SSL_SESSION* session) {
  SslPtr ssl = memory_client(context, "try_early_data");
  if (SSL_set_session(ssl.get(), session) != 1) throw std::runtime_error("SSL_set_session");
  std::size_t written = 0;
  const int result = SSL_write_early_data(ssl.get(), "0rtt", 4, &written);
  ERR_clear_error();
  return result;
}

// What Shido's client offers: TLS 1.3 only, ALPN shido/1, X25519 and P-256.
inline ProbeOptions shido_like() {
  ProbeOptions options;
  options.min_version = TLS1_3_VERSION;
  options.groups = "X25519:P-256";
  return options;
}

}  // namespace shido::test
