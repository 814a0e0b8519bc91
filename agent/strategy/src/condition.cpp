#include "condition.h"

#include <charconv>
#include <cmath>
#include <optional>

namespace ta::agent::detail {
namespace {

enum class Tok : std::uint8_t {
  kEnd,
  kNumber,
  kName,
  kLParen,
  kRParen,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kLt,
  kLe,
  kGt,
  kGe,
  kEq,
  kNe,
  kAnd,
  kOr,
  kNot,
  kCrossesAbove,
  kCrossesBelow,
};

struct Token {
  Tok kind = Tok::kEnd;
  std::size_t pos = 0;
  std::string_view text;
  double number = 0;
};

bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }
bool digit(char c) { return c >= '0' && c <= '9'; }

std::string describe(const Token& t) {
  if (t.kind == Tok::kEnd) return "the end of the condition";
  return "'" + std::string(t.text) + "'";
}

// Thrown inside the parser on the first problem and caught in
// compile_condition (configuration loading, never per bar).
struct Fail {
  ConditionError error;
};

// ---------------------------------------------------------------- lexer

std::optional<std::vector<Token>> lex(std::string_view text, std::size_t tokens_max, ConditionError& error) {
  std::vector<Token> out;
  std::size_t i = 0;
  const auto fail = [&](std::size_t pos, std::string message) {
    error = {pos, std::move(message)};
    return std::optional<std::vector<Token>>();
  };
  while (true) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
    Token t;
    t.pos = i;
    if (i == text.size()) {
      t.kind = Tok::kEnd;
      out.push_back(t);
      return out;
    }
    if (out.size() >= tokens_max) return fail(i, "more than " + std::to_string(tokens_max) + " tokens");
    const char c = text[i];
    const auto two = [&](char next) { return i + 1 < text.size() && text[i + 1] == next; };
    std::size_t len = 1;
    if (digit(c) || (c == '.' && i + 1 < text.size() && digit(text[i + 1]))) {
      std::size_t j = i;
      while (j < text.size() && digit(text[j])) ++j;
      if (j < text.size() && text[j] == '.') {
        ++j;
        if (j == text.size() || !digit(text[j])) return fail(j, "expected a digit after the decimal point");
        while (j < text.size() && digit(text[j])) ++j;
      }
      if (j < text.size() && name_char(text[j])) return fail(j, "unexpected character '" + std::string(1, text[j]) + "' in a number");
      t.kind = Tok::kNumber;
      const auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + j, t.number);
      if (ec != std::errc() || ptr != text.data() + j || !std::isfinite(t.number)) {
        return fail(i, "number out of range");
      }
      len = j - i;
    } else if (name_start(c)) {
      std::size_t j = i;
      while (j < text.size() && name_char(text[j])) ++j;
      if (j < text.size() && text[j] == '.') {
        ++j;
        if (j == text.size() || !name_start(text[j])) return fail(j, "expected an output name after '.'");
        while (j < text.size() && name_char(text[j])) ++j;
      }
      const std::string_view word = text.substr(i, j - i);
      t.kind = word == "and"             ? Tok::kAnd
               : word == "or"            ? Tok::kOr
               : word == "not"           ? Tok::kNot
               : word == "crosses_above" ? Tok::kCrossesAbove
               : word == "crosses_below" ? Tok::kCrossesBelow
                                         : Tok::kName;
      len = j - i;
    } else if (c == '(') {
      t.kind = Tok::kLParen;
    } else if (c == ')') {
      t.kind = Tok::kRParen;
    } else if (c == '+') {
      t.kind = Tok::kPlus;
    } else if (c == '-') {
      t.kind = Tok::kMinus;
    } else if (c == '*') {
      t.kind = Tok::kStar;
    } else if (c == '/') {
      t.kind = Tok::kSlash;
    } else if (c == '<') {
      t.kind = two('=') ? Tok::kLe : Tok::kLt;
      len = two('=') ? 2 : 1;
    } else if (c == '>') {
      t.kind = two('=') ? Tok::kGe : Tok::kGt;
      len = two('=') ? 2 : 1;
    } else if (c == '=' && two('=')) {
      t.kind = Tok::kEq;
      len = 2;
    } else if (c == '!' && two('=')) {
      t.kind = Tok::kNe;
      len = 2;
    } else if (c == '=') {
      return fail(i, "unexpected character '='; equality is '=='");
    } else {
      const bool printable = c >= 0x20 && c < 0x7f;
      return fail(i, printable ? "unexpected character '" + std::string(1, c) + "'" : "unexpected character");
    }
    t.text = text.substr(i, len);
    out.push_back(t);
    i += len;
  }
}

