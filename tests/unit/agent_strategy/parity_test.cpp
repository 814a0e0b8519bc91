// A declarative strategy that reproduces a built-in gives identical intents
// on real market data: config/strategies/ema_cross.yaml vs momentum and
// zscore_reversion.yaml vs mean_reversion, on BTC and ETH together (the
// 90-day shared data when TA_SHARED_DATA has it, else the 3-day demo).
#include <gtest/gtest.h>

#include "strategy_test_support.h"

namespace ta::agent {
namespace {

const ProductId kBtc = test::pid("BTC-USD");
const ProductId kEth = test::pid("ETH-USD");

struct Data {
  std::vector<Bar> btc;
  std::vector<Bar> eth;
  bool shared = false;
};

Data read_data() {
  Data d;
  const auto shared_btc = test::shared_data() / "binance_BTCUSDT_1m_2025-05-20_2025-08-17.csv";
  const auto shared_eth = test::shared_data() / "binance_ETHUSDT_1m_2025-05-20_2025-08-17.csv";
  if (std::filesystem::exists(shared_btc) && std::filesystem::exists(shared_eth)) {
    d.btc = test::load_bars(shared_btc, kBtc);
    d.eth = test::load_bars(shared_eth, kEth);
    d.shared = true;
  } else {
    d.btc = test::load_bars(test::demo_data() / "BTC-USD_1m_demo.csv", kBtc);
    d.eth = test::load_bars(test::demo_data() / "ETH-USD_1m_demo.csv", kEth);
  }
  std::printf("data: %s, %zu BTC and %zu ETH bars\n", d.shared ? "shared" : "demo", d.btc.size(), d.eth.size());
  return d;
}

// Read once for all tests (parsing is most of the time under ASan).
const Data& load_data() {
  static const Data data = read_data();
  return data;
}

std::vector<Intent> run(const std::shared_ptr<const StrategyDefinition>& strategy, const Data& data) {
  auto engine = test::make_engine({strategy}, {test::spot("BTC-USD"), test::spot("ETH-USD")});
  test::NextBarSim sim(engine, 0.0006);
  // Interleave the products minute by minute, as a merged feed does.
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < data.btc.size() || j < data.eth.size()) {
    const bool take_btc =
        j == data.eth.size() || (i < data.btc.size() && data.btc[i].open_ts_s <= data.eth[j].open_ts_s);
    sim.step(take_btc ? data.btc[i++] : data.eth[j++]);
  }
  return sim.all_intents;
}

std::string without_name(const Intent& in) { return in.intent_id.substr(in.strategy.size()); }

void expect_same_intents(const std::vector<Intent>& builtin, const std::vector<Intent>& declarative) {
  ASSERT_EQ(builtin.size(), declarative.size());
  for (std::size_t k = 0; k < builtin.size(); ++k) {
    const Intent& a = builtin[k];
    const Intent& b = declarative[k];
    ASSERT_EQ(without_name(a), without_name(b)) << k;
    EXPECT_EQ(a.product, b.product) << k;
    EXPECT_EQ(a.side, b.side) << k;
    EXPECT_EQ(a.purpose, b.purpose) << k;
    EXPECT_EQ(a.reason, b.reason) << k;
    EXPECT_EQ(a.quantity, b.quantity) << k;
    EXPECT_EQ(a.protective_stop_price, b.protective_stop_price) << k;
  }
}

std::shared_ptr<const StrategyDefinition> shipped(const char* file) {
  auto load = load_strategy_file(test::source_dir() / "config" / "strategies" / file);
  EXPECT_TRUE(load.ok()) << proto::join_problems(load.problems);
  return load.strategy;
}

TEST(Parity, EmaCrossYamlEqualsBuiltinMomentum) {
  const Data data = load_data();
  ASSERT_FALSE(data.btc.empty());
  const auto builtin = run(make_momentum("momentum", {}).value(), data);
  const auto declarative = run(shipped("ema_cross.yaml"), data);
  std::printf("momentum intents: %zu\n", builtin.size());
  // The comparison means something only with many trades of both kinds.
  EXPECT_GT(builtin.size(), data.shared ? 1000u : 50u);
  expect_same_intents(builtin, declarative);
}

TEST(Parity, ZscoreYamlEqualsBuiltinMeanReversion) {
  const Data data = load_data();
  ASSERT_FALSE(data.btc.empty());
  const auto builtin = run(make_mean_reversion("mean_reversion", {}).value(), data);
  const auto declarative = run(shipped("zscore_reversion.yaml"), data);
  std::printf("mean reversion intents: %zu\n", builtin.size());
  EXPECT_GT(builtin.size(), data.shared ? 1000u : 50u);
  expect_same_intents(builtin, declarative);
}

TEST(Parity, TunedParametersStayEqual) {
  Data data = load_data();  // a copy, cut shorter: enough here
  if (data.btc.size() > 20'000) data.btc.resize(20'000);
  if (data.eth.size() > 20'000) data.eth.resize(20'000);
  MomentumParams p;
  p.fast_period = 5;
  p.slow_period = 50;
  p.stop_atr = 1.5;
  const std::vector<std::pair<std::string, double>> tuned = {
      {"fast_period", 5}, {"slow_period", 50}, {"stop_atr", 1.5}};
  const auto yaml = shipped("ema_cross.yaml")->with_parameters(tuned);
  ASSERT_TRUE(yaml.ok()) << yaml.error().message;
  expect_same_intents(run(make_momentum("momentum", p).value(), data), run(yaml.value(), data));
}

}  // namespace
}  // namespace ta::agent
