// Every named limit at the limit, one below and one above, plus huge and
// pathological inputs that must be refused quickly and cleanly.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "rules_test_util.h"

namespace ta::rules {
namespace {

using testing::compile_errors;
using testing::compile_ok;
using testing::rule_text;

bool compiles(const std::string& src) { return compile_source(src, "l.rule", testing::kCore).ok(); }

std::string short_rule(std::size_t i) {
  return "rule r" + std::to_string(i) + " v1 \"d\" { from core when true then warn \"w\" }\n";
}

// A source of exactly `size` bytes: one rule, padded with a comment.
std::string source_of_size(std::size_t size) {
  std::string s = short_rule(0);
  std::string pad = "#";
  while (s.size() + pad.size() + 1 < size) pad += 'x';
  s += pad + "\n";
  EXPECT_EQ(s.size(), size);
  return s;
}

TEST(RulesLimits, SourceSize) {
  EXPECT_TRUE(compiles(source_of_size(kSourceSizeMax - 1)));
  EXPECT_TRUE(compiles(source_of_size(kSourceSizeMax)));
  auto c = compile_source(source_of_size(kSourceSizeMax + 1), "big.rule", testing::kCore);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.render_errors(), "big.rule: error: file is 32769 bytes; the limit is 32768\n");
}

TEST(RulesLimits, RuleCount) {
  auto many = [](std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += short_rule(i);
    return s;
  };
  EXPECT_TRUE(compiles(many(kRuleCountMax - 1)));
  auto at = compile_source(many(kRuleCountMax), "l.rule", testing::kCore);
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at.value().size(), kRuleCountMax);
  EXPECT_EQ(at.value().evaluate(testing::typical_facts()).warnings.size(), kRuleCountMax);
  EXPECT_NE(compile_errors(many(kRuleCountMax + 1)).find("the rule set has 257 rules; the limit is 256"),
            std::string::npos);
}

std::string nots(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += "not ";
  return s + "true";
}

TEST(RulesLimits, ExpressionDepth) {
  // n 'not's over a literal nest n + 1 levels.
  EXPECT_TRUE(compiles(rule_text(nots(kExpressionDepthMax - 2))));
  EXPECT_TRUE(compiles(rule_text(nots(kExpressionDepthMax - 1))));
  EXPECT_NE(compile_errors(rule_text(nots(kExpressionDepthMax))).find("expression nests deeper than 32 levels"),
            std::string::npos);
  // A long left-leaning chain nests as deep as it is long.
  auto chain = [](std::size_t additions) {
    std::string s = "1";
    for (std::size_t i = 0; i < additions; ++i) s += " + 1";
    return s + " > 0";  // depth additions + 2
  };
  EXPECT_TRUE(compiles(rule_text(chain(kExpressionDepthMax - 2))));
  EXPECT_FALSE(compiles(rule_text(chain(kExpressionDepthMax - 1))));
  // Parentheses cost parser recursion even though they add no node.
  auto parens = [](std::size_t n) { return std::string(n, '(') + "true" + std::string(n, ')'); };
  EXPECT_TRUE(compiles(rule_text(parens(kExpressionDepthMax))));
  EXPECT_NE(compile_errors(rule_text(parens(kExpressionDepthMax + 1))).find("expression nests deeper"),
            std::string::npos);
  auto minus = [](std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += "-";
    return s + "order.quantity < 1";
  };
  EXPECT_TRUE(compiles(rule_text(minus(kExpressionDepthMax - 2))));
  EXPECT_FALSE(compiles(rule_text(minus(kExpressionDepthMax))));
}

// A balanced sum of n facts compared with zero compiles to n - 1 additions
// and one comparison: exactly n steps, at a nesting depth of about log2(n).
std::string balanced_sum(std::size_t n) {
  if (n == 1) return "order.quantity";
  const std::size_t left = n / 2;
  return "(" + balanced_sum(left) + ") + (" + balanced_sum(n - left) + ")";
}
std::string steps(std::size_t n) { return balanced_sum(n) + " > 0"; }

