// AgentEngine: the next-bar rule, lifecycle driven by the gate's messages,
// several products and strategies, and the bad-data guards.
#include <gtest/gtest.h>

#include <map>

#include "strategy_test_support.h"

namespace ta::agent {
namespace {

using test::bar;
using test::D;
using test::pid;
using test::spot;

const ProductId kBtc = pid("BTC-USD");
const ProductId kEth = pid("ETH-USD");

// Enters whenever flat and exits whenever holding (no indicators, so ready
// from the first bar): every bar exercises the lifecycle.
std::shared_ptr<const StrategyDefinition> always(const char* name = "always", const char* extra = "") {
  std::string yaml = std::string("name: ") + name +
                     "\nnodes: {}\nentry: {long: close > 0}\nexit: {long: close > 0}\nstops: {fixed_percent: 1}\n" +
                     extra;
  auto load = parse_strategy(yaml, std::string(name) + ".yaml");
  EXPECT_TRUE(load.ok()) << proto::join_problems(load.problems);
  return load.strategy;
}

// Enters whenever flat, never exits by condition.
std::shared_ptr<const StrategyDefinition> holder(const char* name, const char* stops = "{fixed_percent: 1}") {
  std::string yaml = std::string("name: ") + name + "\nnodes: {}\nentry: {long: close > 0}\nstops: " + stops + "\n";
  auto load = parse_strategy(yaml, std::string(name) + ".yaml");
  EXPECT_TRUE(load.ok()) << proto::join_problems(load.problems);
  return load.strategy;
}

Bar flat(const ProductId& p, std::int64_t i, double price = 100) { return bar(p, i, price, price + 1, price - 1, price); }

// Caps that do not bind, so the risk budget alone sets the size.
SizingLimits uncapped() {
  SizingLimits l;
  l.position_notional_pct_max = D("100");
  l.order_notional_max = D("1000000");
  return l;
}

DecisionEvent decision(const std::string& id, bool accepted) {
  DecisionEvent d;
  d.intent_id = id;
  d.accepted = accepted;
  return d;
}

FillEvent fill_of(const Intent& in, std::int64_t ts_s, Decimal quantity = Decimal::zero()) {
  FillEvent f;
  f.intent_id = in.intent_id;
  f.strategy = in.strategy;
  f.product = in.product;
  f.side = in.side;
  f.quantity = quantity.is_zero() ? in.quantity : quantity;
  f.price = D("100");
  f.ts_ns = ts_s * 1'000'000'000LL;
  return f;
}

TEST(Engine, NextBarRule) {
  auto engine = test::make_engine({always()}, {spot("BTC-USD")});
  const Bar b0 = flat(kBtc, 0);
  const auto out = engine.on_bar(b0);
  ASSERT_EQ(out.size(), 1u);
  const Intent entry = out[0];
  // Built at bar 0's close, to execute on bar 1, never on bar 0.
  EXPECT_EQ(entry.signal_bar_open_ts_s, b0.open_ts_s);
  EXPECT_EQ(entry.created_ts_ns, b0.close_ts_s() * 1'000'000'000LL);
  EXPECT_EQ(entry.execute_bar_open_ts_s, b0.open_ts_s + 60);
  EXPECT_EQ(entry.reference_price, 100.0);
  EXPECT_EQ(entry.intent_id, "always-BTC-USD-" + std::to_string(b0.open_ts_s) + "-0");
  EXPECT_EQ(engine.find_slot("always", kBtc)->state, Lifecycle::kEntered);
  // While the entry is in flight nothing else is emitted, even though the
  // entry condition still holds.
  EXPECT_TRUE(engine.on_bar(flat(kBtc, 1)).empty());
  // The fill at bar 2's open: now the exit condition may fire on bar 2.
  engine.on_decision(decision(entry.intent_id, true));
  engine.on_fill(fill_of(entry, test::kT0 + 120));
  EXPECT_EQ(engine.find_slot("always", kBtc)->state, Lifecycle::kManaging);
  const auto out2 = engine.on_bar(flat(kBtc, 2));
  ASSERT_EQ(out2.size(), 1u);
  EXPECT_EQ(out2[0].purpose, IntentPurpose::kExit);
  EXPECT_EQ(out2[0].execute_bar_open_ts_s, test::kT0 + 180);
  EXPECT_EQ(engine.find_slot("always", kBtc)->counters->fills_before_next_bar, 0u);
}

TEST(Engine, NextBarRuleHoldsForEveryFillOfASimulatedRun) {
  auto engine = test::make_engine({always()}, {spot("BTC-USD")});
  test::NextBarSim sim(engine);
  for (int i = 0; i < 20; ++i) sim.step(flat(kBtc, i, 100 + i));
  ASSERT_FALSE(sim.fills.empty());
  std::map<std::string, std::int64_t> execute_at;
  for (const auto& in : sim.all_intents) execute_at[in.intent_id] = in.execute_bar_open_ts_s;
  for (const auto& f : sim.fills) {
    EXPECT_EQ(f.bar_open_ts_s, execute_at.at(f.intent_id)) << f.intent_id;
  }
  // Entry at 0 (fill 1), exit at 1 (fill 2), EXITED -> LOOKING and entry at
  // 2, ...: one intent per bar, alternating.
  EXPECT_EQ(sim.all_intents.size(), 20u);
  EXPECT_EQ(sim.all_intents[1].purpose, IntentPurpose::kExit);
}

TEST(Engine, FillBeforeTheExecutionBarIsCounted) {
  auto engine = test::make_engine({always()}, {spot("BTC-USD")});
  const Intent entry = engine.on_bar(flat(kBtc, 0))[0];
  engine.on_fill(fill_of(entry, test::kT0 + 30));  // inside bar 0
  EXPECT_EQ(engine.find_slot("always", kBtc)->counters->fills_before_next_bar, 1u);
}

TEST(Engine, DeniedEntryGoesBackToLookingAndRetriesWithANewId) {
  auto engine = test::make_engine({always()}, {spot("BTC-USD")});
  const Intent first = engine.on_bar(flat(kBtc, 0))[0];
  engine.on_decision(decision(first.intent_id, false));
  auto slot = engine.find_slot("always", kBtc).value();
  EXPECT_EQ(slot.state, Lifecycle::kLooking);
  EXPECT_EQ(slot.counters->entries_denied, 1u);
  EXPECT_TRUE(slot.pending_intent_id.empty());
  const auto again = engine.on_bar(flat(kBtc, 1));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_NE(again[0].intent_id, first.intent_id);
  // A second answer for the old id matches nothing.
  engine.on_decision(decision(first.intent_id, true));
  EXPECT_EQ(engine.counters().messages_unmatched, 1u);
}

TEST(Engine, HeldEntryStaysPendingUntilTheGateSettlesIt) {
  auto engine = test::make_engine({always()}, {spot("BTC-USD")});
  // Released: the held intent becomes an order and fills.
  const Intent first = engine.on_bar(flat(kBtc, 0))[0];
  DecisionEvent held = decision(first.intent_id, false);
  held.deny_reason = kDenyReasonHeldForApproval;
  engine.on_decision(held);
  auto slot = engine.find_slot("always", kBtc).value();
  EXPECT_EQ(slot.state, Lifecycle::kEntered);
  EXPECT_EQ(slot.pending_intent_id, first.intent_id);
  EXPECT_EQ(slot.counters->held_for_approval, 1u);
  EXPECT_EQ(slot.counters->entries_denied, 0u);
  for (int i = 1; i <= 5; ++i) EXPECT_TRUE(engine.on_bar(flat(kBtc, i)).empty()) << "nothing more while held";
  engine.on_decision(decision(first.intent_id, true));  // an operator released it
  engine.on_fill(fill_of(first, test::kT0 + 6 * 60));
  EXPECT_EQ(engine.find_slot("always", kBtc)->state, Lifecycle::kManaging);
  EXPECT_EQ(engine.counters().messages_unmatched, 0u);

  // Expired: a denial after which the slot goes on with a new id.
  auto other = test::make_engine({always()}, {spot("BTC-USD")});
  const Intent second = other.on_bar(flat(kBtc, 0))[0];
  held.intent_id = second.intent_id;
  other.on_decision(held);
  DecisionEvent expired = decision(second.intent_id, false);
  expired.deny_reason = 24;  // DENY_REASON_RULE
  other.on_decision(expired);
  slot = other.find_slot("always", kBtc).value();
  EXPECT_EQ(slot.state, Lifecycle::kLooking);
  EXPECT_TRUE(slot.pending_intent_id.empty());
  EXPECT_EQ(slot.counters->entries_denied, 1u);
  const auto again = other.on_bar(flat(kBtc, 1));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_NE(again[0].intent_id, second.intent_id);
}

TEST(Engine, OrderEndingUnfilledOrPartlyFilled) {
  // Cancelled with nothing filled: a denial.
  {
    auto engine = test::make_engine({always()}, {spot("BTC-USD")});
    const Intent in = engine.on_bar(flat(kBtc, 0))[0];
    engine.on_decision(decision(in.intent_id, true));
    OrderEvent working{in.intent_id, OrderEventKind::kWorking, {}};
    engine.on_order_update(working);
    EXPECT_EQ(engine.find_slot("always", kBtc)->state, Lifecycle::kEntered);
    engine.on_order_update({in.intent_id, OrderEventKind::kExpired, Decimal::zero()});
    EXPECT_EQ(engine.find_slot("always", kBtc)->state, Lifecycle::kLooking);
    EXPECT_EQ(engine.find_slot("always", kBtc)->counters->entries_denied, 1u);
  }
  // Cancelled after a partial fill whose Fill message comes later: the
  // fill opens the position.
  {
    auto engine = test::make_engine({always()}, {spot("BTC-USD")});
    const Intent in = engine.on_bar(flat(kBtc, 0))[0];
    engine.on_order_update({in.intent_id, OrderEventKind::kCancelled, D("1")});
    EXPECT_EQ(engine.find_slot("always", kBtc)->state, Lifecycle::kEntered);
    engine.on_fill(fill_of(in, test::kT0 + 60, D("1")));
    const auto slot = engine.find_slot("always", kBtc).value();
    EXPECT_EQ(slot.state, Lifecycle::kManaging);
    EXPECT_EQ(slot.position, D("1"));
    EXPECT_DOUBLE_EQ(slot.stop_price, 99.0);  // the entry's 1 % stop
    // The exit sells exactly what is held.
    const auto out = engine.on_bar(flat(kBtc, 1));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].quantity, D("1"));
  }
  // FILLED reported before the fill itself: waits for the fill.
  {
    auto engine = test::make_engine({always()}, {spot("BTC-USD")});
    const Intent in = engine.on_bar(flat(kBtc, 0))[0];
    engine.on_order_update({in.intent_id, OrderEventKind::kFilled, in.quantity});
    EXPECT_EQ(engine.find_slot("always", kBtc)->state, Lifecycle::kEntered);
    engine.on_fill(fill_of(in, test::kT0 + 60));
    EXPECT_EQ(engine.find_slot("always", kBtc)->state, Lifecycle::kManaging);
    EXPECT_DOUBLE_EQ(engine.find_slot("always", kBtc)->stop_price, 99.0);
  }
}

TEST(Engine, DeniedExitReturnsToManagingAndExitsAgain) {
  auto engine = test::make_engine({always()}, {spot("BTC-USD")});
  const Intent entry = engine.on_bar(flat(kBtc, 0))[0];
  engine.on_fill(fill_of(entry, test::kT0 + 60));
  const Intent exit = engine.on_bar(flat(kBtc, 1))[0];
  EXPECT_EQ(engine.find_slot("always", kBtc)->state, Lifecycle::kExiting);
  engine.on_decision(decision(exit.intent_id, false));
  auto slot = engine.find_slot("always", kBtc).value();
  EXPECT_EQ(slot.state, Lifecycle::kManaging);
  EXPECT_EQ(slot.counters->exits_denied, 1u);
  const auto again = engine.on_bar(flat(kBtc, 2));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].purpose, IntentPurpose::kExit);
  EXPECT_TRUE(again[0].reduce_only);
  // Partial exit fill, then the order is cancelled: back to MANAGING with
  // the remainder; the next exit sells only that.
  engine.on_fill(fill_of(again[0], test::kT0 + 180, again[0].quantity.sub(D("0.5")).value()));
  EXPECT_EQ(engine.find_slot("always", kBtc)->state, Lifecycle::kExiting);
  engine.on_order_update({again[0].intent_id, OrderEventKind::kCancelled, D("0.5")});
  EXPECT_EQ(engine.find_slot("always", kBtc)->state, Lifecycle::kManaging);
  const auto third = engine.on_bar(flat(kBtc, 3));
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].quantity, D("0.5"));
  engine.on_fill(fill_of(third[0], test::kT0 + 240));
  slot = engine.find_slot("always", kBtc).value();
  EXPECT_EQ(slot.state, Lifecycle::kExited);
  EXPECT_TRUE(slot.position.is_zero());
  EXPECT_EQ(slot.counters->trades_closed, 1u);
}

