// Code generation and the compile pipeline: parse, check, enforce the
// origin and set-wide limits, then flatten every rule into one Program.
#include <algorithm>
#include <map>

#include "checker.h"
#include "compile.h"
#include "parser.h"
#include "program.h"

namespace ta::rules {
namespace {

bool is_comparison(OpCode c) {
  switch (c) {
    case OpCode::kLt: case OpCode::kLe: case OpCode::kGt: case OpCode::kGe: case OpCode::kEq: case OpCode::kNe:
      return true;
    case OpCode::kIn:  // its x holds the list length
    case OpCode::kAdd: case OpCode::kSub: case OpCode::kMul: case OpCode::kDiv: case OpCode::kNeg:
    case OpCode::kNot: case OpCode::kMove: case OpCode::kJumpIfFalse: case OpCode::kJumpIfTrue:
      return false;
  }
  return false;
}

class CodeGen {
 public:
  CodeGen(Program& p, DiagnosticSink& sink) : p_(p), sink_(sink) {}

  // Appends the rule's code; false (with errors reported) when it does not
  // compile.
  bool rule(const Rule& r, RuleInfo info) {
    failed_ = false;
    rule_begin_ = p_.code.size();
    CompiledRule c;
    c.action = r.action.kind;
    const std::size_t first_op = p_.code.size();
    c.cond_begin = static_cast<std::uint32_t>(p_.code.size());
    c.cond_result = gen(*r.condition, kFactCount);
    c.cond_end = static_cast<std::uint32_t>(p_.code.size());
    c.value_begin = c.value_end = c.cond_end;
    rule_begin_ = p_.code.size();  // the value's code never fuses with the condition's
    if (r.action.value) {
      c.value_result = gen(*r.action.value, kFactCount);
      c.value_end = static_cast<std::uint32_t>(p_.code.size());
    }
    if (r.action.kind == ActionKind::kHold) {
      c.hold_expiry_s = duration_seconds(r.action.hold_value, r.action.hold_unit).value_or(kHoldExpiryMin_s);
    }
    const std::size_t steps = p_.code.size() - first_op;
    if (!failed_ && steps > kEvaluationStepsMax) {
      error(r.loc, "rule '" + r.id + "' compiles to " + std::to_string(steps) + " evaluation steps; the limit is " +
                       std::to_string(kEvaluationStepsMax) + " (split it into simpler rules)");
    }
    if (failed_) return false;
    info.hold_expiry_s = c.hold_expiry_s;
    p_.rules.push_back(c);
    if (info.enabled) p_.enabled.push_back(static_cast<std::uint32_t>(p_.infos.size()));
    p_.infos.push_back(std::move(info));
    return true;
  }

 private:
  void error(Loc loc, std::string msg) {
    if (!failed_) sink_.error(loc, std::move(msg));
    failed_ = true;
  }

  std::uint32_t constant(std::int64_t v) {
    auto [it, fresh] = constant_index_.try_emplace(v, static_cast<std::uint32_t>(p_.constants.size()));
    if (fresh) p_.constants.push_back(v);
    return it->second | kConstBit;
  }

  std::int64_t string_id(const std::string& s) {
    auto it = std::find(p_.strings.begin(), p_.strings.end(), s);
    if (it == p_.strings.end()) {
      p_.strings.push_back(s);
      return static_cast<std::int64_t>(p_.strings.size());
    }
    return static_cast<std::int64_t>(it - p_.strings.begin()) + 1;
  }

  void emit(OpCode code, std::uint32_t dst, std::uint32_t a, std::uint32_t b, std::uint32_t x, Loc loc) {
    Op op;
    op.code = code;
    op.dst = static_cast<std::uint8_t>(dst);
    op.a = a;
    op.b = b;
    op.x = x;
    p_.code.push_back(op);
    p_.op_locs.push_back(loc);
  }

