// Throughput of the agent's market-data hot paths:
//  * per-bar cost of updating every streaming indicator of one product
//    (and each indicator alone, and the regime classifier);
//  * CSV load rate (bars/s), from memory and from a file;
//  * replay feed at maximum speed and trade aggregation.
// Data: the 90-day Binance BTC file from TA_SHARED_DATA (default
// ../shared/data next to the source tree) when present, else the shipped
// 3-day demo file. Not a test: no timed assertions.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "indicators/indicators.h"
#include "indicators/regime.h"
#include "market/market.h"

namespace {

using namespace ta::agent;
using namespace ta::agent::ind;

std::filesystem::path data_file() {
  const char* shared = std::getenv("TA_SHARED_DATA");
  const std::filesystem::path dir =
      shared != nullptr ? std::filesystem::path(shared) : std::filesystem::path(TA_SOURCE_DIR) / ".." / "shared" / "data";
  const auto big = dir / "binance_BTCUSDT_1m_2025-05-20_2025-08-17.csv";
  if (std::filesystem::exists(big)) return big;
  return std::filesystem::path(TA_SOURCE_DIR) / "data" / "demo" / "BTC-USD_1m_demo.csv";
}

const std::string& csv_text() {
  static const std::string text = [] {
    std::ifstream in(data_file(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }();
  return text;
}

const std::vector<Bar>& bars() {
  static const std::vector<Bar> loaded = [] {
    auto r = parse_bars_csv(csv_text(), "bench", ProductId::parse("BTC-USD").value());
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.error().message.c_str());
      std::abort();
    }
    std::fprintf(stderr, "bench data: %s (%zu bars)\n", data_file().c_str(), r.value().bars.size());
    return std::move(r.value().bars);
  }();
  return loaded;
}

// Every streaming indicator of one product, as a strategy host would hold
// them (the usual periods).
struct AllIndicators {
  Sma sma{20};
  Ema ema{20};
  Rsi rsi{14};
  Atr atr{14};
  Bollinger bollinger{20, 2.0};
  Vwap vwap_rolling = Vwap::rolling(60);
  Vwap vwap_session = Vwap::session_utc_day();
  ZScore zscore{20};
  RealizedVol vol{60};
  Donchian donchian{20};

