// The backtest configuration: which gate configuration (gate.yaml and its
// safety.yaml: products, increments, fees, slippage, hard limits, rules),
// which strategies with which parameters, how much capital each gets, the
// products and the seed. docs/backtest.md has the YAML reference.
//
// A run consists of *books*. A book is one account as the gate sees it: its
// own GateState (ledger, orders, halt state), its own SimVenue and its own
// AgentEngine holding the book's strategies. With `account: separate` (the
// default) every strategy is a book of its own, with its own capital, so
// strategies compete side by side without touching each other's cash,
// limits or fills. With `account: shared` all strategies trade one book,
// exactly like one trading-gate and one trading-agent in SIM mode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gate/config.h"
#include "market/bar.h"
#include "proto/decimal.h"
#include "proto/result.h"
#include "rules/rules.h"
#include "strategy/definition.h"
#include "strategy/engine.h"
#include "strategy/sizing.h"

namespace ta::backtest {

// Books per run: one engine per book, and the engine holds at most
// kEngineStrategiesMax strategies, so a run holds at most that many.
inline constexpr std::size_t kBooksMax = agent::kEngineStrategiesMax;
// Products per run: the engine's limit (the gate's config allows as many).
inline constexpr std::size_t kRunProductsMax = agent::kEngineProductsMax;
static_assert(kRunProductsMax <= gate::kProductsMax);
// Parameter overrides per strategy in the YAML: a strategy has at most
// kParamsMax parameters, so more overrides cannot all be valid.
inline constexpr std::size_t kParamOverridesMax = agent::kParamsMax;
// Book names appear in reports and file names of people's notes: the
// strategy-name rules (1 to 32 characters of a-z, 0-9, _).
inline constexpr std::size_t kBookNameLengthMax = agent::kStrategyNameLengthMax;

enum class AccountMode : std::uint8_t {
  kSeparate,  // one book per strategy, each with its own capital
  kShared,    // one book with every strategy (what SIM runs)
};
std::string_view to_string(AccountMode mode);

struct StrategySetup {
  std::shared_ptr<const agent::StrategyDefinition> definition;
  std::vector<agent::ProductId> products;  // empty: every product of the run
  Decimal risk_weight = Decimal::from_integer(1);  // in [0, 1], see StrategyBinding
  std::string source;  // "builtin momentum" or the strategy file, for reports
};

struct BookSetup {
  std::string name;     // unique in the run
  Decimal capital;      // starting cash in USD, > 0
  std::vector<StrategySetup> strategies;  // at least one; unique names
};

struct BacktestConfig {
  std::filesystem::path source_file;  // the backtest YAML; empty when built in code
  gate::Config gate;                  // gate.yaml and its safety.yaml
  bool rules_enabled = false;         // evaluate the gate's rule set
  rules::RuleSet rules;               // empty unless rules_enabled
  std::vector<rules::RuleFile> rule_files;
  AccountMode account = AccountMode::kSeparate;
  // The products to trade; empty: every product of the data.
  std::vector<agent::ProductId> products;
  agent::SizingLimits sizing;
  std::vector<BookSetup> books;
  // SimVenue's seed (ack-latency jitter). Every book's venue uses it, so a
  // book's result does not depend on which other books run beside it.
  std::uint64_t seed = 1;
};

// Reads the backtest YAML, the gate configuration it names, strategy files
// and (when enabled) the rule directories of gate.yaml. Every problem in
// any of these files is reported, one per line, as file:line:column: why.
[[nodiscard]] Result<BacktestConfig> load_backtest_config(const std::filesystem::path& file);

// Checks what does not depend on data: at least one book, at most
// kBooksMax, unique book names, capital > 0, every book with at least one
// strategy, products known to gate.yaml and safety.yaml. The loader calls
// it; code that builds a config by hand should too.
[[nodiscard]] Status validate(const BacktestConfig& config);

// The agent's view of a product, from the gate's configuration: the order
// size and price increments of safety.yaml (which are multiples of the
// venue's), its minimum and maximum order size. Error: the product is not
// in gate.yaml's products or not allowed by safety.yaml.
[[nodiscard]] Result<agent::ProductSpec> agent_product_spec(const gate::Config& gate, agent::ProductId product);

}  // namespace ta::backtest
