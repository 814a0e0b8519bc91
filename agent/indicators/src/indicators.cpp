#include "indicators/indicators.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace ta::agent::ind {
namespace {

std::size_t checked(std::size_t period, const char* name, std::size_t min = 1) {
  if (period < min || period > kPeriodMax) {
    throw std::invalid_argument(std::string(name) + ": period must be in [" + std::to_string(min) + ", " +
                                std::to_string(kPeriodMax) + "], got " + std::to_string(period));
  }
  return period;
}

double typical_price(const Bar& bar) { return (bar.high + bar.low + bar.close) / 3.0; }

constexpr std::int64_t kSecondsPerDay = 86'400;

}  // namespace

// ---- streaming ------------------------------------------------------------

Sma::Sma(std::size_t period) : moments_(checked(period, "SMA")) {}

double Sma::update(double value) {
  moments_.push(value);
  return this->value();
}

Ema::Ema(std::size_t period)
    : period_(checked(period, "EMA")), alpha_(2.0 / (static_cast<double>(period) + 1.0)) {}

void Ema::reset() {
  count_ = 0;
  seed_sum_ = 0;
  ema_ = 0;
}

double Ema::update(double value) {
  if (count_ < period_) {
    seed_sum_ += value;
    if (++count_ == period_) ema_ = seed_sum_ / static_cast<double>(period_);
  } else {
    ema_ += alpha_ * (value - ema_);
  }
  return this->value();
}

Rsi::Rsi(std::size_t period)
    : period_(checked(period, "RSI")), inv_period_(1.0 / static_cast<double>(period)) {}

void Rsi::reset() {
  has_prev_ = false;
  prev_ = 0;
  changes_ = 0;
  avg_gain_ = 0;
  avg_loss_ = 0;
  rsi_ = 0;
}

double Rsi::update(double close) {
  if (!has_prev_) {
    has_prev_ = true;
    prev_ = close;
    return kNaN;
  }
  const double change = close - prev_;
  prev_ = close;
  const double gain = change > 0 ? change : 0.0;
  const double loss = change < 0 ? -change : 0.0;
  const double n = static_cast<double>(period_);
  ++changes_;
  if (changes_ < period_) {
    avg_gain_ += gain;  // sums until the first average
    avg_loss_ += loss;
    return kNaN;
  }
  if (changes_ == period_) {
    avg_gain_ = (avg_gain_ + gain) / n;
    avg_loss_ = (avg_loss_ + loss) / n;
  } else {
    // (avg * (n - 1) + x) / n, rearranged so the dependency chain from one
    // bar to the next is a subtract, a multiply and an add, not a division.
    avg_gain_ += (gain - avg_gain_) * inv_period_;
    avg_loss_ += (loss - avg_loss_) * inv_period_;
  }
  const double total = avg_gain_ + avg_loss_;
  rsi_ = total > 0 ? 100.0 * avg_gain_ / total : 50.0;
  return rsi_;
}

Atr::Atr(std::size_t period)
    : period_(checked(period, "ATR")), inv_period_(1.0 / static_cast<double>(period)) {}

void Atr::reset() {
  count_ = 0;
  prev_close_ = 0;
  tr_sum_ = 0;
  atr_ = 0;
}

double Atr::update(double high, double low, double close) {
  double tr = high - low;
  if (count_ > 0) tr = std::max({tr, std::abs(high - prev_close_), std::abs(low - prev_close_)});
  prev_close_ = close;
  ++count_;
  const double n = static_cast<double>(period_);
  if (count_ < period_) {
    tr_sum_ += tr;
  } else if (count_ == period_) {
    atr_ = (tr_sum_ + tr) / n;
  } else {
    atr_ += (tr - atr_) * inv_period_;  // (atr * (n - 1) + tr) / n, see Rsi
  }
  return value();
}

Bollinger::Bollinger(std::size_t period, double k_stdevs) : moments_(checked(period, "Bollinger")), k_(k_stdevs) {
  if (!(k_stdevs >= 0.0 && k_stdevs <= kStdevsMax)) {
    throw std::invalid_argument("Bollinger: k must be in [0, 10]");
  }
}

