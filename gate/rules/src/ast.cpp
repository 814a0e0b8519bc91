#include "ast.h"

namespace ta::rules {

int precedence(BinaryOp op) {
  switch (op) {
    case BinaryOp::kOr: return 1;
    case BinaryOp::kAnd: return 2;
    // 'not' is 3.
    case BinaryOp::kLt:
    case BinaryOp::kLe:
    case BinaryOp::kGt:
    case BinaryOp::kGe:
    case BinaryOp::kEq:
    case BinaryOp::kNe: return 4;  // 'in' too
    case BinaryOp::kAdd:
    case BinaryOp::kSub: return 5;
    case BinaryOp::kMul:
    case BinaryOp::kDiv: return 6;
    // unary minus is 7
  }
  return 0;
}

namespace {
constexpr int kNotPrecedence = 3;
constexpr int kComparePrecedence = 4;
constexpr int kNegatePrecedence = 7;
constexpr int kAtomPrecedence = 8;

int expr_precedence(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kBinary: return precedence(e.binary);
    case Expr::Kind::kIn: return kComparePrecedence;
    case Expr::Kind::kUnary: return e.unary == UnaryOp::kNot ? kNotPrecedence : kNegatePrecedence;
    case Expr::Kind::kNumber:
      // A negative literal prints with a leading '-', so it binds like a
      // unary minus.
      return e.number.is_negative() ? kNegatePrecedence : kAtomPrecedence;
    case Expr::Kind::kString:
    case Expr::Kind::kBool:
    case Expr::Kind::kName:
    case Expr::Kind::kFact: return kAtomPrecedence;
  }
  return kAtomPrecedence;
}

std::string wrap(const Expr& e, bool parens) {
  std::string s = print_expr(e);
  return parens ? "(" + s + ")" : s;
}

const char* unit_suffix(LiteralUnit unit) {
  switch (unit) {
    case LiteralUnit::kNone: return "";
    case LiteralUnit::kPercent: return "%";
    case LiteralUnit::kBps: return "bps";
    case LiteralUnit::kUsd: return " USD";
    case LiteralUnit::kSeconds: return "s";
    case LiteralUnit::kMinutes: return "m";
    case LiteralUnit::kHours: return "h";
    case LiteralUnit::kDays: return "d";
  }
  return "";
}

bool same_ptr(const std::unique_ptr<Expr>& a, const std::unique_ptr<Expr>& b) {
  if (!a || !b) return !a && !b;
  return same_expr(*a, *b);
}

}  // namespace

const char* spelling(BinaryOp op) {
  switch (op) {
    case BinaryOp::kOr: return "or";
    case BinaryOp::kAnd: return "and";
    case BinaryOp::kLt: return "<";
    case BinaryOp::kLe: return "<=";
    case BinaryOp::kGt: return ">";
    case BinaryOp::kGe: return ">=";
    case BinaryOp::kEq: return "==";
    case BinaryOp::kNe: return "!=";
    case BinaryOp::kAdd: return "+";
    case BinaryOp::kSub: return "-";
    case BinaryOp::kMul: return "*";
    case BinaryOp::kDiv: return "/";
  }
  return "?";
}

const char* type_name(Type t) {
  switch (t) {
    case Type::kError: return "<error>";
    case Type::kBool: return "bool";
    case Type::kInteger: return "integer";
    case Type::kNumber: return "number";
    case Type::kQuantity: return "quantity";
    case Type::kRatio: return "ratio";
    case Type::kUsd: return "usd";
    case Type::kPrice: return "price";
    case Type::kDuration: return "duration";
    case Type::kString: return "string";
    case Type::kSide: return "side";
    case Type::kOrderType: return "order type";
    case Type::kWeekday: return "weekday";
  }
  return "?";
}

std::string print_literal(const Decimal& value, bool integral, LiteralUnit unit) {
  std::string s = value.to_string();
  // A number written with a fraction stays one, so it re-parses as a number
  // and not as an integer.
  // Only a unitless literal's type depends on it (3 is an integer, 3.0 a
  // number); with a unit the type comes from the unit.
  if (!integral && unit == LiteralUnit::kNone && s.find('.') == std::string::npos) s += ".0";
  return s + unit_suffix(unit);
}

