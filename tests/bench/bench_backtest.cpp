// trading-backtest throughput (docs/performance-backtest.md): 2 products x
// 2 strategies (the built-in momentum and mean reversion, each its own
// book) over the 90 days of shared Binance BTC and ETH minutes, 259,200
// bars. Counters report input bars per second of the merged stream.
//
//   BM_Run/shared:0/fees:1   run_backtest() only, data in memory, shipped config
//   BM_Run/shared:1/...      the same strategies in one shared book
//   BM_Run/.../fees:0        with zero venue fees (no daily-loss halts)
//   BM_LoadCsv          read, validate and merge both CSV files
//   BM_LoadCsvCached    the same through a warm binary cache (--cache)
//   BM_CachedCsvAndRun  load through the warm cache, then run
//   BM_LoadStore        load both products from an SQLite candle store
//   BM_CsvAndRun        load from CSV, then run
//   BM_StoreAndRun      load from the store, then run
//   BM_RunBookThreads, BM_CachedCsvAndRunBookThreads
//                       BM_Run/shared:0/fees:1 and BM_CachedCsvAndRun/shared:0
//                       with the two books on two threads (wall time)
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "backtest/backtest.h"
#include "market/store.h"
#include "strategy/builtin.h"

namespace {

using namespace ta::backtest;
namespace fs = std::filesystem;

fs::path shared_data() {
  const char* v = std::getenv("TA_SHARED_DATA");
  return v != nullptr && *v != '\0' ? fs::path(v) : fs::path(TA_SHARED_DATA);
}

std::vector<CsvSource> sources() {
  return {{ta::agent::ProductId::parse("BTC-USD").value(), shared_data() / "binance_BTCUSDT_1m_2025-05-20_2025-08-17.csv"},
          {ta::agent::ProductId::parse("ETH-USD").value(), shared_data() / "binance_ETHUSDT_1m_2025-05-20_2025-08-17.csv"}};
}

// The shipped gate.yaml and safety.yaml; `fees` false sets the venue's
// maker and taker fees to zero (everything else as shipped).
BacktestConfig config(bool shared, bool fees = true) {
  BacktestConfig c;
  ta::gate::ConfigLoad load = ta::gate::load_config(fs::path(TA_SOURCE_DIR) / "config" / "gate.yaml");
  if (!load.problems.empty()) std::abort();
  c.gate = load.config;
  if (!fees) {
    c.gate.gate.sim.fee_maker_bps = ta::Decimal();
    c.gate.gate.sim.fee_taker_bps = ta::Decimal();
  }
  c.sizing.order_notional_max = ta::Decimal::from_integer(900);
  const auto momentum = ta::agent::make_builtin("momentum", "momentum").value();
  const auto reversion = ta::agent::make_builtin("mean_reversion", "mean_reversion").value();
  const auto book = [](std::string name, std::vector<StrategySetup> s) {
    BookSetup b;
    b.name = std::move(name);
    b.capital = ta::Decimal::from_integer(10'000);
    b.strategies = std::move(s);
    return b;
  };
  if (shared) {
    c.account = AccountMode::kShared;
    c.books = {book("account", {{momentum, {}, ta::Decimal::from_integer(1), "builtin"},
                                {reversion, {}, ta::Decimal::from_integer(1), "builtin"}})};
  } else {
    c.books = {book("momentum", {{momentum, {}, ta::Decimal::from_integer(1), "builtin"}}),
               book("mean_reversion", {{reversion, {}, ta::Decimal::from_integer(1), "builtin"}})};
  }
  return c;
}

const MarketData& data() {
  static const MarketData d = [] {
    auto m = load_csv_data(sources());
    if (!m) {
      std::fprintf(stderr, "bench_backtest: %s\n", m.error().message.c_str());
      std::abort();
    }
    return std::move(m).value();
  }();
  return d;
}

// An SQLite candle store with both products, built once per process.
const fs::path& store_path() {
  static const fs::path p = [] {
    const fs::path dir = fs::temp_directory_path() / ("bench_backtest_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    auto store = ta::agent::CandleStore::open(dir / "candles.sqlite").value();
    for (const CsvSource& s : sources()) {
      if (!ta::agent::import_csv(store, s.path, s.product).ok()) std::abort();
    }
    std::atexit([] { fs::remove_all(fs::temp_directory_path() / ("bench_backtest_" + std::to_string(::getpid()))); });
    return dir / "candles.sqlite";
  }();
  return p;
}

// The "bars/s" counter: `bars` merged bars per iteration, as a rate.
void set_bars_per_second(benchmark::State& state, std::size_t bars) {
  state.counters["bars/s"] = benchmark::Counter(static_cast<double>(bars) * static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

void run_once(benchmark::State& state, const BacktestConfig& c, const MarketData& m, std::size_t threads = 1) {
  RunOptions options;
  options.book_threads = threads;
  auto r = run_backtest(c, m, options);
  if (!r) {
    state.SkipWithError(r.error().message.c_str());
    return;
  }
  benchmark::DoNotOptimize(r.value().books.front().ledger.equity());
}

void BM_Run(benchmark::State& state) {
  const BacktestConfig c = config(state.range(0) == 1, state.range(1) == 1);
  const MarketData& m = data();
  for (auto _ : state) run_once(state, c, m);
  set_bars_per_second(state, m.bars.size());
}
BENCHMARK(BM_Run)->ArgNames({"shared", "fees"})->ArgsProduct({{0, 1}, {1, 0}})->Unit(benchmark::kMillisecond);

void BM_LoadCsv(benchmark::State& state) {
  std::size_t bars = 0;
  for (auto _ : state) {
    auto m = load_csv_data(sources());
    bars = m.value().bars.size();
    benchmark::DoNotOptimize(bars);
  }
  set_bars_per_second(state, bars);
}
BENCHMARK(BM_LoadCsv)->Unit(benchmark::kMillisecond);

void BM_LoadStore(benchmark::State& state) {
  const fs::path& p = store_path();
  std::size_t bars = 0;
  for (auto _ : state) {
    auto m = load_store_data(p, {}, 0, ta::agent::kTimestampMax_s);
    bars = m.value().bars.size();
    benchmark::DoNotOptimize(bars);
  }
  set_bars_per_second(state, bars);
}
BENCHMARK(BM_LoadStore)->Unit(benchmark::kMillisecond);

void BM_CsvAndRun(benchmark::State& state) {
  const BacktestConfig c = config(false);
  std::size_t bars = 0;
  for (auto _ : state) {
    auto m = load_csv_data(sources());
    bars = m.value().bars.size();
    run_once(state, c, m.value());
  }
  set_bars_per_second(state, bars);
}
BENCHMARK(BM_CsvAndRun)->Unit(benchmark::kMillisecond);

// The binary cache of load_csv_data(), warm: the CSV bytes are read and
// hashed, the bars come from the cache file.
const fs::path& cache_dir() {
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / ("bench_backtest_cache_" + std::to_string(::getpid()));
    if (!load_csv_data(sources(), d).ok()) std::abort();
    std::atexit([] { fs::remove_all(fs::temp_directory_path() / ("bench_backtest_cache_" + std::to_string(::getpid()))); });
    return d;
  }();
  return dir;
}

void BM_LoadCsvCached(benchmark::State& state) {
  const fs::path& dir = cache_dir();
  std::size_t bars = 0;
  for (auto _ : state) {
    auto m = load_csv_data(sources(), dir);
    bars = m.value().bars.size();
    benchmark::DoNotOptimize(bars);
  }
  set_bars_per_second(state, bars);
}
BENCHMARK(BM_LoadCsvCached)->Unit(benchmark::kMillisecond);

void BM_CachedCsvAndRun(benchmark::State& state) {
  const BacktestConfig c = config(state.range(0) == 1);
  const fs::path& dir = cache_dir();
  std::size_t bars = 0;
  for (auto _ : state) {
    auto m = load_csv_data(sources(), dir);
    bars = m.value().bars.size();
    run_once(state, c, m.value());
  }
  set_bars_per_second(state, bars);
}
BENCHMARK(BM_CachedCsvAndRun)->ArgName("shared")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// The two books of BM_Run/shared:0/fees:1 on two threads (one each), wall
// time: RunOptions::book_threads = 2.
void BM_RunBookThreads(benchmark::State& state) {
  const BacktestConfig c = config(false);
  const MarketData& m = data();
  for (auto _ : state) run_once(state, c, m, 2);
  set_bars_per_second(state, m.bars.size());
}
BENCHMARK(BM_RunBookThreads)->UseRealTime()->Unit(benchmark::kMillisecond);

// BM_CachedCsvAndRun/shared:0 with the two books on two threads, wall time.
void BM_CachedCsvAndRunBookThreads(benchmark::State& state) {
  const BacktestConfig c = config(false);
  const fs::path& dir = cache_dir();
  std::size_t bars = 0;
  for (auto _ : state) {
    auto m = load_csv_data(sources(), dir);
    bars = m.value().bars.size();
    run_once(state, c, m.value(), 2);
  }
  set_bars_per_second(state, bars);
}
BENCHMARK(BM_CachedCsvAndRunBookThreads)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_StoreAndRun(benchmark::State& state) {
  const BacktestConfig c = config(false);
  const fs::path& p = store_path();
  std::size_t bars = 0;
  for (auto _ : state) {
    auto m = load_store_data(p, {}, 0, ta::agent::kTimestampMax_s);
    bars = m.value().bars.size();
    run_once(state, c, m.value());
  }
  set_bars_per_second(state, bars);
}
BENCHMARK(BM_StoreAndRun)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
