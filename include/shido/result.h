// Result<T>: the value of an operation that can fail for reasons the network or a user
// can cause. Exceptions are kept for bugs and for the edges of the programs.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace shido {

// Every expected failure the library reports. The server maps these to protocol codes in
// one place; the names say what went wrong, the message says where.
enum class Errc {
  kInvalidArgument,       // a caller passed a value outside the contract
  kCrypto,                // OpenSSL refused an operation it should not refuse
  kInvalidKey,            // a public or private key failed parsing or validation
  kAuthenticationFailed,  // an envelope did not open: one error for every cause
  kBadBase64,             // not strict RFC 4648 section 4 base64
  // Framing
  kFrameEmpty,        // a frame announced length 0
  kFrameTooLarge,     // a frame announced more than the limit
  kFrameTruncated,    // the peer closed the stream inside a frame
  kFrameTimeout,      // a frame did not arrive whole in time
  kIdleTimeout,       // no frame started in time
  kFramesBusy,        // the frames being received hold all the memory they may
  kConnectionClosed,  // the peer closed the stream between frames
  kIo,                // the operating system reported an error
  // TLS
  kTls,            // the TLS handshake or a TLS record failed
  kKeyRejected,    // the server's certificate key is not the one pinned
  kPlaintextPeer,  // the server answered a TLS handshake with a plaintext frame
  // JSON and messages
  kNotUtf8,       // the frame is not valid UTF-8
  kTooDeep,       // JSON nesting deeper than the limit
  kTooMany,       // more JSON values than the limit
  kBadJson,       // not JSON at all
  kNotObject,     // JSON, but not an object
  kBadCode,       // no integer member "code"
  kMissingField,  // a required member is absent (the message names it)
  kWrongType,     // a member has the wrong JSON type (the message names it)
  kBadValue,      // a member has the right type but an unacceptable value
  kNotFound,      // a file or entry does not exist
};

// The name of an error code, e.g. "kFrameTooLarge" -> "frame too large".
std::string_view errc_name(Errc code);

struct Error {
  Errc code;
  std::string message;  // a sentence for people; never holds secrets
};

// Holds either a T or an error (an Error unless E says otherwise). Check ok() before
// value(); value() on an error, or error() on a value, is a bug and throws
// std::bad_variant_access.
template <class T, class E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(E error) : state_(std::move(error)) {}  // NOLINT: implicit on purpose
  Result(Errc code, std::string message) : state_(E{code, std::move(message)}) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  // By value: a reference into a temporary Result would dangle (e.g. in a range-for over
  // store.fetch(...).value()).
  T value() && { return std::get<0>(std::move(state_)); }
  const E& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, E> state_;
};

// Result of an operation that has no value to give back.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit on purpose
  Status(Errc code, std::string message) : Status(Error{code, std::move(message)}) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_{Errc::kInvalidArgument, {}};
  bool ok_ = true;
};

}  // namespace shido
