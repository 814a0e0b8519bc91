// Every named limit of the strategy library at the limit, one below and one
// above.
#include <gtest/gtest.h>

#include <fstream>

#include "strategy_test_support.h"

namespace ta::agent {
namespace {

constexpr const char* kTail = "nodes: {}\nentry: {long: close > 0}\nstops: {fixed_percent: 1}\n";

bool loads(const std::string& yaml) { return parse_strategy(yaml, "s.yaml").ok(); }

TEST(Limits, StrategyNameLength) {
  const auto with_name = [](std::size_t n) { return "name: " + std::string(n, 'a') + "\n" + kTail; };
  EXPECT_TRUE(loads(with_name(kStrategyNameLengthMax)));
  EXPECT_TRUE(loads(with_name(kStrategyNameLengthMax - 1)));
  EXPECT_FALSE(loads(with_name(kStrategyNameLengthMax + 1)));
  EXPECT_TRUE(validate_strategy_name(std::string(kStrategyNameLengthMax, 'x')).ok());
  EXPECT_FALSE(validate_strategy_name(std::string(kStrategyNameLengthMax + 1, 'x')).ok());
  EXPECT_FALSE(validate_strategy_name("").ok());
}

TEST(Limits, ConditionLength) {
  // "close > 000...0": exactly n characters.
  const auto with_condition = [](std::size_t n) {
    const std::string c = "close > " + std::string(n - 8, '0');
    return "name: s\nnodes: {}\nentry: {long: \"" + c + "\"}\nstops: {fixed_percent: 1}\n";
  };
  EXPECT_TRUE(loads(with_condition(kConditionLengthMax)));
  EXPECT_TRUE(loads(with_condition(kConditionLengthMax - 1)));
  EXPECT_FALSE(loads(with_condition(kConditionLengthMax + 1)));
}

TEST(Limits, Parameters) {
  const auto with_params = [](std::size_t n) {
    std::string s = "name: s\nparams:\n";
    for (std::size_t i = 0; i < n; ++i) s += "  p" + std::to_string(i) + ": {value: 1, min: 0, max: 2}\n";
    return s + kTail;
  };
  EXPECT_TRUE(loads(with_params(kParamsMax)));
  EXPECT_TRUE(loads(with_params(kParamsMax - 1)));
  EXPECT_FALSE(loads(with_params(kParamsMax + 1)));
}

TEST(Limits, Constraints) {
  const auto with_constraints = [](std::size_t n) {
    std::string s = "name: s\nparams: {a: {value: 1, min: 0, max: 2}}\nconstraints:\n";
    for (std::size_t i = 0; i < n; ++i) s += "  c" + std::to_string(i) + ": a >= 0\n";
    return s + kTail;
  };
  EXPECT_TRUE(loads(with_constraints(kConstraintsMax)));
  EXPECT_TRUE(loads(with_constraints(kConstraintsMax - 1)));
  EXPECT_FALSE(loads(with_constraints(kConstraintsMax + 1)));
}

TEST(Limits, LagBarsHoldingAndCooldown) {
  const auto lag = [](std::size_t bars) {
    return "name: s\nnodes: {l: {lag: {bars: " + std::to_string(bars) +
           "}}}\nentry: {long: close > l}\nstops: {fixed_percent: 1}\n";
  };
  EXPECT_TRUE(loads(lag(kLagBarsMax)));
  EXPECT_TRUE(loads(lag(kLagBarsMax - 1)));
  EXPECT_FALSE(loads(lag(kLagBarsMax + 1)));
  const auto holding = [](std::int64_t bars) {
    return "name: s\nnodes: {}\nentry: {long: close > 0}\nstops: {fixed_percent: 1, max_holding_bars: " +
           std::to_string(bars) + "}\ncooldown_bars: " + std::to_string(bars) + "\n";
  };
  EXPECT_TRUE(loads(holding(kHoldingBarsMax)));
  EXPECT_TRUE(loads(holding(kHoldingBarsMax - 1)));
  EXPECT_FALSE(loads(holding(kHoldingBarsMax + 1)));
  static_assert(kHoldingBarsMax == kCooldownBarsMax);
  EXPECT_TRUE(make_momentum("m", {12, 26, 14, 3.0, kHoldingBarsMax, kCooldownBarsMax}).ok());
  EXPECT_FALSE(make_momentum("m", {12, 26, 14, 3.0, kHoldingBarsMax + 1, 0}).ok());
  EXPECT_FALSE(make_momentum("m", {12, 26, 14, 3.0, 0, kCooldownBarsMax + 1}).ok());
}

TEST(Limits, StrategyFilesInADirectory) {
  test::ScratchDir dir;
  const auto write = [&dir](std::size_t i) {
    char name[32];
    std::snprintf(name, sizeof name, "s%03zu.yaml", i);
    std::ofstream(dir / name) << "name: s" << i << "\n" << kTail;
  };
  for (std::size_t i = 0; i < kStrategyFilesMax - 1; ++i) write(i);
  EXPECT_EQ(load_strategy_dir(dir.path()).strategies.size(), kStrategyFilesMax - 1);
  write(kStrategyFilesMax - 1);
  const auto at = load_strategy_dir(dir.path());
  EXPECT_TRUE(at.ok());
  EXPECT_EQ(at.strategies.size(), kStrategyFilesMax);
  write(kStrategyFilesMax);
  const auto over = load_strategy_dir(dir.path());
  ASSERT_FALSE(over.ok());
  EXPECT_TRUE(over.strategies.empty());
  EXPECT_NE(over.problems[0].message.find("more than the limit of 64"), std::string::npos);
}

TEST(Limits, StrategiesPerEngine) {
  const auto config = [](std::size_t n) {
    EngineConfig c;
    c.products = {test::spot("BTC-USD")};
    for (std::size_t i = 0; i < n; ++i) {
      c.strategies.push_back({make_momentum("m" + std::to_string(i), {}).value(), {}, Decimal::from_integer(1)});
    }
    return c;
  };
  EXPECT_TRUE(AgentEngine::create(config(kEngineStrategiesMax)).ok());
  EXPECT_TRUE(AgentEngine::create(config(kEngineStrategiesMax - 1)).ok());
  EXPECT_FALSE(AgentEngine::create(config(kEngineStrategiesMax + 1)).ok());
}

}  // namespace
}  // namespace ta::agent
