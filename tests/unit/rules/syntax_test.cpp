// Lexer, parser, type checker and printer: golden error files, canonical
// form, and the random round trip print -> parse -> same tree.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

#include "ast.h"
#include "checker.h"
#include "diagnostics.h"
#include "parser.h"
#include "rules_test_util.h"

namespace ta::rules {
namespace {

using testing::compile_errors;
using testing::compile_ok;
using testing::rule_text;

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

fs::path source_dir() {
  const char* dir = std::getenv("TA_SOURCE_DIR");
  return dir ? fs::path(dir) : fs::path(".");
}

// Every bad/X.rule must fail with exactly the text in bad/X.err. Set
// TA_UPDATE_GOLDEN=1 to rewrite the .err files after a deliberate change
// (then review the diff).
TEST(RulesGolden, BadFilesGiveExactErrors) {
  const fs::path dir = source_dir() / "tests/unit/rules/bad";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".rule") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 30u);
  const bool update = std::getenv("TA_UPDATE_GOLDEN") != nullptr;
  for (const auto& f : files) {
    const std::string name = "bad/" + f.filename().string();
    auto c = compile_source(read(f), name, testing::kCore);
    ASSERT_FALSE(c.ok()) << name << " compiled";
    const std::string got = c.render_errors();
    fs::path golden = f;
    golden.replace_extension(".err");
    if (update) {
      std::ofstream(golden, std::ios::binary) << got;
      continue;
    }
    EXPECT_EQ(got, read(golden)) << "golden mismatch for " << name;
    // The structured form agrees with the rendered one.
    for (const auto& d : c.errors()) {
      EXPECT_EQ(d.file, name);
      EXPECT_FALSE(d.message.empty());
    }
  }
}

// Every rule in a code block of docs/rule-dsl.md compiles (the grammar
// block excepted), so the reference never shows a rule that does not work.
TEST(RulesDocs, ExamplesInTheReferenceCompile) {
  const std::string doc = read(source_dir() / "docs/rule-dsl.md");
  ASSERT_FALSE(doc.empty());
  // Collect the plain ``` blocks (not ```cpp and the like).
  std::vector<std::string> blocks;
  std::istringstream lines(doc);
  std::string line, block;
  bool in_block = false, plain = false;
  while (std::getline(lines, line)) {
    if (line.rfind("```", 0) == 0) {
      if (in_block && plain) blocks.push_back(block);
      plain = !in_block && line == "```";
      in_block = !in_block;
      block.clear();
      continue;
    }
    if (in_block) block += line + "\n";
  }
  std::size_t rules = 0;
  for (const std::string& text : blocks) {
    // Only blocks of rules; the syntax template (ID vVERSION) is not one.
    if ((text.rfind("rule ", 0) != 0 && text.rfind("#", 0) != 0) || text.find("ID vVERSION") != std::string::npos) {
      continue;
    }
    // Split into single rules (with the comments above them).
    std::size_t at = 0;
    for (std::size_t next; (next = text.find("\n}\n", at)) != std::string::npos; at = next + 3) {
      const std::string one = text.substr(at, next + 3 - at);
      const bool proposal = one.find("from proposal") != std::string::npos;
      const SourceOrigin origin = proposal ? SourceOrigin::any_proposal() : SourceOrigin::core();
      auto c = compile_source(one, "doc", origin);
      EXPECT_TRUE(c.ok()) << one << c.render_errors();
      ++rules;
    }
  }
  EXPECT_GE(rules, 10u);
}

TEST(RulesSyntax, ErrorPointsAtFileLineColumnWithCaret) {
  const std::string src =
      "rule spread_check v1 \"Typo\" {\n"
      "  from core\n"
      "  when market.sprad > 25bps\n"
      "  then deny \"wide\"\n"
      "}\n";
  auto c = compile_source(src, "rules/core/x.rule", testing::kCore);
  ASSERT_FALSE(c.ok());
  ASSERT_EQ(c.errors().size(), 1u);
  const Diagnostic& d = c.errors()[0];
  EXPECT_EQ(d.line, 3u);
  EXPECT_EQ(d.column, 8u);
  EXPECT_EQ(d.render(),
            "rules/core/x.rule:3:8: error: unknown fact 'market.sprad' (did you mean 'market.spread'?)\n"
            "    when market.sprad > 25bps\n"
            "         ^\n");
}

