// Unwrapping results in tests and benchmarks: the value when the call worked, else a
// failure that says which call failed and why (for ProtocolClient, what the server answered).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "shido/protocol/protocol_client.h"

namespace shido::test {

// "<what> failed: <message> (server code N)", the code only when the server refused.
inline std::string failure_text(const ClientError& error, std::string_view what) {
  std::string text = std::string(what) + " failed: " + error.message;
  if (error.server_code) {
    text += " (server code " + std::to_string(static_cast<int>(*error.server_code)) + ")";
  }
  return text;
}

// The value of a client call, or std::runtime_error naming what failed and why (GoogleTest
// reports it as a failure of the test). For helpers that return values and so cannot ASSERT.
template <class T>
T must(ClientResult<T> result, std::string_view what) {
  if (!result.ok()) throw std::runtime_error(failure_text(result.error(), what));
  return std::move(result).value();
}

// The value of a library call, or std::runtime_error naming what failed and why.
template <class T>
T must(Result<T> result, std::string_view what) {
  if (!result.ok()) {
    throw std::runtime_error(std::string(what) + " failed: " + result.error().message);
  }
  return std::move(result).value();
}

// The server code of a refused call (kRefused), or -1 for success or another failure.
template <class T>
int refused_code(const ClientResult<T>& result) {
  if (result.ok() || !result.error().server_code) return -1;
  return static_cast<int>(*result.error().server_code);
}

}  // namespace shido::test
