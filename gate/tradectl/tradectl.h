// tradectl's verbs, separate from main() so the formatting can be read in
// one place: each verb sends one admin request and prints the reply as
// text (for people) or JSON (for scripts).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "admin.pb.h"

namespace ta::tradectl {

enum class Verb {
  kStatus,
  kOrders,
  kPositions,
  kKill,
  kHalt,
  kResume,
  kRulesList,         // rules list
  kRulesShow,         // rules show ID
  kRulesReload,       // rules reload
  kRulesCheck,        // rules check FILE (offline)
  kRulesTest,         // rules test FILE --since D (offline)
  kProposalsList,     // proposals list
  kProposalsShow,     // proposals show ID (the what-if reads the journal: gate host only)
  kProposalsApprove,  // proposals approve ID
  kProposalsReject,   // proposals reject ID --reason TEXT
};

// rules check and rules test read gate.yaml (the journal and rule
// directories): --config, then $TRADING_GATE_CONFIG, then this path.
inline constexpr const char* kGateConfigPathDefault = "/etc/trading/gate.yaml";
inline constexpr const char* kGateConfigEnv = "TRADING_GATE_CONFIG";

struct Args {
  std::string socket_path;  // resolved: --socket, $TRADING_ADMIN_SOCKET, /run/trading/admin.sock
  Verb verb = Verb::kStatus;
  bool json = false;
  bool all = false;         // orders --all
  bool flatten = false;     // kill --flatten
  std::string reason;       // kill, halt, resume, proposals approve/reject
  std::string rule_id;      // rules show
  std::string file;         // rules check, rules test
  std::string since;        // rules test
  std::string proposal_id;  // proposals show/approve/reject
  // rules check, rules test, proposals show: gate.yaml (resolved:
  // --config, $TRADING_GATE_CONFIG, /etc/trading/gate.yaml).
  std::string config_path;
};

// "rules list" pages through RulesListReply; if a reload changes the set
// between pages it starts again, at most this many times.
inline constexpr int kRulesListAttemptsMax = 3;

// Sends the verb's request and prints the answer on stdout. Returns the
// process exit code: 0 when the gate did it, 1 when the gate is
// unreachable or refused (one line on stderr saying why), 2 for a bad
// argument found late (rules test --since). "rules check" and "rules test"
// need no gate (rules_cmd.h).
int run(const Args& args);

// The (first) request a verb sends (tests and run()); an empty envelope
// for the verbs that need no gate.
ipc::AdminEnvelope request_for(const Args& args);

// Text renderings of replies (what run() prints without --json).
std::string format_status(const ipc::StatusReply& status);
std::string format_orders(const ipc::OrdersReply& orders, bool all);
std::string format_positions(const ipc::PositionSnapshot& snapshot);
// JSON of any reply body: field names as in the .proto, every field printed.
std::string to_json(const google::protobuf::Message& message);

// "ADD_RULE" for PROPOSAL_KIND_ADD_RULE, and so on for the other enums.
std::string enum_suffix(const std::string& name, std::string_view prefix);

// proposals list / show (proposals.cpp).
std::string format_proposals(const ipc::ProposalsListReply& reply);
int run_proposals_show(const Args& args);
// "2024-04-05T12:00:00.123Z"; "-" for 0.
std::string timestamp(std::int64_t ns);
// A table with columns padded to their widest cell.
std::string table(const std::vector<std::vector<std::string>>& rows);

}  // namespace ta::tradectl
