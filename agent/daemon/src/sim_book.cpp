#include "sim_book.h"

#include <algorithm>

namespace ta::agent {

namespace {

Result<Decimal> field(std::string_view name, const std::string& text) {
  if (text.empty()) return Decimal::zero();
  auto d = Decimal::parse(text);
  if (!d) return make_error(std::string(name) + " \"" + text + "\": " + d.error().message);
  return *d;
}

}  // namespace

Result<SimBook> SimBook::from_snapshot(const ta::ipc::PositionSnapshot& snapshot) {
  SimBook b;
  const auto& a = snapshot.account();
  auto cash = field("account.cash", a.cash());
  if (!cash) return cash.error();
  auto equity = field("account.equity", a.equity());
  if (!equity) return equity.error();
  auto peak = field("account.day_peak_equity", a.day_peak_equity());
  if (!peak) return peak.error();
  b.cash_ = *cash;
  b.equity_ = *equity;
  b.day_peak_bound_ = *peak;
  b.day_peak_known_ = !a.day_peak_equity().empty();
  b.positions_.reserve(static_cast<std::size_t>(snapshot.positions_size()));
  for (const auto& p : snapshot.positions()) {
    auto product = ProductId::parse(p.product());
    if (!product) return make_error("positions.product: " + product.error().message);
    auto q = field("positions.quantity", p.quantity());
    if (!q) return q.error();
    auto mark = field("positions.mark_price", p.mark_price());
    if (!mark) return mark.error();
    b.positions_.push_back(Position{*product, *q, *mark});
  }
  return b;
}

Result<Decimal> SimBook::equity_with_mark(ProductId product, Decimal mark) const {
  // As Ledger::apply_mark: every position's value at its mark (the marked
  // one at the new price), each rounded half-even, added to cash.
  Decimal equity = cash_;
  for (const Position& p : positions_) {
    if (p.quantity.is_zero()) continue;
    auto value = p.quantity.mul(p.product == product ? mark : p.mark, Rounding::kHalfEven);
    if (!value) return make_error("market value: " + value.error().message);
    auto sum = equity.add(*value);
    if (!sum) return make_error("equity: " + sum.error().message);
    equity = *sum;
  }
  return equity;
}

Status SimBook::apply_mark(ProductId product, Decimal mark) {
  auto equity = equity_with_mark(product, mark);
  if (!equity) return equity.error();
  auto it = std::find_if(positions_.begin(), positions_.end(), [&](const Position& p) { return p.product == product; });
  if (it == positions_.end()) {
    positions_.push_back(Position{product, Decimal::zero(), mark});
  } else {
    it->mark = mark;
  }
  equity_ = *equity;
  raise_day_peak_bound(*equity);
  return {};
}

Result<Decimal> SimBook::mark_of(const Bar& bar) { return Decimal::from_double(bar.close, Rounding::kHalfEven); }

void SimBook::raise_day_peak_bound(Decimal equity) { day_peak_bound_ = std::max(day_peak_bound_, equity); }

bool SimBook::flat() const {
  return std::all_of(positions_.begin(), positions_.end(), [](const Position& p) { return p.quantity.is_zero(); });
}

bool SimBook::loss_limit_clear(Decimal equity, Decimal fraction) const {
  if (flat()) return true;
  if (!day_peak_known_) return false;
  const Decimal peak = std::max(day_peak_bound_, equity);
  if (!peak.is_positive() || fraction.is_negative()) return false;
  // Ledger::daily_loss_breached: loss x 1e8 > peak x fraction (in 1e-16).
  const Int128 loss = Int128{peak.units()} - equity.units();
  return !(loss * Decimal::kScale > Int128{peak.units()} * fraction.units());
}

bool SimBook::same_account(const SimBook& other) const {
  if (cash_ != other.cash_ || equity_ != other.equity_) return false;
  auto covered = [](const SimBook& a, const SimBook& b) {
    for (const Position& p : a.positions_) {
      if (p.quantity.is_zero()) continue;
      const auto it = std::find_if(b.positions_.begin(), b.positions_.end(),
                                   [&](const Position& q) { return q.product == p.product; });
      if (it == b.positions_.end() || it->quantity != p.quantity || it->mark != p.mark) return false;
    }
    return true;
  };
  return covered(*this, other) && covered(other, *this);
}

bool SimBook::same_holdings(const SimBook& other) const {
  if (cash_ != other.cash_) return false;
  auto covered = [](const SimBook& a, const SimBook& b) {
    for (const Position& p : a.positions_) {
      if (p.quantity.is_zero()) continue;
      const auto it = std::find_if(b.positions_.begin(), b.positions_.end(),
                                   [&](const Position& q) { return q.product == p.product; });
      if (it == b.positions_.end() || it->quantity != p.quantity) return false;
    }
    return true;
  };
  return covered(*this, other) && covered(other, *this);
}

Status SimBook::rebase(const SimBook& gate) {
  SimBook next = *this;
  next.cash_ = gate.cash_;
  for (Position& p : next.positions_) p.quantity = Decimal::zero();
  for (const Position& g : gate.positions_) {
    auto it = std::find_if(next.positions_.begin(), next.positions_.end(),
                           [&](const Position& p) { return p.product == g.product; });
    if (it == next.positions_.end()) {
      next.positions_.push_back(g);
    } else {
      it->quantity = g.quantity;
    }
  }
  Decimal equity = next.cash_;
  for (const Position& p : next.positions_) {
    if (p.quantity.is_zero()) continue;
    auto value = p.quantity.mul(p.mark, Rounding::kHalfEven);
    if (!value) return make_error("market value: " + value.error().message);
    auto sum = equity.add(*value);
    if (!sum) return make_error("equity: " + sum.error().message);
    equity = *sum;
  }
  next.equity_ = equity;
  next.day_peak_bound_ = std::max({day_peak_bound_, gate.day_peak_bound_, equity});
  next.day_peak_known_ = day_peak_known_ && gate.day_peak_known_;
  *this = std::move(next);
  return {};
}

PositionEvent SimBook::to_event() const {
  PositionEvent e;
  e.equity = equity_;
  e.positions.reserve(positions_.size());
  for (const Position& p : positions_) e.positions.emplace_back(p.product, p.quantity);
  return e;
}

}  // namespace ta::agent