  bool literal_units(const Expr& e, std::int64_t& out) {
    const std::int64_t u = e.number.units();
    switch (e.unit) {
      case LiteralUnit::kNone:
      case LiteralUnit::kUsd: out = u; return true;
      case LiteralUnit::kPercent:
        if (u % 100 != 0) {
          error(e.loc, "percentage " + print_expr(e) + " has too many digits (at most 6 decimal places)");
          return false;
        }
        out = u / 100;
        return true;
      case LiteralUnit::kBps:
        if (u % 10000 != 0) {
          error(e.loc, "basis points " + print_expr(e) + " have too many digits (at most 4 decimal places)");
          return false;
        }
        out = u / 10000;
        return true;
      case LiteralUnit::kSeconds:
      case LiteralUnit::kMinutes:
      case LiteralUnit::kHours:
      case LiteralUnit::kDays: {
        const std::int64_t per = e.unit == LiteralUnit::kSeconds ? 1
                                 : e.unit == LiteralUnit::kMinutes ? 60
                                 : e.unit == LiteralUnit::kHours   ? 3600
                                                                   : 86400;
        if (__builtin_mul_overflow(u, per, &out) || out == kUnitsMin) {
          error(e.loc, "duration " + print_expr(e) + " is out of range");
          return false;
        }
        return true;
      }
    }
    return false;
  }

  // Evaluates a constant expression at compile time with the evaluator's
  // arithmetic; faults become compile errors.
  bool fold(const Expr& e, std::int64_t& out) {
    switch (e.kind) {
      case Expr::Kind::kNumber: return literal_units(e, out);
      case Expr::Kind::kString: out = string_id(e.text); return true;
      case Expr::Kind::kBool: out = e.boolean ? 1 : 0; return true;
      case Expr::Kind::kName: out = enum_value(e.type, e.text).value_or(0); return true;
      case Expr::Kind::kFact:
      case Expr::Kind::kIn: break;
      case Expr::Kind::kUnary: {
        std::int64_t v = 0;
        if (!fold(*e.lhs, v)) return false;
        if (e.unary == UnaryOp::kNot) {
          out = v == 0 ? 1 : 0;
          return true;
        }
        if (!units_neg(v, out)) return overflow(e);
        return true;
      }
      case Expr::Kind::kBinary: {
        std::int64_t a = 0, b = 0;
        if (!fold(*e.lhs, a)) return false;
        if (e.binary == BinaryOp::kAnd && a == 0) return out = 0, true;
        if (e.binary == BinaryOp::kOr && a != 0) return out = 1, true;
        if (!fold(*e.rhs, b)) return false;
        switch (e.binary) {
          case BinaryOp::kAnd:
          case BinaryOp::kOr: out = b != 0 ? 1 : 0; return true;
          case BinaryOp::kLt: out = a < b; return true;
          case BinaryOp::kLe: out = a <= b; return true;
          case BinaryOp::kGt: out = a > b; return true;
          case BinaryOp::kGe: out = a >= b; return true;
          case BinaryOp::kEq: out = a == b; return true;
          case BinaryOp::kNe: out = a != b; return true;
          case BinaryOp::kAdd: return units_add(a, b, out) || overflow(e);
          case BinaryOp::kSub: return units_sub(a, b, out) || overflow(e);
          case BinaryOp::kMul: return units_mul(a, b, out) || overflow(e);
          case BinaryOp::kDiv:
            if (b == 0) {
              error(e.loc, "division by zero in a constant expression");
              return false;
            }
            return units_div(a, b, out) || overflow(e);
        }
        return false;
      }
    }
    error(e.loc, "internal: not a constant");
    return false;
  }

  bool overflow(const Expr& e) {
    error(e.loc, "constant expression leaves the decimal range (+-92233720368.54775807)");
    return false;
  }