TEST(RulesSyntax, CanonicalFormOfTheBriefExample) {
  auto f = format_source(
      "rule   volatility_spike_cap v1 \"Halve size\"{ from core\n"
      "when market.realized_vol_1h>2.5*market.realized_vol_24h and not(order.reduce_only) # comment\n"
      "then cap quantity to order.quantity*50.0% }",
      "x.rule");
  ASSERT_TRUE(f.ok()) << f.render_errors();
  EXPECT_EQ(f.value(),
            "rule volatility_spike_cap v1 \"Halve size\" {\n"
            "  from core\n"
            "  when market.realized_vol_1h > 2.5 * market.realized_vol_24h and not order.reduce_only\n"
            "  then cap quantity to order.quantity * 50%\n"
            "}\n");
}

TEST(RulesSyntax, PrinterKeepsOnlyNeededParentheses) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"(a.b)", "a.b"},
      {"(1 + 2) * 3", "(1 + 2) * 3"},
      {"1 + (2 * 3)", "1 + 2 * 3"},
      {"1 - (2 - 3)", "1 - (2 - 3)"},
      {"(1 - 2) - 3", "1 - 2 - 3"},
      {"- (1 + 2)", "-(1 + 2)"},
      {"- - 1", "-(-1)"},
      {"1 - -2", "1 - -2"},
      {"not (a.b and c.d)", "not (a.b and c.d)"},
      {"(not a.b) and c.d", "not a.b and c.d"},
      {"a.b or (c.d and e.f)", "a.b or c.d and e.f"},
      {"(a.b or c.d) and e.f", "(a.b or c.d) and e.f"},
      {"not (1 < 2)", "not 1 < 2"},
      {"(1 < 2) == true", "(1 < 2) == true"},
      {"x.y in [1, 2.50, 3%,]", "x.y in [1, 2.5, 3%]"},
      {"1.0 + 2", "1.0 + 2"},
      {"1000USD", "1000 USD"},
  };
  for (const auto& c : cases) {
    DiagnosticSink sink;
    const std::string src = rule_text(c.in);
    sink.set_source("t", src);
    SourceFile f = parse_source(src, sink);
    ASSERT_EQ(sink.count(), 0u) << c.in;
    ASSERT_EQ(f.rules.size(), 1u);
    EXPECT_EQ(print_expr(*f.rules[0].condition), c.out) << c.in;
  }
}

TEST(RulesSyntax, RuleHeaderAndClauses) {
  const std::string src =
      "# leading comment\n"
      "rule a v12 \"Quote \\\" and backslash \\\\\" {\n"
      "  from proposal \"p-2024-001\"\n"
      "  enabled false\n"
      "  when true\n"
      "  then hold for approval within 90m\n"
      "}\n"
      "rule b v1 \"second\" { from core enabled true when false then force reduce_only }\n";
  auto c = compile_source(src, "t.rule", SourceOrigin::any_proposal());
  ASSERT_FALSE(c.ok());  // rule b says 'from core' in a proposal
  EXPECT_NE(c.render_errors().find("'from core' is reserved"), std::string::npos);
  auto f = format_source(src, "t.rule");
  ASSERT_TRUE(f.ok()) << f.render_errors();
  EXPECT_EQ(f.value(),
            "rule a v12 \"Quote \\\" and backslash \\\\\" {\n"
            "  from proposal \"p-2024-001\"\n"
            "  enabled false\n"
            "  when true\n"
            "  then hold for approval within 90m\n"
            "}\n"
            "\n"
            "rule b v1 \"second\" {\n"
            "  from core\n"
            "  when false\n"
            "  then force reduce_only\n"
            "}\n");
}

