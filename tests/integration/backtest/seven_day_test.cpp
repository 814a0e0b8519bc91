// Seven days of real Binance BTC and ETH minutes (cut in memory from the
// shared data set) through the shipped backtest configuration: every run,
// the reference (protobuf, nothing skipped) path and runs on the job pool
// give the same P&L to the last 1e-8 USD and the same report bytes.
#include "backtest_test_support.h"
#include "market/csv.h"

namespace ta::backtest::test {
namespace {

constexpr std::int64_t kFrom = 1'748'736'000;  // 2025-06-01T00:00:00Z
constexpr std::int64_t kTo = kFrom + 7 * 86'400;

std::vector<agent::Bar> seven_days(const char* file, const char* product) {
  const auto path = shared_data() / file;
  auto csv = agent::read_bars_csv(path, pid(product));
  EXPECT_TRUE(csv.ok()) << path << ": " << (csv.ok() ? "" : csv.error().message)
                        << " (set TA_SHARED_DATA to the shared market data)";
  std::vector<agent::Bar> out;
  if (!csv.ok()) return out;
  for (const agent::Bar& b : csv->bars) {
    if (b.open_ts_s >= kFrom && b.open_ts_s < kTo) out.push_back(b);
  }
  return out;
}

TEST(SevenDays, SamePnlOnEveryRun) {
  auto market = make_market_data({seven_days("binance_BTCUSDT_1m_2025-05-20_2025-08-17.csv", "BTC-USD"),
                                  seven_days("binance_ETHUSDT_1m_2025-05-20_2025-08-17.csv", "ETH-USD")});
  ASSERT_TRUE(market.ok()) << market.error().message;
  const MarketData& m = *market;
  EXPECT_EQ(m.bars.size(), 2u * 7 * 1440);
  const auto loaded = load_backtest_config(source_dir() / "config" / "backtest.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const auto config = std::make_shared<const BacktestConfig>(*loaded);

  const auto first = run_backtest(*config, m).value();
  const std::string reports = all_reports(*config, m, first);
  std::size_t fills = 0;
  for (const auto& b : first.books) fills += b.fills.size();
  EXPECT_GT(fills, 50u);
  for (int run = 0; run < 2; ++run) {
    const auto again = run_backtest(*config, m).value();
    for (std::size_t k = 0; k < first.books.size(); ++k) {
      EXPECT_EQ(again.books[k].ledger.equity(), first.books[k].ledger.equity()) << run << " " << k;
      EXPECT_EQ(again.books[k].ledger.fees_paid(), first.books[k].ledger.fees_paid());
      EXPECT_EQ(again.books[k].equity_units, first.books[k].equity_units);
    }
    EXPECT_EQ(all_reports(*config, m, again), reports);
  }
  // The reference path (every message through gate.proto, nothing skipped)
  // gives the same result.
  RunOptions reference;
  reference.reference_path = true;
  const auto slow = run_backtest(*config, m, reference).value();
  EXPECT_EQ(all_reports(*config, m, slow), reports);
  for (std::size_t k = 0; k < first.books.size(); ++k) EXPECT_EQ(slow.books[k].ledger, first.books[k].ledger) << k;
  const std::vector<Job> jobs = {{config, kFrom, kTo}, {config, kFrom, kTo}};
  const auto pooled = run_jobs(m, jobs, 2).value();
  const Report expected = summarize(*config, m, first);
  for (const auto& r : pooled) {
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().account.pnl, expected.account.pnl);
    EXPECT_EQ(render_markdown(r.value()), render_markdown(expected));
  }
  std::printf("seven days: account P&L %s USD, fees %s USD, %zu fills\n", expected.account.pnl.to_string().c_str(),
              expected.account.fees.to_string().c_str(), fills);
}

}  // namespace
}  // namespace ta::backtest::test
