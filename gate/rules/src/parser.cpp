#include "parser.h"

#include <array>
#include <cstdio>
#include <string>
#include <vector>

namespace ta::rules {
namespace {

// ---------------------------------------------------------------------------
// Lexer

enum class Tok : std::uint8_t {
  kIdent, kNumber, kString,
  kLBrace, kRBrace, kLParen, kRParen, kLBracket, kRBracket, kComma, kDot,
  kPlus, kMinus, kStar, kSlash, kLt, kLe, kGt, kGe, kEq, kNe,
  kInvalid,  // text the lexer refused and already reported
  kEnd,
};

struct Token {
  Tok kind = Tok::kEnd;
  Loc loc;
  std::string text;    // identifier, number digits, decoded string contents
  std::string suffix;  // number: unit letters or "%" written right after it
};

const char* describe(Tok t) {
  switch (t) {
    case Tok::kIdent: return "a name";
    case Tok::kNumber: return "a number";
    case Tok::kString: return "a string";
    case Tok::kLBrace: return "'{'";
    case Tok::kRBrace: return "'}'";
    case Tok::kLParen: return "'('";
    case Tok::kRParen: return "')'";
    case Tok::kLBracket: return "'['";
    case Tok::kRBracket: return "']'";
    case Tok::kComma: return "','";
    case Tok::kDot: return "'.'";
    case Tok::kPlus: return "'+'";
    case Tok::kMinus: return "'-'";
    case Tok::kStar: return "'*'";
    case Tok::kSlash: return "'/'";
    case Tok::kLt: return "'<'";
    case Tok::kLe: return "'<='";
    case Tok::kGt: return "'>'";
    case Tok::kGe: return "'>='";
    case Tok::kEq: return "'=='";
    case Tok::kNe: return "'!='";
    case Tok::kInvalid: return "invalid text";
    case Tok::kEnd: return "end of file";
  }
  return "?";
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  Lexer(std::string_view text, DiagnosticSink& sink) : text_(text), sink_(sink) {}

  std::vector<Token> run() {
    std::vector<Token> out;
    for (;;) {
      skip_space();
      Token t;
      t.loc = loc();
      if (i_ >= text_.size()) {
        out.push_back(std::move(t));
        return out;
      }
      // A refused token stays in the stream as kInvalid so the parser
      // drops the rule without a second, confusing error.
      if (!lex_one(t)) t.kind = Tok::kInvalid;
      out.push_back(std::move(t));
    }
  }

 private:
  Loc loc() const { return Loc{line_, static_cast<std::uint32_t>(i_ - line_start_ + 1)}; }
  char peek(std::size_t ahead = 0) const { return i_ + ahead < text_.size() ? text_[i_ + ahead] : '\0'; }
  void advance() {
    if (text_[i_] == '\n') {
      ++line_;
      line_start_ = i_ + 1;
    }
    ++i_;
  }

  void skip_space() {
    while (i_ < text_.size()) {
      const char c = text_[i_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        advance();
      } else if (c == '#') {
        while (i_ < text_.size() && text_[i_] != '\n') advance();
      } else {
        return;
      }
    }
  }

  // Returns false when the character was refused (reported and skipped).
  bool lex_one(Token& t) {
    const char c = peek();
    if (is_alpha(c)) return lex_ident(t);
    if (is_digit(c)) return lex_number(t);
    if (c == '"') return lex_string(t);
    struct Punct {
      const char* text;
      Tok kind;
    };
    // Two-character symbols first, so "<=" is not read as "<" then "=".
    static constexpr std::array<Punct, 18> kPuncts{{
        {"<=", Tok::kLe}, {">=", Tok::kGe}, {"==", Tok::kEq}, {"!=", Tok::kNe},
        {"{", Tok::kLBrace}, {"}", Tok::kRBrace}, {"(", Tok::kLParen}, {")", Tok::kRParen},
        {"[", Tok::kLBracket}, {"]", Tok::kRBracket}, {",", Tok::kComma}, {".", Tok::kDot},
        {"+", Tok::kPlus}, {"-", Tok::kMinus}, {"*", Tok::kStar}, {"/", Tok::kSlash},
        {"<", Tok::kLt}, {">", Tok::kGt},
    }};
    for (const Punct& p : kPuncts) {
      const std::string_view s(p.text);
      if (text_.substr(i_, s.size()) == s) {
        t.kind = p.kind;
        for (std::size_t k = 0; k < s.size(); ++k) advance();
        return true;
      }
    }
    refuse(c);
    return false;
  }

  void refuse(char c) {
    const Loc at = loc();
    const std::string_view two = text_.substr(i_, 2);
    std::string msg;
    if (two == "&&") {
      msg = "unexpected '&&'; write 'and'";
    } else if (two == "||") {
      msg = "unexpected '||'; write 'or'";
    } else if (c == '=') {
      msg = "unexpected '='; write '==' to compare";
    } else if (c == '!') {
      msg = "unexpected '!'; write 'not' (or '!=' to compare)";
    } else if (c == '\'') {
      msg = "unexpected \"'\"; strings use double quotes";
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      msg = "non-ASCII character; only comments may contain them";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      msg = std::string("control character ") + hex + " is not allowed";
    } else {
      msg = std::string("unexpected character '") + c + "'";
    }
    sink_.error(at, std::move(msg));
    // Skip the whole offending pair, or the run of bytes of one UTF-8 character.
    if (two == "&&" || two == "||") advance();
    advance();
    while (i_ < text_.size() && (static_cast<unsigned char>(text_[i_]) & 0xC0) == 0x80) advance();
  }

  bool lex_ident(Token& t) {
    const Loc at = loc();
    const std::size_t start = i_;
    while (i_ < text_.size() && (is_alpha(text_[i_]) || is_digit(text_[i_]))) advance();
    t.kind = Tok::kIdent;
    t.text = std::string(text_.substr(start, i_ - start));
    if (t.text.size() > kIdentifierLengthMax) {
      sink_.error(at, "name is " + std::to_string(t.text.size()) + " characters long; the limit is " +
                          std::to_string(kIdentifierLengthMax));
      return false;
    }
    return true;
  }

  bool lex_number(Token& t) {
    const std::size_t start = i_;
    while (is_digit(peek())) advance();
    if (peek() == '.' && is_digit(peek(1))) {
      advance();
      while (is_digit(peek())) advance();
    }
    t.kind = Tok::kNumber;
    t.text = std::string(text_.substr(start, i_ - start));
    if (peek() == '%') {
      advance();
      t.suffix = "%";
    } else {
      const std::size_t s = i_;
      while (is_alpha(peek()) || is_digit(peek())) advance();
      t.suffix = std::string(text_.substr(s, i_ - s));
    }
    return true;
  }

  bool lex_string(Token& t) {
    const Loc at = loc();
    advance();  // opening quote
    t.kind = Tok::kString;
    bool ok = true;
    for (;;) {
      if (i_ >= text_.size() || peek() == '\n') {
        sink_.error(at, "unterminated string (strings end on the same line)");
        return false;
      }
      const char c = peek();
      if (c == '"') {
        advance();
        break;
      }
      if (c == '\\') {
        const char e = peek(1);
        if (e == '"' || e == '\\') {
          t.text += e;
          advance();
          advance();
          continue;
        }
        if (ok) sink_.error(loc(), "unknown escape in string; only \\\" and \\\\ are allowed");
        ok = false;
        advance();
        continue;
      }
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
        if (ok) sink_.error(loc(), "strings may hold printable ASCII only");
        ok = false;
      }
      t.text += c;
      advance();
    }
    if (ok && t.text.size() > kStringLengthMax) {
      sink_.error(at, "string is " + std::to_string(t.text.size()) + " characters long; the limit is " +
                          std::to_string(kStringLengthMax));
      ok = false;
    }
    return ok;
  }

