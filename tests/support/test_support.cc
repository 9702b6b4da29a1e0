#include "support/test_support.h"

#include <sys/syscall.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace shido::test {

std::string vector_path(std::string_view name) {
  return std::string(SHIDO_TEST_VECTORS_DIR) + "/" + std::string(name);
}

Json load_vectors(std::string_view name) {
  const std::string path = vector_path(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open test vectors " + path);
  std::stringstream text;
  text << in.rdbuf();
  Json json = Json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) throw std::runtime_error("test vectors are not JSON: " + path);
  return json;
}

Bytes hex(std::string_view text) {
  auto bytes = from_hex(text);
  if (!bytes.ok()) throw std::invalid_argument("bad hex in test data: " + std::string(text));
  return std::move(bytes).value();
}

int code_of(const Json& frame) {
  return frame.is_object() && frame.contains("code") && frame["code"].is_number_integer()
             ? frame["code"].get<int>()
             : -1;
}

bool is_fingerprint_text(std::string_view text) {
  if (text.size() != 79) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool ok = (i % 5 == 4) ? c == ' ' : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    if (!ok) return false;
  }
  return true;
}

bool is_six_digits(std::string_view text) {
  return text.size() == 6 && text.find_first_not_of("0123456789") == std::string_view::npos;
}

void report_cases(std::string_view what, std::size_t checked, std::string_view detail) {
  std::cout << "[ KAT      ] " << what << ": " << checked << " vector cases checked";
  if (!detail.empty()) std::cout << " (" << detail << ")";
  std::cout << std::endl;
}

void PinnedRandom::fill(std::span<std::uint8_t> out) {
  if (out.size() > remaining()) throw std::runtime_error("PinnedRandom: out of pinned bytes");
  std::copy_n(bytes_.begin() + static_cast<std::ptrdiff_t>(offset_), out.size(), out.begin());
  offset_ += out.size();
}

bool waiting_in_poll(int tid) {
  std::ifstream file("/proc/self/task/" + std::to_string(tid) + "/syscall");
  long number = -1;
  if (!(file >> number)) return false;
#ifdef SYS_poll
  if (number == SYS_poll) return true;
#endif
  return number == SYS_ppoll;
}

}  // namespace shido::test
