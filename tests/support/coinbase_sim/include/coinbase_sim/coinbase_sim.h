// A protocol-faithful simulator of Coinbase Advanced Trade's public market
// data, for tests (there is no internet here, and Coinbase's sandbox has no
// market data). It serves, on 127.0.0.1 with ephemeral ports:
//
//   HTTP  GET /api/v3/brokerage/market/products/{id}/candles
//             ?start=S&end=E&granularity=ONE_MINUTE[&limit=N]
//         from candles loaded per product (e.g. a shared/data CSV): rows with
//         start in [S, E), newest first, every number a JSON string. More than
//         350 buckets ((E - S) / 60), or more than `limit`, is refused with
//         400 and the gRPC-gateway error body
//         {"error":"INVALID_ARGUMENT","code":3,"message":...,"error_details":...,"details":[]}.
//         GET /api/v3/brokerage/time answers the market clock.
//   WS    subscribe/unsubscribe (one channel per message), the subscriptions
//         ack listing all of the connection's subscriptions, heartbeats (with
//         heartbeat_counter), market_trades (snapshot of recent trades on
//         subscribe, then updates, each batch newest first) and ticker
//         (snapshot, then updates); the envelope's sequence_num counts every
//         message of a connection from 0. A connection that subscribes to
//         nothing within subscribe_deadline_ms is closed; more client
//         messages per second than messages_per_second_max get an error.
//
// Market data is driven by the test: publish_* calls, or a seeded trade
// generator that advances the market clock in ticks. Faults can be
// injected: HTTP 429/500/503, no response, a closed connection, a broken
// body; WebSocket dropped (sequence gap), duplicated, replayed (out of
// order) and swapped messages, malformed frames, bad field values,
// disconnects, a stalled server, refused connections.
//
// Threading: everything runs on the caller's io_context; call the member
// functions on its thread, or while it is not running.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proto/result.h"

namespace boost::asio {
class io_context;
}

namespace ta::coinbase_sim {

// One candle as served; the numbers stay the text they were loaded as.
struct SimCandle {
  std::int64_t start_s = 0;
  std::string open, high, low, close, volume;
};

// Reads a bar CSV (`ts,open,high,low,close,volume`, ts ascending, as in
// shared/data). Fields are checked to be plain numbers and kept as text.
Result<std::vector<SimCandle>> load_candles_csv(const std::filesystem::path& path);

struct SimTrade {
  std::string product;
  std::uint64_t trade_id = 0;
  std::int64_t time_us = 0;  // Unix microseconds
  std::string price;         // decimal text as sent
  std::string size;
  bool maker_buy = true;  // side "BUY" (maker bought) or "SELL"
  // The values as numbers, for tests that build expected bars.
  double price_value = 0;
  double size_value = 0;
};

enum class HttpFault {
  kTooManyRequests,     // 429 RESOURCE_EXHAUSTED
  kInternalError,       // 500 INTERNAL
  kServiceUnavailable,  // 503 UNAVAILABLE
  kNoResponse,          // read the request, never answer
  kCloseConnection,     // close the connection without an answer
  kMalformedBody,       // 200 with the JSON body cut in half
};

enum class WsFault {
  kDropNext,       // the next message is not sent but uses its sequence_num: a gap
  kDuplicateNext,  // the next message is sent twice
  kReplayOld,      // after the next message, the one before it is sent again: out of order
  kSwapNext,       // the next two messages are sent in reverse order: a gap, then out of order
  kBadFieldNext,   // the next message with a "price" gets an unparsable price
};

struct GeneratorConfig {
  std::uint64_t seed = 1;
  // Product id and starting price in cents.
  std::vector<std::pair<std::string, std::int64_t>> products;
  std::int64_t start_time_us = 0;  // market time before the first tick
  // Each tick advances the market clock by tick_market_us, publishes that
  // interval's trades in 250 ms batches, a ticker per product that traded
  // and one heartbeat. Ticks run every tick_real_ms of real time.
  std::int64_t tick_market_us = 1'000'000;
  std::int64_t tick_real_ms = 5;
  int trades_per_tick_max = 4;  // per product, uniform in [0, max]
  std::uint64_t ticks_max = 0;  // stop after this many ticks (0: until stop_generator)
};

struct SimConfig {
  std::string host = "127.0.0.1";
  std::uint16_t ws_port = 0;    // 0: ephemeral
  std::uint16_t http_port = 0;  // 0: ephemeral
  // Coinbase closes a connection with no subscription after about 5 s.
  std::int64_t subscribe_deadline_ms = 5'000;
  // Real-time heartbeat period for heartbeats subscribers (Coinbase: 1 s);
  // 0 sends heartbeats only from publish_heartbeat() and generator ticks.
  std::int64_t heartbeat_interval_ms = 1'000;
  // Coinbase documents heartbeat_counter as a string and sends an integer.
  bool heartbeat_counter_as_string = false;
  // Client messages per second over all connections (Coinbase: 8
  // unauthenticated messages per second per IP; 0 = no limit).
  int messages_per_second_max = 8;
  // Candle requests per second (Coinbase: about 10 public requests per
  // second per IP; 0 = no limit). Over the limit: 429.
  int http_requests_per_second_max = 0;
  // Recent trades per product sent in the market_trades snapshot.
  std::size_t trades_snapshot_max = 50;
  // Outgoing messages queued per connection; more closes the connection
  // as a slow consumer.
  std::size_t outbound_queue_max = 4'096;
  std::size_t connections_max = 64;          // per protocol
  std::size_t client_message_bytes_max = 64 * 1024;
};

struct SimStats {
  std::uint64_t ws_connections_accepted = 0;
  std::uint64_t ws_connections_refused = 0;
  std::uint64_t ws_client_messages = 0;
  std::uint64_t ws_subscribes = 0;
  std::uint64_t ws_unsubscribes = 0;
  std::uint64_t ws_errors_sent = 0;
  std::uint64_t ws_messages_sent = 0;
  std::uint64_t ws_deadline_closes = 0;
  std::uint64_t ws_slow_consumer_closes = 0;
  std::uint64_t ws_rate_limited = 0;
  std::uint64_t ws_faults_applied = 0;
  std::uint64_t http_requests = 0;
  std::uint64_t http_candle_requests = 0;
  std::uint64_t http_candles_served = 0;
  std::uint64_t http_too_many_candles = 0;  // 400 for more than 350 buckets
  std::uint64_t http_bad_requests = 0;      // other 4xx
  std::uint64_t http_rate_limited = 0;
  std::uint64_t http_faults_applied = 0;
};

class CoinbaseSim {
 public:
  // Throws std::invalid_argument (start-up) for a bad config.
  CoinbaseSim(boost::asio::io_context& io, SimConfig config);
  ~CoinbaseSim();
  CoinbaseSim(const CoinbaseSim&) = delete;
  CoinbaseSim& operator=(const CoinbaseSim&) = delete;

