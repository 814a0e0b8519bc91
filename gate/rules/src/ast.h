// The rule DSL's syntax tree, its canonical printer and structural equality.
// Private to ta_rules (tests include it to check the printer round trip).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proto/decimal.h"
#include "rules/rules.h"

namespace ta::rules {

struct Loc {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

// Units a numeric literal is written with. The literal keeps the number as
// written (50 for 50%) so the printer gives back the same text.
enum class LiteralUnit : std::uint8_t {
  kNone,     // 3 or 2.5
  kPercent,  // 50%      (value / 100)
  kBps,      // 25bps    (value / 10000)
  kUsd,      // 1000 USD
  kSeconds,  // 45s
  kMinutes,  // 30m
  kHours,    // 2h
  kDays,     // 1d
};

enum class UnaryOp : std::uint8_t { kNegate, kNot };
enum class BinaryOp : std::uint8_t {
  kOr, kAnd,
  kLt, kLe, kGt, kGe, kEq, kNe,
  kAdd, kSub, kMul, kDiv,
};

// Static types of the type checker (docs/rule-dsl.md, "Types and units").
enum class Type : std::uint8_t {
  kError,  // an operand already reported; silences follow-up errors
  kBool, kInteger, kNumber, kQuantity, kRatio, kUsd, kPrice, kDuration,
  kString, kSide, kOrderType, kWeekday,
};

struct Expr {
  enum class Kind : std::uint8_t {
    kNumber,   // number + unit
    kString,   // "text"
    kBool,     // true | false
    kName,     // a bare name: an enum value such as buy, limit, saturday
    kFact,     // category.field
    kUnary,
    kBinary,
    kIn,       // lhs in [items]
  };
  Kind kind = Kind::kNumber;
  Loc loc;
  // kNumber: value as written, integral (no '.' in the text), unit.
  Decimal number;
  bool integral = false;
  LiteralUnit unit = LiteralUnit::kNone;
  // kString: contents; kName/kFact: the name ("buy", "market.spread").
  std::string text;
  bool boolean = false;
  UnaryOp unary = UnaryOp::kNegate;
  BinaryOp binary = BinaryOp::kAdd;
  std::unique_ptr<Expr> lhs;  // also the operand of kUnary
  std::unique_ptr<Expr> rhs;
  std::vector<std::unique_ptr<Expr>> items;  // kIn
  std::uint32_t depth = 1;  // nesting levels, this node included

  // Set by the type checker; not part of equality.
  Type type = Type::kError;
};

struct Action {
  ActionKind kind = ActionKind::kDeny;
  Loc loc;
  std::string message;          // deny, halt, warn
  std::unique_ptr<Expr> value;  // cap quantity / cap notional
  Decimal hold_value;           // hold: the duration as written
  LiteralUnit hold_unit = LiteralUnit::kMinutes;
  Loc hold_loc;
};

struct Rule {
  Loc loc;  // the 'rule' keyword
  std::string id;
  Loc id_loc;
  std::uint32_t version = 0;
  std::string description;
  Provenance provenance;
  Loc provenance_loc;
  bool enabled = true;
  std::unique_ptr<Expr> condition;
  Action action;
};

struct SourceFile {
  std::vector<Rule> rules;
};

// Structural equality, ignoring source locations and checker annotations.
bool same_expr(const Expr& a, const Expr& b);
bool same_rule(const Rule& a, const Rule& b);

// Canonical text. Expressions get the fewest parentheses that keep their
// tree; a rule prints as
//   rule ID vN "DESCRIPTION" {
//     from core
//     enabled false          (only when disabled)
//     when EXPR
//     then ACTION
//   }
std::string print_expr(const Expr& e);
std::string print_action(const Action& a);
std::string print_rule(const Rule& r);
std::string print_literal(const Decimal& value, bool integral, LiteralUnit unit);
std::string quote_string(const std::string& s);

// Binding strength used by the parser and the printer: higher binds tighter.
int precedence(BinaryOp op);
const char* spelling(BinaryOp op);
const char* type_name(Type t);

}  // namespace ta::rules