// --------------------------------------------------------------- parser

enum class Kind : std::uint8_t { kNumber, kName, kNeg, kArith, kCompare, kCross, kAnd, kOr, kNot };

struct Ast {
  Kind kind = Kind::kNumber;
  Op op = Op::kLoad;       // kArith, kCompare
  bool above = true;       // kCross
  std::size_t pos = 0;     // where the expression starts, for messages
  int a = -1;
  int b = -1;
  double number = 0;
  std::uint16_t slot = 0;  // kNumber, kName: resolved slot
};

bool is_condition(Kind k) {
  return k == Kind::kCompare || k == Kind::kCross || k == Kind::kAnd || k == Kind::kOr || k == Kind::kNot;
}

bool is_comparison(Tok t) {
  return t == Tok::kLt || t == Tok::kLe || t == Tok::kGt || t == Tok::kGe || t == Tok::kEq || t == Tok::kNe ||
         t == Tok::kCrossesAbove || t == Tok::kCrossesBelow;
}

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const SlotResolver& resolver, std::size_t depth_max)
      : t_(tokens), resolver_(resolver), depth_max_(depth_max) {}

  // Returns the root index; throws Fail on the first problem (parsing is
  // start-up work; the exception never leaves compile_condition).
  int parse() {
    const int root = parse_or(0);
    if (peek().kind != Tok::kEnd) {
      fail(peek().pos, "expected 'and', 'or' or the end of the condition but found " + describe(peek()));
    }
    need_condition(root, "a condition must compare something: expected a comparison or a cross");
    return root;
  }

  std::vector<Ast> nodes;

 private:
  [[noreturn]] void fail(std::size_t pos, std::string message) { throw Fail{{pos, std::move(message)}}; }
  const Token& peek() const { return t_[i_]; }
  const Token& take() { return t_[i_++]; }

  int add(Ast a) {
    nodes.push_back(a);
    return static_cast<int>(nodes.size() - 1);
  }

  void need_condition(int n, const std::string& message) {
    if (!is_condition(nodes[n].kind)) fail(nodes[n].pos, message);
  }
  void need_number(int n) {
    if (is_condition(nodes[n].kind)) {
      fail(nodes[n].pos, "expected a number here, got a condition (a comparison, cross, and/or/not)");
    }
  }

  struct Depth {
    Depth(Parser& p, std::size_t pos) : p_(p) {
      if (++p_.depth_ > p_.depth_max_) {
        p_.fail(pos, "nested deeper than " + std::to_string(p_.depth_max_) + " levels");
      }
    }
    ~Depth() { --p_.depth_; }
    Parser& p_;
  };

  // `pos`: where this level starts (the '(' for a parenthesis), for the
  // depth message.
  int parse_or(std::size_t pos) {
    Depth d(*this, pos);
    int left = parse_and();
    while (peek().kind == Tok::kOr) {
      take();
      const int right = parse_and();
      need_condition(left, "'or' joins conditions; the left side is a number");
      need_condition(right, "'or' joins conditions; the right side is a number");
      left = add({Kind::kOr, Op::kOr, true, nodes[left].pos, left, right, 0, 0});
    }
    return left;
  }

  int parse_and() {
    int left = parse_not();
    while (peek().kind == Tok::kAnd) {
      take();
      const int right = parse_not();
      need_condition(left, "'and' joins conditions; the left side is a number");
      need_condition(right, "'and' joins conditions; the right side is a number");
      left = add({Kind::kAnd, Op::kAnd, true, nodes[left].pos, left, right, 0, 0});
    }
    return left;
  }

  int parse_not() {
    if (peek().kind == Tok::kNot) {
      const Token& t = take();
      Depth d(*this, t.pos);
      const int operand = parse_not();
      need_condition(operand, "'not' takes a condition; this is a number");
      return add({Kind::kNot, Op::kNot, true, t.pos, operand, -1, 0, 0});
    }
    return parse_compare();
  }

  int parse_compare() {
    const int left = parse_sum();
    if (!is_comparison(peek().kind)) return left;
    const Token& op = take();
    const int right = parse_sum();
    need_number(left);
    need_number(right);
    if (is_comparison(peek().kind)) fail(peek().pos, "comparisons do not chain; join them with 'and'");
    Ast a{Kind::kCompare, Op::kLt, true, nodes[left].pos, left, right, 0, 0};
    if (op.kind == Tok::kCrossesAbove || op.kind == Tok::kCrossesBelow) {
      a.kind = Kind::kCross;
      a.above = op.kind == Tok::kCrossesAbove;
    } else {
      a.op = op.kind == Tok::kLt   ? Op::kLt
             : op.kind == Tok::kLe ? Op::kLe
             : op.kind == Tok::kGt ? Op::kGt
             : op.kind == Tok::kGe ? Op::kGe
             : op.kind == Tok::kEq ? Op::kEq
                                   : Op::kNe;
    }
    return add(a);
  }

  int parse_sum() {
    int left = parse_product();
    while (peek().kind == Tok::kPlus || peek().kind == Tok::kMinus) {
      const Op op = take().kind == Tok::kPlus ? Op::kAdd : Op::kSub;
      const int right = parse_product();
      need_number(left);
      need_number(right);
      left = add({Kind::kArith, op, true, nodes[left].pos, left, right, 0, 0});
    }
    return left;
  }

  int parse_product() {
    int left = parse_unary();
    while (peek().kind == Tok::kStar || peek().kind == Tok::kSlash) {
      const Op op = take().kind == Tok::kStar ? Op::kMul : Op::kDiv;
      const int right = parse_unary();
      need_number(left);
      need_number(right);
      left = add({Kind::kArith, op, true, nodes[left].pos, left, right, 0, 0});
    }
    return left;
  }

  int parse_unary() {
    if (peek().kind == Tok::kMinus) {
      const Token& t = take();
      Depth d(*this, t.pos);
      const int operand = parse_unary();
      need_number(operand);
      Ast& o = nodes[operand];
      if (o.kind == Kind::kNumber) {
        // -3 is a constant of its own.
        o.number = -o.number;
        o.slot = resolver_.constant(o.number);
        o.pos = t.pos;
        return operand;
      }
      if (o.kind == Kind::kName && resolver_.negated) {
        if (const auto neg = resolver_.negated(o.slot)) {
          // -entry_z: a parameter's negation, also a constant slot.
          o.slot = *neg;
          o.pos = t.pos;
          return operand;
        }
      }
      return add({Kind::kNeg, Op::kNeg, true, t.pos, operand, -1, 0, 0});
    }
    return parse_primary();
  }

  int parse_primary() {
    const Token& t = take();
    if (t.kind == Tok::kNumber) {
      Ast a{Kind::kNumber, Op::kLoad, true, t.pos, -1, -1, t.number, 0};
      a.slot = resolver_.constant(t.number);
      return add(a);
    }
    if (t.kind == Tok::kName) {
      const auto slot = resolver_.name(t.text);
      if (!slot) fail(t.pos, slot.error().message);
      return add({Kind::kName, Op::kLoad, true, t.pos, -1, -1, 0, *slot});
    }
    if (t.kind == Tok::kLParen) {
      const int inner = parse_or(t.pos);  // counts the nesting depth
      if (peek().kind != Tok::kRParen) {
        fail(peek().pos, "expected ')' to close the '(' at character " + std::to_string(t.pos + 1) +
                             " but found " + describe(peek()));
      }
      take();
      nodes[inner].pos = t.pos;
      return inner;
    }
    fail(t.pos, "expected a number, a name or '(' but found " + describe(t));
  }

  const std::vector<Token>& t_;
  const SlotResolver& resolver_;
  std::size_t depth_max_;
  std::size_t i_ = 0;
  std::size_t depth_ = 0;
};