  // Generates code computing e into register t (or returns the operand that
  // already holds it: a fact slot or a constant). Uses registers >= t only.
  std::uint32_t gen(const Expr& e, std::uint32_t t) {
    if (failed_) return constant(0);
    if (is_constant(e)) {
      std::int64_t v = 0;
      if (!fold(e, v)) return constant(0);
      return constant(v);
    }
    switch (e.kind) {
      case Expr::Kind::kFact: return static_cast<std::uint32_t>(find_fact(e.text)->id);
      case Expr::Kind::kUnary: {
        const std::uint32_t a = gen(*e.lhs, t);
        emit(e.unary == UnaryOp::kNot ? OpCode::kNot : OpCode::kNeg, t, a, 0, 0, e.loc);
        return t;
      }
      case Expr::Kind::kBinary: return gen_binary(e, t);
      case Expr::Kind::kIn: {
        const std::uint32_t a = gen(*e.lhs, t);
        std::vector<std::int64_t> values;
        for (const auto& item : e.items) {
          std::int64_t v = 0;
          if (!fold(*item, v)) return constant(0);
          values.push_back(v);
        }
        const auto start = static_cast<std::uint32_t>(p_.constants.size());
        p_.constants.insert(p_.constants.end(), values.begin(), values.end());
        emit(OpCode::kIn, t, a, start, static_cast<std::uint32_t>(values.size()), e.loc);
        return t;
      }
      case Expr::Kind::kNumber:
      case Expr::Kind::kString:
      case Expr::Kind::kBool:
      case Expr::Kind::kName: break;  // constants, handled above
    }
    return constant(0);
  }

  std::uint32_t gen_binary(const Expr& e, std::uint32_t t) {
    if (e.binary == BinaryOp::kAnd || e.binary == BinaryOp::kOr) {
      // Short circuit: 'b != 0 and a / b > 1' never divides by zero.
      const bool is_and = e.binary == BinaryOp::kAnd;
      const std::uint32_t a = gen(*e.lhs, t);
      std::size_t jump = 0;
      // When the left side ended in a comparison into t, that comparison
      // can jump by itself - unless an inner jump lands right after it, in
      // which case that path must still meet a separate jump here.
      const bool fuse = a == t && p_.code.size() > rule_begin_ && landing_ != p_.code.size() &&
                        is_comparison(p_.code.back().code) && p_.code.back().then == Then::kNext &&
                        p_.code.back().dst == t;
      if (fuse) {
        jump = p_.code.size() - 1;
        p_.code[jump].then = is_and ? Then::kJumpIfFalse : Then::kJumpIfTrue;
      } else {
        if (a != t) emit(OpCode::kMove, t, a, 0, 0, e.loc);
        jump = p_.code.size();
        emit(is_and ? OpCode::kJumpIfFalse : OpCode::kJumpIfTrue, 0, t, 0, 0, e.loc);
      }
      const std::uint32_t b = gen(*e.rhs, t);
      if (b != t) emit(OpCode::kMove, t, b, 0, 0, e.loc);
      p_.code[jump].x = static_cast<std::uint32_t>(p_.code.size());
      landing_ = p_.code.size();
      return t;
    }
    const std::uint32_t a = gen(*e.lhs, t);
    const std::uint32_t b = gen(*e.rhs, t + 1);
    OpCode code = OpCode::kAdd;
    switch (e.binary) {
      case BinaryOp::kAnd:
      case BinaryOp::kOr: break;
      case BinaryOp::kLt: code = OpCode::kLt; break;
      case BinaryOp::kLe: code = OpCode::kLe; break;
      case BinaryOp::kGt: code = OpCode::kGt; break;
      case BinaryOp::kGe: code = OpCode::kGe; break;
      case BinaryOp::kEq: code = OpCode::kEq; break;
      case BinaryOp::kNe: code = OpCode::kNe; break;
      case BinaryOp::kAdd: code = OpCode::kAdd; break;
      case BinaryOp::kSub: code = OpCode::kSub; break;
      case BinaryOp::kMul: code = OpCode::kMul; break;
      case BinaryOp::kDiv:
        code = OpCode::kDiv;
        if ((b & kConstBit) && p_.constants[b & ~kConstBit] == 0) {
          error(e.loc, "division by zero");
          return constant(0);
        }
        break;
    }
    emit(code, t, a, b, 0, e.loc);
    return t;
  }

