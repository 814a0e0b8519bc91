// The rule stage of decide() (stage 7): the shipped core rules at their
// thresholds, caps and their rounding, forced reduce-only, halts, warnings,
// rules_fired, the facts the gate supplies, hit counters, and the property
// that no rule can loosen a hard limit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gate/core.h"
#include "rule_stage_support.h"

namespace ta::gate {
namespace {

using namespace rstest;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::string read_source(const std::string& relative) {
  const char* dir = std::getenv("TA_SOURCE_DIR");
  std::ifstream in(std::string(dir ? dir : ".") + "/" + relative);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string rule(const std::string& id, const std::string& when, const std::string& then) {
  return "rule " + id + " v1 \"test rule\" {\n  from core\n  when " + when + "\n  then " + then + "\n}\n";
}

// ------------------------------------------------------ the shipped rules

TEST(RuleStage, SpreadStressAtItsThreshold) {
  Bench b;
  b.rule_set = shipped_rules();
  struct Case {
    const char* name;
    const char* bid;
    const char* ask;
    bool reduce_only_exit;
    bool denied;
  } cases[] = {
      {"25 bps exactly", "9987.5", "10012.5", false, false},
      {"one cent wider", "9987.49", "10012.5", false, true},
      {"one cent narrower", "9987.51", "10012.5", false, false},
      {"very wide", "9000", "11000", false, true},
      {"wide, but an exit", "9000", "11000", true, false},
  };
  for (const Case& c : cases) {
    GateState s = b.make();
    trade(s, "BTC-USD", ipc::SIDE_BUY, "1", "10000", kT0 - 2 * kHourNs);
    ASSERT_TRUE(s.apply_quote("BTC-USD", D(c.bid), D(c.ask), b.now).ok());
    const ipc::OrderIntent i = c.reduce_only_exit ? exit_sell("x", "0.5") : entry("x", "0.01");
    const DecideResult r = decide(s, i, b.ctx());
    EXPECT_EQ(r.decision.accepted(), !c.denied) << c.name << ": " << r.decision.detail();
    if (c.denied) {
      EXPECT_EQ(r.decision.reason(), ipc::DENY_REASON_RULE) << c.name;
      EXPECT_THAT(fired(r.decision), ElementsAre("spread_stress_no_entries")) << c.name;
      EXPECT_EQ(r.decision.detail(), "rule 'spread_stress_no_entries' v1 denied: spread above 25bps: no new entries");
    } else {
      EXPECT_THAT(fired(r.decision), IsEmpty()) << c.name;
    }
  }
}

TEST(RuleStage, StopOutCooldownAtItsThreshold) {
  Bench b;
  b.rule_set = shipped_rules();
  const std::int64_t stop_ts = kT0 - kHourNs;
  const auto stopped_out = [&](GateState& s) {
    trade(s, "BTC-USD", ipc::SIDE_BUY, "1", "10000", stop_ts - kHourNs);
    trade(s, "BTC-USD", ipc::SIDE_SELL, "0.5", "9000", stop_ts);  // exit below the average cost
  };
  struct Case {
    const char* name;
    std::int64_t now;
    bool denied;
  } cases[] = {
      {"30 minutes after", stop_ts + 30 * kMinuteNs, false},
      {"1 ns less than 30 minutes after", stop_ts + 30 * kMinuteNs - 1, true},
      {"1 second after", stop_ts + kNanosPerSecond, true},
      {"an hour after", stop_ts + kHourNs, false},
  };
  for (const Case& c : cases) {
    b.now = c.now;
    GateState s = b.make();
    stopped_out(s);
    const DecideResult r = decide(s, entry("x", "0.01"), b.ctx());
    EXPECT_EQ(r.decision.accepted(), !c.denied) << c.name << ": " << r.decision.detail();
    if (c.denied) {
      EXPECT_THAT(fired(r.decision), ElementsAre("stop_out_cooldown")) << c.name;
    }
    // An exit is never held back.
    EXPECT_TRUE(decide(s, exit_sell("y", "0.1"), b.ctx()).decision.accepted()) << c.name;
  }
  // A profitable exit is no stop-out, nor is a loss that only fees make.
  b.now = stop_ts + kMinuteNs;
  GateState s = b.make();
  trade(s, "BTC-USD", ipc::SIDE_BUY, "1", "10000", stop_ts - kHourNs);
  trade(s, "BTC-USD", ipc::SIDE_SELL, "0.5", "10000", stop_ts, "5");
  trade(s, "BTC-USD", ipc::SIDE_SELL, "0.25", "11000", stop_ts + 1);
  EXPECT_FALSE(s.trade_stats().stopped_out);
  EXPECT_TRUE(decide(s, entry("x", "0.01"), b.ctx()).decision.accepted());
}

// n round trips of 0.01 BTC, each closed at a loss of 0.1 USD (or a win),
// long before kT0 so the stop-out cooldown is over.
void round_trips(GateState& s, int n, bool win = false) {
  for (int k = 0; k < n; ++k) {
    const std::int64_t t = kT0 - 10 * kHourNs + k * 2 * kMinuteNs;
    trade(s, "BTC-USD", ipc::SIDE_BUY, "0.01", "10000", t);
    trade(s, "BTC-USD", ipc::SIDE_SELL, "0.01", win ? "10010" : "9990", t + kMinuteNs);
  }
}

TEST(RuleStage, LossStreakCapsAtThreeAndFive) {
  Bench b;
  b.rule_set = shipped_rules();
  struct Case {
    int losses;
    const char* quantity;
    std::vector<std::string> fired;
  } cases[] = {
      {2, "0.02", {}},
      {3, "0.01", {"loss_streak_half_size"}},
      {4, "0.01", {"loss_streak_half_size"}},
      {5, "0.005", {"loss_streak_half_size", "loss_streak_quarter_size"}},
      {6, "0.005", {"loss_streak_half_size", "loss_streak_quarter_size"}},
  };
  for (const Case& c : cases) {
    GateState s = b.make();
    round_trips(s, c.losses);
    EXPECT_EQ(s.trade_stats().consecutive_losses, c.losses);
    const DecideResult r = decide(s, entry("x", "0.02"), b.ctx());
    ASSERT_TRUE(r.decision.accepted()) << c.losses << ": " << r.decision.detail();
    EXPECT_EQ(r.decision.quantity(), c.quantity) << c.losses;
    EXPECT_EQ(fired(r.decision), c.fired) << c.losses;
    EXPECT_EQ(field(r.decision, kFieldRequestedQuantity), c.fired.empty() ? "" : "0.02") << c.losses;
  }
  // A winning trade resets the streak.
  GateState s = b.make();
  round_trips(s, 4);
  round_trips(s, 1, true);
  EXPECT_EQ(s.trade_stats().consecutive_losses, 0);
}

TEST(RuleStage, VolatilitySpikeCapAroundItsThreshold) {
  Bench b;
  b.rule_set = shipped_rules();
  // 23 hours of calm zig-zag bars; then one hour whose amplitude grows
  // step by step across the rule's threshold (1h vol > 2.5 x 24h vol).
  GateState calm = b.make();
  const std::int64_t first = kT0 - 24 * kHourNs;
  for (int i = 0; i < 23 * 60; ++i) {
    Bar bar;
    bar.product = "BTC-USD";
    bar.open_ts_ns = first + i * kMinuteNs;
    bar.open = bar.high = bar.low = bar.close = D(i % 2 == 0 ? "10000" : "10010");
    bar.volume = D("2");
    ASSERT_TRUE(calm.apply_bar(bar).ok());
  }
  int capped = 0, uncapped = 0;
  for (int step = 0; step <= 40; ++step) {
    GateState s = calm;
    // 28.00 .. 28.80 USD against the calm 10 USD: the threshold is near 28.5.
    const std::int64_t amplitude_cents = 2'800 + step * 2;
    for (int i = 23 * 60; i < 24 * 60; ++i) {
      Bar bar;
      bar.product = "BTC-USD";
      bar.open_ts_ns = first + i * kMinuteNs;
      const Decimal close = Decimal::from_units(10'000 * Decimal::kScale + (i % 2 == 0 ? 0 : amplitude_cents * 1'000'000));
      bar.open = bar.high = bar.low = bar.close = close;
      bar.volume = D("3");
      ASSERT_TRUE(s.apply_bar(bar).ok());
    }
    const DecideResult r = decide(s, entry("x", "0.02"), b.ctx());
    ASSERT_TRUE(r.decision.accepted()) << r.decision.detail();
    ASSERT_TRUE(r.rule_facts.has_value());
    const rules::Facts f = r.rule_facts->facts();
    const Decimal bound = *D("2.5").mul(f.market.realized_vol_24h, Rounding::kTowardZero);
    const bool spike = f.market.realized_vol_1h > bound;
    EXPECT_EQ(r.decision.quantity(), spike ? "0.01" : "0.02") << "step " << step;
    EXPECT_EQ(fired(r.decision).size(), spike ? 1u : 0u) << "step " << step;
    (spike ? capped : uncapped)++;
    EXPECT_EQ(f.market.volume_1h, D("180"));
  }
  EXPECT_GT(capped, 0) << "the steps never crossed the threshold";
  EXPECT_GT(uncapped, 0) << "the steps never crossed the threshold";
}

TEST(RuleStage, TradingHoursShipsDisabledAndWorksWhenEnabled) {
  // Shipped: switched off, so not even Saturday at 03:00 is denied.
  Bench b;
  b.rule_set = shipped_rules();
  ASSERT_TRUE(b.rule_set.find("trading_hours").has_value());
  b.now = (kDay0 + 1) * kNanosPerDay + 3 * kHourNs;
  GateState s = b.make();
  EXPECT_TRUE(decide(s, entry("x", "0.01"), b.ctx()).decision.accepted());

  // Enabled (the 'enabled false' line removed), at the hour edges.
  std::string text = read_source("rules/core/trading_hours.rule");
  const std::string off = "  enabled false\n";
  ASSERT_NE(text.find(off), std::string::npos);
  text.erase(text.find(off), off.size());
  b.rule_set = compile_rules(text);
  const std::int64_t friday = kDay0 * kNanosPerDay;  // 2024-10-04 was a Friday
  struct Case {
    const char* name;
    std::int64_t now;
    bool denied;
  } cases[] = {
      {"Friday 07:59:59.999999999", friday + 8 * kHourNs - 1, true},
      {"Friday 08:00", friday + 8 * kHourNs, false},
      {"Friday 19:59:59.999999999", friday + 20 * kHourNs - 1, false},
      {"Friday 20:00", friday + 20 * kHourNs, true},
      {"Saturday 12:00", friday + kNanosPerDay + 12 * kHourNs, true},
      {"Sunday 12:00", friday + 2 * kNanosPerDay + 12 * kHourNs, true},
      {"Monday 12:00", friday + 3 * kNanosPerDay + 12 * kHourNs, false},
  };
  for (const Case& c : cases) {
    b.now = c.now;
    GateState t = b.make();
    const DecideResult r = decide(t, entry("x", "0.01"), b.ctx());
    EXPECT_EQ(r.decision.accepted(), !c.denied) << c.name << ": " << r.decision.detail();
  }
}

// ------------------------------------------------------------ caps

TEST(RuleStage, CapsRoundDownToTheSizeIncrement) {
  // ETH-USD: size_min 0.001, size_increment 0.001; the order is 0.02 at 2000.
  struct Case {
    const char* name;
    std::string then;
    const char* quantity;  // empty: denied
  } cases[] = {
      {"quantity cap off the increment", "cap quantity to 0.0155", "0.015"},
      {"quantity cap on the increment", "cap quantity to 0.015", "0.015"},
      {"notional cap: 31 USD / 2000 = 0.0155", "cap notional to 31 USD", "0.015"},
      {"notional cap one unit below 30 USD", "cap notional to 29.99999999 USD", "0.014"},
      {"cap above the order changes nothing", "cap quantity to 5", "0.02"},
      {"cap at size_min", "cap quantity to 0.001", "0.001"},
      {"cap just above size_min", "cap quantity to 0.0019999", "0.001"},
      {"cap below size_min", "cap quantity to 0.0009999", ""},
      {"cap to zero", "cap quantity to 0", ""},
  };
  for (const Case& c : cases) {
    Bench b;
    b.rule_set = compile_rules(rule("the_cap", "true", c.then));
    GateState s = b.make();
    const DecideResult r = decide(s, order("x", ipc::SIDE_BUY, "0.02", "2000", "1900", "ETH-USD"), b.ctx());
    if (*c.quantity) {
      ASSERT_TRUE(r.decision.accepted()) << c.name << ": " << r.decision.detail();
      EXPECT_EQ(r.decision.quantity(), c.quantity) << c.name;
    } else {
      EXPECT_FALSE(r.decision.accepted()) << c.name;
      EXPECT_EQ(r.decision.reason(), ipc::DENY_REASON_RULE) << c.name;
    }
    EXPECT_THAT(fired(r.decision), ElementsAre("the_cap")) << c.name;
  }
  // Below size_min: the numbers say why.
  Bench b;
  b.rule_set = compile_rules(rule("the_cap", "true", "cap quantity to 0.0009999"));
  GateState s = b.make();
  const ipc::Decision d = decide(s, order("x", ipc::SIDE_BUY, "0.02", "2000", "1900", "ETH-USD"), b.ctx()).decision;
  EXPECT_EQ(d.limit(), "0.001");
  EXPECT_EQ(d.observed(), "0");
  EXPECT_EQ(field(d, "requested_quantity"), "0.02");
  EXPECT_EQ(field(d, "quantity_cap"), "0.0009999");
}

TEST(RuleStage, SeveralCapsTakeTheSmallest) {
  Bench b;
  b.rule_set = compile_rules(rule("cap_a", "true", "cap quantity to order.quantity * 50%") +
                             rule("cap_b", "true", "cap notional to 60 USD") +
                             rule("cap_c", "order.quantity > 100", "cap quantity to 0.001"));
  GateState s = b.make();
  const ipc::Decision d = decide(s, entry("x", "0.02"), b.ctx()).decision;  // BTC at 10000
  ASSERT_TRUE(d.accepted()) << d.detail();
  EXPECT_EQ(d.quantity(), "0.006");  // 60 USD / 10000 beats 0.01
  EXPECT_THAT(fired(d), ElementsAre("cap_a", "cap_b"));
}

// ---------------------------------------------------------- reduce_only

TEST(RuleStage, ForcedReduceOnlyIsCheckedAsReduceOnly) {
  Bench b;
  b.rule_set = compile_rules(rule("only_reduce", "order.product == \"BTC-USD\"", "force reduce_only"));
  GateState s = b.make();
  trade(s, "BTC-USD", ipc::SIDE_BUY, "1", "10000", kT0 - 2 * kHourNs);
  // An entry cannot be reduce-only: denied, with how much could be reduced.
  const ipc::Decision in = decide(s, entry("x", "0.02"), b.ctx()).decision;
  EXPECT_FALSE(in.accepted());
  EXPECT_EQ(in.reason(), ipc::DENY_REASON_RULE);
  EXPECT_EQ(in.limit(), "0");
  EXPECT_EQ(in.observed(), "0.02");
  EXPECT_THAT(fired(in), ElementsAre("only_reduce"));
  // An exit not flagged by the agent goes out reduce-only.
  const ipc::Decision out = decide(s, exit_sell("y", "0.5", false), b.ctx()).decision;
  ASSERT_TRUE(out.accepted()) << out.detail();
  EXPECT_TRUE(out.reduce_only());
  // Other products are untouched.
  const ipc::Decision eth = decide(s, order("z", ipc::SIDE_BUY, "0.02", "2000", "1900", "ETH-USD"), b.ctx()).decision;
  ASSERT_TRUE(eth.accepted());
  EXPECT_FALSE(eth.reduce_only());
}

// ------------------------------------------------------- deny and halt

TEST(RuleStage, HaltDeniesAndSignals) {
  Bench b;
  b.rule_set = compile_rules(rule("panic", "account.drawdown >= 0%", "halt \"test halt\""));
  GateState s = b.make();
  const DecideResult r = decide(s, entry("x", "0.01"), b.ctx());
  EXPECT_FALSE(r.decision.accepted());
  EXPECT_EQ(r.decision.reason(), ipc::DENY_REASON_RULE);
  EXPECT_TRUE(r.rule_halt);
  EXPECT_EQ(r.decision.detail(), "rule 'panic' v1 halted trading: test halt");
  EXPECT_THAT(fired(r.decision), ElementsAre("panic"));
  // The caller journals it, then applies the halt: later intents meet HALTED.
  ASSERT_TRUE(s.record_decision(entry("x", "0.01"), r.decision).ok());
  ASSERT_TRUE(s.apply_halt_event(HaltEvent::kRuleHalt, b.now).ok());
  const DecideResult next = decide(s, entry("y", "0.01"), b.ctx());
  EXPECT_EQ(next.decision.reason(), ipc::DENY_REASON_HALTED);
  EXPECT_FALSE(next.rule_halt);
  // A plain deny does not signal a halt.
  b.rule_set = compile_rules(rule("nope", "true", "deny \"no\""));
  GateState t = b.make();
  const DecideResult d = decide(t, entry("x", "0.01"), b.ctx());
  EXPECT_EQ(d.decision.reason(), ipc::DENY_REASON_RULE);
  EXPECT_FALSE(d.rule_halt);
}

TEST(RuleStage, FaultsFailClosed) {
  Bench b;
  b.rule_set = compile_rules(rule("bad_division", "order.quantity / position.quantity > 50%", "warn \"x\""));
  GateState s = b.make();  // flat: position.quantity is zero
  const ipc::Decision d = decide(s, entry("x", "0.01"), b.ctx()).decision;
  EXPECT_EQ(d.reason(), ipc::DENY_REASON_RULE);
  EXPECT_NE(d.detail().find("could not be evaluated: division by zero"), std::string::npos) << d.detail();
}

// ------------------------------------------------------------ rules_fired

TEST(RuleStage, RulesFiredOnEveryDecisionThatReachedTheRules) {
  Bench b;
  b.rule_set = compile_rules(rule("note_one", "true", "warn \"first note\"") +
                             rule("note_two", "order.side == buy", "warn \"second note\"") +
                             rule("never", "order.quantity > 100", "deny \"huge\"") +
                             rule("halve", "true", "cap quantity to order.quantity * 50%"));
  GateState s = b.make();
  // Accepted: every fired rule, in rule order; warnings in the detail.
  const ipc::Decision ok = decide(s, entry("a", "0.02"), b.ctx()).decision;
  ASSERT_TRUE(ok.accepted());
  EXPECT_THAT(fired(ok), ElementsAre("note_one", "note_two", "halve"));
  EXPECT_EQ(ok.detail(), "rule 'note_one' v1 warns: first note (+1 more warning)");
  EXPECT_EQ(ok.quantity(), "0.01");
  // Denied by the rate stage after the rules ran: still listed.
  b.limits.order_rate_per_minute_max = 1;
  GateState limited = b.make();
  ASSERT_TRUE(test::inject_order(limited, "ETH-USD", ipc::SIDE_BUY, "0.01", "2000", b.now - 1).ok());
  const ipc::Decision rate = decide(limited, entry("b", "0.02"), b.ctx()).decision;
  EXPECT_EQ(rate.reason(), ipc::DENY_REASON_ORDER_RATE_ABOVE_MAX);
  EXPECT_THAT(fired(rate), ElementsAre("note_one", "note_two", "halve"));
  // Denied by a hard limit: the rules never ran, no facts.
  const DecideResult hard = decide(s, entry("c", "0.00001"), b.ctx());
  EXPECT_EQ(hard.decision.reason(), ipc::DENY_REASON_SIZE_BELOW_MIN);
  EXPECT_THAT(fired(hard.decision), IsEmpty());
  EXPECT_FALSE(hard.rule_facts.has_value());
  // An empty rule set: nothing fires, the facts are there.
  b.rule_set = rules::RuleSet();
  const DecideResult empty = decide(s, entry("d", "0.02"), b.ctx());
  EXPECT_TRUE(empty.decision.accepted());
  EXPECT_THAT(fired(empty.decision), IsEmpty());
  EXPECT_TRUE(empty.rule_facts.has_value());
  EXPECT_EQ(empty.decision.quantity(), "0.02");
  // No rule set at all: no stage 7, no facts.
  b.use_rules = false;
  const DecideResult none = decide(s, entry("d", "0.02"), b.ctx());
  EXPECT_TRUE(none.decision.accepted());
  EXPECT_FALSE(none.rule_facts.has_value());
  EXPECT_EQ(none.decision.SerializeAsString(), empty.decision.SerializeAsString());
  EXPECT_TRUE(rule_facts_for(s, entry("d", "0.02"), b.ctx()).has_value());
}

TEST(RuleStage, HitCountersFollowRecordedDecisions) {
  Bench b;
  b.rule_set = compile_rules(rule("note_one", "true", "warn \"a\"") + rule("note_two", "order.side == sell", "warn \"b\"") +
                             rule("note_three", "order.side == buy", "warn \"c\""));
  GateState s = b.make();
  trade(s, "BTC-USD", ipc::SIDE_BUY, "1", "10000", kT0 - 2 * kHourNs);
  const std::vector<ipc::OrderIntent> intents = {entry("a", "0.01"), entry("b", "0.01"), exit_sell("c", "0.1")};
  for (const auto& i : intents) {
    const ipc::Decision d = decide(s, i, b.ctx()).decision;
    ASSERT_TRUE(s.record_decision(i, d).ok());
    // A retry is replayed and counts nothing.
    ASSERT_TRUE(s.record_decision(i, decide(s, i, b.ctx()).decision).ok());
  }
  EXPECT_EQ(s.rule_hits().at("note_one"), 3u);
  EXPECT_EQ(s.rule_hits().at("note_two"), 1u);
  EXPECT_EQ(s.rule_hits().at("note_three"), 2u);
  EXPECT_EQ(s.rule_hits_untracked(), 0u);

  // The id bound: at 2 ids, the third id's hits are counted apart.
  for (const std::size_t max : {std::size_t{2}, std::size_t{3}, std::size_t{4}}) {
    b.bounds.rule_hit_ids_max = max;
    GateState t = b.make();
    const ipc::OrderIntent i = entry("a", "0.01");
    ASSERT_TRUE(t.record_decision(i, decide(t, i, b.ctx()).decision).ok());  // note_one, note_three
    const ipc::OrderIntent j = exit_sell("s", "0.01", false);
    trade(t, "BTC-USD", ipc::SIDE_BUY, "1", "10000", kT0 - 2 * kHourNs);
    ASSERT_TRUE(t.record_decision(j, decide(t, j, b.ctx()).decision).ok());  // note_one, note_two
    EXPECT_EQ(t.rule_hits().size(), std::min<std::size_t>(max, 3)) << max;
    EXPECT_EQ(t.rule_hits_untracked(), max >= 3 ? 0u : 1u) << max;
  }
}

ipc::RulesLoaded loaded_rules(const std::vector<std::pair<std::string, std::uint32_t>>& list) {
  ipc::RulesLoaded r;
  for (const auto& [id, version] : list) {
    ipc::RulesLoaded::Rule* x = r.add_rules();
    x->set_id(id);
    x->set_version(version);
  }
  r.set_rule_count(static_cast<std::uint32_t>(list.size()));
  return r;
}

TEST(RuleStage, HitCountersSurviveReloadsForTheSameIdAndVersion) {
  Bench b;
  b.rule_set = compile_rules(rule("note_one", "true", "warn \"a\"") + rule("note_two", "true", "warn \"b\"") +
                             rule("note_gone", "true", "warn \"c\""));
  GateState s = b.make();
  ASSERT_TRUE(s.apply_rules_loaded(loaded_rules({{"note_one", 1}, {"note_two", 1}, {"note_gone", 1}})).ok());
  EXPECT_EQ(s.loaded_rule_versions().size(), 3u);
  const auto record = [&](const std::string& id) {
    const ipc::OrderIntent i = entry(id, "0.01");
    ASSERT_TRUE(s.record_decision(i, decide(s, i, b.ctx()).decision).ok());
  };
  record("a");
  record("b");
  EXPECT_EQ(s.rule_hits().at("note_one"), 2u);
  EXPECT_EQ(s.rule_hits().at("note_two"), 2u);
  EXPECT_EQ(s.rule_hits().at("note_gone"), 2u);

  // A reload: note_one unchanged, note_two in a new version, note_gone
  // removed, note_three new. Only note_one keeps its count.
  ASSERT_TRUE(s.apply_rules_loaded(loaded_rules({{"note_one", 1}, {"note_two", 2}, {"note_three", 1}})).ok());
  EXPECT_EQ(s.rule_hits().at("note_one"), 2u);
  EXPECT_EQ(s.rule_hits().count("note_two"), 0u);
  EXPECT_EQ(s.rule_hits().count("note_gone"), 0u);
  EXPECT_EQ(s.loaded_rule_versions().at("note_two"), 2u);

  // A failed reload changes nothing.
  ipc::RulesLoaded failed;
  failed.set_failed(true);
  ASSERT_TRUE(s.apply_rules_loaded(failed).ok());
  EXPECT_EQ(s.loaded_rule_versions().size(), 3u);
  EXPECT_EQ(s.rule_hits().at("note_one"), 2u);

  // A hit of a rule that is not loaded (the decision was made with the old
  // set) has no counter.
  record("c");
  EXPECT_EQ(s.rule_hits().at("note_one"), 3u);
  EXPECT_EQ(s.rule_hits().at("note_two"), 1u);
  EXPECT_EQ(s.rule_hits().count("note_gone"), 0u);
  EXPECT_EQ(s.rule_hits_untracked(), 1u);

  // A record from before RulesLoaded listed rules: the set is unknown
  // again, and counters go by id.
  ipc::RulesLoaded legacy;
  legacy.set_rule_count(3);
  ASSERT_TRUE(s.apply_rules_loaded(legacy).ok());
  EXPECT_TRUE(s.loaded_rule_versions().empty());
  record("d");
  EXPECT_EQ(s.rule_hits().at("note_gone"), 1u);
  EXPECT_EQ(s.rule_hits_untracked(), 1u);
  // The next listed set keeps what is still loaded (its version unknown).
  ASSERT_TRUE(s.apply_rules_loaded(loaded_rules({{"note_one", 7}})).ok());
  EXPECT_EQ(s.rule_hits().size(), 1u);
  EXPECT_EQ(s.rule_hits().at("note_one"), 4u);
}

TEST(RuleStage, RulesLoadedIsCheckedBeforeItChangesAnything) {
  Bench b;
  GateState s = b.make();
  ASSERT_TRUE(s.apply_rules_loaded(loaded_rules({{"a", 1}})).ok());
  EXPECT_FALSE(s.apply_rules_loaded(loaded_rules({{"x", 1}, {"x", 2}})).ok());
  EXPECT_EQ(s.loaded_rule_versions().count("a"), 1u);
  for (const std::size_t n : {rules::kRuleCountMax - 1, rules::kRuleCountMax, rules::kRuleCountMax + 1}) {
    std::vector<std::pair<std::string, std::uint32_t>> list;
    for (std::size_t i = 0; i < n; ++i) list.emplace_back("r" + std::to_string(i), 1);
    EXPECT_EQ(s.apply_rules_loaded(loaded_rules(list)).ok(), n <= rules::kRuleCountMax) << n;
  }
  EXPECT_EQ(s.loaded_rule_versions().size(), rules::kRuleCountMax);
  // An empty set is a set: nothing is loaded.
  ASSERT_TRUE(s.apply_rules_loaded(ipc::RulesLoaded()).ok());
  EXPECT_TRUE(s.loaded_rule_versions().empty());
}

// ------------------------------------------------------- the gate's facts

TEST(RuleStage, FactsComeFromTheGatesOwnState) {
  Bench b;
  b.now = kT0 + 30 * kMinuteNs + 15 * kNanosPerSecond;  // Friday 12:30:15
  GateState s = b.make();
  trade(s, "BTC-USD", ipc::SIDE_BUY, "2", "10000", kT0 - 3 * kHourNs, "1");
  trade(s, "BTC-USD", ipc::SIDE_SELL, "1", "9500", kT0 - 2 * kHourNs, "1");  // a stop-out; both fills are today
  ASSERT_TRUE(s.apply_mark("BTC-USD", D("9800"), kT0).ok());
  ASSERT_TRUE(s.apply_quote("BTC-USD", D("9799"), D("9801"), kT0).ok());
  // Recorded decisions 59 s and 60 s ago: only the first is inside the minute.
  ASSERT_TRUE(test::inject_order(s, "ETH-USD", ipc::SIDE_BUY, "0.01", "2000", b.now - 60 * kNanosPerSecond).ok());
  ASSERT_TRUE(test::inject_order(s, "ETH-USD", ipc::SIDE_BUY, "0.01", "2000", b.now - 59 * kNanosPerSecond).ok());

  ipc::OrderIntent i = order("x", ipc::SIDE_BUY, "0.5", "9900", "9000");
  i.set_strategy("momentum");
  const DecideResult r = decide(s, i, b.ctx());
  ASSERT_TRUE(r.decision.accepted()) << r.decision.detail();
  ASSERT_TRUE(r.rule_facts.has_value());
  const rules::Facts f = r.rule_facts->facts();
  EXPECT_EQ(f.order.product, "BTC-USD");
  EXPECT_EQ(f.order.strategy, "momentum");
  EXPECT_EQ(f.order.side, rules::Side::kBuy);
  EXPECT_EQ(f.order.type, rules::OrderType::kLimit);
  EXPECT_EQ(f.order.quantity, D("0.5"));
  EXPECT_EQ(f.order.price, D("9900"));
  EXPECT_EQ(f.order.notional, D("4950"));
  EXPECT_FALSE(f.order.reduce_only);
  EXPECT_EQ(f.position.quantity, D("1"));
  EXPECT_EQ(f.position.notional, D("9800"));
  EXPECT_EQ(f.position.average_cost, D("10000"));
  EXPECT_EQ(f.position.unrealized_pnl, D("-200"));
  EXPECT_EQ(f.account.equity, s.ledger().equity());
  EXPECT_EQ(f.account.cash, s.ledger().cash());
  EXPECT_EQ(f.account.gross_exposure, D("9800"));
  EXPECT_EQ(f.account.drawdown, s.ledger().drawdown_fraction());
  EXPECT_EQ(f.account.daily_pnl, s.ledger().daily_pnl());
  EXPECT_EQ(f.market.reference_price, D("10000"));
  EXPECT_EQ(f.market.spread, D("0.00020409"));  // 2 / 9800, rounded up
  EXPECT_EQ(f.time.utc_hour, 12);
  EXPECT_EQ(f.time.weekday, rules::Weekday::kFriday);
  EXPECT_EQ(f.time.since_last_stop_out_s, 2 * 3600 + 30 * 60 + 15);
  EXPECT_EQ(f.stats.orders_last_minute, 1);
  EXPECT_EQ(f.stats.consecutive_losses, 0);  // the trade is still open
  EXPECT_EQ(f.stats.fills_today, 2);

  // The journal form round-trips.
  auto back = facts_from_proto(to_proto(f));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(to_proto(back->facts()).SerializeAsString(), to_proto(f).SerializeAsString());
  // ... and refuses junk.
  ipc::RuleFacts junk = to_proto(f);
  junk.set_order_quantity("1e5");
  EXPECT_FALSE(facts_from_proto(junk).ok());
  junk = to_proto(f);
  junk.set_time_weekday(7);
  EXPECT_FALSE(facts_from_proto(junk).ok());
  junk = to_proto(f);
  junk.set_order_side(ipc::SIDE_UNSPECIFIED);
  EXPECT_FALSE(facts_from_proto(junk).ok());
  junk = to_proto(f);
  junk.set_order_product(std::string(kProductLengthMax + 1, 'A'));
  EXPECT_FALSE(facts_from_proto(junk).ok());

  // Fills of an earlier day are not today's; no stop-out means ten years.
  b.now = kT0 + kNanosPerDay;
  GateState fresh = b.make();
  const DecideResult r2 = decide(fresh, entry("y", "0.01"), b.ctx());
  ASSERT_TRUE(r2.rule_facts.has_value());
  EXPECT_EQ(r2.rule_facts->facts().time.since_last_stop_out_s, rules::kNeverStoppedOut_s);
  EXPECT_EQ(r2.rule_facts->facts().stats.fills_today, 0);
  EXPECT_EQ(r2.rule_facts->facts().time.weekday, rules::Weekday::kSaturday);
  EXPECT_TRUE(r2.rule_facts->facts().market.spread.is_zero());
}

TEST(RuleStage, FactsSnapshotOwnsItsNames) {
  rules::Facts f;
  std::string product = "BTC-USD";
  std::string strategy(kStrategyLengthMax, 's');
  f.order.product = product;
  f.order.strategy = strategy;
  FactsSnapshot snap(f);
  product = "XXXXXXX";
  strategy.assign(kStrategyLengthMax, 'x');
  FactsSnapshot copy = snap;
  EXPECT_EQ(copy.facts().order.product, "BTC-USD");
  EXPECT_EQ(copy.facts().order.strategy, std::string(kStrategyLengthMax, 's'));
}

// ------------------------------------------- rules never loosen a hard limit

TEST(RuleStage, RulesCannotLoosenAHardLimit) {
  // A rule that caps notional far below the maximum cannot rescue an order
  // the hard limit denies: stage 6 has already decided.
  Bench b;
  b.limits.order_notional_max = D("100");
  b.rule_set = compile_rules(rule("small", "true", "cap notional to 50 USD"));
  GateState s = b.make();
  const DecideResult r = decide(s, entry("x", "0.02"), b.ctx());  // 200 USD
  EXPECT_EQ(r.decision.reason(), ipc::DENY_REASON_NOTIONAL_ABOVE_MAX);
  EXPECT_THAT(fired(r.decision), IsEmpty());
}

TEST(RuleStage, PropertyRulesOnlyDenyShrinkOrRestrict) {
  const char* env = std::getenv("TA_TEST_SEED");
  const std::uint32_t seed = env ? static_cast<std::uint32_t>(std::strtoul(env, nullptr, 10)) : std::random_device{}();
  std::printf("seed=%u\n", seed);
  std::mt19937 rng(seed);
  const std::vector<std::string> candidates = {
      rule("r_cap_q", "order.quantity > 0.01", "cap quantity to order.quantity * 40%"),
      rule("r_cap_n", "true", "cap notional to 250 USD"),
      rule("r_cap_big", "true", "cap quantity to 100"),
      rule("r_force", "order.side == sell", "force reduce_only"),
      rule("r_deny", "order.notional > 300 USD", "deny \"too big\""),
      rule("r_warn", "true", "warn \"hello\""),
      rule("r_hold", "order.quantity > 0.05", "hold for approval within 10m"),
      rule("r_zero", "order.price < 9000 USD", "cap quantity to 0"),
  };
  const char* quantities[] = {"0.00005", "0.0001", "0.003", "0.02", "0.05", "0.0625", "0.3", "2"};
  const char* prices[] = {"", "8000", "9500", "10000", "10600"};
  int hard_denials = 0, accepted = 0, shrunk = 0, rule_denials = 0;
  for (int iteration = 0; iteration < 300; ++iteration) {
    Bench b;
    b.limits.order_notional_max = D("1000");
    b.limits.price_band_bps = D("500");
    std::string text;
    for (const std::string& c : candidates) {
      if (rng() % 2 == 0) text += c;
    }
    b.rule_set = compile_rules(text);
    GateState s = b.make();
    if (rng() % 2 == 0) trade(s, "BTC-USD", ipc::SIDE_BUY, "0.1", "10000", kT0 - 2 * kHourNs);
    const ipc::Side side = rng() % 2 == 0 ? ipc::SIDE_BUY : ipc::SIDE_SELL;
    const char* price = prices[rng() % std::size(prices)];
    ipc::OrderIntent i = order("p", side, quantities[rng() % std::size(quantities)], price,
                               side == ipc::SIDE_BUY ? "7000" : "");
    i.set_reduce_only(side == ipc::SIDE_SELL && rng() % 2 == 0);
    const ipc::Decision with = decide(s, i, b.ctx()).decision;
    b.use_rules = false;
    const ipc::Decision without = decide(s, i, b.ctx()).decision;
    const std::string what = "iteration " + std::to_string(iteration) + " rules:\n" + text + "intent " + i.ShortDebugString();
    if (!without.accepted() && without.reason() != ipc::DENY_REASON_ORDER_RATE_ABOVE_MAX) {
      // Denied before the rules: exactly the same decision with rules.
      EXPECT_EQ(with.SerializeAsString(), without.SerializeAsString()) << what;
      ++hard_denials;
    } else if (!with.accepted()) {
      ++rule_denials;
    }
    if (with.accepted()) {
      ASSERT_TRUE(without.accepted()) << what;
      EXPECT_LE(D(with.quantity().c_str()), D(without.quantity().c_str())) << what;
      EXPECT_TRUE(with.reduce_only() || !without.reduce_only()) << what;
      ++accepted;
      if (with.quantity() != without.quantity()) ++shrunk;
    }
  }
  // The random cases cover every branch.
  EXPECT_GT(hard_denials, 0);
  EXPECT_GT(rule_denials, 0);
  EXPECT_GT(accepted, 0);
  EXPECT_GT(shrunk, 0);
}

}  // namespace
}  // namespace ta::gate
