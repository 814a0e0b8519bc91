// Indicators against small cases worked out by hand (the arithmetic is in
// the comments), in both the streaming and the batch form.
#include "indicators/indicators.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

namespace ta::agent::ind {
namespace {

constexpr double kTol = 1e-12;
constexpr std::int64_t kT0 = 1752105600;  // 2025-07-10T00:00:00Z

Bar hlcv(double high, double low, double close, double volume = 1, std::int64_t minute = 0) {
  return Bar{ProductId::parse("BTC-USD").value(), kT0 + 60 * minute, close, high, low, close, volume, std::nullopt};
}

// Streams `values` through `ind` and returns what update() returned.
template <class Ind>
std::vector<double> stream(Ind ind, const std::vector<double>& values) {
  std::vector<double> out;
  for (double v : values) out.push_back(ind.update(v));
  return out;
}

void expect_series(const std::vector<double>& got, const std::vector<double>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << what << " [" << i << "] = " << got[i];
    } else {
      EXPECT_NEAR(got[i], want[i], kTol) << what << " [" << i << "]";
    }
  }
}

TEST(Sma, HandWorked) {
  // SMA(3) of 1 2 3 4 5: (1+2+3)/3 = 2, (2+3+4)/3 = 3, (3+4+5)/3 = 4.
  const std::vector<double> v = {1, 2, 3, 4, 5};
  const std::vector<double> want = {kNaN, kNaN, 2, 3, 4};
  expect_series(stream(Sma(3), v), want, "stream");
  expect_series(sma(v, 3), want, "batch");
  Sma s(3);
  EXPECT_EQ(s.warmup(), 3u);
  s.update(1);
  s.update(2);
  EXPECT_FALSE(s.ready());
  s.update(3);
  EXPECT_TRUE(s.ready());
  s.reset();
  EXPECT_FALSE(s.ready());
  EXPECT_TRUE(std::isnan(s.value()));
}

TEST(Ema, HandWorked) {
  // EMA(3): alpha = 2/(3+1) = 0.5. Seed = mean(2, 4, 6) = 4.
  // 8: 4 + 0.5*(8-4) = 6.   3: 6 + 0.5*(3-6) = 4.5.
  const std::vector<double> v = {2, 4, 6, 8, 3};
  const std::vector<double> want = {kNaN, kNaN, 4, 6, 4.5};
  expect_series(stream(Ema(3), v), want, "stream");
  expect_series(ema(v, 3), want, "batch");
  EXPECT_DOUBLE_EQ(Ema(3).alpha(), 0.5);
  EXPECT_DOUBLE_EQ(Ema(1).alpha(), 1.0);  // EMA(1) is the value itself
  expect_series(stream(Ema(1), v), v, "ema1");
}

TEST(Rsi, HandWorkedWilder) {
  // RSI(2) of 10, 11, 10.5, 11.5, 11.5, 11. Changes: +1, -0.5, +1, 0, -0.5.
  // After two changes: G = (1+0)/2 = 0.5, L = (0+0.5)/2 = 0.25,
  //   RSI = 100*0.5/0.75 = 66.666...
  // +1:   G = (0.5*1 + 1)/2 = 0.75,  L = (0.25*1 + 0)/2 = 0.125 -> 100*0.75/0.875 = 85.714...
  // 0:    G = 0.375, L = 0.0625 -> 85.714... (ratio unchanged)
  // -0.5: G = 0.1875, L = (0.0625 + 0.5)/2 = 0.28125 -> 100*0.1875/0.46875 = 40
  const std::vector<double> v = {10, 11, 10.5, 11.5, 11.5, 11};
  const std::vector<double> want = {kNaN, kNaN, 200.0 / 3.0, 600.0 / 7.0, 600.0 / 7.0, 40};
  expect_series(stream(Rsi(2), v), want, "stream");
  expect_series(rsi(v, 2), want, "batch");
  EXPECT_EQ(Rsi(2).warmup(), 3u);
}

