// compute_metrics() on hand-made curves and trades, and the formatting of
// the reports.
#include <cmath>

#include "backtest_test_support.h"

namespace ta::backtest::test {
namespace {

constexpr std::int64_t kDay = 1752105600;  // 2025-07-10T00:00:00Z
constexpr std::int64_t kUnit = Decimal::kScale;

// A result with one book whose equity (in whole USD) is given per step.
// Steps are at the given open times.
BacktestResult curve(const std::vector<std::int64_t>& times, const std::vector<std::int64_t>& usd) {
  BacktestResult r;
  r.step_open_ts_s = times;
  BookResult b;
  b.name = "b";
  b.capital = Decimal::from_integer(1000);
  for (std::int64_t v : usd) b.equity_units.push_back(v * kUnit);
  b.exposed.assign(usd.size(), 0);
  r.books.push_back(std::move(b));
  return r;
}

Metrics metrics_of(const BacktestResult& r) {
  return compute_metrics(r, r.books[0].equity_units, r.books[0].capital, {&r.books[0]});
}

TEST(Metrics, ReturnAndDrawdownWithDuration) {
  // 1000 -> 1100 (peak at step 1) -> 990 -> 1050 -> 1100 (recovered) -> 1080
  const std::vector<std::int64_t> t = {kDay, kDay + 60, kDay + 120, kDay + 180, kDay + 240, kDay + 300};
  const auto r = curve(t, {1000, 1100, 990, 1050, 1100, 1080});
  const Metrics m = metrics_of(r);
  EXPECT_EQ(m.pnl, Decimal::from_integer(80));
  EXPECT_DOUBLE_EQ(m.total_return, 0.08);
  EXPECT_EQ(m.max_drawdown_amount, Decimal::from_integer(110));
  EXPECT_DOUBLE_EQ(m.max_drawdown, 0.1);
  EXPECT_TRUE(m.max_drawdown_recovered);
  // Samples are taken at the step's close: peak at kDay+120, recovery at kDay+300.
  EXPECT_EQ(m.max_drawdown_duration_s, 180);
}

TEST(Metrics, UnrecoveredDrawdownRunsToTheEnd) {
  const auto r = curve({kDay, kDay + 60, kDay + 120}, {900, 950, 940});
  const Metrics m = metrics_of(r);
  // The starting equity (1000 at the start) is the first peak.
  EXPECT_EQ(m.max_drawdown_amount, Decimal::from_integer(100));
  EXPECT_FALSE(m.max_drawdown_recovered);
  EXPECT_EQ(m.max_drawdown_duration_s, kDay + 180 - kDay);
}

TEST(Metrics, DeepestFractionWinsOverLargestAmount) {
  // Drawdown 200 of peak 2000 (10%) against 150 of peak 1000 (15%).
  const auto r = curve({kDay, kDay + 60, kDay + 120, kDay + 180}, {850, 2000, 1800, 1900});
  const Metrics m = metrics_of(r);
  EXPECT_EQ(m.max_drawdown_amount, Decimal::from_integer(150));
  EXPECT_DOUBLE_EQ(m.max_drawdown, 0.15);
}

TEST(Metrics, DailySharpeAndSortino) {
  // Four days, the last sample of each day counts: 1010, 1000, 1030, 1020.
  std::vector<std::int64_t> t, usd;
  const std::int64_t eod[] = {1010, 1000, 1030, 1020};
  for (int d = 0; d < 4; ++d) {
    t.push_back(kDay + d * 86400);
    usd.push_back(1000);
    t.push_back(kDay + d * 86400 + 86340);
    usd.push_back(eod[d]);
  }
  const Metrics m = metrics_of(curve(t, usd));
  EXPECT_EQ(m.daily_returns, 4u);
  std::vector<double> r = {1010.0 / 1000 - 1, 1000.0 / 1010 - 1, 1030.0 / 1000 - 1, 1020.0 / 1030 - 1};
  double mean = 0;
  for (double v : r) mean += v / 4;
  double var = 0, down = 0;
  for (double v : r) {
    var += (v - mean) * (v - mean);
    down += v < 0 ? v * v : 0;
  }
  ASSERT_TRUE(m.sharpe_daily && m.sortino_daily);
  EXPECT_NEAR(*m.sharpe_daily, mean / std::sqrt(var / 3) * std::sqrt(365.0), 1e-9);
  EXPECT_NEAR(*m.sortino_daily, mean / std::sqrt(down / 4) * std::sqrt(365.0), 1e-9);
  EXPECT_TRUE(m.sharpe_per_bar.has_value());
}

TEST(Metrics, RatiosNeedEnoughData) {
  const Metrics flat = metrics_of(curve({kDay, kDay + 60}, {1000, 1000}));
  EXPECT_FALSE(flat.sharpe_daily);  // one day
  EXPECT_FALSE(flat.sharpe_per_bar);  // zero deviation
  EXPECT_FALSE(flat.hit_rate);
  EXPECT_FALSE(flat.profit_factor);
  EXPECT_FALSE(flat.slippage_bps);
  EXPECT_EQ(flat.max_drawdown_amount, Decimal());
}

TEST(Metrics, TradesFeesExposureAndSlippage) {
  auto r = curve({kDay, kDay + 60, kDay + 120, kDay + 180}, {1000, 1010, 1005, 1020});
  BookResult& b = r.books[0];
  b.exposed = {0, 1, 1, 0};
  const auto trade = [](const char* pnl, bool closed) {
    TradeRecord t;
    t.pnl = D(pnl);
    t.closed = closed;
    return t;
  };
  b.trades = {trade("30", true), trade("-10", true), trade("-5", true), trade("0", true), trade("99", false)};
  b.traded_notional = D("2000");
  b.slippage_wide = Int128{D("0.4").units()} * kUnit;  // 0.4 USD
  const Metrics m = metrics_of(r);
  EXPECT_EQ(m.trades, 4u);
  EXPECT_EQ(m.trades_open, 1u);
  EXPECT_EQ(m.wins, 1u);
  EXPECT_EQ(m.losses, 3u);  // zero counts as a loss
  EXPECT_DOUBLE_EQ(*m.hit_rate, 0.25);
  EXPECT_EQ(m.gross_profit, D("30"));
  EXPECT_EQ(m.gross_loss, D("-15"));
  EXPECT_EQ(*m.average_win, D("30"));
  EXPECT_EQ(*m.average_loss, D("-5"));
  EXPECT_DOUBLE_EQ(*m.profit_factor, 2.0);
  EXPECT_DOUBLE_EQ(m.turnover, 2.0);
  EXPECT_DOUBLE_EQ(m.exposure, 0.5);
  EXPECT_EQ(m.slippage_cost, D("0.4"));
  EXPECT_DOUBLE_EQ(*m.slippage_bps, 2.0);
}

TEST(Metrics, ReportsOfTheDemoRunAreWellFormed) {
  const MarketData m = demo_market();
  const BacktestConfig c = two_books();
  const auto r = run_backtest(c, m).value();
  const Report rep = summarize(c, m, r);
  const std::string json = render_json(rep, r);
  EXPECT_EQ(json.rfind("{\n  \"format\": \"trading-backtest report 1\"", 0), 0u);
  EXPECT_NE(json.find("\"sharpe_daily\": "), std::string::npos);
  EXPECT_EQ(json.find("nan"), std::string::npos);
  EXPECT_EQ(json.find("inf"), std::string::npos);
  // Brackets balance (no string in the report holds one).
  EXPECT_EQ(std::count(json.begin(), json.end(), '{'), std::count(json.begin(), json.end(), '}'));
  EXPECT_EQ(std::count(json.begin(), json.end(), '['), std::count(json.begin(), json.end(), ']'));
  const std::string md = render_markdown(rep);
  EXPECT_NE(md.find("| metric | account | momentum | mean_reversion |"), std::string::npos);
  const std::string svg = render_svg(rep, r);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("<polygon"), std::string::npos);  // trade markers
  // The account is the sum of the books.
  EXPECT_EQ(rep.account.end_equity, rep.books[0].metrics.end_equity.add(rep.books[1].metrics.end_equity).value());
}

TEST(Metrics, WriteReportsCreatesAllThreeFiles) {
  ScratchDir dir;
  const MarketData m = demo_market();
  const BacktestConfig c = two_books();
  const auto r = run_backtest(c, m).value();
  const Report rep = summarize(c, m, r);
  ASSERT_TRUE(write_reports(dir / "out" / "nested", rep, r).ok());
  for (const char* f : {"report.json", "report.md", "equity.svg"}) {
    EXPECT_GT(std::filesystem::file_size(dir / "out" / "nested" / f), 100u) << f;
    EXPECT_FALSE(std::filesystem::exists(dir / "out" / "nested" / (std::string(f) + ".tmp"))) << f;
  }
  write_text(dir / "file", "x");
  EXPECT_FALSE(write_reports(dir / "file", rep, r).ok());
}

}  // namespace
}  // namespace ta::backtest::test
