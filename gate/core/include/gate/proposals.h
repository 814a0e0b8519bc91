// The proposal book: rule and parameter changes that learning (the agent's
// loops 2 and 3) or a person proposes, and that only an operator approves
// (DESIGN.md sections 7 and 8, docs/rule-dsl.md "Proposals").
//
// A proposal is one of
//   ADD_RULE            payload: a rule file holding exactly one rule, which
//                       says 'from proposal "<proposal_id>"'
//   RETIRE_RULE         payload: the id of an active (non-core) rule
//   STRATEGY_PARAMETER  payload: "strategy.parameter=value"
// and moves through
//   (submitted) -> PENDING -> APPROVED | REJECTED | EXPIRED | SUPERSEDED
// as the explicit table kProposalTransitions says. A newer proposal about
// the same thing (the same rule id, or the same strategy parameter)
// supersedes an older pending one.
//
// Like GateState, the book changes only through journaled records: the
// plan_* functions are pure and return ipc::ProposalStateChanged records;
// the daemon journals each one durably, then applies it with apply(). A
// replay of the journal through apply() rebuilds the same book.
//
// approve_proposal() is the one function with side effects: approving a
// rule change installs or removes a file in rules/active (see
// rules::install_active_rule) and reloads the rules. It takes an
// OperatorId: approval belongs to the admin socket, and the agent's message
// path (which only submits) has no operator to pass.
//
// Not thread-safe; one thread owns the book.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin.pb.h"
#include "gate.pb.h"
#include "gate/core.h"
#include "journal_records.pb.h"
#include "proto/result.h"
#include "rules/rules.h"

namespace ta::gate {

// Proposals waiting for a person at once: loop 3 runs weekly and loop 2
// daily, so a few dozen is weeks of proposals; more means nobody reviews
// them, and a new one is refused until some are decided or expire.
inline constexpr std::size_t kProposalsPendingMax = 32;
// Largest payload: one rule file (rules::kSourceSizeMax, 32 KiB), which with
// the rationale and evidence still fits one 64 KiB IPC frame.
inline constexpr std::size_t kProposalPayloadSizeMax = rules::kSourceSizeMax;
// Rationale: a few paragraphs for the approver.
inline constexpr std::size_t kProposalRationaleSizeMax = 4 * 1024;
// Evidence metrics per proposal, and the length of each name and value.
inline constexpr std::size_t kProposalEvidenceMax = 32;
inline constexpr std::size_t kProposalMetricTextMax = 128;
// Proposal ids: as intent ids, 1 to 64 of [A-Za-z0-9._:-].
inline constexpr std::size_t kProposalIdLengthMax = 64;
// A pending proposal expires after a week by default: long enough to be
// seen at the weekly review, short enough that its evidence is not stale.
// Configurable between one hour and 90 days.
inline constexpr std::int64_t kProposalExpiryDefault_s = 7 * 24 * 3600;
inline constexpr std::int64_t kProposalExpiryMin_s = 3600;
inline constexpr std::int64_t kProposalExpiryMax_s = 90 * 24 * 3600;
// Decided proposals kept in memory for listing (the journal keeps all);
// beyond this the oldest decided ones are forgotten.
inline constexpr std::size_t kProposalsDecidedKeptMax = 128;
// STRATEGY_PARAMETER: strategy and parameter names, and the value.
inline constexpr std::size_t kParameterNameLengthMax = 64;
inline constexpr std::size_t kParameterValueLengthMax = 64;
// Approved STRATEGY_PARAMETER changes the agent has not acknowledged yet.
// The gate sends each one when it is approved and again whenever an agent
// connects, until an acknowledgement arrives. Every one took an operator's
// approval, so 64 means the agent has been away for many approvals; the
// next parameter approval is refused until the agent catches up.
inline constexpr std::size_t kParameterRelaysPendingMax = 64;

struct ProposalLimits {
  std::size_t pending_max = kProposalsPendingMax;
  std::size_t payload_size_max_bytes = kProposalPayloadSizeMax;
  std::int64_t expiry_s = kProposalExpiryDefault_s;
  std::size_t decided_kept_max = kProposalsDecidedKeptMax;
};

// The legal state changes of a proposal; everything else is refused.
struct ProposalTransition {
  ipc::ProposalState from;
  ipc::ProposalState to;
};
inline constexpr ProposalTransition kProposalTransitions[] = {
    {ipc::PROPOSAL_STATE_PENDING, ipc::PROPOSAL_STATE_APPROVED},
    {ipc::PROPOSAL_STATE_PENDING, ipc::PROPOSAL_STATE_REJECTED},
    {ipc::PROPOSAL_STATE_PENDING, ipc::PROPOSAL_STATE_EXPIRED},
    {ipc::PROPOSAL_STATE_PENDING, ipc::PROPOSAL_STATE_SUPERSEDED},
};
bool is_proposal_transition(ipc::ProposalState from, ipc::ProposalState to);

// "strategy.parameter=value": the strategy and parameter are 1 to 64 of
// [A-Za-z0-9_-] (the first '.' separates them), the value 1 to 64 printable
// ASCII characters without spaces.
struct ParameterSetting {
  std::string strategy;
  std::string parameter;
  std::string value;
};
Result<ParameterSetting> parse_parameter_setting(std::string_view payload);

struct Proposal {
  ipc::ProposalSubmit submit;
  ipc::ProposalState state = ipc::PROPOSAL_STATE_PENDING;
  // What it changes; two pending proposals never share a key:
  // "rule:<rule id>" or "parameter:<strategy>.<parameter>".
  std::string key;
  std::string rule_id;    // ADD_RULE, RETIRE_RULE
  std::string canonical;  // ADD_RULE: the rule in canonical form (what is installed)
  std::uint32_t rule_version = 0;  // ADD_RULE
  std::int64_t submitted_ts_ns = 0;
  std::int64_t expires_ts_ns = 0;
  std::int64_t decided_ts_ns = 0;  // zero while pending
  std::string actor;   // who made the last change: "agent:<source>", an operator, or "gate"
  std::string reason;  // of the last change
  // STRATEGY_PARAMETER once approved: "waiting for the agent", then the
  // agent's answer ("applied: <detail>" or "refused: <detail>").
  std::string relay;