  Program& p_;
  DiagnosticSink& sink_;
  std::map<std::int64_t, std::uint32_t> constant_index_;
  std::size_t rule_begin_ = 0;
  std::size_t landing_ = 0;  // where the latest patched jump lands
  bool failed_ = false;
};

std::string provenance_text(const Provenance& p) {
  switch (p.kind) {
    case Provenance::Kind::kCore: return "from core";
    case Provenance::Kind::kProposal: return "from proposal " + quote_string(p.proposal_id);
  }
  return "";
}

void check_origin(const Rule& r, const SourceOrigin& origin, DiagnosticSink& sink) {
  switch (origin.kind()) {
    case SourceOrigin::Kind::kCore:
      if (r.provenance.kind != Provenance::Kind::kCore) {
        sink.error(r.provenance_loc, "rules in the core directory must say 'from core', found '" +
                                         provenance_text(r.provenance) + "'");
      }
      return;
    case SourceOrigin::Kind::kAnyProposal:
    case SourceOrigin::Kind::kProposal:
      if (r.provenance.kind != Provenance::Kind::kProposal) {
        sink.error(r.provenance_loc,
                   "a rule from a proposal must say 'from proposal \"ID\"'; 'from core' is reserved for rules/core");
      } else if (origin.kind() == SourceOrigin::Kind::kProposal && r.provenance.proposal_id != origin.proposal_id()) {
        sink.error(r.provenance_loc, "this proposal's rules must say 'from proposal " +
                                         quote_string(origin.proposal_id()) + "', found '" +
                                         provenance_text(r.provenance) + "'");
      }
      return;
  }
}

}  // namespace

Compiled<RuleSet> compile_units(const std::vector<SourceUnit>& units) {
  DiagnosticSink sink;
  std::vector<SourceFile> files(units.size());
  struct Seen {
    std::size_t unit;
    Loc loc;
  };
  std::map<std::string, Seen, std::less<>> ids;
  std::size_t rule_count = 0;
  for (std::size_t u = 0; u < units.size(); ++u) {
    const SourceUnit& unit = units[u];
    if (unit.text.size() > kSourceSizeMax) {
      sink.file_error(unit.name, "file is " + std::to_string(unit.text.size()) + " bytes; the limit is " +
                                     std::to_string(kSourceSizeMax));
      continue;
    }
    sink.set_source(unit.name, unit.text);
    files[u] = parse_source(unit.text, sink);
    for (Rule& r : files[u].rules) {
      check_rule(r, sink);
      check_origin(r, unit.origin, sink);
      auto [it, fresh] = ids.try_emplace(r.id, Seen{u, r.id_loc});
      if (!fresh) {
        sink.error(r.id_loc, "rule id '" + r.id + "' is already defined at " + units[it->second.unit].name + ":" +
                                 std::to_string(it->second.loc.line) + ":" + std::to_string(it->second.loc.column));
      }
    }
    rule_count += files[u].rules.size();
  }
  if (rule_count > kRuleCountMax) {
    sink.file_error(units.empty() ? "" : units.back().name,
                    "the rule set has " + std::to_string(rule_count) + " rules; the limit is " +
                        std::to_string(kRuleCountMax));
  }
  if (sink.count() > 0) return sink.take();

  auto program = std::make_shared<Program>();
  CodeGen gen(*program, sink);
  for (std::size_t u = 0; u < units.size(); ++u) {
    sink.set_source(units[u].name, units[u].text);
    for (const Rule& r : files[u].rules) {
      RuleInfo info;
      info.id = r.id;
      info.version = r.version;
      info.provenance = r.provenance;
      info.description = r.description;
      info.enabled = r.enabled;
      info.action = r.action.kind;
      info.message = r.action.message;
      info.file = units[u].name;
      info.line = r.loc.line;
      info.canonical = print_rule(r);
      gen.rule(r, std::move(info));
    }
  }
  if (sink.count() > 0) return sink.take();
  RuleSet set;
  ProgramAccess::set(set, std::move(program));
  return set;
}

Compiled<RuleSet> compile_source(std::string_view text, std::string_view name, const SourceOrigin& origin) {
  return compile_units({SourceUnit{std::string(name), text, origin}});
}

Compiled<std::string> format_source(std::string_view text, std::string_view name) {
  DiagnosticSink sink;
  if (text.size() > kSourceSizeMax) {
    sink.file_error(name, "file is " + std::to_string(text.size()) + " bytes; the limit is " +
                              std::to_string(kSourceSizeMax));
    return sink.take();
  }
  sink.set_source(name, text);
  const SourceFile file = parse_source(text, sink);
  if (sink.count() > 0) return sink.take();
  std::string out;
  for (const Rule& r : file.rules) {
    if (!out.empty()) out += "\n";
    out += print_rule(r);
  }
  return out;
}

}  // namespace ta::rules