TEST(Engine, GateFlattenClosesPositionsAndCooldownDelaysLooking) {
  // Uncapped, so h1's new entry in flight leaves room for a2's.
  auto engine = test::make_engine({holder("h1"), always("a2", "cooldown_bars: 2\n")}, {spot("BTC-USD")},
                                  Decimal::from_integer(100'000), uncapped());
  const auto out = engine.on_bar(flat(kBtc, 0));
  ASSERT_EQ(out.size(), 2u);
  for (const auto& in : out) engine.on_fill(fill_of(in, test::kT0 + 60, D("1")));
  // The gate reports BTC flat (kill --flatten): both strategies are out.
  PositionEvent snap;
  snap.equity = D("50000");
  snap.positions.emplace_back(kBtc, Decimal::zero());
  engine.on_position(snap);
  EXPECT_EQ(engine.equity(), D("50000"));
  for (const char* name : {"h1", "a2"}) {
    const auto slot = engine.find_slot(name, kBtc).value();
    EXPECT_EQ(slot.state, Lifecycle::kExited) << name;
    EXPECT_TRUE(slot.position.is_zero()) << name;
  }
  // h1 (no cooldown) looks again on the next bar; a2 waits two bars.
  auto next = engine.on_bar(flat(kBtc, 1));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].strategy, "h1");
  EXPECT_TRUE(engine.on_bar(flat(kBtc, 2)).empty());
  next = engine.on_bar(flat(kBtc, 3));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].strategy, "a2");
  // A snapshot that disagrees without being flat is only counted.
  snap.positions[0].second = D("3");
  engine.on_position(snap);
  EXPECT_EQ(engine.counters().position_mismatches, 1u);
}

