// shido-client: the interactive menu when run without a subcommand, scriptable
// subcommands otherwise. Exit status: 0 ok, 1 usage, 2 network or server refusal,
// 3 security failure.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "client/commands.h"
#include "client/menu.h"

namespace {

// Ctrl-C leaves cleanly: files are written atomically, so there is nothing to undo.
void leave_on_interrupt(int) {
  static const char kBye[] = "\nBye.\n";
  [[maybe_unused]] const ssize_t n = ::write(STDOUT_FILENO, kBye, sizeof kBye - 1);
  ::_exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace shido::client;
  ::signal(SIGPIPE, SIG_IGN);

  CommonOptions common;
  CLI::App app{
      "shido-client: end-to-end encrypted messages with a Shido server.\n"
      "Without a subcommand it runs the interactive menu.",
      "shido-client"};
  app.set_version_flag("--version", "shido-client 0.1.0 (protocol 1)");
  app.option_defaults()->always_capture_default();
  app.add_option("--host", common.host,
                 "Server address (default: the account's server, else 127.0.0.1)");
  app.add_option("--port", common.port, "Server port (default: the account's server, else 5000)");
  app.add_option("--home", common.home, "Where accounts are kept ($SHIDO_HOME, else ~/.shido)");
  app.add_option("--phone", common.phone, "Which local account (default: the only one)");

  std::string email;
  std::optional<std::string> code_file, server_fingerprint, to, message, contact, verify, accept;
  int wait = 0;
  bool json = false;

  auto* reg = app.add_subcommand("register", "Register a new account (needs --phone)");
  reg->add_option("--email", email, "E-mail address")->required();
  reg->add_option(
      "--code-file", code_file,
      "Read the code from the first line of this file once the server has sent it, "
      "e.g. the server's OUTBOX/<phone>.code (else the code is read from the terminal or stdin)");
  reg->add_option("--server-fingerprint", server_fingerprint,
                  "Refuse a server with another key fingerprint");

  auto* send = app.add_subcommand("send", "Send a message");
  send->add_option("--to", to, "Recipient phone number")->required();
  send->add_option("message", message, "The message (else read from stdin)");

  auto* fetch = app.add_subcommand("fetch", "Fetch, show and acknowledge waiting messages");
  fetch->add_option("--wait", wait, "Seconds to wait for a message when none is waiting (0-60)")
      ->check(CLI::Range(0, 60));
  fetch->add_flag("--json", json, "One JSON object per message and line");

  auto* fingerprint =
      app.add_subcommand("fingerprint", "Show your key fingerprint, or a contact's");
  fingerprint->add_option("--contact", contact, "Phone number of the contact");

  auto* contacts = app.add_subcommand("contacts", "List contacts and their fingerprints");
  contacts->add_option("--verify", verify, "Mark this contact's key as verified");
  contacts->add_option("--accept", accept,
                       "Accept this contact's new key and open the messages held back");

  // Common options may come after the subcommand too.
  for (auto* sub : {reg, send, fetch, fingerprint, contacts}) sub->fallthrough();
  app.require_subcommand(0, 1);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? kExitOk : kExitUsage;
  }

  try {
    if (*reg) return run_register(common, email, code_file, server_fingerprint);
    if (*send) return run_send(common, *to, message);
    if (*fetch) return run_fetch(common, wait, json);
    if (*fingerprint) return run_fingerprint(common, contact);
    if (*contacts) return run_contacts(common, verify, accept);
    ::signal(SIGINT, leave_on_interrupt);
    return run_menu(common, std::cin, std::cout);
  } catch (const std::exception& error) {
    std::cerr << "shido-client: " << error.what() << "\n";
    return kExitRefused;
  }
}
