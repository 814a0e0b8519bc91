#include <algorithm>
#include <cstdlib>

#include "program.h"

namespace ta::rules {

RuleSet::RuleSet() : program_(std::make_shared<Program>()) {}

std::size_t RuleSet::size() const { return program_->infos.size(); }

const RuleInfo& RuleSet::rule(std::size_t index) const {
  // An index that is not from this set is a bug in the caller, not input.
  if (index >= program_->infos.size()) std::abort();
  return program_->infos[index];
}

std::optional<std::size_t> RuleSet::find(std::string_view id) const {
  const auto& infos = program_->infos;
  for (std::size_t i = 0; i < infos.size(); ++i) {
    if (infos[i].id == id) return i;
  }
  return std::nullopt;
}

std::string RuleSet::reason(const Outcome& outcome) const {
  if (outcome.verdict == Verdict::kAllow || outcome.deciding_rule < 0 ||
      static_cast<std::size_t>(outcome.deciding_rule) >= size()) {
    return "";
  }
  const RuleInfo& r = rule(static_cast<std::size_t>(outcome.deciding_rule));
  const std::string who = "rule '" + r.id + "' v" + std::to_string(r.version);
  switch (outcome.cause) {
    case Cause::kNone: return "";
    case Cause::kHaltAction: return who + " halted trading: " + r.message;
    case Cause::kDenyAction: return who + " denied: " + r.message;
    case Cause::kHoldAction:
      return who + " holds the order for approval (expires in " + std::to_string(outcome.hold_expiry_s) + "s)";
    case Cause::kCapNotPositive:
      return who + " caps the order to zero or less: " + r.description;
    case Cause::kFault: {
      for (const RuleFault& f : outcome.faults) {
        if (f.rule != static_cast<std::uint32_t>(outcome.deciding_rule)) continue;
        const char* what = "overflow";
        switch (f.kind) {
          case FaultKind::kDivisionByZero: what = "division by zero"; break;
          case FaultKind::kOverflow: what = "decimal overflow"; break;
        }
        return who + " could not be evaluated: " + what + " at " + r.file + ":" + std::to_string(f.line) + ":" +
               std::to_string(f.column);
      }
      return who + " could not be evaluated";
    }
  }
  return "";
}

const char* to_string(ActionKind kind) {
  switch (kind) {
    case ActionKind::kDeny: return "deny";
    case ActionKind::kHalt: return "halt";
    case ActionKind::kWarn: return "warn";
    case ActionKind::kCapQuantity: return "cap_quantity";
    case ActionKind::kCapNotional: return "cap_notional";
    case ActionKind::kForceReduceOnly: return "force_reduce_only";
    case ActionKind::kHold: return "hold";
  }
  return "?";
}

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kAllow: return "allow";
    case Verdict::kHold: return "hold";
    case Verdict::kDeny: return "deny";
    case Verdict::kHalt: return "halt";
  }
  return "?";
}

const char* to_string(Cause cause) {
  switch (cause) {
    case Cause::kNone: return "none";
    case Cause::kHaltAction: return "halt_action";
    case Cause::kDenyAction: return "deny_action";
    case Cause::kFault: return "fault";
    case Cause::kCapNotPositive: return "cap_not_positive";
    case Cause::kHoldAction: return "hold_action";
  }
  return "?";
}

const char* to_string(FaultKind kind) {
  switch (kind) {
    case FaultKind::kDivisionByZero: return "division_by_zero";
    case FaultKind::kOverflow: return "overflow";
  }
  return "?";
}

std::string RuleSet::canonical_text() const {
  std::string out;
  for (const RuleInfo& r : program_->infos) {
    if (!out.empty()) out += "\n";
    out += r.canonical;
  }
  return out;
}

}  // namespace ta::rules