BollingerBands Bollinger::update(double value) {
  moments_.push(value);
  return this->value();
}

BollingerBands Bollinger::value() const {
  if (!ready()) return {};
  const double mid = moments_.mean();
  const double sd = std::sqrt(moments_.variance_population());
  return {mid, mid + k_ * sd, mid - k_ * sd, sd};
}

Vwap::Vwap(Mode mode, std::size_t period) : mode_(mode), period_(period), sums_(period) {}

Vwap Vwap::rolling(std::size_t period) { return Vwap(Mode::kRolling, checked(period, "VWAP")); }

Vwap Vwap::session_utc_day() { return Vwap(Mode::kSessionUtcDay, 1); }

bool Vwap::ready() const {
  switch (mode_) {
    case Mode::kRolling:
      return sums_.full();
    case Mode::kSessionUtcDay:
      return count_ > 0;
  }
  return false;
}

void Vwap::reset() {
  sums_.reset();
  positive_volume_bars_ = 0;
  session_day_ = -1;
  session_pv_ = 0;
  session_v_ = 0;
  count_ = 0;
  value_ = 0;
}

double Vwap::update(const Bar& bar) {
  const double tp = typical_price(bar);
  switch (mode_) {
    case Mode::kRolling: {
      const auto out = sums_.push(tp * bar.volume, bar.volume);
      if (out.any && out.b > 0) --positive_volume_bars_;
      if (bar.volume > 0) ++positive_volume_bars_;
      value_ = positive_volume_bars_ > 0 ? sums_.sum_a() / sums_.sum_b() : tp;
      break;
    }
    case Mode::kSessionUtcDay: {
      const std::int64_t day = bar.open_ts_s / kSecondsPerDay;
      if (day != session_day_) {
        session_day_ = day;
        session_pv_ = 0;
        session_v_ = 0;
      }
      session_pv_ += tp * bar.volume;
      session_v_ += bar.volume;
      value_ = session_v_ > 0 ? session_pv_ / session_v_ : tp;
      break;
    }
  }
  ++count_;
  return value();
}

ZScore::ZScore(std::size_t period) : moments_(checked(period, "z-score")) {}

double ZScore::update(double value) {
  moments_.push(value);
  if (!ready()) return kNaN;
  const double sd = std::sqrt(moments_.variance_population());
  z_ = sd > 0 ? (value - moments_.mean()) / sd : 0.0;
  return z_;
}

RealizedVol::RealizedVol(std::size_t period, double bars_per_year)
    : moments_(checked(period, "realized volatility", 2)), annualize_(std::sqrt(bars_per_year)) {
  if (!(bars_per_year >= 1.0 && bars_per_year <= 1e9)) {
    throw std::invalid_argument("realized volatility: bars_per_year must be in [1, 1e9]");
  }
}

void RealizedVol::reset() {
  moments_.reset();
  has_prev_ = false;
  prev_ = 0;
}

double RealizedVol::update(double close) {
  if (has_prev_) moments_.push(std::log(close / prev_));
  has_prev_ = true;
  prev_ = close;
  return value();
}

Donchian::Donchian(std::size_t period)
    : period_(checked(period, "Donchian")),
      highs_(RollingExtremum::Kind::kMax, period),
      lows_(RollingExtremum::Kind::kMin, period) {}

void Donchian::reset() {
  highs_.reset();
  lows_.reset();
}

DonchianChannel Donchian::update(double high, double low) {
  highs_.push(high);
  lows_.push(low);
  return value();
}

DonchianChannel Donchian::value() const {
  if (!ready()) return {};
  const double hi = highs_.value();
  const double lo = lows_.value();
  return {hi, lo, (hi + lo) / 2.0};
}

// ---- batch ------------------------------------------------------------------
// Written from the definitions, window by window, independently of the
// streaming code above.