TEST(Engine, EachStrategyTracksItsOwnPositionPerProduct) {
  auto engine = test::make_engine({holder("h1"), holder("h2")}, {spot("BTC-USD"), spot("ETH-USD")});
  ASSERT_EQ(engine.slot_count(), 4u);
  // Slots by product, then strategy.
  EXPECT_EQ(engine.slot(0).strategy, "h1");
  EXPECT_EQ(engine.slot(0).product, kBtc);
  EXPECT_EQ(engine.slot(1).strategy, "h2");
  EXPECT_EQ(engine.slot(2).product, kEth);
  const auto btc = engine.on_bar(flat(kBtc, 0));
  ASSERT_EQ(btc.size(), 2u);
  engine.on_fill(fill_of(btc[0], test::kT0 + 60, D("1")));
  EXPECT_EQ(engine.find_slot("h1", kBtc)->position, D("1"));
  EXPECT_TRUE(engine.find_slot("h2", kBtc)->position.is_zero());
  EXPECT_TRUE(engine.find_slot("h1", kEth)->position.is_zero());
  EXPECT_EQ(engine.find_slot("h1", kEth)->state, Lifecycle::kIdle);
  // A fill for a strategy or product the engine does not run.
  FillEvent stray = fill_of(btc[0], test::kT0 + 60);
  stray.strategy = "other";
  engine.on_fill(stray);
  EXPECT_EQ(engine.counters().fills_unmatched, 1u);
}

