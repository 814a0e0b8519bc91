#include "strategy/builtin.h"

#include <array>
#include <cmath>

#include "indicators/indicators.h"

namespace ta::agent {
namespace {

using ind::Atr;
using ind::Ema;
using ind::ZScore;

bool finite(double v) { return std::isfinite(v); }

Signal enter(SignalKind kind, double stop) {
  Signal s;
  s.kind = kind;
  s.reason = SignalReason::kEntryCondition;
  s.stop_price = stop;
  return s;
}

Signal not_finite() {
  Signal s;
  s.not_finite = true;
  return s;
}

Signal exit_signal(SignalKind kind, SignalReason reason) {
  Signal s;
  s.kind = kind;
  s.reason = reason;
  return s;
}

// Shared parameter specs of the engine-managed exits.
ParamSpec holding_spec(std::int64_t value) {
  return {"max_holding_bars", static_cast<double>(value), 0, static_cast<double>(kHoldingBarsMax), true,
          "exit after this many bars in a position (0: no limit)"};
}
ParamSpec cooldown_spec(std::int64_t value) {
  return {"cooldown_bars", static_cast<double>(value), 0, static_cast<double>(kCooldownBarsMax), true,
          "bars to wait after an exit before looking again"};
}
ParamSpec period_spec(std::string name, std::int64_t value, double min, std::string description) {
  return {std::move(name), static_cast<double>(value), min, static_cast<double>(ind::kPeriodMax), true,
          std::move(description)};
}

std::int64_t as_int(double v) { return static_cast<std::int64_t>(v); }

Result<std::vector<ParamSpec>> checked(std::vector<ParamSpec> specs) {
  for (const auto& p : specs) {
    if (auto st = check_param_value(p, p.value); !st) return st.error();
  }
  return specs;
}

// ------------------------------------------------------------ mean reversion

class MeanReversionInstance final : public StrategyInstance {
 public:
  explicit MeanReversionInstance(const MeanReversionParams& p)
      : p_(p), z_(static_cast<std::size_t>(p.period)), atr_(static_cast<std::size_t>(p.atr_period)) {}

  bool update(const Bar& bar) override {
    z_value_ = z_.update(bar.close);
    atr_value_ = atr_.update(bar);
    if (!ready_) ready_ = z_.ready() && atr_.ready();
    return ready_;
  }

  Signal entry(const Bar& bar) override {
    if (!finite(z_value_)) return not_finite();
    if (z_value_ <= -p_.entry_z) return enter(SignalKind::kEnterLong, bar.close - p_.stop_atr * atr_value_);
    if (z_value_ >= p_.entry_z) return enter(SignalKind::kEnterShort, bar.close + p_.stop_atr * atr_value_);
    return {};
  }

  Signal exit(const Bar&, PositionSide side) override {
    if (!finite(z_value_)) return not_finite();
    if (side == PositionSide::kLong) {
      if (z_value_ >= p_.exit_z) return exit_signal(SignalKind::kExit, SignalReason::kExitCondition);
      if (z_value_ >= p_.entry_z) return exit_signal(SignalKind::kEnterShort, SignalReason::kEntryCondition);
    } else if (side == PositionSide::kShort) {
      if (z_value_ <= -p_.exit_z) return exit_signal(SignalKind::kExit, SignalReason::kExitCondition);
      if (z_value_ <= -p_.entry_z) return exit_signal(SignalKind::kEnterLong, SignalReason::kEntryCondition);
    }
    return {};
  }

