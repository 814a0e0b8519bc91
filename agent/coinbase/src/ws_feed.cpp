#include "coinbase/ws_feed.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <algorithm>
#include <chrono>
#include <set>
#include <stdexcept>
#include <type_traits>

#include "log.h"
#include "net.h"

namespace ta::agent::coinbase {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// A close handshake we started must finish within this, or the socket is
// simply closed: the peer may already be gone.
constexpr milliseconds kCloseTimeout{1'000};
// Malformed messages logged per connection before switching to one line
// per kMalformedLogEvery: a broken peer must not flood the log.
constexpr std::uint64_t kMalformedLoggedMax = 10;
constexpr std::uint64_t kMalformedLogEvery = 1'000;
// Bytes of a refused message quoted in the log.
constexpr std::size_t kLoggedTextMax = 200;

template <class Ws>
constexpr bool kIsTls = !std::is_same_v<typename Ws::next_layer_type, beast::tcp_stream>;

std::int64_t ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<milliseconds>(to - from).count();
}

void check_timeout(std::int64_t value, const char* name) {
  if (value < 1 || value > WsFeedConfig::timeout_ms_max) {
    throw std::invalid_argument(std::string("coinbase ws feed: ") + name + " must be in [1, 600000] ms");
  }
}

void validate(const WsFeedConfig& c) {
  if (c.products.empty() || c.products.size() > WsFeedConfig::products_max) {
    throw std::invalid_argument("coinbase ws feed: between 1 and 64 products required");
  }
  std::set<ProductId> seen;
  for (const ProductId& p : c.products) {
    if (p.empty()) throw std::invalid_argument("coinbase ws feed: empty product id");
    if (!seen.insert(p).second) throw std::invalid_argument("coinbase ws feed: product " + p.str() + " listed twice");
  }
  check_timeout(c.connect_timeout_ms, "connect_timeout_ms");
  check_timeout(c.subscribe_ack_timeout_ms, "subscribe_ack_timeout_ms");
  check_timeout(c.stale_timeout_ms, "stale_timeout_ms");
  check_timeout(c.stable_session_ms, "stable_session_ms");
  validate(c.backoff, "coinbase ws feed backoff");
  if (c.reconnect_attempts_max < 1 || c.reconnect_attempts_max > WsFeedConfig::reconnect_attempts_limit) {
    throw std::invalid_argument("coinbase ws feed: reconnect_attempts_max must be in [1, 10000]");
  }
  if (c.parse.frame_bytes_max == 0 || c.parse.trades_max == 0 || c.parse.events_max == 0 ||
      c.parse.tickers_max == 0 || c.parse.subscription_channels_max == 0) {
    throw std::invalid_argument("coinbase ws feed: parse limits must be > 0");
  }
}

detail::Endpoint endpoint_or_throw(const std::string& url) {
  auto ep = detail::parse_endpoint(url, detail::UrlKind::kWebSocket);
  if (!ep) throw std::invalid_argument("coinbase ws feed: " + ep.error().message);
  return *ep;
}

}  // namespace

std::string_view describe(WsFeedState state) {
  switch (state) {
    case WsFeedState::kIdle:
      return "idle";
    case WsFeedState::kConnecting:
      return "connecting";
    case WsFeedState::kSubscribing:
      return "subscribing";
    case WsFeedState::kStreaming:
      return "streaming";
    case WsFeedState::kWaiting:
      return "waiting";
    case WsFeedState::kStopped:
      return "stopped";
    case WsFeedState::kFailed:
      return "failed";
  }
  return "unknown";
}

struct CoinbaseWsFeed::Core : std::enable_shared_from_this<Core> {
  enum class Phase { kConnecting, kConnected, kClosing };
  enum class SeqCheck { kNext, kDuplicate, kOutOfOrder, kGap };

  Core(asio::io_context& io_ctx, WsFeedConfig cfg)
      : io(io_ctx),
        config(std::move(cfg)),
        endpoint(endpoint_or_throw(config.url)),
        backoff(config.backoff, config.seed),
        wait_timer(io_ctx),
        watchdog(io_ctx) {
    if (endpoint.tls) tls = detail::make_tls_context();
    products = config.products;
    std::sort(products.begin(), products.end());
    for (const ProductId& p : products) {
      aggregators.push_back(
          std::make_unique<BarAggregator>(p, config.aggregator, [this](const Bar& bar) { deliver(bar); }));
    }
  }

  bool finished() const { return state == WsFeedState::kStopped || state == WsFeedState::kFailed; }