TEST(RulesSyntax, ProposalIdMustMatch) {
  const std::string src = "rule a v1 \"d\" { from proposal \"p-8\" when true then warn \"w\" }";
  EXPECT_TRUE(compile_source(src, "p", SourceOrigin::proposal("p-8")).ok());
  EXPECT_TRUE(compile_source(src, "p", SourceOrigin::any_proposal()).ok());
  EXPECT_FALSE(compile_source(src, "p", SourceOrigin::proposal("")).ok());
  EXPECT_FALSE(compile_source(src, "p", SourceOrigin::core()).ok());
  auto c = compile_source(src, "p", SourceOrigin::proposal("p-7"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.errors()[0].message, "this proposal's rules must say 'from proposal \"p-7\"', found 'from proposal \"p-8\"'");
}

TEST(RulesSyntax, EmptySourceIsAnEmptyRuleSet) {
  auto c = compile_source("# nothing here\n", "empty.rule", testing::kCore);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.value().size(), 0u);
}

TEST(RulesSyntax, RuleInfoCarriesEverything) {
  RuleSet s = compile_ok(
      "rule w v3 \"Watch big orders\" {\n  from core\n  when order.notional > 10000 USD\n  then warn \"big order\"\n}\n");
  ASSERT_EQ(s.size(), 1u);
  const RuleInfo& r = s.rule(0);
  EXPECT_EQ(r.id, "w");
  EXPECT_EQ(r.version, 3u);
  EXPECT_EQ(r.description, "Watch big orders");
  EXPECT_EQ(r.provenance.kind, Provenance::Kind::kCore);
  EXPECT_TRUE(r.enabled);
  EXPECT_EQ(r.action, ActionKind::kWarn);
  EXPECT_EQ(r.message, "big order");
  EXPECT_EQ(r.file, "test.rule");
  EXPECT_EQ(r.line, 1u);
  EXPECT_EQ(r.canonical, "rule w v3 \"Watch big orders\" {\n  from core\n  when order.notional > 10000 USD\n  then warn \"big order\"\n}\n");
  EXPECT_EQ(s.canonical_text(), r.canonical);
  EXPECT_EQ(s.find("w"), std::optional<std::size_t>(0));
  EXPECT_EQ(s.find("nope"), std::nullopt);
}

// Type rules that compile (the refusals are in the golden files).
TEST(RulesTypes, AcceptsTheUnitAlgebra) {
  const char* ok[] = {
      "order.quantity > 0.5",                                   // bare number as a quantity
      "order.price > 65000 USD",                                // USD literal as a price
      "order.notional / account.equity > 10%",                  // usd / usd = ratio
      "market.realized_vol_1h / market.realized_vol_24h > 2.5", // ratio / ratio = number
      "order.quantity * order.price < 40000 USD",               // quantity * price = usd
      "order.notional / order.price > order.quantity",          // usd / price = quantity
      "order.notional / order.quantity == order.price",         // usd / quantity = price
      "order.price / market.reference_price > 101%",            // price / price = ratio
      "order.price > market.reference_price * 101%",            // price * ratio = price
      "stats.consecutive_losses * 10% > 25%",                   // integer * ratio = ratio
      "stats.fills_today / 2 > 2.5",                            // integer / integer = number
      "time.since_last_stop_out < 1h + 30m",
      "time.since_last_stop_out * 2 < 1d",
      "time.since_last_stop_out / 30m > 50%",                   // duration / duration = ratio
      "-position.unrealized_pnl > 1000 USD",
      "order.side == buy and order.type != stop_limit",
      "buy == order.side",
      "time.weekday in [saturday, sunday]",
      "order.product in [\"BTC-USD\", \"ETH-USD\"]",
      "time.utc_hour in [0, 1, 2]",
      "not (order.reduce_only == true)",
      "order.strategy != \"momentum\"",
      "2 * 3 > 5",
  };
  for (const char* c : ok) compile_ok(rule_text(c));
  compile_ok(rule_text("true", "cap quantity to 0.01"));
  compile_ok(rule_text("true", "cap quantity to order.notional / order.price * 50%"));
  compile_ok(rule_text("true", "cap notional to account.equity * 5%"));
  compile_ok(rule_text("true", "cap notional to 2500 USD"));
}

