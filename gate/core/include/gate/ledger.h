// Accounting in fixed point: positions, cash, fees, P&L, equity, peaks and
// the UTC-day loss measure behind the daily loss limit.
//
// Everything is ta::Decimal; there is no floating point. A position keeps
// its cost basis (signed quantity x average cost) rather than an average
// price, so closing a position releases exactly the cost it accumulated and
// no rounding drift builds up. The identity
//
//   equity = cash + sum(quantity x mark)
//          = starting_cash + realized - fees + sum(quantity x mark - cost_basis)
//
// holds exactly after every mutation and is checked (a violation is a bug
// and aborts).
//
// The ledger is a pure function of its starting cash and the fills and
// marks applied in order: replaying them rebuilds the same ledger, and
// serialize()/deserialize() round-trip it exactly (snapshots).
//
// Time enters only through the ts_ns of each fill and mark. The first
// event in a later UTC day rolls the day: the day's opening equity and the
// day's peak restart from the equity before that event. Timestamps that go
// backwards never roll a day back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gate.pb.h"
#include "gate/time_units.h"
#include "proto/decimal.h"
#include "proto/result.h"

namespace ta::gate {

struct Position {
  std::string product;
  Quantity quantity;      // signed: > 0 long, < 0 short
  Notional cost_basis;    // signed, same sign as quantity; zero when flat
  Notional realized_pnl;  // gross of fees
  Notional fees;
  Price mark_price;       // last mark, or the first fill price before any mark

  Price average_cost() const;       // cost_basis / quantity (half-even); zero when flat
  Notional market_value() const;    // quantity x mark_price (half-even)
  Notional unrealized_pnl() const;  // market_value - cost_basis

  friend bool operator==(const Position&, const Position&) = default;
};

struct LedgerFill {
  std::string product;
  ipc::Side side = ipc::SIDE_UNSPECIFIED;
  Quantity quantity;  // > 0
  Price price;        // > 0
  Notional fee;       // >= 0, quote currency
  std::int64_t ts_ns = 0;
};

// One order that would close a position (see flatten_orders()).
struct FlattenOrder {
  std::string product;
  ipc::Side side;
  Quantity quantity;  // > 0
};

// Positions tracked at once; a new product beyond this is refused.
inline constexpr std::size_t kLedgerPositionsMax = 64;

class Ledger {
 public:
  Ledger() = default;
  Ledger(Notional starting_cash, std::int64_t start_ts_ns);

  // Applies a fill. Refuses junk (non-positive quantity or price, negative
  // fee, unspecified side) and arithmetic overflow; on error nothing changes.
  Status apply_fill(const LedgerFill& fill);
  // Marks a product at `price` (> 0).
  Status apply_mark(std::string_view product, Price price, std::int64_t ts_ns);
  // Rolls to the UTC day of now_ns if it is later than the current day.
  void roll_day(std::int64_t now_ns);

  Notional starting_cash() const { return starting_cash_; }
  Notional cash() const { return cash_; }
  Notional equity() const { return equity_; }
  Notional fees_paid() const;
  Notional realized_pnl() const;
  Notional unrealized_pnl() const;
  Notional gross_exposure() const;  // sum of |quantity x mark|
  Notional peak_equity() const { return peak_equity_; }
  Notional day_start_equity() const { return day_start_equity_; }
  Notional day_peak_equity() const { return day_peak_equity_; }
  std::int64_t day() const { return day_; }  // days since the epoch, UTC
  Notional daily_pnl() const;                // equity - day_start_equity
  // (peak - equity) / peak, half-even; zero when peak <= 0.
  Decimal drawdown_fraction() const;
  // (day_peak - equity) / day_peak, half-even; zero when day_peak <= 0.
  Decimal daily_loss_fraction() const;
  // True when day_peak - equity > fraction_max x day_peak, compared exactly.
  bool daily_loss_breached(Decimal fraction_max) const;

  // Sorted by product; flat positions stay (their realized P&L and fees).
  const std::vector<Position>& positions() const { return positions_; }
  const Position* find(std::string_view product) const;
  Quantity position_quantity(std::string_view product) const;

  ipc::PositionSnapshot to_snapshot(std::int64_t ts_ns) const;

  // Exact, versioned, line-based text; deserialize() re-checks invariants.
  std::string serialize() const;
  static Result<Ledger> deserialize(std::string_view text);

  friend bool operator==(const Ledger&, const Ledger&) = default;

 private:
  Position* find_or_add(std::string_view product);
  Result<Notional> compute_equity() const;
  void after_change();  // peaks and invariants

  Notional starting_cash_;
  Notional cash_;
  Notional equity_;
  Notional peak_equity_;
  Notional day_start_equity_;
  Notional day_peak_equity_;
  std::int64_t day_ = 0;
  std::vector<Position> positions_;
};

// Market orders that would close every open position, in product order.
std::vector<FlattenOrder> flatten_orders(const Ledger& ledger);

}  // namespace ta::gate
