// Subcommand plumbing for the trading-agent executable: each group of
// subcommands registers its CLI11 options and a run function; main() parses
// once and runs the one command the user chose.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <vector>

namespace ta::agent::app {

// Exit codes, DESIGN.md section 11.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

struct Command {
  CLI::App* cli;            // the subcommand's parser (owned by the root app)
  std::function<int()> run;  // returns an exit code
};

using Commands = std::vector<Command>;

// `trading-agent data import FILE --product P --db PATH [--skip-bad-rows]`.
void add_data_commands(CLI::App& root, Commands& commands);

}  // namespace ta::agent::app
