// trading-agent in PAPER end to end against the project's Coinbase
// simulator (tests/support/coinbase_sim): the live WebSocket feed's trades
// become one-minute bars, the engine trades on them, and the intents go to
// a gate in PAPER (MiniGate, whose reference prices come from the same
// trades, as the real gate's own exchange feed would give them). Checks:
// the agent builds bars from the trades and sends no Bar to the gate (a
// PAPER gate refuses them); every intent reaches the gate once and is
// journaled with its decision; each intent names a closed bar that the
// feed's trades had finished before the intent arrived.
#include <boost/asio/steady_timer.hpp>

#include <cmath>
#include <cstdio>
#include <set>

#include "agentd_test_support.h"
#include "coinbase_sim/coinbase_sim.h"

namespace ta::agentd_test {
namespace {

namespace cs = ta::coinbase_sim;

// "<strategy>-<product>-<open_ts_s>-<n>" -> open_ts_s.
std::int64_t signal_bar_of(const std::string& intent_id) {
  const auto last = intent_id.rfind('-');
  const auto before = intent_id.rfind('-', last - 1);
  return std::stoll(intent_id.substr(before + 1, last - before - 1));
}

// agent.yaml for PAPER on BTC-USD and ETH-USD in `root`: `coinbase_keys`
// go under feed.coinbase, `strategies` is the strategies: block.
void write_paper_config(const fs::path& root, const std::string& coinbase_keys, const std::string& strategies) {
  std::ofstream(root / "agent.yaml")
      << "mode: PAPER\n"
         "state_dir: " << (root / "agent-state").string() << "\n"
         "journal_dir: " << (root / "agent-journal").string() << "\n"
         "gate:\n  socket: " << (root / "gate.sock").string()
      << "\n  reply_timeout: 20s\n  reconnect_delay_initial: 5ms\n  reconnect_delay_max: 50ms\n"
         "feed:\n  source: coinbase\n  coinbase:\n" << coinbase_keys
      << "products:\n"
         "  BTC-USD: {base_increment: \"0.00000001\", quote_increment: \"0.01\", base_min_size: \"0.0001\", "
         "base_max_size: \"1\"}\n"
         "  ETH-USD: {base_increment: \"0.00000001\", quote_increment: \"0.01\", base_min_size: \"0.001\", "
         "base_max_size: \"20\"}\n"
         "sizing: {order_notional_max_usd: \"900\"}\n"
      << strategies;
}

TEST(AgentdPaper, LiveTradesBecomeBarsAndIntentsReachThePaperGate) {
  TempDir d;
  boost::asio::io_context io;

  cs::SimConfig sc;
  sc.heartbeat_interval_ms = 0;  // heartbeats come with the generator's ticks
  cs::CoinbaseSim sim(io, sc);
  ASSERT_TRUE(sim.start().ok());

  const auto gcfg = gate_config(d.root);
  ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
  gate.mode = ta::ipc::MODE_PAPER;
  ASSERT_TRUE(gate.start().ok());

  // Cold, as before the warm-up: this test is about the live bars.
  write_paper_config(d.root, "    url: " + sim.ws_url() + "\n    warmup_minutes: 0\n",
                     "strategies:\n  mr:\n    builtin: mean_reversion\n"
                     "    params: {period: 5, entry_z: 0.5, max_holding_bars: 5}\n");
  auto load = ta::agent::load_agent_config(d.root / "agent.yaml");
  ASSERT_TRUE(load.ok()) << load.problems[0].to_string();

  // The market: 15 s of market time every 2 ms, about 200 minutes.
  const std::int64_t start_s = cs::unix_seconds(2024, 3, 4, 10, 0, 0);
  cs::GeneratorConfig g;
  g.seed = 7;
  g.products = {{"BTC-USD", 6'500'000}, {"ETH-USD", 350'000}};
  g.start_time_us = start_s * 1'000'000;
  g.tick_market_us = 15'000'000;
  g.tick_real_ms = 2;
  g.trades_per_tick_max = 4;
  g.ticks_max = 800;

  // The gate's own feed: every published trade marks its product. It is
  // followed every millisecond and whenever an intent arrives (one thread:
  // the agent can only have seen trades published by then).
  std::size_t seen = 0;
  const auto catch_up = [&] {
    const auto& trades = sim.published_trades();
    for (; seen < trades.size(); ++seen) {
      const cs::SimTrade& t = trades[seen];
      auto price = Decimal::parse(t.price);
      ASSERT_TRUE(price.ok()) << t.price;
      // BTC-USD only: ETH-USD has no reference price, as in a gate whose
      // feed lacks it, so its intents are denied and tried again.
      if (t.product == "BTC-USD") gate.set_market(t.product, *price, t.time_us * 1000);
    }
  };
  gate.before_intent = catch_up;
  boost::asio::steady_timer feed_timer(io);
  std::function<void()> follow = [&] {
    catch_up();
    feed_timer.expires_after(std::chrono::milliseconds(1));
    feed_timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) follow();
    });
  };