  BarAggregator* aggregator(ProductId p) {
    const auto it = std::lower_bound(products.begin(), products.end(), p);
    if (it == products.end() || *it != p) return nullptr;
    return aggregators[static_cast<std::size_t>(it - products.begin())].get();
  }

  void deliver(const Bar& bar) {
    if (finished() || handler == nullptr) return;
    // A minute that began before the feed first streamed was not watched
    // from its start: the subscribe snapshot holds only recent trades, so
    // its bar could be missing trades. It is counted, not delivered.
    if (!streaming_since_us || bar.open_ts_s * kMicrosPerSecond < *streaming_since_us) {
      ++stats.bars_incomplete;
      return;
    }
    ++stats.bars;
    handler->on_bar(bar);
  }

  // ---- session lifecycle -------------------------------------------------

  void begin_session() {
    ++session_id;
    ++stats.connect_attempts;
    state = WsFeedState::kConnecting;
    phase = Phase::kConnecting;
    session_start = Clock::now();
    connected = false;
    acked = false;
    last_seq.reset();
    last_heartbeat.reset();
    end_reason.clear();
    malformed_in_session = 0;
    arm_watchdog();
  }

  void finish_session() {
    watchdog.cancel();
    abort_session = nullptr;
    if (end_reason.empty()) end_reason = "connection closed";
    last_reason = end_reason;
    if (finished()) {
      coinbase_log().info("ws closed url={} reason=\"{}\"", config.url, end_reason);
      if (connected) ++stats.disconnects;
    } else if (connected) {
      ++stats.disconnects;
      coinbase_log().warn("ws disconnected url={} reason=\"{}\" connected_ms={}", config.url, end_reason,
                          ms_between(connected_at, Clock::now()));
    } else {
      ++stats.connect_failures;
      coinbase_log().warn("ws connect failed url={} reason=\"{}\"", config.url, end_reason);
    }
  }

  // Ends the session at once (socket closed): timeouts, stop().
  void abort(std::string reason) {
    if (end_reason.empty()) end_reason = std::move(reason);
    if (abort_session) abort_session();
  }

  // Ends the session after the current message, with a close handshake.
  void request_end(std::string reason) {
    if (end_reason.empty()) end_reason = std::move(reason);
  }

  void fail_read(const std::string& what, const boost::system::error_code& ec) {
    if (end_reason.empty()) end_reason = what + ": " + detail::describe_error(ec);
  }

  // ---- watchdog: connect deadline, subscribe ack, staleness, close -------

  Clock::time_point next_deadline() const {
    switch (phase) {
      case Phase::kConnecting:
        return session_start + milliseconds(config.connect_timeout_ms);
      case Phase::kConnected: {
        Clock::time_point t = last_rx + milliseconds(config.stale_timeout_ms);
        if (!acked) t = std::min(t, connected_at + milliseconds(config.subscribe_ack_timeout_ms));
        return t;
      }
      case Phase::kClosing:
        return close_started + kCloseTimeout;
    }
    return session_start;
  }

  void arm_watchdog() {
    watchdog.expires_at(next_deadline());
    watchdog.async_wait([self = shared_from_this(), id = session_id](const boost::system::error_code& ec) {
      if (ec || self->finished() || id != self->session_id) return;
      self->check_watchdog();
    });
  }

  void check_watchdog() {
    const Clock::time_point now = Clock::now();
    if (now < next_deadline()) {
      arm_watchdog();  // activity moved the deadline
      return;
    }
    switch (phase) {
      case Phase::kConnecting:
        abort("connect timeout after " + std::to_string(config.connect_timeout_ms) + " ms");
        return;
      case Phase::kConnected:
        if (!acked && now >= connected_at + milliseconds(config.subscribe_ack_timeout_ms)) {
          ++stats.ack_timeouts;
          abort("no subscribe acknowledgement within " + std::to_string(config.subscribe_ack_timeout_ms) + " ms");
        } else {
          ++stats.stale_timeouts;
          abort("stale: no message for " + std::to_string(config.stale_timeout_ms) + " ms");
        }
        return;
      case Phase::kClosing:
        abort(end_reason);
        return;
    }
  }

  // ---- messages ------------------------------------------------------------

  SeqCheck check_sequence(std::uint64_t seq) {
    if (!last_seq || seq == *last_seq + 1) {
      last_seq = seq;
      return SeqCheck::kNext;
    }
    if (seq == *last_seq) return SeqCheck::kDuplicate;
    if (seq < *last_seq) return SeqCheck::kOutOfOrder;
    const std::uint64_t missed = seq - *last_seq - 1;
    ++stats.sequence_gaps;
    stats.messages_missed += missed;
    coinbase_log().warn("ws sequence gap expected={} got={} missed={}", *last_seq + 1, seq, missed);
    last_seq = seq;
    return SeqCheck::kGap;
  }

