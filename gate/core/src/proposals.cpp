// The proposal book: checking submissions, the state table, journaled
// records, approval (the one step that writes rules/active) and the rule
// diff shown to the approver.
#include "gate/proposals.h"

#include <algorithm>
#include <filesystem>
#include <vector>

namespace ta::gate {
namespace {

// Operator reasons are cut to a log line.
constexpr std::size_t kReasonLengthMax = 200;
// Lines compared by rule_diff(); a canonical rule is a handful of lines, a
// whole 32 KiB file at most a few hundred.
constexpr std::size_t kDiffLinesMax = 2'000;

bool id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == ':' || c == '-';
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

const char* source_name(ipc::ProposalSource source) {
  switch (source) {
    case ipc::PROPOSAL_SOURCE_LOOP2: return "loop2";
    case ipc::PROPOSAL_SOURCE_LOOP3: return "loop3";
    case ipc::PROPOSAL_SOURCE_HUMAN: return "human";
    default: return "unknown";
  }
}

// Cut to kReasonLengthMax bytes, never inside a UTF-8 sequence (the texts
// travel in proto3 strings, which must stay valid UTF-8).
std::string cut(std::string_view text) {
  if (text.size() <= kReasonLengthMax) return std::string(text);
  std::size_t keep = kReasonLengthMax;
  while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80) --keep;
  return std::string(text.substr(0, keep));
}

ipc::CompileError to_proto(const rules::Diagnostic& d) {
  ipc::CompileError e;
  e.set_file(d.file);
  e.set_line(d.line);
  e.set_column(d.column);
  e.set_message(d.message);
  return e;
}

// What a submission is about, from its payload alone (no current rules).
struct Analysis {
  std::string key;
  std::string rule_id;
  std::string canonical;
  std::uint32_t version = 0;
  std::string file;   // ADD_RULE: the compiler's file name, for errors
  std::uint32_t line = 0;
  std::vector<rules::Diagnostic> errors;  // ADD_RULE compile errors
  std::string error;                      // any other reason the payload is unusable
};

Analysis analyze(const ipc::ProposalSubmit& p) {
  Analysis a;
  switch (p.kind()) {
    case ipc::PROPOSAL_KIND_ADD_RULE: {
      a.file = "proposal:" + p.proposal_id();
      auto compiled = rules::compile_source(p.payload(), a.file, rules::SourceOrigin::proposal(p.proposal_id()));
      if (!compiled.ok()) {
        a.errors = compiled.errors();
        a.error = "the rule does not compile";
        return a;
      }
      const rules::RuleSet& set = compiled.value();
      if (set.size() != 1) {
        rules::Diagnostic d;
        d.file = a.file;
        d.message = "an ADD_RULE proposal holds exactly one rule; found " + std::to_string(set.size());
        a.errors.push_back(d);
        a.error = d.message;
        return a;
      }
      const rules::RuleInfo& r = set.rule(0);
      a.rule_id = r.id;
      a.canonical = r.canonical;
      a.version = r.version;
      a.line = r.line;
      a.key = "rule:" + r.id;
      return a;
    }
    case ipc::PROPOSAL_KIND_RETIRE_RULE:
      if (!rules::is_rule_id(p.payload())) {
        a.error = "RETIRE_RULE payload must be a rule id (lower_snake_case), found '" + cut(p.payload()) + "'";
        return a;
      }
      a.rule_id = p.payload();
      a.key = "rule:" + a.rule_id;
      return a;
    case ipc::PROPOSAL_KIND_STRATEGY_PARAMETER: {
      auto setting = parse_parameter_setting(p.payload());
      if (!setting) {
        a.error = setting.error().message;
        return a;
      }
      a.key = "parameter:" + setting->strategy + "." + setting->parameter;
      return a;
    }
    default:
      a.error = "kind must be ADD_RULE, RETIRE_RULE or STRATEGY_PARAMETER";
      return a;
  }
}

// The checks that depend on the rules loaded now; an empty string when fine.
rules::Diagnostic against_current(const ipc::ProposalSubmit& p, const Analysis& a, const rules::RuleSet& current) {
  rules::Diagnostic d;
  d.file = a.file;
  d.line = a.line;
  d.column = a.line > 0 ? 1 : 0;
  const auto index = current.find(a.rule_id);
  switch (p.kind()) {
    case ipc::PROPOSAL_KIND_ADD_RULE:
      if (!index) break;
      if (current.rule(*index).provenance.kind == rules::Provenance::Kind::kCore) {
        d.message = "rule id '" + a.rule_id + "' is a core rule; a proposal cannot replace it (choose another id)";
      } else if (a.version <= current.rule(*index).version) {
        d.message = "rule '" + a.rule_id + "' is active as v" + std::to_string(current.rule(*index).version) +
                    "; a new version must be above it, found v" + std::to_string(a.version);
      }
      break;
    case ipc::PROPOSAL_KIND_RETIRE_RULE:
      if (!index) {
        d.message = "no rule '" + a.rule_id + "' is loaded";
      } else if (current.rule(*index).provenance.kind == rules::Provenance::Kind::kCore) {
        d.message = "rule '" + a.rule_id + "' is a core rule; core rules cannot be retired";
      }
      break;
    default:
      break;
  }
  return d;
}

ipc::ProposalStateChanged record_for(const ipc::ProposalSubmit& p, ipc::ProposalState state, std::string actor,
                                     std::string reason, std::int64_t ts_ns, std::int64_t expires_ts_ns) {
  ipc::ProposalStateChanged r;
  *r.mutable_proposal() = p;
  r.set_state(state);
  r.set_actor(std::move(actor));
  r.set_reason(std::move(reason));
  r.set_ts_ns(ts_ns);
  r.set_expires_ts_ns(expires_ts_ns);
  return r;
}

// The relay of an approved STRATEGY_PARAMETER proposal.
Result<ipc::ParameterChange> parameter_change_of(const ipc::ProposalSubmit& p) {
  auto s = parse_parameter_setting(p.payload());
  if (!s) return s.error();
  ipc::ParameterChange change;
  change.set_proposal_id(p.proposal_id());
  change.set_strategy(s->strategy);
  change.set_parameter(s->parameter);
  change.set_value(s->value);
  return change;
}

constexpr const char* kRelayWaiting = "waiting for the agent";

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size() && out.size() < kDiffLinesMax) {
    const std::size_t end = text.find('\n', start);
    out.emplace_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

// A line diff by longest common subsequence.
std::string line_diff(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::uint32_t>> lcs(n + 1, std::vector<std::uint32_t>(m + 1, 0));
  for (std::size_t i = n; i-- > 0;) {
    for (std::size_t j = m; j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::string out;
  std::size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      out += "  " + a[i++] + "\n";
      ++j;
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out += "- " + a[i++] + "\n";  // removals first, as in a unified diff
    } else {
      out += "+ " + b[j++] + "\n";
    }
  }
  return out;
}

}  // namespace