  ta::agent::AgentAppOptions options;
  options.config = load.config;
  bool finished = false;
  options.on_finished = [&](int, const std::string&) { finished = true; };
  ta::agent::AgentApp app(io, std::move(options));
  ASSERT_TRUE(app.start().ok());
  sim.start_generator(g);
  follow();
  // PAPER runs until it is stopped: until the generator's last tick, then
  // a moment for the last bars and decisions.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (sim.generator_running() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(sim.generator_running()) << "the market generator did not finish in time";
  io.run_for(std::chrono::milliseconds(300));
  RunResult run;
  run.counters = app.counters();
  run.status = boost::json::parse(app.status_json()).as_object();
  EXPECT_FALSE(finished) << "the agent stopped on its own";
  app.stop("test: the market generator finished");
  feed_timer.cancel();
  sim.stop();
  gate.shutdown();
  io.run_for(std::chrono::milliseconds(50));

  std::printf("PAPER: trades=%zu bars=%llu intents=%llu sent=%llu accepted=%llu denied=%llu gate arrivals=%zu\n",
              sim.published_trades().size(), static_cast<unsigned long long>(run.counters.bars),
              static_cast<unsigned long long>(run.counters.intents),
              static_cast<unsigned long long>(run.counters.intents_sent),
              static_cast<unsigned long long>(run.counters.accepted),
              static_cast<unsigned long long>(run.counters.denied), gate.arrivals.size());

  // Bars from the trades: about one per product and minute (a minute with
  // no trade is a gap), never a Bar message to the PAPER gate.
  EXPECT_GT(run.counters.bars, 300u);
  EXPECT_LE(run.counters.bars, 2u * 200u);
  EXPECT_EQ(gate.bars_processed, 0u);
  EXPECT_EQ(gate.protocol_errors, 0u);
  EXPECT_EQ(std::string(run.status.at("mode").as_string()), "PAPER");

