// Market regime classification from the indicators, one label per bar.
//
// Rules, checked in this order (risk first):
//   1. high volatility: realized volatility over the short window is at or
//      above vol_annualized_high, or at or above vol_ratio_high times the
//      realized volatility over the long window (volatility has jumped
//      relative to its own recent level);
//   2. trend: strength = (EMA fast - EMA slow) / ATR, the gap between the
//      averages in units of typical bar range. strength >= trend_strength_min
//      is an up-trend, <= -trend_strength_min a down-trend;
//   3. range: everything else.
// Until every input is ready the label is kWarmingUp. There is no
// hysteresis: a strategy that needs stable labels smooths them itself.
// docs/indicators.md explains the default thresholds.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "indicators/indicators.h"

namespace ta::agent::ind {

enum class Regime { kWarmingUp, kRange, kTrendUp, kTrendDown, kHighVolatility };
std::string_view to_string(Regime regime);

// Defaults are for 1-minute crypto bars. On the 90-day Binance sample
// (2025-05-20 .. 2025-08-17) they label BTC about 62 % range, 35 % trend and
// 3 % high volatility, ETH about 80 % range, 17 % trend and 3 % high
// volatility (docs/indicators.md has the distributions).
struct RegimeParams {
  std::size_t ema_fast_period = 20;   // 20 minutes
  std::size_t ema_slow_period = 60;   // 1 hour
  std::size_t atr_period = 14;
  std::size_t vol_short_period = 30;  // returns: the last half hour
  std::size_t vol_long_period = 720;  // returns: the last 12 hours
  double bars_per_year = kMinuteBarsPerYear;
  // EMA gap of 2 ATRs: about the 65th percentile on BTC, 83rd on ETH.
  double trend_strength_min = 2.0;
  // Short-window volatility twice the 12-hour level: about the 97th
  // percentile on both.
  double vol_ratio_high = 2.0;
  // 150 % a year over half an hour: beyond the 99th percentile of BTC, about
  // the 99th of ETH; catches sustained turmoil the ratio adapts away.
  double vol_annualized_high = 1.5;
};

// Throws std::invalid_argument when a period is out of range, fast >= slow,
// short >= long, or a threshold is not finite and > 0.
void validate(const RegimeParams& params);

// The indicator values the rules look at (volatilities annualized).
struct RegimeInputs {
  double ema_fast = kNaN;
  double ema_slow = kNaN;
  double atr = kNaN;
  double vol_short = kNaN;
  double vol_long = kNaN;
};

// The rules above on one set of ready inputs (any NaN input -> kWarmingUp).
Regime classify_regime(const RegimeInputs& inputs, const RegimeParams& params);

// Streaming classifier owning its indicators.
class RegimeClassifier {
 public:
  explicit RegimeClassifier(const RegimeParams& params = {});
  Regime update(const Bar& bar);
  Regime value() const { return regime_; }
  bool ready() const { return regime_ != Regime::kWarmingUp; }
  std::size_t warmup() const;
  const RegimeInputs& inputs() const { return inputs_; }
  void reset();

 private:
  RegimeParams params_;
  Ema ema_fast_;
  Ema ema_slow_;
  Atr atr_;
  RealizedVol vol_short_;
  RealizedVol vol_long_;
  RegimeInputs inputs_;
  Regime regime_ = Regime::kWarmingUp;
};

// Batch form, from the batch indicator functions.
std::vector<Regime> classify_regimes(std::span<const Bar> bars, const RegimeParams& params = {});

}  // namespace ta::agent::ind