std::string quote_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string print_expr(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kNumber: return print_literal(e.number, e.integral, e.unit);
    case Expr::Kind::kString: return quote_string(e.text);
    case Expr::Kind::kBool: return e.boolean ? "true" : "false";
    case Expr::Kind::kName:
    case Expr::Kind::kFact: return e.text;
    case Expr::Kind::kUnary: {
      if (e.unary == UnaryOp::kNot) {
        return "not " + wrap(*e.lhs, expr_precedence(*e.lhs) < kNotPrecedence);
      }
      // '--x' would read as one token in many languages; keep '- -x' apart
      // with parentheses instead.
      const bool parens = expr_precedence(*e.lhs) <= kNegatePrecedence;
      return "-" + wrap(*e.lhs, parens);
    }
    case Expr::Kind::kBinary: {
      const int p = precedence(e.binary);
      // Comparisons do not chain, so both sides of one need parentheses
      // when they are comparisons themselves. Other operators are left
      // associative: the right operand needs them at equal strength.
      const bool compare = p == kComparePrecedence;
      const bool left_parens = compare ? expr_precedence(*e.lhs) <= p : expr_precedence(*e.lhs) < p;
      const bool right_parens = expr_precedence(*e.rhs) <= p;
      return wrap(*e.lhs, left_parens) + " " + spelling(e.binary) + " " + wrap(*e.rhs, right_parens);
    }
    case Expr::Kind::kIn: {
      std::string s = wrap(*e.lhs, expr_precedence(*e.lhs) <= kComparePrecedence) + " in [";
      for (std::size_t i = 0; i < e.items.size(); ++i) {
        if (i > 0) s += ", ";
        // Items are full expressions; a comparison inside one is unusual
        // but must still round-trip.
        s += wrap(*e.items[i], expr_precedence(*e.items[i]) <= kComparePrecedence);
      }
      return s + "]";
    }
  }
  return "";
}

std::string print_action(const Action& a) {
  switch (a.kind) {
    case ActionKind::kDeny: return "deny " + quote_string(a.message);
    case ActionKind::kHalt: return "halt " + quote_string(a.message);
    case ActionKind::kWarn: return "warn " + quote_string(a.message);
    case ActionKind::kCapQuantity: return "cap quantity to " + print_expr(*a.value);
    case ActionKind::kCapNotional: return "cap notional to " + print_expr(*a.value);
    case ActionKind::kForceReduceOnly: return "force reduce_only";
    case ActionKind::kHold: return "hold for approval within " + print_literal(a.hold_value, true, a.hold_unit);
  }
  return "";
}

std::string print_rule(const Rule& r) {
  std::string s = "rule " + r.id + " v" + std::to_string(r.version) + " " + quote_string(r.description) + " {\n";
  switch (r.provenance.kind) {
    case Provenance::Kind::kCore: s += "  from core\n"; break;
    case Provenance::Kind::kProposal: s += "  from proposal " + quote_string(r.provenance.proposal_id) + "\n"; break;
  }
  if (!r.enabled) s += "  enabled false\n";
  s += "  when " + print_expr(*r.condition) + "\n";
  s += "  then " + print_action(r.action) + "\n";
  s += "}\n";
  return s;
}

bool same_expr(const Expr& a, const Expr& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Expr::Kind::kNumber:
      return a.number == b.number && a.unit == b.unit && (a.unit != LiteralUnit::kNone || a.integral == b.integral);
    case Expr::Kind::kString:
    case Expr::Kind::kName:
    case Expr::Kind::kFact: return a.text == b.text;
    case Expr::Kind::kBool: return a.boolean == b.boolean;
    case Expr::Kind::kUnary: return a.unary == b.unary && same_ptr(a.lhs, b.lhs);
    case Expr::Kind::kBinary: return a.binary == b.binary && same_ptr(a.lhs, b.lhs) && same_ptr(a.rhs, b.rhs);
    case Expr::Kind::kIn: {
      if (!same_ptr(a.lhs, b.lhs) || a.items.size() != b.items.size()) return false;
      for (std::size_t i = 0; i < a.items.size(); ++i) {
        if (!same_ptr(a.items[i], b.items[i])) return false;
      }
      return true;
    }
  }
  return false;
}

bool same_rule(const Rule& a, const Rule& b) {
  if (a.id != b.id || a.version != b.version || a.description != b.description ||
      !(a.provenance == b.provenance) || a.enabled != b.enabled || !same_ptr(a.condition, b.condition)) {
    return false;
  }
  const Action& x = a.action;
  const Action& y = b.action;
  return x.kind == y.kind && x.message == y.message && same_ptr(x.value, y.value) && x.hold_value == y.hold_value &&
         x.hold_unit == y.hold_unit;
}

}  // namespace ta::rules
