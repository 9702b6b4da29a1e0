// shido-client: the interactive menu when run without a command, scriptable commands
// otherwise. Exit status: 0 ok, 1 usage or a local problem, 2 network error or server
// refusal, 3 security failure.
#include <signal.h>

#include <exception>
#include <iostream>

#include "client/cli.h"
#include "client/commands.h"

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  try {
    return shido::client::run_command_line(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "shido-client: " << error.what() << "\n";
  } catch (...) {
    std::cerr << "shido-client: unexpected error\n";
  }
  // Whatever escaped came from this machine (a hand-edited profile file, say): a local problem.
  return shido::client::kExitLocal;
}
