// Technical indicators of the agent, each in two forms:
//
//  * streaming: an object updated once per bar (or value), O(1) per update
//    (amortized where noted), no allocation after construction. update()
//    returns the current value; ready() says the warm-up is over. Before
//    that, values are NaN. warmup() is the number of updates needed.
//  * batch: a free function from a whole series to a series of the same
//    length, NaN during warm-up. Batch forms are written directly from the
//    definitions (O(n * period) where a window is involved) and serve as the
//    reference the streaming forms are tested against.
//
// Inputs must be finite (bars from ta_agent_market are validated). Periods
// are counted in bars: a window of n bars spans n minutes only when there
// is no gap; indicators do not look at timestamps except the session VWAP.
// Constructors (and batch functions) throw std::invalid_argument for
// parameters out of range: they are built from configuration at start-up,
// which validates first. docs/indicators.md gives definitions and examples.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "indicators/rolling.h"
#include "market/bar.h"

namespace ta::agent::ind {

// Longest window: the ring buffers hold `period` doubles each; 100,000
// one-minute bars are 69 days, beyond any intraday indicator.
inline constexpr std::size_t kPeriodMax = 100'000;

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Crypto trades around the clock: 365 days x 1440 minutes.
inline constexpr double kMinuteBarsPerYear = 525'600.0;

// Simple moving average of the last `period` values.
class Sma {
 public:
  explicit Sma(std::size_t period);
  double update(double value);
  double value() const { return ready() ? moments_.mean() : kNaN; }
  bool ready() const { return moments_.full(); }
  std::size_t warmup() const { return moments_.period(); }
  void reset() { moments_.reset(); }

 private:
  RollingMoments moments_;
};

// Exponential moving average, alpha = 2 / (period + 1), seeded with the
// simple mean of the first `period` values (so ready after `period`).
class Ema {
 public:
  explicit Ema(std::size_t period);
  double update(double value);
  double value() const { return ready() ? ema_ : kNaN; }
  bool ready() const { return count_ >= period_; }
  std::size_t warmup() const { return period_; }
  double alpha() const { return alpha_; }
  void reset();

 private:
  std::size_t period_;
  double alpha_;
  std::size_t count_ = 0;
  double seed_sum_ = 0;
  double ema_ = 0;
};

// Relative strength index with Wilder's smoothing: the first average gain
// and loss are simple means of the first `period` changes, then
// avg = (avg * (period - 1) + x) / period. RSI = 100 * G / (G + L); 50 when
// both are zero (a flat series). Needs period + 1 values.
class Rsi {
 public:
  explicit Rsi(std::size_t period);
  double update(double close);
  double value() const { return ready() ? rsi_ : kNaN; }
  bool ready() const { return changes_ >= period_; }
  std::size_t warmup() const { return period_ + 1; }
  void reset();

 private:
  std::size_t period_;
  double inv_period_;
  bool has_prev_ = false;
  double prev_ = 0;
  std::size_t changes_ = 0;
  double avg_gain_ = 0;
  double avg_loss_ = 0;
  double rsi_ = 0;
};

// Average true range with Wilder's smoothing. TR = max(high - low,
// |high - previous close|, |low - previous close|); the first bar's TR is
// high - low. The first ATR is the mean of the first `period` TRs.
class Atr {
 public:
  explicit Atr(std::size_t period);
  double update(const Bar& bar) { return update(bar.high, bar.low, bar.close); }
  double update(double high, double low, double close);
  double value() const { return ready() ? atr_ : kNaN; }
  bool ready() const { return count_ >= period_; }
  std::size_t warmup() const { return period_; }
  void reset();

 private:
  std::size_t period_;
  double inv_period_;
  std::size_t count_ = 0;
  double prev_close_ = 0;
  double tr_sum_ = 0;
  double atr_ = 0;
};

struct BollingerBands {
  double middle = kNaN;  // SMA
  double upper = kNaN;   // middle + k * stdev
  double lower = kNaN;   // middle - k * stdev
  double stdev = kNaN;   // population standard deviation of the window
};

// Bollinger bands over the last `period` values, k standard deviations
// wide (population standard deviation, the usual convention).
class Bollinger {
 public:
  static constexpr double kStdevsMax = 10.0;  // wider bands never touch
  Bollinger(std::size_t period, double k_stdevs);
  BollingerBands update(double value);
  BollingerBands value() const;
  bool ready() const { return moments_.full(); }
  std::size_t warmup() const { return moments_.period(); }
  void reset() { moments_.reset(); }

