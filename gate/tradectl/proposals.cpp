// tradectl proposals list / show. `show` asks the gate for the proposal
// (its text and the change against the rules the gate has loaded) and
// then, on this host, replays the intents journaled in the last 7 days
// through the rules with and without the proposal (what_if_journal(), the
// same as "rules test").
#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <vector>

#include "gate/admin_client.h"
#include "gate/what_if.h"
#include "rules/rules.h"
#include "rules_cmd.h"
#include "tradectl.h"

namespace ta::tradectl {
namespace {

// The what-if looks back a week (issue 4: a full weekly cycle of trading)
// from now, by the journal's record times (the gate's wall clock).
constexpr std::int64_t kWhatIfWindow_ns = 7LL * 24 * 3600 * 1'000'000'000;
// Changed decisions printed (text and JSON); the count is always complete.
constexpr std::size_t kProposalChangesShownMax = 50;

std::string kind_name(ipc::ProposalKind k) { return enum_suffix(ipc::ProposalKind_Name(k), "PROPOSAL_KIND_"); }
std::string state_name(ipc::ProposalState s) { return enum_suffix(ipc::ProposalState_Name(s), "PROPOSAL_STATE_"); }
std::string source_name(ipc::ProposalSource s) {
  return enum_suffix(ipc::ProposalSource_Name(s), "PROPOSAL_SOURCE_");
}

// Every line of `text` indented by two spaces (the text ends with a newline).
std::string indented(const std::string& text) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    const std::size_t stop = end == std::string::npos ? text.size() : end;
    out += "  " + text.substr(start, stop - start) + "\n";
    start = stop + 1;
  }
  return out;
}

// ------------------------------------------------------------------ what-if

struct WhatIfRun {
  bool applicable = false;
  std::string unavailable;  // why not, when it could not run
  std::int64_t from_ns = 0;
  std::int64_t to_ns = 0;
  JournalWhatIf result;
};

// The rule text whose what-if stands for the proposal: an ADD_RULE's own
// payload; for RETIRE_RULE the active rule switched off ('enabled false'
// replaces it, which evaluates as if it were gone).
Result<std::string> what_if_text(const ipc::ProposalInfo& info, const rules::RuleSet& current) {
  if (info.kind() == ipc::PROPOSAL_KIND_ADD_RULE) return info.payload();
  const auto index = current.find(info.payload());
  if (!index) return make_error("rule '" + info.payload() + "' is not loaded from the rule directories now");
  std::string text = current.rule(*index).canonical;
  const std::size_t enabled = text.find("\n  enabled ");
  if (enabled != std::string::npos) {
    const std::size_t end = text.find('\n', enabled + 1);
    text.replace(enabled, end - enabled, "\n  enabled false");
    return text;
  }
  const std::size_t from_line = text.find("\n  from ");
  if (from_line == std::string::npos) return make_error("rule '" + info.payload() + "' has no provenance line");
  text.insert(text.find('\n', from_line + 1), "\n  enabled false");
  return text;
}

WhatIfRun run_what_if(const ipc::ProposalInfo& info, const std::string& gate_yaml) {
  WhatIfRun run;
  if (info.kind() != ipc::PROPOSAL_KIND_ADD_RULE && info.kind() != ipc::PROPOSAL_KIND_RETIRE_RULE) {
    return run;  // a strategy parameter does not change the gate's rules
  }
  run.applicable = true;
  auto paths = gate_paths(gate_yaml);
  if (!paths) {
    run.unavailable = "cannot read " + gate_yaml + " (give gate.yaml with --config or $" + kGateConfigEnv +
                      "): " + paths.error().message;
    return run;
  }
  auto loaded = rules::load_rules(paths->core_dir, paths->active_dir);
  if (!loaded.ok()) {
    run.unavailable = "the rule directories do not load: " + loaded.errors().front().render();
    return run;
  }
  const rules::RuleSet& current = loaded.value().rules;
  auto text = what_if_text(info, current);
  if (!text) {
    run.unavailable = text.error().message;
    return run;
  }
  run.to_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  run.from_ns = run.to_ns - kWhatIfWindow_ns;
  const rules::SourceOrigin origin = info.kind() == ipc::PROPOSAL_KIND_ADD_RULE
                                         ? rules::SourceOrigin::proposal(info.proposal_id())
                                         : rules::SourceOrigin::any_proposal();
  auto result = what_if_journal(paths->journal_dir, run.from_ns, current, *text, "proposal:" + info.proposal_id(),
                                origin, kProposalChangesShownMax);
  if (!result) {
    run.unavailable = result.error().message;
    return run;
  }
  run.result = std::move(result).value();
  return run;
}

