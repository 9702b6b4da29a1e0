#include "client/menu.h"

#include <algorithm>
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
    out_ << "Shido: end-to-end encrypted messages. Ctrl-D leaves at any prompt.\n";
    for (;;) {
      out_ << "\n1) Register\n2) Connect\n3) Quit\n";
      auto choice = ask_choice(3);
      if (!choice || *choice == 3) break;
      std::optional<Profile> profile = *choice == 1 ? register_flow() : choose_account();
      if (profile && !logged_in(*profile)) break;
    }
    out_ << "Bye.\n";
    return kExitOk;
  }

 private:
  // One line of input, trimmed; nullopt at end of input.
  std::optional<std::string> ask(const std::string& prompt) {
    out_ << prompt << std::flush;
    std::string line;
    if (!std::getline(in_, line)) {
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
    auto answer = ask_until(
        "> ",
        [&](const std::string& text) {
          return text.size() == 1 && text[0] >= '1' && text[0] < '1' + options;
        },
        "Please type a number from 1 to " + std::to_string(options) + ".");
    if (!answer) return std::nullopt;
    return (*answer)[0] - '0';
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
    auto email = ask_until("E-mail: ", is_valid_email, "That is not an e-mail address.");
    if (!email) return std::nullopt;
    RegisterRequest request{options_.home,
                            *phone,
                            *email,
                            options_.host.value_or("127.0.0.1"),
                            options_.port.value_or(5000),
                            std::nullopt};
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
    out_ << "Registered. Your key fingerprint is:\n  "
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

  // The logged-in menu; false when input ended.
  bool logged_in(const Profile& profile) {
    auto connected = Messenger::connect(profile);
    if (!connected.ok()) {
      show_failure(connected.error());
      return true;
    }
    Messenger messenger = std::move(connected).value();
    out_ << "Logged in as " << profile.phone() << ".\n";
    for (;;) {
      out_ << "\n1) Send a message\n2) Show waiting messages\n3) My fingerprint\n4) Contacts\n5) "
              "Log out\n";
      auto choice = ask_choice(5);
      if (!choice) return false;
      switch (*choice) {
        case 1:
          if (!send(messenger)) return false;
          break;
        case 2:
          show_waiting(messenger);
          break;
        case 3:
          out_ << "Your fingerprint:\n  " << profile.key().public_key().fingerprint()
               << "\nServer fingerprint:\n  " << profile.server().key.fingerprint() << "\n";
          break;
        case 4:
          if (!contacts(messenger)) return false;
          break;
        case 5:
          messenger.bye();
          out_ << "Logged out.\n";
          return true;
      }
    }
  }

  bool send(Messenger& messenger) {
    auto to = ask_until("To (phone number): ", is_valid_phone, "That is not an E.164 number.");
    if (!to) return false;
    auto body = ask("Message: ");
    if (!body) return false;
    auto id = messenger.send(*to, *body);
    if (!id.ok()) {
      show_failure(id.error());
    } else {
      out_ << "Sent.\n";
    }
    return true;
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
  }

  bool contacts(Messenger& messenger) {
    const auto contacts = messenger.profile().contacts();
    if (contacts.empty()) {
      out_ << "No contacts yet.\n";
      return true;
    }
    for (const Contact& contact : contacts) {
      out_ << contact.phone << (contact.verified ? "  verified\n  " : "  not verified\n  ")
           << contact.key.fingerprint() << "\n";
    }
    const bool has_held = !messenger.profile().held().empty();
    out_ << "\n1) Mark a contact verified\n"
         << (has_held ? "2) Accept a contact's new key\n3) Back\n" : "2) Back\n");
    auto choice = ask_choice(has_held ? 3 : 2);
    if (!choice) return false;
    if (*choice == 1 || (has_held && *choice == 2)) {
      auto phone = ask_until("Phone number: ", is_valid_phone, "That is not an E.164 number.");
      if (!phone) return false;
      if (*choice == 1) {
        auto lock = messenger.profile().lock();
        Status marked =
            lock.ok() ? messenger.profile().set_verified(*phone, true) : Status{lock.error()};
        out_ << (marked.ok() ? "Marked verified.\n" : "Error: " + marked.error().message + "\n");
      } else {
        auto report = messenger.accept_new_key(*phone);
        if (!report.ok()) {
          show_failure(report.error());
        } else {
          out_ << "Accepted the new key.\n";
          for (const auto& message : report.value().messages) print_message(message, out_);
        }
      }
    }
    return true;
  }

  const CommonOptions& options_;
  std::istream& in_;
  std::ostream& out_;
};

}  // namespace

int run_menu(const CommonOptions& options, std::istream& in, std::ostream& out) {
  return Menu(options, in, out).run();
}

}  // namespace shido::client