TEST(Engine, PositionCapCountsOtherStrategiesAndEntriesInFlight) {
  // Cap 1 % of 100,000 = 1,000 USD of BTC at 100 = 10 units. Risk 0.25 %
  // over a 1 % stop sizes 25 units, so h1 gets 10 and h2 nothing.
  SizingLimits limits;
  limits.position_notional_pct_max = D("1");
  auto engine = test::make_engine({holder("h1"), holder("h2")}, {spot("BTC-USD")},
                                  Decimal::from_integer(100'000), limits);
  const auto out = engine.on_bar(flat(kBtc, 0));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].strategy, "h1");
  EXPECT_EQ(out[0].quantity, D("10"));
  const auto h2 = engine.find_slot("h2", kBtc).value();
  EXPECT_EQ(h2.counters->sizing_refused[static_cast<std::size_t>(SizingOutcome::kBelowMinSize)], 1u);
  EXPECT_EQ(h2.counters->capped_by_position, 1u);
  EXPECT_EQ(h2.state, Lifecycle::kLooking);
}

TEST(Engine, EquityDrivesSize) {
  auto engine = test::make_engine({holder("h1")}, {spot("BTC-USD")}, Decimal::from_integer(1'000), uncapped());
  // 0.25 % of 1,000 = 2.5 USD over a 1 USD stop distance.
  EXPECT_EQ(engine.on_bar(flat(kBtc, 0))[0].quantity, D("2.5"));
  auto e2 = test::make_engine({holder("h1")}, {spot("BTC-USD")}, Decimal::from_integer(1'000), uncapped());
  e2.set_equity(D("2000"));
  EXPECT_EQ(e2.on_bar(flat(kBtc, 0))[0].quantity, D("5"));
  auto e3 = test::make_engine({holder("h1")}, {spot("BTC-USD")}, Decimal::zero());
  EXPECT_TRUE(e3.on_bar(flat(kBtc, 0)).empty());
  EXPECT_EQ(e3.find_slot("h1", kBtc)
                ->counters->sizing_refused[static_cast<std::size_t>(SizingOutcome::kEquityNotPositive)],
            1u);
}

TEST(Engine, BadBarsNeverReachAStrategy) {
  auto engine = test::make_engine({always()}, {spot("BTC-USD")});
  Bar bad = flat(kBtc, 0);
  bad.low = 101;  // above the high
  EXPECT_TRUE(engine.on_bar(bad).empty());
  bad = flat(kBtc, 0);
  bad.close = std::nan("");
  EXPECT_TRUE(engine.on_bar(bad).empty());
  bad = flat(kBtc, 0);
  bad.open_ts_s += 1;  // not on a minute
  EXPECT_TRUE(engine.on_bar(bad).empty());
  EXPECT_EQ(engine.counters().bars_invalid, 3u);
  EXPECT_TRUE(engine.on_bar(flat(pid("SOL-USD"), 0)).empty());
  EXPECT_EQ(engine.counters().bars_unknown_product, 1u);
  EXPECT_EQ(engine.find_slot("always", kBtc)->state, Lifecycle::kIdle);
  EXPECT_EQ(engine.on_bar(flat(kBtc, 5)).size(), 1u);
  // Not newer than the previous bar: the same minute, then an older one.
  EXPECT_TRUE(engine.on_bar(flat(kBtc, 5)).empty());
  EXPECT_TRUE(engine.on_bar(flat(kBtc, 4)).empty());
  EXPECT_EQ(engine.counters().bars_out_of_order, 2u);
  EXPECT_EQ(engine.counters().bars, 1u);
}

TEST(Engine, NonFiniteInputsAndBadStopsNeverYieldAnIntent) {
  // A condition dividing by (high - low), zero on a bar without range.
  auto load = parse_strategy(R"(name: div
nodes: {}
entry: {long: close / (high - low) > 0}
stops: {fixed_percent: 1}
)",
                             "div.yaml");
  ASSERT_TRUE(load.ok()) << proto::join_problems(load.problems);
  // A stop from a node that can be negative: z-score as the distance puts a
  // long's stop above the close when the close is below its mean.
  auto z = parse_strategy(R"(name: zstop
nodes: {z: {zscore: {period: 3}}}
entry: {long: close > 0}
stops: {atr_multiple: {node: z, multiple: 1}}
)",
                          "zstop.yaml");
  ASSERT_TRUE(z.ok()) << proto::join_problems(z.problems);
  auto engine = test::make_engine({load.strategy, z.strategy}, {spot("BTC-USD")});
  EXPECT_TRUE(engine.on_bar(bar(kBtc, 0, 100, 100, 100, 100)).empty());
  EXPECT_EQ(engine.find_slot("div", kBtc)->counters->not_finite, 1u);
  EXPECT_TRUE(engine.on_bar(bar(kBtc, 1, 100, 100, 100, 100)).empty());
  EXPECT_TRUE(engine.on_bar(bar(kBtc, 2, 100, 100, 90, 90)).empty() == false);  // div fires; z: below mean
  const auto zslot = engine.find_slot("zstop", kBtc).value();
  EXPECT_EQ(zslot.counters->sizing_refused[static_cast<std::size_t>(SizingOutcome::kStopDistanceNotPositive)], 1u);
  EXPECT_EQ(zslot.state, Lifecycle::kLooking);
  EXPECT_EQ(zslot.counters->intents_entry, 0u);
}

TEST(Engine, CreateValidatesTheConfiguration) {
  EngineConfig c;
  EXPECT_FALSE(AgentEngine::create(c).ok());  // no products
  c.products = {spot("BTC-USD"), spot("BTC-USD")};
  EXPECT_FALSE(AgentEngine::create(c).ok());  // listed twice
  c.products = {spot("BTC-USD")};
  c.strategies.push_back({always(), {kEth}, Decimal::from_integer(1)});
  auto r = AgentEngine::create(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "strategy 'always': product ETH-USD is not configured");
  c.strategies = {{always(), {}, D("1.01")}};
  EXPECT_FALSE(AgentEngine::create(c).ok());
  c.strategies = {{always(), {}, D("1")}, {always(), {}, D("1")}};
  r = AgentEngine::create(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "strategy name 'always' is used twice");
  c.strategies = {{nullptr, {}, D("1")}};
  EXPECT_FALSE(AgentEngine::create(c).ok());
  c.strategies = {};
  c.equity = D("-1");
  EXPECT_FALSE(AgentEngine::create(c).ok());
  c.equity = D("0");
  c.sizing.risk_per_trade_pct = D("5");
  EXPECT_FALSE(AgentEngine::create(c).ok());
  // The product limit: at the limit and one above.
  c.sizing = {};
  c.products.clear();
  for (std::size_t i = 0; i < kEngineProductsMax; ++i) c.products.push_back(spot(("P" + std::to_string(i) + "-USD").c_str()));
  EXPECT_TRUE(AgentEngine::create(c).ok());
  c.products.push_back(spot("Q-USD"));
  EXPECT_FALSE(AgentEngine::create(c).ok());
}

TEST(Engine, StrategiesBoundToSomeProducts) {
  EngineConfig c;
  c.products = {spot("BTC-USD"), spot("ETH-USD")};
  c.equity = D("100000");
  c.sizing = uncapped();
  c.strategies.push_back({holder("h1"), {kEth}, D("0.5")});
  auto engine = AgentEngine::create(std::move(c)).value();
  ASSERT_EQ(engine.slot_count(), 1u);
  EXPECT_TRUE(engine.on_bar(flat(kBtc, 0)).empty());
  const auto out = engine.on_bar(flat(kEth, 0));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].quantity, D("125"));  // half the 250 USD risk budget over a 1 USD stop distance
  EXPECT_FALSE(engine.find_slot("h1", kBtc).has_value());
}

