// A local account: everything the client keeps for one phone number under its home
// directory (default $SHIDO_HOME, else ~/.shido):
//   <home>/<phone>/key.pem        the private key (0600, written atomically)
//   <home>/<phone>/server.json    the server's address and pinned key
//   <home>/<phone>/code           the account code (0600), so connecting needs no retyping
//   <home>/<phone>/contacts.json  contacts' pinned keys, first-seen times, verified marks
//   <home>/<phone>/history.jsonl  every message sent and received, one JSON object a line
//   <home>/<phone>/held.jsonl     messages held back because their sender's key changed
//   <home>/<phone>/accepted.jsonl the MACs of envelopes accepted, to drop replays (0600)
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "shido/crypto/keys.h"
#include "shido/net/socket.h"
#include "shido/protocol/json.h"

namespace shido::client {

// The home directory: $SHIDO_HOME, else $HOME/.shido.
std::string default_home();

struct ServerPin {
  std::string host;
  std::uint16_t port = 0;
  PublicKey key;
  bool plaintext = false;  // this run only (--plaintext): never saved
};

struct Contact {
  std::string phone;
  PublicKey key;
  std::int64_t first_seen_ms = 0;
  bool verified = false;
};

// A contact whose key changed: messages held back came with a key other than the pinned
// one. Nothing is pinned until the person checks a new fingerprint with the contact.
struct KeyChange {
  std::string phone;
  PublicKey pinned;
  std::vector<PublicKey> offered;  // each key the held messages came with, in order of arrival
  int held_messages = 0;
};

// Holds a profile's lock until destroyed (closing the file releases the flock).
class ProfileLock {
 public:
  explicit ProfileLock(UniqueFd fd) : fd_(std::move(fd)) {}

 private:
  UniqueFd fd_;
};

class Profile {
 public:
  // The phones with a registered profile (one with a code) under home (sorted).
  static std::vector<std::string> list(const std::string& home);

  // Creates the profile directory (0700) and saves key and server pin. Refuses an
  // existing registered profile (one with a code).
  static Result<Profile> create(const std::string& home, const std::string& phone,
                                const std::string& email, const KeyPair& key,
                                const ServerPin& server);

  // Opens an existing profile; refuses a key file others can read (kInvalidKey).
  static Result<Profile> open(const std::string& home, const std::string& phone);

  const std::string& phone() const { return phone_; }
  const std::string& email() const { return email_; }
  const KeyPair& key() const { return key_; }
  const ServerPin& server() const { return server_; }
  const std::string& directory() const { return directory_; }

  // Talks to another address this time (the pinned key still applies); not saved.
  // Talks to the server without TLS, this time only.
  void set_plaintext(bool plaintext) { server_.plaintext = plaintext; }
  void set_address(const std::optional<std::string>& host,
                   const std::optional<std::uint16_t>& port) {
    if (host) server_.host = *host;
    if (port) server_.port = *port;
  }

  // The account code, once registration succeeded.
  Result<SecretBytes> code() const;
  Status save_code(ByteView code);
  // Records another e-mail address in server.json (atomically; the pin is left as it is).
  Status save_email(const std::string& email);
  bool registered() const;

  // Waits for the profile's lock file (`lock`, flock). Every read-modify-write of the
  // profile (contacts, history and held messages) holds it, so that two client processes
  // on one account, say the menu and a scripted fetch, never lose or double each other's
  // writes. Profile's own methods do not take it: a second lock in one process would wait
  // for ever.
  Result<ProfileLock> lock() const;

  // Contacts (trust on first use).
  std::optional<Contact> contact(const std::string& phone) const;
  std::vector<Contact> contacts() const;
  // Pins a key for phone (the first time, or accepting a new one); refuses (kInvalidKey)
  // when phone's entry is there but damaged. Keeps verified only
  // when the key is unchanged.
  Status pin_contact(const std::string& phone, const PublicKey& key, std::int64_t now_ms);
  Status set_verified(const std::string& phone, bool verified);

  // History: append-only JSON lines, flushed to disk before returning.
  Status append_history(const std::vector<Json>& entries);
  std::vector<Json> history() const;
  // Ids of messages already received or held: fetches drop them as duplicates.
  std::set<std::string> known_message_ids() const;

  // Messages held back because their sender's key changed.
  Status append_held(const std::vector<Json>& entries);
  std::vector<Json> held() const;
  Status replace_held(const std::vector<Json>& entries);
  // The record of accepted envelopes (AcceptedEnvelopes' lines): appended and flushed,
  // replaced atomically when compacted; 0600.
  Status append_accepted(const std::vector<Json>& entries);
  std::vector<Json> accepted() const;
  Status replace_accepted(const std::vector<Json>& entries);
  // What the held messages say: for each contact, the new keys waiting to be checked.
  std::vector<KeyChange> key_changes() const;
  std::optional<KeyChange> key_change(const std::string& phone) const;

 private:
  Profile(std::string directory, std::string phone, std::string email, KeyPair key,
          ServerPin server)
      : directory_(std::move(directory)),
        phone_(std::move(phone)),
        email_(std::move(email)),
        key_(std::move(key)),
        server_(std::move(server)) {}

  std::string path(const char* name) const { return directory_ + "/" + name; }
  Result<Json> load_contacts() const;

  std::string directory_;
  std::string phone_;
  std::string email_;
  KeyPair key_;
  ServerPin server_;
};

}  // namespace shido::client