// -------------------------------------------------------------- emitter

void emit(const std::vector<Ast>& ast, int n, bool prev, Program& p);

bool plain(const Ast& a) { return a.kind == Kind::kNumber || a.kind == Kind::kName; }

Op fused(Op compare) {
  switch (compare) {
    case Op::kLt: return Op::kLtSlots;
    case Op::kLe: return Op::kLeSlots;
    case Op::kGt: return Op::kGtSlots;
    case Op::kGe: return Op::kGeSlots;
    case Op::kEq: return Op::kEqSlots;
    case Op::kNe: return Op::kNeSlots;
    case Op::kLoad:
    case Op::kLoadPrev:
    case Op::kAdd:
    case Op::kSub:
    case Op::kMul:
    case Op::kDiv:
    case Op::kNeg:
    case Op::kAnd:
    case Op::kOr:
    case Op::kNot:
    case Op::kLtSlots:
    case Op::kLeSlots:
    case Op::kGtSlots:
    case Op::kGeSlots:
    case Op::kEqSlots:
    case Op::kNeSlots:
      break;
  }
  return compare;
}

// A comparison `op` of a and b, each read now or on the previous bar.
void emit_compare(const std::vector<Ast>& ast, int a, int b, Op op, bool prev, Program& p) {
  if (plain(ast[a]) && plain(ast[b])) {
    Instr in;
    in.op = fused(op);
    in.flags = prev ? 3 : 0;
    in.slot = ast[a].slot;
    in.slot2 = ast[b].slot;
    p.code.push_back(in);
    return;
  }
  emit(ast, a, prev, p);
  emit(ast, b, prev, p);
  p.code.push_back({op, 0, 0, 0});
}

