// CoinbaseWsFeed against the Coinbase simulator on loopback: subscription,
// bars from trades, sequence faults, malformed messages, reconnects, the
// staleness watchdog and giving up. Feed and simulator share one
// io_context, so each test is one thread.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>

#include "coinbase/ws_feed.h"
#include "coinbase_sim/coinbase_sim.h"
#include "coinbase_test_support.h"

namespace ta::agent::coinbase {
namespace {

using coinbase_sim::CoinbaseSim;
using coinbase_sim::SimConfig;
using coinbase_sim::SimTrade;
using coinbase_sim::WsFault;
using std::chrono::milliseconds;
using test::run_for;
using test::run_until;

const ProductId kBtc = ProductId::parse("BTC-USD").value();
const ProductId kEth = ProductId::parse("ETH-USD").value();
// 2024-01-02T03:04:00Z: a minute boundary, in microseconds.
const std::int64_t kM = coinbase_sim::unix_seconds(2024, 1, 2, 3, 4) * kMicrosPerSecond;
constexpr std::int64_t kSec = kMicrosPerSecond;

SimTrade trade(const ProductId& product, std::uint64_t id, std::int64_t time_us, const std::string& price,
               const std::string& size) {
  SimTrade t;
  t.product = product.str();
  t.trade_id = id;
  t.time_us = time_us;
  t.price = price;
  t.size = size;
  t.price_value = std::stod(price);
  t.size_value = std::stod(size);
  return t;
}

// "30000.05" <-> 3000005: the generator's prices have two decimals.
std::int64_t cents_of(const std::string& price) {
  std::string digits = price;
  digits.erase(digits.find('.'), 1);
  return std::stoll(digits);
}

std::string cents_text(std::int64_t cents) {
  return std::to_string(cents / 100) + "." + (cents % 100 < 10 ? "0" : "") + std::to_string(cents % 100);
}

struct Recorder : FeedHandler {
  std::vector<Bar> bars;
  std::vector<FeedEvent> events;
  std::function<void(const Bar&)> hook;
  void on_bar(const Bar& bar) override {
    bars.push_back(bar);
    if (hook) hook(bar);
  }
  void on_feed_event(const FeedEvent& event) override { events.push_back(event); }
};

// Heartbeats only when a test publishes them, so bar closing is scripted.
SimConfig quiet_sim() {
  SimConfig c;
  c.heartbeat_interval_ms = 0;
  c.messages_per_second_max = 0;
  return c;
}

class WsFeedTest : public ::testing::Test {
 protected:
  void SetUp() override { seed_ = test::test_seed(); }

  void TearDown() override {
    feed_.reset();
    if (sim_) sim_->stop();
    io_.restart();
    io_.run_for(milliseconds(500));  // let stopped sessions unwind
    sim_.reset();
  }

  void start_sim(SimConfig config = quiet_sim()) {
    sim_ = std::make_unique<CoinbaseSim>(io_, config);
    ASSERT_TRUE(sim_->start().ok());
    sim_->set_market_time_us(kM);
  }

  WsFeedConfig feed_config() const {
    WsFeedConfig c;
    c.url = sim_->ws_url();
    c.products = {kEth, kBtc};  // any order; kept sorted inside
    c.connect_timeout_ms = 2'000;
    c.subscribe_ack_timeout_ms = 2'000;
    c.stale_timeout_ms = 5'000;
    c.backoff = {20, 200, 0.5};
    c.stable_session_ms = 60'000;
    c.seed = seed_;
    return c;
  }

  void start_feed(const WsFeedConfig& config, bool wait_streaming = true) {
    feed_ = std::make_unique<CoinbaseWsFeed>(io_, config);
    ASSERT_TRUE(feed_->start(rec_).ok());
    if (wait_streaming) {
      ASSERT_TRUE(run_until(io_, [&] { return feed_->state() == WsFeedState::kStreaming; }))
          << describe(feed_->state()) << " " << feed_->last_disconnect_reason();
    }
  }

