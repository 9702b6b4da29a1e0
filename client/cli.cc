#include "client/cli.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <numeric>

#include "client/commands.h"
#include "client/menu.h"
#include "shido/version.h"

namespace shido::client {
namespace {

// Everything the command line can say, filled in by CLI11.
struct Arguments {
  CommonOptions common;
  std::optional<std::string> email, code_file, server_fingerprint, to, message, contact, verify,
      accept, fingerprint, help_topic;
  int wait = 0;
  bool json = false;
};

// Ctrl-C leaves the menu cleanly: files are written atomically, so there is nothing to undo.
void leave_on_interrupt(int) {
  static const char kBye[] = "\nBye.\n";
  [[maybe_unused]] const ssize_t n = ::write(STDOUT_FILENO, kBye, sizeof kBye - 1);
  ::_exit(0);
}

// The options every command takes, before or after its name; each subcommand lists them in
// its own --help.
void add_common_options(CLI::App& app, CommonOptions& common) {
  const std::string group = "Common options";
  app.add_option("--home", common.home, "Where accounts are kept ($SHIDO_HOME, else ~/.shido)")
      ->group(group);
  app.add_option("--phone", common.phone, "Which local account (default: the only one)")
      ->group(group);
  app.add_option("--host", common.host,
                 "Server address (default: the account's server, else 127.0.0.1)")
      ->group(group);
  app.add_option("--port", common.port, "Server port (default: the account's server, else 5000)")
      ->group(group);
  app.add_flag("--plaintext", common.plaintext,
               "Talk to the server without TLS (only for a server that has none): the network "
               "then sees phone numbers, e-mail, codes and who writes to whom")
      ->group(group);
}

void define_commands(CLI::App& app, Arguments& args) {
  auto* reg = app.add_subcommand(
      "register",
      "Register a new account, or the same key again for one the server lost (needs --phone)");
  reg->add_option("--email", args.email,
                  "E-mail address (for an account here: by default the one it registered with)");
  reg->add_option(
      "--code-file", args.code_file,
      "Read the code from the first line of this file once the server has sent it, "
      "e.g. the server's OUTBOX/<phone>.code (else the code is read from the terminal or stdin)");
  reg->add_option("--server-fingerprint", args.server_fingerprint,
                  "Refuse a server with another key fingerprint");

  auto* send = app.add_subcommand("send", "Send a message");
  send->add_option("--to", args.to, "Recipient phone number")->required();
  send->add_option("message", args.message,
                   "The message, in quotes if it has spaces (else read from stdin)");

  auto* fetch = app.add_subcommand("fetch", "Fetch, show and acknowledge waiting messages");
  fetch
      ->add_option("--wait", args.wait, "Seconds to wait for a message when none is waiting (0-60)")
      ->check(CLI::Range(0, 60));
  fetch->add_flag("--json", args.json, "One JSON object per message and line");

  auto* fingerprint =
      app.add_subcommand("fingerprint", "Show your key fingerprint, or a contact's");
  fingerprint->add_option("--contact", args.contact, "Phone number of the contact");

  auto* contacts = app.add_subcommand("contacts", "List contacts and their fingerprints");
  auto* verify =
      contacts->add_option("--verify", args.verify, "Mark this contact's key as verified");
  auto* accept = contacts->add_option(
      "--accept", args.accept,
      "Accept this contact's new key and open the messages held back (needs --fingerprint)");
  contacts
      ->add_option("--fingerprint", args.fingerprint,
                   "The new key's fingerprint, as you checked it with the contact")
      ->needs(accept);
  accept->excludes(verify);

  auto* help = app.add_subcommand("help", "Show this help, or a command's (help send)");
  help->add_option("command", args.help_topic, "The command to explain");

  for (CLI::App* sub : app.get_subcommands({})) add_common_options(*sub, args.common);
}

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands({})) names.push_back(sub->get_name());
  return names;
}

int unknown_command(const CLI::App& app, const std::string& typed) {
  std::cerr << "shido-client: unknown command '" << typed << "'";
  if (auto nearest = nearest_command(typed, command_names(app)))
    std::cerr << "; did you mean '" << *nearest << "'?";
  std::cerr << "\nRun 'shido-client help' for the commands.\n";
  return kExitLocal;
}

