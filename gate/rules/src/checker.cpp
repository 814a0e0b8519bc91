#include "checker.h"

#include "facts_table.h"

namespace ta::rules {
namespace {

bool numeric(Type t) {
  switch (t) {
    case Type::kInteger: case Type::kNumber: case Type::kQuantity: case Type::kRatio:
    case Type::kUsd: case Type::kPrice: case Type::kDuration:
      return true;
    case Type::kError: case Type::kBool: case Type::kString: case Type::kSide: case Type::kOrderType:
    case Type::kWeekday:
      return false;
  }
  return false;
}

bool is_enum(Type t) { return t == Type::kSide || t == Type::kOrderType || t == Type::kWeekday; }
bool plain(Type t) { return t == Type::kInteger || t == Type::kNumber; }

// How to write a literal of type t, for hints.
const char* literal_hint(Type t) {
  switch (t) {
    case Type::kRatio: return "write it with its unit, e.g. 5% or 25bps";
    case Type::kUsd: return "write it in USD, e.g. 1000 USD";
    case Type::kPrice: return "write a price in USD, e.g. 65000 USD";
    case Type::kDuration: return "write it with its unit, e.g. 90s, 30m, 2h or 1d";
    case Type::kError: case Type::kBool: case Type::kInteger: case Type::kNumber: case Type::kQuantity:
    case Type::kString: case Type::kSide: case Type::kOrderType: case Type::kWeekday:
      return nullptr;
  }
  return nullptr;
}

// Type of a literal from its unit.
Type literal_type(const Expr& e) {
  switch (e.unit) {
    case LiteralUnit::kNone: return e.integral ? Type::kInteger : Type::kNumber;
    case LiteralUnit::kPercent:
    case LiteralUnit::kBps: return Type::kRatio;
    case LiteralUnit::kUsd: return Type::kUsd;
    case LiteralUnit::kSeconds:
    case LiteralUnit::kMinutes:
    case LiteralUnit::kHours:
    case LiteralUnit::kDays: return Type::kDuration;
  }
  return Type::kError;
}

// A constant of type `from` may stand for a value of type `to`: plain
// numbers for integers, numbers and quantities; USD amounts for prices.
// Percentages, USD and durations always need their unit.
bool adapts(Type from, Type to) {
  if (plain(from)) return plain(to) || to == Type::kQuantity;
  return from == Type::kUsd && to == Type::kPrice;
}

// The common type of the two sides of + - < <= > >= == !=, or kError.
Type unify(const Expr& a, const Expr& b) {
  if (a.type == b.type) return a.type;
  if (plain(a.type) && plain(b.type)) return Type::kNumber;
  if (is_constant(a) && adapts(a.type, b.type)) return b.type;
  if (is_constant(b) && adapts(b.type, a.type)) return a.type;
  return Type::kError;
}

// Scaling: a plain number or a ratio times a measured amount keeps the
// amount's type; a ratio stays a ratio when scaled by a number or ratio.
Type product_type(Type a, Type b) {
  if (a == Type::kInteger && b == Type::kInteger) return Type::kInteger;
  if (a == Type::kInteger) a = Type::kNumber;
  if (b == Type::kInteger) b = Type::kNumber;
  for (int pass = 0; pass < 2; ++pass) {
    if (a == Type::kNumber && numeric(b)) return b;
    if (a == Type::kRatio && (b == Type::kRatio || b == Type::kQuantity || b == Type::kUsd || b == Type::kPrice ||
                              b == Type::kDuration)) {
      return b;
    }
    if (a == Type::kQuantity && b == Type::kPrice) return Type::kUsd;
    std::swap(a, b);
  }
  return Type::kError;
}

Type quotient_type(Type a, Type b) {
  if (plain(a) && plain(b)) return Type::kNumber;
  if (b == Type::kInteger) b = Type::kNumber;
  if (a == Type::kInteger) a = Type::kNumber;
  if (b == Type::kNumber && numeric(a)) return a;
  if (b == Type::kRatio) {
    if (a == Type::kRatio || a == Type::kNumber) return Type::kNumber;  // 2% / 1% = 2
    if (a == Type::kQuantity || a == Type::kUsd || a == Type::kPrice || a == Type::kDuration) return a;
  }
  if (a == b && (a == Type::kQuantity || a == Type::kUsd || a == Type::kPrice || a == Type::kDuration)) {
    return Type::kRatio;  // a fraction of: notional / equity
  }
  if (a == Type::kUsd && b == Type::kQuantity) return Type::kPrice;
  if (a == Type::kUsd && b == Type::kPrice) return Type::kQuantity;
  return Type::kError;
}

class Checker {
 public:
  explicit Checker(DiagnosticSink& sink) : sink_(sink) {}
  bool ok() const { return ok_; }