 private:
  RollingMoments moments_;
  double k_;
};

// Volume-weighted average price of the typical price (high + low + close)/3.
//  * rolling: over the last `period` bars; ready after `period` bars;
//  * session: since the first bar of the current UTC day (a session starts
//    at 00:00 UTC, crypto has no exchange session); ready after one bar.
// When the window's volume is zero the value is the latest typical price.
class Vwap {
 public:
  enum class Mode { kRolling, kSessionUtcDay };
  static Vwap rolling(std::size_t period);
  static Vwap session_utc_day();

  double update(const Bar& bar);
  double value() const { return ready() ? value_ : kNaN; }
  bool ready() const;
  std::size_t warmup() const { return mode_ == Mode::kRolling ? period_ : 1; }
  Mode mode() const { return mode_; }
  void reset();

 private:
  Vwap(Mode mode, std::size_t period);
  Mode mode_;
  std::size_t period_;
  RollingSum2 sums_;  // rolling: (price * volume, volume)
  std::size_t positive_volume_bars_ = 0;  // rolling: in the window
  std::int64_t session_day_ = -1;  // session: UTC day number
  double session_pv_ = 0;
  double session_v_ = 0;
  std::size_t count_ = 0;
  double value_ = 0;
};

// (value - mean) / stdev over the last `period` values including this one
// (population stdev); 0 when the window is flat.
class ZScore {
 public:
  explicit ZScore(std::size_t period);
  double update(double value);
  double value() const { return ready() ? z_ : kNaN; }
  bool ready() const { return moments_.full(); }
  std::size_t warmup() const { return moments_.period(); }
  void reset() { moments_.reset(); }

 private:
  RollingMoments moments_;
  double z_ = 0;
};

// Realized volatility: sample standard deviation (n - 1) of the last
// `period` log returns ln(close_t / close_t-1), annualized by
// sqrt(bars_per_year) (default: 1-minute bars, 525,600 per year). A return
// across a data gap is taken as one bar's return. Needs period + 1 closes.
class RealizedVol {
 public:
  RealizedVol(std::size_t period, double bars_per_year = kMinuteBarsPerYear);  // period >= 2
  double update(double close);
  double value() const { return ready() ? per_bar() * annualize_ : kNaN; }  // annualized
  double per_bar() const { return ready() ? std::sqrt(moments_.variance_sample()) : kNaN; }
  bool ready() const { return moments_.full(); }
  std::size_t warmup() const { return moments_.period() + 1; }
  void reset();

 private:
  RollingMoments moments_;
  double annualize_;
  bool has_prev_ = false;
  double prev_ = 0;
};

struct DonchianChannel {
  double upper = kNaN;   // highest high of the window
  double lower = kNaN;   // lowest low of the window
  double middle = kNaN;  // (upper + lower) / 2
};

// Donchian channel over the last `period` bars, including the current one.
// A breakout rule compares a close with the channel of the previous bar.
class Donchian {
 public:
  explicit Donchian(std::size_t period);
  DonchianChannel update(const Bar& bar) { return update(bar.high, bar.low); }
  DonchianChannel update(double high, double low);
  DonchianChannel value() const;
  bool ready() const { return highs_.count() >= period_; }
  std::size_t warmup() const { return period_; }
  void reset();

 private:
  std::size_t period_;
  RollingExtremum highs_;
  RollingExtremum lows_;
};

// ---- batch forms -----------------------------------------------------------

std::vector<double> closes(std::span<const Bar> bars);
std::vector<double> sma(std::span<const double> values, std::size_t period);
std::vector<double> ema(std::span<const double> values, std::size_t period);
std::vector<double> rsi(std::span<const double> closes, std::size_t period);
std::vector<double> atr(std::span<const Bar> bars, std::size_t period);
std::vector<BollingerBands> bollinger(std::span<const double> values, std::size_t period, double k_stdevs);
std::vector<double> vwap_rolling(std::span<const Bar> bars, std::size_t period);
std::vector<double> vwap_session(std::span<const Bar> bars);
std::vector<double> zscore(std::span<const double> values, std::size_t period);
std::vector<double> realized_vol(std::span<const double> closes, std::size_t period,
                                 double bars_per_year = kMinuteBarsPerYear);
std::vector<DonchianChannel> donchian(std::span<const Bar> bars, std::size_t period);

}  // namespace ta::agent::ind