std::vector<double> closes(std::span<const Bar> bars) {
  std::vector<double> out(bars.size());
  for (std::size_t i = 0; i < bars.size(); ++i) out[i] = bars[i].close;
  return out;
}

std::vector<double> sma(std::span<const double> values, std::size_t period) {
  checked(period, "SMA");
  std::vector<double> out(values.size(), kNaN);
  for (std::size_t i = period - 1; i < values.size(); ++i) {
    double sum = 0;
    for (std::size_t j = i + 1 - period; j <= i; ++j) sum += values[j];
    out[i] = sum / static_cast<double>(period);
  }
  return out;
}

std::vector<double> ema(std::span<const double> values, std::size_t period) {
  checked(period, "EMA");
  std::vector<double> out(values.size(), kNaN);
  if (values.size() < period) return out;
  double sum = 0;
  for (std::size_t j = 0; j < period; ++j) sum += values[j];
  double e = sum / static_cast<double>(period);
  out[period - 1] = e;
  const double alpha = 2.0 / (static_cast<double>(period) + 1.0);
  for (std::size_t i = period; i < values.size(); ++i) {
    e = alpha * values[i] + (1.0 - alpha) * e;
    out[i] = e;
  }
  return out;
}

std::vector<double> rsi(std::span<const double> closes, std::size_t period) {
  checked(period, "RSI");
  std::vector<double> out(closes.size(), kNaN);
  if (closes.size() < period + 1) return out;
  const double n = static_cast<double>(period);
  double g = 0;
  double l = 0;
  for (std::size_t i = 1; i <= period; ++i) {
    const double c = closes[i] - closes[i - 1];
    g += std::max(c, 0.0);
    l += std::max(-c, 0.0);
  }
  g /= n;
  l /= n;
  const auto value = [](double gain, double loss) {
    return gain + loss > 0 ? 100.0 * gain / (gain + loss) : 50.0;
  };
  out[period] = value(g, l);
  for (std::size_t i = period + 1; i < closes.size(); ++i) {
    const double c = closes[i] - closes[i - 1];
    g = (g * (n - 1.0) + std::max(c, 0.0)) / n;
    l = (l * (n - 1.0) + std::max(-c, 0.0)) / n;
    out[i] = value(g, l);
  }
  return out;
}

std::vector<double> atr(std::span<const Bar> bars, std::size_t period) {
  checked(period, "ATR");
  std::vector<double> out(bars.size(), kNaN);
  std::vector<double> tr(bars.size());
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    tr[i] = b.high - b.low;
    if (i > 0) {
      const double pc = bars[i - 1].close;
      tr[i] = std::max({tr[i], std::abs(b.high - pc), std::abs(b.low - pc)});
    }
  }
  if (bars.size() < period) return out;
  const double n = static_cast<double>(period);
  double a = 0;
  for (std::size_t i = 0; i < period; ++i) a += tr[i];
  a /= n;
  out[period - 1] = a;
  for (std::size_t i = period; i < bars.size(); ++i) {
    a = (a * (n - 1.0) + tr[i]) / n;
    out[i] = a;
  }
  return out;
}

namespace {

// Two-pass mean and population variance of values[first, first + n),
// shifted by the window's first value: exact for a flat window (where
// sum/n of equal values can miss the value by an ulp and make a tiny,
// meaningless variance) and more accurate for large prices.
void window_moments(std::span<const double> values, std::size_t first, std::size_t n, double& mean,
                    double& variance) {
  const double shift = values[first];
  double sum = 0;
  for (std::size_t j = first; j < first + n; ++j) sum += values[j] - shift;
  const double mean_shifted = sum / static_cast<double>(n);
  double ss = 0;
  for (std::size_t j = first; j < first + n; ++j) {
    const double d = values[j] - shift - mean_shifted;
    ss += d * d;
  }
  mean = shift + mean_shifted;
  variance = ss / static_cast<double>(n);
}

}  // namespace

