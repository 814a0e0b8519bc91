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

  std::ofstream(d.root / "agent.yaml")
      << "mode: PAPER\n"
         "state_dir: " << (d.root / "agent-state").string() << "\n"
         "journal_dir: " << (d.root / "agent-journal").string() << "\n"
         "gate:\n  socket: " << (d.root / "gate.sock").string()
      << "\n  reply_timeout: 20s\n  reconnect_delay_initial: 5ms\n  reconnect_delay_max: 50ms\n"
         "feed:\n  source: coinbase\n  coinbase:\n    url: " << sim.ws_url() << "\n"
         "products:\n"
         "  BTC-USD: {base_increment: \"0.00000001\", quote_increment: \"0.01\", base_min_size: \"0.0001\", "
         "base_max_size: \"1\"}\n"
         "  ETH-USD: {base_increment: \"0.00000001\", quote_increment: \"0.01\", base_min_size: \"0.001\", "
         "base_max_size: \"20\"}\n"
         "sizing: {order_notional_max_usd: \"900\"}\n"
         "strategies:\n"
         "  mr:\n    builtin: mean_reversion\n    params: {period: 5, entry_z: 0.5, max_holding_bars: 5}\n";
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
}

}  // namespace
}  // namespace ta::agentd_test