  std::string_view text_;
  DiagnosticSink& sink_;
  std::size_t i_ = 0;
  std::uint32_t line_ = 1;
  std::size_t line_start_ = 0;
};

// ---------------------------------------------------------------------------
// Parser

bool is_reserved(const std::string& s) {
  static constexpr std::array<std::string_view, 9> kReserved{"rule", "when", "then", "and", "or",
                                                              "not", "in", "true", "false"};
  for (auto r : kReserved) {
    if (s == r) return true;
  }
  return false;
}

bool is_unit_word(const std::string& s) {
  return s == "bps" || s == "s" || s == "m" || s == "h" || s == "d" || s == "USD" || s == "usd";
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, DiagnosticSink& sink) : t_(std::move(tokens)), sink_(sink) {}

  SourceFile run() {
    SourceFile file;
    while (cur().kind != Tok::kEnd) {
      if (!is_word("rule")) {
        error(cur().loc, std::string("expected 'rule', found ") + found());
        skip_to_next_rule();
        continue;
      }
      failed_ = false;
      Rule r = parse_rule();
      if (failed_) {
        skip_to_next_rule();
      } else {
        file.rules.push_back(std::move(r));
      }
    }
    return file;
  }

 private:
  const Token& cur() const { return t_[pos_]; }
  const Token& next() const { return t_[pos_ + 1 < t_.size() ? pos_ + 1 : pos_]; }
  void bump() {
    if (pos_ + 1 < t_.size()) ++pos_;
  }
  bool is_word(std::string_view w) const { return cur().kind == Tok::kIdent && cur().text == w; }
  std::string found() const {
    switch (cur().kind) {
      case Tok::kIdent: return "'" + cur().text + "'";
      case Tok::kNumber: return "number '" + cur().text + cur().suffix + "'";
      case Tok::kString: return "string " + quote_string(cur().text);
      case Tok::kEnd: return "end of file";
      case Tok::kInvalid: case Tok::kLBrace: case Tok::kRBrace: case Tok::kLParen: case Tok::kRParen:
      case Tok::kLBracket: case Tok::kRBracket: case Tok::kComma: case Tok::kDot:
      case Tok::kPlus: case Tok::kMinus: case Tok::kStar: case Tok::kSlash:
      case Tok::kLt: case Tok::kLe: case Tok::kGt: case Tok::kGe: case Tok::kEq: case Tok::kNe:
        return describe(cur().kind);
    }
    return "?";
  }

