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
  // True for 127.0.0.0/8, ::1 (and ::ffff:127.x.y.z) and "localhost": hiredis 0.14 has no
  // TLS, so only there do the password and the phone numbers not cross a network in clear.
  bool is_loopback() const;
};

// Parses a redis:// URL; the error says which part is wrong (never quoting the password).
Result<RedisAddress> parse_redis_url(std::string_view url);

}  // namespace shido::server