  void error(Loc loc, std::string msg) {
    ok_ = false;
    sink_.error(loc, std::move(msg));
  }

  // Checks e; bare names are resolved against `context` (an enum type, or
  // kError when there is none).
  void check(Expr& e, Type context = Type::kError) {
    switch (e.kind) {
      case Expr::Kind::kNumber: e.type = literal_type(e); return;
      case Expr::Kind::kString: e.type = Type::kString; return;
      case Expr::Kind::kBool: e.type = Type::kBool; return;
      case Expr::Kind::kName: return check_name(e, context);
      case Expr::Kind::kFact: return check_fact(e);
      case Expr::Kind::kUnary: return check_unary(e);
      case Expr::Kind::kBinary: return check_binary(e);
      case Expr::Kind::kIn: return check_in(e);
    }
  }

  // Reports when e (already checked) does not have the wanted type.
  void want(const Expr& e, Type wanted, const std::string& what) {
    if (e.type == Type::kError || e.type == wanted) return;
    if (is_constant(e) && adapts(e.type, wanted)) return;
    std::string msg = what + " must be " + type_name(wanted) + ", found " + type_name(e.type);
    const char* hint = literal_hint(wanted);
    if (hint && is_constant(e) && plain(e.type)) msg += std::string("; ") + hint;
    if (wanted == Type::kQuantity && e.type == Type::kUsd) msg += "; to cap by value write 'cap notional to ...'";
    if (wanted == Type::kUsd && e.type == Type::kQuantity) msg += "; to cap by size write 'cap quantity to ...'";
    error(e.loc, msg);
  }

 private:
  void check_name(Expr& e, Type context) {
    if (is_enum(context)) {
      if (enum_value(context, e.text)) {
        e.type = context;
        return;
      }
      const char* article = context == Type::kOrderType ? "an " : "a ";
      error(e.loc, "'" + e.text + "' is not " + article + type_name(context) + " (one of: " + enum_names(context) + ")");
      return;
    }
    std::string msg = "unknown name '" + e.text + "'";
    const auto guess = closest(e.text, all_names());
    const bool enum_name = enum_value(Type::kSide, e.text) || enum_value(Type::kOrderType, e.text) ||
                           enum_value(Type::kWeekday, e.text);
    if (enum_name) {
      msg = "'" + e.text + "' can only be compared with a fact of its kind, e.g. order.side == buy";
    } else if (!guess.empty()) {
      msg += " (did you mean '" + std::string(guess) + "'?)";
    } else {
      msg += " (facts are written category.field, e.g. order.quantity)";
    }
    error(e.loc, msg);
  }

  void check_fact(Expr& e) {
    if (const FactDef* f = find_fact(e.text)) {
      e.type = f->type;
      return;
    }
    std::string msg = "unknown fact '" + e.text + "'";
    std::vector<std::string_view> names;
    for (const FactDef& f : fact_table()) names.push_back(f.name);
    const auto guess = closest(e.text, names);
    if (!guess.empty()) msg += " (did you mean '" + std::string(guess) + "'?)";
    error(e.loc, msg);
  }

  void check_unary(Expr& e) {
    check(*e.lhs);
    const Type t = e.lhs->type;
    if (t == Type::kError) return;
    if (e.unary == UnaryOp::kNot) {
      if (t != Type::kBool) {
        error(e.loc, std::string("'not' needs a bool, found ") + type_name(t));
        return;
      }
      e.type = Type::kBool;
      return;
    }
    if (!numeric(t)) {
      error(e.loc, std::string("'-' needs a number, found ") + type_name(t));
      return;
    }
    e.type = t;
  }

