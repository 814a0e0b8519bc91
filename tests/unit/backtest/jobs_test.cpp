// run_jobs(): results independent of the number of workers, in job order;
// parameter sets and walk-forward windows.
#include "backtest_test_support.h"

namespace ta::backtest::test {
namespace {

std::vector<Job> parameter_jobs(const MarketData& m) {
  const auto base = std::make_shared<const BacktestConfig>(two_books());
  const RunOptions day = first_day();
  std::vector<Job> jobs;
  for (double stop : {1.5, 3.0, 6.0}) {
    auto tuned = with_parameters(*base, "momentum", std::vector<std::pair<std::string, double>>{{"stop_atr", stop}});
    EXPECT_TRUE(tuned.ok());
    jobs.push_back(Job{tuned.value(), day.from_ts_s, day.to_ts_s});
  }
  const std::int64_t from = m.bars.front().open_ts_s;
  for (const Window& w : walk_forward_windows(from, from + 3 * 86400, 86400, 86400, 86400)) {
    jobs.push_back(Job{base, w.test_from_ts_s, w.test_to_ts_s});
  }
  return jobs;
}

std::vector<std::string> texts(const std::vector<Result<Report>>& reports) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    EXPECT_TRUE(reports[i].ok()) << i;
    out.push_back(reports[i].ok() ? render_markdown(reports[i].value()) : reports[i].error().message);
  }
  return out;
}

TEST(Jobs, SameResultsWithOneAndTwoWorkersInJobOrder) {
  const MarketData m = demo_market();
  const std::vector<Job> jobs = parameter_jobs(m);
  ASSERT_EQ(jobs.size(), 5u);  // three parameter sets, two walk-forward test days
  const auto one = run_jobs(m, jobs, 1).value();
  const auto two = run_jobs(m, jobs, 2).value();
  ASSERT_EQ(one.size(), jobs.size());
  EXPECT_EQ(texts(one), texts(two));
  // Each slot is its job: the same as a plain run of that job.
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    RunOptions o;
    o.from_ts_s = jobs[i].from_ts_s;
    o.to_ts_s = jobs[i].to_ts_s;
    const auto r = run_backtest(*jobs[i].config, m, o).value();
    EXPECT_EQ(render_markdown(summarize(*jobs[i].config, m, r)), render_markdown(two[i].value())) << i;
  }
  // Different stops give different results.
  EXPECT_NE(one[0].value().books[0].metrics.end_equity, one[2].value().books[0].metrics.end_equity);
}

TEST(Jobs, AFailingJobKeepsItsSlot) {
  const MarketData m = demo_market();
  const auto base = std::make_shared<const BacktestConfig>(two_books());
  const RunOptions day = first_day();
  const std::vector<Job> jobs = {{base, day.from_ts_s, day.to_ts_s}, {base, 1, 2}, {base, day.from_ts_s, day.to_ts_s}};
  const auto out = run_jobs(m, jobs, 2).value();
  EXPECT_TRUE(out[0].ok());
  EXPECT_FALSE(out[1].ok());
  EXPECT_TRUE(out[2].ok());
}

TEST(Jobs, WorkerLimits) {
  const MarketData m = outage_market();
  const auto base = std::make_shared<const BacktestConfig>(two_books());
  const std::vector<Job> jobs = {{base, 0, agent::kTimestampMax_s}};
  EXPECT_FALSE(run_jobs(m, jobs, 0).ok());
  EXPECT_TRUE(run_jobs(m, jobs, 1).ok());
  EXPECT_TRUE(run_jobs(m, jobs, kWorkersMax - 1).ok());
  EXPECT_TRUE(run_jobs(m, jobs, kWorkersMax).ok());
  EXPECT_FALSE(run_jobs(m, jobs, kWorkersMax + 1).ok());
  const std::vector<Job> no_config = {{nullptr, 0, 1}};
  EXPECT_FALSE(run_jobs(m, no_config, 1).ok());
  EXPECT_TRUE(run_jobs(m, {}, 2).value().empty());
}

TEST(Jobs, WithParametersChecksNamesAndBounds) {
  const BacktestConfig base = two_books();
  const std::vector<std::pair<std::string, double>> ok = {{"fast_period", 5}, {"slow_period", 50}};
  auto tuned = with_parameters(base, "momentum", ok).value();
  EXPECT_EQ(tuned->books[0].strategies[0].definition->parameter("slow_period"), 50.0);
  EXPECT_EQ(base.books[0].strategies[0].definition->parameter("slow_period"), 26.0);  // base unchanged
  const std::vector<std::pair<std::string, double>> crossed = {{"fast_period", 60}};
  EXPECT_FALSE(with_parameters(base, "momentum", crossed).ok());
  EXPECT_FALSE(with_parameters(base, "nobody", ok).ok());
}

TEST(Jobs, WalkForwardWindows) {
  const auto w = walk_forward_windows(0, 10 * 86400, 3 * 86400, 86400, 86400);
  ASSERT_EQ(w.size(), 7u);  // test windows end at days 4..10
  EXPECT_EQ(w[0].train_from_ts_s, 0);
  EXPECT_EQ(w[0].train_to_ts_s, 3 * 86400);
  EXPECT_EQ(w[0].test_from_ts_s, 3 * 86400);
  EXPECT_EQ(w[0].test_to_ts_s, 4 * 86400);
  EXPECT_EQ(w.back().test_to_ts_s, 10 * 86400);
  EXPECT_TRUE(walk_forward_windows(0, 86400, 86400, 1, 1).empty());
  EXPECT_TRUE(walk_forward_windows(0, 86400, 0, 1, 1).empty());
  EXPECT_TRUE(walk_forward_windows(5, 5, 1, 1, 1).empty());
}

}  // namespace
}  // namespace ta::backtest::test