std::string format_what_if(const WhatIfRun& run) {
  if (!run.applicable) return "what-if: not applicable (a strategy parameter does not change the gate's rules)\n";
  if (!run.unavailable.empty()) return "what-if: unavailable: " + run.unavailable + "\n";
  const gate::WhatIfReport& r = run.result.report;
  std::string out = "what-if over the intents journaled in the last 7 days (" + timestamp(run.from_ns) +
                    " to " + timestamp(run.to_ns) + "):\n";
  out += "  " + std::to_string(r.records) + " decisions, " + std::to_string(r.evaluated) + " re-evaluated, " +
         std::to_string(r.skipped) + " skipped (denied before the rule stage, or replays), " +
         std::to_string(r.unreadable) + " unreadable\n";
  for (const auto& [rule, hits] : r.file_rule_hits) {
    out += "  rule " + rule + " would have fired " + std::to_string(hits) + " time(s)\n";
  }
  if (run.result.changes_total == 0) return out + "  no decision would change\n";
  out += "  " + std::to_string(run.result.changes_total) + " decision(s) would change:\n";
  std::vector<std::vector<std::string>> rows = {{"INTENT", "BEFORE", "AFTER"}};
  for (const gate::WhatIfChange& c : r.changes) {
    rows.push_back({c.intent_id, format_outcome(c.before), format_outcome(c.after)});
  }
  out += indented(table(rows));
  if (run.result.changes_total > r.changes.size()) {
    out += "  ... and " + std::to_string(run.result.changes_total - r.changes.size()) + " more\n";
  }
  return out;
}

boost::json::object outcome_json(const gate::RuleStageOutcome& o) {
  boost::json::array fired;
  for (const std::string& id : o.rules_fired) fired.emplace_back(id);
  return {{"verdict", rules::to_string(o.verdict)},
          {"quantity", o.quantity.to_string()},
          {"reduce_only", o.reduce_only},
          {"rules_fired", std::move(fired)},
          {"reason", o.reason}};
}

boost::json::value what_if_json(const WhatIfRun& run) {
  if (!run.applicable) return nullptr;
  if (!run.unavailable.empty()) return boost::json::object{{"unavailable", run.unavailable}};
  const gate::WhatIfReport& r = run.result.report;
  boost::json::object hits;
  for (const auto& [rule, count] : r.file_rule_hits) hits[rule] = count;
  boost::json::array changes;
  for (const gate::WhatIfChange& c : r.changes) {
    changes.push_back(boost::json::object{
        {"intent_id", c.intent_id}, {"before", outcome_json(c.before)}, {"after", outcome_json(c.after)}});
  }
  return boost::json::object{{"from_ts_ns", run.from_ns},
                             {"to_ts_ns", run.to_ns},
                             {"records", r.records},
                             {"evaluated", r.evaluated},
                             {"skipped", r.skipped},
                             {"unreadable", r.unreadable},
                             {"rule_hits", std::move(hits)},
                             {"changes_total", run.result.changes_total},
                             {"changes", std::move(changes)}};
}