  // Checks both sides of ==, != or 'in', letting a bare name take its enum
  // type from the other side.
  void check_pair(Expr& a, Expr& b) {
    const bool a_name = a.kind == Expr::Kind::kName;
    const bool b_name = b.kind == Expr::Kind::kName;
    // A name next to an operand that already failed stays unchecked, so
    // one typo gives one error.
    if (a_name && !b_name) {
      check(b);
      if (b.type != Type::kError) check(a, b.type);
    } else {
      check(a);
      if (a.type != Type::kError || !b_name) check(b, a.type);
    }
  }

  void check_binary(Expr& e) {
    const BinaryOp op = e.binary;
    if (op != BinaryOp::kAnd && op != BinaryOp::kOr && precedence(op) == precedence(BinaryOp::kEq)) {
      check_pair(*e.lhs, *e.rhs);
    } else {
      check(*e.lhs);
      check(*e.rhs);
    }
    const Type a = e.lhs->type;
    const Type b = e.rhs->type;
    if (a == Type::kError || b == Type::kError) return;
    const std::string sp = spelling(op);
    switch (op) {
      case BinaryOp::kAnd:
      case BinaryOp::kOr:
        if (a != Type::kBool || b != Type::kBool) {
          error(e.loc, "'" + sp + "' needs bools on both sides, found " + type_name(a) + " and " + type_name(b));
          return;
        }
        e.type = Type::kBool;
        return;
      case BinaryOp::kEq:
      case BinaryOp::kNe:
      case BinaryOp::kLt:
      case BinaryOp::kLe:
      case BinaryOp::kGt:
      case BinaryOp::kGe: {
        const Type t = unify(*e.lhs, *e.rhs);
        if (t == Type::kError) return mismatch(e, "compare", "with");
        const bool ordering = op != BinaryOp::kEq && op != BinaryOp::kNe;
        if (ordering && !numeric(t)) {
          error(e.loc, "'" + sp + "' needs numbers; " + type_name(t) + " values can only be compared with == or !=");
          return;
        }
        if (t == Type::kString && !strings_comparable(*e.lhs, *e.rhs)) return;
        e.type = Type::kBool;
        return;
      }
      case BinaryOp::kAdd:
      case BinaryOp::kSub: {
        const Type t = numeric(a) && numeric(b) ? unify(*e.lhs, *e.rhs) : Type::kError;
        if (t == Type::kError) return mismatch(e, op == BinaryOp::kAdd ? "add" : "subtract",
                                               op == BinaryOp::kAdd ? "and" : "from");
        e.type = t;
        return;
      }
      case BinaryOp::kMul:
      case BinaryOp::kDiv: {
        const Type t = op == BinaryOp::kMul ? product_type(a, b) : quotient_type(a, b);
        if (t == Type::kError) {
          error(e.loc, std::string("cannot ") + (op == BinaryOp::kMul ? "multiply " : "divide ") + type_name(a) +
                           " by " + type_name(b) + " (see the unit table in docs/rule-dsl.md)");
          return;
        }
        e.type = t;
        return;
      }
    }
  }

  // Strings compare by identity with the literals of the rule set, so one
  // side must be a string literal.
  bool strings_comparable(const Expr& a, const Expr& b) {
    if (a.kind == Expr::Kind::kString || b.kind == Expr::Kind::kString) return true;
    error(a.loc, "strings can only be compared with a string literal, e.g. order.product == \"BTC-USD\"");
    return false;
  }

  void mismatch(const Expr& e, const char* verb, const char* joiner) {
    const Expr& a = *e.lhs;
    const Expr& b = *e.rhs;
    std::string msg = std::string("cannot ") + verb + " " + type_name(a.type) + " " + joiner + " " + type_name(b.type);
    // The usual slip: a bare number where the other side has a unit.
    const char* hint = nullptr;
    if (is_constant(b) && plain(b.type)) hint = literal_hint(a.type);
    if (is_constant(a) && plain(a.type)) hint = literal_hint(b.type);
    if (hint) msg += std::string(": ") + hint;
    error(e.loc, msg);
  }

