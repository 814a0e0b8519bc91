// Property: the streaming and batch forms of every indicator agree, on
// seeded random series (seed printed) and on real BTC and ETH bars.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "agent_test_support.h"
#include "indicators/indicators.h"
#include "market/csv.h"

namespace ta::agent::ind {
namespace {

// |a - b| <= tol * max(1, |b|), with NaN only where the other is NaN.
::testing::AssertionResult close(double a, double b, double tol) {
  if (std::isnan(a) || std::isnan(b)) {
    if (std::isnan(a) && std::isnan(b)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << a << " vs " << b << " (NaN mismatch)";
  }
  if (std::abs(a - b) <= tol * std::max(1.0, std::abs(b))) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << a << " vs " << b << " differ by " << std::abs(a - b);
}

struct Periods {
  std::size_t sma, ema, rsi, atr, boll, vwap, z, rv, donchian;
};

// Streams `bars` through every indicator and compares with the batch forms.
void check_agreement(const std::vector<Bar>& bars, const Periods& p, const std::string& what) {
  const std::vector<double> c = closes(bars);
  const auto b_sma = sma(c, p.sma);
  const auto b_ema = ema(c, p.ema);
  const auto b_rsi = rsi(c, p.rsi);
  const auto b_atr = atr(bars, p.atr);
  const auto b_boll = bollinger(c, p.boll, 2.0);
  const auto b_vwap = vwap_rolling(bars, p.vwap);
  const auto b_vwap_s = vwap_session(bars);
  const auto b_z = zscore(c, p.z);
  const auto b_rv = realized_vol(c, p.rv);
  const auto b_don = donchian(bars, p.donchian);

  Sma s_sma(p.sma);
  Ema s_ema(p.ema);
  Rsi s_rsi(p.rsi);
  Atr s_atr(p.atr);
  Bollinger s_boll(p.boll, 2.0);
  Vwap s_vwap = Vwap::rolling(p.vwap);
  Vwap s_vwap_s = Vwap::session_utc_day();
  ZScore s_z(p.z);
  RealizedVol s_rv(p.rv);
  Donchian s_don(p.donchian);

  // Tolerances: averages of prices agree to ~1e-12 relative; RSI and ATR
  // to ~1e-9 (Wilder recursions accumulate rounding differently); the
  // z-score divides two small numbers, so it is compared in absolute terms
  // after scaling by the window's stdev (see below).
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const Bar& bar = bars[i];
    const std::string at = what + " i=" + std::to_string(i);
    ASSERT_TRUE(close(s_sma.update(bar.close), b_sma[i], 1e-11)) << "SMA " << at;
    ASSERT_TRUE(close(s_ema.update(bar.close), b_ema[i], 1e-11)) << "EMA " << at;
    ASSERT_TRUE(close(s_rsi.update(bar.close), b_rsi[i], 1e-9)) << "RSI " << at;
    ASSERT_TRUE(close(s_atr.update(bar), b_atr[i], 1e-9)) << "ATR " << at;
    const BollingerBands bb = s_boll.update(bar.close);
    ASSERT_TRUE(close(bb.middle, b_boll[i].middle, 1e-11)) << "Bollinger middle " << at;
    ASSERT_TRUE(close(bb.upper, b_boll[i].upper, 1e-11)) << "Bollinger upper " << at;
    ASSERT_TRUE(close(bb.lower, b_boll[i].lower, 1e-11)) << "Bollinger lower " << at;
    // The stdev itself: relative to the price level (a stdev of cents at
    // 100,000 is known to ~1e-16 * 1e5 absolute, not relative to itself).
    ASSERT_TRUE(close(bb.stdev, b_boll[i].stdev, 1e-9 * std::max(1.0, bar.close))) << "Bollinger sd " << at;
    ASSERT_TRUE(close(s_vwap.update(bar), b_vwap[i], 1e-11)) << "VWAP " << at;
    ASSERT_TRUE(close(s_vwap_s.update(bar), b_vwap_s[i], 1e-11)) << "session VWAP " << at;
    const double z = s_z.update(bar.close);
    if (!std::isnan(b_z[i]) && b_boll[i].stdev > 0 && p.z == p.boll) {
      // z * sd is a price difference: compare that at price precision.
      ASSERT_TRUE(close(z * b_boll[i].stdev, b_z[i] * b_boll[i].stdev, 1e-9 * std::max(1.0, bar.close)))
          << "z-score " << at;
    } else {
      ASSERT_TRUE(close(z, b_z[i], 1e-6)) << "z-score " << at;
    }
    ASSERT_TRUE(close(s_rv.update(bar.close), b_rv[i], 1e-8)) << "realized vol " << at;
    const DonchianChannel dc = s_don.update(bar);
    ASSERT_TRUE(close(dc.upper, b_don[i].upper, 0)) << "Donchian upper " << at;
    ASSERT_TRUE(close(dc.lower, b_don[i].lower, 0)) << "Donchian lower " << at;
  }
}

// A random walk near `level` with flat stretches, jumps, zero-volume bars
// and gaps in time.
std::vector<Bar> random_bars(std::mt19937_64& rng, std::size_t n, double level) {
  std::vector<Bar> out;
  const ProductId id = ProductId::parse("BTC-USD").value();
  std::int64_t ts = 1'752'105'600;
  double price = level;
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (std::size_t i = 0; i < n; ++i) {
    ts += (rng() % 200 == 0) ? 60 * static_cast<std::int64_t>(1 + rng() % 500) : 60;
    const bool flat = rng() % 8 == 0;
    const double step = (rng() % 100 == 0) ? level * 0.02 * u(rng) : level * 1e-4 * u(rng);
    const double open = price;
    price = std::max(level * 0.1, flat ? price : price + step);
    const double close_price = price;
    const double high = std::max(open, close_price) + (flat ? 0.0 : level * 5e-5 * std::abs(u(rng)));
    const double low = std::min(open, close_price) - (flat ? 0.0 : level * 5e-5 * std::abs(u(rng)));
    const double volume = (rng() % 10 == 0) ? 0.0 : 10.0 * std::abs(u(rng));
    out.push_back(Bar{id, ts, open, high, low, close_price, volume, std::nullopt});
  }
  return out;
}

void random_rounds(unsigned seed) {
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 6; ++round) {
    const double level = round % 2 == 0 ? 100'000.0 : 3.0;
    const auto bars = random_bars(rng, 3000, level);
    Periods p{1 + rng() % 50, 1 + rng() % 50, 1 + rng() % 30, 1 + rng() % 30, 2 + rng() % 50,
              1 + rng() % 50, 0, 2 + rng() % 60, 1 + rng() % 60};
    p.z = p.boll;
    check_agreement(bars, p, "seed=" + std::to_string(seed) + " round=" + std::to_string(round));
  }
}

TEST(Agreement, RandomSeries) { random_rounds(test::test_seed()); }

// Seeds that once failed: a large value leaving a short window left the
// rolling variance (3454527630) and the rolling VWAP sums (280153414) with
// the absolute error of the large sums, until early recomputation on
// collapse was added.
TEST(Agreement, RegressionSeeds) {
  for (unsigned seed : {3454527630u, 280153414u}) random_rounds(seed);
}

std::vector<Bar> load(const std::filesystem::path& path, const char* product, std::size_t rows_max) {
  auto r = read_bars_csv(path, ProductId::parse(product).value());
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok()) return {};
  std::vector<Bar> bars = std::move(r.value().bars);
  if (bars.size() > rows_max) bars.resize(rows_max);
  return bars;
}

