// The scriptable subcommands of shido-client. Each prints what it did and returns the exit
// status: 0 ok, 1 usage or a local problem, 2 network or server refusal, 3 security failure
// (README's table of exit statuses says which case is which).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

#include "client/messenger.h"

namespace shido::client {

struct CommonOptions {
  std::string home = default_home();
  std::string phone;                  // which local account
  std::optional<std::string> host;    // default: the profile's pinned server, else 127.0.0.1
  std::optional<std::uint16_t> port;  // default: the profile's pinned server, else 5000
  bool plaintext = false;             // no TLS: for a server that has none
};

inline constexpr int kExitOk = 0;
inline constexpr int kExitLocal = 1;  // a usage error, or a problem here: nothing was sent
inline constexpr int kExitRefused = 2;
inline constexpr int kExitSecurity = 3;

// Exit status for a failure: kExitLocal for local problems, kExitRefused for the network
// and server refusals, kExitSecurity for security failures (including a refused proof: 109
// and 107).
int exit_status(const ClientError& error);

// Prints a failure to err and returns its exit status.
int report_failure(const ClientError& error, std::ostream& err);

// Opens the account named by options.phone, or the only one under the home. With a
// host or port given, they replace the pinned address (the pinned key still applies).
ClientResult<Profile> open_profile(const CommonOptions& options);

// The command that registers phone's key again, with the options that lead to the same
// account and server: "shido-client --home DIR register --phone +972501234567".
std::string register_again_command(const CommonOptions& options, const std::string& phone);

// The code is read after the server has sent it: from code_file when given (its first
// line), else from the terminal or stdin. (A code cannot be given up front: each code
// belongs to the connection that asked for it.) For an account that is already here, it
// registers the same key again when the server no longer knows it (register_account), the
// e-mail address by default the one the account registered with.
int run_register(const CommonOptions& options, const std::optional<std::string>& email,
                 std::optional<std::string> code_file,
                 std::optional<std::string> expected_fingerprint);
int run_send(const CommonOptions& options, const std::string& to,
             std::optional<std::string> message);
int run_fetch(const CommonOptions& options, int wait_seconds, bool json);
int run_fingerprint(const CommonOptions& options, std::optional<std::string> contact);
// With accept, the fingerprint the person checked with that contact is required: exactly
// that key is pinned.
int run_contacts(const CommonOptions& options, std::optional<std::string> verify,
                 std::optional<std::string> accept, std::optional<std::string> fingerprint);

// Prints one received message for people: "[2026-11-26 23:10:48] +972501234567: hello".
void print_message(const ReceivedMessage& message, std::ostream& out);
// Prints a contact's key change: the pinned fingerprint, the new ones, and what to do.
void print_key_change(const KeyChange& change, std::ostream& out);
// Prints warnings of a fetch that are not messages, key changes with the command that
// accepts each new key.
void print_fetch_notes(const FetchReport& report, std::ostream& err);

}  // namespace shido::client
