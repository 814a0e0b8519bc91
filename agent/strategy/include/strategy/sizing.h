// Position sizing: how much to buy or sell for an entry signal.
//
//   risk budget  = equity x risk_per_trade_pct / 100                 (USD)
//   distance     = |entry - stop|                                    (USD per base unit)
//   quantity     = risk budget / distance                            (base units)
//
// so that being stopped out at the stop loses the risk budget (before fees
// and slippage). The quantity is then capped by the agent's own limits and
// rounded DOWN to the product's base increment:
//   * position cap: the product's notional after the order (all of the
//     agent's strategies, including entries still in flight) stays at or
//     below equity x position_notional_pct_max / 100;
//   * order cap: the order's notional stays at or below order_notional_max;
//   * the product's largest order size.
// A result below the product's minimum order size means no intent (reason
// kBelowMinSize). Entry, stop and equity must be finite and positive; the
// stop is first rounded to the product's price increment away from the
// entry (down for a long, up for a short), and a distance that is not
// positive afterwards means no intent. Everything after the first
// conversion from double is exact ta::Decimal arithmetic.
//
// The agent sizes below the gate's hard limits so that normal intents are
// not denied; the gate still has the final word.
#pragma once

#include <cstdint>
#include <string_view>

#include "market/bar.h"
#include "proto/decimal.h"
#include "proto/result.h"
#include "proto/yaml_config.h"

namespace ta::agent {

enum class OrderSide : std::uint8_t { kBuy, kSell };
std::string_view to_string(OrderSide side);

// What the agent knows about a product's order rules (the venue's, also in
// the gate's safety.yaml). All values positive; min <= max.
struct ProductSpec {
  ProductId product;
  Decimal base_increment = Decimal::from_units(1);   // 0.00000001 base units
  Decimal quote_increment = Decimal::from_units(1'000'000);  // 0.01 USD
  Decimal base_min_size = Decimal::from_units(1);
  Decimal base_max_size = Decimal::from_integer(1'000'000);
  // Spot products cannot be shorted: a short signal only closes a long.
  bool shortable = false;
};
[[nodiscard]] Status validate(const ProductSpec& spec);

// Largest risk per trade the agent accepts in its own config: 2 % of equity.
// The gate's default hard limit is 0.5 %; 2 % leaves room for a deliberate
// gate setting without letting a typo risk the account on one trade.
inline constexpr Decimal kRiskPerTradePctMax = Decimal::from_integer(2);

struct SizingLimits {
  // Half the gate's default 0.5 %, so a fill that slips past the signal
  // price does not push the gate's risk computation over its limit.
  Decimal risk_per_trade_pct = Decimal::from_units(25'000'000);  // 0.25
  // Below the gate's default 10 % per symbol, with room for the price to
  // move between the signal and the gate's check.
  Decimal position_notional_pct_max = Decimal::from_integer(9);
  Decimal order_notional_max = Decimal::from_integer(5'000);  // USD
};
// Ranges: risk in (0, 2] %, position cap in (0, 100] %, order cap > 0.
[[nodiscard]] Status validate(const SizingLimits& limits);

// Reads a `sizing:` mapping (risk_per_trade_pct, position_notional_pct_max,
// order_notional_max_usd; all optional with the defaults above) for the
// agent's config loader. Problems go to the reader.
SizingLimits read_sizing_limits(proto::ConfigMap map);

enum class SizingOutcome : std::uint8_t {
  kOk,
  kNotFinite,               // entry or stop price NaN or infinite
  kEquityNotPositive,
  kPriceNotPositive,        // entry or (rounded) stop <= 0
  kStopDistanceNotPositive, // stop on the wrong side of, or equal to, the entry
  kBelowMinSize,            // after caps and rounding
  kArithmetic,              // a Decimal overflow (absurd inputs)
};
inline constexpr std::size_t kSizingOutcomeCount = 7;
std::string_view to_string(SizingOutcome outcome);

struct SizingRequest {
  OrderSide side = OrderSide::kBuy;  // kBuy: long entry, kSell: short entry
  double entry_price = 0;            // the signal bar's close
  double stop_price = 0;
  Decimal equity;
  // Base units the agent already holds or has in flight in this product,
  // all strategies together, as an absolute amount.
  Decimal product_exposure_base;
  // Scales the risk budget (capital allocation between strategies); 1 by
  // default, in [0, 1].
  Decimal risk_weight = Decimal::from_integer(1);
};

struct SizingResult {
  SizingOutcome outcome = SizingOutcome::kOk;
  Decimal quantity;       // > 0 only when kOk; a multiple of base_increment, >= base_min_size
  Decimal stop_price;     // rounded to the price increment, away from the entry
  Decimal entry_price;    // the entry as a Decimal (8 fractional digits)
  Decimal risk_quantity;  // the uncapped quantity from the risk budget
  bool capped_by_position = false;
  bool capped_by_order_notional = false;
  bool capped_by_max_size = false;
};

// Pure; no allocation. Preconditions: validate(product) and validate(limits)
// passed.
SizingResult size_entry(const SizingRequest& request, const ProductSpec& product, const SizingLimits& limits);

}  // namespace ta::agent
