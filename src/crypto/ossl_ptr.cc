#include "crypto/ossl_ptr.h"

namespace shido::internal {

std::string drain_openssl_errors(std::string_view what) {
  std::string message(what);
  char buffer[256];
  const char* separator = ": ";
  while (unsigned long code = ERR_get_error()) {
    ERR_error_string_n(code, buffer, sizeof buffer);
    message += separator;
    message += buffer;
    separator = "; ";
  }
  return message;
}

Error openssl_error(std::string_view what) { return {Errc::kCrypto, drain_openssl_errors(what)}; }

}  // namespace shido::internal