  // For the admin socket (ProposalsListReply); `change` is left empty (it
  // depends on the rules loaded now: see describe_change()).
  ipc::ProposalInfo to_info() const;
};

// The result of checking a submission.
struct SubmitPlan {
  // The answer for the sender: PENDING, or REJECTED with the compiler's
  // errors (file, line, column, message) and a detail, so it can correct
  // the proposal and send it again under the same id.
  ipc::ProposalResult result;
  // To journal and apply() in order: SUPERSEDED for older pending proposals
  // about the same thing, then PENDING for this one. Empty when refused, or
  // when the same proposal (same id and content) was sent again.
  std::vector<ipc::ProposalStateChanged> records;
};

// What an approval did.
struct Approval {
  ipc::ProposalStateChanged record;  // APPROVED: journal it, then apply()
  // ADD_RULE, RETIRE_RULE: the reloaded rules (rules/active already
  // changed): journal RulesLoaded with their files, then use them.
  std::optional<rules::LoadedRules> rules;
  // STRATEGY_PARAMETER: relay to the agent.
  std::optional<ipc::ParameterChange> parameter_change;
};

// Where rule files live (gate.yaml rules.core_dir / rules.active_dir).
struct RuleDirs {
  std::string core_dir;
  std::string active_dir;
};

class ProposalBook {
 public:
  explicit ProposalBook(ProposalLimits limits = {});

  const ProposalLimits& limits() const { return limits_; }

