#include "server/redis_url.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace shido::server {
namespace {

// A decimal number in [low, high], all of text.
bool parse_number(std::string_view text, int low, int high, int& out) {
  if (text.empty()) return false;
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return false;
  if (value < low || value > high) return false;
  out = value;
  return true;
}

Error bad_url(const std::string& why) {
  return Error{Errc::kInvalidArgument, "not a redis://[:PASSWORD@]HOST:PORT[/DB] address: " + why};
}

}  // namespace

std::string RedisAddress::describe() const {
  return host + ":" + std::to_string(port) + "/" + std::to_string(db);
}

bool RedisAddress::is_loopback() const {
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  // RFC 6761 reserves "localhost" (and its trailing-dot form) for loopback.
  std::string name = host;
  if (name.ends_with('.')) name.pop_back();
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name == "localhost";
}

Result<RedisAddress> parse_redis_url(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  if (!url.starts_with(kScheme)) return bad_url("it does not start with redis://");
  std::string_view rest = url.substr(kScheme.size());
  RedisAddress address;
  // The password ends at the last '@', so that it may itself hold one.
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view user_info = rest.substr(0, at);
    if (!user_info.starts_with(':')) return bad_url("give the password as :PASSWORD@");
    address.password = std::string(user_info.substr(1));
    if (address.password.empty()) return bad_url("the password after ':' is empty");
    rest = rest.substr(at + 1);
  }
  std::string_view host_port = rest;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    host_port = rest.substr(0, slash);
    // Redis has 16 databases unless redis.conf says more; SELECT refuses what it lacks.
    if (!parse_number(rest.substr(slash + 1), 0, 1'000'000, address.db)) {
      return bad_url("the database after '/' is not a number");
    }
  }
  const auto colon = host_port.rfind(':');
  if (colon == std::string_view::npos) return bad_url("no :PORT");
  address.host = std::string(host_port.substr(0, colon));
  // [::1]:6379: brackets around an IPv6 address, which hiredis wants without them.
  if (address.host.size() >= 2 && address.host.front() == '[' && address.host.back() == ']') {
    address.host = address.host.substr(1, address.host.size() - 2);
  }
  if (address.host.empty()) return bad_url("no HOST");
  if (!parse_number(host_port.substr(colon + 1), 1, 65535, address.port)) {
    return bad_url("the port is not a number from 1 to 65535");
  }
  return address;
}

}  // namespace shido::server
