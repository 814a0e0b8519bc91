#include "gate/ledger.h"

#include <algorithm>
#include <charconv>

#include "invariant.h"

namespace ta::gate {
namespace {

Decimal units(Int128 u) { return Decimal::from_units(static_cast<std::int64_t>(u)); }

// Fraction (a - b) / a, or zero when a <= 0.
Decimal fall_fraction(Decimal a, Decimal b) {
  if (!a.is_positive()) return Decimal();
  auto diff = a.sub(b);
  if (!diff) return Decimal();
  auto f = diff->div(a, Rounding::kHalfEven);
  return f ? *f : Decimal();
}

}  // namespace

Price Position::average_cost() const {
  if (quantity.is_zero()) return Price();
  return cost_basis.div(quantity, Rounding::kHalfEven).value();
}

// Checked when the state was committed (compute_equity), so cannot fail here.
Notional Position::market_value() const { return quantity.mul(mark_price, Rounding::kHalfEven).value(); }

Notional Position::unrealized_pnl() const { return market_value().sub(cost_basis).value(); }

Ledger::Ledger(Notional starting_cash, std::int64_t start_ts_ns)
    : starting_cash_(starting_cash),
      cash_(starting_cash),
      equity_(starting_cash),
      peak_equity_(starting_cash),
      day_start_equity_(starting_cash),
      day_peak_equity_(starting_cash),
      day_(utc_day(start_ts_ns)) {}

Position* Ledger::find_or_add(std::string_view product) {
  auto it = std::lower_bound(positions_.begin(), positions_.end(), product,
                             [](const Position& p, std::string_view name) { return p.product < name; });
  if (it != positions_.end() && it->product == product) return &*it;
  if (positions_.size() >= kLedgerPositionsMax) return nullptr;
  Position p;
  p.product = std::string(product);
  return &*positions_.insert(it, std::move(p));
}

const Position* Ledger::find(std::string_view product) const {
  for (const auto& p : positions_) {
    if (p.product == product) return &p;
  }
  return nullptr;
}

Quantity Ledger::position_quantity(std::string_view product) const {
  const Position* p = find(product);
  return p ? p->quantity : Quantity();
}

void Ledger::roll_day(std::int64_t now_ns) {
  const std::int64_t d = utc_day(now_ns);
  if (d <= day_) return;
  day_ = d;
  day_start_equity_ = equity_;
  day_peak_equity_ = equity_;
}

Result<Notional> Ledger::compute_equity() const {
  Notional equity = cash_;
  for (const auto& p : positions_) {
    if (p.quantity.is_zero()) continue;  // a flat position is worth zero at any mark
    auto mv = p.quantity.mul(p.mark_price, Rounding::kHalfEven);
    if (!mv) return make_error("market value of " + p.product + ": " + mv.error().message);
    auto sum = equity.add(*mv);
    if (!sum) return make_error("equity: " + sum.error().message);
    equity = *sum;
  }
  return equity;
}

void Ledger::after_change() {
  peak_equity_ = std::max(peak_equity_, equity_);
  day_peak_equity_ = std::max(day_peak_equity_, equity_);
  // The accounting identity, in 128-bit units so the check cannot overflow.
  Int128 realized = 0, fees = 0, basis = 0, value = 0;
  for (const auto& p : positions_) {
    realized += p.realized_pnl.units();
    fees += p.fees.units();
    basis += p.cost_basis.units();
    if (!p.quantity.is_zero()) value += p.market_value().units();  // flat: zero at any mark
    TA_GATE_INVARIANT(!p.quantity.is_zero() || p.cost_basis.is_zero());
    TA_GATE_INVARIANT(p.cost_basis.is_zero() || p.cost_basis.is_negative() == p.quantity.is_negative());
    TA_GATE_INVARIANT(!p.fees.is_negative());
  }
  TA_GATE_INVARIANT(Int128{cash_.units()} == Int128{starting_cash_.units()} + realized - basis - fees);
  TA_GATE_INVARIANT(Int128{equity_.units()} == Int128{cash_.units()} + value);
  TA_GATE_INVARIANT(day_peak_equity_ >= day_start_equity_);
}

Status Ledger::apply_fill(const LedgerFill& fill) {
  if (fill.side != ipc::SIDE_BUY && fill.side != ipc::SIDE_SELL) return make_error("fill without a side");
  if (!fill.quantity.is_positive() || !fill.price.is_positive() || fill.fee.is_negative()) {
    return make_error("fill needs positive quantity and price and a fee >= 0, got " + fill.quantity.to_string() +
                      " @ " + fill.price.to_string() + " fee " + fill.fee.to_string());
  }
  Ledger next = *this;
  next.roll_day(fill.ts_ns);
  Position* p = next.find_or_add(fill.product);
  if (p == nullptr) return make_error("more than " + std::to_string(kLedgerPositionsMax) + " products");
  auto notional = fill.quantity.mul(fill.price, Rounding::kHalfEven);
  if (!notional) return make_error("fill notional: " + notional.error().message);

  // Work in 128-bit units and check the range once at the end.
  const Int128 dir = fill.side == ipc::SIDE_BUY ? 1 : -1;  // sign of the fill
  const Int128 q = p->quantity.units();
  const Int128 f = dir * fill.quantity.units();
  const Int128 n = notional->units();
  Int128 new_q = q + f;
  Int128 basis = p->cost_basis.units();
  Int128 realized = p->realized_pnl.units();
  if (q == 0 || (q > 0) == (f > 0)) {
    basis += dir * n;  // opening or growing
  } else {
    const Int128 abs_q = q < 0 ? -q : q;
    const Int128 abs_f = f < 0 ? -f : f;
    const Int128 closing = std::min(abs_q, abs_f);
    // The cost released by the closed part; all of it when fully closed.
    const Int128 removed = closing == abs_q ? basis : divide_rounded(basis * closing, abs_q, Rounding::kHalfEven);
    // The fill's notional split between the closed part and any flip.
    const Int128 closing_notional =
        closing == abs_f ? n : divide_rounded(closing * fill.price.units(), Decimal::kScale, Rounding::kHalfEven);
    const Int128 sign_q = q > 0 ? 1 : -1;
    realized += sign_q * closing_notional - removed;
    basis -= removed;
    if (abs_f > abs_q) basis = dir * (n - closing_notional);  // flipped: the rest opens at this price
  }
  const Int128 cash = Int128{next.cash_.units()} - dir * n - fill.fee.units();
  const Int128 fees = Int128{p->fees.units()} + fill.fee.units();
  constexpr Int128 kMax = Int128{INT64_MAX};
  for (Int128 v : {new_q, basis, realized, cash, fees}) {
    if (v >= kMax || v <= -kMax) return make_error("fill overflows the ledger's range");
  }
  p->quantity = units(new_q);
  p->cost_basis = new_q == 0 ? Notional() : units(basis);
  p->realized_pnl = units(realized);
  p->fees = units(fees);
  if (p->mark_price.is_zero()) p->mark_price = fill.price;
  next.cash_ = units(cash);
  auto equity = next.compute_equity();
  if (!equity) return make_error(equity.error().message);
  next.equity_ = *equity;
  *this = std::move(next);
  after_change();
  return {};
}

Status Ledger::apply_mark(std::string_view product, Price price, std::int64_t ts_ns) {
  if (!price.is_positive()) return make_error("mark for " + std::string(product) + " must be positive, got " +
                                              price.to_string());
  // A mark happens on every bar, so it works in place rather than on a copy
  // of the ledger: everything that can fail is computed first, and only then
  // does anything change. The result is the same as applying it to a copy.
  Position* marked = nullptr;
  for (auto& p : positions_) {
    if (p.product == product) {
      marked = &p;
      break;
    }
  }
  if (marked == nullptr && positions_.size() >= kLedgerPositionsMax) {
    return make_error("more than " + std::to_string(kLedgerPositionsMax) + " products");
  }
  Notional equity = cash_;
  for (const auto& p : positions_) {
    if (p.quantity.is_zero()) continue;  // a flat position is worth zero at any mark
    auto mv = p.quantity.mul(&p == marked ? price : p.mark_price, Rounding::kHalfEven);
    if (!mv) return make_error("market value of " + p.product + ": " + mv.error().message);
    auto sum = equity.add(*mv);
    if (!sum) return make_error("equity: " + sum.error().message);
    equity = *sum;
  }
  roll_day(ts_ns);
  if (marked == nullptr) marked = find_or_add(product);  // a new product is flat: its value is zero
  marked->mark_price = price;
  equity_ = equity;
  after_change();
  return {};
}

Notional Ledger::fees_paid() const {
  Notional sum;
  for (const auto& p : positions_) sum = sum.add(p.fees).value();  // bounded by the invariant's check
  return sum;
}

Notional Ledger::realized_pnl() const {
  Notional sum;
  for (const auto& p : positions_) sum = sum.add(p.realized_pnl).value();
  return sum;
}

Notional Ledger::unrealized_pnl() const {
  Notional sum;
  for (const auto& p : positions_) sum = sum.add(p.unrealized_pnl()).value();
  return sum;
}

Notional Ledger::gross_exposure() const {
  Notional sum;
  for (const auto& p : positions_) sum = sum.add(p.market_value().abs()).value();
  return sum;
}

Notional Ledger::daily_pnl() const { return equity_.sub(day_start_equity_).value(); }

Decimal Ledger::drawdown_fraction() const { return fall_fraction(peak_equity_, equity_); }

Decimal Ledger::daily_loss_fraction() const { return fall_fraction(day_peak_equity_, equity_); }

bool Ledger::daily_loss_breached(Decimal fraction_max) const {
  if (!day_peak_equity_.is_positive()) return equity_ < day_peak_equity_;
  // loss > day_peak x fraction, compared exactly in 1e-16 units. For an
  // integer count of 1e-8 units this is the same as loss > the allowed
  // amount rounded down.
  const Int128 loss = Int128{day_peak_equity_.units()} - equity_.units();
  return loss * Decimal::kScale > Int128{day_peak_equity_.units()} * fraction_max.units();
}

ipc::PositionSnapshot Ledger::to_snapshot(std::int64_t ts_ns) const {
  ipc::PositionSnapshot s;
  for (const auto& p : positions_) {
    ipc::Position* out = s.add_positions();
    out->set_product(p.product);
    out->set_quantity(p.quantity.to_string());
    out->set_average_cost(p.average_cost().to_string());
    out->set_realized_pnl(p.realized_pnl.to_string());
    out->set_unrealized_pnl(p.unrealized_pnl().to_string());
    out->set_mark_price(p.mark_price.to_string());
  }
  ipc::Account* a = s.mutable_account();
  a->set_equity(equity_.to_string());
  a->set_cash(cash_.to_string());
  a->set_gross_exposure(gross_exposure().to_string());
  a->set_daily_pnl(daily_pnl().to_string());
  a->set_drawdown(drawdown_fraction().to_string());
  a->set_peak_equity(peak_equity_.to_string());
  a->set_fees_paid(fees_paid().to_string());
  a->set_realized_pnl(realized_pnl().to_string());
  a->set_day_peak_equity(day_peak_equity_.to_string());
  s.set_ts_ns(ts_ns);
  return s;
}

// Format, one record per line, fields separated by one space:
//   ledger 1
//   starting_cash C | cash C | peak_equity E | day D | day_start_equity E | day_peak_equity E
//   position PRODUCT QUANTITY COST_BASIS REALIZED FEES MARK
//   end
std::string Ledger::serialize() const {
  std::string out = "ledger 1\n";
  out += "starting_cash " + starting_cash_.to_string() + "\n";
  out += "cash " + cash_.to_string() + "\n";
  out += "peak_equity " + peak_equity_.to_string() + "\n";
  out += "day " + std::to_string(day_) + "\n";
  out += "day_start_equity " + day_start_equity_.to_string() + "\n";
  out += "day_peak_equity " + day_peak_equity_.to_string() + "\n";
  for (const auto& p : positions_) {
    out += "position " + p.product + " " + p.quantity.to_string() + " " + p.cost_basis.to_string() + " " +
           p.realized_pnl.to_string() + " " + p.fees.to_string() + " " + p.mark_price.to_string() + "\n";
  }
  out += "end\n";
  return out;
}

Result<Ledger> Ledger::deserialize(std::string_view text) {
  constexpr std::size_t kFieldsMax = 7;
  Ledger l;
  std::size_t line_no = 0;
  std::size_t expected = 0;  // index of the next fixed header line
  const char* kHeader[] = {"ledger", "starting_cash", "cash", "peak_equity", "day", "day_start_equity",
                           "day_peak_equity"};
  bool ended = false;
  while (!text.empty()) {
    ++line_no;
    const auto eol = text.find('\n');
    if (eol == std::string_view::npos) return make_error("ledger line " + std::to_string(line_no) + ": no newline");
    const std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol + 1);
    std::string_view f[kFieldsMax];
    std::size_t count = 0;
    for (std::string_view rest = line; !rest.empty();) {
      const auto sp = rest.find(' ');
      if (count == kFieldsMax) return make_error("ledger line " + std::to_string(line_no) + ": too many fields");
      f[count++] = rest.substr(0, sp);
      rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
    }
    const auto bad = [&](const std::string& why) {
      return make_error("ledger line " + std::to_string(line_no) + ": " + why);
    };
    if (ended) return bad("text after 'end'");
    const auto dec = [&](std::string_view s, Decimal& out) -> bool {
      auto d = Decimal::parse(s);
      if (d) out = *d;
      return d.ok();
    };
    if (expected < std::size(kHeader)) {
      if (count != 2 || f[0] != kHeader[expected]) return bad(std::string("expected '") + kHeader[expected] + " VALUE'");
      bool ok = true;
      switch (expected) {
        case 0:
          ok = f[1] == "1";
          break;
        case 1:
          ok = dec(f[1], l.starting_cash_);
          break;
        case 2:
          ok = dec(f[1], l.cash_);
          break;
        case 3:
          ok = dec(f[1], l.peak_equity_);
          break;
        case 4: {
          const auto r = std::from_chars(f[1].data(), f[1].data() + f[1].size(), l.day_);
          ok = r.ec == std::errc() && r.ptr == f[1].data() + f[1].size();
          break;
        }
        case 5:
          ok = dec(f[1], l.day_start_equity_);
          break;
        case 6:
          ok = dec(f[1], l.day_peak_equity_);
          break;
      }
      if (!ok) return bad("bad value '" + std::string(f[1]) + "'");
      ++expected;
      continue;
    }
    if (count == 1 && f[0] == "end") {
      ended = true;
      continue;
    }
    if (count != 7 || f[0] != "position") return bad("expected 'position' or 'end'");
    if (f[1].empty() || (!l.positions_.empty() && l.positions_.back().product >= f[1])) {
      return bad("positions must be sorted and unique");
    }
    if (l.positions_.size() >= kLedgerPositionsMax) return bad("too many positions");
    Position p;
    p.product = std::string(f[1]);
    if (!dec(f[2], p.quantity) || !dec(f[3], p.cost_basis) || !dec(f[4], p.realized_pnl) || !dec(f[5], p.fees) ||
        !dec(f[6], p.mark_price)) {
      return bad("bad number in position");
    }
    if (p.mark_price.is_negative() || p.fees.is_negative() || (p.quantity.is_zero() && !p.cost_basis.is_zero()) ||
        (!p.cost_basis.is_zero() && p.cost_basis.is_negative() != p.quantity.is_negative())) {
      return bad("inconsistent position");
    }
    l.positions_.push_back(std::move(p));
  }
  if (!ended) return make_error("ledger text ends without 'end'");
  auto equity = l.compute_equity();
  if (!equity) return make_error(equity.error().message);
  l.equity_ = *equity;
  // The accounting identity must hold for loaded data too; check it as data
  // (not as an invariant: the text comes from outside this process).
  Int128 realized = 0, fees = 0, basis = 0;
  for (const auto& p : l.positions_) {
    realized += p.realized_pnl.units();
    fees += p.fees.units();
    basis += p.cost_basis.units();
  }
  if (Int128{l.cash_.units()} != Int128{l.starting_cash_.units()} + realized - basis - fees) {
    return make_error("ledger text breaks cash = starting_cash + realized - cost_basis - fees");
  }
  if (l.day_peak_equity_ < l.day_start_equity_ || l.day_peak_equity_ < l.equity_ || l.peak_equity_ < l.equity_) {
    return make_error("ledger text has peaks below equity");
  }
  return l;
}

std::vector<FlattenOrder> flatten_orders(const Ledger& ledger) {
  std::vector<FlattenOrder> out;
  for (const auto& p : ledger.positions()) {
    if (p.quantity.is_zero()) continue;
    out.push_back(FlattenOrder{p.product, p.quantity.is_positive() ? ipc::SIDE_SELL : ipc::SIDE_BUY, p.quantity.abs()});
  }
  return out;
}

}  // namespace ta::gate
