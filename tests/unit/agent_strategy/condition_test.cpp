// The condition language: precedence, types, crosses, non-finite inputs,
// error positions and limits. Uses the private compiler directly.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "condition.h"
#include "strategy/declarative.h"

namespace ta::agent::detail {
namespace {

// Names x (slot 0) and y (slot 1); constants from slot 2 on.
class Env {
 public:
  Env() {
    resolver.name = [](std::string_view n) -> Result<std::uint16_t> {
      if (n == "x") return std::uint16_t{0};
      if (n == "y") return std::uint16_t{1};
      return make_error("unknown name '" + std::string(n) + "'");
    };
    resolver.constant = [this](double v) {
      cur.push_back(v);
      prev.push_back(v);
      return static_cast<std::uint16_t>(cur.size() - 1);
    };
    // Slots from 2 on are constants; "k" names one (slot 2, value 1.5).
    resolver.negated = [this](std::uint16_t slot) -> std::optional<std::uint16_t> {
      if (slot < 2) return std::nullopt;
      return resolver.constant(-cur[slot]);
    };
    const auto base = resolver.name;
    k_slot = resolver.constant(1.5);
    resolver.name = [base, this](std::string_view n) -> Result<std::uint16_t> {
      if (n == "k") return k_slot;
      return base(n);
    };
  }
  std::uint16_t k_slot = 0;
  CompileResult compile(std::string_view text, std::size_t tokens_max = kConditionTokensMax,
                        std::size_t depth_max = kConditionDepthMax) {
    return compile_condition(text, resolver, tokens_max, depth_max);
  }
  // Evaluates with x, y now and px, py on the previous bar.
  bool eval(std::string_view text, double x, double y, double px = 0, double py = 0, bool* bad_out = nullptr) {
    const auto r = compile(text);
    EXPECT_TRUE(r.errors.empty()) << text << ": " << (r.errors.empty() ? "" : r.errors[0].message);
    if (!r.errors.empty()) return false;
    cur[0] = x;
    cur[1] = y;
    prev[0] = px;
    prev[1] = py;
    bool bad = false;
    const bool v = run_program(r.program, cur.data(), prev.data(), bad);
    if (bad_out != nullptr) *bad_out = bad;
    return v;
  }
  SlotResolver resolver;
  std::vector<double> cur{0, 0};
  std::vector<double> prev{0, 0};
};

TEST(Condition, ArithmeticPrecedence) {
  Env e;
  EXPECT_TRUE(e.eval("1 + 2 * 3 == 7", 0, 0));
  EXPECT_TRUE(e.eval("(1 + 2) * 3 == 9", 0, 0));
  EXPECT_TRUE(e.eval("-2 * -3 == 6", 0, 0));
  EXPECT_TRUE(e.eval("10 - 4 - 3 == 3", 0, 0));  // left-associative
  EXPECT_TRUE(e.eval("8 / 4 / 2 == 1", 0, 0));
  EXPECT_TRUE(e.eval("x * 2 + y >= 7", 3, 1));
  EXPECT_FALSE(e.eval("x * 2 + y >= 7", 3, 0.5));
  EXPECT_TRUE(e.eval("x != y", 1, 2));
  EXPECT_TRUE(e.eval("x <= 1 and x >= 1 and x < 1.5 and x > .5", 1, 0));
}

TEST(Condition, LogicPrecedence) {
  Env e;
  EXPECT_TRUE(e.eval("not 1 > 2", 0, 0));
  EXPECT_TRUE(e.eval("1 < 2 and 2 < 1 or 3 > 2", 0, 0));   // (F) or T
  EXPECT_FALSE(e.eval("1 < 2 and (2 < 1 or 3 < 2)", 0, 0));
  EXPECT_TRUE(e.eval("not (1 < 2 and 2 < 1)", 0, 0));
  EXPECT_TRUE(e.eval("not not 1 < 2", 0, 0));
  EXPECT_TRUE(e.eval("((x > 1))", 2, 0));
}

TEST(Condition, Crosses) {
  Env e;
  // x crosses above y: previously at or below, now above.
  EXPECT_TRUE(e.eval("x crosses_above y", 2, 1, /*px=*/1, /*py=*/1));
  EXPECT_TRUE(e.eval("x crosses_above y", 2, 1, 0, 1));
  EXPECT_FALSE(e.eval("x crosses_above y", 2, 1, 2, 1));  // already above
  EXPECT_FALSE(e.eval("x crosses_above y", 1, 1, 0, 1));  // touching is not above
  EXPECT_TRUE(e.eval("x crosses_below y", 0, 1, 1, 1));
  EXPECT_FALSE(e.eval("x crosses_below y", 0, 1, 0, 1));
  // Against a constant and with arithmetic on both sides.
  EXPECT_TRUE(e.eval("x crosses_above 30", 31, 0, 29, 0));
  EXPECT_TRUE(e.eval("x - 1 crosses_below y * 2", 2, 1, 5, 1));
  EXPECT_TRUE(e.compile("x crosses_above y").program.uses_prev);
  EXPECT_FALSE(e.compile("x > y").program.uses_prev);
}

TEST(Condition, ComparisonsOfPlainOperandsAreOneInstruction) {
  Env e;
  EXPECT_EQ(e.compile("x > y").program.code.size(), 1u);
  EXPECT_EQ(e.compile("x <= 2").program.code.size(), 1u);
  // A cross: two fused compares and an and.
  EXPECT_EQ(e.compile("x crosses_above y").program.code.size(), 3u);
  // Minus a number or a parameter is a constant of its own...
  EXPECT_EQ(e.compile("x <= -k").program.code.size(), 1u);
  EXPECT_EQ(e.compile("x <= -3").program.code.size(), 1u);
  EXPECT_TRUE(e.eval("x <= -k", -1.5, 0));
  EXPECT_FALSE(e.eval("x <= -k", -1.4, 0));
  EXPECT_TRUE(e.eval("x == --k", 1.5, 0));
  // ...minus a bar-dependent value is computed each bar.
  EXPECT_EQ(e.compile("x <= -y").program.code.size(), 4u);
  EXPECT_TRUE(e.eval("x <= -y", -2, 1));
  EXPECT_TRUE(e.eval("x + 1 > y", 1, 1.5));
}

TEST(Condition, NonFiniteOperandsMakeTheConditionFalseAndBad) {
  Env e;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  bool bad = false;
  EXPECT_FALSE(e.eval("x > 1", nan, 0, 0, 0, &bad));
  EXPECT_TRUE(bad);
  // 'not' of a NaN comparison must not turn into true.
  EXPECT_FALSE(e.eval("not (x > 1)", nan, 0, 0, 0, &bad));
  EXPECT_TRUE(bad);
  EXPECT_FALSE(e.eval("1 > 2 or not x > 1", nan, 0, 0, 0, &bad));
  EXPECT_TRUE(bad);
  // Division by zero gives infinity: bad too.
  EXPECT_FALSE(e.eval("1 / x > 5", 0, 0, 0, 0, &bad));
  EXPECT_TRUE(bad);
  // A NaN on the previous bar spoils a cross.
  EXPECT_FALSE(e.eval("x crosses_above y", 2, 1, nan, 1, &bad));
  EXPECT_TRUE(bad);
  EXPECT_TRUE(e.eval("x > 1", 2, 0, 0, 0, &bad));
  EXPECT_FALSE(bad);
}

struct ErrorCase {
  const char* text;
  std::size_t offset;
  const char* message;
};

TEST(Condition, ErrorsSayWhereAndWhy) {
  const ErrorCase cases[] = {
      {"x > > y", 4, "expected a number, a name or '(' but found '>'"},
      {"x crosses_above", 15, "expected a number, a name or '(' but found the end of the condition"},
      {"(x > y", 6, "expected ')' to close the '(' at character 1 but found the end of the condition"},
      {"x > y y", 6, "expected 'and', 'or' or the end of the condition but found 'y'"},
      {"x + 1", 0, "a condition must compare something: expected a comparison or a cross"},
      {"x > y and 3", 10, "'and' joins conditions; the right side is a number"},
      {"x or y > 1", 0, "'or' joins conditions; the left side is a number"},
      {"not x", 4, "'not' takes a condition; this is a number"},
      {"(x > 1) + 2 > 1", 0, "expected a number here, got a condition (a comparison, cross, and/or/not)"},
      {"x < y < 3", 6, "comparisons do not chain; join them with 'and'"},
      {"x $ y", 2, "unexpected character '$'"},
      {"x = y", 2, "unexpected character '='; equality is '=='"},
      {"x > 1.", 6, "expected a digit after the decimal point"},
      {"x > 1a", 5, "unexpected character 'a' in a number"},
      {"x > zz", 4, "unknown name 'zz'"},
      {"x > y.", 6, "expected an output name after '.'"},
      {"", 0, "expected a number, a name or '(' but found the end of the condition"},
  };
  for (const auto& c : cases) {
    Env e;
    const auto r = e.compile(c.text);
    ASSERT_EQ(r.errors.size(), 1u) << c.text;
    EXPECT_EQ(r.errors[0].offset, c.offset) << c.text;
    EXPECT_EQ(r.errors[0].message, c.message) << c.text;
    EXPECT_TRUE(r.program.empty()) << c.text;
  }
}

TEST(Condition, TokenLimitAtOneBelowAndAbove) {
  // "-1 + 1 + ... + 1 < 5" with k ones has 2k + 2 tokens.
  const auto text = [](int ones, bool unary) {
    std::string s = unary ? "-1" : "1";
    for (int i = 1; i < ones; ++i) s += " + 1";
    return s + " < 500";
  };
  Env e;
  EXPECT_TRUE(e.compile(text(127, true), 256).errors.empty());   // 256 tokens: at the limit
  EXPECT_TRUE(e.compile(text(127, false), 256).errors.empty());  // 255
  const auto over = e.compile(text(128, false), 256);            // 257
  ASSERT_EQ(over.errors.size(), 1u);
  EXPECT_EQ(over.errors[0].message, "more than 256 tokens");
}

TEST(Condition, DepthLimitAtOneBelowAndAbove) {
  // The whole condition is one level; each parenthesis adds one.
  const auto nested = [](int parens) { return std::string(parens, '(') + "x > 1" + std::string(parens, ')'); };
  Env e;
  EXPECT_TRUE(e.compile(nested(31), 256, 32).errors.empty());
  EXPECT_TRUE(e.compile(nested(30), 256, 32).errors.empty());
  const auto deep = e.compile(nested(32), 256, 32);
  ASSERT_EQ(deep.errors.size(), 1u);
  EXPECT_EQ(deep.errors[0].message, "nested deeper than 32 levels");
  EXPECT_EQ(deep.errors[0].offset, 31u);
  // 'not' and unary minus count too, so neither can recurse without bound.
  std::string nots;
  for (int i = 0; i < 40; ++i) nots += "not ";
  EXPECT_FALSE(e.compile(nots + "x > 1", 256, 32).errors.empty());
  EXPECT_FALSE(e.compile("x > " + std::string(40, '-') + "1", 256, 32).errors.empty());
}

TEST(Condition, StackStaysWithinTheLimit) {
  Env e;
  // Right-nested arithmetic needs the deepest stack for its size.
  std::string s = "x";
  for (int i = 0; i < 20; ++i) s = "1 + (" + s + ")";
  const auto r = e.compile(s + " > 0");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].message;
  EXPECT_LE(r.program.stack_max, kEvalStackMax);
  EXPECT_EQ(r.program.stack_max, 21u);  // twenty 1s and x
}

}  // namespace
}  // namespace ta::agent::detail