bool is_proposal_transition(ipc::ProposalState from, ipc::ProposalState to) {
  for (const ProposalTransition& t : kProposalTransitions) {
    if (t.from == from && t.to == to) return true;
  }
  return false;
}

Result<ParameterSetting> parse_parameter_setting(std::string_view payload) {
  const auto bad = [&](const std::string& why) {
    return make_error("STRATEGY_PARAMETER payload must be \"strategy.parameter=value\": " + why);
  };
  const std::size_t dot = payload.find('.');
  const std::size_t eq = payload.find('=');
  if (dot == std::string_view::npos || eq == std::string_view::npos || dot > eq) return bad("missing '.' or '='");
  ParameterSetting s{std::string(payload.substr(0, dot)), std::string(payload.substr(dot + 1, eq - dot - 1)),
                     std::string(payload.substr(eq + 1))};
  const auto name_ok = [](const std::string& n) {
    return !n.empty() && n.size() <= kParameterNameLengthMax && std::all_of(n.begin(), n.end(), name_char);
  };
  if (!name_ok(s.strategy)) return bad("strategy must be 1 to 64 of [A-Za-z0-9_-]");
  if (!name_ok(s.parameter)) return bad("parameter must be 1 to 64 of [A-Za-z0-9_-]");
  if (s.value.empty() || s.value.size() > kParameterValueLengthMax ||
      !std::all_of(s.value.begin(), s.value.end(), [](char c) { return c > ' ' && c < 127; })) {
    return bad("value must be 1 to 64 printable characters without spaces");
  }
  return s;
}

