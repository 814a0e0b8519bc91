// run_jobs(): a fixed pool of std::threads taking job indices from one
// atomic counter. Each job writes only its own slot of the result vector,
// so no lock is needed and the order of results is the order of jobs,
// whatever thread ran what.
#include "backtest/jobs.h"

#include <atomic>
#include <optional>
#include <thread>

namespace ta::backtest {

Result<std::vector<Result<Report>>> run_jobs(const MarketData& data, std::span<const Job> jobs, std::size_t workers) {
  if (workers < 1 || workers > kWorkersMax) {
    return make_error("workers must be in [1, " + std::to_string(kWorkersMax) + "], got " + std::to_string(workers));
  }
  if (jobs.size() > kJobsMax) return make_error("at most " + std::to_string(kJobsMax) + " jobs per call");
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (!jobs[i].config) return make_error("job " + std::to_string(i) + " has no config");
  }
  std::vector<std::optional<Result<Report>>> slots(jobs.size());
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i = next.fetch_add(1); i < jobs.size(); i = next.fetch_add(1)) {
      const Job& job = jobs[i];
      RunOptions options;
      options.from_ts_s = job.from_ts_s;
      options.to_ts_s = job.to_ts_s;
      auto result = run_backtest(*job.config, data, options);
      if (!result) {
        slots[i].emplace(result.error());
      } else {
        slots[i].emplace(summarize(*job.config, data, *result));
      }
    }
  };
  const std::size_t threads = std::min(workers, std::max<std::size_t>(jobs.size(), 1));
  if (threads == 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(work);
    for (std::thread& t : pool) t.join();
  }
  std::vector<Result<Report>> out;
  out.reserve(jobs.size());
  for (auto& s : slots) out.push_back(std::move(*s));
  return out;
}

Result<std::shared_ptr<const BacktestConfig>> with_parameters(
    const BacktestConfig& base, std::string_view strategy, std::span<const std::pair<std::string, double>> values) {
  auto copy = std::make_shared<BacktestConfig>(base);
  bool found = false;
  for (BookSetup& book : copy->books) {
    for (StrategySetup& s : book.strategies) {
      if (s.definition->name() != strategy) continue;
      auto tuned = s.definition->with_parameters(values);
      if (!tuned) return make_error("strategy '" + std::string(strategy) + "': " + tuned.error().message);
      s.definition = *tuned;
      found = true;
    }
  }
  if (!found) return make_error("no strategy named '" + std::string(strategy) + "' in the configuration");
  return std::shared_ptr<const BacktestConfig>(std::move(copy));
}

std::vector<Window> walk_forward_windows(std::int64_t from_ts_s, std::int64_t to_ts_s, std::int64_t train_s,
                                         std::int64_t test_s, std::int64_t step_s) {
  std::vector<Window> out;
  if (train_s <= 0 || test_s <= 0 || step_s <= 0 || from_ts_s >= to_ts_s) return out;
  for (std::int64_t start = from_ts_s; out.size() < kJobsMax; start += step_s) {
    if (start > to_ts_s - train_s - test_s) break;  // no overflow: both sides stay in range
    Window w;
    w.train_from_ts_s = start;
    w.train_to_ts_s = start + train_s;
    w.test_from_ts_s = w.train_to_ts_s;
    w.test_to_ts_s = w.test_from_ts_s + test_s;
    out.push_back(w);
  }
  return out;
}

}  // namespace ta::backtest