TEST(RulesLimits, EvaluationSteps) {
  static_assert(kEvaluationStepsMax == 128);
  EXPECT_TRUE(compiles(rule_text(steps(kEvaluationStepsMax - 1))));
  EXPECT_TRUE(compiles(rule_text(steps(kEvaluationStepsMax))));
  const std::string errors = compile_errors(rule_text(steps(kEvaluationStepsMax + 1)));
  EXPECT_NE(errors.find("rule 't' compiles to 129 evaluation steps; the limit is 128"), std::string::npos) << errors;
  // The action's value counts too.
  EXPECT_TRUE(compiles(rule_text(steps(kEvaluationStepsMax - 1), "cap quantity to order.quantity * 50%")));
  EXPECT_FALSE(compiles(rule_text(steps(kEvaluationStepsMax), "cap quantity to order.quantity * 50%")));
}

TEST(RulesLimits, IdentifierLength) {
  const std::string at(kIdentifierLengthMax, 'a');
  EXPECT_TRUE(compiles(rule_text("true", "deny \"x\"", at.substr(1))));
  EXPECT_TRUE(compiles(rule_text("true", "deny \"x\"", at)));
  EXPECT_NE(compile_errors(rule_text("true", "deny \"x\"", at + "a")).find("name is 65 characters long; the limit is 64"),
            std::string::npos);
  EXPECT_FALSE(compiles(rule_text("order." + at + "a > 1")));
}

TEST(RulesLimits, StringLength) {
  const std::string at(kStringLengthMax, 's');
  EXPECT_TRUE(compiles(rule_text("true", "deny \"" + at.substr(1) + "\"")));
  EXPECT_TRUE(compiles(rule_text("true", "deny \"" + at + "\"")));
  EXPECT_NE(compile_errors(rule_text("true", "deny \"" + at + "s\"")).find("string is 201 characters long; the limit is 200"),
            std::string::npos);
  // An escaped quote counts as one character.
  EXPECT_TRUE(compiles(rule_text("true", "deny \"" + at.substr(1) + "\\\"\"")));
}

