#include "client/menu.h"

#include <algorithm>
#include <cctype>
#include <iostream>
#include <optional>
#include <string>

#include "client/terminal_text.h"
#include "shido/protocol/validation.h"

namespace shido::client {
namespace {

class Menu {
 public:
  Menu(const CommonOptions& options, std::istream& in, std::ostream& out)
      : options_(options), in_(in), out_(out) {}

  int run() {
    out_ << "Shido: end-to-end encrypted messages. Ctrl-D goes back, or leaves from here.\n";
    for (;;) {
      out_ << "\n1) Register\n2) Connect\n3) Quit\n";
      auto choice = ask_choice(3);
      if (!choice || *choice == 3) break;
      std::optional<Profile> profile = *choice == 1 ? register_flow() : choose_account();
      if (profile) logged_in(*profile);
    }
    out_ << "Bye.\n";
    return kExitOk;
  }

 private:
  // One line of input, trimmed; nullopt at end of input (Ctrl-D), which takes the person
  // back one level. The end is cleared so that a terminal can be read again there; a pipe
  // that has ended ends every level in turn, and so the menu.
  std::optional<std::string> ask(const std::string& prompt) {
    out_ << prompt << std::flush;
    // Cleared first too: a line ended by Ctrl-D instead of Enter leaves the end of input
    // set, and the next prompt must still wait for the person.
    in_.clear();
    std::string line;
    if (!std::getline(in_, line)) {
      in_.clear();
      out_ << "\n";
      return std::nullopt;
    }
    const auto first = line.find_first_not_of(" \t\r");
    const auto last = line.find_last_not_of(" \t\r");
    return first == std::string::npos ? "" : line.substr(first, last - first + 1);
  }

  // Asks until the answer passes `valid`; nullopt at end of input.
  template <class Valid>
  std::optional<std::string> ask_until(const std::string& prompt, Valid valid,
                                       const std::string& hint) {
    for (;;) {
      auto answer = ask(prompt);
      if (!answer || valid(*answer)) return answer;
      out_ << hint << "\n";
    }
  }

  std::optional<int> ask_choice(int options) {
    const auto number = [](const std::string& text) {
      return text.empty() || text.size() > 4 ||
                     text.find_first_not_of("0123456789") != std::string::npos
                 ? 0
                 : std::stoi(text);
    };
    auto answer = ask_until(
        "> ", [&](const std::string& text) { return number(text) >= 1 && number(text) <= options; },
        "Please type a number from 1 to " + std::to_string(options) + ".");
    if (!answer) return std::nullopt;
    return number(*answer);
  }

  void show_failure(const ClientError& error) {
    out_ << "Error: " << for_terminal(error.message);
    if (error.attempts_left) out_ << " (" << *error.attempts_left << " attempts left)";
    if (error.retry_after) out_ << " (try again in " << *error.retry_after << " s)";
    out_ << "\n";
  }

  std::optional<Profile> register_flow() {
    auto phone = ask_until("Phone number (E.164, e.g. +972501234567): ", is_valid_phone,
                           "That is not an E.164 number: + then 8 to 15 digits.");
    if (!phone) return std::nullopt;
    // An account here registers its own key again, by default with its own e-mail address.
    const bool again = has_account(options_.home, *phone);
    std::string stored_email;
    if (again) {
      if (auto existing = Profile::open(options_.home, *phone); existing.ok())
        stored_email = existing.value().email();
      out_ << "The account " << *phone
           << " is here already: if the server no longer knows it, its same key is registered "
              "again, with a new code (your contacts, pins and history are kept).\n";
    }
    auto email = ask_until(
        stored_email.empty() ? "E-mail: " : "E-mail (Enter for " + stored_email + "): ",
        [&](const std::string& text) {
          return is_valid_email(text) || (text.empty() && !stored_email.empty());
        },
        "That is not an e-mail address.");
    if (!email) return std::nullopt;
    RegisterRequest request{options_.home,     *phone,        *email,
                            options_.host,     options_.port, std::nullopt,
                            options_.plaintext};
    out_ << "Asking the server for a code...\n";
    auto read_code = [&](const std::string& fingerprint,
                         const std::string& retry) -> std::optional<std::string> {
      if (retry.empty()) {
        out_ << "A 6-digit code is on its way to you. The server's key fingerprint is:\n  "
             << fingerprint
             << "\nCompare it with the fingerprint that came with your code before you go on.\n";
      } else {
        out_ << retry << "\n";
      }
      return ask_until(
          "Code: ",
          [](const std::string& text) {
            return text.size() == 6 && text.find_first_not_of("0123456789") == std::string::npos;
          },
          "The code has 6 digits.");
    };
    auto profile = register_account(request, read_code, 5);
    if (!profile.ok()) {
      show_failure(profile.error());
      return std::nullopt;
    }
    out_ << (again ? "Registered again, with the same key: your contacts, pins and history are "
                     "kept. Your key fingerprint is:\n  "
                   : "Registered. Your key fingerprint is:\n  ")
         << profile.value().key().public_key().fingerprint() << "\n";
    return std::move(profile).value();
  }