  // Intents: each reaches the gate once, decided once, journaled with its
  // decision. BTC-USD entries become orders (they never fill: nothing
  // feeds the PAPER gate's venue here); ETH-USD ones are denied for the
  // missing reference price and tried again on later bars.
  ASSERT_GT(gate.arrivals.size(), 2u) << "the strategy hardly signalled";
  EXPECT_EQ(run.counters.intents_sent, gate.arrivals.size());
  EXPECT_GT(run.counters.accepted, 0u);
  EXPECT_GT(run.counters.denied_by_reason[ta::ipc::DENY_REASON_NO_REFERENCE_PRICE], 1u);
  EXPECT_EQ(run.counters.accepted + run.counters.denied, gate.arrivals.size());
  std::set<std::string> ids;
  const JournalView journal = read_journal(d.root / "agent-journal");
  for (const auto& a : gate.arrivals) {
    const std::string& id = a.intent.intent_id();
    EXPECT_TRUE(ids.insert(id).second) << "sent twice: " << id;
    EXPECT_EQ(gate.decisions_fresh[id], 1) << id;
    EXPECT_EQ(journal.sent.count(id), 1u) << id;
    EXPECT_EQ(journal.decisions.count(id), 1u) << id;
    // The intent names a minute bar that had closed: the market (the
    // same trades, as the gate saw them) was past its end when the intent
    // arrived. Only BTC-USD moves the gate's market time.
    const std::int64_t open_s = signal_bar_of(id);
    EXPECT_EQ(open_s % 60, 0) << id;
    EXPECT_GE(open_s, start_s) << id;
    if (a.intent.product() == "BTC-USD") {
      EXPECT_GE(a.market_now_ns, (open_s + 60) * 1'000'000'000LL) << id << " arrived before its bar closed";
    }
  }
  EXPECT_TRUE(journal.steps == 0) << "PAPER does not journal bar steps";
  EXPECT_EQ(run.counters.warm_ups_done + run.counters.warm_ups_failed, 0u) << "warm-up is off";
}

// ---------------------------------------------------------------- warm-up

// A PAPER agent against the simulator's generated market, with the REST
// candles `prepare` sets up; MiniGate in PAPER without reference prices
// (the warm-up tests look at the agent, not at orders).
struct PaperRun {
  RunResult run;
  JournalView journal;
  std::vector<ta::ipc::AgentWarmUp> warm_ups;  // journaled, in order
  std::size_t trades = 0;
};

PaperRun run_paper(const std::string& coinbase_keys, const std::string& strategies, std::uint64_t ticks,
                   std::int64_t tick_real_ms, const std::function<void(cs::CoinbaseSim&)>& prepare) {
  TempDir d;
  boost::asio::io_context io;
  cs::SimConfig sc;
  sc.heartbeat_interval_ms = 0;
  cs::CoinbaseSim sim(io, sc);
  EXPECT_TRUE(sim.start().ok());
  prepare(sim);
  ta::test::MiniGate gate(io, gate_config(d.root), (d.root / "gate.sock").string());
  gate.mode = ta::ipc::MODE_PAPER;
  EXPECT_TRUE(gate.start().ok());
  write_paper_config(d.root, "    url: " + sim.ws_url() + "\n    rest_url: " + sim.http_url() + "\n" + coinbase_keys,
                     strategies);
  auto load = ta::agent::load_agent_config(d.root / "agent.yaml");
  EXPECT_TRUE(load.ok()) << (load.ok() ? "" : load.problems[0].to_string());
  PaperRun out;
  if (!load.ok()) return out;

  cs::GeneratorConfig g;
  g.seed = 11;
  g.products = {{"BTC-USD", 6'500'000}, {"ETH-USD", 350'000}};
  g.start_time_us = cs::unix_seconds(2024, 3, 4, 10, 0, 0) * 1'000'000LL;
  g.tick_market_us = 15'000'000;
  g.tick_real_ms = tick_real_ms;
  g.ticks_max = ticks;

  ta::agent::AgentAppOptions options;
  options.config = load.config;
  ta::agent::AgentApp app(io, std::move(options));
  EXPECT_TRUE(app.start().ok());
  sim.start_generator(g);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (sim.generator_running() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(sim.generator_running()) << "the market generator did not finish in time";
  io.run_for(std::chrono::milliseconds(300));
  out.run.counters = app.counters();
  out.run.status = boost::json::parse(app.status_json()).as_object();
  out.trades = sim.published_trades().size();
  app.stop("test: the market generator finished");
  sim.stop();
  gate.shutdown();
  io.run_for(std::chrono::milliseconds(50));
  out.journal = read_journal(d.root / "agent-journal");
  for (const auto& r : out.journal.records) {
    if (r.has_warm_up()) out.warm_ups.push_back(r.warm_up());
  }
  return out;
}

// One-minute candles around `price` for [from_s, to_s), except `skip_s`.
std::vector<cs::SimCandle> candles(std::int64_t from_s, std::int64_t to_s, double price, std::int64_t skip_s) {
  std::vector<cs::SimCandle> out;
  for (std::int64_t t = from_s; t < to_s; t += 60) {
    if (t == skip_s) continue;
    const double c = price * (1 + 0.002 * std::sin(static_cast<double>(t) / 600.0));
    const auto text = [](double v) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2f", v);
      return std::string(buf);
    };
    out.push_back({t, text(c), text(c * 1.0005), text(c * 0.9995), text(c), "3.5"});
  }
  return out;
}

const boost::json::object& slot_of(const boost::json::object& status, const std::string& strategy, const std::string& product) {
  static const boost::json::object none;
  for (const auto& v : status.at("strategies").as_array()) {
    const auto& o = v.as_object();
    if (o.at("strategy").as_string() == strategy && o.at("product").as_string() == product) return o;
  }
  ADD_FAILURE() << "no slot " << strategy << "/" << product;
  return none;
}

// BTC-USD has candles (with one minute missing), ETH-USD none (the
// simulator answers 404): BTC-USD's strategy judges its first live bar with
// warm indicators, ETH-USD's starts cold and is still warming up when the
// run ends. Without the warm-up both would be cold.
TEST(AgentdPaper, TheFirstLiveBarMeetsIndicatorsWarmedFromRestCandles) {
  const std::int64_t start_s = cs::unix_seconds(2024, 3, 4, 10, 0, 0);
  const std::int64_t gap_s = start_s - 30 * 60;
  // 40 ticks of 15 s: about ten live minutes, fewer than the 60-bar window.
  // A market minute takes 200 ms, so ETH-USD's turn (after BTC-USD's
  // backfill and the 125 ms pacing between requests) comes before its
  // second live bar.
  const PaperRun r = run_paper("    warmup_minutes: 120\n",
                               "strategies:\n  mr:\n    builtin: mean_reversion\n    params: {period: 60}\n", 40,
                               50, [&](cs::CoinbaseSim& sim) {
                                 sim.set_candles("BTC-USD", candles(start_s - 300 * 60, start_s + 3600, 65'000, gap_s));
                               });
  const auto& c = r.run.counters;
  std::printf("warm-up: live bars=%llu warm-up bars=%llu done=%llu failed=%llu trades=%zu\n",
              static_cast<unsigned long long>(c.bars), static_cast<unsigned long long>(c.warm_up_bars),
              static_cast<unsigned long long>(c.warm_ups_done), static_cast<unsigned long long>(c.warm_ups_failed),
              r.trades);
  ASSERT_GT(c.bars, 2u * 8u);
  EXPECT_LE(c.bars, 2u * 11u);
  EXPECT_EQ(c.warm_ups_done, 1u);
  EXPECT_EQ(c.warm_ups_failed, 1u);
  EXPECT_EQ(c.warm_up_bars, 119u);

  ASSERT_EQ(r.warm_ups.size(), 2u);
  for (const auto& w : r.warm_ups) {
    SCOPED_TRACE(w.product());
    EXPECT_EQ(w.requested_minutes(), 120);
    EXPECT_EQ(w.live_from_ts_s() % 60, 0);
    EXPECT_GE(w.live_from_ts_s(), start_s);
    EXPECT_LE(w.live_from_ts_s(), start_s + 120);
    if (w.product() == "BTC-USD") {
      EXPECT_TRUE(w.error().empty()) << w.error();
      EXPECT_EQ(w.bars(), 119u);
      // The backfill ends where the live bars begin: no seam, no overlap.
      EXPECT_EQ(w.first_open_ts_s(), w.live_from_ts_s() - 120 * 60);
      EXPECT_EQ(w.last_open_ts_s(), w.live_from_ts_s() - 60);
      EXPECT_EQ(w.missing_minutes(), 1);
      EXPECT_GE(w.requests(), 1u);
    } else {
      EXPECT_EQ(w.product(), "ETH-USD");
      EXPECT_NE(w.error().find("404"), std::string::npos) << w.error();
      EXPECT_EQ(w.bars(), 0u);
    }
  }

  const auto& status_warm = r.run.status.at("warm_up").as_object();
  EXPECT_EQ(std::string(status_warm.at("BTC-USD").as_object().at("state").as_string()), "done");
  EXPECT_EQ(std::string(status_warm.at("ETH-USD").as_object().at("state").as_string()), "failed");
  EXPECT_EQ(status_warm.at("BTC-USD").as_object().at("held").to_number<std::uint64_t>(), 0u);
  const auto& btc = slot_of(r.run.status, "mr", "BTC-USD");
  const auto& eth = slot_of(r.run.status, "mr", "ETH-USD");
  EXPECT_TRUE(btc.at("ready").as_bool());
  EXPECT_NE(std::string(btc.at("state").as_string()), "IDLE");
  EXPECT_FALSE(eth.at("ready").as_bool());
  EXPECT_EQ(std::string(eth.at("state").as_string()), "IDLE");
}

// A backfill that never answers: each product holds WarmUpConfig::kHeldBarsMax
// live bars, then gives up and starts cold; every held bar still reaches
// the engine, in order.
TEST(AgentdPaper, ABackfillThatNeverAnswersStartsColdAfterTheHeldBarsLimit) {
  const PaperRun r = run_paper("    warmup_minutes: 60\n", "strategies:\n  mr:\n    builtin: mean_reversion\n", 80, 2,
                               [&](cs::CoinbaseSim& sim) {
                                 sim.push_http_faults({cs::HttpFault::kNoResponse, cs::HttpFault::kNoResponse});
                               });
  const auto& c = r.run.counters;
  EXPECT_EQ(c.warm_ups_done, 0u);
  EXPECT_EQ(c.warm_ups_failed, 2u);
  EXPECT_EQ(c.warm_up_bars, 0u);
  ASSERT_EQ(r.warm_ups.size(), 2u);
  const std::string expected =
      "no warm-up after " + std::to_string(ta::agent::WarmUpConfig::kHeldBarsMax) + " live bars";
  for (const auto& w : r.warm_ups) {
    EXPECT_NE(w.error().find(expected), std::string::npos) << w.product() << ": " << w.error();
  }
  // Every live bar went to the engine: about one per product and minute
  // of the 20 generated minutes, held ones included.
  EXPECT_GT(c.bars, 2u * 15u);
  EXPECT_LE(c.bars, 2u * 20u);
  const auto& last = r.run.status.at("last_bar_open_ts_s").as_object();
  EXPECT_EQ(last.size(), 2u);
  for (const auto& [product, w] : r.run.status.at("warm_up").as_object()) {
    EXPECT_EQ(w.as_object().at("held").to_number<std::uint64_t>(), 0u) << product;
  }
}

}  // namespace
}  // namespace ta::agentd_test