// What CLI11 left over (with allow_extras), reported in the order it was typed.
int unexpected_arguments(const CLI::App& app, const CLI::App* command,
                         const std::vector<std::string>& extras) {
  if (command == nullptr && extras.front().rfind('-', 0) != 0)
    return unknown_command(app, extras.front());
  const std::string where = command ? " for " + command->get_name() : "";
  const std::string see =
      command ? "shido-client help " + command->get_name() : "shido-client help";
  if (extras.front().rfind('-', 0) == 0) {
    std::cerr << "shido-client: unknown option '" << extras.front() << "'" << where;
  } else {
    std::cerr << "shido-client: unexpected argument" << (extras.size() > 1 ? "s" : "") << where
              << ":";
    for (const std::string& extra : extras) std::cerr << " '" << extra << "'";
    if (command && command->get_name() == "send")
      std::cerr << " (a message with spaces needs quotes)";
  }
  std::cerr << "\nRun '" << see << "' for what it takes.\n";
  return kExitLocal;
}

// What --help shows, for the program or for one command (app.help() itself would show
// the help of the command that was run: `help`).
int show_help(const CLI::App& app, const std::optional<std::string>& topic) {
  if (!topic) {
    std::cout << app.get_formatter()->make_help(&app, app.get_name(), CLI::AppFormatMode::Normal);
    return kExitOk;
  }
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name() == *topic) {
      std::cout << sub->help(app.get_name());
      return kExitOk;
    }
  }
  return unknown_command(app, *topic);
}

int run(const CLI::App& app, Arguments& args) {
  const auto chosen = [&](const char* name) { return app.got_subcommand(name); };
  if (chosen("help")) return show_help(app, args.help_topic);
  if (args.common.plaintext) {
    std::cerr << "shido-client: warning: --plaintext: this connection is not encrypted; anyone "
                 "on the network sees your phone number, your contacts and when you write "
                 "(messages stay end-to-end encrypted)\n";
  }
  if (chosen("register"))
    return run_register(args.common, args.email, args.code_file, args.server_fingerprint);
  if (chosen("send")) return run_send(args.common, *args.to, args.message);
  if (chosen("fetch")) return run_fetch(args.common, args.wait, args.json);
  if (chosen("fingerprint")) return run_fingerprint(args.common, args.contact);
  if (chosen("contacts"))
    return run_contacts(args.common, args.verify, args.accept, args.fingerprint);
  ::signal(SIGINT, leave_on_interrupt);
  // The menu's own stream state, not stdio's: after a Ctrl-D, which takes the person back
  // one level, the terminal is read again (stdio's end of file would stay set).
  std::ios::sync_with_stdio(false);
  return run_menu(args.common, std::cin, std::cout);
}

}  // namespace

std::optional<std::string> nearest_command(std::string_view typed,
                                           const std::vector<std::string>& commands) {
  // Levenshtein distance, one row at a time.
  const auto distance = [](std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    std::iota(row.begin(), row.end(), std::size_t{0});
    for (std::size_t i = 1; i <= a.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= b.size(); ++j) {
        const std::size_t substituted = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
        diagonal = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, substituted});
      }
    }
    return row[b.size()];
  };
  const std::size_t allowed = typed.size() <= 3 ? 1 : 2;
  std::optional<std::string> best;
  std::size_t best_distance = allowed + 1;
  for (const std::string& command : commands) {
    const std::size_t d = distance(typed, command);
    if (d < best_distance) {
      best = command;
      best_distance = d;
    }
  }
  return best;
}

int run_command_line(int argc, char** argv) {
  Arguments args;
  CLI::App app{
      "shido-client: end-to-end encrypted messages with a Shido server.\n"
      "Without a command it runs the interactive menu.",
      "shido-client"};
  app.set_version_flag("--version", "shido-client " + std::string(kShidoVersion) + " (protocol 1)");
  app.option_defaults()->always_capture_default();
  // Extras are collected, not thrown: they are reported below, in the order typed, with
  // a suggestion for a mistyped command.
  app.allow_extras();
  add_common_options(app, args.common);
  define_commands(app, args);
  app.require_subcommand(0, 1);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? kExitOk : kExitLocal;
  }
  // What was left over before the command first, then the command's own: the order typed.
  if (const std::vector<std::string> extras = app.remaining(); !extras.empty())
    return unexpected_arguments(app, nullptr, extras);
  const std::vector<CLI::App*> chosen = app.get_subcommands();
  const CLI::App* command = chosen.empty() ? nullptr : chosen.front();
  if (command != nullptr && !command->remaining().empty())
    return unexpected_arguments(app, command, command->remaining());
  return run(app, args);
}

}  // namespace shido::client
