// Metrics (docs/backtest.md defines each) and the Report that the three
// renderers print. Money is summed in exact fixed point; only ratios are
// doubles, computed in a fixed order so the same run gives the same bits.
#include <algorithm>
#include <cmath>

#include "backtest/report.h"
#include "format.h"
#include "gate_compat.h"
#include "gate/time_units.h"

namespace ta::backtest {
namespace {

Notional units(std::int64_t u) { return Decimal::from_units(u); }

Notional sum(Notional a, Notional b) {
  auto s = a.add(b);
  return s ? *s : a;  // beyond +-92 billion USD: not an account
}

double ratio(std::int64_t num, std::int64_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

// mean / stdev(sample) x sqrt(periods), and mean / downside deviation x
// sqrt(periods), with downside deviation = sqrt(sum(min(r, 0)^2) / n).
void sharpe_sortino(const std::vector<double>& r, double periods_per_year, std::optional<double>& sharpe,
                    std::optional<double>& sortino) {
  sharpe.reset();
  sortino.reset();
  if (r.size() < 2) return;
  double total = 0;
  for (double v : r) total += v;
  const double n = static_cast<double>(r.size());
  const double mean = total / n;
  double var = 0;
  double down = 0;
  for (double v : r) {
    var += (v - mean) * (v - mean);
    if (v < 0) down += v * v;
  }
  const double sd = std::sqrt(var / (n - 1));
  const double dd = std::sqrt(down / n);
  const double annual = std::sqrt(periods_per_year);
  if (sd > 0) sharpe = mean / sd * annual;
  if (dd > 0) sortino = mean / dd * annual;
}

// The step's sample is taken after its bars, at its close.
std::int64_t close_of(const BacktestResult& r, std::size_t step) {
  return r.step_open_ts_s[step] + agent::kBarSeconds;
}

void drawdown(const BacktestResult& r, const std::vector<std::int64_t>& eq, std::int64_t start_units, Metrics& m) {
  // Running peak, starting with the starting equity at the run's start.
  std::int64_t peak = start_units;
  std::int64_t peak_ts = r.step_open_ts_s.empty() ? 0 : r.step_open_ts_s.front();
  std::int64_t best_dd = 0, best_peak = 0, best_peak_ts = 0;
  std::size_t best_step = 0;
  for (std::size_t i = 0; i < eq.size(); ++i) {
    if (eq[i] >= peak) {
      peak = eq[i];
      peak_ts = close_of(r, i);
      continue;
    }
    const std::int64_t dd = peak - eq[i];
    // dd / peak > best_dd / best_peak, compared exactly (peak > 0 here
    // unless the account went to zero; a non-positive peak compares by amount).
    const bool deeper = best_dd == 0 || (peak > 0 && best_peak > 0
                                              ? Int128{dd} * best_peak > Int128{best_dd} * peak
                                              : dd > best_dd);
    if (deeper) {
      best_dd = dd;
      best_peak = peak;
      best_peak_ts = peak_ts;
      best_step = i;
    }
  }
  if (best_dd == 0) return;
  m.max_drawdown_amount = units(best_dd);
  m.max_drawdown = best_peak > 0 ? ratio(best_dd, best_peak) : 0.0;
  m.max_drawdown_recovered = false;
  std::int64_t end_ts = close_of(r, eq.size() - 1);
  for (std::size_t i = best_step + 1; i < eq.size(); ++i) {
    if (eq[i] >= best_peak) {
      end_ts = close_of(r, i);
      m.max_drawdown_recovered = true;
      break;
    }
  }
  m.max_drawdown_duration_s = end_ts - best_peak_ts;
}

void returns(const BacktestResult& r, const std::vector<std::int64_t>& eq, std::int64_t start_units, Metrics& m) {
  std::vector<double> per_step;
  per_step.reserve(eq.size());
  std::vector<double> daily;
  std::int64_t prev = start_units;
  std::int64_t prev_day_equity = start_units;
  for (std::size_t i = 0; i < eq.size(); ++i) {
    per_step.push_back(prev == 0 ? 0.0 : ratio(eq[i], prev) - 1.0);
    prev = eq[i];
    const std::int64_t day = gate::utc_day(r.step_open_ts_s[i] * gate::kNanosPerSecond);
    const bool last_of_day =
        i + 1 == eq.size() || gate::utc_day(r.step_open_ts_s[i + 1] * gate::kNanosPerSecond) != day;
    if (last_of_day) {
      daily.push_back(prev_day_equity == 0 ? 0.0 : ratio(eq[i], prev_day_equity) - 1.0);
      prev_day_equity = eq[i];
    }
  }
  m.daily_returns = daily.size();
  sharpe_sortino(daily, kDaysPerYear, m.sharpe_daily, m.sortino_daily);
  sharpe_sortino(per_step, kMinutesPerYear, m.sharpe_per_bar, m.sortino_per_bar);
}

void trade_metrics(const std::vector<const BookResult*>& books, Metrics& m) {
  for (const BookResult* b : books) {
    for (const TradeRecord& t : b->trades) {
      if (!t.closed) {
        ++m.trades_open;
        continue;
      }
      ++m.trades;
      if (t.pnl.is_positive()) {
        ++m.wins;
        m.gross_profit = sum(m.gross_profit, t.pnl);
      } else {
        ++m.losses;
        m.gross_loss = sum(m.gross_loss, t.pnl);
      }
    }
  }
  if (m.trades > 0) m.hit_rate = static_cast<double>(m.wins) / static_cast<double>(m.trades);
  const auto average = [](Notional total, std::uint64_t n) -> std::optional<Notional> {
    if (n == 0) return std::nullopt;
    auto a = total.div(Decimal::from_integer(static_cast<std::int32_t>(std::min<std::uint64_t>(n, INT32_MAX))),
                       Rounding::kHalfEven);
    if (!a) return std::nullopt;
    return *a;
  };
  m.average_win = average(m.gross_profit, m.wins);
  m.average_loss = average(m.gross_loss, m.losses);
  if (m.gross_loss.is_negative()) m.profit_factor = ratio(m.gross_profit.units(), -m.gross_loss.units());
}

ProductRow& row_for(std::vector<ProductRow>& rows, const agent::ProductId& product) {
  for (ProductRow& r : rows) {
    if (r.product == product) return r;
  }
  rows.push_back(ProductRow{});
  rows.back().product = product;
  return rows.back();
}

// Per-product figures of one book: fills and trades from the records,
// realized/unrealized/fees/position from the final ledger.
std::vector<ProductRow> product_rows(const BacktestResult& r, const BookResult& b) {
  std::vector<ProductRow> rows;
  for (const agent::ProductId& p : r.products) row_for(rows, p);
  for (const FillRecord& f : b.fills) {
    ProductRow& row = row_for(rows, f.product);
    ++row.fills;
    auto n = f.quantity.mul(f.price, Rounding::kHalfEven);
    if (n) row.traded_notional = sum(row.traded_notional, *n);
  }
  for (const TradeRecord& t : b.trades) {
    if (!t.closed) continue;
    ProductRow& row = row_for(rows, t.product);
    ++row.trades;
    if (t.pnl.is_positive()) ++row.wins;
    row.pnl = sum(row.pnl, t.pnl);
  }
  for (const gate::Position& pos : b.ledger.positions()) {
    auto id = agent::ProductId::parse(pos.product);
    if (!id) continue;
    ProductRow& row = row_for(rows, *id);
    row.realized_pnl = pos.realized_pnl;
    row.unrealized_pnl = pos.unrealized_pnl();
    row.fees = pos.fees;
    row.final_position = pos.quantity;
  }
  std::sort(rows.begin(), rows.end(), [](const ProductRow& x, const ProductRow& y) { return x.product < y.product; });
  return rows;
}

void add_row(std::vector<ProductRow>& total, const ProductRow& r) {
  ProductRow& t = row_for(total, r.product);
  t.fills += r.fills;
  t.trades += r.trades;
  t.wins += r.wins;
  t.pnl = sum(t.pnl, r.pnl);
  t.realized_pnl = sum(t.realized_pnl, r.realized_pnl);
  t.unrealized_pnl = sum(t.unrealized_pnl, r.unrealized_pnl);
  t.fees = sum(t.fees, r.fees);
  t.traded_notional = sum(t.traded_notional, r.traded_notional);
  t.final_position = sum(t.final_position, r.final_position);
}

std::string final_halt_state(const BookResult& b) {
  return std::string(gate::to_string(b.halts.empty() ? gate::HaltState::kActive : b.halts.back().to));
}

}  // namespace

Metrics compute_metrics(const BacktestResult& result, const std::vector<std::int64_t>& equity_units, Notional capital,
                        const std::vector<const BookResult*>& books) {
  Metrics m;
  m.start_equity = capital;
  m.end_equity = equity_units.empty() ? capital : units(equity_units.back());
  m.pnl = m.end_equity.sub(m.start_equity).value();
  m.total_return = ratio(m.pnl.units(), m.start_equity.units());
  if (!equity_units.empty()) {
    returns(result, equity_units, capital.units(), m);
    drawdown(result, equity_units, capital.units(), m);
  }
  trade_metrics(books, m);
  Int128 slippage = 0;
  std::uint64_t exposed = 0;
  const std::size_t steps = equity_units.size();
  std::vector<std::uint8_t> any(steps, 0);
  for (const BookResult* b : books) {
    m.fees = sum(m.fees, b->ledger.fees_paid());
    m.traded_notional = sum(m.traded_notional, b->traded_notional);
    slippage += b->slippage_wide;
    for (std::size_t i = 0; i < steps && i < b->exposed.size(); ++i) any[i] |= b->exposed[i];
  }
  for (std::uint8_t a : any) exposed += a;
  m.turnover = ratio(m.traded_notional.units(), m.start_equity.units());
  m.exposure = steps == 0 ? 0.0 : static_cast<double>(exposed) / static_cast<double>(steps);
  m.slippage_cost = fmt::from_wide(slippage);
  if (m.traded_notional.is_positive()) {
    m.slippage_bps = static_cast<double>(slippage) / static_cast<double>(m.traded_notional.units()) /
                     static_cast<double>(Decimal::kScale) * 10'000.0;
  }
  return m;
}

Report summarize(const BacktestConfig& config, const MarketData& data, const BacktestResult& result) {
  Report rep;
  rep.config_file = config.source_file.string();
  rep.gate_config_file = config.gate.gate.source_file.string();
  rep.account_mode = std::string(to_string(config.account));
  rep.seed = result.seed;
  rep.rules_enabled = config.rules_enabled;
  rep.rules_evaluated = config.rules_enabled && compat::kDecideHasRules;
  rep.rule_files = config.rule_files;
  for (const ProductData& d : data.products) {
    if (std::find(result.products.begin(), result.products.end(), d.product) != result.products.end()) {
      rep.data.push_back(d);
    }
  }
  rep.bars = result.bars;
  rep.steps = result.step_open_ts_s.size();
  if (!result.step_open_ts_s.empty()) {
    rep.first_open_ts_s = result.step_open_ts_s.front();
    rep.last_close_ts_s = result.step_open_ts_s.back() + agent::kBarSeconds;
  }

  // Account: the books' equity added per step.
  std::vector<std::int64_t> account(rep.steps, 0);
  Notional capital;
  std::vector<const BookResult*> all;
  for (const BookResult& b : result.books) {
    all.push_back(&b);
    capital = sum(capital, b.capital);
    for (std::size_t i = 0; i < rep.steps && i < b.equity_units.size(); ++i) account[i] += b.equity_units[i];
  }
  rep.account = compute_metrics(result, account, capital, all);

  for (std::size_t k = 0; k < result.books.size(); ++k) {
    const BookResult& b = result.books[k];
    const BookSetup& setup = config.books[k];
    BookReport br;
    br.name = b.name;
    br.capital = b.capital;
    br.metrics = compute_metrics(result, b.equity_units, b.capital, {&b});
    br.products = product_rows(result, b);
    br.decisions = b.decisions;
    br.halts = b.halts;
    br.engine = b.engine;
    br.final_halt_state = final_halt_state(b);
    for (const ProductRow& r : br.products) add_row(rep.products, r);
    for (const auto& [reason, n] : b.decisions.denied_by_reason) rep.denied_by_reason[reason] += n;
    for (const auto& [rule, n] : b.decisions.rule_hits) rep.rule_hits[rule] += n;

    for (const StrategySetup& s : setup.strategies) {
      StrategyRow row;
      row.book = b.name;
      row.strategy = s.definition->name();
      row.source = s.source;
      for (const SlotSummary& slot : b.slots) {
        if (slot.strategy == row.strategy) row.intents += slot.counters.intents_entry + slot.counters.intents_exit;
      }
      for (const TradeRecord& t : b.trades) {
        if (t.strategy != row.strategy || !t.closed) continue;
        ++row.trades;
        if (t.pnl.is_positive()) ++row.wins;
        row.pnl = sum(row.pnl, t.pnl);
        row.fees = sum(row.fees, t.fees);
        ProductRow& pr = row_for(row.products, t.product);
        ++pr.trades;
        if (t.pnl.is_positive()) ++pr.wins;
        pr.pnl = sum(pr.pnl, t.pnl);
        pr.fees = sum(pr.fees, t.fees);
      }
      std::sort(row.products.begin(), row.products.end(),
                [](const ProductRow& a, const ProductRow& c) { return a.product < c.product; });
      rep.strategies.push_back(std::move(row));
    }
    rep.books.push_back(std::move(br));
  }
  std::sort(rep.products.begin(), rep.products.end(),
            [](const ProductRow& x, const ProductRow& y) { return x.product < y.product; });
  return rep;
}

}  // namespace ta::backtest