TEST(RulesTypes, RefusesMixedUnitsWithAClearMessage) {
  struct Case {
    const char* when;
    const char* message;
  } cases[] = {
      {"account.drawdown > 0.05", "cannot compare ratio with number: write it with its unit, e.g. 5% or 25bps"},
      {"order.notional > order.quantity", "cannot compare usd with quantity"},
      {"order.price > order.notional", "cannot compare price with usd"},
      {"order.quantity + 1 USD > 1", "cannot add quantity and usd"},
      {"market.spread - 1 > 0%", "cannot subtract ratio from integer: write it with its unit, e.g. 5% or 25bps"},
      {"stats.fills_today > order.quantity", "cannot compare integer with quantity"},
      {"order.reduce_only > false", "'>' needs numbers; bool values can only be compared with == or !="},
      {"order.product == 1", "cannot compare string with integer"},
      {"order.product < \"B\"", "'<' needs numbers; string values can only be compared with == or !="},
      {"order.side == sunday", "'sunday' is not a side (one of: buy, sell)"},
      {"order.type in [market, buy]", "'buy' is not an order type (one of: market, limit, stop_limit)"},
      {"order.reduce_only and 1", "'and' needs bools on both sides, found bool and integer"},
      {"not order.quantity", "'not' needs a bool, found quantity"},
      {"-order.reduce_only", "'-' needs a number, found bool"},
      {"order.quantity * order.quantity > 1", "cannot multiply quantity by quantity"},
      {"account.equity / time.since_last_stop_out > 1 USD", "cannot divide usd by duration"},
      {"order.reduce_only in [true]", "'in' does not apply to bools; compare with == instead"},
      {"order.quantity in [order.price]", "the elements of an 'in' list must be constants"},
      {"1 in [1, 2]", "the left side of 'in' must read a fact"},
      {"sell", "'sell' can only be compared with a fact of its kind, e.g. order.side == buy"},
      {"orders_last_minute > 1", "unknown name 'orders_last_minute' (did you mean 'stats.orders_last_minute'?)"},
      {"order.quantity > 1 < 2", "comparisons do not chain; join them with 'and' (e.g. a < b and b < c)"},
  };
  for (const auto& c : cases) {
    const std::string errors = compile_errors(rule_text(c.when));
    EXPECT_NE(errors.find(c.message), std::string::npos) << c.when << "\n" << errors;
  }
  EXPECT_NE(compile_errors(rule_text("true", "cap quantity to 5%")).find("'cap quantity to' value must be quantity, found ratio"),
            std::string::npos);
  EXPECT_NE(compile_errors(rule_text("true", "cap notional to 1000")).find("write it in USD, e.g. 1000 USD"),
            std::string::npos);
}

TEST(RulesSyntax, ReportsEveryBrokenRuleInAFile) {
  const std::string src = rule_text("market.spread > 25", "deny \"x\"", "a") + rule_text("true", "warn \"ok\"", "b") +
                          rule_text("order.quantity >", "deny \"x\"", "c") + rule_text("ordr.side == buy", "deny \"x\"", "d");
  auto c = compile_source(src, "f.rule", testing::kCore);
  ASSERT_FALSE(c.ok());
  ASSERT_EQ(c.errors().size(), 3u) << c.render_errors();
  EXPECT_EQ(c.errors()[0].line, 3u);
  EXPECT_EQ(c.errors()[1].line, 14u);  // 'then' where a value was expected
  EXPECT_EQ(c.errors()[2].line, 18u);
}

// Property: random well-typed rules print in canonical form, re-parse to
// the same tree, type-check, and print identically again.
TEST(RulesProperty, PrintParseRoundTrip) {
  const std::uint32_t seed = testing::test_seed();
  testing::RuleGenerator gen(seed);
  constexpr int kRules = 400;
  for (int i = 0; i < kRules; ++i) {
    Rule original = gen.rule(i);
    const std::string text = print_rule(original);
    DiagnosticSink sink;
    sink.set_source("gen.rule", text);
    SourceFile parsed = parse_source(text, sink);
    ASSERT_EQ(sink.count(), 0u) << "seed=" << seed << "\n" << text << sink.take()[0].render();
    ASSERT_EQ(parsed.rules.size(), 1u);
    ASSERT_TRUE(same_rule(original, parsed.rules[0])) << "seed=" << seed << "\n" << text << "\nreprinted:\n"
                                                      << print_rule(parsed.rules[0]);
    EXPECT_TRUE(check_rule(parsed.rules[0], sink)) << "seed=" << seed << "\n" << text << sink.take()[0].render();
    EXPECT_EQ(print_rule(parsed.rules[0]), text);
  }
}

}  // namespace
}  // namespace ta::rules
