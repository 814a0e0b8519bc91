// What-if: how would the journaled decisions have come out under a changed
// rule set? For "tradectl rules test FILE" and for judging a proposal.
//
// Each IntentDecided record that reached the rule stage carries the facts
// the rules read (IntentDecided.rule_facts). what_if() evaluates the rule
// stage on those facts twice — with the current rules, and with the current
// rules plus the rules of one extra file (a rule in the file replaces a
// current rule with the same id, as approving a new version would) — and
// lists the intents whose rule-stage outcome differs. Only the rule stage
// is re-run: the hard limits and the rate are not re-checked, and the
// quantities are the capped quantities before rounding to an increment.
//
// Pure: no state, no clock, no files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "journal_records.pb.h"
#include "proto/decimal.h"
#include "rules/rules.h"

namespace ta::gate {

// The rule stage's effect on one intent.
struct RuleStageOutcome {
  rules::Verdict verdict = rules::Verdict::kAllow;
  Quantity quantity;         // after caps (the notional cap over order.price, rounded down to 1e-8)
  bool reduce_only = false;  // the intent's flag or forced
  std::vector<std::string> rules_fired;  // ids, current rules first, then the file's
  std::string reason;        // why, for deny, halt and hold; empty for allow

  friend bool operator==(const RuleStageOutcome&, const RuleStageOutcome&) = default;
};

struct WhatIfChange {
  std::string intent_id;
  RuleStageOutcome before;  // current rules
  RuleStageOutcome after;   // current rules + the file
};

struct WhatIfReport {
  std::size_t records = 0;     // records given
  std::size_t evaluated = 0;   // with rule facts: re-decided
  std::size_t skipped = 0;     // without rule facts (denied before the rule stage, replays)
  std::size_t unreadable = 0;  // rule facts that do not parse (facts_from_proto)
  // The decisions that would have changed, in journal order: another
  // verdict, or for orders still allowed (or held) another quantity or
  // reduce_only flag.
  std::vector<WhatIfChange> changes;
  // How often each rule of the file fired over the evaluated records, in
  // the file's rule order.
  std::vector<std::pair<std::string, std::uint64_t>> file_rule_hits;
};

// Compiles `file_text` (named `file_name` in diagnostics, rules checked
// against `origin`: SourceOrigin::core() for an edited core file,
// any_proposal() or proposal(id) for a proposal) and compares. Returns the
// compiler's diagnostics if the file does not compile.
rules::Compiled<WhatIfReport> what_if(std::span<const ipc::IntentDecided> history, const rules::RuleSet& current,
                                      std::string_view file_text, std::string_view file_name,
                                      const rules::SourceOrigin& origin);

// The rule stage of one set (or of several together, as one) on facts.
RuleStageOutcome rule_stage_outcome(std::span<const rules::RuleSet* const> sets, const rules::Facts& facts);

}  // namespace ta::gate