TEST(Engine, DeterministicOnRealData) {
  const auto btc = test::load_bars(test::demo_data() / "BTC-USD_1m_demo.csv", kBtc);
  const auto eth = test::load_bars(test::demo_data() / "ETH-USD_1m_demo.csv", kEth);
  ASSERT_FALSE(btc.empty());
  const auto run = [&]() {
    auto engine = test::make_engine({make_momentum("mom", {}).value(), make_mean_reversion("mr", {}).value()},
                                    {spot("BTC-USD"), spot("ETH-USD")});
    test::NextBarSim sim(engine, 0.001);
    for (std::size_t i = 0; i < btc.size() && i < eth.size(); ++i) {
      sim.step(btc[i]);
      sim.step(eth[i]);
    }
    return sim.all_intents;
  };
  const auto a = run();
  const auto b = run();
  ASSERT_GT(a.size(), 20u);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].intent_id, b[i].intent_id);
    EXPECT_EQ(a[i].quantity, b[i].quantity);
    EXPECT_EQ(a[i].protective_stop_price, b[i].protective_stop_price);
  }
}

}  // namespace
}  // namespace ta::agent

namespace ta::agent {
namespace {

// An engine whose holder "h1" entered on bar 0 and was filled: MANAGING a
// long BTC-USD position with its protective stop set.
AgentEngine managing_holder() {
  auto engine = test::make_engine({holder("h1")}, {spot("BTC-USD")});
  const auto out = engine.on_bar(flat(kBtc, 0));
  EXPECT_EQ(out.size(), 1u);
  const Intent entry = out[0];
  engine.on_decision(decision(entry.intent_id, true));
  engine.on_fill(fill_of(entry, test::kT0 + 60));
  return engine;
}

TEST(Engine, ReplaceStrategyKeepsLifecycleAndPosition) {
  auto engine = managing_holder();
  const auto before = engine.find_slot("h1", kBtc);
  ASSERT_EQ(before->state, Lifecycle::kManaging);
  const Decimal position = before->position;
  const double stop = before->stop_price;

  auto same_name = engine.strategy("h1");
  ASSERT_NE(same_name, nullptr);
  ASSERT_TRUE(engine.replace_strategy(same_name).ok());
  const auto after = engine.find_slot("h1", kBtc);
  EXPECT_EQ(after->state, Lifecycle::kManaging);
  EXPECT_EQ(after->position, position);
  EXPECT_EQ(after->stop_price, stop);
  // The protective stop still works with the fresh instance.
  const auto exit = engine.on_bar(bar(kBtc, 1, 100, 101, stop - 1, 100));
  ASSERT_EQ(exit.size(), 1u);
  EXPECT_EQ(exit[0].reason, SignalReason::kProtectiveStop);

  EXPECT_FALSE(engine.replace_strategy(holder("other")).ok());
  EXPECT_FALSE(engine.replace_strategy(nullptr).ok());
  EXPECT_EQ(engine.strategy("other"), nullptr);
}

TEST(Engine, ReplaceStrategyWithNewParametersWarmsUpAgain) {
  auto mo = make_momentum("mo", MomentumParams{2, 3, 1, 3.0, 0, 0});
  ASSERT_TRUE(mo.ok());
  auto engine = test::make_engine({*mo}, {spot("BTC-USD")});
  for (int i = 0; i < 10; ++i) (void)engine.on_bar(flat(kBtc, i));
  EXPECT_EQ(engine.find_slot("mo", kBtc)->state, Lifecycle::kLooking);
  auto slower = engine.strategy("mo")->with_parameter("slow_period", 5);
  ASSERT_TRUE(slower.ok());
  ASSERT_TRUE(engine.replace_strategy(*slower).ok());
  EXPECT_EQ(engine.strategy("mo")->parameter("slow_period"), 5.0);
  EXPECT_EQ(engine.find_slot("mo", kBtc)->state, Lifecycle::kLooking);
  // No signal while the new indicators warm up, whatever the prices do.
  for (int i = 10; i < 13; ++i) EXPECT_TRUE(engine.on_bar(flat(kBtc, i, 100 + 10 * i)).empty());
}

}  // namespace
}  // namespace ta::agent