  double update(const Bar& b) {
    double sink = sma.update(b.close);
    sink += ema.update(b.close);
    sink += rsi.update(b.close);
    sink += atr.update(b);
    sink += bollinger.update(b.close).upper;
    sink += vwap_rolling.update(b);
    sink += vwap_session.update(b);
    sink += zscore.update(b.close);
    sink += vol.update(b.close);
    sink += donchian.update(b).upper;
    return sink;
  }
};

void BM_AllIndicatorsPerBar(benchmark::State& state) {
  const auto& data = bars();
  AllIndicators ind;
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ind.update(data[i]));
    if (++i == data.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetLabel("10 indicators, items = bars");
}
BENCHMARK(BM_AllIndicatorsPerBar);

template <class Make, class Update>
void per_bar(benchmark::State& state, Make make, Update update) {
  const auto& data = bars();
  auto ind = make();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(update(ind, data[i]));
    if (++i == data.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_Sma20(benchmark::State& s) {
  per_bar(s, [] { return Sma(20); }, [](Sma& x, const Bar& b) { return x.update(b.close); });
}
void BM_Ema20(benchmark::State& s) {
  per_bar(s, [] { return Ema(20); }, [](Ema& x, const Bar& b) { return x.update(b.close); });
}
void BM_Rsi14(benchmark::State& s) {
  per_bar(s, [] { return Rsi(14); }, [](Rsi& x, const Bar& b) { return x.update(b.close); });
}
void BM_Atr14(benchmark::State& s) {
  per_bar(s, [] { return Atr(14); }, [](Atr& x, const Bar& b) { return x.update(b); });
}
void BM_Bollinger20(benchmark::State& s) {
  per_bar(s, [] { return Bollinger(20, 2.0); }, [](Bollinger& x, const Bar& b) { return x.update(b.close).upper; });
}
void BM_VwapRolling60(benchmark::State& s) {
  per_bar(s, [] { return Vwap::rolling(60); }, [](Vwap& x, const Bar& b) { return x.update(b); });
}
void BM_VwapSession(benchmark::State& s) {
  per_bar(s, [] { return Vwap::session_utc_day(); }, [](Vwap& x, const Bar& b) { return x.update(b); });
}
void BM_ZScore20(benchmark::State& s) {
  per_bar(s, [] { return ZScore(20); }, [](ZScore& x, const Bar& b) { return x.update(b.close); });
}
void BM_RealizedVol60(benchmark::State& s) {
  per_bar(s, [] { return RealizedVol(60); }, [](RealizedVol& x, const Bar& b) { return x.update(b.close); });
}
void BM_Donchian20(benchmark::State& s) {
  per_bar(s, [] { return Donchian(20); }, [](Donchian& x, const Bar& b) { return x.update(b).upper; });
}
void BM_RegimeClassifier(benchmark::State& s) {
  per_bar(s, [] { return RegimeClassifier(); },
          [](RegimeClassifier& x, const Bar& b) { return static_cast<int>(x.update(b)); });
}
BENCHMARK(BM_Sma20);
BENCHMARK(BM_Ema20);
BENCHMARK(BM_Rsi14);
BENCHMARK(BM_Atr14);
BENCHMARK(BM_Bollinger20);
BENCHMARK(BM_VwapRolling60);
BENCHMARK(BM_VwapSession);
BENCHMARK(BM_ZScore20);
BENCHMARK(BM_RealizedVol60);
BENCHMARK(BM_Donchian20);
BENCHMARK(BM_RegimeClassifier);

// Parsing and validating the whole file from memory: items = bars.
void BM_CsvParse(benchmark::State& state) {
  const std::string& text = csv_text();
  const ProductId id = ProductId::parse("BTC-USD").value();
  std::size_t n = 0;
  for (auto _ : state) {
    auto r = parse_bars_csv(text, "bench", id);
    n = r.value().bars.size();
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_CsvParse)->Unit(benchmark::kMillisecond);

// The same through read_bars_csv (file in the page cache): items = bars.
void BM_CsvReadFile(benchmark::State& state) {
  const auto path = data_file();
  const ProductId id = ProductId::parse("BTC-USD").value();
  std::size_t n = 0;
  for (auto _ : state) {
    auto r = read_bars_csv(path, id);
    n = r.value().bars.size();
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK(BM_CsvReadFile)->Unit(benchmark::kMillisecond);

struct CountingHandler final : FeedHandler {
  void on_bar(const Bar& b) override { sum += b.close; }
  void on_feed_event(const FeedEvent&) override { ++events; }
  double sum = 0;
  std::size_t events = 0;
};

// Replay at maximum speed on a ManualScheduler: items = bars delivered.
void BM_ReplayMaxSpeed(benchmark::State& state) {
  const auto& data = bars();
  for (auto _ : state) {
    ManualScheduler sched;
    ReplayFeed feed(data, sched, ReplayOptions{});
    CountingHandler h;
    if (!feed.start(h).ok()) std::abort();
    sched.run_all();
    benchmark::DoNotOptimize(h.sum);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_ReplayMaxSpeed)->Unit(benchmark::kMillisecond);

// Trades into bars: 20 trades per minute, items = trades.
void BM_AggregateTrades(benchmark::State& state) {
  const ProductId id = ProductId::parse("BTC-USD").value();
  std::size_t bars_out = 0;
  BarAggregator agg(id, AggregatorConfig{}, [&](const Bar&) { ++bars_out; });
  std::uint64_t trade_id = 1;
  std::int64_t t = 1'752'105'600LL * kMicrosPerSecond;
  for (auto _ : state) {
    const double price = 100'000.0 + static_cast<double>(trade_id % 97);
    benchmark::DoNotOptimize(agg.on_trade(Trade{id, trade_id++, t, price, 0.01}));
    t += 3'000'000;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  benchmark::DoNotOptimize(bars_out);
}
BENCHMARK(BM_AggregateTrades);

}  // namespace
