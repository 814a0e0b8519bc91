#include "indicators/regime.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <random>
#include <stdexcept>

#include "agent_test_support.h"
#include "market/csv.h"

namespace ta::agent::ind {
namespace {

RegimeInputs inputs(double fast, double slow, double atr_value, double vol_short, double vol_long) {
  return RegimeInputs{fast, slow, atr_value, vol_short, vol_long};
}

// Thresholds: trend 2 ATR, vol ratio 2, absolute vol 1.5 (defaults).
TEST(ClassifyRegime, RulesInOrder) {
  const RegimeParams p;
  // Range: EMAs 1 ATR apart, volatility calm.
  EXPECT_EQ(classify_regime(inputs(101, 100, 1, 0.4, 0.4), p), Regime::kRange);
  // Trend exactly at the threshold (2 ATR) and just below it.
  EXPECT_EQ(classify_regime(inputs(102, 100, 1, 0.4, 0.4), p), Regime::kTrendUp);
  EXPECT_EQ(classify_regime(inputs(101.999, 100, 1, 0.4, 0.4), p), Regime::kRange);
  EXPECT_EQ(classify_regime(inputs(98, 100, 1, 0.4, 0.4), p), Regime::kTrendDown);
  EXPECT_EQ(classify_regime(inputs(98.001, 100, 1, 0.4, 0.4), p), Regime::kRange);
  // High volatility wins over trend: absolute level, at and below.
  EXPECT_EQ(classify_regime(inputs(110, 100, 1, 1.5, 1.5), p), Regime::kHighVolatility);
  EXPECT_EQ(classify_regime(inputs(110, 100, 1, 1.499, 1.4), p), Regime::kTrendUp);
  // ... and relative to the long window: ratio 2 at and below.
  EXPECT_EQ(classify_regime(inputs(100, 100, 1, 0.8, 0.4), p), Regime::kHighVolatility);
  EXPECT_EQ(classify_regime(inputs(100, 100, 1, 0.799, 0.4), p), Regime::kRange);
  // Flat market: zero ATR and zero volatility are a range, not a trend.
  EXPECT_EQ(classify_regime(inputs(100, 100, 0, 0, 0), p), Regime::kRange);
  // Missing input: still warming up.
  EXPECT_EQ(classify_regime(inputs(kNaN, 100, 1, 0.4, 0.4), p), Regime::kWarmingUp);
  EXPECT_EQ(classify_regime(inputs(100, 100, 1, 0.4, kNaN), p), Regime::kWarmingUp);
}

TEST(ClassifyRegime, ThresholdsAreParameters) {
  RegimeParams p;
  p.trend_strength_min = 0.5;
  p.vol_annualized_high = 10;
  p.vol_ratio_high = 5;
  EXPECT_EQ(classify_regime(inputs(101, 100, 1, 1.5, 0.4), p), Regime::kTrendUp);
}

TEST(RegimeParams, Validation) {
  EXPECT_NO_THROW(validate(RegimeParams{}));
  const auto bad = [](auto edit) {
    RegimeParams p;
    edit(p);
    return p;
  };
  EXPECT_THROW(validate(bad([](RegimeParams& p) { p.ema_fast_period = p.ema_slow_period; })), std::invalid_argument);
  EXPECT_THROW(validate(bad([](RegimeParams& p) { p.vol_short_period = p.vol_long_period; })), std::invalid_argument);
  EXPECT_THROW(validate(bad([](RegimeParams& p) { p.atr_period = 0; })), std::invalid_argument);
  EXPECT_THROW(validate(bad([](RegimeParams& p) { p.vol_long_period = kPeriodMax + 1; })), std::invalid_argument);
  EXPECT_THROW(validate(bad([](RegimeParams& p) { p.trend_strength_min = 0; })), std::invalid_argument);
  EXPECT_THROW(validate(bad([](RegimeParams& p) { p.vol_ratio_high = std::nan(""); })), std::invalid_argument);
  EXPECT_THROW(RegimeClassifier(bad([](RegimeParams& p) { p.vol_annualized_high = -1; })), std::invalid_argument);
}

std::vector<Bar> synthetic(std::mt19937_64& rng, std::size_t n, double drift_per_bar, double noise_per_bar) {
  std::vector<Bar> out;
  std::normal_distribution<double> z(0.0, 1.0);
  double price = 100'000;
  for (std::size_t i = 0; i < n; ++i) {
    const double open = price;
    price *= std::exp(drift_per_bar + noise_per_bar * z(rng));
    const double wick = price * noise_per_bar * 0.5;
    out.push_back(Bar{ProductId::parse("BTC-USD").value(), 1'752'105'600 + 60 * static_cast<std::int64_t>(i), open,
                      std::max(open, price) + wick, std::min(open, price) - wick, price, 1.0, std::nullopt});
  }
  return out;
}

// Scenario checks on synthetic markets: a steady climb is a trend, a
// driftless walk is mostly a range, and a sudden jump in noise is high
// volatility.
TEST(RegimeClassifier, RecognisesSyntheticScenarios) {
  const unsigned seed = test::test_seed();
  std::mt19937_64 rng(seed);
  const RegimeParams p;
  // 5 bp per minute of noise is about 36 % a year: calm.
  const double calm = 0.0005;
  auto count = [&](const std::vector<Bar>& bars, std::size_t from) {
    RegimeClassifier c(p);
    std::array<std::size_t, 5> n{};
    for (std::size_t i = 0; i < bars.size(); ++i) {
      const Regime r = c.update(bars[i]);
      if (i >= from) ++n[static_cast<std::size_t>(r)];
    }
    return n;
  };
  const std::size_t warm = RegimeClassifier(p).warmup();
  const auto up = count(synthetic(rng, warm + 1000, 2 * calm, calm), warm);
  EXPECT_GT(up[static_cast<std::size_t>(Regime::kTrendUp)], 800u) << "seed=" << seed;
  const auto down = count(synthetic(rng, warm + 1000, -2 * calm, calm), warm);
  EXPECT_GT(down[static_cast<std::size_t>(Regime::kTrendDown)], 800u) << "seed=" << seed;
  const auto flat = count(synthetic(rng, warm + 1000, 0.0, calm), warm);
  EXPECT_GT(flat[static_cast<std::size_t>(Regime::kRange)], 600u) << "seed=" << seed;
  EXPECT_EQ(flat[static_cast<std::size_t>(Regime::kHighVolatility)], 0u) << "seed=" << seed;
  // Calm, then 100 bars alternating +-5 calm steps (exactly five times the
  // noise): high volatility, by the absolute level (5 x 36 % = 180 % a year)
  // and, with that rule switched off, by the ratio to the long window
  // (sqrt((620 + 100 * 25) / 720) = 2.1 calm, so the ratio is about 2.4).
  auto bars = synthetic(rng, warm + 200, 0.0, calm);
  for (int i = 0; i < 100; ++i) {
    Bar b = bars.back();
    b.open = b.close;
    b.close = b.open * std::exp(i % 2 == 0 ? 5 * calm : -5 * calm);
    b.high = std::max(b.open, b.close);
    b.low = std::min(b.open, b.close);
    b.open_ts_s += 60;
    bars.push_back(b);
  }
  RegimeParams ratio_only = p;
  ratio_only.vol_annualized_high = 100;
  RegimeClassifier c(p);
  RegimeClassifier r(ratio_only);
  for (const Bar& b : bars) {
    c.update(b);
    r.update(b);
  }
  EXPECT_EQ(c.value(), Regime::kHighVolatility) << "seed=" << seed;
  EXPECT_GE(c.inputs().vol_short, p.vol_annualized_high) << "seed=" << seed;
  EXPECT_EQ(r.value(), Regime::kHighVolatility) << "seed=" << seed;
  EXPECT_GT(r.inputs().vol_short, p.vol_ratio_high * r.inputs().vol_long) << "seed=" << seed;
}

TEST(RegimeClassifier, WarmUpAndReset) {
  const RegimeParams p;
  RegimeClassifier c(p);
  // The longest input is realized volatility over 720 returns: 721 closes.
  EXPECT_EQ(c.warmup(), p.vol_long_period + 1);
  std::mt19937_64 rng(1);
  const auto bars = synthetic(rng, c.warmup(), 0.0, 0.0005);
  for (std::size_t i = 0; i + 1 < bars.size(); ++i) {
    ASSERT_EQ(c.update(bars[i]), Regime::kWarmingUp) << i;
  }
  EXPECT_NE(c.update(bars.back()), Regime::kWarmingUp);
  EXPECT_TRUE(c.ready());
  c.reset();
  EXPECT_FALSE(c.ready());
  EXPECT_EQ(c.update(bars[0]), Regime::kWarmingUp);
}

// Streaming and batch labels agree on real data, except where an input
// sits within rounding of a threshold.
TEST(RegimeClassifier, StreamingMatchesBatchOnDemoData) {
  for (const char* name : {"BTC-USD_1m_demo.csv", "ETH-USD_1m_demo.csv"}) {
    auto read = read_bars_csv(test::demo_data() / name, ProductId::parse("BTC-USD").value());
    ASSERT_TRUE(read.ok()) << read.error().message;
    const auto& bars = read.value().bars;
    const RegimeParams p;
    const auto batch = classify_regimes(bars, p);
    RegimeClassifier c(p);
    std::array<std::size_t, 5> seen{};
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < bars.size(); ++i) {
      const Regime r = c.update(bars[i]);
      ++seen[static_cast<std::size_t>(r)];
      if (r == batch[i]) continue;
      const RegimeInputs& in = c.inputs();
      const double strength = (in.ema_fast - in.ema_slow) / in.atr;
      const bool borderline = std::abs(std::abs(strength) - p.trend_strength_min) < 1e-6 ||
                              std::abs(in.vol_short - p.vol_annualized_high) < 1e-6 ||
                              std::abs(in.vol_short / in.vol_long - p.vol_ratio_high) < 1e-6;
      EXPECT_TRUE(borderline) << name << " i=" << i << " stream=" << to_string(r) << " batch=" << to_string(batch[i]);
      ++mismatches;
    }
    EXPECT_LE(mismatches, 2u) << name;
    // The demo window holds every regime (see data/demo/README.md).
    for (Regime r : {Regime::kRange, Regime::kTrendUp, Regime::kTrendDown, Regime::kHighVolatility}) {
      EXPECT_GT(seen[static_cast<std::size_t>(r)], 0u) << name << " never " << to_string(r);
    }
  }
}

}  // namespace
}  // namespace ta::agent::ind