  // Binds and listens; the ports are known after it returns.
  Status start();
  // Closes listeners and connections, stops timers. Idempotent.
  void stop();
  std::uint16_t ws_port() const;
  std::uint16_t http_port() const;
  std::string ws_url() const;    // "ws://127.0.0.1:PORT"
  std::string http_url() const;  // "http://127.0.0.1:PORT"

  // ---- REST ----
  // Candles of `product`, ascending by start (replaces earlier ones).
  void set_candles(const std::string& product, std::vector<SimCandle> candles);
  // Faults for the next candle requests, one per request, in order.
  void push_http_faults(const std::vector<HttpFault>& faults);
  std::size_t http_faults_pending() const;

  // ---- WebSocket market data ----
  void set_market_time_us(std::int64_t time_us);
  std::int64_t market_time_us() const;
  // One market_trades message per product (batch newest first) to every
  // connection subscribed to it; remembered for snapshots. Trades need
  // increasing ids per product.
  void publish_trades(const std::vector<SimTrade>& trades);
  void publish_ticker(const std::string& product, const std::string& price, const std::string& best_bid,
                      const std::string& best_ask);
  void publish_heartbeat();
  // A text frame outside the protocol (no sequence_num) to every
  // connection, e.g. malformed JSON.
  void publish_raw(const std::string& text);
  // Applies `fault` to the next message on `channel` ("" = any channel) of
  // every open connection.
  void inject(WsFault fault, const std::string& channel = "");
  // Closes every WebSocket connection's TCP socket at once.
  void disconnect_all();
  // While stalled nothing is sent (no heartbeats either).
  void set_stalled(bool stalled);
  // The next `count` WebSocket upgrades are answered 503.
  void refuse_connections(int count);

  // ---- trade generator ----
  void start_generator(GeneratorConfig config);
  void stop_generator();
  bool generator_running() const;
  // Every trade published so far (publish_trades and the generator).
  const std::vector<SimTrade>& published_trades() const;

  const SimStats& stats() const;
  std::size_t ws_connections_open() const;
  // Text messages received from clients, in order (subscribe, ...).
  const std::vector<std::string>& client_messages() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Helpers shared with tests.
// "2023-02-09T20:32:50.714964000Z" (nanosecond digits, as Coinbase).
std::string format_rfc3339(std::int64_t time_us);
// Unix seconds of a UTC date and time.
std::int64_t unix_seconds(int year, int month, int day, int hour = 0, int minute = 0, int second = 0);

}  // namespace ta::coinbase_sim
