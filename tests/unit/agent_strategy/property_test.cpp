// Property: on a strictly rising market a long-only momentum strategy never
// loses more than its fees. Every fill is simulated at the next bar's open
// (here, in the test), and opens rise strictly, so each exit fills above its
// entry; a loss would mean the engine sold more than it held (going short),
// filled on the signal bar, or mis-sized an exit.
//
// The strategy is the shipped Donchian breakout (config/strategies/
// donchian_breakout.yaml) with random parameters inside their bounds. An EMA
// crossover would make the property empty: on a rising series the fast EMA
// stays above the slow one, so it never crosses and never trades.
#include <gtest/gtest.h>

#include <random>

#include "strategy_test_support.h"

namespace ta::agent {
namespace {

const ProductId kBtc = test::pid("BTC-USD");

// Strictly rising opens: each bar opens just above the previous close and
// closes above its open. Wicks below the open are random and sometimes deep
// (they trip protective stops), highs random; the step size switches between
// calm and fast regimes so the EMAs cross now and then.
std::vector<Bar> rising_series(std::mt19937_64& rng, std::size_t n) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<Bar> bars;
  double close = 100.0 + 900.0 * unit(rng);
  double step = 0.05;
  for (std::size_t i = 0; i < n; ++i) {
    if (unit(rng) < 0.02) step = 0.001 + 0.5 * unit(rng) * unit(rng);
    const double open = close + 1e-6 + 0.01 * step * unit(rng);
    close = open + 1e-6 + step * unit(rng);
    const double high = close + step * unit(rng);
    const double wick = unit(rng) < 0.05 ? 20.0 * step * unit(rng) : step * unit(rng);
    const double low = std::max(open - wick, open * 0.5);
    bars.push_back(test::bar(kBtc, static_cast<std::int64_t>(i), open, high, low, close, 1.0));
  }
  return bars;
}

TEST(Property, LongOnlyBreakoutOnARisingMarketNeverLosesBeyondFees) {
  const unsigned seed = test::test_seed();
  std::mt19937_64 rng(seed);
  constexpr int kRuns = 12;
  constexpr double kFeeRate = 0.001;  // 10 bp per fill
  std::size_t trades = 0;
  const auto load = load_strategy_file(test::source_dir() / "config" / "strategies" / "donchian_breakout.yaml");
  ASSERT_TRUE(load.ok()) << proto::join_problems(load.problems);
  const auto& base = load.strategy;
  for (int run = 0; run < kRuns; ++run) {
    // Parameters anywhere inside their bounds (kept small for short runs).
    const double channel = std::uniform_int_distribution<int>(10, 120)(rng);
    const double exit_channel = std::uniform_int_distribution<int>(5, static_cast<int>(channel))(rng);
    const std::vector<std::pair<std::string, double>> params = {
        {"channel", channel},
        {"exit_channel", exit_channel},
        {"stop_atr", std::uniform_real_distribution<double>(0.5, 5.0)(rng)},
        {"max_holding", static_cast<double>(std::uniform_int_distribution<int>(0, 300)(rng))}};
    const auto strategy = base->with_parameters(params);
    ASSERT_TRUE(strategy.ok()) << strategy.error().message;
    auto engine = test::make_engine({strategy.value()}, {test::spot("BTC-USD")});
    test::NextBarSim sim(engine, kFeeRate, 100'000.0);
    const auto bars = rising_series(rng, 3000);
    double entry_cost = 0;
    for (const Bar& b : bars) {
      const std::size_t before = sim.fills.size();
      sim.step(b);
      ASSERT_GE(sim.position(kBtc), -1e-12) << "went short; run " << run;
      for (std::size_t k = before; k < sim.fills.size(); ++k) {
        const auto& f = sim.fills[k];
        const double value = f.quantity.to_double() * f.price;
        if (f.side == OrderSide::kBuy) {
          entry_cost = value;
        } else {
          // Each round trip: sold above what was paid (before fees).
          EXPECT_GT(value, entry_cost) << "run " << run << " fill " << f.intent_id;
          ++trades;
        }
      }
    }
    // Flat or long at the end, marked at the last close: never below the
    // start by more than the fees paid.
    EXPECT_GE(sim.equity(), 100'000.0 - sim.fees() - 1e-6)
        << "run " << run << " channel " << channel << " exit_channel " << exit_channel;
    EXPECT_EQ(engine.find_slot("donchian_breakout", kBtc)->counters->lifecycle_refused, 0u);
  }
  // The property is empty without trades.
  EXPECT_GT(trades, static_cast<std::size_t>(kRuns));
  std::printf("round trips: %zu\n", trades);
}

}  // namespace
}  // namespace ta::agent
