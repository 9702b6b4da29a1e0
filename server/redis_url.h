// Where the Redis store lives: `redis://[:PASSWORD@]HOST:PORT[/DB]` (issue 16), parsed
// into its parts. The password is never logged: describe() leaves it out.
#pragma once

#include <string>
#include <string_view>

#include "shido/result.h"

namespace shido::server {

struct RedisAddress {
  std::string host;
  int port = 6379;
  std::string password;  // empty: no AUTH
  int db = 0;            // SELECT'ed on every connection

  // "HOST:PORT/DB", for the log and error messages: without the password.
  std::string describe() const;
};

// Parses a redis:// URL; the error says which part is wrong (never quoting the password).
Result<RedisAddress> parse_redis_url(std::string_view url);

}  // namespace shido::server
