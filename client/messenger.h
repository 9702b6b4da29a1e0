// What a person does with an account: register, then log in and send, fetch, manage
// contacts. Combines the protocol (ProtocolClient) with the local profile (Profile) and
// enforces the pins: a changed server key stops everything; a changed contact key holds
// that contact's messages back until the person accepts the new key.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "client/profile.h"
#include "shido/protocol/protocol_client.h"
#include "shido/protocol/text_message.h"

namespace shido::client {

struct RegisterRequest {
  std::string home;
  std::string phone;
  std::string email;                  // empty: the one an account here registered with
  std::optional<std::string> host;    // default: the account's pinned server, else 127.0.0.1
  std::optional<std::uint16_t> port;  // default: the account's pinned server, else 5000
  std::optional<std::string> expected_fingerprint;  // refuse a server with another key
  bool plaintext = false;                           // no TLS (--plaintext)
};

// Called once the server has sent the code, with the fingerprint the client pinned and,
// on a retry, the reason; returns the code the person typed, or nullopt to give up.
using CodeReader = std::function<std::optional<std::string>(const std::string& server_fingerprint,
                                                            const std::string& retry_reason)>;

// Registers a new account and creates its profile. `tries` bounds how often a wrong code
// is asked for again (the server allows five).
//
// When home already holds a registered account for the phone (has_account), it registers
// that account's own key again, never a new one: for a server that no longer knows the
// account (restarted without its data, or restored from an old backup). The pinned server
// key must still match; only the code changes (and the e-mail address, when another one is
// given), so contacts, pins and history stay as they are, and contacts' pins of this key stay
// valid. A server that still knows the account is not asked for a code: kLocal, "already
// registered".
ClientResult<Profile> register_account(const RegisterRequest& request, const CodeReader& read_code,
                                       int tries = 1);

// Whether home holds a registered account (one with a code) for phone.
bool has_account(const std::string& home, const std::string& phone);

// Whether a failed Messenger::connect means that the server no longer knows the account:
// it answered the login with 131 USER_NOT_FOUND. register_account then registers the same
// key again.
bool is_unknown_account(const ClientError& error);

struct ReceivedMessage {
  std::string id;
  std::string from;
  TextMessage message;
  std::int64_t stored_at_ms = 0;
};

// The outcome of a fetch, for the person to see.
struct FetchReport {
  std::vector<ReceivedMessage> messages;  // new, authenticated, in order
  std::vector<std::string> warnings;      // dropped envelopes
  int held = 0;                           // held back by this fetch: the sender's key changed
  std::vector<KeyChange> key_changes;     // every contact whose new key waits to be checked
  int failed_authentication = 0;          // reported, acknowledged and dropped
  int duplicates = 0;                     // seen before, acknowledged again
  int replays = 0;  // an accepted envelope delivered again under a new id: dropped
};

class Messenger {
 public:
  // Connects to the profile's server, checks the server key against the pin, logs in. A
  // server that no longer knows the account says so plainly (is_unknown_account).
  static ClientResult<Messenger> connect(
      Profile profile, std::chrono::milliseconds timeout = std::chrono::seconds(30));

  const Profile& profile() const { return profile_; }
  Profile& profile() { return profile_; }

  // Seals body to `to` and stores it on the server; returns the message id. An empty or
  // blank body, or one the protocol cannot carry, is refused (kLocal) before anything is sent.
  ClientResult<std::string> send(const std::string& to, const std::string& body);

  // Fetches every waiting message (waiting up to wait_seconds when none are), writes them
  // to the history, then acknowledges them.
  ClientResult<FetchReport> fetch(int wait_seconds);

  // The keys `phone` may have changed to, for the person to check: each key its held
  // messages came with, then the one the server has for it now, each once, the pinned key
  // left out. kLocal when phone is not a contact.
  ClientResult<std::vector<PublicKey>> new_keys(const std::string& phone);

  // Pins the new key of `phone` whose fingerprint the person checked with them (one of
  // new_keys()) and opens the messages held back that came with it. Any other fingerprint
  // is refused (kSecurity) and nothing changes.
  ClientResult<FetchReport> accept_new_key(const std::string& phone,
                                           const std::string& fingerprint);

  // The key the server has for phone (pinning it if new); kSecurity if it differs from
  // the pin.
  ClientResult<PublicKey> contact_key(const std::string& phone);

  void bye() { connection_.bye(); }

 private:
  Messenger(Profile profile, ProtocolClient connection)
      : profile_(std::move(profile)), connection_(std::move(connection)) {}

  Profile profile_;
  ProtocolClient connection_;
};

// Whether body can be sent: kLocal with the reason when it is empty or blank, longer than
// a message may be, or not UTF-8.
ClientResult<Done> check_body(const std::string& body);

// Current unix time in milliseconds.
std::int64_t now_ms();

}  // namespace shido::client