std::string format_proposal(const ipc::ProposalInfo& p) {
  std::vector<std::vector<std::string>> rows = {
      {"proposal", p.proposal_id()},
      {"kind", kind_name(p.kind())},
      {"what", p.summary()},
      {"state", state_name(p.state())},
      {"source", source_name(p.source())},
      {"submitted", timestamp(p.submitted_ts_ns())},
      {"expires", timestamp(p.expires_ts_ns())},
  };
  if (p.state() != ipc::PROPOSAL_STATE_PENDING) {
    rows.push_back({"decided", timestamp(p.decided_ts_ns()) + " by " + p.decided_by()});
    rows.push_back({"reason", p.reason()});
  }
  if (!p.relay().empty()) rows.push_back({"agent", p.relay()});
  std::string out = table(rows);
  out += "\nrationale:\n" + indented(p.rationale().empty() ? "-" : p.rationale());
  switch (p.kind()) {
    case ipc::PROPOSAL_KIND_ADD_RULE:
      out += "\nrule text:\n" + indented(p.payload());
      out += "\nagainst the active rules:\n" + indented(p.change());
      break;
    case ipc::PROPOSAL_KIND_RETIRE_RULE:
    case ipc::PROPOSAL_KIND_STRATEGY_PARAMETER:
    default:
      out += "\nchange:\n" + indented(p.change());
      break;
  }
  out += "\nevidence:\n";
  if (p.evidence().empty()) {
    out += "  -\n";
  } else {
    std::vector<std::vector<std::string>> metrics;
    for (const ipc::Metric& m : p.evidence()) metrics.push_back({m.name(), m.value()});
    out += indented(table(metrics));
  }
  return out;
}

}  // namespace

std::string format_proposals(const ipc::ProposalsListReply& reply) {
  if (reply.proposals().empty() && reply.omitted() == 0) return "no proposals\n";
  std::vector<std::vector<std::string>> rows = {
      {"PROPOSAL", "KIND", "STATE", "SOURCE", "WHAT", "SUBMITTED", "EXPIRES", "DECIDED_BY"}};
  for (const ipc::ProposalInfo& p : reply.proposals()) {
    rows.push_back({p.proposal_id(), kind_name(p.kind()), state_name(p.state()), source_name(p.source()), p.summary(),
                    timestamp(p.submitted_ts_ns()),
                    p.state() == ipc::PROPOSAL_STATE_PENDING ? timestamp(p.expires_ts_ns()) : "-",
                    p.decided_by().empty() ? "-" : p.decided_by()});
  }
  std::string out = reply.proposals().empty() ? "" : table(rows);
  if (reply.omitted() > 0) {
    out += "(" + std::to_string(reply.omitted()) + " older decided proposal(s) not shown: one reply frame is full)\n";
  }
  return out;
}

int run_proposals_show(const Args& args) {
  gate::AdminClientOptions options;
  options.socket_path = args.socket_path;
  options.client_name = "tradectl";
  auto reply = gate::admin_request(options, request_for(args));
  if (!reply) {
    std::fprintf(stderr, "tradectl: %s\n", reply.error().message.c_str());
    return 1;
  }
  if (reply->has_protocol_error()) {
    std::fprintf(stderr, "tradectl: trading-gate refused proposals show: %s\n",
                 reply->protocol_error().message().c_str());
    return 1;
  }
  if (!reply->has_proposals_list_reply()) {
    std::fprintf(stderr, "tradectl: trading-gate answered proposals show with an unexpected message\n");
    return 1;
  }
  if (reply->proposals_list_reply().proposals().empty()) {
    std::fprintf(stderr, "tradectl: no proposal %s (tradectl proposals list shows the ones the gate keeps)\n",
                 args.proposal_id.c_str());
    return 1;
  }
  const ipc::ProposalInfo& info = reply->proposals_list_reply().proposals(0);
  const WhatIfRun run = run_what_if(info, args.config_path);
  if (args.json) {
    boost::json::object out{{"proposal", boost::json::parse(to_json(info))}, {"what_if", what_if_json(run)}};
    std::printf("%s\n", boost::json::serialize(out).c_str());
  } else {
    std::fputs((format_proposal(info) + "\n" + format_what_if(run)).c_str(), stdout);
  }
  return 0;
}

}  // namespace ta::tradectl
