// MarketStats: the gate's own spread, realized volatility and volume from
// its bars. Exactness against an independent computation, the window
// edges, the entry bound, out-of-order bars, quotes, and determinism on the
// repository's real BTC-USD sample.
#include "gate/market_stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "gate/core.h"
#include "gate_test_support.h"

namespace ta::gate {
namespace {

using test::D;

constexpr std::int64_t kStart = 20'000 * kNanosPerDay;
constexpr std::int64_t kMinute = 60 * kNanosPerSecond;

Bar bar(std::int64_t open_ts_ns, Decimal close, Decimal volume = Decimal::from_integer(1)) {
  Bar b;
  b.product = "BTC-USD";
  b.open_ts_ns = open_ts_ns;
  b.open = b.high = b.low = b.close = close;
  b.volume = volume;
  return b;
}

// The sample standard deviation of the returns, from the same rounded
// returns but in long double: an independent check of the integer method.
long double reference_vol(const std::vector<Decimal>& closes) {
  std::vector<long double> r;
  for (std::size_t i = 1; i < closes.size(); ++i) {
    const Int128 units = divide_rounded((Int128{closes[i].units()} - closes[i - 1].units()) * Decimal::kScale,
                                        closes[i - 1].units(), Rounding::kHalfEven);
    r.push_back(static_cast<long double>(units) / 1e8L);
  }
  if (r.size() < 2) return 0;
  long double mean = 0;
  for (long double x : r) mean += x;
  mean /= static_cast<long double>(r.size());
  long double ss = 0;
  for (long double x : r) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / static_cast<long double>(r.size() - 1));
}

TEST(MarketStats, IntegerSquareRootIsExact) {
  EXPECT_EQ(integer_sqrt(0), 0);
  EXPECT_EQ(integer_sqrt(-5), 0);
  EXPECT_EQ(integer_sqrt(1), 1);
  EXPECT_EQ(integer_sqrt(3), 1);
  EXPECT_EQ(integer_sqrt(4), 2);
  const Int128 big = Int128{3'037'000'499} * 3'037'000'499;  // near 2^63
  EXPECT_EQ(integer_sqrt(big), 3'037'000'499);
  EXPECT_EQ(integer_sqrt(big - 1), 3'037'000'498);
  EXPECT_EQ(integer_sqrt(big + 1), 3'037'000'499);
}

// The digit-by-digit (base 4) square root, exact without floating point:
// the reference for integer_sqrt(), which starts from a floating-point
// estimate.
std::int64_t reference_sqrt(Int128 v) {
  if (v <= 0) return 0;
  __extension__ typedef unsigned __int128 U;
  U x = static_cast<U>(v);
  U result = 0;
  U bit = U{1} << 126;
  while (bit > x) bit >>= 2;
  while (bit != 0) {
    if (x >= result + bit) {
      x -= result + bit;
      result = (result >> 1) + bit;
    } else {
      result >>= 1;
    }
    bit >>= 2;
  }
  return result > static_cast<U>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(result);
}

TEST(MarketStats, IntegerSquareRootMatchesTheDigitByDigitRootEverywhere) {
  const char* env = std::getenv("TA_TEST_SEED");
  const std::uint32_t seed = env ? static_cast<std::uint32_t>(std::strtoul(env, nullptr, 10)) : std::random_device{}();
  std::printf("seed=%u\n", seed);
  std::mt19937_64 rng(seed);
  __extension__ typedef unsigned __int128 U;
  const Int128 max = static_cast<Int128>((U{1} << 127) - 1);
  // The top of the range, where the root passes INT64_MAX and saturates.
  for (Int128 v : {max, max - 1, max / 2, Int128{INT64_MAX} * INT64_MAX, Int128{INT64_MAX} * INT64_MAX - 1,
                   Int128{INT64_MAX} * INT64_MAX + 1}) {
    EXPECT_EQ(integer_sqrt(v), reference_sqrt(v));
  }
  for (int i = 0; i < 20'000; ++i) {
    // Every magnitude from 1 bit to 127, and the squares around a random root.
    const int bits = 1 + static_cast<int>(rng() % 127);
    const U raw = (U{rng()} << 64) | rng();
    const Int128 v = static_cast<Int128>(raw >> (128 - bits));
    ASSERT_EQ(integer_sqrt(v), reference_sqrt(v)) << "bits=" << bits;
    const std::int64_t r = static_cast<std::int64_t>((rng() >> 1) | 1);
    const Int128 sq = Int128{r} * r;
    ASSERT_EQ(integer_sqrt(sq), r);
    ASSERT_EQ(integer_sqrt(sq - 1), r - 1);
    ASSERT_EQ(integer_sqrt(sq + 1), r);
  }
}

TEST(MarketStats, VolatilityMatchesAnIndependentComputation) {
  const char* env = std::getenv("TA_TEST_SEED");
  const std::uint32_t seed = env ? static_cast<std::uint32_t>(std::strtoul(env, nullptr, 10)) : std::random_device{}();
  std::printf("seed=%u\n", seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> move(-300, 300);  // +-0.3% per bar in basis-point steps
  MarketStats m;
  std::vector<Decimal> closes;
  std::int64_t price_units = 60'000 * Decimal::kScale;
  for (int i = 0; i < 90; ++i) {
    price_units += price_units / 100'000 * move(rng);
    closes.push_back(Decimal::from_units(price_units));
    ASSERT_TRUE(m.add_bar(bar(kStart + i * kMinute, closes.back())).ok());
  }
  // 1 h window: the last 60 bars, i.e. 60 returns (the first of them spans
  // from the bar just outside the window).
  const std::vector<Decimal> last_hour(closes.end() - 61, closes.end());
  const long double expected_1h = reference_vol(last_hour);
  const long double expected_24h = reference_vol(closes);
  EXPECT_EQ(m.snapshot().returns_1h, 60u);
  EXPECT_EQ(m.snapshot().returns_24h, 89u);
  // Rounded down to 1e-8: at most one unit below the exact value.
  const long double got_1h = static_cast<long double>(m.snapshot().realized_vol_1h.units()) / 1e8L;
  const long double got_24h = static_cast<long double>(m.snapshot().realized_vol_24h.units()) / 1e8L;
  EXPECT_LE(got_1h, expected_1h + 1e-12L);
  EXPECT_GT(got_1h, expected_1h - 1.01e-8L);
  EXPECT_LE(got_24h, expected_24h + 1e-12L);
  EXPECT_GT(got_24h, expected_24h - 1.01e-8L);
}

TEST(MarketStats, FewerThanTwoReturnsHaveNoVolatility) {
  MarketStats m;
  ASSERT_TRUE(m.add_bar(bar(kStart, D("100"))).ok());
  EXPECT_TRUE(m.snapshot().realized_vol_1h.is_zero());
  ASSERT_TRUE(m.add_bar(bar(kStart + kMinute, D("101"))).ok());
  EXPECT_EQ(m.snapshot().returns_1h, 1u);
  EXPECT_TRUE(m.snapshot().realized_vol_1h.is_zero());
  ASSERT_TRUE(m.add_bar(bar(kStart + 2 * kMinute, D("100"))).ok());
  // Returns +0.01 and -0.00990099 (rounded): stdev = |a - b| / sqrt(2) = 0.0140721249..., rounded down.
  EXPECT_EQ(m.snapshot().realized_vol_1h, D("0.01407212"));
}

TEST(MarketStats, WindowEdgesAreExact) {
  // A bar exactly one hour before the latest one is outside the 1 h window;
  // one nanosecond later it is inside.
  MarketStats outside;
  ASSERT_TRUE(outside.add_bar(bar(kStart, D("100"), D("5"))).ok());
  ASSERT_TRUE(outside.add_bar(bar(kStart + kMarketWindowShortNs, D("100"), D("1"))).ok());
  EXPECT_EQ(outside.snapshot().volume_1h, D("1"));
  MarketStats inside;
  ASSERT_TRUE(inside.add_bar(bar(kStart + 1, D("100"), D("5"))).ok());
  ASSERT_TRUE(inside.add_bar(bar(kStart + kMarketWindowShortNs, D("100"), D("1"))).ok());
  EXPECT_EQ(inside.snapshot().volume_1h, D("6"));
  // A bar that does not open after the previous one is refused and changes nothing.
  EXPECT_FALSE(inside.add_bar(bar(kStart + kMarketWindowShortNs, D("100"), D("7"))).ok());
  EXPECT_FALSE(inside.add_bar(bar(kStart, D("100"), D("7"))).ok());
  EXPECT_EQ(inside.snapshot().volume_1h, D("6"));
  EXPECT_FALSE(inside.add_bar(bar(kStart + 2 * kMarketWindowShortNs, D("0"), D("7"))).ok());
  EXPECT_EQ(inside.snapshot().volume_1h, D("6"));
  // 24 h likewise.
  MarketStats m;
  ASSERT_TRUE(m.add_bar(bar(kStart, D("100"), D("5"))).ok());
  ASSERT_TRUE(m.add_bar(bar(kStart + 1, D("101"), D("5"))).ok());
  ASSERT_TRUE(m.add_bar(bar(kStart + 2, D("100"), D("5"))).ok());
  ASSERT_TRUE(m.add_bar(bar(kStart + kMarketWindowLongNs + 1, D("100"), D("5"))).ok());
  EXPECT_EQ(m.snapshot().returns_24h, 2u);  // the bars at +2 and at 24 h + 1 ns
}

TEST(MarketStats, EntriesAreBoundedAtOneDayOfMinuteBars) {
  // Bars one second apart: the time windows would hold 86,400; the bound
  // keeps the latest kMarketBarsMax.
  for (const std::size_t n : {kMarketBarsMax - 1, kMarketBarsMax, kMarketBarsMax + 1}) {
    MarketStats m;
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_TRUE(m.add_bar(bar(kStart + static_cast<std::int64_t>(i) * kNanosPerSecond, D("100"), D("1"))).ok());
    }
    const std::size_t kept = std::min(n, kMarketBarsMax);
    EXPECT_EQ(m.snapshot().returns_24h, kept - (n <= kMarketBarsMax ? 1 : 0)) << n;
    EXPECT_EQ(m.snapshot().volume_1h, Decimal::from_integer(static_cast<std::int32_t>(kept))) << n;
  }
}

TEST(MarketStats, SlidingKeepsExactSums) {
  // 3000 bars through the windows, compared with a fresh tracker that sees
  // only what is still inside them: identical, so eviction leaves no drift.
  auto bars = test::sample_bars(400);
  ASSERT_TRUE(bars.ok()) << bars.error().message;
  std::vector<Bar> all;
  for (int rep = 0; rep < 8; ++rep) {
    for (const Bar& b : *bars) {
      Bar c = b;
      c.open_ts_ns = kStart + static_cast<std::int64_t>(all.size()) * kMinute;
      all.push_back(c);
    }
  }
  MarketStats slid;
  for (const Bar& b : all) ASSERT_TRUE(slid.add_bar(b).ok());
  MarketStats fresh;
  const std::size_t first = all.size() - kMarketBarsMax - 1;  // the bar before the window gives the first return
  for (std::size_t i = first; i < all.size(); ++i) ASSERT_TRUE(fresh.add_bar(all[i]).ok());
  // The fresh tracker's oldest bar has no return and counts its volume; the
  // windows of both now cover the same 1440 returns.
  EXPECT_EQ(slid.snapshot().realized_vol_24h, fresh.snapshot().realized_vol_24h);
  EXPECT_EQ(slid.snapshot().realized_vol_1h, fresh.snapshot().realized_vol_1h);
  EXPECT_EQ(slid.snapshot().volume_1h, fresh.snapshot().volume_1h);
  EXPECT_TRUE(slid.snapshot().realized_vol_24h.is_positive());
}

TEST(MarketStats, RealDataIsDeterministic) {
  auto bars = test::sample_bars(400);
  ASSERT_TRUE(bars.ok()) << bars.error().message;
  MarketStats a, b;
  for (const Bar& x : *bars) {
    ASSERT_TRUE(a.add_bar(x).ok());
    ASSERT_TRUE(b.add_bar(x).ok());
    ASSERT_EQ(a.snapshot().realized_vol_1h, b.snapshot().realized_vol_1h);
  }
  // Plausible for BTC in April 2018: a few basis points per minute.
  EXPECT_GT(a.snapshot().realized_vol_1h, D("0.0001"));
  EXPECT_LT(a.snapshot().realized_vol_1h, D("0.01"));
  EXPECT_EQ(a.snapshot().returns_1h, 60u);
}

TEST(MarketStats, HugeMovesAreClamped) {
  MarketStats m;
  ASSERT_TRUE(m.add_bar(bar(kStart, D("0.00000001"))).ok());
  ASSERT_TRUE(m.add_bar(bar(kStart + kMinute, D("1000000000"))).ok());
  ASSERT_TRUE(m.add_bar(bar(kStart + 2 * kMinute, D("0.00000001"))).ok());
  // Returns clamped to +100 and -0.99999999...: no overflow, a finite figure.
  EXPECT_GT(m.snapshot().realized_vol_1h, D("70"));
  EXPECT_LT(m.snapshot().realized_vol_1h, D("72"));
}

TEST(MarketStats, SpreadFromQuotesRoundedUp) {
  MarketStats m;
  EXPECT_TRUE(m.snapshot().spread.is_zero());
  ASSERT_TRUE(m.set_quote(D("9987.5"), D("10012.5"), kStart).ok());
  EXPECT_EQ(m.snapshot().spread, D("0.0025"));  // exactly 25 bps
  ASSERT_TRUE(m.set_quote(D("9987.49"), D("10012.5"), kStart + 1).ok());
  EXPECT_EQ(m.snapshot().spread, D("0.00250101"));  // 0.002501001..., rounded up
  // An older quote is ignored; junk is refused.
  ASSERT_TRUE(m.set_quote(D("100"), D("200"), kStart).ok());
  EXPECT_EQ(m.snapshot().spread, D("0.00250101"));
  EXPECT_FALSE(m.set_quote(D("0"), D("1"), kStart + 2).ok());
  EXPECT_FALSE(m.set_quote(D("2"), D("1"), kStart + 2).ok());
  // A bar with a book sets the quote too.
  Bar b = bar(kStart + kMinute, D("100"));
  b.bid = D("99.99");
  b.ask = D("100.01");
  ASSERT_TRUE(m.add_bar(b).ok());
  EXPECT_EQ(m.snapshot().spread, D("0.0002"));
  EXPECT_EQ(m.snapshot().quote_ts_ns, kStart + kMinute);
}

TEST(MarketStats, GateStateTracksAllowedProductsOnly) {
  SafetyLimits limits;
  limits.products = {ProductLimits{"BTC-USD", D("0.0001"), D("1"), D("0.00000001"), D("0.01")}};
  GateState s(limits, Ledger(D("1000"), kStart));
  EXPECT_EQ(s.market_stats("BTC-USD"), nullptr);
  ASSERT_TRUE(s.apply_bar(bar(kStart, D("100"))).ok());
  ASSERT_NE(s.market_stats("BTC-USD"), nullptr);
  Bar other = bar(kStart, D("100"));
  other.product = "DOGE-USD";
  EXPECT_FALSE(s.apply_bar(other).ok());
  EXPECT_FALSE(s.apply_quote("DOGE-USD", D("1"), D("2"), kStart).ok());
  EXPECT_EQ(s.market_stats("DOGE-USD"), nullptr);
  EXPECT_FALSE(s.apply_bar(bar(kStart, D("100"))).ok());  // out of order
}

}  // namespace
}  // namespace ta::gate
