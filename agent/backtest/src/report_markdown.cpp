// report.md: the same Report for people. Tables first (what ran, the
// account, the books side by side), details per book after.
#include "backtest/report.h"
#include "format.h"

namespace ta::backtest {
namespace {

std::string opt_money(const std::optional<Notional>& v) { return v ? fmt::money(*v) : "-"; }

std::string utc(std::int64_t ts_s) {
  return ts_s >= 0 && ts_s <= agent::kTimestampMax_s ? agent::format_utc(ts_s) : "-";
}

struct Column {
  std::string header;
  const Metrics* m;
};

// One row per metric, one column per account/book.
void metric_table(std::string& out, const std::vector<Column>& cols) {
  out += "| metric |";
  for (const auto& c : cols) out += " " + c.header + " |";
  out += "\n|---|";
  for (std::size_t i = 0; i < cols.size(); ++i) out += "---:|";
  out += "\n";
  const auto row = [&](const char* name, auto value) {
    out += "| ";
    out += name;
    out += " |";
    for (const auto& c : cols) out += " " + value(*c.m) + " |";
    out += "\n";
  };
  row("starting equity (USD)", [](const Metrics& m) { return fmt::money(m.start_equity); });
  row("final equity (USD)", [](const Metrics& m) { return fmt::money(m.end_equity); });
  row("P&L (USD)", [](const Metrics& m) { return fmt::money(m.pnl); });
  row("total return", [](const Metrics& m) { return fmt::percent(m.total_return); });
  row("Sharpe (daily, annualized)", [](const Metrics& m) { return fmt::fixed_or(m.sharpe_daily, 2, "-"); });
  row("Sortino (daily, annualized)", [](const Metrics& m) { return fmt::fixed_or(m.sortino_daily, 2, "-"); });
  row("Sharpe (per bar, annualized)", [](const Metrics& m) { return fmt::fixed_or(m.sharpe_per_bar, 2, "-"); });
  row("Sortino (per bar, annualized)", [](const Metrics& m) { return fmt::fixed_or(m.sortino_per_bar, 2, "-"); });
  row("max drawdown", [](const Metrics& m) { return fmt::percent(m.max_drawdown); });
  row("max drawdown (USD)", [](const Metrics& m) { return fmt::money(m.max_drawdown_amount); });
  row("max drawdown duration", [](const Metrics& m) {
    return fmt::duration(m.max_drawdown_duration_s) + (m.max_drawdown_recovered ? "" : " (not recovered)");
  });
  row("closed trades", [](const Metrics& m) { return std::to_string(m.trades); });
  row("open trades at the end", [](const Metrics& m) { return std::to_string(m.trades_open); });
  row("hit rate", [](const Metrics& m) { return m.hit_rate ? fmt::percent(*m.hit_rate) : std::string("-"); });
  row("average win (USD)", [](const Metrics& m) { return opt_money(m.average_win); });
  row("average loss (USD)", [](const Metrics& m) { return opt_money(m.average_loss); });
  row("profit factor", [](const Metrics& m) { return fmt::fixed_or(m.profit_factor, 2, "-"); });
  row("fees (USD)", [](const Metrics& m) { return fmt::money(m.fees); });
  row("slippage (USD)", [](const Metrics& m) { return fmt::money(m.slippage_cost); });
  row("slippage (bps of notional)", [](const Metrics& m) { return fmt::fixed_or(m.slippage_bps, 2, "-"); });
  row("traded notional (USD)", [](const Metrics& m) { return fmt::money(m.traded_notional); });
  row("turnover (x capital)", [](const Metrics& m) { return fmt::fixed(m.turnover, 2); });
  row("time in the market", [](const Metrics& m) { return fmt::percent(m.exposure); });
}

void product_table(std::string& out, const std::vector<ProductRow>& rows) {
  out += "| product | fills | closed trades | wins | trade P&L | realized | unrealized | fees | notional | final position |\n";
  out += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const ProductRow& r : rows) {
    out += "| " + r.product.str() + " | " + std::to_string(r.fills) + " | " + std::to_string(r.trades) + " | " +
           std::to_string(r.wins) + " | " + fmt::money(r.pnl) + " | " + fmt::money(r.realized_pnl) + " | " +
           fmt::money(r.unrealized_pnl) + " | " + fmt::money(r.fees) + " | " + fmt::money(r.traded_notional) +
           " | " + r.final_position.to_string() + " |\n";
  }
}

}  // namespace