ipc::ProposalInfo Proposal::to_info() const {
  ipc::ProposalInfo info;
  info.set_proposal_id(submit.proposal_id());
  info.set_kind(submit.kind());
  info.set_state(state);
  info.set_source(submit.source());
  info.set_payload(submit.payload());
  info.set_rationale(submit.rationale());
  *info.mutable_evidence() = submit.evidence();
  info.set_submitted_ts_ns(submitted_ts_ns);
  if (state != ipc::PROPOSAL_STATE_PENDING) info.set_decided_by(actor);
  info.set_reason(reason);
  info.set_expires_ts_ns(expires_ts_ns);
  info.set_decided_ts_ns(decided_ts_ns);
  info.set_relay(relay);
  switch (submit.kind()) {
    case ipc::PROPOSAL_KIND_ADD_RULE:
      info.set_summary(canonical.empty() ? "add a rule that does not compile with this gate"
                                         : "add rule " + rule_id + " v" + std::to_string(rule_version));
      break;
    case ipc::PROPOSAL_KIND_RETIRE_RULE:
      info.set_summary("retire rule " + rule_id);
      break;
    case ipc::PROPOSAL_KIND_STRATEGY_PARAMETER:
      info.set_summary("set " + cut(submit.payload()));
      break;
    default:
      info.set_summary("unknown kind");
      break;
  }
  return info;
}

ProposalBook::ProposalBook(ProposalLimits limits) : limits_(limits) {}

const Proposal* ProposalBook::find(std::string_view proposal_id) const {
  auto it = proposals_.find(proposal_id);
  return it == proposals_.end() ? nullptr : &it->second;
}

std::vector<const Proposal*> ProposalBook::list() const {
  std::vector<const Proposal*> out;
  for (const std::string& id : order_) out.push_back(find(id));
  return out;
}

SubmitPlan ProposalBook::plan_submit(const ipc::ProposalSubmit& p, std::int64_t now_ns,
                                     const rules::RuleSet& current) const {
  SubmitPlan plan;
  plan.result.set_proposal_id(p.proposal_id());
  const auto refuse = [&](std::string detail) {
    plan.result.set_state(ipc::PROPOSAL_STATE_REJECTED);
    plan.result.set_detail(std::move(detail));
    return plan;
  };
  const std::string& id = p.proposal_id();
  if (id.empty() || id.size() > kProposalIdLengthMax || !std::all_of(id.begin(), id.end(), id_char)) {
    return refuse("proposal_id must be 1 to 64 characters of [A-Za-z0-9._:-]");
  }
  if (const Proposal* seen = find(id)) {
    if (seen->submit.SerializeAsString() != p.SerializeAsString()) {
      return refuse("proposal id " + id + " is already used by another proposal; use a new id");
    }
    plan.result.set_state(seen->state);  // the same proposal again: its current state
    plan.result.set_detail("already submitted");
    return plan;
  }
  if (p.source() != ipc::PROPOSAL_SOURCE_LOOP2 && p.source() != ipc::PROPOSAL_SOURCE_LOOP3 &&
      p.source() != ipc::PROPOSAL_SOURCE_HUMAN) {
    return refuse("source must be LOOP2, LOOP3 or HUMAN");
  }
  if (p.payload().size() > limits_.payload_size_max_bytes) {
    return refuse("payload of " + std::to_string(p.payload().size()) + " bytes; the limit is " +
                  std::to_string(limits_.payload_size_max_bytes));
  }
  if (p.rationale().size() > kProposalRationaleSizeMax) {
    return refuse("rationale of " + std::to_string(p.rationale().size()) + " bytes; the limit is " +
                  std::to_string(kProposalRationaleSizeMax));
  }
  if (static_cast<std::size_t>(p.evidence_size()) > kProposalEvidenceMax) {
    return refuse(std::to_string(p.evidence_size()) + " evidence metrics; the limit is " +
                  std::to_string(kProposalEvidenceMax));
  }
  for (const ipc::Metric& m : p.evidence()) {
    if (m.name().size() > kProposalMetricTextMax || m.value().size() > kProposalMetricTextMax) {
      return refuse("an evidence metric's name or value is longer than " + std::to_string(kProposalMetricTextMax));
    }
  }
  const Analysis a = analyze(p);
  if (!a.errors.empty() || !a.error.empty()) {
    for (const rules::Diagnostic& d : a.errors) *plan.result.add_errors() = to_proto(d);
    return refuse(a.error);
  }
  const rules::Diagnostic conflict = against_current(p, a, current);
  if (!conflict.message.empty()) {
    if (p.kind() == ipc::PROPOSAL_KIND_ADD_RULE) *plan.result.add_errors() = to_proto(conflict);
    return refuse(conflict.message);
  }

  std::string superseded;
  std::size_t still_pending = pending_;
  for (const std::string& other : order_) {
    const Proposal& o = proposals_.at(other);
    if (o.state != ipc::PROPOSAL_STATE_PENDING || o.key != a.key) continue;
    plan.records.push_back(record_for(o.submit, ipc::PROPOSAL_STATE_SUPERSEDED, "gate", "superseded by " + id, now_ns,
                                      o.expires_ts_ns));
    superseded += (superseded.empty() ? "" : ", ") + other;
    --still_pending;
  }
  if (still_pending >= limits_.pending_max) {
    plan.records.clear();
    return refuse(std::to_string(still_pending) + " proposals are pending, the limit; decide some first");
  }
  const std::int64_t expires = now_ns + limits_.expiry_s * kNanosPerSecond;
  // The submission came over gate.sock, whatever source it claims.
  plan.records.push_back(record_for(p, ipc::PROPOSAL_STATE_PENDING, std::string("agent:") + source_name(p.source()),
                                    "submitted", now_ns, expires));
  plan.result.set_state(ipc::PROPOSAL_STATE_PENDING);
  plan.result.set_detail("pending approval; expires in " + std::to_string(limits_.expiry_s) + " s" +
                         (superseded.empty() ? "" : "; supersedes " + superseded));
  return plan;
}

