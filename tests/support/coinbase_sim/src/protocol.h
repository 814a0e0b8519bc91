// The simulator's protocol logic without I/O: message texts, the candles
// endpoint and time formats. Private to ta_coinbase_sim.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "coinbase_sim/coinbase_sim.h"

namespace ta::coinbase_sim::detail {

// Documented maximum of candles per request.
inline constexpr std::int64_t kCandlesPerRequestMax = 350;

struct HttpReply {
  unsigned status = 200;
  std::string body;
  bool too_many_candles = false;  // the 350-bucket refusal
  std::uint64_t rows = 0;         // candles in a 200 answer
};

// gRPC-gateway error body (docs: error, code, message, details; observed:
// error_details).
std::string error_body(std::string_view error, int code, std::string_view message);

// Answers GET .../products/{product}/candles?query. `candles` is null for an
// unknown product.
HttpReply candles_reply(std::string_view product, const std::vector<SimCandle>* candles, std::string_view query);

// {"iso":...,"epochSeconds":"...","epochMillis":"..."}
std::string time_reply(std::int64_t time_us);

// Go's time.String() form used in heartbeats:
// "2023-06-23 20:31:56.121961000 +0000 UTC m=+0.000000001".
std::string format_go_time(std::int64_t time_us);

// Envelope {"channel":..,"client_id":"","timestamp":..,"sequence_num":N,"events":EVENTS}
// with `events_json` inserted verbatim.
std::string envelope(std::string_view channel, std::int64_t time_us, std::uint64_t sequence_num,
                     std::string_view events_json);
std::string error_message(std::string_view message);

// Events arrays (JSON text).
std::string trades_events(std::string_view type, const std::vector<SimTrade>& newest_first);
struct TickerState {
  std::string price, best_bid, best_ask;
};
std::string ticker_events(std::string_view type, const std::vector<std::pair<std::string, TickerState>>& tickers);
std::string heartbeat_events(std::int64_t time_us, std::uint64_t counter, bool counter_as_string);
// subscriptions: channel -> product ids (heartbeats lists "heartbeats").
std::string subscriptions_events(const std::map<std::string, std::vector<std::string>>& subscriptions);

// "12345.67" from cents, "0.00012345" from 1e-8 units.
std::string cents_text(std::int64_t cents);
std::string units8_text(std::int64_t units);

}  // namespace ta::coinbase_sim::detail