 private:
  MeanReversionParams p_;
  ZScore z_;
  Atr atr_;
  double z_value_ = kNoPrice;
  double atr_value_ = kNoPrice;
  bool ready_ = false;
};

std::vector<ParamSpec> mean_reversion_specs(const MeanReversionParams& p) {
  return {
      period_spec("period", p.period, 5, "bars in the z-score window"),
      {"entry_z", p.entry_z, 0.1, 10, false, "enter when the close is this many standard deviations from the mean"},
      {"exit_z", p.exit_z, -5, 5, false, "a long exits when z reaches this (a short at -exit_z)"},
      period_spec("atr_period", p.atr_period, 1, "bars in the ATR of the stop"),
      {"stop_atr", p.stop_atr, 0.1, 50, false, "protective stop distance in ATRs"},
      holding_spec(p.max_holding_bars),
      cooldown_spec(p.cooldown_bars),
  };
}

MeanReversionParams mean_reversion_from(const std::vector<ParamSpec>& s) {
  MeanReversionParams p;
  p.period = as_int(s[0].value);
  p.entry_z = s[1].value;
  p.exit_z = s[2].value;
  p.atr_period = as_int(s[3].value);
  p.stop_atr = s[4].value;
  p.max_holding_bars = as_int(s[5].value);
  p.cooldown_bars = as_int(s[6].value);
  return p;
}

class MeanReversionDefinition final : public StrategyDefinition {
 public:
  MeanReversionDefinition(std::string name, std::vector<ParamSpec> specs)
      : StrategyDefinition(std::move(name), specs), p_(mean_reversion_from(specs)) {}
  std::string_view kind() const override { return "mean_reversion"; }
  std::int64_t max_holding_bars() const override { return p_.max_holding_bars; }
  std::int64_t cooldown_bars() const override { return p_.cooldown_bars; }
  std::unique_ptr<StrategyInstance> instantiate() const override {
    return std::make_unique<MeanReversionInstance>(p_);
  }

 protected:
  Result<std::shared_ptr<const StrategyDefinition>> rebuild(std::vector<ParamSpec> params) const override {
    return std::shared_ptr<const StrategyDefinition>(
        std::make_shared<MeanReversionDefinition>(name(), std::move(params)));
  }

 private:
  MeanReversionParams p_;
};

// ------------------------------------------------------------------ momentum

class MomentumInstance final : public StrategyInstance {
 public:
  explicit MomentumInstance(const MomentumParams& p)
      : p_(p),
        fast_(static_cast<std::size_t>(p.fast_period)),
        slow_(static_cast<std::size_t>(p.slow_period)),
        atr_(static_cast<std::size_t>(p.atr_period)) {}

  bool update(const Bar& bar) override {
    fast_prev_ = fast_value_;
    slow_prev_ = slow_value_;
    fast_value_ = fast_.update(bar.close);
    slow_value_ = slow_.update(bar.close);
    atr_value_ = atr_.update(bar);
    if (!ready_) {
      // A cross needs the previous bar's values too: ready on the second bar
      // on which every indicator is ready.
      ready_streak_ = (fast_.ready() && slow_.ready() && atr_.ready()) ? ready_streak_ + 1 : 0;
      ready_ = ready_streak_ >= 2;
    }
    return ready_;
  }

  Signal entry(const Bar& bar) override {
    if (!inputs_finite()) return not_finite();
    if (crossed_above()) return enter(SignalKind::kEnterLong, bar.close - p_.stop_atr * atr_value_);
    if (crossed_below()) return enter(SignalKind::kEnterShort, bar.close + p_.stop_atr * atr_value_);
    return {};
  }

  Signal exit(const Bar&, PositionSide side) override {
    if (!inputs_finite()) return not_finite();
    if (side == PositionSide::kLong) {
      if (crossed_below()) return exit_signal(SignalKind::kExit, SignalReason::kExitCondition);
    } else if (side == PositionSide::kShort) {
      if (crossed_above()) return exit_signal(SignalKind::kExit, SignalReason::kExitCondition);
    }
    return {};
  }

 private:
  bool inputs_finite() const {
    return finite(fast_prev_) && finite(slow_prev_) && finite(fast_value_) && finite(slow_value_);
  }
  bool crossed_above() const { return fast_prev_ <= slow_prev_ && fast_value_ > slow_value_; }
  bool crossed_below() const { return fast_prev_ >= slow_prev_ && fast_value_ < slow_value_; }

