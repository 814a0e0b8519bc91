// Parsing Coinbase WebSocket messages: a market_trades batch of N trades
// and a heartbeat. Reports bytes/s and trades/s; not a timed assertion.
#include <benchmark/benchmark.h>

#include <string>

#include "coinbase/ws_message.h"

namespace {

std::string trades_message(int trades) {
  std::string s =
      R"({"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":7,"events":[{"type":"update","trades":[)";
  for (int i = 0; i < trades; ++i) {
    if (i > 0) s += ",";
    s += R"({"trade_id":")" + std::to_string(900'000'000 + i) +
         R"(","product_id":"BTC-USD","price":"61234.56","size":"0.00123456","side":"BUY","time":"2024-06-01T12:00:00.123456Z"})";
  }
  s += "]}]}";
  return s;
}

void BM_ParseMarketTrades(benchmark::State& state) {
  const std::string text = trades_message(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto p = ta::agent::coinbase::parse_ws_message(text);
    if (!p.message.ok()) state.SkipWithError("refused");
    benchmark::DoNotOptimize(p);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.SetItemsProcessed(state.iterations() * state.range(0));  // trades
}
BENCHMARK(BM_ParseMarketTrades)->Arg(1)->Arg(50)->Arg(1000);

void BM_ParseHeartbeat(benchmark::State& state) {
  const std::string text =
      R"({"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26.122969572Z","sequence_num":0,"events":[{"current_time":"2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105","heartbeat_counter":3049}]})";
  for (auto _ : state) {
    auto p = ta::agent::coinbase::parse_ws_message(text);
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseHeartbeat);

}  // namespace
