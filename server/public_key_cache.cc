#include "server/public_key_cache.h"

namespace shido::server {

Result<PublicKey> PublicKeyCache::from_der(ByteView der) {
  std::string bytes = to_string(der);
  {
    std::lock_guard lock(mutex_);
    if (auto found = keys_.find(bytes); found != keys_.end()) return found->second;
  }
  auto parsed = PublicKey::from_der(der);  // outside the lock: the slow part
  if (!parsed.ok()) return parsed;
  std::lock_guard lock(mutex_);
  if (keys_.size() >= capacity_) keys_.clear();
  keys_.emplace(std::move(bytes), parsed.value());
  return parsed;
}

std::size_t PublicKeyCache::size() const {
  std::lock_guard lock(mutex_);
  return keys_.size();
}

}  // namespace shido::server
