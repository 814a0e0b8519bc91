// trading-agent: the unprivileged agent's executable. main() only parses the
// command line and runs the chosen command; the work is in the libraries.
//
//   trading-agent --config FILE                 run the daemon (agent.yaml)
//   trading-agent --config FILE --check-config  print every problem, exit 0/1
//   trading-agent data import ...               market-data maintenance
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include "agentd/daemon.h"
#include "command.h"

namespace {

using namespace ta::agent::app;

int run_daemon(const std::string& config_file, bool check_only) {
  if (check_only) {
    const auto problems = ta::agent::check_agent_config(config_file);
    for (const std::string& p : problems) std::fprintf(stderr, "%s\n", p.c_str());
    if (!problems.empty()) {
      std::fprintf(stderr, "trading-agent: %zu problem%s in the configuration\n", problems.size(),
                   problems.size() == 1 ? "" : "s");
      return kExitFailed;
    }
    std::printf("%s: configuration OK\n", config_file.c_str());
    return kExitOk;
  }
  auto load = ta::agent::load_agent_config(config_file);
  if (!load.ok()) {
    for (const auto& p : load.problems) std::fprintf(stderr, "%s\n", p.to_string().c_str());
    std::fprintf(stderr, "trading-agent: the configuration has problems; nothing started\n");
    return kExitFailed;
  }
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n %v");
  ta::agent::AgentAppOptions options;
  options.config = std::move(load.config);
  return ta::agent::run_agent_daemon(std::move(options));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App root{"trading-agent: market data, indicators, strategies and the agent daemon of the trading system"};
  root.name("trading-agent");
  root.require_subcommand(0, 1);
  std::string config_file;
  bool check_config = false;
  root.add_option("--config", config_file, "agent.yaml: run the daemon with it (docs/agent.md)");
  root.add_flag("--check-config", check_config, "with --config: print every problem and exit 0 (valid) or 1");
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
  if (!config_file.empty()) {
    try {
      return run_daemon(config_file, check_config);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "trading-agent: %s\n", e.what());
      return kExitFailed;
    }
  }
  if (check_config) {
    std::fputs("trading-agent: --check-config needs --config FILE\n", stderr);
    return kExitUsage;
  }
  // A command group was named without its verb, or nothing at all.
  std::fputs(root.help().c_str(), stderr);
  return kExitUsage;
}
