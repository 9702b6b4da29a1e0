#include "client/profile.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <utility>

#include "shido/files.h"
#include "shido/net/socket.h"
#include "shido/protocol/messages.h"
#include "shido/protocol/validation.h"

namespace shido::client {
namespace {

// The key pinned in one contacts.json entry, if the entry is whole.
Result<PublicKey> pinned_key(const Json& entry) {
  if (!entry.is_object() || !entry.contains("public_key") || !entry["public_key"].is_string()) {
    return Error{Errc::kBadValue, "no public_key"};
  }
  return PublicKey::from_pem(entry["public_key"].get<std::string>());
}

Error io_error(const std::string& what, const std::string& path) {
  return {Errc::kIo, what + " " + path + ": " + std::strerror(errno)};
}

Status make_directory(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return io_error("cannot create", path);
  return {};
}

Status write_json(const std::string& path, const Json& json) {
  return write_file_atomic(path, as_bytes(json.dump(2) + "\n"), 0600);
}

Result<Json> read_json(const std::string& path) {
  auto text = read_file(path);
  if (!text.ok()) return text.error();
  Json json = Json::parse(text.value(), nullptr, false);
  if (json.is_discarded()) return Error{Errc::kBadJson, path + " is damaged (not JSON)"};
  return json;
}

// Appends JSON lines and fsyncs, so that what the caller acknowledges next is on disk.
Status append_lines(const std::string& path, const std::vector<Json>& entries) {
  std::string text;
  for (const Json& entry : entries) text += dump_json(entry) + "\n";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return io_error("cannot open", path);
  // A crash mid-append may have left a last line without its newline: end it first, or
  // the first new entry would be glued to the broken line and lost with it.
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return io_error("cannot stat", path);
  if (info.st_size > 0) {
    char last = '\n';
    if (::pread(fd.get(), &last, 1, info.st_size - 1) != 1) return io_error("cannot read", path);
    if (last != '\n') text.insert(0, "\n");
  }
  std::string_view rest = text;
  while (!rest.empty()) {
    const ssize_t n = ::write(fd.get(), rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot write", path);
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fsync(fd.get()) != 0) return io_error("cannot flush", path);
  return {};
}

std::vector<Json> read_lines(const std::string& path) {
  std::vector<Json> entries;
  auto text = read_file(path, 1u << 30);
  if (!text.ok()) return entries;
  std::istringstream lines(text.value());
  std::string line;
  while (std::getline(lines, line)) {
    Json entry = Json::parse(line, nullptr, false);
    // A line cut short by a crash mid-append is skipped, not fatal.
    if (!entry.is_discarded() && entry.is_object()) entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace

std::string default_home() {
  if (const char* home = std::getenv("SHIDO_HOME"); home != nullptr && *home != '\0') return home;
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/.shido";
  }
  return ".shido";
}

std::vector<std::string> Profile::list(const std::string& home) {
  std::vector<std::string> phones;
  DIR* dir = ::opendir(home.c_str());
  if (dir == nullptr) return phones;
  const std::string base = home + "/";
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    struct stat info {};
    // Only accounts whose registration finished (they have a code); a failed attempt
    // leaves a key and a server pin behind that must not count as an account.
    const std::string account = base + name;
    if (is_valid_phone(name) && ::stat((account + "/server.json").c_str(), &info) == 0 &&
        ::stat((account + "/code").c_str(), &info) == 0) {
      phones.push_back(name);
    }
  }
  ::closedir(dir);
  std::sort(phones.begin(), phones.end());
  return phones;
}

Result<Profile> Profile::create(const std::string& home, const std::string& phone,
                                const std::string& email, const KeyPair& key,
                                const ServerPin& server) {
  if (!is_valid_phone(phone)) return Error{Errc::kBadValue, "not an E.164 phone number: " + phone};
  std::error_code error;
  std::filesystem::create_directories(home, error);  // a missing parent of --home is made too
  if (error) return Error{Errc::kIo, "cannot create " + home + ": " + error.message()};
  const std::string directory = home + "/" + phone;
  if (auto made = make_directory(directory); !made.ok()) return made.error();
  Profile profile(directory, phone, email, key, server);
  if (profile.registered()) {
    return Error{Errc::kBadValue,
                 "a registered profile for " + phone + " already exists in " + directory};
  }
  if (auto saved = save_private_key(key, profile.path("key.pem")); !saved.ok())
    return saved.error();
  const Json pin = {{"phone", phone},
                    {"email", email},
                    {"host", server.host},
                    {"port", server.port},
                    {"server_public_key", server.key.pem()},
                    {"server_fingerprint", server.key.fingerprint()}};
  if (auto saved = write_json(profile.path("server.json"), pin); !saved.ok()) return saved.error();
  return profile;
}

Result<Profile> Profile::open(const std::string& home, const std::string& phone) {
  const std::string directory = home + "/" + phone;
  auto pin = read_json(directory + "/server.json");
  if (!pin.ok()) {
    if (pin.error().code == Errc::kNotFound) {
      return Error{Errc::kNotFound,
                   "no profile for " + phone + " in " + home + " (register first)"};
    }
    return pin.error();
  }
  const Json& json = pin.value();
  if (!json.contains("host") || !json["host"].is_string() || !json.contains("port") ||
      !json["port"].is_number_unsigned() || !json.contains("server_public_key") ||
      !json["server_public_key"].is_string() || !json.contains("email") ||
      !json["email"].is_string()) {
    return Error{Errc::kBadValue, directory + "/server.json is damaged"};
  }
  auto server_key = PublicKey::from_pem(json["server_public_key"].get<std::string>());
  if (!server_key.ok())
    return Error{Errc::kBadValue, directory + "/server.json holds an invalid key"};
  auto key = load_private_key(directory + "/key.pem");
  if (!key.ok()) return key.error();
  ServerPin server{json["host"].get<std::string>(), json["port"].get<std::uint16_t>(),
                   std::move(server_key).value()};
  return Profile(directory, phone, json["email"].get<std::string>(), std::move(key).value(),
                 std::move(server));
}

Result<SecretBytes> Profile::code() const {
  auto code = read_private_file(path("code"), 64);
  if (!code.ok()) return code.error();
  // Tolerate a final newline from a hand-edited file.
  SecretBytes digits(code.value().view().first(std::min<std::size_t>(6, code.value().size())));
  if (digits.size() != 6)
    return Error{Errc::kBadValue, path("code") + " does not hold a 6-digit code"};
  return digits;
}

Status Profile::save_code(ByteView code) { return write_file_atomic(path("code"), code, 0600); }

Status Profile::save_email(const std::string& email) {
  auto pin = read_json(path("server.json"));
  if (!pin.ok()) return pin.error();
  if (!pin.value().is_object()) return Error{Errc::kBadValue, path("server.json") + " is damaged"};
  pin.value()["email"] = email;
  if (auto saved = write_json(path("server.json"), pin.value()); !saved.ok()) return saved;
  email_ = email;
  return {};
}

bool Profile::registered() const {
  struct stat info {};
  return ::stat(path("code").c_str(), &info) == 0;
}

Result<Json> Profile::load_contacts() const {
  auto json = read_json(path("contacts.json"));
  if (!json.ok() && json.error().code == Errc::kNotFound) return Json::object();
  if (json.ok() && !json.value().is_object())
    return Error{Errc::kBadValue, path("contacts.json") + " is damaged"};
  return json;
}

std::optional<Contact> Profile::contact(const std::string& phone) const {
  for (Contact& contact : contacts()) {
    if (contact.phone == phone) return std::move(contact);
  }
  return std::nullopt;
}

std::vector<Contact> Profile::contacts() const {
  std::vector<Contact> out;
  auto json = load_contacts();
  if (!json.ok()) return out;
  for (const auto& [phone, entry] : json.value().items()) {
    auto key = pinned_key(entry);
    if (!key.ok()) continue;
    out.push_back(Contact{phone, std::move(key).value(), entry.value("first_seen", std::int64_t{0}),
                          entry.value("verified", false)});
  }
  return out;
}

Status Profile::pin_contact(const std::string& phone, const PublicKey& key, std::int64_t now_ms) {
  auto json = load_contacts();
  if (!json.ok()) return json.error();
  Json& contacts = json.value();
  // A damaged entry is not an unknown contact: pinning afresh would accept any key without
  // a word. The person repairs or removes the entry, knowingly.
  if (contacts.contains(phone) && !pinned_key(contacts[phone]).ok()) {
    return Error{Errc::kInvalidKey,
                 "the pinned key of " + phone + " in " + path("contacts.json") +
                     " is damaged; restore it, or remove the entry to trust the key offered now"};
  }
  const bool same_key =
      contacts.contains(phone) && contacts[phone].value("public_key", "") == key.pem();
  const bool verified = same_key && contacts[phone].value("verified", false);
  contacts[phone] = {
      {"public_key", key.pem()},
      {"fingerprint", key.fingerprint()},
      {"first_seen", same_key ? contacts[phone].value("first_seen", now_ms) : now_ms},
      {"verified", verified}};
  return write_json(path("contacts.json"), contacts);
}

Status Profile::set_verified(const std::string& phone, bool verified) {
  auto json = load_contacts();
  if (!json.ok()) return json.error();
  if (!json.value().contains(phone)) return Error{Errc::kNotFound, "no contact " + phone};
  json.value()[phone]["verified"] = verified;
  return write_json(path("contacts.json"), json.value());
}

Status Profile::append_history(const std::vector<Json>& entries) {
  return append_lines(path("history.jsonl"), entries);
}

std::vector<Json> Profile::history() const { return read_lines(path("history.jsonl")); }

Result<ProfileLock> Profile::lock() const {
  const std::string file = path("lock");
  UniqueFd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return Error{Errc::kIo, "cannot open " + file + ": " + std::strerror(errno)};
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR)
      return Error{Errc::kIo, "cannot lock " + file + ": " + std::strerror(errno)};
  }
  return ProfileLock(std::move(fd));
}

std::set<std::string> Profile::known_message_ids() const {
  std::set<std::string> ids;
  // History entries name their id "id"; held.jsonl keeps the 119 frames, with "message_id".
  for (const auto& [file, member] :
       {std::pair{"history.jsonl", "id"}, std::pair{"held.jsonl", "message_id"}}) {
    for (const Json& entry : read_lines(path(file))) {
      if (entry.value("direction", "") != "out" && entry.contains(member) &&
          entry[member].is_string()) {
        ids.insert(entry[member].get<std::string>());
      }
    }
  }
  return ids;
}

Status Profile::append_held(const std::vector<Json>& entries) {
  return append_lines(path("held.jsonl"), entries);
}

std::vector<Json> Profile::held() const { return read_lines(path("held.jsonl")); }

Status Profile::replace_held(const std::vector<Json>& entries) {
  std::string text;
  for (const Json& entry : entries) text += dump_json(entry) + "\n";
  return write_file_atomic(path("held.jsonl"), as_bytes(text), 0600);
}

Status Profile::append_accepted(const std::vector<Json>& entries) {
  return append_lines(path("accepted.jsonl"), entries);
}

std::vector<Json> Profile::accepted() const { return read_lines(path("accepted.jsonl")); }

Status Profile::replace_accepted(const std::vector<Json>& entries) {
  std::string text;
  for (const Json& entry : entries) text += dump_json(entry) + "\n";
  return write_file_atomic(path("accepted.jsonl"), as_bytes(text), 0600);
}

std::vector<KeyChange> Profile::key_changes() const {
  std::vector<KeyChange> changes;
  const std::vector<Contact> pinned = contacts();
  for (const Json& entry : held()) {
    auto wire = WaitingMessage::from_json(entry);
    if (!wire.ok()) continue;
    auto key = PublicKey::from_pem(wire.value().senders_public_key);
    const std::string& phone = wire.value().senders_phone_number;
    const auto contact = std::find_if(pinned.begin(), pinned.end(),
                                      [&](const Contact& c) { return c.phone == phone; });
    if (!key.ok() || !is_valid_phone(phone) || contact == pinned.end() ||
        key.value() == contact->key) {
      continue;
    }
    auto change = std::find_if(changes.begin(), changes.end(),
                               [&](const KeyChange& c) { return c.phone == phone; });
    if (change == changes.end()) {
      change = changes.insert(changes.end(), KeyChange{phone, contact->key, {}, 0});
    }
    change->held_messages += 1;
    if (std::find(change->offered.begin(), change->offered.end(), key.value()) ==
        change->offered.end()) {
      change->offered.push_back(std::move(key).value());
    }
  }
  return changes;
}

std::optional<KeyChange> Profile::key_change(const std::string& phone) const {
  for (KeyChange& change : key_changes()) {
    if (change.phone == phone) return std::move(change);
  }
  return std::nullopt;
}

}  // namespace shido::client
