// What a strategy is to the engine: a named, immutable definition with
// bounded parameters (StrategyDefinition) that creates one evaluator per
// product (StrategyInstance). Built-in strategies (strategy/builtin.h) and
// declarative ones (strategy/declarative.h) both implement it.
//
// A strategy never places orders and never tracks positions itself: on every
// closed bar it updates its indicators and, when the engine asks, says
// whether it wants to enter (with a protective stop price) or exit. The
// engine (strategy/engine.h) owns the lifecycle, the stops, sizing and the
// positions, which follow the gate's fills.
//
// Contracts: deterministic (same bars, same signals), no wall clock, no
// randomness, no allocation in update()/entry()/exit().
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "market/bar.h"
#include "proto/result.h"
#include "strategy/lifecycle.h"

namespace ta::agent {

inline constexpr double kNoPrice = std::numeric_limits<double>::quiet_NaN();

// Strategy names appear in intent ids and logs: 1..kStrategyNameLengthMax
// characters from a-z, 0-9 and '_', starting with a letter. 32 is ample for
// a descriptive name and keeps an intent id under 64 characters.
inline constexpr std::size_t kStrategyNameLengthMax = 32;
// Parameters per strategy; a strategy with more is not tunable by people.
inline constexpr std::size_t kParamsMax = 64;

// The engine-managed exits of every strategy: a holding limit and a
// cooldown of at most 1,000,000 bars (about 694 days of minutes); a longer
// one means "none", which is 0.
inline constexpr std::int64_t kHoldingBarsMax = 1'000'000;
inline constexpr std::int64_t kCooldownBarsMax = 1'000'000;

[[nodiscard]] Status validate_strategy_name(std::string_view name);

enum class SignalKind : std::uint8_t {
  kNone,
  kEnterLong,
  // On a product that cannot be shorted (spot, the default) a short signal
  // only reduces an existing long: the engine turns it into an exit of the
  // long, and drops it (counted) when the strategy is flat.
  kEnterShort,
  kExit,
};

enum class SignalReason : std::uint8_t {
  kNone,
  kEntryCondition,   // the strategy's entry rule fired
  kExitCondition,    // the strategy's exit rule fired
  kOppositeSignal,   // an entry signal for the other side closes the position
  kProtectiveStop,   // the bar traded through the protective stop
  kMaxHoldingBars,   // held for the strategy's maximum number of bars
};
std::string_view to_string(SignalKind kind);
std::string_view to_string(SignalReason reason);

struct Signal {
  SignalKind kind = SignalKind::kNone;
  SignalReason reason = SignalReason::kNone;
  // Entries only: the price at which the position will be closed at a loss
  // (below the close for a long, above it for a short).
  double stop_price = kNoPrice;
  // True when an input the decision needed was NaN or infinite (after the
  // warm-up). The engine counts it; kind is then kNone.
  bool not_finite = false;
};

enum class PositionSide : std::uint8_t { kFlat, kLong, kShort };
std::string_view to_string(PositionSide side);

// One tunable parameter. Values are doubles; an integer parameter (a period,
// a bar count) only accepts whole numbers. The learning loops may propose
// values inside [min, max], never outside.
struct ParamSpec {
  std::string name;
  double value = 0;
  double min = 0;
  double max = 0;
  bool integer = false;
  std::string description;
};

// Checks a value against a spec: finite, inside [min, max], whole when the
// parameter is an integer. The error names the parameter and its bounds.
[[nodiscard]] Status check_param_value(const ParamSpec& spec, double value);

// Evaluates one strategy on one product. Called by the engine, on one
// thread, in bar order.
class StrategyInstance {
 public:
  virtual ~StrategyInstance() = default;
  // Takes the next closed bar (valid, see check_bar) and updates the
  // indicators. Returns true once every indicator is ready (then stays true).
  virtual bool update(const Bar& bar) = 0;
  // The entry decision on the bar just given to update(), while flat:
  // kNone, kEnterLong or kEnterShort with a stop price.
  virtual Signal entry(const Bar& bar) = 0;
  // The exit decision on the bar just given to update(), while holding
  // `side` (kLong or kShort): kNone, kExit, or an entry signal for the other
  // side (which the engine treats as an exit, reason kOppositeSignal).
  // Protective stops and the holding limit are the engine's business.
  virtual Signal exit(const Bar& bar, PositionSide side) = 0;
};

// A validated, immutable strategy. Shared between the engine's per-product
// instances; safe to read from several threads.
class StrategyDefinition {
 public:
  virtual ~StrategyDefinition() = default;

  const std::string& name() const { return name_; }
  // "mean_reversion", "momentum" or "declarative".
  virtual std::string_view kind() const = 0;
  // Current values and bounds, in a fixed order.
  std::span<const ParamSpec> parameters() const { return params_; }
  // Value of a parameter by name (NaN when unknown). For reports and tests.
  double parameter(std::string_view name) const;
  // Exit after this many bars in MANAGING (0: no limit).
  virtual std::int64_t max_holding_bars() const = 0;
  // Bars to stay in EXITED before LOOKING again (0: look on the next bar).
  virtual std::int64_t cooldown_bars() const = 0;

  virtual std::unique_ptr<StrategyInstance> instantiate() const = 0;

  // A copy with one parameter changed. Errors: unknown parameter, a value
  // outside its bounds or not whole, or a constraint between parameters
  // that no longer holds (for example fast period >= slow period).
  [[nodiscard]] Result<std::shared_ptr<const StrategyDefinition>> with_parameter(std::string_view name,
                                                                               double value) const;
  // Several at once; constraints are checked on the final values only (so
  // fast and slow periods can move together).
  [[nodiscard]] Result<std::shared_ptr<const StrategyDefinition>> with_parameters(
      std::span<const std::pair<std::string, double>> values) const;

 protected:
  StrategyDefinition(std::string name, std::vector<ParamSpec> params)
      : name_(std::move(name)), params_(std::move(params)) {}
  // Builds the same strategy with other parameter values (already checked
  // against their bounds); checks constraints between parameters.
  virtual Result<std::shared_ptr<const StrategyDefinition>> rebuild(std::vector<ParamSpec> params) const = 0;

 private:
  std::string name_;
  std::vector<ParamSpec> params_;
};

}  // namespace ta::agent
