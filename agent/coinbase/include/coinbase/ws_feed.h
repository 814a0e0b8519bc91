// The live market-data feed from the Coinbase Advanced Trade WebSocket.
//
// CoinbaseWsFeed is a market Feed (market/feed.h): it connects to the
// market-data endpoint, subscribes to heartbeats, market_trades and ticker
// for the configured products, turns trades into 1-minute bars with one
// BarAggregator per product and pushes the bars to the FeedHandler.
//
// Per message (docs/coinbase-market-data.md describes each step):
//   * parse strictly (coinbase/ws_message.h); a refused message is counted
//     and logged, never used;
//   * check the envelope's sequence_num, which counts every message of one
//     connection: next = previous + 1 is normal; equal to the previous is a
//     duplicate and lower is out of order (both counted and ignored); higher
//     is a gap (messages were lost): counted, and that message is not used
//     either; the connection is closed and re-opened, which re-subscribes
//     and brings a fresh market_trades snapshot of recent trades in
//     trade-id order (trades already seen are dropped by id in the
//     aggregator, lost ones still inside their minute's grace are added);
//   * market_trades: trades sorted by trade id per product, then
//     BarAggregator::on_trade (duplicates, late trades and bad values are
//     handled and counted there);
//   * ticker: best bid/ask -> BarAggregator::on_quote at the message time;
//   * heartbeats: the venue clock -> BarAggregator::on_clock, so quiet
//     minutes still close on time;
//   * {"type":"error"}: logged; the connection is re-opened.
// The first bar delivered is that of the first minute that begins at or
// after the venue time of the first complete subscribe acknowledgement:
// earlier minutes were not watched from their start (the subscribe
// snapshot holds only recent trades), so their bars are counted as
// bars_incomplete and dropped. Later reconnects keep minutes open across
// the outage; trades lost there and not in the snapshot stay lost.
// Liveness: any frame resets a staleness watchdog; no frame for
// stale_timeout_ms, or no subscribe acknowledgement for all channels within
// subscribe_ack_timeout_ms, closes the connection. Every reconnect waits an
// exponential backoff with jitter; when reconnect_attempts_max reconnects
// in a row have failed, the feed gives up with a kError event.
//
// Threading: everything runs on the caller's io_context; handler calls come
// from inside io_context::run() on its thread. Call start(), stop() and the
// accessors from that thread (or while the io_context is not running).
// The io_context must outlive the feed's pending operations: destroy the
// feed, then let run() finish (or destroy the io_context).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coinbase/backoff.h"
#include "coinbase/ws_message.h"
#include "market/aggregator.h"
#include "market/feed.h"

namespace boost::asio {
class io_context;
}

namespace ta::agent::coinbase {

inline constexpr std::string_view kMarketDataUrl = "wss://advanced-trade-ws.coinbase.com";

struct WsFeedConfig {
  // Products per feed. Each product costs one aggregator and two
  // subscriptions; the agent trades a handful, and Coinbase documents no
  // per-connection maximum, so 64 is a sanity bound, not a venue limit.
  static constexpr std::size_t products_max = 64;
  // Upper bound of every timeout below: ten minutes.
  static constexpr std::int64_t timeout_ms_max = 600'000;
  // Upper bound of reconnect_attempts_max: with the default 30 s backoff
  // cap, 10,000 is more than three days of retrying.
  static constexpr std::uint32_t reconnect_attempts_limit = 10'000;

  // ws://host:port/path or wss://host[:port]/path (TLS, certificate and
  // host name verified against the system trust store).
  std::string url = std::string(kMarketDataUrl);
  std::vector<ProductId> products;  // 1..products_max, distinct
  AggregatorConfig aggregator;
  WsParseLimits parse;

