// Helpers for the backtest tests: the repository's gate configuration,
// books built in code, demo data, and a few facts read back from results.
#pragma once

#include <gtest/gtest.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "agent_test_support.h"
#include "backtest/backtest.h"
#include "strategy/builtin.h"
#include "strategy/declarative.h"

namespace ta::backtest::test {

using agent::test::demo_data;
using agent::test::ScratchDir;
using agent::test::shared_data;
using agent::test::source_dir;
using agent::test::test_seed;

inline agent::ProductId pid(const char* text) { return agent::ProductId::parse(text).value(); }
inline Decimal D(const char* text) { return Decimal::parse(text).value(); }

// The shipped config/gate.yaml and safety.yaml.
inline gate::Config shipped_gate_config() {
  gate::ConfigLoad load = gate::load_config(source_dir() / "config" / "gate.yaml");
  EXPECT_TRUE(load.problems.empty()) << proto::join_problems(load.problems);
  return load.config;
}

inline std::shared_ptr<const agent::StrategyDefinition> builtin(const char* kind, const char* name,
                                                                std::vector<std::pair<std::string, double>> p = {}) {
  return agent::make_builtin(kind, name, p).value();
}

inline std::shared_ptr<const agent::StrategyDefinition> declarative(const std::string& yaml) {
  agent::StrategyLoad load = agent::parse_strategy(yaml, "test.yaml");
  EXPECT_TRUE(load.ok()) << proto::join_problems(load.problems);
  return load.strategy;
}

inline BookSetup book(std::string name, std::shared_ptr<const agent::StrategyDefinition> def,
                      const char* capital = "10000") {
  BookSetup b;
  b.name = std::move(name);
  b.capital = D(capital);
  StrategySetup s;
  s.definition = std::move(def);
  s.source = "test";
  b.strategies.push_back(std::move(s));
  return b;
}

// The shipped gate configuration, the demo config's sizing, rules off.
inline BacktestConfig config_with(std::vector<BookSetup> books) {
  BacktestConfig c;
  c.gate = shipped_gate_config();
  c.books = std::move(books);
  c.sizing.order_notional_max = D("900");
  c.seed = 1;
  return c;
}

// Two built-in strategies as competing books.
inline BacktestConfig two_books() {
  return config_with({book("momentum", builtin("momentum", "momentum")),
                      book("mean_reversion", builtin("mean_reversion", "mean_reversion", {{"period", 30}}))});
}

// No fees, spread or impact, and no daily loss limit: for tests about
// timing and accounting rather than costs.
inline void frictionless(BacktestConfig& c) {
  c.gate.gate.sim.fee_maker_bps = Decimal();
  c.gate.gate.sim.fee_taker_bps = Decimal();
  c.gate.gate.sim.default_spread_bps = Decimal();
  c.gate.gate.sim.impact_coefficient = Decimal();
  c.gate.safety.daily_loss_fraction_max = Decimal::from_integer(1);
}

inline MarketData demo_market() {
  const CsvSource sources[] = {{pid("BTC-USD"), demo_data() / "BTC-USD_1m_demo.csv"},
                               {pid("ETH-USD"), demo_data() / "ETH-USD_1m_demo.csv"}};
  return load_csv_data(sources).value();
}

inline MarketData outage_market() {
  const CsvSource sources[] = {{pid("BTC-USD"), demo_data() / "BTC-USD_1m_coinbase_outage.csv"}};
  return load_csv_data(sources).value();
}

// Every line of the three reports, for byte comparisons.
inline std::string all_reports(const BacktestConfig& c, const MarketData& m, const BacktestResult& r) {
  const Report rep = summarize(c, m, r);
  return render_json(rep, r) + render_markdown(rep) + render_svg(rep, r);
}

// The signal bar's open time of an engine intent id
// "<strategy>-<product>-<open_ts_s>-<n>".
inline std::int64_t signal_ts(const std::string& intent_id) {
  const auto last = intent_id.rfind('-');
  const auto before = intent_id.rfind('-', last - 1);
  std::int64_t ts = -1;
  std::from_chars(intent_id.data() + before + 1, intent_id.data() + last, ts);
  return ts;
}

// The first bar of `product` opening at or after ts_s, or -1.
inline std::int64_t next_open(const MarketData& m, const agent::ProductId& product, std::int64_t ts_s) {
  const auto it = std::lower_bound(m.bars.begin(), m.bars.end(), ts_s,
                                   [](const agent::Bar& b, std::int64_t t) { return b.open_ts_s < t; });
  for (auto i = it; i != m.bars.end(); ++i) {
    if (i->product == product) return i->open_ts_s;
  }
  return -1;
}

// The first day of the demo data, for tests that need many intents.
inline RunOptions first_day() {
  RunOptions o;
  o.from_ts_s = 1752105600;  // 2025-07-10T00:00:00Z
  o.to_ts_s = o.from_ts_s + 86400;
  return o;
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

}  // namespace ta::backtest::test
