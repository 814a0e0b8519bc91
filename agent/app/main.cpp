// trading-agent: the unprivileged agent's executable. main() only parses the
// command line and runs the chosen command; the work is in the libraries.
#include <cstdio>
#include <exception>
#include <memory>

#include "command.h"

int main(int argc, char** argv) {
  using namespace ta::agent::app;
  CLI::App root{"trading-agent: market data, indicators and strategies of the trading system"};
  root.name("trading-agent");
  root.require_subcommand(0, 1);
  Commands commands;
  add_data_commands(root, commands);

  try {
    root.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return root.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  for (const Command& command : commands) {
    if (!command.cli->parsed()) continue;
    try {
      return command.run();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "trading-agent: %s\n", e.what());
      return kExitFailed;
    }
  }
  // A command group was named without its verb, or nothing at all.
  std::fputs(root.help().c_str(), stderr);
  return kExitUsage;
}
