// tradectl [--socket PATH] VERB ... [--json]
//
// The socket is --socket, else $TRADING_ADMIN_SOCKET, else
// /run/trading/admin.sock. Exit codes: 0 done, 1 unreachable or refused
// (one line on stderr), 2 usage error.
#include <CLI/CLI.hpp>

#include "gate/admin_client.h"
#include "tradectl.h"

int main(int argc, char** argv) {
  using ta::tradectl::Verb;
  CLI::App cli{"tradectl: operate trading-gate over its admin socket"};
  cli.require_subcommand(1, 1);
  std::string socket;
  cli.add_option("--socket", socket,
                 "admin socket (default: $TRADING_ADMIN_SOCKET, then " + std::string(ta::gate::kAdminSocketPathDefault) +
                     ")");
  ta::tradectl::Args args;

  auto verb = [&](const char* name, const char* help, Verb v) {
    CLI::App* sub = cli.add_subcommand(name, help);
    sub->fallthrough();  // --socket after the verb works too
    sub->add_flag("--json", args.json, "print the reply as JSON");
    sub->callback([&args, v] { args.verb = v; });
    return sub;
  };
  verb("status", "mode, halt state, readiness, agent, journal, account", Verb::kStatus);
  CLI::App* orders = verb("orders", "open orders (with --all also the recently finished ones)", Verb::kOrders);
  orders->add_flag("--all", args.all, "include finished orders (the most recent 1000)");
  verb("positions", "positions and the account", Verb::kPositions);
  CLI::App* kill = verb("kill", "KILLED: cancel every open order; stays KILLED until resume, across restarts",
                        Verb::kKill);
  kill->add_flag("--flatten", args.flatten, "also close every position with market orders");
  kill->add_option("--reason", args.reason, "why, for the journal");
  CLI::App* halt = verb("halt", "HALTED: no new orders; open orders stay, cancels are allowed", Verb::kHalt);
  halt->add_option("--reason", args.reason, "why, for the journal");
  CLI::App* resume = verb("resume", "back to ACTIVE (refused during a daily-loss cooldown)", Verb::kResume);
  resume->add_option("--reason", args.reason, "why, for the journal");
  CLI::App* reduce = verb("reduce",
                          "REDUCING: only orders that shrink a position pass; from ACTIVE or HALTED (refused when "
                          "KILLED and during a daily-loss cooldown)",
                          Verb::kReduce);
  reduce->add_option("--reason", args.reason, "why, for the journal");

  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    cli.exit(e);
    return 2;
  }
  args.socket_path = socket.empty() ? ta::gate::default_admin_socket_path() : socket;
  return ta::tradectl::run(args);
}
