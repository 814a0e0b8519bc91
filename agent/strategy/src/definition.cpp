#include "strategy/definition.h"

#include <cmath>
#include <sstream>

namespace ta::agent {

Status validate_strategy_name(std::string_view name) {
  if (name.empty() || name.size() > kStrategyNameLengthMax) {
    return make_error("strategy name must have 1 to " + std::to_string(kStrategyNameLengthMax) + " characters");
  }
  if (name[0] < 'a' || name[0] > 'z') return make_error("strategy name must start with a lowercase letter");
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return make_error("strategy name may only contain a-z, 0-9 and '_'");
  }
  return {};
}

std::string_view to_string(SignalKind kind) {
  switch (kind) {
    case SignalKind::kNone: return "none";
    case SignalKind::kEnterLong: return "enter_long";
    case SignalKind::kEnterShort: return "enter_short";
    case SignalKind::kExit: return "exit";
  }
  return "?";
}

std::string_view to_string(SignalReason reason) {
  switch (reason) {
    case SignalReason::kNone: return "none";
    case SignalReason::kEntryCondition: return "entry_condition";
    case SignalReason::kExitCondition: return "exit_condition";
    case SignalReason::kOppositeSignal: return "opposite_signal";
    case SignalReason::kProtectiveStop: return "protective_stop";
    case SignalReason::kMaxHoldingBars: return "max_holding_bars";
  }
  return "?";
}

std::string_view to_string(PositionSide side) {
  switch (side) {
    case PositionSide::kFlat: return "flat";
    case PositionSide::kLong: return "long";
    case PositionSide::kShort: return "short";
  }
  return "?";
}

namespace {
std::string number(double v) {
  std::ostringstream out;
  out.precision(15);
  out << v;
  return out.str();
}
}  // namespace

Status check_param_value(const ParamSpec& spec, double value) {
  const std::string bounds = "[" + number(spec.min) + ", " + number(spec.max) + "]";
  if (!std::isfinite(value)) return make_error("parameter '" + spec.name + "': value is not a finite number");
  if (value < spec.min || value > spec.max) {
    return make_error("parameter '" + spec.name + "': value " + number(value) + " is outside its bounds " + bounds);
  }
  if (spec.integer && value != std::floor(value)) {
    return make_error("parameter '" + spec.name + "': value " + number(value) + " must be a whole number");
  }
  return {};
}

double StrategyDefinition::parameter(std::string_view name) const {
  for (const auto& p : params_) {
    if (p.name == name) return p.value;
  }
  return kNoPrice;
}

Result<std::shared_ptr<const StrategyDefinition>> StrategyDefinition::with_parameter(std::string_view name,
                                                                                    double value) const {
  const std::pair<std::string, double> one{std::string(name), value};
  return with_parameters(std::span(&one, 1));
}

Result<std::shared_ptr<const StrategyDefinition>> StrategyDefinition::with_parameters(
    std::span<const std::pair<std::string, double>> values) const {
  std::vector<ParamSpec> params = params_;
  for (const auto& [name, value] : values) {
    bool found = false;
    for (auto& p : params) {
      if (p.name != name) continue;
      if (auto st = check_param_value(p, value); !st) return st.error();
      p.value = value;
      found = true;
    }
    if (!found) return make_error("strategy '" + name_ + "' has no parameter '" + name + "'");
  }
  return rebuild(std::move(params));
}

}  // namespace ta::agent
