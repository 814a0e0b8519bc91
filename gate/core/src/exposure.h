// Private helpers shared by decide() and GateState: exact 128-bit money
// arithmetic and the open-order totals the limits look at.
#pragma once

#include <string_view>

#include "gate/core.h"

namespace ta::gate::detail {

// a x b in Decimal units (1e-8), exact up to rounding of the last digit.
// Inputs are int64 units, so the 128-bit product cannot overflow.
inline Int128 mul_units(Decimal a, Decimal b, Rounding mode) {
  return divide_rounded(Int128{a.units()} * b.units(), Decimal::kScale, mode);
}

// "Wide" values are exact products of two decimals, in 1e-16 units. The
// limit checks compare them directly, so no rounding (and no 128-bit
// division) happens on the way to a decision. Magnitudes are capped at
// kWideCap = 2^126, which every product of two int64 values respects and
// which the sums below saturate at, so nothing can overflow.
inline constexpr Int128 kWideCap = Int128{1} << 126;
static_assert(WideSum::kUnit == kWideCap, "WideSum saturates where the limit checks do");

// a x b for non-negative 1e-8 unit counts that may exceed int64 (sums).
inline Int128 wide_mul(Int128 a, Int128 b) {
  if (a == 0 || b == 0) return 0;
  constexpr Int128 kInt64Max = Int128{INT64_MAX};
  if (a > kInt64Max || b > kInt64Max) return kWideCap;
  return a * b;
}
inline Int128 wide(Decimal a, Decimal b) { return Int128{a.units()} * b.units(); }
// Saturating sum of non-negative wide values.
inline Int128 wide_add(Int128 a, Int128 b) { return b > kWideCap - a ? kWideCap : a + b; }

// Back to a Decimal for reporting; values beyond the range saturate.
inline Decimal saturate(Int128 units) {
  constexpr Int128 kMax = Int128{INT64_MAX};
  if (units > kMax) return Decimal::from_units(INT64_MAX);
  if (units < -kMax) return Decimal::from_units(-INT64_MAX);
  return Decimal::from_units(static_cast<std::int64_t>(units));
}

inline Int128 abs128(Int128 v) { return v < 0 ? -v : v; }

struct OpenOrderTotals {
  std::size_t count = 0;            // every live order
  Int128 same_side = 0;             // remaining of live orders on this product and side
  Int128 sells = 0;                 // remaining of live sells of this product
  Int128 growing_this_product = 0;  // remaining of growing orders of this product
  Int128 growing_other_wide = 0;    // remaining x decision price, growing orders of other products
  Int128 buys_wide = 0;             // remaining x decision price of every live buy
};

// From GateState's per-product sums: a few products, not every order. The
// saturating sums over products equal the saturating sums over orders
// (both are min(exact total, kWideCap) for non-negative terms).
inline OpenOrderTotals open_order_totals(const GateState& state, std::string_view product, ipc::Side side) {
  OpenOrderTotals t;
  t.count = state.live_orders().size();
  for (const ProductOrderTotals& p : state.order_totals()) {
    t.buys_wide = wide_add(t.buys_wide, p.buy_notional.saturated());
    if (p.product != product) {
      t.growing_other_wide = wide_add(t.growing_other_wide, p.growing_notional.saturated());
      continue;
    }
    t.same_side = side == ipc::SIDE_BUY ? p.buy_remaining : p.sell_remaining;
    t.sells = p.sell_remaining;
    t.growing_this_product = p.growing_remaining;
  }
  return t;
}

// The order shrinks exposure iff its side is opposite to the position and
// quantity <= |position| - remaining of open orders on the order's side.
inline bool order_shrinks(Quantity position, ipc::Side side, Quantity quantity, Int128 same_side_open) {
  const bool opposite = (side == ipc::SIDE_SELL && position.is_positive()) ||
                        (side == ipc::SIDE_BUY && position.is_negative());
  return opposite && Int128{quantity.units()} <= abs128(position.units()) - same_side_open;
}

}  // namespace ta::gate::detail