namespace ta::agent {
namespace {

TEST(Engine, WarmUpReadiesTheIndicatorsAndDecidesNothing) {
  auto mo = make_momentum("mo", MomentumParams{2, 3, 1, 3.0, 0, 0});
  ASSERT_TRUE(mo.ok());
  auto warm = test::make_engine({*mo}, {spot("BTC-USD")});
  auto cold = test::make_engine({*mo}, {spot("BTC-USD")});
  // Flat, then a jump and a fall: live, the jump's cross would have
  // signalled an entry. The fall leaves the fast EMA under the slow one.
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(warm.warm_up(flat(kBtc, i, i < 5 ? 100 : i == 5 ? 150 : 90)));
  const SlotView after_warm_up = *warm.find_slot("mo", kBtc);
  EXPECT_EQ(after_warm_up.state, Lifecycle::kIdle);
  EXPECT_TRUE(after_warm_up.ready);
  EXPECT_TRUE(after_warm_up.position.is_zero());
  EXPECT_TRUE(after_warm_up.pending_intent_id.empty());
  EXPECT_EQ(after_warm_up.counters->intents_entry, 0u);
  EXPECT_EQ(warm.counters().bars, 0u);
  EXPECT_EQ(warm.counters().bars_warm_up, 10u);

  // The first live bar, a jump that crosses the EMAs again, is evaluated at
  // once by the warm engine; the cold one is still warming up on it.
  const Bar live = flat(kBtc, 10, 100);
  const auto out = warm.on_bar(live);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].purpose, IntentPurpose::kEntry);
  EXPECT_EQ(out[0].signal_bar_open_ts_s, live.open_ts_s);
  EXPECT_TRUE(cold.on_bar(live).empty());
  EXPECT_EQ(cold.find_slot("mo", kBtc)->state, Lifecycle::kIdle);
  EXPECT_FALSE(cold.find_slot("mo", kBtc)->ready);
}