TEST(Rsi, FlatAndOneSidedSeries) {
  // No movement: G = L = 0 -> 50. Only rises: L = 0 -> 100. Only falls: 0.
  expect_series(stream(Rsi(3), {5, 5, 5, 5, 5}), {kNaN, kNaN, kNaN, 50, 50}, "flat");
  expect_series(stream(Rsi(3), {1, 2, 3, 4, 5}), {kNaN, kNaN, kNaN, 100, 100}, "up");
  expect_series(stream(Rsi(3), {5, 4, 3, 2, 1}), {kNaN, kNaN, kNaN, 0, 0}, "down");
  expect_series(rsi(std::vector<double>{5, 5, 5, 5, 5}, 3), {kNaN, kNaN, kNaN, 50, 50}, "flat batch");
}

TEST(Atr, HandWorkedWilder) {
  // ATR(3). Bars (high, low, close):
  //   (10, 8, 9)      TR = 10-8 = 2 (first bar: no previous close)
  //   (11, 9, 10.5)   TR = max(2, |11-9| = 2, |9-9| = 0) = 2
  //   (12, 10, 11)    TR = max(2, |12-10.5| = 1.5, |10-10.5| = 0.5) = 2 -> ATR = (2+2+2)/3 = 2
  //   (11, 7, 8)      TR = max(4, |11-11| = 0, |7-11| = 4) = 4 -> ATR = (2*2 + 4)/3 = 8/3
  //   (15, 14, 14.5)  gap up: TR = max(1, |15-8| = 7, |14-8| = 6) = 7 -> ATR = (8/3*2 + 7)/3 = 37/9
  const std::vector<Bar> bars = {hlcv(10, 8, 9), hlcv(11, 9, 10.5), hlcv(12, 10, 11), hlcv(11, 7, 8),
                                 hlcv(15, 14, 14.5)};
  const std::vector<double> want = {kNaN, kNaN, 2, 8.0 / 3.0, 37.0 / 9.0};
  Atr a(3);
  std::vector<double> got;
  for (const Bar& b : bars) got.push_back(a.update(b));
  expect_series(got, want, "stream");
  expect_series(atr(bars, 3), want, "batch");
}