  std::optional<Profile> choose_account() {
    CommonOptions options = options_;
    if (options.phone.empty()) {
      const auto phones = Profile::list(options.home);
      if (phones.size() > 1) {
        out_ << "Accounts:";
        for (const auto& phone : phones) out_ << " " << phone;
        out_ << "\n";
        auto phone = ask_until(
            "Which phone number? ",
            [&](const std::string& text) {
              return std::find(phones.begin(), phones.end(), text) != phones.end();
            },
            "Type one of the numbers above.");
        if (!phone) return std::nullopt;
        options.phone = *phone;
      }
    }
    auto profile = open_profile(options);
    if (!profile.ok()) {
      show_failure(profile.error());
      return std::nullopt;
    }
    return std::move(profile).value();
  }

  // The logged-in menu, until the person logs out (Ctrl-D logs out too).
  void logged_in(const Profile& profile) {
    auto connected = Messenger::connect(profile);
    if (!connected.ok()) {
      show_failure(connected.error());
      if (is_unknown_account(connected.error())) {
        out_ << "To register this same key again, with a new code (your contacts, pins and "
                "history are kept): choose Register and type "
             << profile.phone() << ".\n";
      }
      return;
    }
    Messenger messenger = std::move(connected).value();
    out_ << "Logged in as " << profile.phone() << ".\n";
    for (;;) {
      out_ << "\n1) Send a message\n2) Show waiting messages\n3) My fingerprint\n4) Contacts\n5) "
              "Log out\n";
      const auto choice = ask_choice(5);
      switch (choice.value_or(5)) {
        case 1:
          send(messenger);
          break;
        case 2:
          show_waiting(messenger);
          break;
        case 3:
          out_ << "Your fingerprint:\n  " << profile.key().public_key().fingerprint()
               << "\nServer fingerprint:\n  " << profile.server().key.fingerprint() << "\n";
          break;
        case 4:
          contacts(messenger);
          break;
        default:
          messenger.bye();
          out_ << "Logged out.\n";
          return;
      }
    }
  }

  // Asks for the recipient first, checks them with the server (known, key unchanged), and
  // only then for the message, again while it is empty or cannot be sent.
  void send(Messenger& messenger) {
    auto to = ask_until("To (phone number): ", is_valid_phone, "That is not an E.164 number.");
    if (!to) return;
    if (auto key = messenger.contact_key(*to); !key.ok()) {
      show_failure(key.error());
      return;
    }
    for (;;) {
      auto body = ask("Message: ");
      if (!body) return;
      if (auto checked = check_body(*body); !checked.ok()) {
        out_ << for_terminal(checked.error().message) << ": type it again, or Ctrl-D to go back.\n";
        continue;
      }
      auto id = messenger.send(*to, *body);
      if (!id.ok()) {
        show_failure(id.error());
      } else {
        out_ << "Sent.\n";
      }
      return;
    }
  }

  void show_waiting(Messenger& messenger) {
    auto report = messenger.fetch(0);
    if (!report.ok()) {
      show_failure(report.error());
      return;
    }
    if (report.value().messages.empty()) out_ << "No new messages.\n";
    for (const auto& message : report.value().messages) print_message(message, out_);
    for (const auto& warning : report.value().warnings)
      out_ << "WARNING: " << for_terminal(warning) << "\n";
    for (const KeyChange& change : report.value().key_changes) {
      out_ << "WARNING: ";
      print_key_change(change, out_);
      out_ << "To accept it: Contacts, then Accept a contact's new key.\n";
    }
  }

