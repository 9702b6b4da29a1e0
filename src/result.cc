#include "shido/result.h"

namespace shido {

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument:
      return "invalid argument";
    case Errc::kCrypto:
      return "crypto";
    case Errc::kInvalidKey:
      return "invalid key";
    case Errc::kAuthenticationFailed:
      return "authentication failed";
    case Errc::kBadBase64:
      return "bad base64";
    case Errc::kFrameEmpty:
      return "frame empty";
    case Errc::kFrameTooLarge:
      return "frame too large";
    case Errc::kFrameTruncated:
      return "frame truncated";
    case Errc::kFrameTimeout:
      return "frame timeout";
    case Errc::kIdleTimeout:
      return "idle timeout";
    case Errc::kFramesBusy:
      return "frames busy";
    case Errc::kConnectionClosed:
      return "connection closed";
    case Errc::kIo:
      return "io";
    case Errc::kTls:
      return "tls";
    case Errc::kKeyRejected:
      return "key rejected";
    case Errc::kPlaintextPeer:
      return "plaintext peer";
    case Errc::kNotUtf8:
      return "not utf8";
    case Errc::kTooDeep:
      return "too deep";
    case Errc::kTooMany:
      return "too many values";
    case Errc::kBadJson:
      return "bad json";
    case Errc::kNotObject:
      return "not object";
    case Errc::kBadCode:
      return "bad code";
    case Errc::kMissingField:
      return "missing field";
    case Errc::kWrongType:
      return "wrong type";
    case Errc::kBadValue:
      return "bad value";
    case Errc::kNotFound:
      return "not found";
  }
  // Only reachable through a cast of an integer that is no enumerator.
  return "unknown";
}

}  // namespace shido