void emit(const std::vector<Ast>& ast, int n, bool prev, Program& p) {
  const Ast& a = ast[n];
  switch (a.kind) {
    case Kind::kNumber:
    case Kind::kName:
      p.code.push_back({prev ? Op::kLoadPrev : Op::kLoad, 0, a.slot, 0});
      return;
    case Kind::kNeg:
    case Kind::kNot:
      emit(ast, a.a, prev, p);
      p.code.push_back({a.op, 0, 0, 0});
      return;
    case Kind::kCompare:
      emit_compare(ast, a.a, a.b, a.op, prev, p);
      return;
    case Kind::kArith:
    case Kind::kAnd:
    case Kind::kOr:
      emit(ast, a.a, prev, p);
      emit(ast, a.b, prev, p);
      p.code.push_back({a.op, 0, 0, 0});
      return;
    case Kind::kCross:
      p.uses_prev = true;
      emit_compare(ast, a.a, a.b, a.above ? Op::kLe : Op::kGe, true, p);
      emit_compare(ast, a.a, a.b, a.above ? Op::kGt : Op::kLt, false, p);
      p.code.push_back({Op::kAnd, 0, 0, 0});
      return;
  }
}

std::size_t stack_depth(const Program& p) {
  std::size_t depth = 0;
  std::size_t max = 0;
  for (const Instr& i : p.code) {
    switch (i.op) {
      case Op::kLoad:
      case Op::kLoadPrev:
      case Op::kLtSlots:
      case Op::kLeSlots:
      case Op::kGtSlots:
      case Op::kGeSlots:
      case Op::kEqSlots:
      case Op::kNeSlots:
        ++depth;
        break;
      case Op::kNeg:
      case Op::kNot:
        break;
      case Op::kAdd:
      case Op::kSub:
      case Op::kMul:
      case Op::kDiv:
      case Op::kLt:
      case Op::kLe:
      case Op::kGt:
      case Op::kGe:
      case Op::kEq:
      case Op::kNe:
      case Op::kAnd:
      case Op::kOr:
        --depth;
        break;
    }
    if (depth > max) max = depth;
  }
  return max;
}

}  // namespace