  void note_malformed(std::string_view why, std::string_view text) {
    ++stats.malformed;
    ++malformed_in_session;
    if (malformed_in_session <= kMalformedLoggedMax || stats.malformed % kMalformedLogEvery == 0) {
      const std::string_view shown = text.substr(0, kLoggedTextMax);
      coinbase_log().warn("ws message refused reason=\"{}\" malformed_total={} text=\"{}{}\"", why, stats.malformed,
                          shown, text.size() > shown.size() ? "..." : "");
    }
  }

  void on_frame(std::string_view text, bool is_text) {
    ++stats.frames;
    last_rx = Clock::now();
    if (!is_text) {
      note_malformed("binary frame", {});
      return;
    }
    ParsedWsMessage parsed = parse_ws_message(text, config.parse);
    if (parsed.sequence_num) {
      switch (check_sequence(*parsed.sequence_num)) {
        case SeqCheck::kNext:
          break;
        case SeqCheck::kDuplicate:
          ++stats.duplicates;
          return;
        case SeqCheck::kOutOfOrder:
          ++stats.out_of_order;
          return;
        case SeqCheck::kGap:
          // Messages were lost. This one is not used either: the new
          // connection's market_trades snapshot carries recent trades again
          // in trade-id order, so lost trades with lower ids than this
          // message's are not shut out as out of order by the aggregator.
          ++stats.gap_reconnects;
          request_end("sequence gap: reconnecting to resubscribe");
          return;
      }
    }
    if (!parsed.message) {
      note_malformed(parsed.message.error().message, text);
    } else if (auto* env = std::get_if<WsEnvelope>(&parsed.message.value())) {
      on_envelope(*env);
    } else {
      const WsError& err = std::get<WsError>(parsed.message.value());
      ++stats.venue_errors;
      coinbase_log().warn("ws venue error message=\"{}\"", err.message);
      request_end("venue error: " + err.message);
    }
  }

  void on_envelope(WsEnvelope& env) {
    switch (env.channel) {
      case WsChannel::kSubscriptions:
        on_subscriptions(env);
        return;
      case WsChannel::kHeartbeats:
        for (const WsHeartbeat& hb : env.heartbeats) {
          ++stats.heartbeats;
          if (last_heartbeat && hb.counter != *last_heartbeat + 1) ++stats.heartbeat_counter_gaps;
          last_heartbeat = hb.counter;
          for (auto& agg : aggregators) {
            if (finished()) return;
            agg->on_clock(hb.current_time_us);
          }
        }
        return;
      case WsChannel::kMarketTrades:
        // Coinbase lists a batch newest first; the aggregator takes a lower
        // trade id after a higher one as out of order, so feed ids upwards.
        std::stable_sort(env.trades.begin(), env.trades.end(), [](const WsTrade& a, const WsTrade& b) {
          return a.trade.product != b.trade.product ? a.trade.product < b.trade.product
                                                    : a.trade.trade_id < b.trade.trade_id;
        });
        for (const WsTrade& t : env.trades) {
          if (finished()) return;
          ++stats.trades;
          if (BarAggregator* agg = aggregator(t.trade.product)) {
            agg->on_trade(t.trade);
          } else {
            ++stats.trades_unknown_product;
          }
        }
        return;
      case WsChannel::kTicker:
        for (const WsTicker& t : env.tickers) {
          if (finished()) return;
          ++stats.tickers;
          if (BarAggregator* agg = aggregator(t.product)) {
            agg->on_quote(env.timestamp_us, Quote{t.best_bid, t.best_ask});
          }
        }
        return;
      case WsChannel::kOther:
        ++stats.ignored;
        return;
    }
  }

  // The ack lists every subscription of the connection; we are streaming
  // once heartbeats and both data channels cover all our products.
  void on_subscriptions(const WsEnvelope& env) {
    ++stats.subscribe_acks;
    const auto covers = [&](std::string_view channel, bool need_products) {
      for (const WsSubscription& s : env.subscriptions) {
        if (s.channel != channel) continue;
        if (!need_products) return true;
        for (const ProductId& p : products) {
          if (std::find(s.product_ids.begin(), s.product_ids.end(), p.view()) == s.product_ids.end()) return false;
        }
        return true;
      }
      return false;
    };
    if (acked || !covers("heartbeats", false) || !covers("market_trades", true) || !covers("ticker", true)) return;
    acked = true;
    if (!streaming_since_us) streaming_since_us = env.timestamp_us;
    state = WsFeedState::kStreaming;
    arm_watchdog();
    coinbase_log().info("ws subscribed url={} products={} channels=heartbeats,market_trades,ticker", config.url,
                        products.size());
  }

