#include "strategy/sizing.h"

#include <cmath>

namespace ta::agent {
namespace {

const Decimal kHundred = Decimal::from_integer(100);

// A percentage as a fraction, exact: validate() requires at most six
// fractional digits, so dividing by 100 never rounds.
Result<Decimal> fraction(Decimal pct) { return pct.div(kHundred, Rounding::kTowardZero); }

bool six_digits_at_most(Decimal pct) { return pct.units() % 100 == 0; }

}  // namespace

std::string_view to_string(OrderSide side) {
  switch (side) {
    case OrderSide::kBuy: return "buy";
    case OrderSide::kSell: return "sell";
  }
  return "?";
}

std::string_view to_string(SizingOutcome outcome) {
  switch (outcome) {
    case SizingOutcome::kOk: return "ok";
    case SizingOutcome::kNotFinite: return "not_finite";
    case SizingOutcome::kEquityNotPositive: return "equity_not_positive";
    case SizingOutcome::kPriceNotPositive: return "price_not_positive";
    case SizingOutcome::kStopDistanceNotPositive: return "stop_distance_not_positive";
    case SizingOutcome::kBelowMinSize: return "below_min_size";
    case SizingOutcome::kArithmetic: return "arithmetic";
  }
  return "?";
}

Status validate(const ProductSpec& spec) {
  const std::string who = "product " + spec.product.str() + ": ";
  if (spec.product.empty()) return make_error("product id is empty");
  if (!spec.base_increment.is_positive()) return make_error(who + "base_increment must be > 0");
  if (!spec.quote_increment.is_positive()) return make_error(who + "quote_increment must be > 0");
  if (!spec.base_min_size.is_positive()) return make_error(who + "base_min_size must be > 0");
  if (spec.base_max_size < spec.base_min_size) return make_error(who + "base_max_size must be >= base_min_size");
  return {};
}

Status validate(const SizingLimits& limits) {
  const Decimal risk_max = kRiskPerTradePctMax;
  if (!limits.risk_per_trade_pct.is_positive() || limits.risk_per_trade_pct > risk_max) {
    return make_error("risk_per_trade_pct must be in (0, " + risk_max.to_string() + "]");
  }
  if (!limits.position_notional_pct_max.is_positive() || limits.position_notional_pct_max > kHundred) {
    return make_error("position_notional_pct_max must be in (0, 100]");
  }
  if (!six_digits_at_most(limits.risk_per_trade_pct) || !six_digits_at_most(limits.position_notional_pct_max)) {
    return make_error("percentages may have at most six fractional digits");
  }
  if (!limits.order_notional_max.is_positive()) return make_error("order_notional_max must be > 0");
  return {};
}

SizingLimits read_sizing_limits(proto::ConfigMap map) {
  SizingLimits d;
  SizingLimits out;
  const Decimal tiny = Decimal::from_units(100);  // 0.000001 %: six fractional digits
  out.risk_per_trade_pct = map.decimal(
      "risk_per_trade_pct", proto::Need::kOptional, d.risk_per_trade_pct, tiny, kRiskPerTradePctMax);
  out.position_notional_pct_max = map.decimal("position_notional_pct_max", proto::Need::kOptional,
                                              d.position_notional_pct_max, tiny, kHundred);
  out.order_notional_max = map.decimal("order_notional_max_usd", proto::Need::kOptional, d.order_notional_max,
                                       Decimal::from_units(1'000'000), Decimal::from_integer(1'000'000'000));
  if (!six_digits_at_most(out.risk_per_trade_pct)) {
    map.problem("risk_per_trade_pct", "at most six fractional digits");
    out.risk_per_trade_pct = d.risk_per_trade_pct;
  }
  if (!six_digits_at_most(out.position_notional_pct_max)) {
    map.problem("position_notional_pct_max", "at most six fractional digits");
    out.position_notional_pct_max = d.position_notional_pct_max;
  }
  return out;
}

SizingResult size_entry(const SizingRequest& request, const ProductSpec& product, const SizingLimits& limits) {
  SizingResult r;
  const auto fail = [&r](SizingOutcome outcome) {
    r.outcome = outcome;
    r.quantity = Decimal::zero();
    return r;
  };
  if (!std::isfinite(request.entry_price) || !std::isfinite(request.stop_price)) {
    return fail(SizingOutcome::kNotFinite);
  }
  if (!request.equity.is_positive()) return fail(SizingOutcome::kEquityNotPositive);
  if (request.entry_price <= 0 || request.stop_price <= 0) return fail(SizingOutcome::kPriceNotPositive);

  const bool is_long = request.side == OrderSide::kBuy;
  // Away from the entry: a long's stop rounds down, a short's up, so the
  // risk the gate computes from the sent stop is the risk sized for here.
  const Rounding away = is_long ? Rounding::kFloor : Rounding::kCeiling;
  // Nearest first: 99.99 as a double is 99.98999999999999488..., which must
  // stay 99.99 and not become 99.98 by rounding down twice.
  const auto entry = Decimal::from_double(request.entry_price, Rounding::kHalfEven);
  auto stop = Decimal::from_double(request.stop_price, Rounding::kHalfEven);
  if (!entry || !stop) return fail(SizingOutcome::kArithmetic);
  stop = stop->round_to_increment(product.quote_increment, away);
  if (!stop) return fail(SizingOutcome::kArithmetic);
  r.entry_price = *entry;
  r.stop_price = *stop;
  if (!entry->is_positive() || !stop->is_positive()) return fail(SizingOutcome::kPriceNotPositive);
  const auto distance = is_long ? entry->sub(*stop) : stop->sub(*entry);
  if (!distance) return fail(SizingOutcome::kArithmetic);
  if (!distance->is_positive()) return fail(SizingOutcome::kStopDistanceNotPositive);

  const auto risk_fraction = fraction(limits.risk_per_trade_pct);
  const auto position_fraction = fraction(limits.position_notional_pct_max);
  if (!risk_fraction || !position_fraction) return fail(SizingOutcome::kArithmetic);
  auto budget = request.equity.mul(*risk_fraction, Rounding::kTowardZero);
  if (budget) budget = budget->mul(request.risk_weight, Rounding::kTowardZero);
  if (!budget) return fail(SizingOutcome::kArithmetic);
  const auto risk_quantity = budget->div(*distance, Rounding::kTowardZero);
  if (!risk_quantity) return fail(SizingOutcome::kArithmetic);
  r.risk_quantity = *risk_quantity;
  Decimal quantity = *risk_quantity;

  // Position cap: room left under equity x fraction, after what the agent
  // already holds or has in flight in this product.
  const auto cap_notional = request.equity.mul(*position_fraction, Rounding::kTowardZero);
  const auto held_notional = request.product_exposure_base.abs().mul(*entry, Rounding::kAwayFromZero);
  if (!cap_notional || !held_notional) return fail(SizingOutcome::kArithmetic);
  Decimal room_quantity = Decimal::zero();
  if (*cap_notional > *held_notional) {
    const auto room = cap_notional->sub(*held_notional);
    const auto q = room ? room->div(*entry, Rounding::kTowardZero) : room;
    if (!q) return fail(SizingOutcome::kArithmetic);
    room_quantity = *q;
  }
  if (quantity > room_quantity) {
    quantity = room_quantity;
    r.capped_by_position = true;
  }
  const auto order_quantity = limits.order_notional_max.div(*entry, Rounding::kTowardZero);
  if (!order_quantity) return fail(SizingOutcome::kArithmetic);
  if (quantity > *order_quantity) {
    quantity = *order_quantity;
    r.capped_by_order_notional = true;
  }
  if (quantity > product.base_max_size) {
    quantity = product.base_max_size;
    r.capped_by_max_size = true;
  }
  const auto rounded = quantity.round_to_increment(product.base_increment, Rounding::kTowardZero);
  if (!rounded) return fail(SizingOutcome::kArithmetic);
  if (*rounded < product.base_min_size) return fail(SizingOutcome::kBelowMinSize);
  r.quantity = *rounded;
  r.outcome = SizingOutcome::kOk;
  return r;
}

}  // namespace ta::agent
