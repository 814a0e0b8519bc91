// The simulator's servers: an HTTP listener for the candles endpoint and a
// WebSocket listener for the market-data channels, both coroutines on the
// caller's io_context, with a session per connection.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>

#include "coinbase_sim/coinbase_sim.h"
#include "protocol.h"

namespace ta::coinbase_sim {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// An HTTP client that sends nothing for this long is disconnected.
constexpr milliseconds kHttpIdleTimeout{30'000};
// The WebSocket upgrade request must arrive within this.
constexpr milliseconds kUpgradeTimeout{5'000};
// Request headers larger than this are refused (431-style close).
constexpr std::uint32_t kRequestHeaderBytesMax = 8 * 1024;
// Messages kept per connection for kReplayOld.
constexpr std::size_t kHistoryMax = 8;
// Trades per market_trades batch window (Coinbase batches every 250 ms).
constexpr std::int64_t kBatchWindowUs = 250'000;

void spawn(asio::io_context& io, asio::awaitable<void> task) {
  asio::co_spawn(io, std::move(task), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
}

bool is_data_channel(std::string_view c) {
  return c == "market_trades" || c == "ticker" || c == "ticker_batch" || c == "candles" || c == "level2";
}

bool is_public_channel(std::string_view c) { return c == "heartbeats" || c == "status" || is_data_channel(c); }

}  // namespace

struct CoinbaseSim::Impl : std::enable_shared_from_this<Impl> {
  struct WsConn;

  Impl(asio::io_context& io_ctx, SimConfig cfg)
      : io(io_ctx), config(std::move(cfg)), heartbeat_timer(io_ctx), generator_timer(io_ctx) {}

  // ---- WebSocket connections ----------------------------------------------

  struct WsConn : std::enable_shared_from_this<WsConn> {
    WsConn(Impl& s, beast::tcp_stream stream, std::uint64_t conn_id)
        : sim(s), ws(std::move(stream)), id(conn_id), deadline(s.io) {}

    void close() {
      if (closed) return;
      closed = true;
      deadline.cancel();
      boost::system::error_code ignored;
      beast::get_lowest_layer(ws).socket().close(ignored);
    }

    // Queues a text frame (no sequence number of its own).
    void send(std::string text) {
      if (closed) return;
      if (outq.size() >= sim.config.outbound_queue_max) {
        ++sim.stats.ws_slow_consumer_closes;
        close();
        return;
      }
      outq.push_back(std::move(text));
      if (!writing) write_next();
    }

    void write_next() {
      writing = true;
      ws.text(true);
      ws.async_write(asio::buffer(outq.front()),
                     [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                       self->outq.pop_front();
                       if (ec) {
                         self->writing = false;
                         self->close();
                         return;
                       }
                       ++self->sim.stats.ws_messages_sent;
                       if (self->outq.empty() || self->closed) {
                         self->writing = false;
                       } else {
                         self->write_next();
                       }
                     });
    }

    void remember(const std::string& text) {
      history.push_back(text);
      if (history.size() > kHistoryMax) history.pop_front();
    }

    void flush_held() {
      if (!held) return;
      send(*held);
      held.reset();
    }

    // A protocol message with the next sequence_num, faults applied.
    void send_data(std::string_view channel, std::string_view events) {
      if (closed || sim.stalled) return;
      auto fault = faults.end();
      for (auto it = faults.begin(); it != faults.end(); ++it) {
        if (!it->second.empty() && it->second != channel) continue;
        if (it->first == WsFault::kBadFieldNext && events.find("\"price\":\"") == std::string_view::npos) continue;
        fault = it;
        break;
      }
      std::string text = detail::envelope(channel, sim.market_time_us, seq++, events);
      if (fault == faults.end()) {
        send(text);
        flush_held();
        remember(text);
        return;
      }
      const WsFault kind = fault->first;
      faults.erase(fault);
      ++sim.stats.ws_faults_applied;
      switch (kind) {
        case WsFault::kDropNext:
          return;
        case WsFault::kDuplicateNext:
          send(text);
          send(text);
          break;
        case WsFault::kReplayOld:
          send(text);
          if (!history.empty()) send(history.back());
          break;
        case WsFault::kSwapNext:
          held = text;
          remember(text);
          return;
        case WsFault::kBadFieldNext: {
          const std::size_t at = text.find("\"price\":\"");
          text.insert(at + 9, "x");
          send(text);
          break;
        }
      }
      flush_held();
      remember(text);
    }

    bool subscribed(const std::string& channel, const std::string& product) const {
      const auto it = subs.find(channel);
      return it != subs.end() && it->second.count(product) != 0;
    }

    Impl& sim;
    websocket::stream<beast::tcp_stream> ws;
    std::uint64_t id;
    asio::steady_timer deadline;
    std::uint64_t seq = 0;
    std::uint64_t heartbeat_counter = 0;
    std::map<std::string, std::set<std::string>> subs;  // heartbeats -> {"heartbeats"}
    bool subscribed_any = false;
    std::deque<std::string> outq;
    bool writing = false;
    bool closed = false;
    std::deque<std::string> history;
    std::vector<std::pair<WsFault, std::string>> faults;
    std::optional<std::string> held;
  };

  void send_error(WsConn& c, std::string_view message) {
    ++stats.ws_errors_sent;
    c.send(detail::error_message(message));
  }

  void send_ack(WsConn& c) {
    std::map<std::string, std::vector<std::string>> list;
    for (const auto& [channel, products] : c.subs) {
      if (products.empty()) continue;
      list[channel] = std::vector<std::string>(products.begin(), products.end());
    }
    c.send_data("subscriptions", detail::subscriptions_events(list));
  }

  void send_snapshots(WsConn& c, const std::string& channel, const std::vector<std::string>& products) {
    if (channel == "market_trades") {
      std::vector<SimTrade> trades;
      for (const std::string& p : products) {
        const auto it = recent.find(p);
        if (it == recent.end()) continue;
        for (auto t = it->second.rbegin(); t != it->second.rend(); ++t) trades.push_back(*t);
      }
      c.send_data("market_trades", detail::trades_events("snapshot", trades));
    } else if (channel == "ticker") {
      std::vector<std::pair<std::string, detail::TickerState>> list;
      for (const std::string& p : products) {
        const auto it = tickers.find(p);
        if (it != tickers.end()) list.emplace_back(p, it->second);
      }
      if (!list.empty()) c.send_data("ticker", detail::ticker_events("snapshot", list));
    }
  }

  bool rate_limited(std::deque<Clock::time_point>& times, int per_second_max) {
    if (per_second_max <= 0) return false;
    const Clock::time_point now = Clock::now();
    while (!times.empty() && now - times.front() >= std::chrono::seconds(1)) times.pop_front();
    if (times.size() >= static_cast<std::size_t>(per_second_max)) return true;
    times.push_back(now);
    return false;
  }

  void on_client_message(WsConn& c, std::string_view text) {
    ++stats.ws_client_messages;
    client_messages.emplace_back(text);
    if (rate_limited(client_message_times, config.messages_per_second_max)) {
      ++stats.ws_rate_limited;
      send_error(c, "rate limit exceeded");
      return;
    }
    boost::system::error_code ec;
    const json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
    if (ec || !v.is_object()) return send_error(c, "malformed message");
    const json::object& o = v.get_object();
    const json::value* type = o.if_contains("type");
    const json::value* channel_v = o.if_contains("channel");
    if (type == nullptr || !type->is_string() || (type->get_string() != "subscribe" && type->get_string() != "unsubscribe")) {
      return send_error(c, "type must be subscribe or unsubscribe");
    }
    if (channel_v == nullptr || !channel_v->is_string()) return send_error(c, "channel must be a string");
    const std::string channel(channel_v->get_string().data(), channel_v->get_string().size());
    if (channel == "user" || channel == "futures_balance_summary") return send_error(c, "authentication failure");
    if (!is_public_channel(channel)) return send_error(c, "unknown channel " + channel);
    std::vector<std::string> products;
    if (const json::value* ids = o.if_contains("product_ids"); ids != nullptr) {
      if (!ids->is_array()) return send_error(c, "product_ids must be an array");
      for (const json::value& id : ids->get_array()) {
        if (!id.is_string()) return send_error(c, "product_ids must be strings");
        products.emplace_back(id.get_string().data(), id.get_string().size());
      }
    }
    if (channel == "heartbeats") products = {"heartbeats"};
    if (products.empty() && is_data_channel(channel)) return send_error(c, "product_ids required for " + channel);
    if (type->get_string() == "subscribe") {
      ++stats.ws_subscribes;
      c.subscribed_any = true;
      c.deadline.cancel();
      for (const std::string& p : products) c.subs[channel].insert(p);
      send_ack(c);
      send_snapshots(c, channel, products);
    } else {
      ++stats.ws_unsubscribes;
      for (const std::string& p : products) c.subs[channel].erase(p);
      send_ack(c);
    }
  }

  static asio::awaitable<void> ws_session(std::shared_ptr<Impl> self, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(kRequestHeaderBytesMax);
    stream.expires_after(kUpgradeTimeout);
    auto [rec, read] = co_await http::async_read(stream, buffer, parser, kUse);
    if (rec || !self->running) co_return;
    http::request<http::empty_body> req = parser.release();
    const bool refuse = self->refuse_count > 0 || self->ws_conns.size() >= self->config.connections_max;
    if (!websocket::is_upgrade(req) || refuse) {
      if (refuse) {
        ++self->stats.ws_connections_refused;
        if (self->refuse_count > 0) --self->refuse_count;
      }
      http::response<http::string_body> res{refuse ? http::status::service_unavailable : http::status::bad_request,
                                            req.version()};
      res.set(http::field::content_type, "text/plain");
      res.body() = refuse ? "Service Unavailable" : "WebSocket upgrade required";
      res.keep_alive(false);
      res.prepare_payload();
      auto [wec, written] = co_await http::async_write(stream, res, kUse);
      (void)wec;
      co_return;
    }
    stream.expires_never();
    auto conn = std::make_shared<WsConn>(*self, std::move(stream), ++self->next_conn_id);
    conn->ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    conn->ws.read_message_max(self->config.client_message_bytes_max);
    auto [aec] = co_await conn->ws.async_accept(req, kUse);
    if (aec || !self->running) co_return;
    ++self->stats.ws_connections_accepted;
    self->ws_conns[conn->id] = conn;
    conn->deadline.expires_after(milliseconds(self->config.subscribe_deadline_ms));
    conn->deadline.async_wait([conn, self](const boost::system::error_code& ec) {
      if (ec || conn->subscribed_any || conn->closed) return;
      ++self->stats.ws_deadline_closes;
      conn->close();
    });
    beast::flat_buffer frame;
    for (;;) {
      auto [ec, bytes] = co_await conn->ws.async_read(frame, kUse);
      if (ec || conn->closed) break;
      const auto data = frame.cdata();
      self->on_client_message(*conn, std::string_view(static_cast<const char*>(data.data()), data.size()));
      frame.consume(frame.size());
    }
    conn->close();
    self->ws_conns.erase(conn->id);
  }

  // ---- HTTP ----------------------------------------------------------------

  struct Answer {
    std::optional<HttpFault> fault;
    detail::HttpReply reply;
  };

  Answer route(const http::request<http::empty_body>& req) {
    Answer a;
    const std::string_view target(req.target().data(), req.target().size());
    const std::size_t q = target.find('?');
    const std::string_view path = target.substr(0, q);
    const std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
    constexpr std::string_view kProducts = "/api/v3/brokerage/market/products/";
    constexpr std::string_view kCandles = "/candles";
    if (req.method() != http::verb::get) {
      a.reply = {404, detail::error_body("NOT_FOUND", 5, "Not Found")};
      return a;
    }
    if (path == "/api/v3/brokerage/time") {
      a.reply = {200, detail::time_reply(market_time_us)};
      return a;
    }
    if (path.starts_with("/api/v3/brokerage/products/")) {
      a.reply = {401, "Unauthorized"};  // the authenticated twin needs a JWT
      return a;
    }
    if (!path.starts_with(kProducts) || !path.ends_with(kCandles) ||
        path.size() <= kProducts.size() + kCandles.size()) {
      a.reply = {404, detail::error_body("NOT_FOUND", 5, "Not Found")};
      return a;
    }
    ++stats.http_candle_requests;
    if (!http_faults.empty()) {
      a.fault = http_faults.front();
      http_faults.pop_front();
      ++stats.http_faults_applied;
      return a;
    }
    if (rate_limited(http_request_times, config.http_requests_per_second_max)) {
      ++stats.http_rate_limited;
      a.reply = {429, detail::error_body("RESOURCE_EXHAUSTED", 8, "Too many requests")};
      return a;
    }
    const std::string product(path.substr(kProducts.size(), path.size() - kProducts.size() - kCandles.size()));
    const auto it = candles.find(product);
    a.reply = detail::candles_reply(product, it == candles.end() ? nullptr : &it->second, query);
    if (a.reply.too_many_candles) ++stats.http_too_many_candles;
    if (a.reply.status == 200) stats.http_candles_served += a.reply.rows;
    if (a.reply.status >= 400 && a.reply.status < 500 && !a.reply.too_many_candles) ++stats.http_bad_requests;
    return a;
  }

  static detail::HttpReply fault_reply(HttpFault f) {
    switch (f) {
      case HttpFault::kTooManyRequests:
        return {429, detail::error_body("RESOURCE_EXHAUSTED", 8, "Too many requests")};
      case HttpFault::kInternalError:
        return {500, detail::error_body("INTERNAL", 13, "internal error")};
      case HttpFault::kServiceUnavailable:
        return {503, detail::error_body("UNAVAILABLE", 14, "service unavailable")};
      case HttpFault::kMalformedBody:
        return {200, R"({"candles":[{"start":"1522800000","low":"1","hi)"};
      case HttpFault::kNoResponse:
      case HttpFault::kCloseConnection:
        break;
    }
    return {};
  }

  static asio::awaitable<void> http_session(std::shared_ptr<Impl> self, tcp::socket socket) {
    auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
    const std::uint64_t id = ++self->next_conn_id;
    self->http_conns[id] = stream;
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::empty_body> parser;
      parser.header_limit(kRequestHeaderBytesMax);
      stream->expires_after(kHttpIdleTimeout);
      auto [rec, read] = co_await http::async_read(*stream, buffer, parser, kUse);
      if (rec || !self->running) break;
      ++self->stats.http_requests;
      const http::request<http::empty_body> req = parser.release();
      Answer a = self->route(req);
      if (a.fault == HttpFault::kNoResponse) continue;  // the client times out
      if (a.fault == HttpFault::kCloseConnection) break;
      if (a.fault) a.reply = fault_reply(*a.fault);
      http::response<http::string_body> res{static_cast<http::status>(a.reply.status), req.version()};
      const bool is_json = !a.reply.body.empty() && a.reply.body.front() == '{';
      res.set(http::field::content_type, is_json ? "application/json" : "text/plain");
      res.keep_alive(req.keep_alive());
      res.body() = std::move(a.reply.body);
      res.prepare_payload();
      auto [wec, written] = co_await http::async_write(*stream, res, kUse);
      if (wec || !res.keep_alive()) break;
    }
    boost::system::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream->close();
    self->http_conns.erase(id);
  }

  // ---- listeners -------------------------------------------------------------

  using Session = asio::awaitable<void> (*)(std::shared_ptr<Impl>, tcp::socket);

  static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self, tcp::acceptor& acceptor, Session session) {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kUse);
      if (!self->running) co_return;
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        continue;
      }
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      spawn(self->io, session(self, std::move(socket)));
    }
  }

  Status listen(std::optional<tcp::acceptor>& acceptor, std::uint16_t port, std::uint16_t& bound) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(config.host, ec);
    if (ec) return make_error("coinbase sim: bad host " + config.host + ": " + ec.message());
    acceptor.emplace(io);
    const tcp::endpoint ep(address, port);
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return make_error("coinbase sim: listen on " + config.host + ":" + std::to_string(port) + ": " + ec.message());
    bound = acceptor->local_endpoint().port();
    return {};
  }

  // ---- publishing ------------------------------------------------------------

  template <class F>
  void for_each_conn(F&& f) {
    // Copy: a send may close (and later erase) a connection.
    std::vector<std::shared_ptr<WsConn>> list;
    for (auto& [id, c] : ws_conns) list.push_back(c);
    for (auto& c : list) {
      if (!c->closed) f(*c);
    }
  }

  void publish_trades(const std::vector<SimTrade>& trades) {
    std::map<std::string, std::vector<SimTrade>> by_product;
    for (const SimTrade& t : trades) {
      by_product[t.product].push_back(t);
      published.push_back(t);
      auto& r = recent[t.product];
      r.push_back(t);
      while (r.size() > config.trades_snapshot_max) r.pop_front();
    }
    for (auto& [product, list] : by_product) {
      std::sort(list.begin(), list.end(), [](const SimTrade& a, const SimTrade& b) { return a.trade_id > b.trade_id; });
      const std::string events = detail::trades_events("update", list);
      for_each_conn([&](WsConn& c) {
        if (c.subscribed("market_trades", product)) c.send_data("market_trades", events);
      });
    }
  }

  void publish_ticker(const std::string& product, detail::TickerState state) {
    tickers[product] = state;
    const std::string events = detail::ticker_events("update", {{product, state}});
    for_each_conn([&](WsConn& c) {
      if (c.subscribed("ticker", product)) c.send_data("ticker", events);
    });
  }

  void publish_heartbeat() {
    for_each_conn([&](WsConn& c) {
      if (!c.subscribed("heartbeats", "heartbeats") || stalled) return;
      c.send_data("heartbeats",
                  detail::heartbeat_events(market_time_us, ++c.heartbeat_counter, config.heartbeat_counter_as_string));
    });
  }

  void arm_heartbeat() {
    if (config.heartbeat_interval_ms <= 0 || !running) return;
    heartbeat_timer.expires_after(milliseconds(config.heartbeat_interval_ms));
    heartbeat_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || !self->running) return;
      self->publish_heartbeat();
      self->arm_heartbeat();
    });
  }

  // ---- generator -------------------------------------------------------------

  void generator_tick() {
    const GeneratorConfig& g = *generator;
    const std::int64_t t0 = market_time_us;
    const std::int64_t t1 = t0 + g.tick_market_us;
    std::map<std::int64_t, std::vector<SimTrade>> windows;  // batch window -> trades (all products)
    std::vector<std::string> traded;
    for (const auto& [product, start_price] : g.products) {
      std::uniform_int_distribution<int> count_dist(0, g.trades_per_tick_max);
      const int n = count_dist(rng);
      std::vector<std::int64_t> times(static_cast<std::size_t>(n));
      std::uniform_int_distribution<std::int64_t> time_dist(t0 + 1, t1);
      for (auto& t : times) t = time_dist(rng);
      std::sort(times.begin(), times.end());
      std::int64_t& price = generator_price[product];
      std::uint64_t& next_id = generator_trade_id[product];
      for (std::int64_t t : times) {
        std::uniform_int_distribution<std::int64_t> step(-5, 5);
        std::uniform_int_distribution<std::int64_t> size_dist(1, 100'000'000);
        price = std::max<std::int64_t>(price + step(rng), 100);
        const std::int64_t size = size_dist(rng);
        SimTrade trade;
        trade.product = product;
        trade.trade_id = ++next_id;
        trade.time_us = t;
        trade.price = detail::cents_text(price);
        trade.size = detail::units8_text(size);
        trade.maker_buy = (rng() & 1) != 0;
        trade.price_value = std::stod(trade.price);
        trade.size_value = std::stod(trade.size);
        windows[(t - 1) / kBatchWindowUs].push_back(std::move(trade));
      }
      if (n > 0) traded.push_back(product);
    }
    for (auto& [window, trades] : windows) {
      market_time_us = std::min(t1, (window + 1) * kBatchWindowUs);
      publish_trades(trades);
    }
    market_time_us = t1;
    for (const std::string& product : traded) {
      const std::int64_t p = generator_price[product];
      publish_ticker(product, {detail::cents_text(p), detail::cents_text(p - 1), detail::cents_text(p + 1)});
    }
    publish_heartbeat();
    ++generator_ticks;
  }

  void arm_generator() {
    if (!generator || !running) return;
    generator_timer.expires_after(milliseconds(generator->tick_real_ms));
    generator_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || !self->generator || !self->running) return;
      self->generator_tick();
      if (self->generator->ticks_max != 0 && self->generator_ticks >= self->generator->ticks_max) {
        self->generator.reset();
        return;
      }
      self->arm_generator();
    });
  }

  void stop() {
    if (!running) return;
    running = false;
    boost::system::error_code ignored;
    if (ws_acceptor) ws_acceptor->close(ignored);
    if (http_acceptor) http_acceptor->close(ignored);
    heartbeat_timer.cancel();
    generator_timer.cancel();
    generator.reset();
    for_each_conn([](WsConn& c) { c.close(); });
    for (auto& [id, s] : http_conns) s->socket().close(ignored);
  }

  asio::io_context& io;
  SimConfig config;
  bool running = false;
  SimStats stats;
  std::optional<tcp::acceptor> ws_acceptor;
  std::optional<tcp::acceptor> http_acceptor;
  std::uint16_t ws_port = 0;
  std::uint16_t http_port = 0;
  std::uint64_t next_conn_id = 0;
  std::map<std::uint64_t, std::shared_ptr<WsConn>> ws_conns;
  std::map<std::uint64_t, std::shared_ptr<beast::tcp_stream>> http_conns;
  // REST state.
  std::map<std::string, std::vector<SimCandle>> candles;
  std::deque<HttpFault> http_faults;
  std::deque<Clock::time_point> http_request_times;
  // WebSocket state.
  std::int64_t market_time_us = 0;
  int refuse_count = 0;
  bool stalled = false;
  std::map<std::string, std::deque<SimTrade>> recent;
  std::map<std::string, detail::TickerState> tickers;
  std::vector<SimTrade> published;
  std::deque<Clock::time_point> client_message_times;
  std::vector<std::string> client_messages;
  asio::steady_timer heartbeat_timer;
  // Generator state.
  std::optional<GeneratorConfig> generator;
  std::mt19937_64 rng;
  std::map<std::string, std::int64_t> generator_price;
  std::map<std::string, std::uint64_t> generator_trade_id;
  std::uint64_t generator_ticks = 0;
  asio::steady_timer generator_timer;
};

