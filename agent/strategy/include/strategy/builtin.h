// The built-in strategies. Each is also expressible declaratively
// (config/strategies/ema_cross.yaml and zscore_reversion.yaml reproduce them
// signal for signal); the C++ forms exist as a fast, reviewed reference.
//
// mean_reversion: z-score of the close over `period` bars.
//   entry long   z <= -entry_z           (stop: close - stop_atr x ATR)
//   entry short  z >=  entry_z           (stop: close + stop_atr x ATR)
//   exit long    z >=  exit_z            (back at the mean with exit_z = 0)
//   exit short   z <= -exit_z
// momentum: EMA crossover with an ATR stop.
//   entry long   EMA(fast) crosses above EMA(slow)   (stop: close - stop_atr x ATR)
//   entry short  EMA(fast) crosses below EMA(slow)   (stop: close + stop_atr x ATR)
//   exit long    EMA(fast) crosses below EMA(slow)
//   exit short   EMA(fast) crosses above EMA(slow)
// "a crosses above b" on bar t: a[t-1] <= b[t-1] and a[t] > b[t].
//
// On spot products the short entries only ever close longs (see
// SignalKind::kEnterShort). docs/strategies.md lists the parameters, their
// defaults and bounds.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "strategy/definition.h"

namespace ta::agent {

struct MeanReversionParams {
  std::int64_t period = 20;            // bars in the z-score window
  double entry_z = 2.0;                // standard deviations from the mean to enter
  double exit_z = 0.0;                 // z at which a long (or, mirrored, a short) exits
  std::int64_t atr_period = 14;
  double stop_atr = 3.0;               // stop distance in ATRs
  std::int64_t max_holding_bars = 120; // a reversion that takes 2 hours has failed
  std::int64_t cooldown_bars = 0;
};

struct MomentumParams {
  std::int64_t fast_period = 12;
  std::int64_t slow_period = 26;       // must exceed fast_period
  std::int64_t atr_period = 14;
  double stop_atr = 3.0;
  std::int64_t max_holding_bars = 0;   // trends are held until they turn
  std::int64_t cooldown_bars = 0;
};

[[nodiscard]] Result<std::shared_ptr<const StrategyDefinition>> make_mean_reversion(std::string name,
                                                                                  const MeanReversionParams& params);
[[nodiscard]] Result<std::shared_ptr<const StrategyDefinition>> make_momentum(std::string name,
                                                                            const MomentumParams& params);

// "mean_reversion", "momentum".
std::span<const std::string_view> builtin_kinds();
// A built-in by kind, with parameters overridden by name (for config
// loaders). Errors: unknown kind or parameter, a value out of bounds.
[[nodiscard]] Result<std::shared_ptr<const StrategyDefinition>> make_builtin(
    std::string_view kind, std::string name, std::span<const std::pair<std::string, double>> overrides = {});

}  // namespace ta::agent
