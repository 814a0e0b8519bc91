// The flat compiled form of a RuleSet and the checked fixed-point
// arithmetic shared by constant folding and evaluation.
//
// Every rule is a short run of three-address instructions over one register
// file of int64 values: slots [0, kFactCount) hold the facts (Decimal units,
// 0/1, enum ordinals, interned string ids), the slots above are
// temporaries. Operands with kConstBit set index the constant pool instead.
// Jumps only go forward, so a rule runs at most its instruction count.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "ast.h"
#include "facts_table.h"
#include "rules/rules.h"

namespace ta::rules {

enum class OpCode : std::uint8_t {
  kAdd, kSub, kMul, kDiv, kNeg,
  kLt, kLe, kGt, kGe, kEq, kNe,
  kNot,
  kIn,           // dst = a in constants[b, b + x)
  kMove,         // dst = a
  kJumpIfFalse,  // if !a: continue at x
  kJumpIfTrue,   // if a: continue at x
};

inline constexpr std::uint32_t kConstBit = 1u << 31;

// After a comparison, optionally jump on its result: the short circuit of
// 'and'/'or' fused into the comparison that feeds it, saving one dispatch.
enum class Then : std::uint8_t { kNext, kJumpIfFalse, kJumpIfTrue };

struct Op {
  OpCode code = OpCode::kMove;
  std::uint8_t dst = 0;
  Then then = Then::kNext;  // comparisons only
  std::uint32_t a = 0;
  std::uint32_t b = 0;
  std::uint32_t x = 0;  // jump target, or list length for kIn
};

// Registers: the facts, then one temporary per nesting level and a spare.
inline constexpr std::size_t kRegisterCount = kFactCount + kExpressionDepthMax + 2;
static_assert(kRegisterCount <= 255, "register numbers must fit Op::dst");

struct CompiledRule {
  std::uint32_t cond_begin = 0, cond_end = 0, cond_result = 0;
  std::uint32_t value_begin = 0, value_end = 0, value_result = 0;  // caps only
  ActionKind action = ActionKind::kDeny;
  std::int64_t hold_expiry_s = 0;
};

struct Program {
  std::vector<RuleInfo> infos;
  std::vector<CompiledRule> rules;  // same index as infos
  std::vector<std::uint32_t> enabled;  // indices of the rules evaluate() runs
  std::vector<Op> code;
  std::vector<Loc> op_locs;  // source position of each instruction, for faults
  std::vector<std::int64_t> constants;
  std::vector<std::string> strings;  // string literals; id = index + 1
};

struct ProgramAccess {
  static const Program& of(const RuleSet& set) { return *set.program_; }
  static void set(RuleSet& set, std::shared_ptr<const Program> p) { set.program_ = std::move(p); }
};

// ---- checked Decimal arithmetic on units -------------------------------
// Results truncate toward zero (as Decimal::mul/div with
// Rounding::kTowardZero) and must stay in the Decimal range, which excludes
// the minimum int64 so negation never overflows.

inline constexpr std::int64_t kUnitsMin = std::numeric_limits<std::int64_t>::min();
inline constexpr std::int64_t kUnitsMax = std::numeric_limits<std::int64_t>::max();

inline bool fits(Int128 v) { return v <= kUnitsMax && v > kUnitsMin; }

inline bool units_add(std::int64_t a, std::int64_t b, std::int64_t& out) {
  return !__builtin_add_overflow(a, b, &out) && out != kUnitsMin;
}
inline bool units_sub(std::int64_t a, std::int64_t b, std::int64_t& out) {
  return !__builtin_sub_overflow(a, b, &out) && out != kUnitsMin;
}
inline bool units_neg(std::int64_t a, std::int64_t& out) {
  if (a == kUnitsMin) return false;
  out = -a;
  return true;
}
inline bool units_mul(std::int64_t a, std::int64_t b, std::int64_t& out) {
  std::int64_t p = 0;
  if (!__builtin_mul_overflow(a, b, &p)) {
    out = p / Decimal::kScale;  // |p / kScale| < 2^63 / 10^8: always in range
    return true;
  }
  const Int128 q = static_cast<Int128>(a) * b / Decimal::kScale;
  if (!fits(q)) return false;
  out = static_cast<std::int64_t>(q);
  return true;
}
// Precondition: b != 0 (the caller reports division by zero).
inline bool units_div(std::int64_t a, std::int64_t b, std::int64_t& out) {
  std::int64_t n = 0;
  if (!__builtin_mul_overflow(a, Decimal::kScale, &n)) {
    // n is a multiple of 10^8, so n / -1 cannot overflow; only the minimum
    // must be refused.
    out = n / b;
    return out != kUnitsMin;
  }
  const Int128 q = static_cast<Int128>(a) * Decimal::kScale / b;
  if (!fits(q)) return false;
  out = static_cast<std::int64_t>(q);
  return true;
}

}  // namespace ta::rules
