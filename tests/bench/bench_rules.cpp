// Rule evaluation latency: 100 typical rules evaluated per intent (target:
// p50 under 1 us, p99 under 3 us). Besides Google Benchmark's mean, the
// evaluation benchmarks time every iteration with steady_clock and report
// p50/p99 as counters; clock_ns is the cost of one timing pair, included in
// the percentiles.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "rules/rules.h"

namespace {

using ta::Decimal;
using ta::rules::Facts;

Decimal dec(std::int64_t units) { return Decimal::from_units(units); }

// Ten rule shapes seen in practice, ten thresholds each.
std::string rule_source(int count) {
  static const char* kShapes[] = {
      "market.realized_vol_1h > {k}.5 * market.realized_vol_24h and not order.reduce_only|cap quantity to order.quantity * 50%",
      "stats.consecutive_losses >= {k} and not order.reduce_only|cap quantity to order.quantity * 25%",
      "market.spread > {k}5bps and not order.reduce_only|deny \"spread\"",
      "time.since_last_stop_out < {k}0m and not order.reduce_only|deny \"cooldown\"",
      "order.notional / account.equity > {k}5% and order.product == \"BTC-USD\"|hold for approval within 1h",
      "account.drawdown > {k}% and order.side == buy|force reduce_only",
      "time.weekday in [saturday, sunday] and time.utc_hour < {k}|warn \"weekend\"",
      "order.type == limit and order.price > market.reference_price * 10{k}%|deny \"price band\"",
      "position.notional + order.notional > account.equity * {k}0%|cap notional to account.equity * {k}0% - position.notional",
      "stats.orders_last_minute > 2{k} or stats.fills_today > 40{k}|warn \"busy\"",
  };
  std::string out;
  for (int i = 0; i < count; ++i) {
    std::string shape = kShapes[i % 10];
    const std::string k = std::to_string(i / 10 + 1);
    for (auto p = shape.find("{k}"); p != std::string::npos; p = shape.find("{k}")) shape.replace(p, 3, k);
    const auto bar = shape.find('|');
    out += "rule r" + std::to_string(i) + " v1 \"bench\" {\n  from core\n  when " + shape.substr(0, bar) +
           "\n  then " + shape.substr(bar + 1) + "\n}\n";
  }
  return out;
}

// 64 plausible, varied intents so branches are not perfectly predicted.
std::vector<Facts> fact_sets() {
  std::mt19937 rng(42);
  auto uni = [&](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng); };
  std::vector<Facts> out(64);
  for (Facts& f : out) {
    f.order.product = uni(0, 1) ? "BTC-USD" : "ETH-USD";
    f.order.side = uni(0, 1) ? ta::rules::Side::kBuy : ta::rules::Side::kSell;
    f.order.type = uni(0, 1) ? ta::rules::OrderType::kLimit : ta::rules::OrderType::kMarket;
    f.order.quantity = dec(uni(1'000'000, 100'000'000));
    f.order.price = dec(uni(5'900'000'000'000, 6'100'000'000'000));
    f.order.notional = dec(uni(100'000'000'000, 3'000'000'000'000));
    f.order.reduce_only = uni(0, 9) == 0;
    f.order.strategy = "mean_reversion";
    f.position.quantity = dec(uni(0, 100'000'000));
    f.position.notional = dec(uni(0, 6'000'000'000'000));
    f.position.average_cost = dec(5'500'000'000'000);
    f.position.unrealized_pnl = dec(uni(-100'000'000'000, 100'000'000'000));
    f.account.equity = dec(10'000'000'000'000);
    f.account.cash = dec(4'000'000'000'000);
    f.account.gross_exposure = dec(uni(0, 6'000'000'000'000));
    f.account.daily_pnl = dec(uni(-50'000'000'000, 50'000'000'000));
    f.account.drawdown = dec(uni(0, 5'000'000));
    f.market.reference_price = dec(6'000'000'000'000);
    f.market.spread = dec(uni(10'000, 300'000));
    f.market.realized_vol_1h = dec(uni(100'000, 1'000'000));
    f.market.realized_vol_24h = dec(200'000);
    f.market.volume_1h = dec(12'000'000'000);
    f.time.utc_hour = uni(0, 23);
    f.time.weekday = static_cast<ta::rules::Weekday>(uni(0, 6));
    f.time.since_last_stop_out_s = uni(0, 100'000);
    f.stats.orders_last_minute = uni(0, 30);
    f.stats.consecutive_losses = uni(0, 6);
    f.stats.fills_today = uni(0, 500);
  }
  return out;
}

ta::rules::RuleSet compile(int count) {
  auto c = ta::rules::compile_source(rule_source(count), "bench.rule", ta::rules::SourceOrigin::core());
  if (!c.ok()) {
    std::fputs(c.render_errors().c_str(), stderr);
    std::abort();
  }
  return c.value();
}

double percentile(std::vector<std::int64_t>& samples, double q) {
  if (samples.empty()) return 0;
  const auto k = static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1));
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(k), samples.end());
  return static_cast<double>(samples[k]);
}

void BM_EvaluateRules(benchmark::State& state) {
  const ta::rules::RuleSet rules = compile(static_cast<int>(state.range(0)));
  const std::vector<Facts> facts = fact_sets();
  ta::rules::Outcome outcome;
  for (const Facts& f : facts) rules.evaluate(f, outcome);  // grow the outcome's vectors once
  std::vector<std::int64_t> samples;
  samples.reserve(1 << 20);
  std::size_t i = 0, fired = 0;
  using Clock = std::chrono::steady_clock;
  for (auto _ : state) {
    const Facts& f = facts[i++ & 63];
    const auto t0 = Clock::now();
    rules.evaluate(f, outcome);
    const auto t1 = Clock::now();
    benchmark::DoNotOptimize(outcome);
    fired += outcome.fired.size();
    if (samples.size() < samples.capacity()) samples.push_back((t1 - t0).count());
  }
  std::vector<std::int64_t> overhead;
  for (int k = 0; k < 10000; ++k) {
    const auto t0 = Clock::now();
    const auto t1 = Clock::now();
    overhead.push_back((t1 - t0).count());
  }
  state.counters["rules"] = static_cast<double>(rules.size());
  state.counters["fired_per_intent"] = static_cast<double>(fired) / static_cast<double>(std::max<std::size_t>(i, 1));
  state.counters["p50_ns"] = percentile(samples, 0.50);
  state.counters["p99_ns"] = percentile(samples, 0.99);
  state.counters["clock_ns"] = percentile(overhead, 0.50);
}
BENCHMARK(BM_EvaluateRules)->Arg(20)->Arg(100)->Arg(200);

void BM_CompileRules(benchmark::State& state) {
  const std::string source = rule_source(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto c = ta::rules::compile_source(source, "bench.rule", ta::rules::SourceOrigin::core());
    benchmark::DoNotOptimize(c);
  }
  state.counters["bytes"] = static_cast<double>(source.size());
}
BENCHMARK(BM_CompileRules)->Arg(100)->Unit(benchmark::kMicrosecond);

// What a reload costs the gate's thread: load_rules() reads, hashes and
// compiles every file. Args: files (one rule each), and whether each file
// is padded with comments to the file size limit (the most bytes a reload
// can read: kFileCountMax files of kSourceSizeMax bytes).
void BM_LoadRules(benchmark::State& state) {
  namespace fs = std::filesystem;
  const int files = static_cast<int>(state.range(0));
  const bool padded = state.range(1) != 0;
  const fs::path root = fs::temp_directory_path() / ("ta_bench_load_rules_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "core");
  const std::string one = rule_source(files);
  std::size_t bytes = 0;
  std::size_t start = 0;
  for (int i = 0; i < files; ++i) {
    // rule_source() ends every rule with "}\n".
    const std::size_t end = one.find("}\n", start);
    std::string text = one.substr(start, end == std::string::npos ? std::string::npos : end + 2 - start);
    start = end == std::string::npos ? one.size() : end + 2;
    if (padded) {
      const std::string comment = "# padding to the file size limit, as a worst case for reload time\n";
      while (text.size() + comment.size() <= ta::rules::kSourceSizeMax) text = comment + text;
    }
    bytes += text.size();
    std::ofstream(root / "core" / ("r" + std::to_string(1000 + i) + ".rule"), std::ios::binary) << text;
  }
  for (auto _ : state) {
    auto loaded = ta::rules::load_rules((root / "core").string(), (root / "active").string());
    if (!loaded.ok()) {
      state.SkipWithError(loaded.render_errors().c_str());
      break;
    }
    benchmark::DoNotOptimize(loaded);
  }
  state.counters["files"] = files;
  state.counters["bytes"] = static_cast<double>(bytes);
  fs::remove_all(root);
}
BENCHMARK(BM_LoadRules)->Args({5, 0})->Args({256, 0})->Args({256, 1})->Unit(benchmark::kMillisecond);

}  // namespace
