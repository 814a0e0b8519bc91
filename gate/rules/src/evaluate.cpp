// Evaluation: load the facts into the register file once, run each enabled
// rule's straight-line code, and combine the effects (docs/rule-dsl.md,
// "When several rules fire").
#include <algorithm>
#include <cstdlib>

#include "program.h"

namespace ta::rules {
namespace {

struct Fault {
  FaultKind kind = FaultKind::kOverflow;
  std::uint32_t op = 0;
};

inline std::int64_t operand(std::uint32_t o, const std::int64_t* r, const std::int64_t* k) {
  return (o & kConstBit) ? k[o & ~kConstBit] : r[o];
}

// Runs code[begin, end). Returns false with `fault` set when an arithmetic
// operation faults; the rule's result is then meaningless.
[[gnu::always_inline]] inline bool run(const Program& p, std::uint32_t begin, std::uint32_t end, std::int64_t* r,
                                       Fault& fault) {
  const Op* code = p.code.data();
  const std::int64_t* k = p.constants.data();
  std::uint32_t i = begin;
  while (i < end) {
    const Op& op = code[i];
    const std::int64_t a = operand(op.a, r, k);
    bool test = false;  // comparisons: the result, for a fused jump
    switch (op.code) {
      case OpCode::kAdd:
        if (!units_add(a, operand(op.b, r, k), r[op.dst])) return fault = {FaultKind::kOverflow, i}, false;
        ++i;
        continue;
      case OpCode::kSub:
        if (!units_sub(a, operand(op.b, r, k), r[op.dst])) return fault = {FaultKind::kOverflow, i}, false;
        ++i;
        continue;
      case OpCode::kMul:
        if (!units_mul(a, operand(op.b, r, k), r[op.dst])) return fault = {FaultKind::kOverflow, i}, false;
        ++i;
        continue;
      case OpCode::kDiv: {
        const std::int64_t b = operand(op.b, r, k);
        if (b == 0) return fault = {FaultKind::kDivisionByZero, i}, false;
        if (!units_div(a, b, r[op.dst])) return fault = {FaultKind::kOverflow, i}, false;
        ++i;
        continue;
      }
      case OpCode::kNeg:
        if (!units_neg(a, r[op.dst])) return fault = {FaultKind::kOverflow, i}, false;
        ++i;
        continue;
      case OpCode::kNot: r[op.dst] = a == 0; ++i; continue;
      case OpCode::kMove: r[op.dst] = a; ++i; continue;
      case OpCode::kJumpIfFalse: i = a == 0 ? op.x : i + 1; continue;
      case OpCode::kJumpIfTrue: i = a != 0 ? op.x : i + 1; continue;
      case OpCode::kLt: test = a < operand(op.b, r, k); break;
      case OpCode::kLe: test = a <= operand(op.b, r, k); break;
      case OpCode::kGt: test = a > operand(op.b, r, k); break;
      case OpCode::kGe: test = a >= operand(op.b, r, k); break;
      case OpCode::kEq: test = a == operand(op.b, r, k); break;
      case OpCode::kNe: test = a != operand(op.b, r, k); break;
      case OpCode::kIn: {
        const std::int64_t* first = k + op.b;
        test = std::find(first, first + op.x, a) != first + op.x;
        break;
      }
    }
    r[op.dst] = test;
    switch (op.then) {
      case Then::kNext: ++i; break;
      case Then::kJumpIfFalse: i = test ? i + 1 : op.x; break;
      case Then::kJumpIfTrue: i = test ? op.x : i + 1; break;
    }
  }
  return true;
}

// Strength of each effect: the strongest wins; among equals the first rule.
enum Strength : int { kAllowStrength = 0, kHoldStrength = 1, kDenyStrength = 2, kHaltStrength = 3 };

void decide(Outcome& out, Strength s, Cause cause, std::uint32_t rule, int& best) {
  if (s <= best) return;
  best = s;
  out.cause = cause;
  out.deciding_rule = static_cast<std::int32_t>(rule);
  switch (s) {
    case kAllowStrength: out.verdict = Verdict::kAllow; break;
    case kHoldStrength: out.verdict = Verdict::kHold; break;
    case kDenyStrength: out.verdict = Verdict::kDeny; break;
    case kHaltStrength: out.verdict = Verdict::kHalt; break;
  }
}

void min_into(std::optional<Decimal>& cap, std::int64_t units) {
  const Decimal v = Decimal::from_units(units);
  if (!cap || v < *cap) cap = v;
}

}  // namespace

void Outcome::clear() {
  verdict = Verdict::kAllow;
  cause = Cause::kNone;
  deciding_rule = -1;
  quantity_cap.reset();
  notional_cap.reset();
  force_reduce_only = false;
  hold_expiry_s = 0;
  fired.clear();
  warnings.clear();
  faults.clear();
}

void RuleSet::evaluate(const Facts& facts, Outcome& out) const {
  out.clear();
  const Program& p = *program_;
  std::int64_t r[kRegisterCount];
  load_facts(facts, p.strings, r);
  int best = kAllowStrength;
  for (const std::uint32_t index : p.enabled) {
    const CompiledRule& rule = p.rules[index];
    Fault fault;
    bool ok = run(p, rule.cond_begin, rule.cond_end, r, fault);
    if (ok && operand(rule.cond_result, r, p.constants.data()) == 0) continue;
    std::int64_t value = 0;
    if (ok && rule.value_end > rule.value_begin) {
      ok = run(p, rule.value_begin, rule.value_end, r, fault);
    }
    if (ok && (rule.action == ActionKind::kCapQuantity || rule.action == ActionKind::kCapNotional)) {
      value = operand(rule.value_result, r, p.constants.data());
    }
    out.fired.push_back(index);
    if (!ok) {
      // Fail closed: a rule that cannot be evaluated denies.
      const Loc at = p.op_locs[fault.op];
      out.faults.push_back(RuleFault{index, fault.kind, at.line, at.column});
      decide(out, kDenyStrength, Cause::kFault, index, best);
      continue;
    }
    switch (rule.action) {
      case ActionKind::kDeny: decide(out, kDenyStrength, Cause::kDenyAction, index, best); break;
      case ActionKind::kHalt: decide(out, kHaltStrength, Cause::kHaltAction, index, best); break;
      case ActionKind::kWarn: out.warnings.push_back(index); break;
      case ActionKind::kCapQuantity:
      case ActionKind::kCapNotional:
        min_into(rule.action == ActionKind::kCapQuantity ? out.quantity_cap : out.notional_cap, value);
        if (value <= 0) decide(out, kDenyStrength, Cause::kCapNotPositive, index, best);
        break;
      case ActionKind::kForceReduceOnly: out.force_reduce_only = true; break;
      case ActionKind::kHold:
        out.hold_expiry_s = out.hold_expiry_s == 0 ? rule.hold_expiry_s : std::min(out.hold_expiry_s, rule.hold_expiry_s);
        decide(out, kHoldStrength, Cause::kHoldAction, index, best);
        break;
    }
  }
}

Outcome RuleSet::evaluate(const Facts& facts) const {
  Outcome out;
  evaluate(facts, out);
  return out;
}

std::uint64_t HitCounters::hits(std::size_t rule) const {
  if (rule >= hits_.size()) std::abort();  // a bug in the caller
  return hits_[rule];
}

void HitCounters::record(const Outcome& outcome) {
  for (const std::uint32_t i : outcome.fired) {
    if (i < hits_.size()) ++hits_[i];
  }
}

}  // namespace ta::rules
