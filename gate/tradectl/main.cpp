// tradectl [--socket PATH] VERB ... [--json]
//
// The socket is --socket, else $TRADING_ADMIN_SOCKET, else
// /run/trading/admin.sock. Exit codes: 0 done, 1 unreachable or refused
// (one line on stderr), 2 usage error.
#include <CLI/CLI.hpp>

#include <cstdlib>

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

  CLI::App* proposals = cli.add_subcommand("proposals", "rule and parameter proposals: list, show, approve, reject");
  proposals->require_subcommand(1, 1);
  proposals->fallthrough();
  auto proposal_verb = [&](const char* name, const char* help, Verb v) {
    CLI::App* sub = proposals->add_subcommand(name, help);
    sub->fallthrough();
    sub->add_flag("--json", args.json, "print the reply as JSON");
    sub->callback([&args, v] { args.verb = v; });
    return sub;
  };
  proposal_verb("list", "pending proposals, then the recently decided ones", Verb::kProposalsList);
  std::string gate_config;
  CLI::App* show = proposal_verb(
      "show", "one proposal: its text, the change against the active rules, the evidence, and the what-if over the "
              "last 7 days of journaled intents",
      Verb::kProposalsShow);
  show->add_option("ID", args.proposal_id, "proposal id")->required();
  show->add_option("--config", gate_config,
                   "gate.yaml, for the journal and rule directories of the what-if (default: $" +
                       std::string(ta::tradectl::kGateConfigEnv) + ", then " + ta::tradectl::kGateConfigPathDefault +
                       ")");
  CLI::App* approve = proposal_verb(
      "approve", "approve a pending proposal: a rule is installed in rules/active and the rules reload; a parameter "
                 "change goes to the agent",
      Verb::kProposalsApprove);
  approve->add_option("ID", args.proposal_id, "proposal id")->required();
  approve->add_option("--reason", args.reason, "why, for the journal");
  CLI::App* reject = proposal_verb("reject", "reject a pending proposal", Verb::kProposalsReject);
  reject->add_option("ID", args.proposal_id, "proposal id")->required();
  reject->add_option("--reason", args.reason, "why (required): for the proposer and the journal")->required();

  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    cli.exit(e);
    return 2;
  }
  args.socket_path = socket.empty() ? ta::gate::default_admin_socket_path() : socket;
  if (gate_config.empty()) {
    const char* env = std::getenv(ta::tradectl::kGateConfigEnv);
    gate_config = env != nullptr && *env != '\0' ? env : ta::tradectl::kGateConfigPathDefault;
  }
  args.gate_config = gate_config;
  return ta::tradectl::run(args);
}
