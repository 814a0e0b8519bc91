#include "indicators/regime.h"

#include <algorithm>
#include <stdexcept>

namespace ta::agent::ind {
namespace {

bool positive_finite(double v) { return std::isfinite(v) && v > 0; }

}  // namespace

std::string_view to_string(Regime regime) {
  switch (regime) {
    case Regime::kWarmingUp:
      return "warming_up";
    case Regime::kRange:
      return "range";
    case Regime::kTrendUp:
      return "trend_up";
    case Regime::kTrendDown:
      return "trend_down";
    case Regime::kHighVolatility:
      return "high_volatility";
  }
  return "unknown";
}

void validate(const RegimeParams& p) {
  const auto period_ok = [](std::size_t n, std::size_t min) { return n >= min && n <= kPeriodMax; };
  if (!period_ok(p.ema_fast_period, 1) || !period_ok(p.ema_slow_period, 1) || !period_ok(p.atr_period, 1) ||
      !period_ok(p.vol_short_period, 2) || !period_ok(p.vol_long_period, 2)) {
    throw std::invalid_argument("regime: a period is out of range");
  }
  if (p.ema_fast_period >= p.ema_slow_period) {
    throw std::invalid_argument("regime: ema_fast_period must be below ema_slow_period");
  }
  if (p.vol_short_period >= p.vol_long_period) {
    throw std::invalid_argument("regime: vol_short_period must be below vol_long_period");
  }
  if (!positive_finite(p.bars_per_year) || !positive_finite(p.trend_strength_min) ||
      !positive_finite(p.vol_ratio_high) || !positive_finite(p.vol_annualized_high)) {
    throw std::invalid_argument("regime: thresholds must be finite and > 0");
  }
}

Regime classify_regime(const RegimeInputs& in, const RegimeParams& p) {
  if (std::isnan(in.ema_fast) || std::isnan(in.ema_slow) || std::isnan(in.atr) || std::isnan(in.vol_short) ||
      std::isnan(in.vol_long)) {
    return Regime::kWarmingUp;
  }
  if (in.vol_short >= p.vol_annualized_high) return Regime::kHighVolatility;
  if (in.vol_long > 0 && in.vol_short >= p.vol_ratio_high * in.vol_long) return Regime::kHighVolatility;
  // A zero ATR means flat bars: no trend to speak of.
  const double strength = in.atr > 0 ? (in.ema_fast - in.ema_slow) / in.atr : 0.0;
  if (strength >= p.trend_strength_min) return Regime::kTrendUp;
  if (strength <= -p.trend_strength_min) return Regime::kTrendDown;
  return Regime::kRange;
}

namespace {

const RegimeParams& validated(const RegimeParams& p) {
  validate(p);
  return p;
}

}  // namespace

RegimeClassifier::RegimeClassifier(const RegimeParams& params)
    : params_(validated(params)),
      ema_fast_(params.ema_fast_period),
      ema_slow_(params.ema_slow_period),
      atr_(params.atr_period),
      vol_short_(params.vol_short_period, params.bars_per_year),
      vol_long_(params.vol_long_period, params.bars_per_year) {}

std::size_t RegimeClassifier::warmup() const {
  return std::max({ema_fast_.warmup(), ema_slow_.warmup(), atr_.warmup(), vol_short_.warmup(),
                   vol_long_.warmup()});
}

void RegimeClassifier::reset() {
  ema_fast_.reset();
  ema_slow_.reset();
  atr_.reset();
  vol_short_.reset();
  vol_long_.reset();
  inputs_ = RegimeInputs{};
  regime_ = Regime::kWarmingUp;
}

Regime RegimeClassifier::update(const Bar& bar) {
  inputs_.ema_fast = ema_fast_.update(bar.close);
  inputs_.ema_slow = ema_slow_.update(bar.close);
  inputs_.atr = atr_.update(bar);
  inputs_.vol_short = vol_short_.update(bar.close);
  inputs_.vol_long = vol_long_.update(bar.close);
  regime_ = classify_regime(inputs_, params_);
  return regime_;
}

std::vector<Regime> classify_regimes(std::span<const Bar> bars, const RegimeParams& p) {
  validate(p);
  const std::vector<double> c = closes(bars);
  const auto fast = ema(c, p.ema_fast_period);
  const auto slow = ema(c, p.ema_slow_period);
  const auto a = atr(bars, p.atr_period);
  const auto vs = realized_vol(c, p.vol_short_period, p.bars_per_year);
  const auto vl = realized_vol(c, p.vol_long_period, p.bars_per_year);
  std::vector<Regime> out(bars.size());
  for (std::size_t i = 0; i < bars.size(); ++i) {
    out[i] = classify_regime(RegimeInputs{fast[i], slow[i], a[i], vs[i], vl[i]}, p);
  }
  return out;
}

}  // namespace ta::agent::ind