  void check_in(Expr& e) {
    check(*e.lhs);
    const Type t = e.lhs->type;
    bool items_ok = true;
    for (auto& item : e.items) {
      if (t == Type::kError && item->kind == Expr::Kind::kName) continue;
      check(*item, t);
      if (item->type == Type::kError) {
        items_ok = false;
        continue;
      }
      if (!is_constant(*item)) {
        error(item->loc, "the elements of an 'in' list must be constants");
        items_ok = false;
        continue;
      }
      if (t != Type::kError && item->type != t && !adapts(item->type, t) &&
          !(plain(t) && plain(item->type))) {
        std::string msg = std::string("list element is ") + type_name(item->type) + " but '" + print_expr(*e.lhs) +
                          "' is " + type_name(t);
        const char* hint = plain(item->type) ? literal_hint(t) : nullptr;
        if (hint) msg += std::string(": ") + hint;
        error(item->loc, msg);
        items_ok = false;
      }
    }
    if (t == Type::kError || !items_ok) return;
    if (t == Type::kBool) {
      error(e.loc, "'in' does not apply to bools; compare with == instead");
      return;
    }
    if (is_constant(*e.lhs)) {
      error(e.lhs->loc, "the left side of 'in' must read a fact");
      return;
    }
    e.type = Type::kBool;
  }

  DiagnosticSink& sink_;
  bool ok_ = true;
};

}  // namespace

bool is_constant(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kNumber:
    case Expr::Kind::kString:
    case Expr::Kind::kBool:
    case Expr::Kind::kName: return true;
    case Expr::Kind::kFact:
    case Expr::Kind::kIn: return false;
    case Expr::Kind::kUnary: return is_constant(*e.lhs);
    case Expr::Kind::kBinary: return is_constant(*e.lhs) && is_constant(*e.rhs);
  }
  return false;
}

std::optional<std::int64_t> duration_seconds(const Decimal& value, LiteralUnit unit) {
  std::int64_t per = 1;
  switch (unit) {
    case LiteralUnit::kSeconds: per = 1; break;
    case LiteralUnit::kMinutes: per = 60; break;
    case LiteralUnit::kHours: per = 3600; break;
    case LiteralUnit::kDays: per = 86400; break;
    case LiteralUnit::kNone: case LiteralUnit::kPercent: case LiteralUnit::kBps: case LiteralUnit::kUsd:
      return std::nullopt;
  }
  auto units = value.mul(Decimal::from_integer(static_cast<std::int32_t>(per)), Rounding::kTowardZero);
  if (!units.ok() || units.value().units() % Decimal::kScale != 0) return std::nullopt;
  return units.value().units() / Decimal::kScale;
}

bool check_rule(Rule& rule, DiagnosticSink& sink) {
  Checker c(sink);
  c.check(*rule.condition);
  c.want(*rule.condition, Type::kBool, "the condition after 'when'");
  Action& a = rule.action;
  switch (a.kind) {
    case ActionKind::kCapQuantity:
      c.check(*a.value);
      c.want(*a.value, Type::kQuantity, "'cap quantity to' value");
      break;
    case ActionKind::kCapNotional:
      c.check(*a.value);
      c.want(*a.value, Type::kUsd, "'cap notional to' value");
      break;
    case ActionKind::kHold: {
      const auto s = duration_seconds(a.hold_value, a.hold_unit);
      if (!s || *s < kHoldExpiryMin_s || *s > kHoldExpiryMax_s) {
        c.error(a.hold_loc, "hold expiry must be a whole number of seconds from 1m to 24h, found " +
                                print_literal(a.hold_value, true, a.hold_unit));
      }
      break;
    }
    case ActionKind::kDeny:
    case ActionKind::kHalt:
    case ActionKind::kWarn:
    case ActionKind::kForceReduceOnly: break;
  }
  return c.ok();
}

}  // namespace ta::rules
