// report.json: every figure of the Report, keys in a fixed order. Money
// as exact decimal strings, ratios as numbers with six fractional digits,
// times as Unix seconds plus ISO-8601 text.
#include <algorithm>

#include "backtest/report.h"
#include "format.h"

namespace ta::backtest {
namespace {

using fmt::json_string;

// A small writer that keeps commas and indentation right.
class Json {
 public:
  void open(char bracket) {
    out_ += bracket;
    first_.push_back(true);
  }
  void close(char bracket) {
    const bool empty = first_.back();
    first_.pop_back();
    if (!empty) newline();
    out_ += bracket;
  }
  void key(std::string_view k) {
    item();
    out_ += json_string(k);
    out_ += ": ";
  }
  void item() {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
    newline();
  }
  void raw(std::string_view v) { out_ += v; }
  void field(std::string_view k, std::string_view raw_value) {
    key(k);
    raw(raw_value);
  }
  void text(std::string_view k, std::string_view v) { field(k, json_string(v)); }
  void number(std::string_view k, std::uint64_t v) { field(k, std::to_string(v)); }
  void integer(std::string_view k, std::int64_t v) { field(k, std::to_string(v)); }
  void decimal(std::string_view k, Decimal v) { text(k, v.to_string()); }
  void ratio(std::string_view k, double v) { field(k, fmt::fixed(v, 6)); }
  void ratio(std::string_view k, const std::optional<double>& v) { field(k, fmt::fixed_or(v, 6, "null")); }
  void boolean(std::string_view k, bool v) { field(k, v ? "true" : "false"); }
  void time(std::string_view k, std::int64_t ts_s) {
    integer(std::string(k) + "_ts", ts_s);
    text(std::string(k) + "_utc", ts_s >= 0 && ts_s <= agent::kTimestampMax_s ? agent::format_utc(ts_s) : "");
  }
  std::string take() {
    out_ += '\n';
    return std::move(out_);
  }

