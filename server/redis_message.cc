#include "server/redis_message.h"

#include <charconv>
#include <cstdint>

namespace shido::server {
namespace {

// Reads a decimal number up to the next space (or newline); advances text past it.
template <class Number>
bool read_number(std::string_view& text, Number& out, char end) {
  const auto [stop, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (error != std::errc() || stop == text.data() + text.size() || *stop != end) return false;
  text.remove_prefix(static_cast<std::size_t>(stop - text.data()) + 1);
  return true;
}

}  // namespace

std::string encode_redis_message(const StoredMessage& message) {
  const Bytes& key = message.sender_key.der();
  std::string record = std::to_string(message.ciphertext_size()) + " " +
                       std::to_string(message.envelope.size()) + " " +
                       std::to_string(message.stored_at_ms) + " " + message.sender_phone + " " +
                       std::to_string(key.size()) + "\n";
  record.reserve(record.size() + key.size() + message.envelope.size());
  record.append(key.begin(), key.end());
  record.append(message.envelope.begin(), message.envelope.end());
  return record;
}

std::optional<StoredMessage> decode_redis_message(std::string id, std::string_view record,
                                                  PublicKeyCache& keys) {
  std::size_t ciphertext = 0;
  std::size_t envelope = 0;
  std::int64_t stored_at = 0;
  std::size_t key_size = 0;
  if (!read_number(record, ciphertext, ' ') || !read_number(record, envelope, ' ') ||
      !read_number(record, stored_at, ' ')) {
    return std::nullopt;
  }
  const auto space = record.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  std::string sender(record.substr(0, space));
  record.remove_prefix(space + 1);
  if (!read_number(record, key_size, '\n') || record.size() != key_size + envelope) {
    return std::nullopt;
  }
  auto key = keys.from_der(as_bytes(record.substr(0, key_size)));
  if (!key.ok()) return std::nullopt;
  const std::string_view packed = record.substr(key_size);
  StoredMessage message{.id = std::move(id),
                        .sender_phone = std::move(sender),
                        .sender_key = std::move(key).value(),
                        .stored_at_ms = stored_at,
                        .envelope = Bytes(packed.begin(), packed.end())};
  if (message.ciphertext_size() != ciphertext) return std::nullopt;
  return message;
}

}  // namespace shido::server