TEST(Engine, WarmUpRefusesWhatOnBarRefuses) {
  auto engine = test::make_engine({always()}, {spot("BTC-USD")});
  EXPECT_TRUE(engine.warm_up(flat(kBtc, 5)));
  EXPECT_FALSE(engine.warm_up(flat(kBtc, 5)));  // not newer
  EXPECT_FALSE(engine.warm_up(flat(kBtc, 4)));
  EXPECT_FALSE(engine.warm_up(flat(kEth, 6)));  // not configured
  Bar broken = flat(kBtc, 6);
  broken.high = broken.low - 1;
  EXPECT_FALSE(engine.warm_up(broken));
  EXPECT_EQ(engine.counters().bars_out_of_order, 2u);
  EXPECT_EQ(engine.counters().bars_unknown_product, 1u);
  EXPECT_EQ(engine.counters().bars_invalid, 1u);
  EXPECT_EQ(engine.counters().bars_warm_up, 1u);
  // A live bar no newer than the warm-up's last is refused too: the live
  // feed cannot step back over the backfill.
  EXPECT_TRUE(engine.on_bar(flat(kBtc, 5)).empty());
  EXPECT_EQ(engine.counters().bars_out_of_order, 3u);
  EXPECT_EQ(engine.on_bar(flat(kBtc, 6)).size(), 1u);
}