CompileResult compile_condition(std::string_view text, const SlotResolver& resolver, std::size_t tokens_max,
                                std::size_t depth_max) {
  CompileResult out;
  ConditionError lex_error;
  const auto tokens = lex(text, tokens_max, lex_error);
  if (!tokens) {
    out.errors.push_back(lex_error);
    return out;
  }
  Parser parser(*tokens, resolver, depth_max);
  try {
    const int root = parser.parse();
    emit(parser.nodes, root, false, out.program);
  } catch (const Fail& f) {
    out.errors.push_back(f.error);
    out.program = {};
    return out;
  }
  out.program.stack_max = stack_depth(out.program);
  if (out.program.stack_max > kEvalStackMax) {
    out.errors.push_back({0, "condition needs an evaluation stack deeper than " + std::to_string(kEvalStackMax)});
    out.program = {};
  }
  return out;
}

namespace {

template <class Compare>
inline double fused_compare(const Instr& in, const double* const src[2], bool& not_finite, Compare cmp) {
  const double a = src[in.flags & 1][in.slot];
  const double b = src[(in.flags >> 1) & 1][in.slot2];
  not_finite |= !(std::isfinite(a) && std::isfinite(b));
  return cmp(a, b) ? 1.0 : 0.0;
}

template <class Compare>
inline void stack_compare(double* st, std::size_t& sp, bool& not_finite, Compare cmp) {
  --sp;
  const double a = st[sp - 1];
  const double b = st[sp];
  not_finite |= !(std::isfinite(a) && std::isfinite(b));
  st[sp - 1] = cmp(a, b) ? 1.0 : 0.0;
}

}  // namespace

bool run_program(const Program& program, const double* cur, const double* prev, bool& bad) {
  double st[kEvalStackMax];
  std::size_t sp = 0;
  bool not_finite = false;
  const double* const src[2] = {cur, prev};
  for (const Instr& in : program.code) {
    switch (in.op) {
      case Op::kLoad: st[sp++] = cur[in.slot]; break;
      case Op::kLoadPrev: st[sp++] = prev[in.slot]; break;
      case Op::kAdd: --sp; st[sp - 1] += st[sp]; break;
      case Op::kSub: --sp; st[sp - 1] -= st[sp]; break;
      case Op::kMul: --sp; st[sp - 1] *= st[sp]; break;
      case Op::kDiv: --sp; st[sp - 1] /= st[sp]; break;
      case Op::kNeg: st[sp - 1] = -st[sp - 1]; break;
      case Op::kNot: st[sp - 1] = st[sp - 1] == 0.0 ? 1.0 : 0.0; break;
      case Op::kAnd: --sp; st[sp - 1] = (st[sp - 1] != 0.0 && st[sp] != 0.0) ? 1.0 : 0.0; break;
      case Op::kOr: --sp; st[sp - 1] = (st[sp - 1] != 0.0 || st[sp] != 0.0) ? 1.0 : 0.0; break;
      case Op::kLt: stack_compare(st, sp, not_finite, [](double a, double b) { return a < b; }); break;
      case Op::kLe: stack_compare(st, sp, not_finite, [](double a, double b) { return a <= b; }); break;
      case Op::kGt: stack_compare(st, sp, not_finite, [](double a, double b) { return a > b; }); break;
      case Op::kGe: stack_compare(st, sp, not_finite, [](double a, double b) { return a >= b; }); break;
      case Op::kEq: stack_compare(st, sp, not_finite, [](double a, double b) { return a == b; }); break;
      case Op::kNe: stack_compare(st, sp, not_finite, [](double a, double b) { return a != b; }); break;
      case Op::kLtSlots: st[sp++] = fused_compare(in, src, not_finite, [](double a, double b) { return a < b; }); break;
      case Op::kLeSlots: st[sp++] = fused_compare(in, src, not_finite, [](double a, double b) { return a <= b; }); break;
      case Op::kGtSlots: st[sp++] = fused_compare(in, src, not_finite, [](double a, double b) { return a > b; }); break;
      case Op::kGeSlots: st[sp++] = fused_compare(in, src, not_finite, [](double a, double b) { return a >= b; }); break;
      case Op::kEqSlots: st[sp++] = fused_compare(in, src, not_finite, [](double a, double b) { return a == b; }); break;
      case Op::kNeSlots: st[sp++] = fused_compare(in, src, not_finite, [](double a, double b) { return a != b; }); break;
    }
  }
  bad = not_finite;
  return !not_finite && st[0] != 0.0;
}

}  // namespace ta::agent::detail
