// load_backtest_config(): the shipped file, every key, and errors with
// file:line:column.
#include "backtest_test_support.h"

namespace ta::backtest::test {
namespace {

// Writes a backtest YAML next to copies of the shipped gate and safety
// files (so relative paths resolve inside the scratch directory).
class ConfigFiles {
 public:
  ConfigFiles() {
    for (const char* f : {"gate.yaml", "safety.yaml"}) {
      std::filesystem::copy_file(source_dir() / "config" / f, dir_ / f);
    }
    std::filesystem::create_directories(dir_ / "strategies");
    std::filesystem::copy_file(source_dir() / "config" / "strategies" / "ema_cross.yaml",
                               dir_ / "strategies" / "ema_cross.yaml");
  }
  std::filesystem::path write(const std::string& text) {
    const auto p = dir_ / "backtest.yaml";
    write_text(p, text);
    return p;
  }
  Result<BacktestConfig> load(const std::string& text) { return load_backtest_config(write(text)); }
  const ScratchDir& dir() const { return dir_; }

 private:
  ScratchDir dir_;
};

constexpr const char* kMinimal = "rules: false\nstrategies:\n  momentum: {builtin: momentum}\n";

TEST(Config, ShippedFileLoads) {
  auto c = load_backtest_config(source_dir() / "config" / "backtest.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->account, AccountMode::kSeparate);
  ASSERT_EQ(c->books.size(), 3u);
  EXPECT_EQ(c->books[0].name, "momentum");
  EXPECT_EQ(c->books[0].capital, D("10000"));
  EXPECT_EQ(c->books[1].strategies[0].definition->parameter("period"), 30.0);
  EXPECT_EQ(c->books[2].strategies[0].definition->name(), "rsi_reversion");
  EXPECT_EQ(c->products, (std::vector<agent::ProductId>{pid("BTC-USD"), pid("ETH-USD")}));
  EXPECT_EQ(c->sizing.order_notional_max, D("900"));
  EXPECT_TRUE(c->rules_enabled);
  EXPECT_EQ(c->rule_files.size(), 5u);
  EXPECT_EQ(c->seed, 1u);
}

TEST(Config, DefaultsComeFromTheGateConfig) {
  ConfigFiles f;
  auto c = f.load(kMinimal);
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->books.size(), 1u);
  EXPECT_EQ(c->books[0].capital, c->gate.safety.starting_cash);  // safety.yaml starting_cash
  EXPECT_EQ(c->seed, c->gate.gate.sim.seed);
  EXPECT_TRUE(c->products.empty());  // every product of the data
  EXPECT_FALSE(c->rules_enabled);
}

TEST(Config, StrategyFileWithParametersAndProducts) {
  ConfigFiles f;
  auto c = f.load(
      "rules: false\nseed: 7\ncapital: \"2500\"\n"
      "strategies:\n"
      "  fast_cross:\n    file: strategies/ema_cross.yaml\n    params: {fast_period: 5, slow_period: 40}\n"
      "    products: [ETH-USD]\n    capital: \"1000\"\n    risk_weight: \"0.5\"\n"
      "  other: {builtin: mean_reversion}\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->books.size(), 2u);
  const StrategySetup& s = c->books[0].strategies[0];
  EXPECT_EQ(c->books[0].name, "fast_cross");
  EXPECT_EQ(s.definition->name(), "ema_cross");
  EXPECT_EQ(s.definition->parameter("fast_period"), 5.0);
  EXPECT_EQ(s.definition->parameter("slow_period"), 40.0);
  EXPECT_EQ(s.products, std::vector<agent::ProductId>{pid("ETH-USD")});
  EXPECT_EQ(s.risk_weight, D("0.5"));
  EXPECT_EQ(c->books[0].capital, D("1000"));
  EXPECT_EQ(c->books[1].capital, D("2500"));
  EXPECT_EQ(c->seed, 7u);
}

TEST(Config, SharedAccountIsOneBook) {
  ConfigFiles f;
  auto c = f.load("rules: false\naccount: shared\ncapital: \"5000\"\nstrategies:\n  momentum: {builtin: momentum}\n"
                  "  mean_reversion: {builtin: mean_reversion}\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->books.size(), 1u);
  EXPECT_EQ(c->books[0].name, "account");
  EXPECT_EQ(c->books[0].capital, D("5000"));
  EXPECT_EQ(c->books[0].strategies.size(), 2u);
}

struct BadCase {
  const char* yaml;
  const char* expected;  // a substring of the error, with its position
};

TEST(Config, ErrorsNameFileLineAndColumn) {
  const BadCase cases[] = {
      {"rules: false\nstrategies: {}\n", "backtest.yaml:2:13: key 'strategies': no strategies"},
      {"rules: false\n", "backtest.yaml:1:1: key 'strategies': missing required key"},
      {"rules: false\nstrategies:\n  m: {builtin: momentum, capital: \"0\"}\n",
       "backtest.yaml:3:35: key 'strategies.m.capital': must be positive"},
      {"rules: false\ncapital: \"0\"\nstrategies:\n  m: {builtin: momentum}\n",
       "backtest.yaml:2:10: key 'capital': must be positive"},
      {"rules: false\nproducts: []\nstrategies:\n  m: {builtin: momentum}\n",
       "backtest.yaml:2:11: key 'products': no products"},
      {"rules: false\nproducts: [DOGE-USD]\nstrategies:\n  m: {builtin: momentum}\n",
       "backtest.yaml:2:11: key 'products': product DOGE-USD is not in"},
      {"rules: false\nstrategies:\n  m: {builtin: momentom}\n",
       "backtest.yaml:3:16: key 'strategies.m.builtin': unknown built-in strategy 'momentom'"},
      {"rules: false\nstrategies:\n  m: {builtin: momentum, params: {fast_period: 40}}\n",
       "backtest.yaml:3:34: key 'strategies.m.params': constraint fast_period < slow_period"},
      {"rules: false\nstrategies:\n  m: {builtin: momentum, file: x.yaml}\n",
       "key 'strategies.m.file': give exactly one of 'builtin'"},
      {"rules: false\nstrategies:\n  m: {bultin: momentum}\n", "backtest.yaml:3:7: key 'strategies.m.bultin': unknown key"},
      {"rules: false\naccount: shared\nstrategies:\n  m: {builtin: momentum, capital: \"5\"}\n",
       "key 'strategies': strategy 'm' has its own capital"},
      {"rules: false\ngate_config: nowhere.yaml\nstrategies:\n  m: {builtin: momentum}\n", "nowhere.yaml"},
      {"rules: false\nstrategies:\n  m: {file: strategies/missing.yaml}\n", "missing.yaml"},
      {"rules: false\nseed: -1\nstrategies:\n  m: {builtin: momentum}\n", "backtest.yaml:2:7: key 'seed'"},
  };
  ConfigFiles f;
  for (const BadCase& bc : cases) {
    auto c = f.load(bc.yaml);
    ASSERT_FALSE(c.ok()) << bc.yaml;
    EXPECT_NE(c.error().message.find(bc.expected), std::string::npos)
        << "yaml:\n" << bc.yaml << "error:\n" << c.error().message;
  }
}

TEST(Config, StrategyFileProblemsKeepTheirOwnPosition) {
  ConfigFiles f;
  write_text(f.dir() / "strategies" / "bad.yaml", "name: bad\nnodes: {}\nentry: {long: close >}\nstops: {fixed_percent: 1}\n");
  auto c = f.load("rules: false\nstrategies:\n  b: {file: strategies/bad.yaml}\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("bad.yaml:3:"), std::string::npos) << c.error().message;
}

TEST(Config, BookLimitIsEnforced) {
  ConfigFiles f;
  for (std::size_t n : {kBooksMax, kBooksMax + 1}) {
    std::string yaml = "rules: false\nstrategies:\n";
    for (std::size_t i = 0; i < n; ++i) yaml += "  m" + std::to_string(i) + ": {builtin: momentum}\n";
    auto c = f.load(yaml);
    EXPECT_EQ(c.ok(), n <= kBooksMax) << n << (c.ok() ? "" : c.error().message);
  }
}

TEST(Config, ValidateRefusesHandBuiltMistakes) {
  BacktestConfig c = two_books();
  EXPECT_TRUE(validate(c).ok());
  BacktestConfig twice = two_books();
  twice.books[1].name = twice.books[0].name;
  EXPECT_NE(validate(twice).error().message.find("used twice"), std::string::npos);
  BacktestConfig unknown = two_books();
  unknown.products = {pid("DOGE-USD")};
  EXPECT_NE(validate(unknown).error().message.find("DOGE-USD"), std::string::npos);
  BacktestConfig empty_book = two_books();
  empty_book.books[0].strategies.clear();
  EXPECT_NE(validate(empty_book).error().message.find("no strategy"), std::string::npos);
}

TEST(Config, AgentProductSpecFollowsSafetyYaml) {
  const gate::Config g = shipped_gate_config();
  const auto spec = agent_product_spec(g, pid("ETH-USD")).value();
  EXPECT_EQ(spec.base_min_size, D("0.001"));
  EXPECT_EQ(spec.base_max_size, D("20"));
  EXPECT_EQ(spec.base_increment, D("0.00000001"));
  EXPECT_EQ(spec.quote_increment, D("0.01"));
  EXPECT_FALSE(spec.shortable);
  EXPECT_FALSE(agent_product_spec(g, pid("DOGE-USD")).ok());
}

}  // namespace
}  // namespace ta::backtest::test