const Periods kUsual{20, 20, 14, 14, 20, 60, 20, 60, 20};

TEST(Agreement, DemoBtcAndEth) {
  check_agreement(load(test::demo_data() / "BTC-USD_1m_demo.csv", "BTC-USD", SIZE_MAX), kUsual, "demo BTC");
  check_agreement(load(test::demo_data() / "ETH-USD_1m_demo.csv", "ETH-USD", SIZE_MAX), kUsual, "demo ETH");
  check_agreement(load(test::demo_data() / "BTC-USD_1m_coinbase_outage.csv", "BTC-USD", SIZE_MAX), kUsual,
                  "coinbase outage");
}

// The shared 90-day Binance files (first 30 days, to keep the O(n * period)
// batch forms quick under sanitizers).
TEST(Agreement, SharedBinanceBtcAndEth) {
  const auto dir = test::shared_data();
  const auto btc = dir / "binance_BTCUSDT_1m_2025-05-20_2025-08-17.csv";
  if (!std::filesystem::exists(btc)) GTEST_FAIL() << "shared data missing (set -DTA_SHARED_DATA): " << dir;
  check_agreement(load(btc, "BTC-USD", 43'200), kUsual, "binance BTC");
  check_agreement(load(dir / "binance_ETHUSDT_1m_2025-05-20_2025-08-17.csv", "ETH-USD", 43'200), kUsual,
                  "binance ETH");
}

}  // namespace
}  // namespace ta::agent::ind
