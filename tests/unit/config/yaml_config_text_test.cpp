// ConfigMap::problem_in_text and ConfigMap::keys: positions inside scalar
// text (for values with their own syntax) and key listing.
#include <gtest/gtest.h>

#include "proto/yaml_config.h"

namespace ta::proto {
namespace {

std::string only_problem(ConfigReader& r) {
  const auto problems = r.finish();
  EXPECT_EQ(problems.size(), 1u);
  return problems.empty() ? std::string() : problems[0].to_string();
}

TEST(YamlConfigText, PlainScalarColumnIsValueColumnPlusOffset) {
  ConfigReader r("entry: fast > > slow\n", "s.yaml", "/");
  ConfigMap root = r.root();
  (void)root.text("entry", Need::kRequired, "", 100);
  root.problem_in_text("entry", 7, "expected an operand");
  EXPECT_EQ(only_problem(r), "s.yaml:1:15: key 'entry': expected an operand");
}

TEST(YamlConfigText, QuotedScalarsSkipTheQuoteAndEscapes) {
  {
    ConfigReader r("a:\n  b: \"x \\\" y\"\n", "s.yaml", "/");
    ConfigMap b = r.root().map("a", Need::kRequired);
    EXPECT_EQ(b.text("b", Need::kRequired, "", 100), "x \" y");
    b.problem_in_text("b", 4, "here");  // the 'y'
    EXPECT_EQ(only_problem(r), "s.yaml:2:12: key 'a.b': here");
  }
  {
    ConfigReader r("b: 'it''s x'\n", "s.yaml", "/");
    ConfigMap root = r.root();
    EXPECT_EQ(root.text("b", Need::kRequired, "", 100), "it's x");
    root.problem_in_text("b", 5, "here");  // the 'x'
    EXPECT_EQ(only_problem(r), "s.yaml:1:11: key 'b': here");
  }
}

TEST(YamlConfigText, OffsetJustPastTheEndIsOnTheLine) {
  ConfigReader r("c: \"a >\"\n", "s.yaml", "/");
  ConfigMap root = r.root();
  (void)root.text("c", Need::kRequired, "", 100);
  root.problem_in_text("c", 3, "unexpected end");
  EXPECT_EQ(only_problem(r), "s.yaml:1:8: key 'c': unexpected end");
}

TEST(YamlConfigText, BlockAndMultiLineScalarsPointAtTheValueWithTheOffset) {
  {
    ConfigReader r("c: |\n  a > b\n", "s.yaml", "/");
    ConfigMap root = r.root();
    (void)root.text("c", Need::kRequired, "", 100);
    root.problem_in_text("c", 2, "bad");
    EXPECT_EQ(only_problem(r), "s.yaml:1:4: key 'c': at character 3: bad");
  }
  {
    ConfigReader r("c: a >\n  b and\n", "s.yaml", "/");
    ConfigMap root = r.root();
    EXPECT_EQ(root.text("c", Need::kRequired, "", 100), "a > b and");
    root.problem_in_text("c", 6, "bad");  // past the line break
    EXPECT_EQ(only_problem(r), "s.yaml:1:4: key 'c': at character 7: bad");
  }
}

TEST(YamlConfigText, NonScalarFallsBackToProblem) {
  ConfigReader r("c: [1, 2]\n", "s.yaml", "/");
  ConfigMap root = r.root();
  root.problem_in_text("c", 3, "not text");
  const auto problems = r.finish();
  // Also the unknown key 'c', since no getter asked for it.
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].to_string(), "s.yaml:1:1: key 'c': unknown key; allowed keys here: none");
  EXPECT_EQ(problems[1].to_string(), "s.yaml:1:4: key 'c': not text");
}

TEST(YamlConfigText, KeysInFileOrderWithoutMarkingThemAsked) {
  ConfigReader r("m:\n  zeta: 1\n  alpha: {x: 1}\n", "s.yaml", "/");
  ConfigMap m = r.root().map("m", Need::kRequired);
  EXPECT_EQ(m.keys(), (std::vector<std::string>{"zeta", "alpha"}));
  EXPECT_EQ(m.integer("zeta", Need::kRequired, 0, 0, 9), 1);
  const auto problems = r.finish();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].key, "m.alpha");
  EXPECT_TRUE(r.root().map("absent", Need::kOptional).keys().empty());
}

}  // namespace
}  // namespace ta::proto