Result<ipc::ProposalStateChanged> ProposalBook::plan_reject(std::string_view proposal_id, const OperatorId& who,
                                                            std::string_view reason, std::int64_t now_ns) const {
  const Proposal* p = find(proposal_id);
  if (p == nullptr) return make_error("no proposal " + std::string(proposal_id));
  if (p->state != ipc::PROPOSAL_STATE_PENDING) {
    return make_error("proposal " + std::string(proposal_id) + " is " + ipc::ProposalState_Name(p->state) +
                      ", not pending");
  }
  if (std::all_of(reason.begin(), reason.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n'; })) {
    return make_error("a rejection needs a reason (it goes back to the proposer and into the journal)");
  }
  return record_for(p->submit, ipc::PROPOSAL_STATE_REJECTED, who.name(), cut(reason), now_ns, p->expires_ts_ns);
}

std::vector<ipc::ProposalStateChanged> ProposalBook::plan_found_installed(std::int64_t now_ns,
                                                                        const rules::RuleSet& current) const {
  std::vector<ipc::ProposalStateChanged> out;
  for (const std::string& id : order_) {
    const Proposal& p = proposals_.at(id);
    if (p.state != ipc::PROPOSAL_STATE_PENDING || p.submit.kind() != ipc::PROPOSAL_KIND_ADD_RULE ||
        p.canonical.empty()) {
      continue;
    }
    const auto index = current.find(p.rule_id);
    if (!index) continue;
    const rules::RuleInfo& r = current.rule(*index);
    if (r.provenance.kind != rules::Provenance::Kind::kProposal || r.provenance.proposal_id != id ||
        r.version != p.rule_version || r.canonical != p.canonical) {
      continue;
    }
    out.push_back(record_for(p.submit, ipc::PROPOSAL_STATE_APPROVED, "gate",
                             "found installed in " + r.file + " at start: approved before a restart that lost the "
                             "approval's record",
                             now_ns, p.expires_ts_ns));
  }
  return out;
}

std::vector<ipc::ProposalStateChanged> ProposalBook::plan_expire(std::int64_t now_ns) const {
  std::vector<ipc::ProposalStateChanged> out;
  for (const std::string& id : order_) {
    const Proposal& p = proposals_.at(id);
    if (p.state == ipc::PROPOSAL_STATE_PENDING && p.expires_ts_ns <= now_ns) {
      out.push_back(record_for(p.submit, ipc::PROPOSAL_STATE_EXPIRED, "gate", "expired without a decision", now_ns,
                               p.expires_ts_ns));
    }
  }
  return out;
}

Status ProposalBook::apply(const ipc::ProposalStateChanged& record) {
  const std::string& id = record.proposal().proposal_id();
  if (record.state() == ipc::PROPOSAL_STATE_PENDING) {
    // The pending bound is enforced by plan_submit(); a replay applies what
    // was journaled even if the configured bound has since been lowered.
    if (find(id) != nullptr) return make_error("proposal " + id + " is already in the book");
    Proposal p;
    p.submit = record.proposal();
    p.state = ipc::PROPOSAL_STATE_PENDING;
    const Analysis a = analyze(p.submit);
    // A payload that no longer compiles (after an upgrade of the language)
    // is still listed; it just supersedes nothing.
    p.key = a.key.empty() ? "proposal:" + id : a.key;
    p.rule_id = a.rule_id;
    p.canonical = a.canonical;
    p.rule_version = a.version;
    p.submitted_ts_ns = record.ts_ns();
    p.expires_ts_ns = record.expires_ts_ns();
    p.actor = record.actor();
    p.reason = record.reason();
    proposals_.emplace(id, std::move(p));
    order_.push_back(id);
    ++pending_;
    return {};
  }
  auto it = proposals_.find(id);
  if (it == proposals_.end()) return make_error("no proposal " + id + " to move to " + ipc::ProposalState_Name(record.state()));
  Proposal& p = it->second;
  if (!is_proposal_transition(p.state, record.state())) {
    return make_error("illegal proposal transition: " + ipc::ProposalState_Name(p.state) + " -> " +
                      ipc::ProposalState_Name(record.state()) + " for " + id);
  }
  if (record.state() == ipc::PROPOSAL_STATE_APPROVED && p.submit.kind() == ipc::PROPOSAL_KIND_STRATEGY_PARAMETER) {
    auto change = parameter_change_of(p.submit);
    if (!change) return make_error("approved proposal " + id + " cannot be relayed: " + change.error().message);
    if (awaits_ack(id)) return make_error("proposal " + id + " is already being relayed");
    relays_.push_back(std::move(change).value());
    p.relay = kRelayWaiting;
  }
  p.state = record.state();
  p.decided_ts_ns = record.ts_ns();
  p.actor = record.actor();
  p.reason = record.reason();
  --pending_;
  forget_old_decided();
  return {};
}

bool ProposalBook::awaits_ack(std::string_view proposal_id) const {
  return std::any_of(relays_.begin(), relays_.end(),
                     [&](const ipc::ParameterChange& c) { return c.proposal_id() == proposal_id; });
}

Status ProposalBook::apply_ack(const ipc::ParameterChangeAck& ack) {
  auto it = std::find_if(relays_.begin(), relays_.end(),
                         [&](const ipc::ParameterChange& c) { return c.proposal_id() == ack.proposal_id(); });
  if (it == relays_.end()) return make_error("no parameter change " + ack.proposal_id() + " waits for the agent");
  relays_.erase(it);
  auto p = proposals_.find(ack.proposal_id());
  if (p != proposals_.end()) {
    p->second.relay = std::string(ack.applied() ? "applied: " : "refused: ") + cut(ack.detail());
  }
  return {};
}

void ProposalBook::forget_old_decided() {
  std::size_t decided = order_.size() - pending_;
  for (auto it = order_.begin(); decided > limits_.decided_kept_max && it != order_.end();) {
    auto p = proposals_.find(*it);
    if (p->second.state == ipc::PROPOSAL_STATE_PENDING) {
      ++it;
      continue;
    }
    proposals_.erase(p);
    it = order_.erase(it);
    --decided;
  }
}

Result<Approval> approve_proposal(const ProposalBook& book, std::string_view proposal_id, const OperatorId& who,
                                  std::string_view reason, std::int64_t now_ns, const RuleDirs& dirs,
                                  const rules::RuleSet& current) {
  const Proposal* p = book.find(proposal_id);
  const std::string id(proposal_id);
  if (p == nullptr) return make_error("no proposal " + id);
  if (p->state != ipc::PROPOSAL_STATE_PENDING) {
    return make_error("proposal " + id + " is " + ipc::ProposalState_Name(p->state) + ", not pending");
  }
  if (now_ns >= p->expires_ts_ns) return make_error("proposal " + id + " has expired");
  const Analysis a = analyze(p->submit);
  if (!a.error.empty()) return make_error("proposal " + id + ": " + a.error);
  const rules::Diagnostic conflict = against_current(p->submit, a, current);
  if (!conflict.message.empty()) return make_error("proposal " + id + ": " + conflict.message);

  Approval out;
  switch (p->submit.kind()) {
    case ipc::PROPOSAL_KIND_ADD_RULE: {
      const std::string text = "# From proposal " + id + ", approved by " + who.name() + ".\n" + a.canonical + "\n";
      auto loaded = rules::install_active_rule(dirs.core_dir, dirs.active_dir, a.rule_id, text);
      if (!loaded.ok()) return make_error("rules/active unchanged; the reload failed:\n" + loaded.render_errors());
      out.rules = std::move(loaded).value();
      break;
    }
    case ipc::PROPOSAL_KIND_RETIRE_RULE: {
      const rules::RuleInfo& r = current.rule(*current.find(a.rule_id));
      std::size_t in_file = 0;
      for (std::size_t i = 0; i < current.size(); ++i) in_file += current.rule(i).file == r.file ? 1 : 0;
      if (std::filesystem::path(r.file).filename() != a.rule_id + ".rule" || in_file != 1) {
        return make_error("rule '" + a.rule_id + "' lives in " + r.file + " (with " + std::to_string(in_file - 1) +
                          " other rules); only a file " + a.rule_id + ".rule holding it alone can be retired");
      }
      auto loaded = rules::remove_active_rule(dirs.core_dir, dirs.active_dir, a.rule_id);
      if (!loaded.ok()) return make_error("rules/active unchanged; the reload failed:\n" + loaded.render_errors());
      out.rules = std::move(loaded).value();
      break;
    }
    case ipc::PROPOSAL_KIND_STRATEGY_PARAMETER: {
      if (book.pending_relays().size() >= kParameterRelaysPendingMax) {
        return make_error(std::to_string(book.pending_relays().size()) +
                          " approved parameter changes wait for the agent to acknowledge them (the limit); "
                          "start the agent first");
      }
      out.parameter_change = parameter_change_of(p->submit).value();  // analyze() checked the payload
      break;
    }
    default:
      return make_error("proposal " + id + " has no usable kind");
  }
  out.record = record_for(p->submit, ipc::PROPOSAL_STATE_APPROVED, who.name(), reason.empty() ? "approved" : cut(reason),
                          now_ns, p->expires_ts_ns);
  return out;
}

std::string rule_diff(const rules::RuleSet& current, std::string_view rule_id, std::string_view proposed_canonical) {
  const auto index = current.find(rule_id);
  if (!index) {
    std::string out = "new rule '" + std::string(rule_id) + "'\n";
    for (const std::string& line : lines_of(proposed_canonical)) out += "+ " + line + "\n";
    return out;
  }
  const rules::RuleInfo& r = current.rule(*index);
  return "--- active " + r.id + " v" + std::to_string(r.version) + " (" + r.file + ")\n+++ proposed\n" +
         line_diff(lines_of(r.canonical), lines_of(proposed_canonical));
}

std::string describe_change(const Proposal& p, const rules::RuleSet& current) {
  switch (p.submit.kind()) {
    case ipc::PROPOSAL_KIND_ADD_RULE:
      if (p.canonical.empty()) return "the proposed rule does not compile with this version of the gate\n";
      return rule_diff(current, p.rule_id, p.canonical);
    case ipc::PROPOSAL_KIND_RETIRE_RULE: {
      const auto index = current.find(p.rule_id);
      if (!index) return "retire rule '" + p.rule_id + "' (not loaded now)\n";
      std::string out = "retire rule '" + p.rule_id + "' (" + current.rule(*index).file + ")\n";
      for (const std::string& line : lines_of(current.rule(*index).canonical)) out += "- " + line + "\n";
      return out;
    }
    case ipc::PROPOSAL_KIND_STRATEGY_PARAMETER: {
      auto s = parse_parameter_setting(p.submit.payload());
      if (!s) return s.error().message + "\n";
      return "set parameter " + s->parameter + " of strategy " + s->strategy + " to " + s->value + "\n";
    }
    default:
      return "unknown kind\n";
  }
}

}  // namespace ta::gate