  MomentumParams p_;
  Ema fast_;
  Ema slow_;
  Atr atr_;
  double fast_value_ = kNoPrice;
  double slow_value_ = kNoPrice;
  double fast_prev_ = kNoPrice;
  double slow_prev_ = kNoPrice;
  double atr_value_ = kNoPrice;
  int ready_streak_ = 0;
  bool ready_ = false;
};

std::vector<ParamSpec> momentum_specs(const MomentumParams& p) {
  return {
      period_spec("fast_period", p.fast_period, 1, "bars in the fast EMA (less than slow_period)"),
      period_spec("slow_period", p.slow_period, 2, "bars in the slow EMA"),
      period_spec("atr_period", p.atr_period, 1, "bars in the ATR of the stop"),
      {"stop_atr", p.stop_atr, 0.1, 50, false, "protective stop distance in ATRs"},
      holding_spec(p.max_holding_bars),
      cooldown_spec(p.cooldown_bars),
  };
}

MomentumParams momentum_from(const std::vector<ParamSpec>& s) {
  MomentumParams p;
  p.fast_period = as_int(s[0].value);
  p.slow_period = as_int(s[1].value);
  p.atr_period = as_int(s[2].value);
  p.stop_atr = s[3].value;
  p.max_holding_bars = as_int(s[4].value);
  p.cooldown_bars = as_int(s[5].value);
  return p;
}

Status check_momentum(const MomentumParams& p) {
  if (p.fast_period >= p.slow_period) {
    return make_error("constraint fast_period < slow_period does not hold (fast_period = " +
                      std::to_string(p.fast_period) + ", slow_period = " + std::to_string(p.slow_period) + ")");
  }
  return {};
}

class MomentumDefinition final : public StrategyDefinition {
 public:
  MomentumDefinition(std::string name, std::vector<ParamSpec> specs)
      : StrategyDefinition(std::move(name), specs), p_(momentum_from(specs)) {}
  std::string_view kind() const override { return "momentum"; }
  std::int64_t max_holding_bars() const override { return p_.max_holding_bars; }
  std::int64_t cooldown_bars() const override { return p_.cooldown_bars; }
  std::unique_ptr<StrategyInstance> instantiate() const override { return std::make_unique<MomentumInstance>(p_); }

 protected:
  Result<std::shared_ptr<const StrategyDefinition>> rebuild(std::vector<ParamSpec> params) const override {
    if (auto st = check_momentum(momentum_from(params)); !st) return st.error();
    return std::shared_ptr<const StrategyDefinition>(std::make_shared<MomentumDefinition>(name(), std::move(params)));
  }

 private:
  MomentumParams p_;
};

constexpr std::array<std::string_view, 2> kKinds = {"mean_reversion", "momentum"};

}  // namespace

Result<std::shared_ptr<const StrategyDefinition>> make_mean_reversion(std::string name,
                                                                    const MeanReversionParams& params) {
  if (auto st = validate_strategy_name(name); !st) return st.error();
  auto specs = checked(mean_reversion_specs(params));
  if (!specs) return specs.error();
  return std::shared_ptr<const StrategyDefinition>(
      std::make_shared<MeanReversionDefinition>(std::move(name), std::move(specs).value()));
}

Result<std::shared_ptr<const StrategyDefinition>> make_momentum(std::string name, const MomentumParams& params) {
  if (auto st = validate_strategy_name(name); !st) return st.error();
  auto specs = checked(momentum_specs(params));
  if (!specs) return specs.error();
  if (auto st = check_momentum(params); !st) return st.error();
  return std::shared_ptr<const StrategyDefinition>(
      std::make_shared<MomentumDefinition>(std::move(name), std::move(specs).value()));
}

std::span<const std::string_view> builtin_kinds() { return kKinds; }

Result<std::shared_ptr<const StrategyDefinition>> make_builtin(
    std::string_view kind, std::string name, std::span<const std::pair<std::string, double>> overrides) {
  Result<std::shared_ptr<const StrategyDefinition>> def = make_error("");
  if (kind == "mean_reversion") {
    def = make_mean_reversion(std::move(name), MeanReversionParams{});
  } else if (kind == "momentum") {
    def = make_momentum(std::move(name), MomentumParams{});
  } else {
    return make_error("unknown built-in strategy '" + std::string(kind) + "'; built-ins: mean_reversion, momentum");
  }
  if (!def || overrides.empty()) return def;
  return def.value()->with_parameters(overrides);
}

}  // namespace ta::agent