  // Reports the first error of a rule; the rest of that rule is skipped.
  // When the parser stumbles over text the lexer already refused, that
  // report stands alone.
  void error(Loc loc, std::string msg) {
    if (!failed_ && cur().kind != Tok::kInvalid) sink_.error(loc, std::move(msg));
    failed_ = true;
  }
  void skip_to_next_rule() {
    bump();
    while (cur().kind != Tok::kEnd && !is_word("rule")) bump();
  }

  bool expect(Tok kind, const char* what) {
    if (failed_) return false;
    if (cur().kind != kind) {
      error(cur().loc, std::string("expected ") + what + ", found " + found());
      return false;
    }
    bump();
    return true;
  }
  bool expect_word(std::string_view w, const char* context = nullptr) {
    if (failed_) return false;
    if (!is_word(w)) {
      std::string msg = "expected '" + std::string(w) + "'";
      if (context) msg += std::string(" ") + context;
      error(cur().loc, msg + ", found " + found());
      return false;
    }
    bump();
    return true;
  }

  Rule parse_rule() {
    Rule r;
    r.loc = cur().loc;
    bump();  // 'rule'
    r.id_loc = cur().loc;
    if (cur().kind != Tok::kIdent) {
      error(cur().loc, "expected a rule id after 'rule', found " + found());
      return r;
    }
    r.id = cur().text;
    if (is_reserved(r.id)) {
      error(cur().loc, "'" + r.id + "' is a reserved word and cannot be a rule id");
      return r;
    }
    bool snake = r.id[0] >= 'a' && r.id[0] <= 'z';
    for (char c : r.id) snake = snake && ((c >= 'a' && c <= 'z') || is_digit(c) || c == '_');
    if (!snake) {
      error(cur().loc, "rule id '" + r.id + "' must be lower_snake_case: a-z, 0-9 and _, starting with a letter");
      return r;
    }
    bump();
    parse_version(r);
    if (failed_) return r;
    if (cur().kind != Tok::kString) {
      error(cur().loc, "expected the rule's description in double quotes, found " + found());
      return r;
    }
    r.description = cur().text;
    bump();
    if (!expect(Tok::kLBrace, "'{'")) return r;

    // from core | from proposal "ID"
    r.provenance_loc = cur().loc;
    if (!expect_word("from", "(every rule says where it comes from: 'from core' or 'from proposal \"ID\"')")) {
      return r;
    }
    if (is_word("core")) {
      bump();
      r.provenance.kind = Provenance::Kind::kCore;
    } else if (is_word("proposal")) {
      bump();
      if (cur().kind != Tok::kString || cur().text.empty()) {
        error(cur().loc, "expected the proposal id in double quotes, found " + found());
        return r;
      }
      r.provenance.kind = Provenance::Kind::kProposal;
      r.provenance.proposal_id = cur().text;
      bump();
    } else {
      error(cur().loc, "expected 'core' or 'proposal' after 'from', found " + found());
      return r;
    }

    if (is_word("enabled")) {
      bump();
      if (is_word("true") || is_word("false")) {
        r.enabled = cur().text == "true";
        bump();
      } else {
        error(cur().loc, "expected 'true' or 'false' after 'enabled', found " + found());
        return r;
      }
    }

    if (!expect_word("when")) return r;
    r.condition = parse_expr();
    if (failed_) return r;
    if (!expect_word("then")) return r;
    parse_action(r.action);
    if (failed_) return r;
    expect(Tok::kRBrace, "'}' to close the rule");
    return r;
  }