TEST(Engine, WarmUpBarsNeverTouchAPositionBeingManaged) {
  auto engine = managing_holder();
  const SlotView before = *engine.find_slot("h1", kBtc);
  ASSERT_EQ(before.state, Lifecycle::kManaging);
  // Far through the protective stop: a live bar would exit.
  EXPECT_TRUE(engine.warm_up(bar(kBtc, 1, 100, 101, before.stop_price - 10, 100)));
  const SlotView after = *engine.find_slot("h1", kBtc);
  EXPECT_EQ(after.state, Lifecycle::kManaging);
  EXPECT_EQ(after.position, before.position);
  EXPECT_EQ(after.bars_held, before.bars_held);
  EXPECT_EQ(after.counters->stops_hit, 0u);
  const auto exit = engine.on_bar(bar(kBtc, 2, 100, 101, before.stop_price - 10, 100));
  ASSERT_EQ(exit.size(), 1u);
  EXPECT_EQ(exit[0].reason, SignalReason::kProtectiveStop);
}

// A warm-up is worth exactly the bars it replays: after warm_up(bars before
// k), the engine trades bars from k on as an engine that saw every bar
// live, but whose intents before k were all denied (so it was flat and
// LOOKING at k, as a restarted flat agent is).
TEST(Engine, WarmUpThenLiveTradesAsAnEngineThatSawTheBarsLive) {
  const auto btc = test::load_bars(test::demo_data() / "BTC-USD_1m_demo.csv", kBtc);
  ASSERT_GT(btc.size(), 2000u);
  const auto strategies = [] {
    return std::vector<std::shared_ptr<const StrategyDefinition>>{make_momentum("mom", {}).value(),
                                                                  make_mean_reversion("mr", {}).value()};
  };
  for (const std::size_t k : {std::size_t{30}, std::size_t{700}, std::size_t{1500}}) {
    auto warm = test::make_engine(strategies(), {spot("BTC-USD")});
    auto live = test::make_engine(strategies(), {spot("BTC-USD")});
    std::size_t denied = 0;
    for (std::size_t i = 0; i < k; ++i) {
      ASSERT_TRUE(warm.warm_up(btc[i]));
      std::vector<std::string> ids;
      for (const Intent& in : live.on_bar(btc[i])) ids.push_back(in.intent_id);
      for (const std::string& id : ids) live.on_decision(decision(id, false));
      denied += ids.size();
    }
    if (k > 100) {
      EXPECT_GT(denied, 0u) << "the live engine never signalled before bar " << k;
    }
    test::NextBarSim a(warm, 0.001);
    test::NextBarSim b(live, 0.001);
    for (std::size_t i = k; i < btc.size(); ++i) {
      a.step(btc[i]);
      b.step(btc[i]);
    }
    SCOPED_TRACE("k = " + std::to_string(k));
    ASSERT_GT(a.all_intents.size(), 10u);
    ASSERT_EQ(a.all_intents.size(), b.all_intents.size());
    for (std::size_t i = 0; i < a.all_intents.size(); ++i) {
      EXPECT_EQ(a.all_intents[i].intent_id, b.all_intents[i].intent_id);
      EXPECT_EQ(a.all_intents[i].quantity, b.all_intents[i].quantity);
      EXPECT_EQ(a.all_intents[i].protective_stop_price, b.all_intents[i].protective_stop_price);
    }
    EXPECT_EQ(a.equity(), b.equity());
  }
}

}  // namespace
}  // namespace ta::agent