  // ---- the connection ------------------------------------------------------

  // Resolve, connect, TLS, WebSocket handshake. False (with end_reason
  // set) when the session is over.
  template <class Ws>
  asio::awaitable<bool> open(Ws& ws, tcp::resolver& resolver) {
    auto& lowest = beast::get_lowest_layer(ws);
    auto [rec, results] = co_await resolver.async_resolve(endpoint.host, endpoint.port, kUse);
    if (rec) fail_read("resolve " + endpoint.host, rec);
    if (!end_reason.empty()) co_return false;
    auto [cec, peer] = co_await lowest.async_connect(results, kUse);
    if (cec) fail_read("connect " + endpoint.host + ":" + endpoint.port, cec);
    if (!end_reason.empty()) co_return false;
    // Small messages (subscribes) go out at once, not after a delayed ACK.
    boost::system::error_code nec;
    lowest.socket().set_option(tcp::no_delay(true), nec);
    if constexpr (kIsTls<Ws>) {
      auto& tls_stream = ws.next_layer();
      if (SSL_set_tlsext_host_name(tls_stream.native_handle(), endpoint.host.c_str()) != 1) {
        request_end("TLS: cannot set server name");
        co_return false;
      }
      tls_stream.set_verify_callback(asio::ssl::host_name_verification(endpoint.host));
      auto [hec] = co_await tls_stream.async_handshake(asio::ssl::stream_base::client, kUse);
      if (hec) fail_read("TLS handshake", hec);
      if (!end_reason.empty()) co_return false;
    }
    ws.set_option(websocket::stream_base::timeout{milliseconds(config.connect_timeout_ms),
                                                  websocket::stream_base::none(), false});
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& req) { req.set(beast::http::field::user_agent, "trading-agent"); }));
    ws.read_message_max(config.parse.frame_bytes_max);
    auto [wec] = co_await ws.async_handshake(endpoint.host_header, endpoint.path, kUse);
    if (wec) fail_read("WebSocket handshake", wec);
    co_return end_reason.empty();
  }

  void on_connected() {
    connected = true;
    connected_at = last_rx = Clock::now();
    phase = Phase::kConnected;
    state = WsFeedState::kSubscribing;
    ++stats.connects;
    arm_watchdog();
    coinbase_log().info("ws connected url={}", config.url);
  }

  // One channel per subscribe message, as Coinbase requires.
  template <class Ws>
  asio::awaitable<bool> subscribe(Ws& ws) {
    ws.text(true);
    const std::string subscribes[] = {make_subscribe_message("heartbeats", {}),
                                      make_subscribe_message("market_trades", products),
                                      make_subscribe_message("ticker", products)};
    for (const std::string& msg : subscribes) {
      auto [sec, sent] = co_await ws.async_write(asio::buffer(msg), kUse);
      if (sec) fail_read("subscribe", sec);
      if (!end_reason.empty()) co_return false;
    }
    co_return true;
  }

  // Reads until the connection fails or we decide to end it; then, if it
  // was our decision, closes politely within kCloseTimeout.
  template <class Ws>
  asio::awaitable<void> stream(Ws& ws) {
    beast::flat_buffer buffer;
    for (;;) {
      auto [ec, bytes] = co_await ws.async_read(buffer, kUse);
      if (ec) {
        if (ec == websocket::error::message_too_big) note_malformed("frame larger than frame_bytes_max", {});
        fail_read("read", ec);
        co_return;
      }
      const auto data = buffer.cdata();
      on_frame(std::string_view(static_cast<const char*>(data.data()), data.size()), ws.got_text());
      buffer.consume(buffer.size());
      if (finished() || !end_reason.empty()) break;
    }
    if (finished()) co_return;
    phase = Phase::kClosing;
    close_started = Clock::now();
    arm_watchdog();
    auto [xec] = co_await ws.async_close(websocket::close_code::normal, kUse);
    (void)xec;  // the session is over either way
  }

  template <class Ws>
  asio::awaitable<void> connect_and_stream(Ws& ws, tcp::resolver& resolver) {
    auto& lowest = beast::get_lowest_layer(ws);
    abort_session = [&resolver, &lowest] {
      resolver.cancel();
      lowest.close();
    };
    if (!co_await open(ws, resolver)) co_return;
    on_connected();
    if (!co_await subscribe(ws)) co_return;
    co_await stream(ws);
  }

  asio::awaitable<void> session() {
    begin_session();
    tcp::resolver resolver(io);
    if (endpoint.tls) {
      websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(io, *tls);
      co_await connect_and_stream(ws, resolver);
    } else {
      websocket::stream<beast::tcp_stream> ws(io);
      co_await connect_and_stream(ws, resolver);
    }
    finish_session();
  }

  void fail(std::string message) {
    state = WsFeedState::kFailed;
    coinbase_log().error("ws feed gave up url={} reason=\"{}\"", config.url, message);
    FeedHandler* h = handler;
    handler = nullptr;
    if (h != nullptr) {
      FeedEvent event;
      event.kind = FeedEventKind::kError;
      event.message = std::move(message);
      h->on_feed_event(event);
    }
  }

  static asio::awaitable<void> run(std::shared_ptr<Core> self) {
    while (!self->finished()) {
      co_await self->session();
      if (self->finished()) co_return;
      if (self->connected && Clock::now() - self->connected_at >= milliseconds(self->config.stable_session_ms)) {
        self->backoff.reset();
      }
      if (self->backoff.attempts() >= self->config.reconnect_attempts_max) {
        self->fail("coinbase ws: gave up after " + std::to_string(self->backoff.attempts()) +
                   " reconnect attempts in a row; last: " + self->last_reason);
        co_return;
      }
      const std::int64_t delay_ms = self->backoff.next_delay_ms();
      ++self->stats.reconnects;
      self->state = WsFeedState::kWaiting;
      coinbase_log().info("ws reconnect in_ms={} attempt={}", delay_ms, self->backoff.attempts());
      self->wait_timer.expires_after(milliseconds(delay_ms));
      auto [ec] = co_await self->wait_timer.async_wait(kUse);
      (void)ec;  // cancelled by stop(): the loop condition ends it
    }
  }

  void stop() {
    if (finished()) return;
    state = WsFeedState::kStopped;
    handler = nullptr;
    wait_timer.cancel();
    watchdog.cancel();
    abort("stopped");
  }

  asio::io_context& io;
  WsFeedConfig config;
  detail::Endpoint endpoint;
  std::unique_ptr<asio::ssl::context> tls;
  Backoff backoff;
  asio::steady_timer wait_timer;
  asio::steady_timer watchdog;
  std::vector<ProductId> products;  // sorted
  std::vector<std::unique_ptr<BarAggregator>> aggregators;  // parallel to products
  FeedHandler* handler = nullptr;
  WsFeedState state = WsFeedState::kIdle;
  WsFeedStats stats;
  std::string last_reason;
  // Venue time of the first complete subscribe acknowledgement.
  std::optional<std::int64_t> streaming_since_us;
  // Closes the current connection; set while a session runs.
  std::function<void()> abort_session;

  // Per session.
  std::uint64_t session_id = 0;
  Phase phase = Phase::kConnecting;
  Clock::time_point session_start;
  Clock::time_point connected_at;
  Clock::time_point last_rx;
  Clock::time_point close_started;
  bool connected = false;
  bool acked = false;
  std::optional<std::uint64_t> last_seq;
  std::optional<std::uint64_t> last_heartbeat;
  std::string end_reason;
  std::uint64_t malformed_in_session = 0;
};