TEST(Bollinger, HandWorked) {
  // Period 4, k = 2 over 1 2 3 4: mean 2.5, deviations -1.5 -0.5 0.5 1.5,
  // population variance (2.25+0.25+0.25+2.25)/4 = 1.25, sd = sqrt(1.25).
  Bollinger b(4, 2.0);
  for (double v : {1.0, 2.0, 3.0}) EXPECT_TRUE(std::isnan(b.update(v).middle));
  const BollingerBands bands = b.update(4);
  const double sd = std::sqrt(1.25);
  EXPECT_NEAR(bands.middle, 2.5, kTol);
  EXPECT_NEAR(bands.stdev, sd, kTol);
  EXPECT_NEAR(bands.upper, 2.5 + 2 * sd, kTol);
  EXPECT_NEAR(bands.lower, 2.5 - 2 * sd, kTol);
  const auto batch = bollinger(std::vector<double>{1, 2, 3, 4}, 4, 2.0);
  EXPECT_TRUE(std::isnan(batch[2].upper));
  EXPECT_NEAR(batch[3].upper, bands.upper, kTol);
  EXPECT_NEAR(batch[3].lower, bands.lower, kTol);
  // Flat window: the bands collapse onto the mean exactly.
  Bollinger flat(3, 2.0);
  BollingerBands f;
  for (int i = 0; i < 5; ++i) f = flat.update(100'000.01);
  EXPECT_EQ(f.stdev, 0.0);
  EXPECT_EQ(f.upper, 100'000.01);
  EXPECT_EQ(f.lower, 100'000.01);
}

TEST(Vwap, RollingHandWorked) {
  // Typical price (h+l+c)/3 and volume:
  //   (12, 9, 9) v1 -> tp 10;  (13, 10, 10) v3 -> tp 11;  (15, 12, 12) v2 -> tp 13
  // Rolling(2): bar 2: (10*1 + 11*3)/4 = 43/4 = 10.75; bar 3: (11*3 + 13*2)/5 = 59/5 = 11.8
  // Then two zero-volume bars (tp 14, 16): the second has no volume in its
  // window -> its own typical price 16; the first still has bar 3's volume
  // -> (13*2 + 14*0)/2 = 13.
  const std::vector<Bar> bars = {hlcv(12, 9, 9, 1, 0), hlcv(13, 10, 10, 3, 1), hlcv(15, 12, 12, 2, 2),
                                 hlcv(15, 13, 14, 0, 3), hlcv(17, 15, 16, 0, 4)};
  const std::vector<double> want = {kNaN, 10.75, 11.8, 13, 16};
  Vwap v = Vwap::rolling(2);
  std::vector<double> got;
  for (const Bar& b : bars) got.push_back(v.update(b));
  expect_series(got, want, "stream");
  expect_series(vwap_rolling(bars, 2), want, "batch");
}

TEST(Vwap, SessionResetsAtUtcMidnight) {
  // 23:58 and 23:59 of one day, then 00:00 of the next: the third value is
  // the new session's first bar alone.
  const std::int64_t day_end = 1440 - 2;
  const std::vector<Bar> bars = {hlcv(12, 9, 9, 1, day_end), hlcv(13, 10, 10, 3, day_end + 1),
                                 hlcv(15, 12, 12, 2, day_end + 2), hlcv(13, 10, 10, 2, day_end + 3)};
  const std::vector<double> want = {10, 10.75, 13, 12};  // last: (13*2 + 11*2)/4
  Vwap v = Vwap::session_utc_day();
  EXPECT_EQ(v.warmup(), 1u);
  std::vector<double> got;
  for (const Bar& b : bars) got.push_back(v.update(b));
  expect_series(got, want, "stream");
  expect_series(vwap_session(bars), want, "batch");
}

TEST(ZScore, HandWorked) {
  // Window 1 2 3: mean 2, population sd sqrt(2/3); z(3) = 1/sqrt(2/3) = sqrt(1.5).
  // Window 2 3 0: mean 5/3, deviations 1/3 4/3 -5/3, variance (1+16+25)/27 = 14/9,
  //   z(0) = (-5/3)/sqrt(14/9) = -5/sqrt(14).
  const std::vector<double> v = {1, 2, 3, 0};
  const std::vector<double> want = {kNaN, kNaN, std::sqrt(1.5), -5.0 / std::sqrt(14.0)};
  expect_series(stream(ZScore(3), v), want, "stream");
  expect_series(zscore(v, 3), want, "batch");
  expect_series(stream(ZScore(2), {7, 7, 7}), {kNaN, 0, 0}, "flat");
}

TEST(RealizedVol, HandWorked) {
  // Closes 100, 110, 99, 108.9: log returns ln 1.1, ln 0.9, ln 1.1.
  // Window of 2 returns {a, b}: sample sd = |a - b| / sqrt(2).
  // With bars_per_year = 4 the annualized value is twice the per-bar one.
  const double a = std::log(1.1);
  const double b = std::log(0.9);
  const double sd = std::abs(a - b) / std::sqrt(2.0);
  const std::vector<double> v = {100, 110, 99, 108.9};
  const std::vector<double> want = {kNaN, kNaN, 2 * sd, 2 * sd};
  expect_series(stream(RealizedVol(2, 4.0), v), want, "stream");
  expect_series(realized_vol(v, 2, 4.0), want, "batch");
  RealizedVol rv(2, 4.0);
  for (double x : v) rv.update(x);
  EXPECT_NEAR(rv.per_bar(), sd, kTol);
  EXPECT_EQ(rv.warmup(), 3u);
  // The default annualization is for 1-minute bars.
  RealizedVol minute(2);
  for (double x : v) minute.update(x);
  EXPECT_NEAR(minute.value(), sd * std::sqrt(525'600.0), 1e-9);
}

TEST(Donchian, HandWorked) {
  // Period 3 over (high, low): (10,8) (12,9) (11,7) (9,8.5):
  //   bar 3: upper max(10,12,11) = 12, lower min(8,9,7) = 7, middle 9.5
  //   bar 4: upper max(12,11,9) = 12, lower min(9,7,8.5) = 7
  // then (9.5,9) (9,8.8): upper max(11,9,9.5) = 11, lower 7; then max(9,9.5,9) = 9.5, lower 8.5
  const std::vector<Bar> bars = {hlcv(10, 8, 9), hlcv(12, 9, 10), hlcv(11, 7, 8), hlcv(9, 8.5, 9),
                                 hlcv(9.5, 9, 9), hlcv(9, 8.8, 9)};
  const double up[] = {kNaN, kNaN, 12, 12, 11, 9.5};
  const double lo[] = {kNaN, kNaN, 7, 7, 7, 8.5};
  Donchian d(3);
  const auto batch = donchian(bars, 3);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const DonchianChannel c = d.update(bars[i]);
    if (std::isnan(up[i])) {
      EXPECT_TRUE(std::isnan(c.upper));
      EXPECT_TRUE(std::isnan(batch[i].upper));
      continue;
    }
    EXPECT_EQ(c.upper, up[i]) << i;
    EXPECT_EQ(c.lower, lo[i]) << i;
    EXPECT_EQ(c.middle, (up[i] + lo[i]) / 2) << i;
    EXPECT_EQ(batch[i].upper, up[i]) << i;
    EXPECT_EQ(batch[i].lower, lo[i]) << i;
  }
}

TEST(Parameters, PeriodLimits) {
  EXPECT_NO_THROW(Sma(1));
  EXPECT_NO_THROW(Sma(kPeriodMax - 1));
  EXPECT_NO_THROW(Sma{kPeriodMax});
  EXPECT_THROW(Sma(kPeriodMax + 1), std::invalid_argument);
  EXPECT_THROW(Sma(0), std::invalid_argument);
  EXPECT_THROW(Ema(0), std::invalid_argument);
  EXPECT_THROW(Rsi(0), std::invalid_argument);
  EXPECT_THROW(Atr(kPeriodMax + 1), std::invalid_argument);
  EXPECT_THROW(Vwap::rolling(0), std::invalid_argument);
  EXPECT_THROW(ZScore(0), std::invalid_argument);
  EXPECT_THROW(Donchian(0), std::invalid_argument);
  EXPECT_THROW(RealizedVol(1), std::invalid_argument);  // a stdev needs two returns
  EXPECT_NO_THROW(RealizedVol(2));
  EXPECT_THROW(RealizedVol(10, 0.0), std::invalid_argument);
  EXPECT_THROW(RealizedVol(10, std::nan("")), std::invalid_argument);
  EXPECT_NO_THROW(Bollinger(20, 0.0));
  EXPECT_NO_THROW(Bollinger(20, Bollinger::kStdevsMax));
  EXPECT_THROW(Bollinger(20, Bollinger::kStdevsMax + 0.001), std::invalid_argument);
  EXPECT_THROW(Bollinger(20, -1), std::invalid_argument);
  const std::vector<double> v = {1, 2, 3};
  EXPECT_THROW(sma(v, 0), std::invalid_argument);
  EXPECT_THROW(realized_vol(v, 1), std::invalid_argument);
  EXPECT_THROW(bollinger(v, 2, 11), std::invalid_argument);
}

TEST(Batch, ShortInputsAreAllWarmUp) {
  const std::vector<double> v = {1, 2};
  for (const auto& out : {sma(v, 3), ema(v, 3), rsi(v, 2), zscore(v, 3), realized_vol(v, 2)}) {
    ASSERT_EQ(out.size(), 2u);
    EXPECT_TRUE(std::isnan(out[0]) && std::isnan(out[1]));
  }
  EXPECT_TRUE(sma(std::vector<double>{}, 3).empty());
  EXPECT_TRUE(realized_vol(std::vector<double>{}, 3).empty());
}

}  // namespace
}  // namespace ta::agent::ind