std::string render_markdown(const Report& rep) {
  std::string out = "# Backtest report\n\n";
  out += "| | |\n|---|---|\n";
  out += "| config | `" + rep.config_file + "` |\n";
  out += "| gate config | `" + rep.gate_config_file + "` |\n";
  out += "| account | " + rep.account_mode + " |\n";
  out += "| seed | " + std::to_string(rep.seed) + " |\n";
  std::string rules = "off";
  if (rep.rules_enabled) {
    rules = std::to_string(rep.rule_files.size()) + " rule files loaded; " +
            (rep.rules_evaluated ? "evaluated by decide()" : "not evaluated: this build's decide() has no rule stage");
  }
  out += "| rules | " + rules + " |\n";
  out += "| period | " + utc(rep.first_open_ts_s) + " .. " + utc(rep.last_close_ts_s) + " |\n";
  out += "| bars | " + std::to_string(rep.bars) + " in " + std::to_string(rep.steps) + " minutes |\n\n";

  out += "## Data\n\n| product | source | bars | first bar | last bar | gaps | missing minutes |\n";
  out += "|---|---|---:|---|---|---:|---:|\n";
  for (const ProductData& d : rep.data) {
    out += "| " + d.product.str() + " | `" + d.source + "` | " + std::to_string(d.bars) + " | " +
           utc(d.first_open_ts_s) + " | " + utc(d.last_open_ts_s) + " | " + std::to_string(d.gap_count) + " | " +
           std::to_string(d.missing_minutes) + " |\n";
  }

  out += "\n## Results\n\n";
  std::vector<Column> cols;
  if (rep.books.size() > 1) cols.push_back({"account", &rep.account});
  for (const BookReport& b : rep.books) cols.push_back({b.name, &b.metrics});
  metric_table(out, cols);

  out += "\n## Products (all books)\n\n";
  product_table(out, rep.products);

  out += "\n## Strategies\n\n| book | strategy | source | intents | closed trades | wins | trade P&L | trade fees |\n";
  out += "|---|---|---|---:|---:|---:|---:|---:|\n";
  for (const StrategyRow& s : rep.strategies) {
    out += "| " + s.book + " | " + s.strategy + " | " + s.source + " | " + std::to_string(s.intents) + " | " +
           std::to_string(s.trades) + " | " + std::to_string(s.wins) + " | " + fmt::money(s.pnl) + " | " +
           fmt::money(s.fees) + " |\n";
  }

  out += "\n## Gate decisions\n\n";
  if (rep.denied_by_reason.empty()) {
    out += "No intent was denied.\n";
  } else {
    out += "| denial reason | count |\n|---|---:|\n";
    for (const auto& [reason, n] : rep.denied_by_reason) {
      out += "| " + ipc::DenyReason_Name(reason) + " | " + std::to_string(n) + " |\n";
    }
  }
  if (rep.rules_evaluated) {
    out += "\n";
    if (rep.rule_hits.empty()) {
      out += "No rule fired.\n";
    } else {
      out += "| rule | hits |\n|---|---:|\n";
      for (const auto& [rule, n] : rep.rule_hits) out += "| " + rule + " | " + std::to_string(n) + " |\n";
    }
  }

  for (const BookReport& b : rep.books) {
    out += "\n## Book " + b.name + "\n\n";
    const DecisionStats& d = b.decisions;
    out += "Capital " + fmt::money(b.capital) + " USD; final halt state " + b.final_halt_state + ". Intents " +
           std::to_string(d.intents) + ", accepted " + std::to_string(d.accepted) + ", denied " +
           std::to_string(d.denied) + "; orders filled " + std::to_string(d.orders_filled) + ", cancelled " +
           std::to_string(d.orders_cancelled) + ", rejected " + std::to_string(d.orders_rejected) + ", expired " +
           std::to_string(d.orders_expired) + "; the gate's own orders " + std::to_string(d.gate_orders) + ".\n\n";
    if (b.engine.position_mismatches > 0 || b.engine.fills_unmatched > 0) {
      out += "Note: the engine's positions disagreed with the gate's on " +
             std::to_string(b.engine.position_mismatches) + " snapshot(s), and " +
             std::to_string(b.engine.fills_unmatched) +
             " fill(s) (the gate's own flattening orders) matched no strategy; see `engine` in report.json.\n\n";
    }
    product_table(out, b.products);
    if (!d.denied_by_reason.empty()) {
      out += "\n| denial reason | count |\n|---|---:|\n";
      for (const auto& [reason, n] : d.denied_by_reason) {
        out += "| " + ipc::DenyReason_Name(reason) + " | " + std::to_string(n) + " |\n";
      }
    }
    if (!d.rule_hits.empty()) {
      out += "\n| rule | hits |\n|---|---:|\n";
      for (const auto& [rule, n] : d.rule_hits) out += "| " + rule + " | " + std::to_string(n) + " |\n";
    }
    if (!b.halts.empty()) {
      out += "\n| time | halt change | cause |\n|---|---|---|\n";
      for (const HaltRecord& h : b.halts) {
        out += "| " + utc(h.ts_ns / 1'000'000'000) + " | " + std::string(gate::to_string(h.from)) + " -> " +
               std::string(gate::to_string(h.to)) + " | " + std::string(gate::to_string(h.event)) + " |\n";
      }
    }
  }
  out += "\nThe chart is `equity.svg`; every figure is also in `report.json`. Definitions: docs/backtest.md.\n";
  return out;
}

}  // namespace ta::backtest