  void parse_version(Rule& r) {
    const Token& t = cur();
    bool ok = t.kind == Tok::kIdent && t.text.size() >= 2 && t.text[0] == 'v' && t.text.size() <= 8;
    for (std::size_t i = 1; ok && i < t.text.size(); ++i) ok = is_digit(t.text[i]);
    if (ok) {
      const unsigned long v = std::stoul(t.text.substr(1));
      ok = v >= 1 && v <= kVersionMax;
      r.version = static_cast<std::uint32_t>(v);
    }
    if (!ok) {
      error(t.loc, "expected a version such as v1 (v1 to v" + std::to_string(kVersionMax) + ") after the rule id, found " +
                       found());
      return;
    }
    bump();
  }

  void parse_action(Action& a) {
    a.loc = cur().loc;
    const std::string word = cur().kind == Tok::kIdent ? cur().text : "";
    auto message = [&](ActionKind kind) {
      bump();
      a.kind = kind;
      if (cur().kind != Tok::kString) {
        error(cur().loc, "expected a message in double quotes after '" + word + "', found " + found());
        return;
      }
      if (cur().text.empty()) {
        error(cur().loc, "the message after '" + word + "' must not be empty");
        return;
      }
      a.message = cur().text;
      bump();
    };
    if (word == "deny") return message(ActionKind::kDeny);
    if (word == "halt") return message(ActionKind::kHalt);
    if (word == "warn") return message(ActionKind::kWarn);
    if (word == "cap") {
      bump();
      if (is_word("quantity")) {
        a.kind = ActionKind::kCapQuantity;
      } else if (is_word("notional")) {
        a.kind = ActionKind::kCapNotional;
      } else {
        error(cur().loc, "expected 'quantity' or 'notional' after 'cap', found " + found());
        return;
      }
      bump();
      if (!expect_word("to")) return;
      a.value = parse_expr();
      return;
    }
    if (word == "force") {
      bump();
      a.kind = ActionKind::kForceReduceOnly;
      expect_word("reduce_only", "after 'force'");
      return;
    }
    if (word == "hold") {
      bump();
      a.kind = ActionKind::kHold;
      if (!expect_word("for") || !expect_word("approval") || !expect_word("within")) return;
      a.hold_loc = cur().loc;
      if (cur().kind != Tok::kNumber) {
        error(cur().loc, "expected a duration such as 30m or 2h after 'within', found " + found());
        return;
      }
      auto lit = number_literal(cur());
      if (failed_) return;
      if (lit->unit != LiteralUnit::kSeconds && lit->unit != LiteralUnit::kMinutes && lit->unit != LiteralUnit::kHours &&
          lit->unit != LiteralUnit::kDays) {
        error(cur().loc, "expected a duration such as 30m or 2h after 'within', found " + found());
        return;
      }
      a.hold_value = lit->number;
      a.hold_unit = lit->unit;
      bump();
      return;
    }
    error(cur().loc,
          "expected an action (deny, halt, warn, cap quantity to, cap notional to, force reduce_only, "
          "hold for approval within), found " + found());
  }