CoinbaseWsFeed::CoinbaseWsFeed(boost::asio::io_context& io, WsFeedConfig config) {
  validate(config);
  core_ = std::make_shared<Core>(io, std::move(config));
}

CoinbaseWsFeed::~CoinbaseWsFeed() { core_->stop(); }

Status CoinbaseWsFeed::start(FeedHandler& handler) {
  if (core_->state != WsFeedState::kIdle) {
    return make_error(std::string("coinbase ws feed: cannot start when ") + std::string(describe(core_->state)));
  }
  core_->handler = &handler;
  coinbase_log().info("ws feed start url={} products={} seed={}", core_->config.url, core_->products.size(),
                      core_->config.seed);
  asio::co_spawn(core_->io, Core::run(core_), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  core_->state = WsFeedState::kConnecting;
  return {};
}

void CoinbaseWsFeed::stop() { core_->stop(); }

WsFeedState CoinbaseWsFeed::state() const { return core_->state; }
const WsFeedStats& CoinbaseWsFeed::stats() const { return core_->stats; }
const std::string& CoinbaseWsFeed::last_disconnect_reason() const { return core_->last_reason; }

std::optional<AggregatorStats> CoinbaseWsFeed::aggregator_stats(ProductId product) const {
  if (BarAggregator* agg = core_->aggregator(product)) return agg->stats();
  return std::nullopt;
}

}  // namespace ta::agent::coinbase