CoinbaseSim::CoinbaseSim(boost::asio::io_context& io, SimConfig config) {
  if (config.subscribe_deadline_ms < 1 || config.heartbeat_interval_ms < 0 || config.outbound_queue_max == 0 ||
      config.connections_max == 0 || config.client_message_bytes_max == 0 || config.messages_per_second_max < 0 ||
      config.http_requests_per_second_max < 0) {
    throw std::invalid_argument("coinbase sim: config out of range");
  }
  impl_ = std::make_shared<Impl>(io, std::move(config));
}

CoinbaseSim::~CoinbaseSim() { impl_->stop(); }

Status CoinbaseSim::start() {
  if (impl_->running) return make_error("coinbase sim: already started");
  if (Status st = impl_->listen(impl_->ws_acceptor, impl_->config.ws_port, impl_->ws_port); !st) return st;
  if (Status st = impl_->listen(impl_->http_acceptor, impl_->config.http_port, impl_->http_port); !st) return st;
  impl_->running = true;
  spawn(impl_->io, Impl::accept_loop(impl_, *impl_->ws_acceptor, &Impl::ws_session));
  spawn(impl_->io, Impl::accept_loop(impl_, *impl_->http_acceptor, &Impl::http_session));
  impl_->arm_heartbeat();
  return {};
}