std::vector<BollingerBands> bollinger(std::span<const double> values, std::size_t period, double k_stdevs) {
  checked(period, "Bollinger");
  if (!(k_stdevs >= 0.0 && k_stdevs <= Bollinger::kStdevsMax)) {
    throw std::invalid_argument("Bollinger: k must be in [0, 10]");
  }
  std::vector<BollingerBands> out(values.size());
  for (std::size_t i = period - 1; i < values.size(); ++i) {
    double mean = 0;
    double var = 0;
    window_moments(values, i + 1 - period, period, mean, var);
    const double sd = std::sqrt(var);
    out[i] = {mean, mean + k_stdevs * sd, mean - k_stdevs * sd, sd};
  }
  return out;
}

std::vector<double> vwap_rolling(std::span<const Bar> bars, std::size_t period) {
  checked(period, "VWAP");
  std::vector<double> out(bars.size(), kNaN);
  for (std::size_t i = period - 1; i < bars.size(); ++i) {
    double pv = 0;
    double v = 0;
    for (std::size_t j = i + 1 - period; j <= i; ++j) {
      pv += typical_price(bars[j]) * bars[j].volume;
      v += bars[j].volume;
    }
    out[i] = v > 0 ? pv / v : typical_price(bars[i]);
  }
  return out;
}

std::vector<double> vwap_session(std::span<const Bar> bars) {
  std::vector<double> out(bars.size(), kNaN);
  std::size_t start = 0;
  for (std::size_t i = 0; i < bars.size(); ++i) {
    if (bars[i].open_ts_s / kSecondsPerDay != bars[start].open_ts_s / kSecondsPerDay) start = i;
    double pv = 0;
    double v = 0;
    for (std::size_t j = start; j <= i; ++j) {
      pv += typical_price(bars[j]) * bars[j].volume;
      v += bars[j].volume;
    }
    out[i] = v > 0 ? pv / v : typical_price(bars[i]);
  }
  return out;
}

std::vector<double> zscore(std::span<const double> values, std::size_t period) {
  checked(period, "z-score");
  std::vector<double> out(values.size(), kNaN);
  for (std::size_t i = period - 1; i < values.size(); ++i) {
    double mean = 0;
    double var = 0;
    window_moments(values, i + 1 - period, period, mean, var);
    const double sd = std::sqrt(var);
    out[i] = sd > 0 ? (values[i] - mean) / sd : 0.0;
  }
  return out;
}

std::vector<double> realized_vol(std::span<const double> closes, std::size_t period, double bars_per_year) {
  checked(period, "realized volatility", 2);
  if (!(bars_per_year >= 1.0 && bars_per_year <= 1e9)) {
    throw std::invalid_argument("realized volatility: bars_per_year must be in [1, 1e9]");
  }
  std::vector<double> out(closes.size(), kNaN);
  if (closes.size() < 2) return out;
  std::vector<double> r(closes.size() - 1);
  for (std::size_t i = 1; i < closes.size(); ++i) r[i - 1] = std::log(closes[i] / closes[i - 1]);
  for (std::size_t i = period; i < closes.size(); ++i) {
    // Returns r[i - period .. i - 1] end at close i.
    double mean = 0;
    double var = 0;
    window_moments(r, i - period, period, mean, var);
    const double sample_var = var * static_cast<double>(period) / static_cast<double>(period - 1);
    out[i] = std::sqrt(sample_var) * std::sqrt(bars_per_year);
  }
  return out;
}

std::vector<DonchianChannel> donchian(std::span<const Bar> bars, std::size_t period) {
  checked(period, "Donchian");
  std::vector<DonchianChannel> out(bars.size());
  for (std::size_t i = period - 1; i < bars.size(); ++i) {
    double hi = bars[i].high;
    double lo = bars[i].low;
    for (std::size_t j = i + 1 - period; j <= i; ++j) {
      hi = std::max(hi, bars[j].high);
      lo = std::min(lo, bars[j].low);
    }
    out[i] = {hi, lo, (hi + lo) / 2.0};
  }
  return out;
}

}  // namespace ta::agent::ind
