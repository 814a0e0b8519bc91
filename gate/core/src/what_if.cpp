// what_if(): the rule stage re-run on journaled facts with two rule sets.
// "Current + file" is evaluated as several sets whose outcomes combine by
// the language's own rules (strongest verdict, smallest caps, any forced
// reduce_only), so no text has to be recompiled unless the file replaces a
// current rule, in which case the current rules minus the replaced ones are
// recompiled from their canonical text.
#include "gate/what_if.h"

#include <algorithm>
#include <set>

#include "gate/core.h"

namespace ta::gate {
namespace {

// Recompiles `current` without the rules whose ids are in `drop`, keeping
// each rule's provenance (core rules as core, the others as proposals).
rules::Compiled<std::vector<rules::RuleSet>> without(const rules::RuleSet& current, const std::set<std::string>& drop) {
  std::string core, active;
  for (std::size_t i = 0; i < current.size(); ++i) {
    const rules::RuleInfo& r = current.rule(i);
    if (drop.count(r.id) > 0) continue;
    std::string& text = r.provenance.kind == rules::Provenance::Kind::kCore ? core : active;
    text += r.canonical + "\n";
  }
  auto c = rules::compile_source(core, "current core rules", rules::SourceOrigin::core());
  if (!c.ok()) return c.errors();
  auto a = rules::compile_source(active, "current active rules", rules::SourceOrigin::any_proposal());
  if (!a.ok()) return a.errors();
  return std::vector<rules::RuleSet>{std::move(c).value(), std::move(a).value()};
}

}  // namespace

RuleStageOutcome rule_stage_outcome(std::span<const rules::RuleSet* const> sets, const rules::Facts& facts) {
  RuleStageOutcome out;
  out.quantity = facts.order.quantity;
  out.reduce_only = facts.order.reduce_only;
  rules::Outcome o;
  for (const rules::RuleSet* set : sets) {
    set->evaluate(facts, o);
    for (const std::uint32_t i : o.fired) out.rules_fired.push_back(set->rule(i).id);
    // Verdicts are ordered by strength; the first set with the strongest
    // one gives the reason, as the first rule in order would.
    if (o.verdict > out.verdict) {
      out.verdict = o.verdict;
      out.reason = set->reason(o);
    }
    if (o.quantity_cap && *o.quantity_cap < out.quantity) out.quantity = *o.quantity_cap;
    if (o.notional_cap && facts.order.price.is_positive()) {
      const Int128 q = divide_rounded(Int128{o.notional_cap->units()} * Decimal::kScale, facts.order.price.units(),
                                      Rounding::kFloor);
      if (q < out.quantity.units()) out.quantity = Decimal::from_units(static_cast<std::int64_t>(q));
    }
    out.reduce_only = out.reduce_only || o.force_reduce_only;
  }
  if (out.quantity.is_negative()) out.quantity = Decimal();
  return out;
}

rules::Compiled<WhatIfReport> what_if(std::span<const ipc::IntentDecided> history, const rules::RuleSet& current,
                                      std::string_view file_text, std::string_view file_name,
                                      const rules::SourceOrigin& origin) {
  auto compiled = rules::compile_source(file_text, file_name, origin);
  if (!compiled.ok()) return compiled.errors();
  const rules::RuleSet file = std::move(compiled).value();

  std::set<std::string> replaced;
  for (std::size_t i = 0; i < file.size(); ++i) {
    if (current.find(file.rule(i).id)) replaced.insert(file.rule(i).id);
  }
  std::vector<rules::RuleSet> rest;
  if (!replaced.empty()) {
    auto r = without(current, replaced);
    if (!r.ok()) return r.errors();
    rest = std::move(r).value();
  }
  const rules::RuleSet* before_sets[] = {&current};
  std::vector<const rules::RuleSet*> after_sets;
  if (replaced.empty()) {
    after_sets.push_back(&current);
  } else {
    for (const rules::RuleSet& s : rest) after_sets.push_back(&s);
  }
  after_sets.push_back(&file);

  WhatIfReport report;
  std::vector<std::uint64_t> hits(file.size(), 0);
  rules::Outcome file_outcome;
  for (const ipc::IntentDecided& record : history) {
    ++report.records;
    if (!record.has_rule_facts()) {
      ++report.skipped;
      continue;
    }
    auto snapshot = facts_from_proto(record.rule_facts());
    if (!snapshot) {
      ++report.unreadable;
      continue;
    }
    ++report.evaluated;
    const rules::Facts facts = snapshot->facts();
    RuleStageOutcome before = rule_stage_outcome(before_sets, facts);
    RuleStageOutcome after = rule_stage_outcome(after_sets, facts);
    file.evaluate(facts, file_outcome);
    for (const std::uint32_t i : file_outcome.fired) ++hits[i];
    const bool still_goes = after.verdict == rules::Verdict::kAllow || after.verdict == rules::Verdict::kHold;
    const bool changed = before.verdict != after.verdict ||
                         (still_goes && (before.quantity != after.quantity || before.reduce_only != after.reduce_only));
    if (changed) report.changes.push_back(WhatIfChange{record.intent().intent_id(), std::move(before), std::move(after)});
  }
  for (std::size_t i = 0; i < file.size(); ++i) report.file_rule_hits.emplace_back(file.rule(i).id, hits[i]);
  return report;
}

}  // namespace ta::gate
