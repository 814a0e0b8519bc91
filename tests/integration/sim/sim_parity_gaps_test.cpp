// Parity property (issue 6): randomly generated BTC and ETH minutes with
// random gaps and outages go through the daemon pair in SIM (the real
// trading-gate and trading-agent, shipped config/agent.yaml) and through
// trading-backtest with config/parity.yaml, and must give identical fills,
// fees, positions, realized P&L and equity, compared exactly as fixed-point
// text. Seed printed first; TA_TEST_SEED replays a failure.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cmath>
#include <random>

#include "agent_test_support.h"
#include "sim_support.h"

namespace ta::simtest {
namespace {

constexpr int kRounds = 2;
constexpr int kMinutes = 500;  // per product, before gaps
constexpr int kRunTimeoutMs = 240'000;

std::string cents(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

struct Series {
  std::vector<CsvBar> bars;
  int gaps = 0;
};

// A random walk with jumps (so mean reversion and crossovers trade), cut by
// gaps of its own and by outages shared with the other product.
Series random_series(std::mt19937_64& rng, double start_price, std::int64_t start_ts,
                     const std::vector<bool>& outage) {
  std::normal_distribution<double> step(0.0, 0.0015);
  std::normal_distribution<double> wick(0.0, 0.0006);
  std::bernoulli_distribution jump(0.02);
  std::bernoulli_distribution gap_starts(0.005);
  std::uniform_int_distribution<int> gap_len(1, 60);
  std::uniform_real_distribution<double> volume(1.0, 40.0);
  Series s;
  double close = start_price;
  int skip = 0;
  for (int i = 0; i < kMinutes; ++i) {
    double r = step(rng);
    if (jump(rng)) r += (rng() % 2 == 0 ? 1 : -1) * 0.006;
    const double open = std::round(close * 100) / 100;
    close = std::round(open * (1 + r) * 100) / 100;
    if (close < 1) close = 1;
    const double high = std::max(open, close) + 0.01 + std::round(std::abs(wick(rng)) * open * 100) / 100;
    const double low = std::max(0.01, std::min(open, close) - 0.01 - std::round(std::abs(wick(rng)) * open * 100) / 100);
    if (skip == 0 && gap_starts(rng)) {
      skip = gap_len(rng);
      ++s.gaps;
    }
    if (skip > 0) {
      --skip;
      continue;  // the market moved on without a bar
    }
    if (outage[static_cast<std::size_t>(i)]) continue;
    s.bars.push_back({start_ts + i * 60, cents(open), cents(high), cents(low), cents(close), cents(volume(rng))});
  }
  return s;
}

std::string str(const boost::json::value& v) { return std::string(v.as_string()); }

TEST(SimParityGaps, RandomGapsGiveIdenticalResultsInSimAndBacktest) {
  const unsigned seed = ta::agent::test::test_seed();
  std::mt19937_64 rng(seed);
  for (int round = 0; round < kRounds; ++round) {
    // Any minute of a day, so some runs cross UTC midnight (the daily loss
    // limit's day).
    const std::int64_t start = 1'704'067'200 + static_cast<std::int64_t>(rng() % 1440) * 60;
    std::vector<bool> outage(kMinutes, false);
    for (int i = 0; i < kMinutes;) {
      if (rng() % 600 == 0) {
        const int len = 5 + static_cast<int>(rng() % 180);
        for (int k = i; k < std::min(kMinutes, i + len); ++k) outage[static_cast<std::size_t>(k)] = true;
        i += len;
      } else {
        ++i;
      }
    }
    const Series btc = random_series(rng, 20'000 + static_cast<double>(rng() % 80'000), start, outage);
    const Series eth = random_series(rng, 1'000 + static_cast<double>(rng() % 3'000), start, outage);
    SCOPED_TRACE("round " + std::to_string(round) + " start " + std::to_string(start));
    std::printf("round %d: start=%lld btc_bars=%zu btc_gaps=%d eth_bars=%zu eth_gaps=%d\n", round,
                static_cast<long long>(start), btc.bars.size(), btc.gaps, eth.bars.size(), eth.gaps);
    ASSERT_FALSE(btc.bars.empty());
    ASSERT_FALSE(eth.bars.empty());

    Workspace ws(Workspace::Options{});
    write_text(ws.root() / "data/BTC-USD_1m_demo.csv", bars_csv(btc.bars));
    write_text(ws.root() / "data/ETH-USD_1m_demo.csv", bars_csv(eth.bars));

    // SIM: both daemons.
    ASSERT_TRUE(ws.start_gate()) << ws.gate().log();
    ASSERT_EQ(wait_child(ws.spawn_agent(), kRunTimeoutMs), 0) << read_text(ws.agent_log()).substr(0, 4000);
    const auto summary = agent_summary(ws.agent_log());
    const auto positions = ws.positions();
    ASSERT_TRUE(positions.has_value());
    ASSERT_TRUE(ws.stop_gate());
    const GateJournal gate = read_gate_journal(ws.gate().journal_dir());
    ASSERT_EQ(gate.error, "");

    // Backtest on the same files.
    ASSERT_EQ(ws.run_backtest(), 0);
    const auto report = boost::json::parse(read_text(ws.root() / "out/report.json")).as_object();
    const auto& account = report.at("account").as_object();

    std::printf("round %d: sim equity=%s fills=%zu; backtest equity=%s\n", round, summary.at("final_equity").c_str(),
                gate.fills.size(), str(account.at("end_equity")).c_str());
    EXPECT_EQ(str(account.at("end_equity")), summary.at("final_equity"));
    EXPECT_EQ(str(account.at("end_equity")), positions->account().equity());
    EXPECT_EQ(str(account.at("fees")), positions->account().fees_paid());
    // Per product: fills, fees, traded notional (every fill's price and
    // quantity), realized P&L and the final position.
    std::map<std::string, const ta::ipc::Position*> sim_positions;
    for (const auto& p : positions->positions()) sim_positions[p.product()] = &p;
    std::size_t report_fills = 0;
    for (const auto& pv : report.at("products").as_array()) {
      const auto& p = pv.as_object();
      const std::string product = str(p.at("product"));
      SCOPED_TRACE(product);
      std::size_t fills = 0;
      Decimal fees;
      Decimal notional;
      for (const auto& f : gate.fills) {
        if (f.product() != product) continue;
        ++fills;
        fees = fees.add(Decimal::parse(f.fee()).value()).value();
        notional = notional.add(Decimal::parse(f.quantity()).value().mul(Decimal::parse(f.price()).value(), ta::Rounding::kHalfEven).value())
                       .value();
      }
      report_fills += p.at("fills").to_number<std::size_t>();
      EXPECT_EQ(p.at("fills").to_number<std::size_t>(), fills);
      EXPECT_EQ(str(p.at("fees")), fees.to_string());
      EXPECT_EQ(str(p.at("traded_notional")), notional.to_string());
      const ta::ipc::Position* sp = sim_positions.count(product) != 0 ? sim_positions.at(product) : nullptr;
      EXPECT_EQ(str(p.at("final_position")), sp != nullptr ? Decimal::parse(sp->quantity()).value().to_string() : "0");
      if (sp != nullptr) {
        EXPECT_EQ(str(p.at("realized_pnl")), Decimal::parse(sp->realized_pnl()).value().to_string());
      }
    }
    EXPECT_EQ(report_fills, gate.fills.size());
    // The same orders: accepted decisions, the gate's own among them.
    std::size_t accepted = 0;
    std::size_t gate_orders = 0;
    for (const auto& [id, rec] : gate.intent) {
      if (!rec.decision().accepted()) continue;
      ++accepted;
      if (rec.intent().strategy() == "gate") ++gate_orders;
    }
    const auto& decisions = report.at("books").as_array().at(0).as_object().at("decisions").as_object();
    EXPECT_EQ(decisions.at("accepted").to_number<std::size_t>(), accepted);
    EXPECT_EQ(decisions.at("gate_orders").to_number<std::size_t>(), gate_orders);
    EXPECT_GE(gate.fills.size(), 2u) << "the generated market should trade";
  }
}

}  // namespace
}  // namespace ta::simtest
