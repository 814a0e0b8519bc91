// Evaluation: every fact, unit, operator and action, the combination of
// several rules, arithmetic faults, and compiled code against a reference
// tree walk on random rules and facts.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "checker.h"
#include "diagnostics.h"
#include "parser.h"
#include "rules_test_util.h"

namespace ta::rules {
namespace {

using testing::compile_ok;
using testing::D;
using testing::rule_text;
using testing::typical_facts;

// Whether `condition` holds for `facts` (a deny rule fires).
bool holds(const std::string& condition, const Facts& facts = typical_facts()) {
  RuleSet s = compile_ok(rule_text(condition));
  const Outcome o = s.evaluate(facts);
  EXPECT_TRUE(o.faults.empty()) << condition;
  return o.verdict == Verdict::kDeny;
}

TEST(RulesEval, EveryFactReadsItsField) {
  // Each line reads one fact and is true for typical_facts(); its twin with
  // a different value is false, so a fact wired to the wrong slot fails.
  struct Case {
    const char* yes;
    const char* no;
  } cases[] = {
      {"order.product == \"BTC-USD\"", "order.product == \"ETH-USD\""},
      {"order.side == buy", "order.side == sell"},
      {"order.type == limit", "order.type in [market, stop_limit]"},
      {"order.quantity == 0.5", "order.quantity == 0.50000001"},
      {"order.price == 60000 USD", "order.price == 60000.01 USD"},
      {"order.notional == 30000 USD", "order.notional > 30000 USD"},
      {"not order.reduce_only", "order.reduce_only"},
      {"order.strategy == \"mean_reversion\"", "order.strategy == \"momentum\""},
      {"position.quantity == 1", "position.quantity < 1"},
      {"position.notional == 60000 USD", "position.notional != 60000 USD"},
      {"position.average_cost == 55000 USD", "position.average_cost > 55000 USD"},
      {"position.unrealized_pnl == 5000 USD", "position.unrealized_pnl < 0 USD"},
      {"account.equity == 100000 USD", "account.equity < 100000 USD"},
      {"account.cash == 40000 USD", "account.cash > 40000 USD"},
      {"account.gross_exposure == 60000 USD", "account.gross_exposure < 60000 USD"},
      {"account.daily_pnl == -500 USD", "account.daily_pnl >= 0 USD"},
      {"account.drawdown == 2%", "account.drawdown > 2%"},
      {"market.reference_price == 60010 USD", "market.reference_price == 60000 USD"},
      {"market.spread == 5bps", "market.spread > 5bps"},
      {"market.realized_vol_1h == 0.4%", "market.realized_vol_1h < 0.4%"},
      {"market.realized_vol_24h == 0.2%", "market.realized_vol_24h > 0.2%"},
      {"market.volume_1h == 120", "market.volume_1h < 120"},
      {"time.utc_hour == 14", "time.utc_hour != 14"},
      {"time.weekday == wednesday", "time.weekday in [saturday, sunday]"},
      {"time.since_last_stop_out == 2h", "time.since_last_stop_out < 2h"},
      {"stats.orders_last_minute == 3", "stats.orders_last_minute > 3"},
      {"stats.consecutive_losses == 2", "stats.consecutive_losses >= 3"},
      {"stats.fills_today == 10", "stats.fills_today != 10"},
  };
  for (const auto& c : cases) {
    EXPECT_TRUE(holds(c.yes)) << c.yes;
    EXPECT_FALSE(holds(c.no)) << c.no;
  }
}

TEST(RulesEval, EnumsAndStringsFollowTheirFields) {
  Facts f = typical_facts();
  f.order.side = Side::kSell;
  f.order.type = OrderType::kStopLimit;
  f.order.reduce_only = true;
  f.order.product = "SOL-USD";  // in no literal of the rule set
  f.time.weekday = Weekday::kSunday;
  EXPECT_TRUE(holds("order.side == sell", f));
  EXPECT_TRUE(holds("order.type == stop_limit", f));
  EXPECT_TRUE(holds("order.reduce_only", f));
  EXPECT_TRUE(holds("time.weekday == sunday", f));
  EXPECT_FALSE(holds("order.product in [\"BTC-USD\", \"ETH-USD\"]", f));
  EXPECT_TRUE(holds("order.product != \"BTC-USD\"", f));
  f.order.product = "";
  f.order.strategy = "";
  EXPECT_FALSE(holds("order.product == \"BTC-USD\" or order.strategy == \"mean_reversion\"", f));
}

TEST(RulesEval, UnitsScaleLiterals) {
  EXPECT_TRUE(holds("market.spread == 0.05%"));
  EXPECT_TRUE(holds("market.spread == 5bps"));
  EXPECT_TRUE(holds("12.5% == 1250bps"));
  EXPECT_TRUE(holds("0.0001% == 0.01bps"));
  EXPECT_TRUE(holds("100% == 10000bps"));
  EXPECT_TRUE(holds("1 USD + 0.5 USD == 1.5 USD"));
  EXPECT_TRUE(holds("time.since_last_stop_out == 7200s"));
  EXPECT_TRUE(holds("time.since_last_stop_out == 120m"));
  EXPECT_TRUE(holds("time.since_last_stop_out == 2h"));
  EXPECT_TRUE(holds("1d == 24h and 1h == 60m and 1m == 60s and 1.5h == 90m"));
  EXPECT_TRUE(holds("order.quantity * 2 * 50% == order.quantity and 50% * 2 == 100%"));
  EXPECT_TRUE(holds("2.50 == 2.5"));
}

TEST(RulesEval, OperatorsComputeExactly) {
  EXPECT_TRUE(holds("order.quantity + 0.25 == 0.75"));
  EXPECT_TRUE(holds("order.quantity - 1 == -0.5"));
  EXPECT_TRUE(holds("order.quantity * order.price == order.notional"));
  EXPECT_TRUE(holds("order.notional / order.price == order.quantity"));
  EXPECT_TRUE(holds("order.notional / account.equity == 30%"));
  EXPECT_TRUE(holds("market.realized_vol_1h / market.realized_vol_24h == 2"));
  EXPECT_TRUE(holds("-order.quantity == -0.5 and - -order.quantity == 0.5"));
  EXPECT_TRUE(holds("stats.fills_today / 4 == 2.5"));          // integer / integer is a number
  EXPECT_TRUE(holds("stats.fills_today * stats.orders_last_minute == 30"));
  EXPECT_TRUE(holds("1 / 3 == 0.33333333"));                   // truncates toward zero at 8 digits
  EXPECT_TRUE(holds("-1 / 3 == -0.33333333"));
  EXPECT_TRUE(holds("0.00000001 * 0.5 == 0"));
  EXPECT_TRUE(holds("order.quantity < 0.6 and order.quantity <= 0.5 and order.quantity > 0.4 and order.quantity >= 0.5"));
  EXPECT_FALSE(holds("order.quantity < 0.5 or order.quantity > 0.5 or order.quantity != 0.5"));
  EXPECT_TRUE(holds("not (order.quantity > 1) and not order.reduce_only"));
  EXPECT_TRUE(holds("time.utc_hour in [13, 14, 15]"));
  EXPECT_FALSE(holds("time.utc_hour in [1, 2]"));
  EXPECT_TRUE(holds("time.utc_hour in [14.0]"));
  EXPECT_TRUE(holds("order.quantity in [0.1, 0.5]"));
  EXPECT_TRUE(holds("true == (not false)"));
  EXPECT_TRUE(holds("2 * 3 + 4 == 10 and 2 * (3 + 4) == 14 and 10 - 4 - 3 == 3"));
}

TEST(RulesEval, AndOrShortCircuitGuardsDivision) {
  Facts f = typical_facts();
  f.position.quantity = Decimal();
  RuleSet s = compile_ok(rule_text("position.quantity != 0 and order.quantity / position.quantity > 10%"));
  Outcome o = s.evaluate(f);
  EXPECT_TRUE(o.faults.empty());
  EXPECT_EQ(o.verdict, Verdict::kAllow);
  RuleSet t = compile_ok(rule_text("position.quantity == 0 or order.quantity / position.quantity > 10%", "warn \"w\""));
  o = t.evaluate(f);
  EXPECT_TRUE(o.faults.empty());
  EXPECT_EQ(o.warnings.size(), 1u);
}

// Every grouping of three comparisons with 'and'/'or', for every truth
// assignment: the fused compare-and-jump code must agree with C++.
TEST(RulesEval, NestedShortCircuitsAgreeWithCpp) {
  const char* ops[] = {"and", "or"};
  for (int mask = 0; mask < 8; ++mask) {
    Facts f = typical_facts();
    f.stats.orders_last_minute = (mask & 1) ? 1 : 0;
    f.stats.consecutive_losses = (mask & 2) ? 1 : 0;
    f.stats.fills_today = (mask & 4) ? 1 : 0;
    const bool x = mask & 1, y = mask & 2, z = mask & 4;
    for (int o1 = 0; o1 < 2; ++o1) {
      for (int o2 = 0; o2 < 2; ++o2) {
        auto apply = [](int op, bool a, bool b) { return op == 0 ? (a && b) : (a || b); };
        const std::string a = "stats.orders_last_minute > 0", b = "stats.consecutive_losses > 0",
                          c = "stats.fills_today > 0";
        const std::string left = "(" + a + " " + ops[o1] + " " + b + ") " + ops[o2] + " " + c;
        const std::string right = a + " " + ops[o1] + " (" + b + " " + ops[o2] + " " + c + ")";
        EXPECT_EQ(holds(left, f), apply(o2, apply(o1, x, y), z)) << left << " mask=" << mask;
        EXPECT_EQ(holds(right, f), apply(o1, x, apply(o2, y, z))) << right << " mask=" << mask;
        EXPECT_EQ(holds("not (" + left + ")", f), !apply(o2, apply(o1, x, y), z)) << left;
        EXPECT_EQ(holds("(" + left + ") == (" + right + ")", f),
                  apply(o2, apply(o1, x, y), z) == apply(o1, x, apply(o2, y, z)));
      }
    }
  }
}

TEST(RulesEval, EveryAction) {
  const Facts f = typical_facts();
  Outcome o = compile_ok(rule_text("true", "deny \"no entries\"")).evaluate(f);
  EXPECT_EQ(o.verdict, Verdict::kDeny);
  EXPECT_EQ(o.cause, Cause::kDenyAction);
  EXPECT_EQ(o.deciding_rule, 0);

  RuleSet halt = compile_ok(rule_text("true", "halt \"market broken\""));
  o = halt.evaluate(f);
  EXPECT_EQ(o.verdict, Verdict::kHalt);
  EXPECT_EQ(o.cause, Cause::kHaltAction);
  EXPECT_EQ(halt.reason(o), "rule 't' v1 halted trading: market broken");

  o = compile_ok(rule_text("true", "warn \"look\"")).evaluate(f);
  EXPECT_EQ(o.verdict, Verdict::kAllow);
  EXPECT_EQ(o.warnings, std::vector<std::uint32_t>{0});

  o = compile_ok(rule_text("true", "cap quantity to order.quantity * 50%")).evaluate(f);
  EXPECT_EQ(o.verdict, Verdict::kAllow);
  EXPECT_EQ(o.quantity_cap, D("0.25"));
  EXPECT_FALSE(o.notional_cap.has_value());

  o = compile_ok(rule_text("true", "cap notional to account.equity * 5%")).evaluate(f);
  EXPECT_EQ(o.notional_cap, D("5000"));

  o = compile_ok(rule_text("true", "force reduce_only")).evaluate(f);
  EXPECT_TRUE(o.force_reduce_only);
  EXPECT_EQ(o.verdict, Verdict::kAllow);

  RuleSet hold = compile_ok(rule_text("true", "hold for approval within 2h"));
  o = hold.evaluate(f);
  EXPECT_EQ(o.verdict, Verdict::kHold);
  EXPECT_EQ(o.cause, Cause::kHoldAction);
  EXPECT_EQ(o.hold_expiry_s, 7200);
  EXPECT_EQ(hold.rule(0).hold_expiry_s, 7200);
  EXPECT_EQ(hold.reason(o), "rule 't' v1 holds the order for approval (expires in 7200s)");

  o = compile_ok(rule_text("false", "deny \"never\"")).evaluate(f);
  EXPECT_EQ(o.verdict, Verdict::kAllow);
  EXPECT_TRUE(o.fired.empty());
}

std::string rules(std::initializer_list<std::pair<const char*, const char*>> whens_thens) {
  std::string out;
  int i = 0;
  for (const auto& [when, then] : whens_thens) out += rule_text(when, then, "r" + std::to_string(i++));
  return out;
}

TEST(RulesCombine, HaltBeatsDenyBeatsHoldBeatsAllow) {
  const Facts f = typical_facts();
  RuleSet s = compile_ok(rules({{"true", "warn \"a\""},
                                {"true", "hold for approval within 1h"},
                                {"true", "deny \"b\""},
                                {"true", "halt \"c\""},
                                {"true", "deny \"d\""},
                                {"true", "halt \"e\""}}));
  Outcome o = s.evaluate(f);
  EXPECT_EQ(o.verdict, Verdict::kHalt);
  EXPECT_EQ(o.deciding_rule, 3);  // the first halt
  EXPECT_EQ(o.fired, (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(o.warnings, std::vector<std::uint32_t>{0});

  s = compile_ok(rules({{"true", "hold for approval within 1h"}, {"true", "deny \"b\""}, {"true", "deny \"d\""}}));
  o = s.evaluate(f);
  EXPECT_EQ(o.verdict, Verdict::kDeny);
  EXPECT_EQ(o.deciding_rule, 1);
  EXPECT_EQ(s.reason(o), "rule 'r1' v1 denied: b");

  s = compile_ok(rules({{"true", "warn \"w\""}, {"true", "hold for approval within 3h"},
                        {"true", "hold for approval within 90m"}}));
  o = s.evaluate(f);
  EXPECT_EQ(o.verdict, Verdict::kHold);
  EXPECT_EQ(o.deciding_rule, 1);
  EXPECT_EQ(o.hold_expiry_s, 5400);  // the shortest expiry
}

TEST(RulesCombine, CapsTakeTheMinimumAndSurviveAHold) {
  const Facts f = typical_facts();
  RuleSet s = compile_ok(rules({{"true", "cap quantity to 0.4"},
                                {"true", "cap quantity to order.quantity * 50%"},
                                {"true", "cap quantity to 0.3"},
                                {"true", "cap notional to 20000 USD"},
                                {"true", "cap notional to 25000 USD"},
                                {"true", "force reduce_only"},
                                {"true", "hold for approval within 1h"},
                                {"true", "warn \"one\""},
                                {"true", "warn \"two\""}}));
  const Outcome o = s.evaluate(f);
  EXPECT_EQ(o.verdict, Verdict::kHold);
  EXPECT_EQ(o.quantity_cap, D("0.25"));
  EXPECT_EQ(o.notional_cap, D("20000"));
  EXPECT_TRUE(o.force_reduce_only);
  EXPECT_EQ(o.warnings, (std::vector<std::uint32_t>{7, 8}));
  EXPECT_EQ(o.fired.size(), 9u);
}

TEST(RulesCombine, ACapOfZeroOrLessDenies) {
  Facts f = typical_facts();
  RuleSet s = compile_ok(rules({{"true", "cap quantity to 0.4"}, {"true", "cap quantity to order.quantity - 0.5"}}));
  Outcome o = s.evaluate(f);
  EXPECT_EQ(o.verdict, Verdict::kDeny);
  EXPECT_EQ(o.cause, Cause::kCapNotPositive);
  EXPECT_EQ(o.deciding_rule, 1);
  EXPECT_EQ(o.quantity_cap, Decimal());
  EXPECT_EQ(s.reason(o), "rule 'r1' v1 caps the order to zero or less: test");
  f.account.equity = D("-10");
  o = compile_ok(rule_text("true", "cap notional to account.equity * 10%")).evaluate(f);
  EXPECT_EQ(o.verdict, Verdict::kDeny);
  EXPECT_EQ(o.notional_cap, D("-1"));
}

TEST(RulesCombine, DisabledRulesNeverRun) {
  RuleSet s = compile_ok(
      "rule off v1 \"off\" {\n  from core\n  enabled false\n  when true\n  then halt \"x\"\n}\n" +
      rule_text("true", "warn \"on\"", "on"));
  ASSERT_EQ(s.size(), 2u);
  EXPECT_FALSE(s.rule(0).enabled);
  const Outcome o = s.evaluate(typical_facts());
  EXPECT_EQ(o.verdict, Verdict::kAllow);
  EXPECT_EQ(o.fired, std::vector<std::uint32_t>{1});
}

TEST(RulesCombine, HitCountersFollowFiredRules) {
  RuleSet s = compile_ok(rules({{"order.quantity > 0.4", "warn \"a\""}, {"order.quantity > 0.6", "warn \"b\""}}));
  HitCounters hits(s.size());
  Facts f = typical_facts();
  Outcome o;
  s.evaluate(f, o);
  hits.record(o);
  f.order.quantity = D("0.7");
  s.evaluate(f, o);
  hits.record(o);
  EXPECT_EQ(hits.hits(0), 2u);
  EXPECT_EQ(hits.hits(1), 1u);
}

TEST(RulesFaults, DivisionByZeroFailsClosed) {
  Facts f = typical_facts();
  f.position.quantity = Decimal();
  const std::string src =
      "rule ratio v2 \"Size against position\" {\n"
      "  from core\n"
      "  when order.quantity / position.quantity > 10%\n"
      "  then warn \"adding more than 10%\"\n"
      "}\n";
  auto c = compile_source(src, "rules/core/ratio.rule", testing::kCore);
  ASSERT_TRUE(c.ok());
  const RuleSet& s = c.value();
  const Outcome o = s.evaluate(f);
  EXPECT_EQ(o.verdict, Verdict::kDeny);  // even though the action is only a warning
  EXPECT_EQ(o.cause, Cause::kFault);
  EXPECT_EQ(o.fired, std::vector<std::uint32_t>{0});
  EXPECT_TRUE(o.warnings.empty());
  ASSERT_EQ(o.faults.size(), 1u);
  EXPECT_EQ(o.faults[0].kind, FaultKind::kDivisionByZero);
  EXPECT_EQ(o.faults[0].line, 3u);
  EXPECT_EQ(o.faults[0].column, 23u);
  EXPECT_EQ(s.reason(o), "rule 'ratio' v2 could not be evaluated: division by zero at rules/core/ratio.rule:3:23");
}

TEST(RulesFaults, OverflowFailsClosed) {
  Facts f = typical_facts();
  struct Case {
    const char* when;
    const char* then;
  } cases[] = {
      {"order.quantity * 90000000000 > 1", "warn \"x\""},                  // 0.5 * 9e10 fits...
      {"account.equity * 90000000000 > 1 USD", "warn \"x\""},              // ...1e5 * 9e10 does not
      {"account.equity + 92233720368 USD > 0 USD", "warn \"x\""},
      {"-account.equity - 92233720368 USD < 0 USD", "warn \"x\""},
      {"account.equity / 0.00000001 > 1 USD", "warn \"x\""},
      {"true", "cap notional to account.equity * 1000000"},
  };
  const bool faults[] = {false, true, true, true, true, true};
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    const Outcome o = compile_ok(rule_text(cases[i].when, cases[i].then)).evaluate(f);
    if (faults[i]) {
      ASSERT_EQ(o.faults.size(), 1u) << cases[i].when;
      EXPECT_EQ(o.faults[0].kind, FaultKind::kOverflow);
      EXPECT_EQ(o.verdict, Verdict::kDeny);
    } else {
      EXPECT_TRUE(o.faults.empty()) << cases[i].when;
    }
  }
  // Facts at the edge of the Decimal range, including the minimum that
  // Decimal arithmetic itself refuses.
  f.account.equity = Decimal::from_units(std::numeric_limits<std::int64_t>::min());
  Outcome o = compile_ok(rule_text("-account.equity > 0 USD")).evaluate(f);
  EXPECT_EQ(o.cause, Cause::kFault);
  f.stats.fills_today = std::numeric_limits<std::int64_t>::max();  // saturates at the Decimal range
  o = compile_ok(rule_text("stats.fills_today > 92233720367")).evaluate(f);
  EXPECT_EQ(o.verdict, Verdict::kDeny);
  EXPECT_TRUE(o.faults.empty());
}

TEST(RulesEval, OutcomeIsReusedWithoutLeftovers) {
  RuleSet s = compile_ok(rules({{"order.reduce_only", "deny \"a\""}, {"true", "warn \"w\""}}));
  Facts f = typical_facts();
  f.order.reduce_only = true;
  Outcome o;
  s.evaluate(f, o);
  EXPECT_EQ(o.verdict, Verdict::kDeny);
  f.order.reduce_only = false;
  s.evaluate(f, o);
  EXPECT_EQ(o.verdict, Verdict::kAllow);
  EXPECT_EQ(o.deciding_rule, -1);
  EXPECT_EQ(o.fired, std::vector<std::uint32_t>{1});
  EXPECT_EQ(s.reason(o), "");
}

TEST(RulesEval, NamesForLogs) {
  EXPECT_STREQ(to_string(Verdict::kHalt), "halt");
  EXPECT_STREQ(to_string(Cause::kCapNotPositive), "cap_not_positive");
  EXPECT_STREQ(to_string(ActionKind::kCapNotional), "cap_notional");
  EXPECT_STREQ(to_string(FaultKind::kDivisionByZero), "division_by_zero");
}

TEST(RulesEval, EmptyRuleSetAllows) {
  const RuleSet s;
  const Outcome o = s.evaluate(typical_facts());
  EXPECT_EQ(o.verdict, Verdict::kAllow);
  EXPECT_TRUE(o.fired.empty());
}

// Property: for random well-typed rules and random facts (zeros and
// extremes included), the compiled program agrees with a tree walk over
// ta::Decimal: same firing, same fault kind, same cap value.
TEST(RulesProperty, CompiledCodeMatchesReferenceInterpreter) {
  const std::uint32_t seed = testing::test_seed();
  testing::RuleGenerator gen(seed);
  int compared = 0, faulted = 0, fired = 0;
  for (int i = 0; i < 300; ++i) {
    Rule rule = gen.rule(i);
    rule.enabled = true;
    rule.provenance = Provenance{};
    const std::string text = print_rule(rule);
    auto c = compile_source(text, "gen.rule", testing::kCore);
    if (!c.ok()) {
      // Only constant folding may refuse a generated rule (e.g. 5 / 0).
      const std::string errors = c.render_errors();
      ASSERT_TRUE(errors.find("constant expression") != std::string::npos ||
                  errors.find("division by zero") != std::string::npos)
          << "seed=" << seed << "\n" << text << errors;
      continue;
    }
    DiagnosticSink sink;
    sink.set_source("gen.rule", text);
    SourceFile parsed = parse_source(text, sink);
    ASSERT_TRUE(check_rule(parsed.rules[0], sink));
    const Rule& r = parsed.rules[0];
    for (int k = 0; k < 20; ++k) {
      const Facts f = gen.facts();
      const Outcome o = c.value().evaluate(f);
      testing::RefValue cond = testing::ref_eval(*r.condition, f);
      testing::RefValue value;
      if (!cond.fault && !cond.value.is_zero() && r.action.value) value = testing::ref_eval(*r.action.value, f);
      const bool ref_fault = cond.fault || value.fault;
      ++compared;
      ASSERT_EQ(o.faults.size(), ref_fault ? 1u : 0u) << "seed=" << seed << "\n" << text;
      if (ref_fault) {
        ++faulted;
        EXPECT_EQ(o.faults[0].kind, cond.fault ? cond.kind : value.kind) << "seed=" << seed << "\n" << text;
        continue;
      }
      const bool ref_fired = !cond.value.is_zero();
      ASSERT_EQ(o.fired.size(), ref_fired ? 1u : 0u) << "seed=" << seed << "\n" << text;
      if (!ref_fired) continue;
      ++fired;
      if (r.action.kind == ActionKind::kCapQuantity) {
        EXPECT_EQ(o.quantity_cap, value.value) << text;
      }
      if (r.action.kind == ActionKind::kCapNotional) {
        EXPECT_EQ(o.notional_cap, value.value) << text;
      }
    }
  }
  std::printf("compared=%d faulted=%d fired=%d\n", compared, faulted, fired);
  EXPECT_GT(fired, 0);
  EXPECT_GT(faulted, 0);
}

}  // namespace
}  // namespace ta::rules