void CoinbaseSim::stop() { impl_->stop(); }
std::uint16_t CoinbaseSim::ws_port() const { return impl_->ws_port; }
std::uint16_t CoinbaseSim::http_port() const { return impl_->http_port; }
std::string CoinbaseSim::ws_url() const { return "ws://" + impl_->config.host + ":" + std::to_string(impl_->ws_port); }
std::string CoinbaseSim::http_url() const {
  return "http://" + impl_->config.host + ":" + std::to_string(impl_->http_port);
}

void CoinbaseSim::set_candles(const std::string& product, std::vector<SimCandle> candles) {
  impl_->candles[product] = std::move(candles);
}
void CoinbaseSim::push_http_faults(const std::vector<HttpFault>& faults) {
  impl_->http_faults.insert(impl_->http_faults.end(), faults.begin(), faults.end());
}
std::size_t CoinbaseSim::http_faults_pending() const { return impl_->http_faults.size(); }

void CoinbaseSim::set_market_time_us(std::int64_t time_us) { impl_->market_time_us = time_us; }
std::int64_t CoinbaseSim::market_time_us() const { return impl_->market_time_us; }
void CoinbaseSim::publish_trades(const std::vector<SimTrade>& trades) { impl_->publish_trades(trades); }
void CoinbaseSim::publish_ticker(const std::string& product, const std::string& price, const std::string& best_bid,
                                 const std::string& best_ask) {
  impl_->publish_ticker(product, {price, best_bid, best_ask});
}
void CoinbaseSim::publish_heartbeat() { impl_->publish_heartbeat(); }
void CoinbaseSim::publish_raw(const std::string& text) {
  if (impl_->stalled) return;
  impl_->for_each_conn([&](Impl::WsConn& c) { c.send(text); });
}
void CoinbaseSim::inject(WsFault fault, const std::string& channel) {
  impl_->for_each_conn([&](Impl::WsConn& c) { c.faults.emplace_back(fault, channel); });
}
void CoinbaseSim::disconnect_all() {
  impl_->for_each_conn([](Impl::WsConn& c) { c.close(); });
}
void CoinbaseSim::set_stalled(bool stalled) { impl_->stalled = stalled; }
void CoinbaseSim::refuse_connections(int count) { impl_->refuse_count = std::max(0, count); }

void CoinbaseSim::start_generator(GeneratorConfig config) {
  if (config.tick_market_us < 1 || config.tick_real_ms < 0 || config.trades_per_tick_max < 0 ||
      config.products.empty()) {
    throw std::invalid_argument("coinbase sim: generator config out of range");
  }
  impl_->rng.seed(config.seed);
  impl_->market_time_us = config.start_time_us;
  for (const auto& [product, price] : config.products) impl_->generator_price[product] = price;
  impl_->generator_ticks = 0;
  impl_->generator = std::move(config);
  impl_->arm_generator();
}
void CoinbaseSim::stop_generator() {
  impl_->generator.reset();
  impl_->generator_timer.cancel();
}
bool CoinbaseSim::generator_running() const { return impl_->generator.has_value(); }
const std::vector<SimTrade>& CoinbaseSim::published_trades() const { return impl_->published; }

const SimStats& CoinbaseSim::stats() const { return impl_->stats; }
std::size_t CoinbaseSim::ws_connections_open() const { return impl_->ws_conns.size(); }
const std::vector<std::string>& CoinbaseSim::client_messages() const { return impl_->client_messages; }

}  // namespace ta::coinbase_sim