  // Resolve + TCP connect + TLS + WebSocket handshake must finish within
  // this. The subscribes follow at once: Coinbase drops a connection with no
  // subscription after 5 s.
  std::int64_t connect_timeout_ms = 10'000;
  // Every channel must be acknowledged (subscriptions message) within this
  // after the handshake; otherwise the connection is re-opened.
  std::int64_t subscribe_ack_timeout_ms = 5'000;
  // No frame at all for this long re-opens the connection. Heartbeats come
  // every second, so 5 s is five missed heartbeats (Coinbase's suggested
  // liveness timeout).
  std::int64_t stale_timeout_ms = 5'000;
  // Reconnect delays. The 500 ms floor keeps us under Coinbase's 8
  // unauthenticated messages per second per IP (3 subscribes per connect,
  // at most 2 connects per second); the cap keeps an outage recovery
  // within 30 s of the venue coming back.
  BackoffConfig backoff{500, 30'000, 0.5};
  // A session that stayed connected this long resets the backoff, so a
  // feed that flaps (connects, then fails at once) keeps backing off.
  std::int64_t stable_session_ms = 30'000;
  // Reconnects in a row that may fail (a failure is a connect that does
  // not complete or a session shorter than stable_session_ms) before the
  // feed gives up with kError: 100 is about 50 minutes at the 30 s cap.
  // In [1, reconnect_attempts_limit].
  std::uint32_t reconnect_attempts_max = 100;
  // Seeds the backoff jitter (log it to replay a run).
  std::uint64_t seed = 0;
};

enum class WsFeedState {
  kIdle,         // not started
  kConnecting,   // resolve, connect, handshakes
  kSubscribing,  // connected, waiting for the subscribe acks
  kStreaming,    // all channels acknowledged
  kWaiting,      // backoff before the next connect
  kStopped,      // stop() was called
  kFailed,       // gave up (kError delivered)
};
std::string_view describe(WsFeedState state);

// Counters over the feed's life (all connections).
struct WsFeedStats {
  std::uint64_t connect_attempts = 0;
  std::uint64_t connects = 0;          // WebSocket handshakes completed
  std::uint64_t connect_failures = 0;  // attempts that never reached the handshake's end
  std::uint64_t disconnects = 0;       // connected sessions that ended, for any reason
  std::uint64_t subscribe_acks = 0;    // subscriptions messages received
  std::uint64_t frames = 0;            // every frame received
  std::uint64_t malformed = 0;         // refused by the parser (or binary frames)
  std::uint64_t ignored = 0;           // well-formed messages of channels we do not use
  std::uint64_t duplicates = 0;        // sequence_num equal to the previous one
  std::uint64_t out_of_order = 0;      // sequence_num below the previous one
  std::uint64_t sequence_gaps = 0;     // sequence_num above previous + 1
  std::uint64_t messages_missed = 0;   // sum of the gaps' sizes
  std::uint64_t heartbeats = 0;
  std::uint64_t heartbeat_counter_gaps = 0;
  std::uint64_t trades = 0;                  // trades in accepted messages
  std::uint64_t trades_unknown_product = 0;  // not one of ours: skipped
  std::uint64_t tickers = 0;
  std::uint64_t venue_errors = 0;  // {"type":"error"} messages
  std::uint64_t stale_timeouts = 0;
  std::uint64_t ack_timeouts = 0;
  std::uint64_t gap_reconnects = 0;
  std::uint64_t reconnects = 0;  // waits scheduled before a new connect
  std::uint64_t bars = 0;        // bars delivered to the handler
  // Bars of minutes that began before the feed first streamed (not
  // delivered: the subscribe snapshot may not hold all their trades).
  std::uint64_t bars_incomplete = 0;
};

class CoinbaseWsFeed final : public Feed {
 public:
  // Throws std::invalid_argument (start-up) when `config` is out of range
  // or the URL is not ws:// or wss://.
  CoinbaseWsFeed(boost::asio::io_context& io, WsFeedConfig config);
  ~CoinbaseWsFeed() override;
  CoinbaseWsFeed(const CoinbaseWsFeed&) = delete;
  CoinbaseWsFeed& operator=(const CoinbaseWsFeed&) = delete;

  // Starts connecting (asynchronously, on the io_context). Fails when
  // already started or stopped.
  Status start(FeedHandler& handler) override;
  // Closes the connection and cancels timers; no handler call after it
  // returns. Idempotent.
  void stop() override;

  WsFeedState state() const;
  const WsFeedStats& stats() const;
  // The aggregator's counters for one of the configured products.
  std::optional<AggregatorStats> aggregator_stats(ProductId product) const;
  // Why the last connection ended ("" before the first one ended).
  const std::string& last_disconnect_reason() const;

 private:
  struct Core;
  std::shared_ptr<Core> core_;
};

}  // namespace ta::agent::coinbase