TEST(RulesLimits, ListLength) {
  auto list = [](std::size_t n) {
    std::string s = "time.utc_hour in [";
    for (std::size_t i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(i % 24);
    return s + "]";
  };
  EXPECT_TRUE(compiles(rule_text(list(kListLengthMax - 1))));
  EXPECT_TRUE(compiles(rule_text(list(kListLengthMax))));
  EXPECT_NE(compile_errors(rule_text(list(kListLengthMax + 1))).find("an 'in' list holds at most 32 elements"),
            std::string::npos);
}

TEST(RulesLimits, Version) {
  auto with_version = [](const std::string& v) { return "rule r " + v + " \"d\" { from core when true then warn \"w\" }"; };
  EXPECT_TRUE(compiles(with_version("v999999")));
  EXPECT_TRUE(compiles(with_version("v1000000")));
  EXPECT_FALSE(compiles(with_version("v1000001")));
  EXPECT_FALSE(compiles(with_version("v0")));
  EXPECT_TRUE(compiles(with_version("v1")));
  EXPECT_FALSE(compiles(with_version("v99999999999999999999")));
}

TEST(RulesLimits, HoldExpiry) {
  auto hold = [](const std::string& d) { return rule_text("true", "hold for approval within " + d); };
  EXPECT_FALSE(compiles(hold("59s")));
  EXPECT_TRUE(compiles(hold("60s")));
  EXPECT_TRUE(compiles(hold("1m")));
  EXPECT_TRUE(compiles(hold("61s")));
  EXPECT_TRUE(compiles(hold("86399s")));
  EXPECT_TRUE(compiles(hold("24h")));
  EXPECT_TRUE(compiles(hold("1d")));
  EXPECT_FALSE(compiles(hold("86401s")));
  EXPECT_FALSE(compiles(hold("1.5s")));
  EXPECT_FALSE(compiles(hold("30%")));
}

TEST(RulesLimits, DiagnosticCount) {
  auto broken = [](std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += rule_text("order.quantity > 1 USD", "deny \"x\"", "r" + std::to_string(i));
    return s;
  };
  auto count = [](const std::string& src) { return compile_source(src, "d.rule", testing::kCore).errors().size(); };
  EXPECT_EQ(count(broken(kDiagnosticCountMax - 1)), kDiagnosticCountMax - 1);
  EXPECT_EQ(count(broken(kDiagnosticCountMax)), kDiagnosticCountMax);
  auto over = compile_source(broken(kDiagnosticCountMax + 1), "d.rule", testing::kCore);
  ASSERT_EQ(over.errors().size(), kDiagnosticCountMax + 1);
  EXPECT_EQ(over.errors().back().message, "too many errors: 1 more not shown");
}

// Inputs an attacker (or a confused model) might send as a proposal. Each
// must finish with errors, not crash or hang; the limits bound the work.
TEST(RulesLimits, PathologicalSourcesAreRefusedCleanly) {
  const std::size_t n = kSourceSizeMax - 200;
  const std::string cases[] = {
      rule_text(std::string(n, '(')),
      rule_text(nots(n / 4)),
      rule_text(std::string(n, '-') + "1 > 0"),
      rule_text("time.utc_hour in [" + std::string(n / 2, '[')),
      std::string(n, '"'),
      std::string(n, '\n') + "rule",
      std::string(n, 'x'),
      rule_text([&] {
        std::string s = "1";
        while (s.size() < n) s += "*1";
        return s + " > 0";
      }()),
      [&] {
        std::string s;
        while (s.size() < n) s += "rule a v1 \"d\" { from core when ";
        return s;
      }(),
  };
  for (const auto& src : cases) {
    auto c = compile_source(src, "p.rule", testing::kCore);
    EXPECT_FALSE(c.ok()) << src.substr(0, 80);
    EXPECT_LE(c.errors().size(), kDiagnosticCountMax + 1);
  }
  // A file that is one long comment is legal and empty.
  auto comment = compile_source(std::string(n, '#'), "c.rule", testing::kCore);
  ASSERT_TRUE(comment.ok());
  EXPECT_EQ(comment.value().size(), 0u);
}

TEST(RulesLimits, RandomBytesNeverCrash) {
  const std::uint32_t seed = testing::test_seed();
  std::mt19937 rng(seed);
  const std::string alphabet = "rule v1 \"{}()[],.+-*/<>=! and or not in when then from core true false 5% 25bps 30m "
                               "USD order.quantity market.spread deny cap quantity to hold for approval within\n#\x01\xff";
  for (int i = 0; i < 300; ++i) {
    std::string src;
    const int len = std::uniform_int_distribution<int>(0, 400)(rng);
    for (int k = 0; k < len; ++k) src += alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(rng)];
    auto c = compile_source(src, "r.rule", testing::kCore);
    if (c.ok()) (void)c.value().evaluate(testing::typical_facts());
    auto f = format_source(src, "r.rule");
    if (f.ok()) {
      // Canonical text of anything that parses parses again to itself.
      auto again = format_source(f.value(), "r.rule");
      ASSERT_TRUE(again.ok()) << "seed=" << seed;
      EXPECT_EQ(again.value(), f.value()) << "seed=" << seed;
    }
  }
}

// The largest legal rule set: as many rules as allowed, each near the step
// limit, all firing. Evaluation stays bounded by count * steps.
TEST(RulesLimits, LargestRuleSetEvaluates) {
  std::string src;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < kRuleCountMax; ++i) {
    std::string rule = rule_text(steps(16), "warn \"w\"", "r" + std::to_string(i));
    if (src.size() + rule.size() > kSourceSizeMax) {
      files.push_back(src);
      src.clear();
    }
    src += rule;
  }
  files.push_back(src);
  ASSERT_GT(files.size(), 1u);
  // Several files become one set through the loader's pipeline; here the
  // first file alone is enough to show size and speed stay bounded.
  auto c = compile_source(files[0], "big.rule", testing::kCore);
  ASSERT_TRUE(c.ok()) << c.render_errors();
  const Outcome o = c.value().evaluate(testing::typical_facts());
  EXPECT_EQ(o.warnings.size(), c.value().size());
}

}  // namespace
}  // namespace ta::rules
