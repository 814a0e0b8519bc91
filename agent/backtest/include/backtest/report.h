// Metrics and reports of a backtest run: report.json (for programs),
// report.md (for people) and equity.svg (equity curve, drawdown and trade
// markers; hand-written SVG). docs/backtest.md defines every metric.
//
// Money figures (equity, P&L, fees, slippage cost, notional) come from the
// fixed-point ledgers and are printed as exact decimal strings. Ratios are
// doubles, printed with a fixed number of digits by std::to_chars, so the
// same run always writes the same bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backtest/config.h"
#include "backtest/data.h"
#include "backtest/run.h"
#include "proto/decimal.h"
#include "proto/result.h"

namespace ta::backtest {

// Annualization: crypto trades every day of the year.
inline constexpr double kDaysPerYear = 365.0;
inline constexpr double kMinutesPerYear = kDaysPerYear * 24 * 60;
// Trades listed in report.json per book; the counts and metrics always use
// all of them.
inline constexpr std::size_t kReportTradesMax = 10'000;
// Points per series in equity.svg: more than the chart's pixel width, so
// downsampling (min and max per bucket) loses nothing visible.
inline constexpr std::size_t kSvgBucketsMax = 1'200;

struct Metrics {
  Notional start_equity;
  Notional end_equity;
  Notional pnl;            // end - start
  double total_return = 0;  // pnl / start
  // Daily: returns between the equity at the end of consecutive UTC days
  // that have bars (the first against the starting equity); sample standard
  // deviation; annualized with sqrt(365). Empty with fewer than 2 returns or
  // zero deviation.
  std::uint64_t daily_returns = 0;
  std::optional<double> sharpe_daily;
  std::optional<double> sortino_daily;
  // Per step (one step = one minute with bars), annualized with
  // sqrt(525,600); gaps make a step span more than a minute.
  std::optional<double> sharpe_per_bar;
  std::optional<double> sortino_per_bar;
  // Largest fall from a running peak of the per-step equity curve.
  Notional max_drawdown_amount;
  double max_drawdown = 0;  // as a fraction of that peak
  std::int64_t max_drawdown_duration_s = 0;  // peak to recovery (or to the end)
  bool max_drawdown_recovered = true;
  // Closed trades (round trips), net of fees.
  std::uint64_t trades = 0;
  std::uint64_t trades_open = 0;  // still open at the end (not counted above)
  std::uint64_t wins = 0;         // pnl > 0
  std::uint64_t losses = 0;       // pnl <= 0
  std::optional<double> hit_rate;  // wins / trades
  Notional gross_profit;           // sum of winning pnl
  Notional gross_loss;             // sum of losing pnl (<= 0)
  std::optional<Notional> average_win;
  std::optional<Notional> average_loss;
  std::optional<double> profit_factor;  // gross_profit / -gross_loss
  Notional fees;
  Notional traded_notional;
  double turnover = 0;             // traded notional / start equity
  double exposure = 0;             // steps holding a position / steps
  Notional slippage_cost;          // vs the filling bar's open, rounded half-even
  std::optional<double> slippage_bps;  // slippage cost / traded notional x 10,000
};

struct ProductRow {
  agent::ProductId product;
  std::uint64_t fills = 0;
  std::uint64_t trades = 0;
  std::uint64_t wins = 0;
  Notional pnl;               // closed trades, net of fees
  Notional realized_pnl;      // ledger, gross of fees
  Notional unrealized_pnl;    // ledger, at the last mark
  Notional fees;
  Notional traded_notional;
  Quantity final_position;
};

struct StrategyRow {
  std::string book;
  std::string strategy;
  std::string source;
  std::uint64_t intents = 0;
  std::uint64_t trades = 0;
  std::uint64_t wins = 0;
  Notional pnl;  // closed trades, net of fees
  Notional fees;
  std::vector<ProductRow> products;
};

struct BookReport {
  std::string name;
  Decimal capital;
  Metrics metrics;
  std::vector<ProductRow> products;
  DecisionStats decisions;
  std::vector<HaltRecord> halts;
  agent::EngineCounters engine;
  std::string final_halt_state;
};

struct Report {
  // What ran.
  std::string config_file;
  std::string gate_config_file;
  std::string account_mode;
  std::uint64_t seed = 0;
  bool rules_enabled = false;
  // Whether decide() evaluated them: false while the gate core this was
  // built with has no rule stage (then no rule can fire).
  bool rules_evaluated = false;
  std::vector<rules::RuleFile> rule_files;
  std::vector<ProductData> data;
  std::uint64_t bars = 0;
  std::uint64_t steps = 0;
  std::int64_t first_open_ts_s = 0;
  std::int64_t last_close_ts_s = 0;
  // Results.
  Metrics account;  // all books together
  std::vector<BookReport> books;
  std::vector<StrategyRow> strategies;
  std::vector<ProductRow> products;  // all books together
  std::map<ipc::DenyReason, std::uint64_t> denied_by_reason;  // all books
  std::map<std::string, std::uint64_t> rule_hits;               // all books
};

// Metrics of one equity curve over the run's timeline. `trades` and
// `fills` of the same books; `capital` is the starting equity.
Metrics compute_metrics(const BacktestResult& result, const std::vector<std::int64_t>& equity_units, Notional capital,
                        const std::vector<const BookResult*>& books);

Report summarize(const BacktestConfig& config, const MarketData& data, const BacktestResult& result);

std::string render_json(const Report& report, const BacktestResult& result);
std::string render_markdown(const Report& report);
std::string render_svg(const Report& report, const BacktestResult& result);

// Writes report.json, report.md and equity.svg into `dir` (created when
// missing). Each file is written to a temporary name and renamed, so a
// failed run never leaves a half-written report that looks complete.
[[nodiscard]] Status write_reports(const std::filesystem::path& dir, const Report& report,
                                   const BacktestResult& result);

}  // namespace ta::backtest