  void publish_at(std::int64_t time_us, const std::vector<SimTrade>& trades) {
    sim_->set_market_time_us(time_us);
    sim_->publish_trades(trades);
  }

  void heartbeat_at(std::int64_t time_us) {
    sim_->set_market_time_us(time_us);
    sim_->publish_heartbeat();
  }

  // Runs until the feed has counted `n` trades (from accepted messages).
  void wait_trades(std::uint64_t n) {
    ASSERT_TRUE(run_until(io_, [&] { return feed_->stats().trades >= n; })) << feed_->stats().trades;
  }

  void wait_bars(std::size_t n) {
    ASSERT_TRUE(run_until(io_, [&] { return rec_.bars.size() >= n; })) << rec_.bars.size();
  }

  unsigned seed_ = 0;
  boost::asio::io_context io_;
  std::unique_ptr<CoinbaseSim> sim_;
  std::unique_ptr<CoinbaseWsFeed> feed_;
  Recorder rec_;
};

TEST_F(WsFeedTest, SubscribesToThreeChannelsOneMessageEach) {
  start_sim();
  start_feed(feed_config());
  const auto& sent = sim_->client_messages();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(boost::json::parse(sent[0]), boost::json::parse(R"({"type":"subscribe","channel":"heartbeats"})"));
  EXPECT_EQ(boost::json::parse(sent[1]),
            boost::json::parse(R"({"type":"subscribe","channel":"market_trades","product_ids":["BTC-USD","ETH-USD"]})"));
  EXPECT_EQ(boost::json::parse(sent[2]),
            boost::json::parse(R"({"type":"subscribe","channel":"ticker","product_ids":["BTC-USD","ETH-USD"]})"));
  EXPECT_EQ(feed_->stats().connects, 1u);
  EXPECT_GE(feed_->stats().subscribe_acks, 3u);
  EXPECT_EQ(sim_->stats().ws_subscribes, 3u);
}

TEST_F(WsFeedTest, TradesBecomeOneMinuteBarsAtTheirBoundaries) {
  start_sim();
  start_feed(feed_config());
  publish_at(kM + 1 * kSec, {trade(kBtc, 1, kM + 1 * kSec, "100.00", "0.5")});
  publish_at(kM + 30 * kSec, {trade(kBtc, 2, kM + 30 * kSec, "105.5", "0.25"),
                              trade(kEth, 1, kM + 30 * kSec, "2000", "1")});
  publish_at(kM + 59'900'000, {trade(kBtc, 3, kM + 59'900'000, "99", "1")});
  sim_->set_market_time_us(kM + 59'950'000);
  sim_->publish_ticker("BTC-USD", "99", "98.99", "99.01");
  // A trade at exactly the next minute's start opens that minute.
  publish_at(kM + 60 * kSec, {trade(kBtc, 4, kM + 60 * kSec, "101", "2")});
  wait_trades(5);
  ASSERT_TRUE(run_until(io_, [&] { return feed_->stats().tickers >= 1; }));
  EXPECT_TRUE(rec_.bars.empty()) << "the minute is not over until its grace has passed";

  heartbeat_at(kM + 61'999'999);  // one microsecond before end + grace
  ASSERT_TRUE(run_until(io_, [&] { return feed_->stats().heartbeats >= 1; }));
  EXPECT_TRUE(rec_.bars.empty());
  heartbeat_at(kM + 62 * kSec);
  wait_bars(2);
  ASSERT_EQ(rec_.bars.size(), 2u);
  const Bar& btc = rec_.bars[0];  // products close in id order
  EXPECT_EQ(btc.product, kBtc);
  EXPECT_EQ(btc.open_ts_s, kM / kSec);
  EXPECT_DOUBLE_EQ(btc.open, 100.0);
  EXPECT_DOUBLE_EQ(btc.high, 105.5);
  EXPECT_DOUBLE_EQ(btc.low, 99.0);
  EXPECT_DOUBLE_EQ(btc.close, 99.0);
  EXPECT_DOUBLE_EQ(btc.volume, 1.75);
  ASSERT_TRUE(btc.quote.has_value());
  EXPECT_EQ(*btc.quote, (Quote{98.99, 99.01}));
  const Bar& eth = rec_.bars[1];
  EXPECT_EQ(eth.product, kEth);
  EXPECT_DOUBLE_EQ(eth.open, 2000.0);
  EXPECT_DOUBLE_EQ(eth.volume, 1.0);
  EXPECT_FALSE(eth.quote.has_value());

  // Two empty minutes follow: they produce no bar, only the 03:05 one.
  heartbeat_at(kM + 4 * 60 * kSec + 2 * kSec);
  wait_bars(3);
  run_for(io_, milliseconds(50));
  ASSERT_EQ(rec_.bars.size(), 3u);
  EXPECT_EQ(rec_.bars[2].open_ts_s, kM / kSec + 60);
  EXPECT_DOUBLE_EQ(rec_.bars[2].close, 101.0);
  EXPECT_EQ(feed_->stats().bars, 3u);
}

TEST_F(WsFeedTest, MinutesBeganBeforeTheSubscriptionGiveNoBar) {
  start_sim();
  // Trades before the feed connects reach it only through the snapshot.
  publish_at(kM + 1 * kSec, {trade(kBtc, 1, kM + 1 * kSec, "100", "1")});
  publish_at(kM + 20 * kSec, {trade(kBtc, 2, kM + 20 * kSec, "101", "1")});
  sim_->set_market_time_us(kM + 30 * kSec);  // the acks carry this time
  start_feed(feed_config());
  wait_trades(2);
  publish_at(kM + 70 * kSec, {trade(kBtc, 3, kM + 70 * kSec, "102", "1")});
  heartbeat_at(kM + 122 * kSec);
  ASSERT_TRUE(run_until(io_, [&] { return feed_->stats().bars + feed_->stats().bars_incomplete == 2; }));
  ASSERT_EQ(rec_.bars.size(), 1u);
  EXPECT_EQ(rec_.bars[0].open_ts_s, kM / kSec + 60);
  EXPECT_EQ(feed_->stats().bars_incomplete, 1u);
  EXPECT_EQ(feed_->aggregator_stats(kBtc)->accepted, 3u) << "snapshot trades still prime the aggregator";
}

TEST_F(WsFeedTest, LateTradesWithinGraceCountAfterGraceAreDropped) {
  start_sim();
  start_feed(feed_config());
  publish_at(kM + 50 * kSec, {trade(kBtc, 1, kM + 50 * kSec, "100", "1")});
  heartbeat_at(kM + 61 * kSec);  // the next minute has begun, grace not over
  // Delayed batch: its trade belongs to the previous minute and is its close.
  publish_at(kM + 61'500'000, {trade(kBtc, 2, kM + 59'800'000, "90", "1")});
  wait_trades(2);
  heartbeat_at(kM + 62 * kSec);
  wait_bars(1);
  EXPECT_DOUBLE_EQ(rec_.bars[0].close, 90.0);
  EXPECT_DOUBLE_EQ(rec_.bars[0].low, 90.0);
  EXPECT_DOUBLE_EQ(rec_.bars[0].volume, 2.0);
  // After the grace period a late trade cannot change the emitted bar.
  publish_at(kM + 63 * kSec, {trade(kBtc, 3, kM + 59'900'000, "80", "1")});
  wait_trades(3);
  const AggregatorStats agg = *feed_->aggregator_stats(kBtc);
  EXPECT_EQ(agg.accepted_late, 1u);
  EXPECT_EQ(agg.late_dropped, 1u);
  EXPECT_EQ(rec_.bars.size(), 1u);
}

TEST_F(WsFeedTest, DuplicateOutOfOrderAndGapsAreCountedAndRecovered) {
  start_sim();
  start_feed(feed_config());
  std::uint64_t id = 0;
  const auto next = [&](const std::string& price) {
    ++id;
    return trade(kBtc, id, kM + static_cast<std::int64_t>(id) * kSec, price, "1");
  };

  sim_->inject(WsFault::kDuplicateNext, "market_trades");
  publish_at(kM + 1 * kSec, {next("100")});
  ASSERT_TRUE(run_until(io_, [&] { return feed_->stats().duplicates == 1; }));

  sim_->inject(WsFault::kReplayOld, "market_trades");
  publish_at(kM + 2 * kSec, {next("101")});
  ASSERT_TRUE(run_until(io_, [&] { return feed_->stats().out_of_order == 1; }));
  EXPECT_EQ(feed_->stats().connects, 1u);

  // A dropped message: the next message (a heartbeat) reveals the gap, the
  // feed reconnects and the snapshot brings the lost trade back.
  sim_->inject(WsFault::kDropNext, "market_trades");
  publish_at(kM + 3 * kSec, {next("102")});
  heartbeat_at(kM + 3 * kSec);
  ASSERT_TRUE(run_until(io_, [&] {
    return feed_->stats().connects == 2 && feed_->state() == WsFeedState::kStreaming &&
           feed_->aggregator_stats(kBtc)->accepted == 3;
  })) << feed_->last_disconnect_reason();
  EXPECT_EQ(feed_->stats().sequence_gaps, 1u);
  EXPECT_EQ(feed_->stats().messages_missed, 1u);
  EXPECT_EQ(feed_->stats().gap_reconnects, 1u);

  // Swapped messages: the later one reveals a gap and is not used; the
  // snapshot after the reconnect carries both, in trade-id order.
  sim_->inject(WsFault::kSwapNext, "market_trades");
  publish_at(kM + 4 * kSec, {next("103")});
  publish_at(kM + 5 * kSec, {next("104")});
  ASSERT_TRUE(run_until(io_, [&] {
    return feed_->stats().connects == 3 && feed_->state() == WsFeedState::kStreaming &&
           feed_->aggregator_stats(kBtc)->accepted == 5;
  })) << feed_->last_disconnect_reason();
  EXPECT_EQ(feed_->stats().sequence_gaps, 2u);

  heartbeat_at(kM + 62 * kSec);
  wait_bars(1);
  const Bar& bar = rec_.bars[0];
  EXPECT_DOUBLE_EQ(bar.volume, 5.0) << "every trade exactly once";
  EXPECT_DOUBLE_EQ(bar.open, 100.0);
  EXPECT_DOUBLE_EQ(bar.close, 104.0);
  EXPECT_DOUBLE_EQ(bar.high, 104.0);
  const AggregatorStats agg = *feed_->aggregator_stats(kBtc);
  EXPECT_GE(agg.duplicates, 3u) << "snapshot trades already seen are dropped by id";
  EXPECT_EQ(agg.out_of_order, 0u);
}

TEST_F(WsFeedTest, MalformedMessagesAreSkippedAndCounted) {
  start_sim();
  start_feed(feed_config());
  sim_->publish_raw(R"({"channel":"market_trades","sequence_num":)");
  sim_->publish_raw("not json at all");
  ASSERT_TRUE(run_until(io_, [&] { return feed_->stats().malformed == 2; }));
  // A well-formed envelope with one bad price refuses its whole batch, but
  // its sequence number counts, so no gap and no reconnect follow.
  sim_->inject(WsFault::kBadFieldNext, "market_trades");
  publish_at(kM + 1 * kSec, {trade(kBtc, 1, kM + 1 * kSec, "100", "1"), trade(kBtc, 2, kM + 2 * kSec, "101", "1")});
  ASSERT_TRUE(run_until(io_, [&] { return feed_->stats().malformed == 3; }));
  publish_at(kM + 3 * kSec, {trade(kBtc, 3, kM + 3 * kSec, "102", "1")});
  wait_trades(1);
  EXPECT_EQ(feed_->stats().trades, 1u);
  EXPECT_EQ(feed_->aggregator_stats(kBtc)->accepted, 1u);
  EXPECT_EQ(feed_->stats().sequence_gaps, 0u);
  EXPECT_EQ(feed_->stats().connects, 1u);
  heartbeat_at(kM + 62 * kSec);
  wait_bars(1);
  EXPECT_DOUBLE_EQ(rec_.bars[0].open, 102.0) << "no bar value comes from the refused batch";
  EXPECT_DOUBLE_EQ(rec_.bars[0].volume, 1.0);
}

TEST_F(WsFeedTest, OversizedFrameIsRefusedAndTheConnectionReopened) {
  SimConfig sc = quiet_sim();
  sc.trades_snapshot_max = 0;  // else the reconnect's snapshot is oversized too
  start_sim(sc);
  WsFeedConfig fc = feed_config();
  fc.parse.frame_bytes_max = 1'000;  // acks and empty snapshots are ~200 bytes
  start_feed(fc);
  std::vector<SimTrade> batch;
  for (std::uint64_t id = 1; id <= 20; ++id) {
    batch.push_back(trade(kBtc, id, kM + static_cast<std::int64_t>(id) * 1'000, "100", "1"));
  }
  publish_at(kM + kSec, batch);  // about 3 KB
  ASSERT_TRUE(run_until(io_, [&] {
    return feed_->stats().malformed >= 1 && feed_->stats().connects >= 2 &&
           feed_->state() == WsFeedState::kStreaming;
  }));
  EXPECT_EQ(feed_->stats().trades, 0u);
}

TEST_F(WsFeedTest, ReconnectsAndResubscribesAfterDisconnect) {
  start_sim();
  start_feed(feed_config());
  publish_at(kM + 1 * kSec, {trade(kBtc, 1, kM + 1 * kSec, "100", "1")});
  wait_trades(1);
  sim_->disconnect_all();
  ASSERT_TRUE(run_until(io_, [&] {
    return feed_->stats().connects == 2 && feed_->state() == WsFeedState::kStreaming;
  }));
  EXPECT_EQ(feed_->stats().disconnects, 1u);
  EXPECT_GE(feed_->stats().reconnects, 1u);
  EXPECT_EQ(sim_->client_messages().size(), 6u) << "three subscribes per connection";
  EXPECT_EQ(sim_->ws_connections_open(), 1u);
  publish_at(kM + 2 * kSec, {trade(kBtc, 2, kM + 2 * kSec, "101", "1")});
  ASSERT_TRUE(run_until(io_, [&] { return feed_->aggregator_stats(kBtc)->accepted == 2; }));
  heartbeat_at(kM + 62 * kSec);
  wait_bars(1);
  EXPECT_DOUBLE_EQ(rec_.bars[0].volume, 2.0);
}

TEST_F(WsFeedTest, StalenessWatchdogReconnects) {
  SimConfig sc = quiet_sim();
  sc.heartbeat_interval_ms = 40;
  start_sim(sc);
  WsFeedConfig fc = feed_config();
  fc.stale_timeout_ms = 300;
  start_feed(fc);
  run_for(io_, milliseconds(700));  // heartbeats keep a quiet feed alive
  EXPECT_EQ(feed_->stats().stale_timeouts, 0u);
  EXPECT_EQ(feed_->stats().connects, 1u);
  EXPECT_GE(feed_->stats().heartbeats, 5u);
  sim_->set_stalled(true);
  ASSERT_TRUE(run_until(io_, [&] { return feed_->stats().stale_timeouts == 1 && feed_->stats().disconnects == 1; }));
  EXPECT_NE(feed_->last_disconnect_reason().find("stale"), std::string::npos) << feed_->last_disconnect_reason();
  sim_->set_stalled(false);
  ASSERT_TRUE(run_until(io_, [&] {
    return feed_->stats().connects >= 2 && feed_->state() == WsFeedState::kStreaming;
  }));
}

TEST_F(WsFeedTest, MissingSubscribeAckReconnects) {
  start_sim();
  sim_->set_stalled(true);  // nothing is sent, not even the ack
  WsFeedConfig fc = feed_config();
  fc.subscribe_ack_timeout_ms = 150;
  start_feed(fc, false);
  ASSERT_TRUE(run_until(io_, [&] { return feed_->stats().ack_timeouts >= 1 && feed_->stats().disconnects >= 1; }));
  EXPECT_NE(feed_->last_disconnect_reason().find("no subscribe acknowledgement"), std::string::npos);
  sim_->set_stalled(false);
  ASSERT_TRUE(run_until(io_, [&] { return feed_->state() == WsFeedState::kStreaming; }));
}

TEST_F(WsFeedTest, VenueErrorReconnects) {
  SimConfig sc = quiet_sim();
  sc.messages_per_second_max = 2;  // the third subscribe is refused
  start_sim(sc);
  start_feed(feed_config(), false);
  ASSERT_TRUE(run_until(io_, [&] { return feed_->stats().venue_errors >= 1 && feed_->stats().connects >= 2; }));
  EXPECT_GE(sim_->stats().ws_rate_limited, 1u);
}

// reconnect_attempts_max at the limit: three refused connects, then success.
TEST_F(WsFeedTest, ReconnectAttemptsAtTheLimitSucceed) {
  start_sim();
  sim_->refuse_connections(3);
  WsFeedConfig fc = feed_config();
  fc.reconnect_attempts_max = 3;
  start_feed(fc);
  EXPECT_EQ(feed_->stats().connect_attempts, 4u);
  EXPECT_EQ(feed_->stats().connect_failures, 3u);
  EXPECT_TRUE(rec_.events.empty());
}

// One above the limit: the feed gives up with a clear kError.
TEST_F(WsFeedTest, GivesUpAfterReconnectAttemptsMax) {
  start_sim();
  sim_->refuse_connections(4);
  WsFeedConfig fc = feed_config();
  fc.reconnect_attempts_max = 3;
  start_feed(fc, false);
  ASSERT_TRUE(run_until(io_, [&] { return !rec_.events.empty(); }));
  ASSERT_EQ(rec_.events.size(), 1u);
  EXPECT_EQ(rec_.events[0].kind, FeedEventKind::kError);
  EXPECT_NE(rec_.events[0].message.find("gave up after 3 reconnect attempts"), std::string::npos)
      << rec_.events[0].message;
  EXPECT_NE(rec_.events[0].message.find("WebSocket handshake"), std::string::npos) << rec_.events[0].message;
  EXPECT_EQ(feed_->state(), WsFeedState::kFailed);
  EXPECT_EQ(feed_->stats().connect_attempts, 4u);
  EXPECT_EQ(sim_->stats().ws_connections_refused, 4u);
}

TEST_F(WsFeedTest, TlsAgainstAPlainServerFailsTheHandshake) {
  start_sim();
  WsFeedConfig fc = feed_config();
  fc.url = "wss://127.0.0.1:" + std::to_string(sim_->ws_port());
  fc.reconnect_attempts_max = 1;
  start_feed(fc, false);
  ASSERT_TRUE(run_until(io_, [&] { return !rec_.events.empty(); }));
  EXPECT_NE(rec_.events[0].message.find("TLS handshake"), std::string::npos) << rec_.events[0].message;
  EXPECT_EQ(feed_->stats().connects, 0u);
}

TEST_F(WsFeedTest, StopInsideTheHandlerEndsDelivery) {
  start_sim();
  start_feed(feed_config());
  rec_.hook = [&](const Bar&) { feed_->stop(); };
  publish_at(kM + 1 * kSec, {trade(kBtc, 1, kM + 1 * kSec, "100", "1"), trade(kEth, 1, kM + 1 * kSec, "10", "1")});
  wait_trades(2);
  heartbeat_at(kM + 62 * kSec);  // would close both products' minutes
  wait_bars(1);
  run_for(io_, milliseconds(50));
  EXPECT_EQ(rec_.bars.size(), 1u);
  EXPECT_EQ(feed_->state(), WsFeedState::kStopped);
  EXPECT_FALSE(feed_->start(rec_).ok());
}

// Seeded random market: every complete minute's bar equals the bar built
// directly from the trades the simulator published.
TEST_F(WsFeedTest, GeneratedMarketGivesTheReferenceBars) {
  start_sim();
  start_feed(feed_config());
  coinbase_sim::GeneratorConfig g;
  g.seed = seed_;
  g.products = {{"BTC-USD", 3'000'000}, {"ETH-USD", 200'000}};
  g.start_time_us = kM;
  g.tick_real_ms = 1;
  g.ticks_max = 200;
  sim_->start_generator(g);
  ASSERT_TRUE(run_until(io_, [&] { return !sim_->generator_running(); }, milliseconds(30'000)));
  const std::vector<SimTrade>& published = sim_->published_trades();
  wait_trades(published.size());
  heartbeat_at(sim_->market_time_us() + 62 * kSec);
  // Reference bars: trades in publication order, quotes from the tickers
  // (one per traded product per tick, at the tick's end).
  std::map<std::pair<std::int64_t, std::string>, Bar> expected;
  std::map<std::pair<std::int64_t, std::string>, std::int64_t> close_time;
  for (const SimTrade& t : published) {
    const std::int64_t minute = t.time_us / kBarMicros * kBarSeconds;
    auto [it, fresh] = expected.try_emplace({minute, t.product});
    Bar& b = it->second;
    if (fresh) {
      b.product = ProductId::parse(t.product).value();
      b.open_ts_s = minute;
      b.open = b.high = b.low = b.close = t.price_value;
      b.volume = t.size_value;
      close_time[{minute, t.product}] = t.time_us;
      continue;
    }
    b.high = std::max(b.high, t.price_value);
    b.low = std::min(b.low, t.price_value);
    b.volume += t.size_value;
    if (t.time_us >= close_time[{minute, t.product}]) {
      close_time[{minute, t.product}] = t.time_us;
      b.close = t.price_value;
    }
  }
  // Tickers: for each tick end, the product's last price +- one cent.
  {
    std::map<std::string, const SimTrade*> last;
    std::int64_t tick_end = kM;
    std::size_t i = 0;
    while (tick_end < sim_->market_time_us()) {
      tick_end += g.tick_market_us;
      std::map<std::string, bool> traded;
      for (; i < published.size() && published[i].time_us <= tick_end; ++i) {
        last[published[i].product] = &published[i];
        traded[published[i].product] = true;
      }
      for (const auto& [product, yes] : traded) {
        const auto key = std::make_pair(tick_end / kBarMicros * kBarSeconds, product);
        const auto it = expected.find(key);
        if (it == expected.end()) continue;  // a quote alone makes no bar
        const std::int64_t cents = cents_of(last[product]->price);
        it->second.quote = Quote{std::stod(cents_text(cents - 1)), std::stod(cents_text(cents + 1))};
      }
    }
  }
  wait_bars(expected.size());
  run_for(io_, milliseconds(50));
  std::vector<Bar> got = rec_.bars;
  std::sort(got.begin(), got.end(), [](const Bar& a, const Bar& b) {
    return a.open_ts_s != b.open_ts_s ? a.open_ts_s < b.open_ts_s : a.product < b.product;
  });
  std::vector<Bar> want;
  for (const auto& [key, bar] : expected) want.push_back(bar);
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t k = 0; k < want.size(); ++k) EXPECT_EQ(got[k], want[k]) << "bar " << k;
  EXPECT_EQ(feed_->aggregator_stats(kBtc)->late_dropped, 0u);
  EXPECT_EQ(feed_->stats().sequence_gaps, 0u);
  EXPECT_EQ(feed_->stats().malformed, 0u);
}

TEST(WsFeedConfig, Limits) {
  boost::asio::io_context io;
  WsFeedConfig c;
  c.url = "ws://127.0.0.1:1";
  c.products = {kBtc};
  EXPECT_NO_THROW(CoinbaseWsFeed(io, c));
  WsFeedConfig bad = c;
  bad.products.clear();
  EXPECT_THROW(CoinbaseWsFeed(io, bad), std::invalid_argument);
  bad = c;
  bad.products = {kBtc, kBtc};
  EXPECT_THROW(CoinbaseWsFeed(io, bad), std::invalid_argument);
  // products_max at the limit, one below, one above.
  std::vector<ProductId> many;
  for (std::size_t i = 0; i <= WsFeedConfig::products_max; ++i) {
    many.push_back(ProductId::parse("P" + std::to_string(i) + "-USD").value());
  }
  bad = c;
  bad.products.assign(many.begin(), many.begin() + WsFeedConfig::products_max);
  EXPECT_NO_THROW(CoinbaseWsFeed(io, bad));
  bad.products.assign(many.begin(), many.begin() + WsFeedConfig::products_max - 1);
  EXPECT_NO_THROW(CoinbaseWsFeed(io, bad));
  bad.products = many;
  EXPECT_THROW(CoinbaseWsFeed(io, bad), std::invalid_argument);
  for (std::int64_t WsFeedConfig::*field : {&WsFeedConfig::connect_timeout_ms, &WsFeedConfig::subscribe_ack_timeout_ms,
                                             &WsFeedConfig::stale_timeout_ms, &WsFeedConfig::stable_session_ms}) {
    bad = c;
    bad.*field = WsFeedConfig::timeout_ms_max;
    EXPECT_NO_THROW(CoinbaseWsFeed(io, bad));
    bad.*field = WsFeedConfig::timeout_ms_max + 1;
    EXPECT_THROW(CoinbaseWsFeed(io, bad), std::invalid_argument);
    bad.*field = 1;
    EXPECT_NO_THROW(CoinbaseWsFeed(io, bad));
    bad.*field = 0;
    EXPECT_THROW(CoinbaseWsFeed(io, bad), std::invalid_argument);
  }
  bad = c;
  bad.reconnect_attempts_max = WsFeedConfig::reconnect_attempts_limit;
  EXPECT_NO_THROW(CoinbaseWsFeed(io, bad));
  bad.reconnect_attempts_max = WsFeedConfig::reconnect_attempts_limit + 1;
  EXPECT_THROW(CoinbaseWsFeed(io, bad), std::invalid_argument);
  bad.reconnect_attempts_max = 0;
  EXPECT_THROW(CoinbaseWsFeed(io, bad), std::invalid_argument);
  for (const char* url : {"http://127.0.0.1:1", "ws://", "ws://host:0/", "ws://u@host/", "ws://host/?q=1", "junk"}) {
    bad = c;
    bad.url = url;
    EXPECT_THROW(CoinbaseWsFeed(io, bad), std::invalid_argument) << url;
  }
  bad = c;
  bad.url = std::string(kMarketDataUrl);
  EXPECT_NO_THROW(CoinbaseWsFeed(io, bad));
  bad.aggregator.grace_ms = AggregatorConfig::grace_ms_max + 1;
  EXPECT_THROW(CoinbaseWsFeed(io, bad), std::invalid_argument);
}

}  // namespace
}  // namespace ta::agent::coinbase
