// Many backtests at once, for the strategy-evolution loop (Loop 2):
// parameter sets, walk-forward windows and counterfactuals (other stops,
// exits, sizes) over the same market data, on a bounded pool of threads.
//
// Each job is an independent, single-threaded run_backtest() over shared,
// read-only MarketData; results come back in job order, so they are the
// same whatever the number of workers (tests check 1 and 2).
//
//   auto base = std::make_shared<const BacktestConfig>(load_backtest_config(path).value());
//   std::vector<Job> jobs;
//   for (double stop : {2.0, 3.0, 4.0}) {
//     jobs.push_back({with_parameters(*base, "momentum", {{"stop_atr", stop}}).value(), from, to});
//   }
//   for (const auto& w : walk_forward_windows(from, to, 7 * 86400, 86400, 86400)) ...
//   std::vector<Result<Report>> reports = run_jobs(data, jobs, 2);
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backtest/config.h"
#include "backtest/data.h"
#include "backtest/report.h"
#include "proto/result.h"

namespace ta::backtest {

// Threads in the pool. The machine decides what is useful; 64 bounds the
// memory of runs in flight on any machine we target.
inline constexpr std::size_t kWorkersMax = 64;
// Jobs per call: a walk-forward over a year of daily windows with a few
// hundred parameter sets, with room; more is a caller bug.
inline constexpr std::size_t kJobsMax = 1'000'000;

struct Job {
  std::shared_ptr<const BacktestConfig> config;
  std::int64_t from_ts_s = 0;  // the window, as RunOptions
  std::int64_t to_ts_s = agent::kTimestampMax_s + agent::kBarSeconds;
};

// Runs every job on min(workers, jobs) threads and returns one result per
// job, in job order. A failing job has its error in its slot; the others
// still run. Error (for the whole call): workers outside [1, kWorkersMax],
// more than kJobsMax jobs, a job without config.
[[nodiscard]] Result<std::vector<Result<Report>>> run_jobs(const MarketData& data, std::span<const Job> jobs,
                                                           std::size_t workers);

// A copy of `base` in which every strategy named `strategy` (in whichever
// book holds it) has the given parameters (StrategyDefinition::
// with_parameters: bounds and constraints are checked). Error: no such
// strategy, or a value the strategy refuses.
[[nodiscard]] Result<std::shared_ptr<const BacktestConfig>> with_parameters(
    const BacktestConfig& base, std::string_view strategy, std::span<const std::pair<std::string, double>> values);

struct Window {
  std::int64_t train_from_ts_s = 0;
  std::int64_t train_to_ts_s = 0;  // = test_from_ts_s
  std::int64_t test_from_ts_s = 0;
  std::int64_t test_to_ts_s = 0;
};

// Walk-forward windows over [from_ts_s, to_ts_s): a training window of
// train_s seconds followed by a test window of test_s seconds, moved by
// step_s, as long as the test window fits. Empty when nothing fits or a
// length is not positive. At most kJobsMax windows.
std::vector<Window> walk_forward_windows(std::int64_t from_ts_s, std::int64_t to_ts_s, std::int64_t train_s,
                                         std::int64_t test_s, std::int64_t step_s);

}  // namespace ta::backtest
