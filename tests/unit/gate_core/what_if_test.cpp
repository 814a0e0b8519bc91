// what_if(): journaled decisions re-run through the rule stage with the
// current rules and with a new file. A history of five intents where a new
// rule would have denied two; a file that replaces a current rule; warnings
// that change nothing; records without facts; compile errors.
#include "gate/what_if.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gate/core.h"
#include "rule_stage_support.h"

namespace ta::gate {
namespace {

using namespace rstest;
using ::testing::ElementsAre;

// Decides and records each intent as the daemon would, and returns the
// journal's IntentDecided records (with the rule facts).
std::vector<ipc::IntentDecided> history(Bench& b, GateState& s, const std::vector<ipc::OrderIntent>& intents) {
  std::vector<ipc::IntentDecided> out;
  for (const ipc::OrderIntent& i : intents) {
    const DecideResult r = decide(s, i, b.ctx());
    ipc::IntentDecided rec;
    *rec.mutable_intent() = i;
    *rec.mutable_decision() = r.decision;
    if (r.rule_facts) *rec.mutable_rule_facts() = to_proto(r.rule_facts->facts());
    EXPECT_TRUE(s.record_decision(i, r.decision).ok());
    out.push_back(rec);
    b.now += kMinuteNs;
  }
  return out;
}

const std::vector<ipc::OrderIntent> kFive = {
    entry("i-1", "0.01"),  // 100 USD
    entry("i-2", "0.05"),  // 500 USD
    entry("i-3", "0.02"),  // 200 USD
    entry("i-4", "0.08"),  // 800 USD
    entry("i-5", "0.03"),  // 300 USD
};

const std::string kBigOrders =
    "rule big_orders v1 \"Deny entries above 450 USD\" {\n"
    "  from proposal \"p-7\"\n"
    "  when order.notional > 450 USD and not order.reduce_only\n"
    "  then deny \"entry above 450 USD\"\n"
    "}\n";

TEST(WhatIf, ANewRuleWouldHaveDeniedTwoOfFive) {
  Bench b;
  b.rule_set = shipped_rules();
  GateState s = b.make();
  std::vector<ipc::IntentDecided> h = history(b, s, kFive);
  for (const auto& rec : h) ASSERT_TRUE(rec.decision().accepted()) << rec.decision().detail();
  // A sixth intent was denied by a hard limit: no facts, skipped.
  h.push_back(history(b, s, {entry("i-6", "0.00001")}).front());
  ASSERT_FALSE(h.back().has_rule_facts());

  auto report = what_if(h, b.rule_set, kBigOrders, "big_orders.rule", rules::SourceOrigin::proposal("p-7"));
  ASSERT_TRUE(report.ok()) << report.render_errors();
  const WhatIfReport& r = report.value();
  EXPECT_EQ(r.records, 6u);
  EXPECT_EQ(r.evaluated, 5u);
  EXPECT_EQ(r.skipped, 1u);
  EXPECT_EQ(r.unreadable, 0u);
  ASSERT_EQ(r.changes.size(), 2u);
  EXPECT_EQ(r.changes[0].intent_id, "i-2");
  EXPECT_EQ(r.changes[1].intent_id, "i-4");
  for (const WhatIfChange& c : r.changes) {
    EXPECT_EQ(c.before.verdict, rules::Verdict::kAllow) << c.intent_id;
    EXPECT_TRUE(c.before.rules_fired.empty()) << c.intent_id;
    EXPECT_EQ(c.after.verdict, rules::Verdict::kDeny) << c.intent_id;
    EXPECT_THAT(c.after.rules_fired, ElementsAre("big_orders")) << c.intent_id;
    EXPECT_EQ(c.after.reason, "rule 'big_orders' v1 denied: entry above 450 USD");
  }
  EXPECT_THAT(r.file_rule_hits, ElementsAre(std::pair<std::string, std::uint64_t>{"big_orders", 2}));
}

TEST(WhatIf, TheCurrentRulesReproduceTheJournaledDecisions) {
  // With a loss streak the shipped caps fire; re-evaluating the journaled
  // facts with the same rules gives the same rules and quantities.
  Bench b;
  b.rule_set = shipped_rules();
  GateState s = b.make();
  for (int k = 0; k < 5; ++k) {
    const std::int64_t t = kT0 - 10 * kHourNs + k * 2 * kMinuteNs;
    trade(s, "BTC-USD", ipc::SIDE_BUY, "0.01", "10000", t);
    trade(s, "BTC-USD", ipc::SIDE_SELL, "0.01", "9990", t + kMinuteNs);
  }
  const std::vector<ipc::IntentDecided> h = history(b, s, kFive);
  const rules::RuleSet* sets[] = {&b.rule_set};
  for (const auto& rec : h) {
    ASSERT_TRUE(rec.decision().accepted());
    const rules::Facts f = facts_from_proto(rec.rule_facts()).value().facts();
    const RuleStageOutcome o = rule_stage_outcome(sets, f);
    EXPECT_EQ(o.rules_fired, std::vector<std::string>(rec.decision().rules_fired().begin(),
                                                      rec.decision().rules_fired().end()));
    EXPECT_EQ(o.quantity.to_string(), rec.decision().quantity());  // BTC's increment is 1e-8: no rounding
  }
  // An empty file changes nothing.
  auto report = what_if(h, b.rule_set, "", "empty.rule", rules::SourceOrigin::core());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report.value().changes.empty());
  EXPECT_EQ(report.value().evaluated, 5u);
}

TEST(WhatIf, AFileRuleReplacesTheCurrentRuleWithItsId) {
  Bench b;
  b.rule_set = compile_rules(
      "rule halve v1 \"x\" {\n  from core\n  when true\n  then cap quantity to order.quantity * 50%\n}\n"
      "rule note v1 \"x\" {\n  from core\n  when true\n  then warn \"n\"\n}\n");
  GateState s = b.make();
  const std::vector<ipc::IntentDecided> h = history(b, s, kFive);
  const std::string v2 = "rule halve v2 \"x\" {\n  from core\n  when order.notional > 250 USD\n"
                         "  then cap quantity to order.quantity * 25%\n}\n";
  auto report = what_if(h, b.rule_set, v2, "halve.rule", rules::SourceOrigin::core());
  ASSERT_TRUE(report.ok()) << report.render_errors();
  const WhatIfReport& r = report.value();
  // The journaled facts hold the requested quantity (before caps): 0.05,
  // 0.08 and 0.03 are above 250 USD and now capped to 25%; 0.01 and 0.02 are
  // no longer capped at all.
  ASSERT_EQ(r.changes.size(), 5u);
  EXPECT_EQ(r.changes[0].before.quantity, D("0.005"));
  EXPECT_EQ(r.changes[0].after.quantity, D("0.01"));
  EXPECT_THAT(r.changes[0].after.rules_fired, ElementsAre("note"));
  EXPECT_EQ(r.changes[1].before.quantity, D("0.025"));
  EXPECT_EQ(r.changes[1].after.quantity, D("0.0125"));
  EXPECT_THAT(r.changes[1].before.rules_fired, ElementsAre("halve", "note"));
  EXPECT_THAT(r.changes[1].after.rules_fired, ElementsAre("note", "halve"));  // current rules first, then the file
  EXPECT_EQ(r.changes[1].after.verdict, rules::Verdict::kAllow);
}

TEST(WhatIf, WarningsAndEqualOutcomesAreNoChange) {
  Bench b;
  b.rule_set = shipped_rules();
  GateState s = b.make();
  const std::vector<ipc::IntentDecided> h = history(b, s, kFive);
  auto report = what_if(h, b.rule_set,
                        "rule chatty v1 \"x\" {\n  from core\n  when true\n  then warn \"hello\"\n}\n"
                        "rule roomy v1 \"x\" {\n  from core\n  when true\n  then cap quantity to 100\n}\n",
                        "chatty.rule", rules::SourceOrigin::core());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report.value().changes.empty());
  EXPECT_THAT(report.value().file_rule_hits,
              ElementsAre(std::pair<std::string, std::uint64_t>{"chatty", 5}, std::pair<std::string, std::uint64_t>{"roomy", 5}));
}

TEST(WhatIf, CompileErrorsAndUnreadableFacts) {
  Bench b;
  b.rule_set = shipped_rules();
  auto bad = what_if({}, b.rule_set, "rule x v1 \"d\" {\n  from core\n  when order.quantty > 1\n  then warn \"w\"\n}\n",
                     "x.rule", rules::SourceOrigin::core());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.errors().front().line, 3u);
  // A proposal file must carry its proposal's provenance.
  EXPECT_FALSE(what_if({}, b.rule_set, kBigOrders, "b.rule", rules::SourceOrigin::proposal("p-8")).ok());

  GateState s = b.make();
  std::vector<ipc::IntentDecided> h = history(b, s, {entry("i-1", "0.01")});
  h.front().mutable_rule_facts()->set_order_price("not a number");
  auto report = what_if(h, b.rule_set, kBigOrders, "b.rule", rules::SourceOrigin::proposal("p-7"));
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report.value().unreadable, 1u);
  EXPECT_EQ(report.value().evaluated, 0u);
}

}  // namespace
}  // namespace ta::gate
