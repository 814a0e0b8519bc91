// Property: on a price series that only rises, with random gaps, a
// long-only momentum strategy never loses money beyond fees - every entry
// fills below every later exit - and every fill is on the product's next
// bar after the signal, across gaps too. The seed is printed first;
// TA_TEST_SEED=<n> replays a failure.
#include <random>

#include "backtest_test_support.h"

namespace ta::backtest::test {
namespace {

constexpr int kRounds = 6;

// Bars of a rising market: each bar opens at or above the previous close
// and closes above its open; runs of minutes are dropped at random.
std::vector<agent::Bar> rising_with_gaps(std::mt19937_64& rng, std::size_t minutes) {
  std::uniform_real_distribution<double> step(1e-4, 2e-3);
  std::uniform_real_distribution<double> start(1000, 60000);
  std::uniform_int_distribution<int> gap_len(1, 90);
  std::bernoulli_distribution gap_starts(0.02);
  std::vector<agent::Bar> out;
  double close = start(rng);
  std::int64_t ts = 1'704'067'200;  // 2024-01-01
  int skip = 0;
  for (std::size_t i = 0; i < minutes; ++i, ts += 60) {
    const double open = close * (1 + step(rng) / 4);
    close = open * (1 + step(rng));
    if (skip == 0 && gap_starts(rng)) skip = gap_len(rng);
    if (skip > 0) {
      --skip;
      continue;  // the market moved on, but no bar exists
    }
    agent::Bar b;
    b.product = pid("BTC-USD");
    b.open_ts_s = ts;
    b.open = std::round(open * 100) / 100;
    b.close = std::round(close * 100) / 100;
    b.low = b.open;
    b.high = b.close;
    b.volume = 50;
    out.push_back(b);
  }
  return out;
}

TEST(Property, RisingMarketLongMomentumNeverLosesBeyondFees) {
  const unsigned seed = test_seed();
  std::mt19937_64 rng(seed);
  for (int round = 0; round < kRounds; ++round) {
    const int lookback = std::uniform_int_distribution<int>(1, 5)(rng);
    const int hold = std::uniform_int_distribution<int>(1, 30)(rng);
    const int cooldown = std::uniform_int_distribution<int>(0, 5)(rng);
    const std::string yaml = "name: rising_momentum\n"
                             "nodes:\n  prev: {lag: {bars: " + std::to_string(lookback) + "}}\n"
                             "entry:\n  long: close > prev\n"
                             "stops:\n  fixed_percent: 5\n  max_holding_bars: " + std::to_string(hold) + "\n"
                             "cooldown_bars: " + std::to_string(cooldown) + "\n";
    BacktestConfig c = config_with({book("rising", declarative(yaml))});
    // Fees as shipped; no spread or impact, so costs are the fees alone.
    c.gate.gate.sim.default_spread_bps = Decimal();
    c.gate.gate.sim.impact_coefficient = Decimal();
    const std::size_t minutes = std::uniform_int_distribution<std::size_t>(300, 1500)(rng);
    const MarketData m = make_market_data({rising_with_gaps(rng, minutes)}).value();
    const auto r = run_backtest(c, m).value();
    const BookResult& b = r.books[0];
    SCOPED_TRACE("round " + std::to_string(round) + " lookback " + std::to_string(lookback) + " hold " +
                 std::to_string(hold) + " cooldown " + std::to_string(cooldown) + " bars " +
                 std::to_string(m.bars.size()));
    const gate::Ledger& l = b.ledger;
    // Money: equity - capital + fees >= 0, i.e. the loss is at most the fees.
    EXPECT_GE(l.equity().sub(b.capital).value().add(l.fees_paid()).value(), Decimal());
    EXPECT_GE(l.realized_pnl(), Decimal());
    for (const TradeRecord& t : b.trades) {
      if (t.closed) {
        EXPECT_GE(t.pnl.add(t.fees).value(), Decimal());
      }
    }
    // Timing: each fill on the product's first bar after the signal bar.
    for (const FillRecord& f : b.fills) {
      if (f.strategy == "gate") continue;
      const std::int64_t signal = signal_ts(f.intent_id);
      EXPECT_EQ(f.ts_ns, next_open(m, f.product, signal + agent::kBarSeconds) * gate::kNanosPerSecond);
    }
    EXPECT_GT(b.fills.size(), 2u);
  }
}

}  // namespace
}  // namespace ta::backtest::test
