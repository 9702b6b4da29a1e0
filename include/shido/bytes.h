// Byte strings: Bytes for public data, SecretBytes for keys and codes (wiped on release).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shido/result.h"

namespace shido {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// Views the bytes of a string (no copy) and copies bytes into a string.
ByteView as_bytes(std::string_view text);
Bytes to_bytes(std::string_view text);
std::string to_string(ByteView bytes);

// Lower-case hex, and its strict inverse (even length, hex digits only; either case).
std::string to_hex(ByteView bytes);
Result<Bytes> from_hex(std::string_view hex);

// Overwrites memory so that a secret does not outlive its use (OPENSSL_cleanse).
void wipe(void* data, std::size_t size);

// True when a and b have the same length and content; the time taken depends only on the
// length, never on where they differ (CRYPTO_memcmp).
bool constant_time_equal(ByteView a, ByteView b);

// A buffer for key material and codes. It is wiped when destroyed or reassigned, can be
// moved but not copied by accident (copy with clone()), and never prints itself.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size) : data_(size) {}
  explicit SecretBytes(ByteView bytes) : data_(bytes.begin(), bytes.end()) {}
  ~SecretBytes() { clear(); }

  SecretBytes(SecretBytes&& other) noexcept : data_(std::move(other.data_)) { other.data_.clear(); }
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  SecretBytes clone() const { return SecretBytes(view()); }

  std::uint8_t* data() { return data_.data(); }
  const std::uint8_t* data() const { return data_.data(); }
  std::size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  ByteView view() const { return {data_.data(), data_.size()}; }
  std::span<std::uint8_t> span() { return {data_.data(), data_.size()}; }
  std::string_view as_string_view() const {
    return {reinterpret_cast<const char*>(data_.data()), data_.size()};
  }

  // Wipes and empties the buffer.
  void clear();

 private:
  std::vector<std::uint8_t> data_;
};

}  // namespace shido