  // Checks a submission against the limits and the current rules: ids,
  // sizes, kinds; ADD_RULE compiles at once (compile_source with
  // SourceOrigin::proposal(id)), must hold exactly one rule, must not
  // reuse a core rule's id and must raise the version of an active rule
  // with the same id; RETIRE_RULE must name an active rule that is not
  // core; STRATEGY_PARAMETER must parse. Pure.
  SubmitPlan plan_submit(const ipc::ProposalSubmit& submit, std::int64_t now_ns, const rules::RuleSet& current) const;
  // An operator rejects a pending proposal, saying why (the reason is
  // required: it goes back to the proposer and into the journal). Pure.
  Result<ipc::ProposalStateChanged> plan_reject(std::string_view proposal_id, const OperatorId& who,
                                                std::string_view reason, std::int64_t now_ns) const;
  // Pending proposals whose expiry is at or before now_ns, as EXPIRED
  // records in submission order. Pure; call on a timer.
  std::vector<ipc::ProposalStateChanged> plan_expire(std::int64_t now_ns) const;
  // At start-up, after the journal replay and the rule load: pending
  // ADD_RULE proposals whose very rule is already loaded (same id, version
  // and canonical text, and provenance naming this proposal) were approved
  // and installed by a gate that stopped before it journaled the approval.
  // Returns their APPROVED records (actor "gate"), in submission order. Pure.
  std::vector<ipc::ProposalStateChanged> plan_found_installed(std::int64_t now_ns,
                                                              const rules::RuleSet& current) const;

  // Applies a journaled record (live, after journaling, and in replay).
  // PENDING adds the proposal (its id must be new); every other state must
  // be a transition of kProposalTransitions from the proposal's current
  // state. APPROVED for a STRATEGY_PARAMETER proposal also starts its relay
  // (pending_relays()). On error nothing changes.
  Status apply(const ipc::ProposalStateChanged& record);

  // The agent's acknowledgement of a relayed ParameterChange (journaled
  // first, as GateRecord.parameter_change_ack): the relay is over, applied
  // or not. Fails, changing nothing, when no relay with that proposal id is
  // pending (a second ack for the same change).
  Status apply_ack(const ipc::ParameterChangeAck& ack);
  bool awaits_ack(std::string_view proposal_id) const;
  // Relays not acknowledged yet, in approval order; the gate sends them to
  // every agent that connects. Not bounded by forgetting: a relay stays
  // until acknowledged even after its proposal is no longer listed.
  const std::vector<ipc::ParameterChange>& pending_relays() const { return relays_; }

  const Proposal* find(std::string_view proposal_id) const;
  // Pending and kept decided proposals, in submission order.
  std::vector<const Proposal*> list() const;
  std::size_t pending_count() const { return pending_; }

 private:
  void forget_old_decided();

  ProposalLimits limits_;
  std::map<std::string, Proposal, std::less<>> proposals_;
  std::deque<std::string> order_;  // ids in submission order
  std::size_t pending_ = 0;
  std::vector<ipc::ParameterChange> relays_;  // approval order
};

// Approves a pending, unexpired proposal (admin socket only). ADD_RULE
// writes its canonical text to rules/active/<rule id>.rule atomically and
// reloads core + active; RETIRE_RULE removes rules/active/<rule id>.rule
// (only a file that holds that one rule) and reloads; on a failed reload
// nothing changes and the error carries the diagnostics. Core rules can
// never be retired. STRATEGY_PARAMETER yields the ParameterChange, and is
// refused while kParameterRelaysPendingMax relays wait for the agent. The
// book itself changes only when the caller applies the returned record.
Result<Approval> approve_proposal(const ProposalBook& book, std::string_view proposal_id, const OperatorId& who,
                                  std::string_view reason, std::int64_t now_ns, const RuleDirs& dirs,
                                  const rules::RuleSet& current);

// The proposed rule against the active rule with the same id, line by
// line in canonical form ("  " same, "- " removed, "+ " added), under a
// header naming both versions; for an id not in `current`, "new rule" and
// the proposed lines.
std::string rule_diff(const rules::RuleSet& current, std::string_view rule_id, std::string_view proposed_canonical);

// What a proposal would change, for "tradectl proposals show": the rule
// diff (ADD_RULE), the rule being removed (RETIRE_RULE), or the parameter
// and its new value.
std::string describe_change(const Proposal& proposal, const rules::RuleSet& current);

}  // namespace ta::gate
