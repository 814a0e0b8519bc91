// tradectl proposals list / show. `show` asks the gate for the proposal
// (its text and the change against the rules the gate has loaded) and
// then, on this host, replays the last 7 days of journaled intents
// through the rules with and without the proposal (gate/what_if.h).
#include <boost/json.hpp>

#include <cstdio>
#include <deque>
#include <span>
#include <vector>

#include "gate/admin_client.h"
#include "gate/config.h"
#include "gate/what_if.h"
#include "journal/journal.h"
#include "journal_records.pb.h"
#include "rules/rules.h"
#include "tradectl.h"

namespace ta::tradectl {
namespace {

// The what-if looks back a week from the gate's clock (market time in
// SIM): issue 4's window, a full weekly cycle of trading.
constexpr std::int64_t kWhatIfWindow_s = 7 * 24 * 3600;
constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
// IntentDecided records held for one what-if; beyond this the oldest in the
// window are dropped (and counted). A record with its facts is about a
// kilobyte in memory, so this stays near 100 MB at worst; the gate's order
// rate limit (20 a minute by default) makes a week at most ~200,000
// accepted intents, and real weeks are far below.
constexpr std::size_t kWhatIfRecordsMax = 100'000;
// Changed decisions printed (text and JSON); the count is always complete.
constexpr std::size_t kWhatIfChangesShownMax = 50;

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
  std::size_t dropped = 0;  // records beyond kWhatIfRecordsMax
  std::string journal_note;  // a torn or growing tail, for the reader
  gate::WhatIfReport report;
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

// The journal's IntentDecided records from `from_ns` on, oldest first.
Status read_intents(const std::filesystem::path& dir, std::int64_t from_ns, std::vector<ipc::IntentDecided>& out,
                    WhatIfRun& run) {
  auto reader = journal::Reader::open(dir);
  if (!reader) return make_error("journal " + dir.string() + ": " + reader.error().message);
  std::deque<ipc::IntentDecided> window;
  ipc::GateRecord record;
  for (;;) {
    auto next = (*reader)->next();
    if (!next) return make_error("journal " + dir.string() + ": " + next.error().message);
    if (!next->has_value()) break;
    const journal::Record& raw = **next;
    if (raw.type != ipc::JOURNAL_RECORD_TYPE_GATE) continue;
    if (!record.ParseFromArray(raw.payload.data(), static_cast<int>(raw.payload.size()))) {
      return make_error("journal " + dir.string() + " seq " + std::to_string(raw.seq) +
                        ": payload does not parse as a GateRecord");
    }
    if (!record.has_intent_decided() || record.ts_ns() < from_ns) continue;
    window.push_back(std::move(*record.mutable_intent_decided()));
    if (window.size() > kWhatIfRecordsMax) {
      window.pop_front();
      ++run.dropped;
    }
  }
  // The gate may be writing its next record right now; that is not an error.
  if ((*reader)->tail()) run.journal_note = "the last record was still being written and is not included";
  out.assign(std::make_move_iterator(window.begin()), std::make_move_iterator(window.end()));
  return {};
}

WhatIfRun run_what_if(const ipc::ProposalInfo& info, const std::string& gate_yaml, std::int64_t gate_now_ns) {
  WhatIfRun run;
  if (info.kind() != ipc::PROPOSAL_KIND_ADD_RULE && info.kind() != ipc::PROPOSAL_KIND_RETIRE_RULE) {
    return run;  // a strategy parameter does not change the gate's rules
  }
  run.applicable = true;
  const auto load = gate::load_config(gate_yaml);
  if (!load.problems.empty()) {
    run.unavailable = "cannot read " + gate_yaml + ": " + load.problems.front().to_string() +
                      " (give gate.yaml with --config or $" + kGateConfigEnv + ")";
    return run;
  }
  const gate::GateConfig& g = load.config.gate;
  auto loaded = rules::load_rules(g.rules_core_dir.string(), g.rules_active_dir.string());
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
  run.to_ns = gate_now_ns;
  run.from_ns = gate_now_ns - kWhatIfWindow_s * kNanosPerSecond;
  std::vector<ipc::IntentDecided> history;
  if (auto st = read_intents(g.journal_dir, run.from_ns, history, run); !st) {
    run.unavailable = st.error().message;
    return run;
  }
  const rules::SourceOrigin origin = info.kind() == ipc::PROPOSAL_KIND_ADD_RULE
                                         ? rules::SourceOrigin::proposal(info.proposal_id())
                                         : rules::SourceOrigin::any_proposal();
  auto report = gate::what_if(history, current, *text, "proposal:" + info.proposal_id(), origin);
  if (!report.ok()) {
    run.unavailable = "the proposal does not compile against these rules:\n" + report.render_errors();
    return run;
  }
  run.report = std::move(report).value();
  return run;
}

std::string outcome_text(const gate::RuleStageOutcome& o) {
  std::string out = rules::to_string(o.verdict);
  out += " " + o.quantity.to_string();
  if (o.reduce_only) out += " reduce_only";
  if (!o.reason.empty()) out += ": " + o.reason;
  return out;
}

std::string format_what_if(const WhatIfRun& run) {
  if (!run.applicable) return "what-if: not applicable (a strategy parameter does not change the gate's rules)\n";
  if (!run.unavailable.empty()) return "what-if: unavailable: " + run.unavailable + "\n";
  const gate::WhatIfReport& r = run.report;
  std::string out = "what-if over the last 7 days of journaled intents (" + timestamp(run.from_ns) + " to " +
                    timestamp(run.to_ns) + "):\n";
  out += "  " + std::to_string(r.records) + " decisions, " + std::to_string(r.evaluated) + " re-evaluated, " +
         std::to_string(r.skipped) + " skipped (denied before the rule stage, or replays), " +
         std::to_string(r.unreadable) + " unreadable\n";
  if (run.dropped > 0) {
    out += "  " + std::to_string(run.dropped) + " older decisions left out (at most " +
           std::to_string(kWhatIfRecordsMax) + " are evaluated)\n";
  }
  if (!run.journal_note.empty()) out += "  " + run.journal_note + "\n";
  for (const auto& [rule, hits] : r.file_rule_hits) {
    out += "  rule " + rule + " would have fired " + std::to_string(hits) + " time(s)\n";
  }
  if (r.changes.empty()) return out + "  no decision would change\n";
  out += "  " + std::to_string(r.changes.size()) + " decision(s) would change:\n";
  std::vector<std::vector<std::string>> rows = {{"INTENT", "BEFORE", "AFTER"}};
  for (std::size_t i = 0; i < r.changes.size() && i < kWhatIfChangesShownMax; ++i) {
    const gate::WhatIfChange& c = r.changes[i];
    rows.push_back({c.intent_id, outcome_text(c.before), outcome_text(c.after)});
  }
  out += indented(table(rows));
  if (r.changes.size() > kWhatIfChangesShownMax) {
    out += "  ... and " + std::to_string(r.changes.size() - kWhatIfChangesShownMax) + " more\n";
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
  const gate::WhatIfReport& r = run.report;
  boost::json::object hits;
  for (const auto& [rule, count] : r.file_rule_hits) hits[rule] = count;
  boost::json::array changes;
  for (std::size_t i = 0; i < r.changes.size() && i < kWhatIfChangesShownMax; ++i) {
    changes.push_back(boost::json::object{{"intent_id", r.changes[i].intent_id},
                                          {"before", outcome_json(r.changes[i].before)},
                                          {"after", outcome_json(r.changes[i].after)}});
  }
  return boost::json::object{{"from_ts_ns", run.from_ns},
                             {"to_ts_ns", run.to_ns},
                             {"records", r.records},
                             {"evaluated", r.evaluated},
                             {"skipped", r.skipped},
                             {"unreadable", r.unreadable},
                             {"dropped", run.dropped},
                             {"rule_hits", std::move(hits)},
                             {"changes_total", r.changes.size()},
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
  std::string out = table(rows);
  if (reply.omitted() > 0) {
    out += "(" + std::to_string(reply.omitted()) + " older decided proposal(s) not shown: one reply frame is full)\n";
  }
  return out;
}

int run_proposals_show(const Args& args) {
  gate::AdminClientOptions options;
  options.socket_path = args.socket_path;
  options.client_name = "tradectl";
  auto client = gate::AdminClient::connect(options);
  if (!client) {
    std::fprintf(stderr, "tradectl: %s\n", client.error().message.c_str());
    return 1;
  }
  ipc::AdminEnvelope list;
  list.mutable_proposals_list_request()->set_proposal_id(args.proposal_id);
  auto reply = client.value().request(list);
  ipc::AdminEnvelope status_request;
  status_request.mutable_status_request();
  auto status = reply ? client.value().request(status_request) : reply;
  for (const auto* r : {&reply, &status}) {
    if (!*r) {
      std::fprintf(stderr, "tradectl: %s\n", r->error().message.c_str());
      return 1;
    }
    if ((*r)->has_protocol_error()) {
      std::fprintf(stderr, "tradectl: trading-gate refused proposals show: %s\n",
                   (*r)->protocol_error().message().c_str());
      return 1;
    }
  }
  if (!reply->has_proposals_list_reply() || !status->has_status_reply()) {
    std::fprintf(stderr, "tradectl: trading-gate answered proposals show with an unexpected message\n");
    return 1;
  }
  if (reply->proposals_list_reply().proposals().empty()) {
    std::fprintf(stderr, "tradectl: no proposal %s (tradectl proposals list shows the ones the gate keeps)\n",
                 args.proposal_id.c_str());
    return 1;
  }
  const ipc::ProposalInfo& info = reply->proposals_list_reply().proposals(0);
  const WhatIfRun run = run_what_if(info, args.gate_config, status->status_reply().now_ts_ns());
  if (args.json) {
    boost::json::object out{{"proposal", boost::json::parse(to_json(info))}, {"what_if", what_if_json(run)}};
    std::printf("%s\n", boost::json::serialize(out).c_str());
  } else {
    std::fputs((format_proposal(info) + "\n" + format_what_if(run)).c_str(), stdout);
  }
  return 0;
}

}  // namespace ta::tradectl
