// tradectl [--socket PATH] VERB ... [--json]
// tradectl rules check|test FILE [--config gate.yaml] ...   (offline)
// tradectl proposals list|show|approve|reject ...
//
// The socket is --socket, else $TRADING_ADMIN_SOCKET, else
// /run/trading/admin.sock. Exit codes: 0 done, 1 unreachable or refused
// (one line on stderr), 2 usage error.
#include <CLI/CLI.hpp>

#include "gate/admin_client.h"
#include "rules_cmd.h"
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

  auto verb_of = [&](CLI::App* parent, const char* name, const char* help, Verb v) {
    CLI::App* sub = parent->add_subcommand(name, help);
    sub->fallthrough();  // --socket after the verb works too
    sub->add_flag("--json", args.json, "print the reply as JSON");
    sub->callback([&args, v] { args.verb = v; });
    return sub;
  };
  auto verb = [&](const char* name, const char* help, Verb v) { return verb_of(&cli, name, help, v); };
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

  CLI::App* rules = cli.add_subcommand("rules", "the rule DSL: list, show, reload, check and test rules");
  rules->require_subcommand(1, 1);
  rules->fallthrough();
  verb_of(rules, "list", "every rule in force: id, version, provenance, action, hits, file", Verb::kRulesList);
  CLI::App* show = verb_of(rules, "show", "one rule: its source, description, provenance and hits", Verb::kRulesShow);
  show->add_option("ID", args.rule_id, "the rule id")->required();
  verb_of(rules, "reload",
          "recompile rules/core and rules/active; all or nothing: on an error the rules in force stay",
          Verb::kRulesReload);
  const std::string config_help = "gate.yaml (default: $" + std::string(ta::tradectl::kGateConfigEnv) + ", then " +
                                  ta::tradectl::kGateConfigPathDefault + ")";
  CLI::App* check = verb_of(rules, "check", "compile FILE with the rules of rules/core and rules/active (offline)",
                            Verb::kRulesCheck);
  check->add_option("FILE", args.file, "a rule file")->required();
  check->add_option("--config", args.config_path, config_help);
  CLI::App* test = verb_of(rules, "test",
                           "replay the journaled intents of the last DURATION through the current rules and through "
                           "the current rules plus FILE; list the decisions that would change (offline)",
                           Verb::kRulesTest);
  test->add_option("FILE", args.file, "a rule file")->required();
  test->add_option("--since", args.since, "how far back: 90m, 24h, 7d (at most 366d)")->required();
  test->add_option("--config", args.config_path, config_help);

  CLI::App* proposals = cli.add_subcommand("proposals", "rule and parameter proposals: list, show, approve, reject");
  proposals->require_subcommand(1, 1);
  proposals->fallthrough();
  auto proposal_verb = [&](const char* name, const char* help, Verb v) { return verb_of(proposals, name, help, v); };
  proposal_verb("list", "pending proposals, then the recently decided ones", Verb::kProposalsList);
  CLI::App* show_proposal = proposal_verb(
      "show", "one proposal: its text, the change against the active rules, the evidence, and the what-if over the "
              "last 7 days of journaled intents",
      Verb::kProposalsShow);
  show_proposal->add_option("ID", args.proposal_id, "proposal id")->required();
  show_proposal->add_option("--config", args.config_path, config_help + ", for the what-if");
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
  if (args.config_path.empty()) args.config_path = ta::tradectl::default_gate_config_path();
  return ta::tradectl::run(args);
}