  // ---- expressions -------------------------------------------------------

  std::unique_ptr<Expr> node(Expr::Kind kind, Loc loc) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->loc = loc;
    return e;
  }

  // Sets the node's depth from its children and enforces the limit.
  std::unique_ptr<Expr> finish(std::unique_ptr<Expr> e) {
    std::uint32_t d = 0;
    if (e->lhs) d = std::max(d, e->lhs->depth);
    if (e->rhs) d = std::max(d, e->rhs->depth);
    for (const auto& it : e->items) d = std::max(d, it->depth);
    e->depth = d + 1;
    if (e->depth > kExpressionDepthMax) {
      error(e->loc, "expression nests deeper than " + std::to_string(kExpressionDepthMax) + " levels");
      return nullptr;
    }
    return e;
  }

  // Guards the parser's own recursion (parentheses, 'not', unary minus),
  // which can run ahead of the tree depth check.
  struct Descend {
    Parser& p;
    explicit Descend(Parser& parser) : p(parser) { ++p.recursion_; }
    ~Descend() { --p.recursion_; }
    // One more than the tree limit: the outermost parse_expr() is not a node.
    bool too_deep() const { return p.recursion_ > kExpressionDepthMax + 1; }
  };

  std::unique_ptr<Expr> parse_expr() {
    Descend guard(*this);
    if (guard.too_deep()) {
      error(cur().loc, "expression nests deeper than " + std::to_string(kExpressionDepthMax) + " levels");
      return nullptr;
    }
    return parse_or();
  }

  std::unique_ptr<Expr> binary(BinaryOp op, Loc loc, std::unique_ptr<Expr> l, std::unique_ptr<Expr> r) {
    auto e = node(Expr::Kind::kBinary, loc);
    e->binary = op;
    e->lhs = std::move(l);
    e->rhs = std::move(r);
    return finish(std::move(e));
  }

  std::unique_ptr<Expr> parse_or() {
    auto l = parse_and();
    while (l && is_word("or")) {
      const Loc at = cur().loc;
      bump();
      auto r = parse_and();
      if (!r) return nullptr;
      l = binary(BinaryOp::kOr, at, std::move(l), std::move(r));
    }
    return l;
  }

  std::unique_ptr<Expr> parse_and() {
    auto l = parse_not();
    while (l && is_word("and")) {
      const Loc at = cur().loc;
      bump();
      auto r = parse_not();
      if (!r) return nullptr;
      l = binary(BinaryOp::kAnd, at, std::move(l), std::move(r));
    }
    return l;
  }

  std::unique_ptr<Expr> parse_not() {
    if (!is_word("not")) return parse_compare();
    Descend guard(*this);
    if (guard.too_deep()) {
      error(cur().loc, "expression nests deeper than " + std::to_string(kExpressionDepthMax) + " levels");
      return nullptr;
    }
    auto e = node(Expr::Kind::kUnary, cur().loc);
    bump();
    e->unary = UnaryOp::kNot;
    e->lhs = parse_not();
    if (!e->lhs) return nullptr;
    return finish(std::move(e));
  }

  static bool compare_op(Tok t, BinaryOp& op) {
    switch (t) {
      case Tok::kLt: op = BinaryOp::kLt; return true;
      case Tok::kLe: op = BinaryOp::kLe; return true;
      case Tok::kGt: op = BinaryOp::kGt; return true;
      case Tok::kGe: op = BinaryOp::kGe; return true;
      case Tok::kEq: op = BinaryOp::kEq; return true;
      case Tok::kNe: op = BinaryOp::kNe; return true;
      case Tok::kIdent: case Tok::kNumber: case Tok::kString: case Tok::kLBrace: case Tok::kRBrace:
      case Tok::kLParen: case Tok::kRParen: case Tok::kLBracket: case Tok::kRBracket: case Tok::kComma:
      case Tok::kDot: case Tok::kPlus: case Tok::kMinus: case Tok::kStar: case Tok::kSlash: case Tok::kEnd:
      case Tok::kInvalid:
        return false;
    }
    return false;
  }

  std::unique_ptr<Expr> parse_compare() {
    auto l = parse_sum();
    if (!l) return nullptr;
    BinaryOp op{};
    std::unique_ptr<Expr> e;
    if (compare_op(cur().kind, op)) {
      const Loc at = cur().loc;
      bump();
      auto r = parse_sum();
      if (!r) return nullptr;
      e = binary(op, at, std::move(l), std::move(r));
    } else if (is_word("in")) {
      e = parse_in(std::move(l));
    } else {
      return l;
    }
    if (!e) return nullptr;
    BinaryOp again{};
    if (compare_op(cur().kind, again) || is_word("in")) {
      error(cur().loc, "comparisons do not chain; join them with 'and' (e.g. a < b and b < c)");
      return nullptr;
    }
    return e;
  }

  std::unique_ptr<Expr> parse_in(std::unique_ptr<Expr> lhs) {
    auto e = node(Expr::Kind::kIn, cur().loc);
    bump();  // 'in'
    e->lhs = std::move(lhs);
    if (!expect(Tok::kLBracket, "'[' to start the list after 'in'")) return nullptr;
    if (cur().kind == Tok::kRBracket) {
      error(cur().loc, "an 'in' list needs at least one element");
      return nullptr;
    }
    for (;;) {
      if (e->items.size() == kListLengthMax) {
        error(cur().loc, "an 'in' list holds at most " + std::to_string(kListLengthMax) + " elements");
        return nullptr;
      }
      auto item = parse_sum();
      if (!item) return nullptr;
      e->items.push_back(std::move(item));
      if (cur().kind == Tok::kComma) {
        bump();
        if (cur().kind == Tok::kRBracket) break;  // trailing comma
        continue;
      }
      break;
    }
    if (!expect(Tok::kRBracket, "',' or ']' in the list")) return nullptr;
    return finish(std::move(e));
  }

  std::unique_ptr<Expr> parse_sum() {
    auto l = parse_product();
    while (l && (cur().kind == Tok::kPlus || cur().kind == Tok::kMinus)) {
      const BinaryOp op = cur().kind == Tok::kPlus ? BinaryOp::kAdd : BinaryOp::kSub;
      const Loc at = cur().loc;
      bump();
      auto r = parse_product();
      if (!r) return nullptr;
      l = binary(op, at, std::move(l), std::move(r));
    }
    return l;
  }

  std::unique_ptr<Expr> parse_product() {
    auto l = parse_unary();
    while (l && (cur().kind == Tok::kStar || cur().kind == Tok::kSlash)) {
      const BinaryOp op = cur().kind == Tok::kStar ? BinaryOp::kMul : BinaryOp::kDiv;
      const Loc at = cur().loc;
      bump();
      auto r = parse_unary();
      if (!r) return nullptr;
      l = binary(op, at, std::move(l), std::move(r));
    }
    return l;
  }

  std::unique_ptr<Expr> parse_unary() {
    if (cur().kind != Tok::kMinus) return parse_primary();
    Descend guard(*this);
    if (guard.too_deep()) {
      error(cur().loc, "expression nests deeper than " + std::to_string(kExpressionDepthMax) + " levels");
      return nullptr;
    }
    auto e = node(Expr::Kind::kUnary, cur().loc);
    bump();
    e->unary = UnaryOp::kNegate;
    e->lhs = parse_unary();
    if (!e->lhs) return nullptr;
    return finish(std::move(e));
  }

  // Builds a number literal from a number token (and its unit suffix).
  std::unique_ptr<Expr> number_literal(const Token& t) {
    auto e = node(Expr::Kind::kNumber, t.loc);
    auto value = Decimal::parse(t.text);
    if (!value.ok()) {
      error(t.loc, "number '" + t.text + "' cannot be represented: " + value.error().message +
                       " (at most 11 integer and 8 fractional digits)");
      return nullptr;
    }
    e->number = value.value();
    e->integral = t.text.find('.') == std::string::npos;
    const std::string& u = t.suffix;
    if (u.empty()) {
      e->unit = LiteralUnit::kNone;
    } else if (u == "%") {
      e->unit = LiteralUnit::kPercent;
    } else if (u == "bps") {
      e->unit = LiteralUnit::kBps;
    } else if (u == "USD") {
      e->unit = LiteralUnit::kUsd;
    } else if (u == "s") {
      e->unit = LiteralUnit::kSeconds;
    } else if (u == "m") {
      e->unit = LiteralUnit::kMinutes;
    } else if (u == "h") {
      e->unit = LiteralUnit::kHours;
    } else if (u == "d") {
      e->unit = LiteralUnit::kDays;
    } else {
      error(t.loc, "unknown unit '" + u + "' after " + t.text + " (units: %, bps, USD, s, m, h, d)");
      return nullptr;
    }
    return e;
  }

  std::unique_ptr<Expr> parse_primary() {
    const Token& t = cur();
    switch (t.kind) {
      case Tok::kNumber: {
        auto e = number_literal(t);
        if (!e) return nullptr;
        bump();
        if (e->unit == LiteralUnit::kNone && is_word("USD")) {
          e->unit = LiteralUnit::kUsd;
          bump();
        } else if (e->unit == LiteralUnit::kNone && cur().kind == Tok::kIdent && is_unit_word(cur().text)) {
          error(cur().loc, "write the unit '" + cur().text + "' right after the number (e.g. 25bps, 30m); only " +
                               "USD is written apart (1000 USD)");
          return nullptr;
        }
        return e;
      }
      case Tok::kString: {
        auto e = node(Expr::Kind::kString, t.loc);
        e->text = t.text;
        bump();
        return e;
      }
      case Tok::kLParen: {
        Descend guard(*this);
        if (guard.too_deep()) {
          error(t.loc, "expression nests deeper than " + std::to_string(kExpressionDepthMax) + " levels");
          return nullptr;
        }
        bump();
        // Each pair of parentheses costs one level of recursion (this
        // guard), even though it adds no node to the tree.
        auto e = parse_or();
        if (!e) return nullptr;
        if (!expect(Tok::kRParen, "')'")) return nullptr;
        return e;
      }
      case Tok::kIdent: {
        if (t.text == "true" || t.text == "false") {
          auto e = node(Expr::Kind::kBool, t.loc);
          e->boolean = t.text == "true";
          bump();
          return e;
        }
        if (is_reserved(t.text)) {
          error(t.loc, "expected a value, found '" + t.text + "'");
          return nullptr;
        }
        const Loc at = t.loc;
        std::string name = t.text;
        bump();
        if (cur().kind == Tok::kDot) {
          bump();
          if (cur().kind != Tok::kIdent) {
            error(cur().loc, "expected a field name after '" + name + ".', found " + found());
            return nullptr;
          }
          name += "." + cur().text;
          bump();
          auto e = node(Expr::Kind::kFact, at);
          e->text = std::move(name);
          return e;
        }
        auto e = node(Expr::Kind::kName, at);
        e->text = std::move(name);
        return e;
      }
      case Tok::kRBrace: case Tok::kLBrace: case Tok::kRParen: case Tok::kLBracket: case Tok::kRBracket:
      case Tok::kComma: case Tok::kDot: case Tok::kPlus: case Tok::kMinus: case Tok::kStar: case Tok::kSlash:
      case Tok::kLt: case Tok::kLe: case Tok::kGt: case Tok::kGe: case Tok::kEq: case Tok::kNe: case Tok::kEnd:
      case Tok::kInvalid:
        break;
    }
    error(t.loc, "expected a value, found " + found());
    return nullptr;
  }

  std::vector<Token> t_;
  DiagnosticSink& sink_;
  std::size_t pos_ = 0;
  bool failed_ = false;
  std::size_t recursion_ = 0;
};

}  // namespace

SourceFile parse_source(std::string_view text, DiagnosticSink& sink) {
  Lexer lexer(text, sink);
  Parser parser(lexer.run(), sink);
  return parser.run();
}

}  // namespace ta::rules
