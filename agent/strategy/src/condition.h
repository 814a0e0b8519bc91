// The condition language of declarative strategies (private to the library).
//
//   condition := or
//   or        := and { "or" and }
//   and       := not { "and" not }
//   not       := "not" not | compare
//   compare   := sum [ ("<" | "<=" | ">" | ">=" | "==" | "!=" |
//                       "crosses_above" | "crosses_below") sum ]
//   sum       := product { ("+" | "-") product }
//   product   := unary { ("*" | "/") unary }
//   unary     := "-" unary | primary
//   primary   := number | name | name "." output | "(" condition ")"
//
// Every expression has a type, number or condition; "and", "or", "not" take
// conditions, comparisons and crosses take numbers, and the whole text must
// be a condition. Comparisons do not chain. There are no loops and no
// calls, so a condition's cost is its length.
//
// A condition compiles to a postfix program over numbered slots (bar fields,
// node outputs, constants). "a crosses_above b" becomes
//   prev(a) <= prev(b) and a > b
// with prev() reading the previous bar's slots; "crosses_below" is
//   prev(a) >= prev(b) and a < b.
// Every operator is evaluated (no short-circuit), which keeps the program
// branch-free apart from the dispatch. Two rewrites keep programs short:
// minus a number or a parameter becomes a constant slot, and a comparison
// of two plain operands is one fused instruction. A comparison with a NaN or infinite
// operand sets the `bad` flag: the engine then treats the condition as false
// and counts it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/result.h"

namespace ta::agent::detail {

enum class Op : std::uint8_t {
  kLoad,      // push cur[slot]
  kLoadPrev,  // push prev[slot]
  kAdd,
  kSub,
  kMul,
  kDiv,
  kNeg,
  kLt,
  kLe,
  kGt,
  kGe,
  kEq,
  kNe,
  kAnd,
  kOr,
  kNot,
  // Fused "load a, load b, compare": most conditions are comparisons of two
  // names or constants, and a cross is two of these and an and. `flags`
  // bit 0: a from the previous bar, bit 1: b from the previous bar.
  kLtSlots,
  kLeSlots,
  kGtSlots,
  kGeSlots,
  kEqSlots,
  kNeSlots,
};

struct Instr {
  Op op = Op::kLoad;
  std::uint8_t flags = 0;
  std::uint16_t slot = 0;   // kLoad, kLoadPrev; a of a fused compare
  std::uint16_t slot2 = 0;  // b of a fused compare
};

// Deepest evaluation stack a program may need; the parser's depth limit
// keeps real conditions far below it.
inline constexpr std::size_t kEvalStackMax = 64;

struct Program {
  std::vector<Instr> code;
  std::size_t stack_max = 0;
  bool uses_prev = false;  // contains a cross
  bool empty() const { return code.empty(); }
};

// A problem in condition text: `offset` is the byte position in the text.
struct ConditionError {
  std::size_t offset = 0;
  std::string message;
};

// Resolves a name ("close", "fast", "bb.upper", a parameter) to a slot, or
// returns an error message. `constant` gives the slot of a literal number.
// `negated` gives a slot holding minus the value of a constant slot (a
// parameter), or nullopt when `slot` is not constant, so "-entry_z" costs
// nothing per bar.
struct SlotResolver {
  std::function<Result<std::uint16_t>(std::string_view name)> name;
  std::function<std::uint16_t(double value)> constant;
  std::function<std::optional<std::uint16_t>(std::uint16_t slot)> negated;
};

// Parses and compiles one condition. Limits: text length (checked by the
// caller), kConditionTokensMax tokens, kConditionDepthMax nesting.
struct CompileResult {
  Program program;
  std::vector<ConditionError> errors;  // empty on success; at most one today
};
CompileResult compile_condition(std::string_view text, const SlotResolver& resolver, std::size_t tokens_max,
                                std::size_t depth_max);

// Evaluates a program. `bad` is set when a comparison saw a non-finite
// operand. Precondition: the program came from compile_condition.
bool run_program(const Program& program, const double* cur, const double* prev, bool& bad);

}  // namespace ta::agent::detail
