// Built-in strategies on hand-made series: entries and exits at the bars
// worked out by hand in the comments.
#include <gtest/gtest.h>

#include "strategy_test_support.h"

namespace ta::agent {
namespace {

using test::bars_from_closes;
using test::D;
using test::pid;

std::shared_ptr<const StrategyDefinition> momentum(MomentumParams p) {
  return make_momentum("mom", p).value();
}
std::shared_ptr<const StrategyDefinition> mean_reversion(MeanReversionParams p) {
  return make_mean_reversion("mr", p).value();
}

// EMA(2) and EMA(4) of these closes (seeded with the SMA):
//   bar   close  EMA2      EMA4
//   0-7   100    100       100 (EMA4 from bar 3)
//   8     101    100.667   100.4      <- EMA2 crosses above EMA4
//   11    104    103.506   102.694
//   12    103    103.169   102.817
//   13    102    102.390   102.490    <- crosses below
//   14    101    101.463   101.894
const std::vector<double> kMomentumCloses = {100, 100, 100, 100, 100, 100, 100, 100, 101, 102,
                                             103, 104, 103, 102, 101, 100, 100, 100};

MomentumParams small_momentum() {
  MomentumParams p;
  p.fast_period = 2;
  p.slow_period = 4;
  p.atr_period = 2;
  p.stop_atr = 3.0;
  return p;
}

TEST(Momentum, SignalsOnTheCrossBars) {
  const auto def = momentum(small_momentum());
  auto inst = def->instantiate();
  const auto bars = bars_from_closes(pid("BTC-USD"), kMomentumCloses);
  std::vector<int> long_entries;
  std::vector<int> long_exits;
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const bool ready = inst->update(bars[i]);
    // EMA4 is ready at bar 3; a cross also needs the previous bar: bar 4.
    EXPECT_EQ(ready, i >= 4) << i;
    if (!ready) continue;
    if (inst->entry(bars[i]).kind == SignalKind::kEnterLong) long_entries.push_back(static_cast<int>(i));
    if (inst->exit(bars[i], PositionSide::kLong).kind == SignalKind::kExit) long_exits.push_back(static_cast<int>(i));
  }
  EXPECT_EQ(long_entries, std::vector<int>{8});
  EXPECT_EQ(long_exits, std::vector<int>{13});
}

TEST(Momentum, EngineEntersAtCrossAndExitsAtCrossBack) {
  auto engine = test::make_engine({momentum(small_momentum())}, {test::spot("BTC-USD")});
  test::NextBarSim sim(engine);
  const auto bars = bars_from_closes(pid("BTC-USD"), kMomentumCloses);
  sim.run(bars);
  ASSERT_EQ(sim.all_intents.size(), 2u);
  const Intent& entry = sim.all_intents[0];
  EXPECT_EQ(entry.intent_id, "mom-BTC-USD-" + std::to_string(test::kT0 + 8 * 60) + "-0");
  EXPECT_EQ(entry.purpose, IntentPurpose::kEntry);
  EXPECT_EQ(entry.side, OrderSide::kBuy);
  EXPECT_EQ(entry.signal_bar_open_ts_s, bars[8].open_ts_s);
  // ATR(2): TR 1 on the flat bars, 2 on bar 8 -> ATR 1.5; stop 101 - 3 x 1.5.
  EXPECT_EQ(entry.protective_stop_price, D("96.5"));
  // Risk 0.25 % of 100,000 over a 4.5 distance is 55.55 units, above the
  // 5,000 USD order cap: 5000 / 101 = 49.50495049.
  EXPECT_EQ(entry.quantity, D("49.50495049"));
  EXPECT_FALSE(entry.reduce_only);
  const Intent& exit = sim.all_intents[1];
  EXPECT_EQ(exit.signal_bar_open_ts_s, bars[13].open_ts_s);
  EXPECT_EQ(exit.purpose, IntentPurpose::kExit);
  EXPECT_EQ(exit.reason, SignalReason::kExitCondition);
  EXPECT_EQ(exit.side, OrderSide::kSell);
  EXPECT_EQ(exit.quantity, entry.quantity);
  EXPECT_TRUE(exit.reduce_only);
  EXPECT_TRUE(exit.protective_stop_price.is_zero());
  ASSERT_EQ(sim.fills.size(), 2u);
  EXPECT_EQ(sim.fills[0].price, 101.0);  // bar 9's open
  EXPECT_EQ(sim.fills[1].price, 102.0);  // bar 14's open
  const auto slot = engine.find_slot("mom", pid("BTC-USD")).value();
  EXPECT_EQ(slot.state, Lifecycle::kLooking);
  EXPECT_TRUE(slot.position.is_zero());
  EXPECT_EQ(slot.counters->trades_closed, 1u);
  EXPECT_EQ(slot.counters->capped_by_order_notional, 1u);
}

TEST(Momentum, CrossBelowWhileFlatOnSpotIsCountedNotTraded) {
  // Falling then rising: the first cross is downward.
  const std::vector<double> closes = {100, 100, 100, 100, 100, 100, 99, 98, 97, 96};
  auto engine = test::make_engine({momentum(small_momentum())}, {test::spot("BTC-USD")});
  test::NextBarSim sim(engine);
  sim.run(bars_from_closes(pid("BTC-USD"), closes));
  EXPECT_TRUE(sim.all_intents.empty());
  EXPECT_EQ(engine.find_slot("mom", pid("BTC-USD"))->counters->short_not_allowed, 1u);
}

TEST(Momentum, ShortableProductTakesTheShort) {
  const std::vector<double> closes = {100, 100, 100, 100, 100, 100, 99, 98, 97, 96};
  auto spec = test::spot("BTC-PERP");
  spec.shortable = true;
  auto engine = test::make_engine({momentum(small_momentum())}, {spec});
  test::NextBarSim sim(engine);
  sim.run(bars_from_closes(pid("BTC-PERP"), closes));
  ASSERT_EQ(sim.all_intents.size(), 1u);
  EXPECT_EQ(sim.all_intents[0].side, OrderSide::kSell);
  EXPECT_EQ(sim.all_intents[0].signal_bar_open_ts_s, test::kT0 + 6 * 60);
  // Stop above the entry: 99 + 3 x ATR(2) (TR 1, then 2 -> 1.5) = 103.5.
  EXPECT_EQ(sim.all_intents[0].protective_stop_price, D("103.5"));
  EXPECT_EQ(engine.find_slot("mom", pid("BTC-PERP"))->side, PositionSide::kShort);
}

// z-score over 5 closes, entry at |z| >= 1.5, exit at z >= 0:
//   bars 0-5  100    flat window: z = 0
//   bar 6     98     window 100,100,100,100,98: z = -2     <- enter long
//   bar 7     98.5   z = -0.92: hold
//   bar 8     100.5  z > 0                                  <- exit
//   bars 9-13 100.5
//   bar 14    103    window 100.5 x4, 103: z = +2           <- short signal, flat on spot
const std::vector<double> kReversionCloses = {100, 100, 100, 100, 100, 100, 98, 98.5,
                                              100.5, 100.5, 100.5, 100.5, 100.5, 100.5, 103};

MeanReversionParams small_reversion() {
  MeanReversionParams p;
  p.period = 5;
  p.entry_z = 1.5;
  p.exit_z = 0.0;
  p.atr_period = 2;
  p.stop_atr = 3.0;
  p.max_holding_bars = 0;
  return p;
}

TEST(MeanReversion, EntersOnTheDipAndExitsAtTheMean) {
  auto engine = test::make_engine({mean_reversion(small_reversion())}, {test::spot("ETH-USD")});
  test::NextBarSim sim(engine);
  const auto bars = bars_from_closes(pid("ETH-USD"), kReversionCloses);
  sim.run(bars);
  ASSERT_EQ(sim.all_intents.size(), 2u);
  EXPECT_EQ(sim.all_intents[0].signal_bar_open_ts_s, bars[6].open_ts_s);
  EXPECT_EQ(sim.all_intents[0].side, OrderSide::kBuy);
  // ATR(2): TR 1, then bar 6's 3 (100.5 - 97.5) -> 2; stop 98 - 3 x 2.
  EXPECT_EQ(sim.all_intents[0].protective_stop_price, D("92"));
  EXPECT_EQ(sim.all_intents[1].signal_bar_open_ts_s, bars[8].open_ts_s);
  EXPECT_EQ(sim.all_intents[1].reason, SignalReason::kExitCondition);
  EXPECT_EQ(sim.fills[0].price, 98.0);   // bar 7's open
  EXPECT_EQ(sim.fills[1].price, 100.5);  // bar 9's open
  const auto slot = engine.find_slot("mr", pid("ETH-USD")).value();
  EXPECT_EQ(slot.counters->short_not_allowed, 1u);  // bar 14
  EXPECT_EQ(slot.state, Lifecycle::kLooking);
}

TEST(MeanReversion, ProtectiveStopAndHoldingLimit) {
  // Enter at bar 6 (stop 92), then fall through the stop at bar 9.
  {
    const std::vector<double> closes = {100, 100, 100, 100, 100, 100, 98, 97, 96, 91, 91};
    auto engine = test::make_engine({mean_reversion(small_reversion())}, {test::spot("ETH-USD")});
    test::NextBarSim sim(engine);
    sim.run(bars_from_closes(pid("ETH-USD"), closes));
    ASSERT_EQ(sim.all_intents.size(), 2u);
    EXPECT_EQ(sim.all_intents[1].reason, SignalReason::kProtectiveStop);
    EXPECT_EQ(sim.all_intents[1].signal_bar_open_ts_s, test::kT0 + 9 * 60);
    EXPECT_EQ(engine.find_slot("mr", pid("ETH-USD"))->counters->stops_hit, 1u);
  }
  // Holding limit 2: filled at bar 7's open, bars 7 and 8 held -> exit at 8.
  {
    auto p = small_reversion();
    p.max_holding_bars = 2;
    const std::vector<double> closes = {100, 100, 100, 100, 100, 100, 98, 97.5, 97.4, 97.3};
    auto engine = test::make_engine({mean_reversion(p)}, {test::spot("ETH-USD")});
    test::NextBarSim sim(engine);
    sim.run(bars_from_closes(pid("ETH-USD"), closes));
    ASSERT_EQ(sim.all_intents.size(), 2u);
    EXPECT_EQ(sim.all_intents[1].reason, SignalReason::kMaxHoldingBars);
    EXPECT_EQ(sim.all_intents[1].signal_bar_open_ts_s, test::kT0 + 8 * 60);
  }
}

TEST(Builtin, ParametersHaveBoundsAndConstraints) {
  const auto def = momentum({});
  EXPECT_EQ(def->kind(), "momentum");
  EXPECT_EQ(def->parameter("fast_period"), 12);
  EXPECT_EQ(def->parameter("slow_period"), 26);
  EXPECT_TRUE(std::isnan(def->parameter("nope")));
  // Fast must stay below slow: one at a time fails, both together work.
  const auto bad = def->with_parameter("fast_period", 30);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("fast_period < slow_period"), std::string::npos) << bad.error().message;
  const std::vector<std::pair<std::string, double>> both = {{"fast_period", 30}, {"slow_period", 60}};
  const auto good = def->with_parameters(both);
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(good.value()->parameter("fast_period"), 30);
  EXPECT_EQ(def->parameter("fast_period"), 12);  // the original is unchanged
  // Bounds: at the limit, one beyond, not whole, unknown.
  EXPECT_TRUE(def->with_parameter("stop_atr", 50).ok());
  EXPECT_FALSE(def->with_parameter("stop_atr", 50.01).ok());
  EXPECT_TRUE(def->with_parameter("stop_atr", 0.1).ok());
  EXPECT_FALSE(def->with_parameter("stop_atr", 0.09).ok());
  EXPECT_FALSE(def->with_parameter("atr_period", 14.5).ok());
  EXPECT_FALSE(def->with_parameter("atr_period", std::nan("")).ok());
  EXPECT_FALSE(def->with_parameter("nope", 1).ok());
  EXPECT_FALSE(make_momentum("Bad-Name", {}).ok());
  MomentumParams p;
  p.fast_period = 26;
  EXPECT_FALSE(make_momentum("m", p).ok());
}

TEST(Builtin, ByKindWithOverrides) {
  const std::vector<std::pair<std::string, double>> o = {{"period", 30}, {"entry_z", 2.5}};
  const auto mr = make_builtin("mean_reversion", "mr1", o);
  ASSERT_TRUE(mr.ok()) << mr.error().message;
  EXPECT_EQ(mr.value()->name(), "mr1");
  EXPECT_EQ(mr.value()->parameter("period"), 30);
  EXPECT_EQ(mr.value()->max_holding_bars(), 120);
  EXPECT_FALSE(make_builtin("martingale", "x").ok());
  const std::vector<std::pair<std::string, double>> out_of_bounds = {{"period", 4}};
  EXPECT_FALSE(make_builtin("mean_reversion", "mr1", out_of_bounds).ok());
  EXPECT_EQ(builtin_kinds().size(), 2u);
}

}  // namespace
}  // namespace ta::agent