  void contacts(Messenger& messenger) {
    const auto contacts = messenger.profile().contacts();
    if (contacts.empty()) {
      out_ << "No contacts yet.\n";
      return;
    }
    const auto changes = messenger.profile().key_changes();
    for (const Contact& contact : contacts) {
      out_ << contact.phone << (contact.verified ? "  verified\n  " : "  not verified\n  ")
           << contact.key.fingerprint() << "\n";
      for (const KeyChange& change : changes) {
        if (change.phone != contact.phone) continue;
        out_ << "  KEY CHANGED: ";
        print_key_change(change, out_);
      }
    }
    out_ << "\n1) Mark a contact verified\n2) Accept a contact's new key\n3) Back\n";
    const auto choice = ask_choice(3);
    if (!choice || *choice == 3) return;
    auto phone = ask_until(
        "Phone number: ",
        [&](const std::string& text) {
          return std::any_of(contacts.begin(), contacts.end(),
                             [&](const Contact& c) { return c.phone == text; });
        },
        "Type the phone number of one of your contacts above.");
    if (!phone) return;
    if (*choice == 1) {
      auto lock = messenger.profile().lock();
      Status marked =
          lock.ok() ? messenger.profile().set_verified(*phone, true) : Status{lock.error()};
      out_ << (marked.ok() ? "Marked verified.\n" : "Error: " + marked.error().message + "\n");
      return;
    }
    accept_new_key(messenger, *phone);
  }

  // Shows the pinned and the new keys of phone, and accepts the one whose first digits the
  // person types as the contact reads them out: a "yes" would be too easy to give unchecked.
  void accept_new_key(Messenger& messenger, const std::string& phone) {
    auto keys = messenger.new_keys(phone);
    if (!keys.ok()) {
      show_failure(keys.error());
      return;
    }
    if (keys.value().empty()) {
      out_ << "The key of " << phone << " has not changed.\n";
      return;
    }
    out_ << "Pinned key of " << phone << ":\n  "
         << messenger.profile().contact(phone)->key.fingerprint() << "\nNew key"
         << (keys.value().size() > 1 ? "s" : "") << ":\n";
    for (const PublicKey& key : keys.value()) out_ << "  " << key.fingerprint() << "\n";
    out_ << "Ask " << phone << " to read you their fingerprint (in person or on a call).\n";
    auto typed = ask("Type its first " + std::to_string(kConfirmDigits) +
                     " characters as they read them (Enter to cancel): ");
    const std::string digits = fingerprint_digits(typed.value_or(""));
    std::vector<const PublicKey*> matching;
    for (const PublicKey& key : keys.value()) {
      if (digits.size() >= kConfirmDigits &&
          fingerprint_digits(key.fingerprint()).rfind(digits, 0) == 0) {
        matching.push_back(&key);
      }
    }
    if (matching.size() != 1) {
      out_ << (digits.size() < kConfirmDigits ? "Nothing was accepted.\n"
               : matching.empty()
                   ? "That is not a new key of " + phone + ": nothing was accepted.\n"
                   : "That fits more than one new key: nothing was "
                     "accepted; type more of it next time.\n");
      return;
    }
    auto report = messenger.accept_new_key(phone, matching.front()->fingerprint());
    if (!report.ok()) {
      show_failure(report.error());
      return;
    }
    out_ << "Accepted the new key of " << phone << ".\n";
    for (const auto& message : report.value().messages) print_message(message, out_);
  }

  // A fingerprint's hex digits, lower case, without the spaces (or colons) between groups.
  static std::string fingerprint_digits(const std::string& text) {
    std::string digits;
    for (const char c : text) {
      if (c != ' ' && c != ':')
        digits += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return digits;
  }
  static constexpr std::size_t kConfirmDigits = 8;

  const CommonOptions& options_;
  std::istream& in_;
  std::ostream& out_;
};

}  // namespace

int run_menu(const CommonOptions& options, std::istream& in, std::ostream& out) {
  return Menu(options, in, out).run();
}

}  // namespace shido::client
