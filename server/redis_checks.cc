#include "server/redis_checks.h"

#include <charconv>
#include <map>
#include <string_view>
#include <utility>

namespace shido::server {
namespace {

// INFO's "key:value" lines (sections and blank lines skipped).
std::map<std::string, std::string, std::less<>> parse_info(std::string_view text) {
  std::map<std::string, std::string, std::less<>> fields;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    const std::size_t colon = line.find(':');
    if (line.empty() || line.front() == '#' || colon == std::string_view::npos) continue;
    fields.emplace(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
  }
  return fields;
}

std::optional<std::string> field(const std::map<std::string, std::string, std::less<>>& fields,
                                 std::string_view key) {
  const auto found = fields.find(key);
  if (found == fields.end()) return std::nullopt;
  return found->second;
}

void add_refusal(RedisSettings& settings, const std::string& what, const Error& error) {
  if (!settings.refusals.empty()) settings.refusals += "; ";
  settings.refusals += what + " refused: " + std::string(RedisConnection::refusal_text(error));
}

// CONFIG GET name's value: nullopt when Redis refused (noted once) or does not know it.
Result<std::optional<std::string>> config_get(RedisConnection& redis, RedisSettings& settings,
                                              bool& refused, std::string_view name) {
  if (refused) return std::optional<std::string>();
  auto reply = redis.command({"CONFIG", "GET", name});
  if (!reply.ok()) {
    if (!RedisConnection::is_refusal(reply.error())) return reply.error();
    refused = true;
    add_refusal(settings, "CONFIG GET", reply.error());
    return std::optional<std::string>();
  }
  const ReplyView pairs = reply.value().view();
  for (std::size_t i = 0; i + 1 < pairs.size(); i += 2) {
    if (pairs[i].text() == name) return std::optional<std::string>(pairs[i + 1].text());
  }
  return std::optional<std::string>();
}

// The major version of "7.0.15"; nullopt when it does not start with a number.
std::optional<int> major_of(const std::string& version) {
  int major = 0;
  const auto [end, error] = std::from_chars(version.data(), version.data() + version.size(), major);
  if (error != std::errc() || end == version.data()) return std::nullopt;
  return major;
}

std::string unread(const RedisSettings& settings) {
  return settings.refusals.empty() ? "Redis did not report it" : settings.refusals;
}

// What a crash or a restart of Redis can lose, measured against --store disk's default
// (every acknowledged message synced to disk); nullopt when nothing.
std::optional<std::string> persistence_warning(const RedisSettings& settings,
                                               const std::string& where) {
  const std::string advice = "set appendonly yes and appendfsync always";
  if (!settings.append_only) {
    return "could not check the persistence of " + where + " (" + unread(settings) +
           "): unless appendonly is yes and appendfsync always, a crash can lose acknowledged "
           "messages";
  }
  if (!*settings.append_only) {
    if (!settings.save) {
      return where + " has appendonly no and its save points could not be read (" +
             unread(settings) +
             "): a restart of redis loses what came since the last snapshot, if there is one; " +
             advice;
    }
    if (settings.save->empty()) {
      return where +
             " has persistence off (appendonly no, no save points): a restart of redis loses "
             "every account and message; " +
             advice;
    }
    return where + " has snapshots only (appendonly no, save \"" + *settings.save +
           "\"): a crash loses what came since the last one; " + advice;
  }
  if (!settings.append_fsync) {
    return "could not check the appendfsync of " + where + " (" + unread(settings) +
           "): unless it is always, a crash of the machine can lose acknowledged messages";
  }
  if (*settings.append_fsync == "everysec") {
    return where +
           " has appendfsync everysec: a crash of the machine can lose up to a second of "
           "acknowledged messages; set appendfsync always";
  }
  if (*settings.append_fsync != "always") {
    return where + " has appendfsync " + *settings.append_fsync +
           ": a crash of the machine can lose the acknowledged messages the kernel had not yet "
           "written (often the last 30 seconds); set appendfsync always";
  }
  return std::nullopt;
}

}  // namespace

Result<RedisSettings> read_redis_settings(RedisConnection& redis) {
  RedisSettings settings;
  std::map<std::string, std::string, std::less<>> info;
  if (auto reply = redis.command({"INFO"}); reply.ok()) {
    info = parse_info(reply.value().view().text());
  } else if (RedisConnection::is_refusal(reply.error())) {
    add_refusal(settings, "INFO", reply.error());
  } else {
    return reply.error();
  }
  settings.version = field(info, "redis_version");
  settings.role = field(info, "role");
  if (auto host = field(info, "master_host"), port = field(info, "master_port"); host && port) {
    settings.primary = *host + ":" + *port;
  }

  bool refused = false;
  const std::pair<std::string_view, std::optional<std::string>*> wanted[] = {
      {"maxmemory-policy", &settings.maxmemory_policy},
      {"appendfsync", &settings.append_fsync},
      {"save", &settings.save}};
  for (const auto& [name, out] : wanted) {
    auto value = config_get(redis, settings, refused, name);
    if (!value.ok()) return value.error();
    *out = std::move(value).value();
  }
  auto append_only = config_get(redis, settings, refused, "appendonly");
  if (!append_only.ok()) return append_only.error();
  if (append_only.value()) settings.append_only = *append_only.value() == "yes";

  // Without CONFIG, INFO still tells these two.
  if (!settings.maxmemory_policy) settings.maxmemory_policy = field(info, "maxmemory_policy");
  if (!settings.append_only) {
    if (auto enabled = field(info, "aof_enabled")) settings.append_only = *enabled == "1";
  }
  return settings;
}

Result<RedisServerCheck> judge_redis_settings(const RedisSettings& settings,
                                              const RedisAddress& address) {
  const std::string where = "redis at " + address.describe();
  const auto refuse = [](std::string message) {
    return Error{Errc::kInvalidArgument, std::move(message)};
  };
  RedisServerCheck check;
  check.version = settings.version.value_or("");

  if (settings.maxmemory_policy && *settings.maxmemory_policy != "noeviction") {
    return refuse(where + " has maxmemory-policy " + *settings.maxmemory_policy +
                  ", which evicts keys and would lose accounts and mail: set maxmemory-policy "
                  "noeviction");
  }
  if (settings.role == "slave") {
    return refuse(where + " is a replica" +
                  (settings.primary ? " of " + *settings.primary : std::string()) +
                  ": what the server writes there is refused or lost; give the primary's address");
  }
  if (settings.version) {
    if (auto major = major_of(*settings.version); major && *major < kOldestRedisMajor) {
      return refuse(where + " is redis " + *settings.version + ": the server needs redis " +
                    std::to_string(kOldestRedisMajor) + ".0 or newer");
    }
  }

  if (!settings.maxmemory_policy) {
    check.warnings.push_back("could not check the maxmemory-policy of " + where + " (" +
                             unread(settings) +
                             "): unless it is noeviction, redis may evict accounts and mail");
  }
  if (auto warning = persistence_warning(settings, where)) {
    check.warnings.push_back(std::move(*warning));
  }
  return check;
}

Result<RedisServerCheck> check_redis_server(RedisConnection& redis) {
  auto settings = read_redis_settings(redis);
  if (!settings.ok()) return settings.error();
  return judge_redis_settings(settings.value(), redis.address());
}

}  // namespace shido::server
