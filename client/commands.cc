#include "client/commands.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <iostream>
#include <iterator>
#include <string_view>

#include "client/terminal_text.h"
#include "shido/files.h"
#include "shido/protocol/validation.h"

namespace shido::client {
namespace {

ClientError local(std::string message) {
  return client_failure(Failure::kLocal, std::move(message));
}

// Tells the person how to end a message typed at the terminal.
void prompt_for_message(const std::string& to) {
  if (::isatty(STDIN_FILENO) == 0) return;
  std::cerr << "Type your message to " << to
            << "; end it with Ctrl-D at the start of a line (Ctrl-C cancels):\n";
}

// A key change as print_key_change shows it, and the command that accepts a new key. The
// command leaves the fingerprint to the person: the one the contact reads out to them.
void print_key_change_and_commands(const KeyChange& change, std::ostream& out) {
  print_key_change(change, out);
  out << "  To accept it: shido-client contacts --accept " << change.phone
      << " --fingerprint '<the fingerprint " << change.phone << " reads to you>'\n";
}

std::string local_time(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local);
  return text;
}

// Reads the code line from stdin (terminal or pipe).
std::optional<std::string> read_code_line(const std::string& fingerprint,
                                          const std::string& retry_reason) {
  if (!retry_reason.empty()) std::cerr << retry_reason << "\n";
  std::cerr << "Server key fingerprint (compare it with the one sent with your code):\n  "
            << fingerprint << "\nCode: " << std::flush;
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

// A word as a POSIX shell reads it: quoted when it holds anything but safe characters.
std::string shell_word(const std::string& word) {
  const bool safe = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("+-_./:@=,%").find(c) != std::string_view::npos;
  });
  if (safe) return word;
  std::string quoted = "'";
  for (const char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Messenger::connect; for an account the server no longer knows, its error says how to
// register the same key again.
ClientResult<Messenger> log_in(Profile profile, const CommonOptions& options,
                               std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const std::string phone = profile.phone();
  auto messenger = Messenger::connect(std::move(profile), timeout);
  if (messenger.ok() || !is_unknown_account(messenger.error())) return messenger;
  ClientError error = messenger.error();
  error.message += "\nRun `" + register_again_command(options, phone) +
                   "` to register this same key again (with a new code); your contacts, pins "
                   "and history are kept.";
  return error;
}

bool is_six_digits(const std::string& text) {
  return text.size() == 6 && text.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

int exit_status(const ClientError& error) {
  if (error.kind == Failure::kLocal) return kExitLocal;
  if (error.kind == Failure::kSecurity) return kExitSecurity;
  if (error.server_code == Code::kInvalidSecretCode ||
      error.server_code == Code::kConnectRequestNotAccepted) {
    return kExitSecurity;
  }
  return kExitRefused;
}

int report_failure(const ClientError& error, std::ostream& err) {
  err << "shido-client: " << for_terminal(error.message);
  if (error.attempts_left) err << " (" << *error.attempts_left << " attempts left)";
  if (error.retry_after) err << " (retry after " << *error.retry_after << " s)";
  err << "\n";
  return exit_status(error);
}

ClientResult<Profile> open_profile(const CommonOptions& options) {
  std::string phone = options.phone;
  if (phone.empty()) {
    const auto phones = Profile::list(options.home);
    if (phones.empty()) return local("no account in " + options.home + ": register first");
    if (phones.size() > 1)
      return local("several accounts in " + options.home + ": choose one with --phone");
    phone = phones.front();
  }
  auto profile = Profile::open(options.home, phone);
  if (!profile.ok()) {
    ClientError error = local(profile.error().message);
    if (profile.error().code == Errc::kInvalidKey) error.kind = Failure::kSecurity;
    return error;
  }
  if (options.host || options.port) profile.value().set_address(options.host, options.port);
  profile.value().set_plaintext(options.plaintext);
  return std::move(profile).value();
}

std::string register_again_command(const CommonOptions& options, const std::string& phone) {
  std::string command = "shido-client";
  if (options.home != default_home()) command += " --home " + shell_word(options.home);
  if (options.host) command += " --host " + shell_word(*options.host);
  if (options.port) command += " --port " + std::to_string(*options.port);
  return command + " register --phone " + shell_word(phone);
}

int run_register(const CommonOptions& options, const std::optional<std::string>& email,
                 std::optional<std::string> code_file,
                 std::optional<std::string> expected_fingerprint) {
  if (!is_valid_phone(options.phone)) {
    std::cerr << "shido-client: --phone must be E.164, e.g. +972501234567\n";
    return kExitLocal;
  }
  if (email && !is_valid_email(*email)) {
    std::cerr << "shido-client: --email is not a valid address\n";
    return kExitLocal;
  }
  const bool again = has_account(options.home, options.phone);
  if (!email && !again) {
    std::cerr << "shido-client: a new account needs --email\n"
              << "Run 'shido-client help register' for what it takes.\n";
    return kExitLocal;
  }
  RegisterRequest request{options.home,     options.phone, email.value_or(""),
                          options.host,     options.port,  std::move(expected_fingerprint),
                          options.plaintext};
  auto reader = [&](const std::string& fingerprint,
                    const std::string& retry) -> std::optional<std::string> {
    if (again && retry.empty()) {
      std::cerr << "The server no longer knows " << options.phone
                << ": registering the key of the account here again (your contacts, pins and "
                   "history are kept).\n";
    }
    if (!code_file) return read_code_line(fingerprint, retry);
    std::cout << "Server key fingerprint (pinned): " << fingerprint << "\n";
    auto text = read_file(*code_file, 4096);
    if (!text.ok()) {
      std::cerr << "shido-client: cannot read the code: " << text.error().message << "\n";
      return std::nullopt;
    }
    const std::string line = text.value().substr(0, text.value().find('\n'));
    if (!is_six_digits(line)) {
      std::cerr << "shido-client: " << *code_file << " does not start with a 6-digit code\n";
      return std::nullopt;
    }
    return line;
  };
  auto profile = register_account(request, reader, 1);
  if (!profile.ok()) return report_failure(profile.error(), std::cerr);
  std::cout << "Registered " << options.phone
            << (again ? " again, with the same key: your contacts, pins and history are kept" : "")
            << ". Your key fingerprint: " << profile.value().key().public_key().fingerprint()
            << "\n";
  return kExitOk;
}

int run_send(const CommonOptions& options, const std::string& to,
             std::optional<std::string> message) {
  if (!is_valid_phone(to)) {
    std::cerr << "shido-client: --to must be E.164, e.g. +972501234567\n";
    return kExitLocal;
  }
  auto profile = open_profile(options);
  if (!profile.ok()) return report_failure(profile.error(), std::cerr);
  if (!message) {
    prompt_for_message(to);
    message =
        std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    if (!message->empty() && message->back() == '\n') message->pop_back();
  }
  // Checked before connecting: nothing goes out for a message that cannot be sent.
  if (auto checked = check_body(*message); !checked.ok())
    return report_failure(checked.error(), std::cerr);
  auto messenger = log_in(std::move(profile).value(), options);
  if (!messenger.ok()) return report_failure(messenger.error(), std::cerr);
  auto id = messenger.value().send(to, *message);
  if (!id.ok()) {
    ClientError error = id.error();
    if (error.server_code == Code::kUserNotFound)
      error.message = "no account with the phone number " + to;
    return report_failure(error, std::cerr);
  }
  messenger.value().bye();
  std::cout << "Sent to " << to << " (message " << for_terminal(id.value()) << ")\n";
  return kExitOk;
}

void print_message(const ReceivedMessage& message, std::ostream& out) {
  out << "[" << local_time(message.message.sent_at) << "] " << for_terminal(message.from) << ": "
      << for_terminal(message.message.body) << "\n";
}

void print_key_change(const KeyChange& change, std::ostream& out) {
  out << "The key of " << change.phone << " has changed: " << change.held_messages
      << (change.held_messages == 1 ? " message is" : " messages are")
      << " held back until you accept a new key.\n  pinned key: " << change.pinned.fingerprint()
      << "\n";
  for (const PublicKey& key : change.offered) out << "  new key:    " << key.fingerprint() << "\n";
  out << "Check the new fingerprint with " << change.phone
      << " (in person or on a call) before you accept it.\n";
}

void print_fetch_notes(const FetchReport& report, std::ostream& err) {
  for (const std::string& warning : report.warnings)
    err << "WARNING: " << for_terminal(warning) << "\n";
  for (const KeyChange& change : report.key_changes) {
    err << "WARNING: ";
    print_key_change_and_commands(change, err);
  }
}

int run_fetch(const CommonOptions& options, int wait_seconds, bool json) {
  auto profile = open_profile(options);
  if (!profile.ok()) return report_failure(profile.error(), std::cerr);
  auto messenger = log_in(std::move(profile).value(), options);
  if (!messenger.ok()) return report_failure(messenger.error(), std::cerr);
  auto report = messenger.value().fetch(wait_seconds);
  if (!report.ok()) return report_failure(report.error(), std::cerr);
  messenger.value().bye();
  for (const ReceivedMessage& message : report.value().messages) {
    if (json) {
      std::cout << json_for_terminal(dump_json({{"id", message.id},
                                                {"from", message.from},
                                                {"body", message.message.body},
                                                {"sent_at", message.message.sent_at},
                                                {"stored_at", message.stored_at_ms}}))
                << "\n";
    } else {
      print_message(message, std::cout);
    }
  }
  if (!json && report.value().messages.empty()) std::cout << "No new messages.\n";
  print_fetch_notes(report.value(), std::cerr);
  std::cout << std::flush;
  const FetchReport& notes = report.value();
  return notes.failed_authentication > 0 || notes.held > 0 || notes.replays > 0 ? kExitSecurity
                                                                                : kExitOk;
}

int run_fingerprint(const CommonOptions& options, std::optional<std::string> contact) {
  auto profile = open_profile(options);
  if (!profile.ok()) return report_failure(profile.error(), std::cerr);
  if (!contact) {
    std::cout << "Your fingerprint (" << profile.value().phone() << "):\n  "
              << profile.value().key().public_key().fingerprint() << "\nServer fingerprint:\n  "
              << profile.value().server().key.fingerprint() << "\n";
    return kExitOk;
  }
  auto pinned = profile.value().contact(*contact);
  if (!pinned) {
    std::cerr << "shido-client: no pinned key for " << *contact
              << " yet (send to or hear from them first)\n";
    return kExitLocal;
  }
  std::cout << *contact << (pinned->verified ? " (verified)" : " (not verified)") << ":\n  "
            << pinned->key.fingerprint() << "\n";
  if (const auto change = profile.value().key_change(*contact)) {
    std::cout << "\n";
    print_key_change(*change, std::cout);
  }
  return kExitOk;
}

int run_contacts(const CommonOptions& options, std::optional<std::string> verify,
                 std::optional<std::string> accept, std::optional<std::string> fingerprint) {
  auto profile = open_profile(options);
  if (!profile.ok()) return report_failure(profile.error(), std::cerr);
  if (verify) {
    if (const auto change = profile.value().key_change(*verify)) {
      std::cerr << "shido-client: the key of " << *verify
                << " has changed: check the new key with them and accept it first (then it can "
                   "be marked verified)\n";
      print_key_change(*change, std::cerr);
      return kExitLocal;
    }
    auto lock = profile.value().lock();
    Status marked = lock.ok() ? profile.value().set_verified(*verify, true) : Status{lock.error()};
    if (!marked.ok()) {
      std::cerr << "shido-client: " << marked.error().message << "\n";
      return kExitLocal;
    }
    std::cout << "Marked " << *verify << " as verified.\n";
    return kExitOk;
  }
  if (accept && !fingerprint) {
    std::cerr << "shido-client: --accept needs the --fingerprint you checked with " << *accept
              << ": exactly that key is accepted\n";
    if (const auto change = profile.value().key_change(*accept))
      print_key_change(*change, std::cerr);
    return kExitLocal;
  }
  if (accept) {
    auto messenger = log_in(std::move(profile).value(), options);
    if (!messenger.ok()) return report_failure(messenger.error(), std::cerr);
    auto report = messenger.value().accept_new_key(*accept, *fingerprint);
    if (!report.ok()) return report_failure(report.error(), std::cerr);
    messenger.value().bye();
    std::cout << "Accepted the new key of " << *accept << ".\n";
    for (const ReceivedMessage& message : report.value().messages)
      print_message(message, std::cout);
    return kExitOk;
  }
  const auto contacts = profile.value().contacts();
  if (contacts.empty()) std::cout << "No contacts yet.\n";
  const auto changes = profile.value().key_changes();
  for (const Contact& contact : contacts) {
    std::cout << contact.phone << (contact.verified ? "  verified" : "  not verified")
              << "  first seen " << local_time(contact.first_seen_ms) << "\n  "
              << contact.key.fingerprint() << "\n";
    for (const KeyChange& change : changes) {
      if (change.phone != contact.phone) continue;
      std::cout << "  KEY CHANGED: ";
      print_key_change_and_commands(change, std::cout);
    }
  }
  return kExitOk;
}

}  // namespace shido::client
