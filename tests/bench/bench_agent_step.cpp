// Per-bar cost of the agent's full decision step: AgentEngine::on_bar with
// two products (BTC-USD and ETH-USD, bars interleaved minute by minute) and
// two strategies on each, so every bar updates the indicators of two
// strategies, evaluates them, and sizes any entry. Intents are filled at
// the product's next bar open (on_decision + on_fill, as the backtester's
// venue does), so the lifecycle runs through all its states; that cost is
// included. Items are bars.
//
//   BM_AgentStep/0  built-in momentum + mean reversion
//   BM_AgentStep/1  the same two strategies from config/strategies
//                   (ema_cross.yaml + zscore_reversion.yaml)
//
// Data: the 90-day Binance files from TA_SHARED_DATA (default
// ../shared/data next to the source tree) when present, else the shipped
// 3-day demo files. Not a test: no timed assertions.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "market/market.h"
#include "strategy/strategy.h"

namespace {

using namespace ta;
using namespace ta::agent;

std::filesystem::path data_dir() {
  const char* shared = std::getenv("TA_SHARED_DATA");
  return shared != nullptr ? std::filesystem::path(shared)
                           : std::filesystem::path(TA_SOURCE_DIR) / ".." / "shared" / "data";
}

std::vector<Bar> load(const char* shared_name, const char* demo_name, const char* product) {
  auto file = data_dir() / shared_name;
  if (!std::filesystem::exists(file)) file = std::filesystem::path(TA_SOURCE_DIR) / "data" / "demo" / demo_name;
  auto r = read_bars_csv(file, ProductId::parse(product).value());
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    std::abort();
  }
  std::fprintf(stderr, "bench data: %s (%zu bars)\n", file.c_str(), r.value().bars.size());
  return std::move(r.value().bars);
}

// Both products merged by time, BTC first within a minute.
const std::vector<Bar>& merged() {
  static const std::vector<Bar> bars = [] {
    const auto btc = load("binance_BTCUSDT_1m_2025-05-20_2025-08-17.csv", "BTC-USD_1m_demo.csv", "BTC-USD");
    const auto eth = load("binance_ETHUSDT_1m_2025-05-20_2025-08-17.csv", "ETH-USD_1m_demo.csv", "ETH-USD");
    std::vector<Bar> out;
    out.reserve(btc.size() + eth.size());
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < btc.size() || j < eth.size()) {
      const bool take_btc = j == eth.size() || (i < btc.size() && btc[i].open_ts_s <= eth[j].open_ts_s);
      out.push_back(take_btc ? btc[i++] : eth[j++]);
    }
    return out;
  }();
  return bars;
}

ProductSpec spec(const char* id) {
  ProductSpec s;
  s.product = ProductId::parse(id).value();
  s.base_increment = Decimal::parse("0.00000001").value();
  s.quote_increment = Decimal::parse("0.01").value();
  s.base_min_size = Decimal::parse("0.00001").value();
  return s;
}

std::vector<std::shared_ptr<const StrategyDefinition>> strategies(bool declarative) {
  if (!declarative) return {make_momentum("momentum", {}).value(), make_mean_reversion("mean_reversion", {}).value()};
  std::vector<std::shared_ptr<const StrategyDefinition>> out;
  for (const char* f : {"ema_cross.yaml", "zscore_reversion.yaml"}) {
    auto load = load_strategy_file(std::filesystem::path(TA_SOURCE_DIR) / "config" / "strategies" / f);
    if (!load.ok()) {
      std::fprintf(stderr, "%s\n", proto::join_problems(load.problems).c_str());
      std::abort();
    }
    out.push_back(load.strategy);
  }
  return out;
}

AgentEngine make_engine(bool declarative) {
  EngineConfig c;
  c.products = {spec("BTC-USD"), spec("ETH-USD")};
  c.equity = Decimal::from_integer(100'000);
  for (auto& s : strategies(declarative)) c.strategies.push_back({std::move(s), {}, Decimal::from_integer(1)});
  return AgentEngine::create(std::move(c)).value();
}

// Fills every intent at its product's next bar open, in full.
class NextBarFiller {
 public:
  void before_bar(AgentEngine& engine, const Bar& bar) {
    auto& pending = bar.product == btc_ ? btc_pending_ : eth_pending_;
    for (const Intent& in : pending) {
      DecisionEvent d;
      d.intent_id = in.intent_id;
      d.accepted = true;
      d.quantity = in.quantity;
      engine.on_decision(d);
      FillEvent f;
      f.intent_id = in.intent_id;
      f.strategy = in.strategy;
      f.product = in.product;
      f.side = in.side;
      f.quantity = in.quantity;
      f.price = Decimal::from_double(bar.open, Rounding::kHalfEven).value();
      f.ts_ns = bar.open_ts_s * 1'000'000'000LL;
      engine.on_fill(f);
      ++fills;
    }
    pending.clear();
  }
  void after_bar(const Bar& bar, std::span<const Intent> intents) {
    if (intents.empty()) return;
    auto& pending = bar.product == btc_ ? btc_pending_ : eth_pending_;
    pending.assign(intents.begin(), intents.end());
  }
  std::size_t fills = 0;

 private:
  ProductId btc_ = ProductId::parse("BTC-USD").value();
  std::vector<Intent> btc_pending_;
  std::vector<Intent> eth_pending_;
};

void BM_AgentStep(benchmark::State& state) {
  const bool declarative = state.range(0) != 0;
  const auto& bars = merged();
  std::size_t intents = 0;
  std::size_t fills = 0;
  for (auto _ : state) {
    state.PauseTiming();
    AgentEngine engine = make_engine(declarative);
    NextBarFiller filler;
    state.ResumeTiming();
    for (const Bar& bar : bars) {
      filler.before_bar(engine, bar);
      const auto out = engine.on_bar(bar);
      intents += out.size();
      filler.after_bar(bar, out);
    }
    fills += filler.fills;
    benchmark::DoNotOptimize(engine.counters().bars);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * bars.size()));
  state.counters["intents_per_pass"] = static_cast<double>(intents) / static_cast<double>(state.iterations());
  state.counters["fills_per_pass"] = static_cast<double>(fills) / static_cast<double>(state.iterations());
  state.SetLabel(declarative ? "declarative (ema_cross + zscore_reversion)" : "built-in (momentum + mean_reversion)");
}
BENCHMARK(BM_AgentStep)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// The same without the engine: the two strategies' instances alone
// (indicator updates and entry evaluation), for the split of the cost.
void BM_StrategiesOnly(benchmark::State& state) {
  const bool declarative = state.range(0) != 0;
  const auto& bars = merged();
  const auto defs = strategies(declarative);
  std::size_t signals = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<std::unique_ptr<StrategyInstance>> inst;  // [product * 2 + strategy]
    for (int p = 0; p < 2; ++p) {
      for (const auto& d : defs) inst.push_back(d->instantiate());
    }
    const ProductId btc = ProductId::parse("BTC-USD").value();
    state.ResumeTiming();
    for (const Bar& bar : bars) {
      const std::size_t base = bar.product == btc ? 0 : 2;
      for (std::size_t k = base; k < base + 2; ++k) {
        if (inst[k]->update(bar)) signals += inst[k]->entry(bar).kind != SignalKind::kNone;
      }
    }
  }
  benchmark::DoNotOptimize(signals);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * bars.size()));
  state.SetLabel(declarative ? "declarative" : "built-in");
}
BENCHMARK(BM_StrategiesOnly)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