 private:
  void newline() {
    out_ += '\n';
    out_.append(2 * first_.size(), ' ');
  }
  std::string out_;
  std::vector<bool> first_;
};

void metrics(Json& j, std::string_view name, const Metrics& m) {
  j.key(name);
  j.open('{');
  j.decimal("start_equity", m.start_equity);
  j.decimal("end_equity", m.end_equity);
  j.decimal("pnl", m.pnl);
  j.ratio("total_return", m.total_return);
  j.number("daily_returns", m.daily_returns);
  j.ratio("sharpe_daily", m.sharpe_daily);
  j.ratio("sortino_daily", m.sortino_daily);
  j.ratio("sharpe_per_bar", m.sharpe_per_bar);
  j.ratio("sortino_per_bar", m.sortino_per_bar);
  j.ratio("max_drawdown", m.max_drawdown);
  j.decimal("max_drawdown_amount", m.max_drawdown_amount);
  j.integer("max_drawdown_duration_s", m.max_drawdown_duration_s);
  j.boolean("max_drawdown_recovered", m.max_drawdown_recovered);
  j.number("trades", m.trades);
  j.number("trades_open", m.trades_open);
  j.number("wins", m.wins);
  j.number("losses", m.losses);
  j.ratio("hit_rate", m.hit_rate);
  j.decimal("gross_profit", m.gross_profit);
  j.decimal("gross_loss", m.gross_loss);
  j.field("average_win", m.average_win ? json_string(m.average_win->to_string()) : "null");
  j.field("average_loss", m.average_loss ? json_string(m.average_loss->to_string()) : "null");
  j.ratio("profit_factor", m.profit_factor);
  j.decimal("fees", m.fees);
  j.decimal("traded_notional", m.traded_notional);
  j.ratio("turnover", m.turnover);
  j.ratio("exposure", m.exposure);
  j.decimal("slippage_cost", m.slippage_cost);
  j.ratio("slippage_bps", m.slippage_bps);
  j.close('}');
}

void product_rows(Json& j, std::string_view name, const std::vector<ProductRow>& rows) {
  j.key(name);
  j.open('[');
  for (const ProductRow& r : rows) {
    j.item();
    j.open('{');
    j.text("product", r.product.view());
    j.number("fills", r.fills);
    j.number("trades", r.trades);
    j.number("wins", r.wins);
    j.decimal("trade_pnl", r.pnl);
    j.decimal("realized_pnl", r.realized_pnl);
    j.decimal("unrealized_pnl", r.unrealized_pnl);
    j.decimal("fees", r.fees);
    j.decimal("traded_notional", r.traded_notional);
    j.decimal("final_position", r.final_position);
    j.close('}');
  }
  j.close(']');
}

void counts(Json& j, std::string_view name, const std::map<ipc::DenyReason, std::uint64_t>& denied) {
  j.key(name);
  j.open('{');
  for (const auto& [reason, n] : denied) j.number(ipc::DenyReason_Name(reason), n);
  j.close('}');
}

void counts(Json& j, std::string_view name, const std::map<std::string, std::uint64_t>& hits) {
  j.key(name);
  j.open('{');
  for (const auto& [rule, n] : hits) j.number(rule, n);
  j.close('}');
}

void decisions(Json& j, const DecisionStats& d) {
  j.key("decisions");
  j.open('{');
  j.number("intents", d.intents);
  j.number("accepted", d.accepted);
  j.number("denied", d.denied);
  counts(j, "denied_by_reason", d.denied_by_reason);
  counts(j, "rule_hits", d.rule_hits);
  j.number("orders_filled", d.orders_filled);
  j.number("orders_cancelled", d.orders_cancelled);
  j.number("orders_rejected", d.orders_rejected);
  j.number("orders_expired", d.orders_expired);
  j.number("gate_orders", d.gate_orders);
  j.close('}');
}

void engine(Json& j, const agent::EngineCounters& c) {
  j.key("engine");
  j.open('{');
  j.number("bars", c.bars);
  j.number("bars_invalid", c.bars_invalid);
  j.number("bars_out_of_order", c.bars_out_of_order);
  j.number("messages_unmatched", c.messages_unmatched);
  j.number("fills_unmatched", c.fills_unmatched);
  j.number("position_mismatches", c.position_mismatches);
  j.close('}');
}

void trades(Json& j, const BookResult& b) {
  j.number("trades_recorded", b.trades.size());
  j.key("trades");
  j.open('[');
  const std::size_t n = std::min(b.trades.size(), kReportTradesMax);
  for (std::size_t i = 0; i < n; ++i) {
    const TradeRecord& t = b.trades[i];
    j.item();
    j.open('{');
    j.text("strategy", t.strategy);
    j.text("product", t.product.view());
    j.text("side", t.long_side ? "long" : "short");
    j.time("open", t.open_ts_ns / 1'000'000'000);
    j.boolean("closed", t.closed);
    if (t.closed) j.time("close", t.close_ts_ns / 1'000'000'000);
    j.decimal("quantity_max", t.quantity_max);
    j.decimal("pnl", t.pnl);
    j.decimal("fees", t.fees);
    j.close('}');
  }
  j.close(']');
}

}  // namespace

std::string render_json(const Report& rep, const BacktestResult& result) {
  Json j;
  j.open('{');
  j.text("format", "trading-backtest report 1");
  j.key("run");
  j.open('{');
  j.text("config", rep.config_file);
  j.text("gate_config", rep.gate_config_file);
  j.text("account", rep.account_mode);
  j.number("seed", rep.seed);
  j.boolean("rules_enabled", rep.rules_enabled);
  j.boolean("rules_evaluated", rep.rules_evaluated);
  j.key("rule_files");
  j.open('[');
  for (const auto& f : rep.rule_files) {
    j.item();
    j.open('{');
    j.text("path", f.path);
    j.text("sha256", f.sha256);
    j.close('}');
  }
  j.close(']');
  j.key("data");
  j.open('[');
  for (const ProductData& d : rep.data) {
    j.item();
    j.open('{');
    j.text("product", d.product.view());
    j.text("source", d.source);
    j.number("bars", d.bars);
    j.time("first_open", d.first_open_ts_s);
    j.time("last_open", d.last_open_ts_s);
    j.integer("gaps", d.gap_count);
    j.integer("missing_minutes", d.missing_minutes);
    j.close('}');
  }
  j.close(']');
  j.number("bars", rep.bars);
  j.number("steps", rep.steps);
  j.time("start", rep.first_open_ts_s);
  j.time("end", rep.last_close_ts_s);
  j.close('}');

  metrics(j, "account", rep.account);
  product_rows(j, "products", rep.products);
  counts(j, "denied_by_reason", rep.denied_by_reason);
  counts(j, "rule_hits", rep.rule_hits);

  j.key("books");
  j.open('[');
  for (std::size_t k = 0; k < rep.books.size(); ++k) {
    const BookReport& b = rep.books[k];
    j.item();
    j.open('{');
    j.text("name", b.name);
    j.decimal("capital", b.capital);
    j.key("strategies");
    j.open('[');
    for (const std::string& s : result.books[k].strategies) {
      j.item();
      j.raw(json_string(s));
    }
    j.close(']');
    j.text("final_halt_state", b.final_halt_state);
    metrics(j, "metrics", b.metrics);
    product_rows(j, "products", b.products);
    decisions(j, b.decisions);
    j.key("halts");
    j.open('[');
    for (const HaltRecord& h : b.halts) {
      j.item();
      j.open('{');
      j.time("at", h.ts_ns / 1'000'000'000);
      j.text("from", gate::to_string(h.from));
      j.text("to", gate::to_string(h.to));
      j.text("event", gate::to_string(h.event));
      j.close('}');
    }
    j.close(']');
    engine(j, b.engine);
    j.number("fills", result.books[k].fills.size());
    trades(j, result.books[k]);
    j.close('}');
  }
  j.close(']');

  j.key("strategies");
  j.open('[');
  for (const StrategyRow& s : rep.strategies) {
    j.item();
    j.open('{');
    j.text("book", s.book);
    j.text("strategy", s.strategy);
    j.text("source", s.source);
    j.number("intents", s.intents);
    j.number("trades", s.trades);
    j.number("wins", s.wins);
    j.decimal("trade_pnl", s.pnl);
    j.decimal("fees", s.fees);
    product_rows(j, "products", s.products);
    j.close('}');
  }
  j.close(']');
  j.close('}');
  return j.take();
}

}  // namespace ta::backtest
