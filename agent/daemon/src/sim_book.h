// SimBook: the gate's account as the SIM agent can predict it between
// fills (docs/agent.md, "SIM pipeline").
//
// While the gate fills no order, a bar changes only its product's mark, and
// the gate's ledger then computes equity as cash plus, per position,
// quantity x mark rounded half-even to 1e-8 (gate/core/src/ledger.cpp,
// Ledger::apply_mark). SimBook does the same arithmetic with the same
// Decimal type, so the agent knows the PositionSnapshot the gate will answer
// a bar with before the answer arrives, and can check the answer against
// it. It also bounds the gate's daily-loss check from above, so the agent
// knows when a bar cannot trip the gate's daily-loss halt.
//
// A value type; no I/O, no clock.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "gate.pb.h"
#include "market/bar.h"
#include "proto/decimal.h"
#include "proto/result.h"
#include "strategy/engine.h"

namespace ta::agent {

class SimBook {
 public:
  struct Position {
    ProductId product;
    Decimal quantity;  // signed base units
    Decimal mark;      // quote per base unit
  };

  // The book of a gate snapshot: cash, equity, the day's peak equity (as
  // the bound; unknown when the gate did not send it) and every position in
  // the snapshot's order. Fails on a field that does not parse.
  static Result<SimBook> from_snapshot(const ta::ipc::PositionSnapshot& snapshot);

  // What the gate's ledger does with a bar of `product` closing at `mark`:
  // moves that product's mark (a product seen for the first time gets a
  // flat position), recomputes equity and raises the day-peak bound to it.
  // Fails (and changes nothing) only on arithmetic overflow.
  [[nodiscard]] Status apply_mark(ProductId product, Decimal mark);
  // The equity apply_mark would give, without changing anything.
  Result<Decimal> equity_with_mark(ProductId product, Decimal mark) const;

  // The gate's mark for a bar the agent holds as doubles: the close as the
  // wire carries it (to_ipc_bar rounds half-even to 1e-8).
  static Result<Decimal> mark_of(const Bar& bar);

  // True when the gate's daily-loss check (loss from the day's peak above
  // `fraction` of the peak) cannot fire at this book's equity: flat books
  // never trip it (their equity does not move, and a breach is found on the
  // bar that made it), others are compared against the day-peak bound with
  // the gate's exact formula. An upper bound on the peak only makes the
  // answer more cautious.
  bool loss_limit_clear(Decimal fraction) const { return loss_limit_clear(equity_, fraction); }
  // The same for the book after a mark that gives `equity`.
  bool loss_limit_clear(Decimal equity, Decimal fraction) const;

  // Same cash, equity and positions (quantities, and marks where the
  // quantity is not zero; positions absent on one side count as flat):
  // everything of a snapshot that reaches the engine or the next equity.
  bool same_account(const SimBook& other) const;

  // Same cash and quantities (flat positions absent on one side count as
  // flat): what only fills change.
  bool same_holdings(const SimBook& other) const;

  // Takes `gate`'s cash and quantities and keeps this book's marks (a
  // product only `gate` has comes with its mark), then recomputes equity;
  // the day-peak bound becomes the highest of both bounds and the new
  // equity. Fails (changing nothing) only on arithmetic overflow.
  [[nodiscard]] Status rebase(const SimBook& gate);

  // The engine's view (equity and every position), as position_from_ipc()
  // would give for the matching snapshot.
  PositionEvent to_event() const;

  bool flat() const;
  Decimal cash() const { return cash_; }
  Decimal equity() const { return equity_; }
  Decimal day_peak_bound() const { return day_peak_bound_; }
  // False when the snapshot had no day_peak_equity: then no bar is clear
  // while a position is held.
  bool day_peak_known() const { return day_peak_known_; }
  void raise_day_peak_bound(Decimal equity);
  void set_day_peak_bound(Decimal bound, bool known = true) {
    day_peak_bound_ = bound;
    day_peak_known_ = known;
  }
  const std::vector<Position>& positions() const { return positions_; }

 private:
  Decimal cash_;
  Decimal equity_;
  Decimal day_peak_bound_;
  bool day_peak_known_ = false;
  std::vector<Position> positions_;
};

}  // namespace ta::agent
