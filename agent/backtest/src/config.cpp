// Loading the backtest YAML. Every file the configuration names is read in
// the same pass and all their problems are collected, so one run of
// `trading-backtest` shows everything that is wrong.
#include "backtest/config.h"

#include <algorithm>
#include <limits>

#include "proto/yaml_config.h"
#include "strategy/builtin.h"
#include "strategy/declarative.h"

namespace ta::backtest {
namespace {

using proto::ConfigMap;
using proto::ConfigProblem;
using proto::ConfigReader;
using proto::Need;

// Parameter values in the YAML: plain decimals well beyond any bound a
// strategy declares; the strategy checks its own bounds.
constexpr std::int32_t kParamValueMaxWhole = 1'000'000'000;
// The largest capital a book may start with: the gate's field limit
// (kFieldValueMaxWhole) is per order; ten billion USD is beyond any account
// and far inside Decimal's range.
constexpr std::int64_t kCapitalMaxUnits = 10'000'000'000LL * Decimal::kScale;

std::string problems_text(const std::vector<ConfigProblem>& problems) {
  std::string out;
  for (const auto& p : problems) {
    if (!out.empty()) out += '\n';
    out += p.to_string();
  }
  return out;
}

struct StrategyEntry {
  std::string key;
  StrategySetup setup;
  bool has_capital = false;
  Decimal capital;
};

// Reads `params:` as (name, value) pairs in file order.
std::vector<std::pair<std::string, double>> read_params(ConfigMap params) {
  std::vector<std::pair<std::string, double>> out;
  const std::vector<std::string> names = params.keys();
  if (names.size() > kParamOverridesMax) {
    params.problem(names[kParamOverridesMax], "at most " + std::to_string(kParamOverridesMax) + " parameters");
    return out;
  }
  const Decimal limit = Decimal::from_integer(kParamValueMaxWhole);
  for (const std::string& name : names) {
    const Decimal v = params.decimal(name, Need::kRequired, Decimal(), Decimal::from_units(-limit.units()), limit);
    out.emplace_back(name, v.to_double());
  }
  return out;
}

bool has_key(const ConfigMap& map, std::string_view key) {
  const auto keys = map.keys();
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// A list of products; present but empty is a problem (it would trade
// nothing), absent means "every product of the data".
std::vector<agent::ProductId> read_products(ConfigMap map, std::string_view key) {
  std::vector<agent::ProductId> out;
  const bool present = has_key(map, key);
  for (const std::string& text : map.text_list(key, Need::kOptional, agent::ProductId::kLengthMax, kRunProductsMax)) {
    auto id = agent::ProductId::parse(text);
    if (!id) {
      map.problem(key, id.error().message);
      continue;
    }
    if (std::find(out.begin(), out.end(), *id) != out.end()) {
      map.problem(key, "product " + text + " is listed twice");
      continue;
    }
    out.push_back(*id);
  }
  if (present && out.empty()) map.problem(key, "no products: the list must name at least one product");
  return out;
}

// One entry of `strategies:`. Problems of a strategy file are added to
// `file_problems` (they carry their own file name).
StrategyEntry read_strategy(const std::string& key, ConfigMap s, std::vector<ConfigProblem>& file_problems) {
  StrategyEntry e;
  e.key = key;
  const std::string builtin = s.text("builtin", Need::kOptional, "", 64);
  const std::filesystem::path file = s.path("file", Need::kOptional, "");
  const auto params = read_params(s.map("params", Need::kOptional));
  e.setup.products = read_products(s, "products");
  e.setup.risk_weight = s.decimal("risk_weight", Need::kOptional, Decimal::from_integer(1), Decimal(),
                                  Decimal::from_integer(1));
  e.has_capital = has_key(s, "capital");
  e.capital = s.decimal("capital", Need::kOptional, Decimal(), Decimal(), Decimal::from_units(kCapitalMaxUnits));
  if (e.has_capital && !e.capital.is_positive()) {
    s.problem("capital", "must be positive: a book without capital would trade nothing");
  }
  if (builtin.empty() == file.empty()) {
    s.problem(builtin.empty() ? std::string_view("builtin") : std::string_view("file"),
              "give exactly one of 'builtin' (mean_reversion, momentum) or 'file' (a strategy YAML)");
    return e;
  }
  if (!builtin.empty()) {
    if (auto st = agent::validate_strategy_name(key); !st) {
      s.problem("builtin", "the strategy's name is its key '" + key + "': " + st.error().message);
      return e;
    }
    auto def = agent::make_builtin(builtin, key, params);
    if (!def) {
      s.problem(params.empty() ? "builtin" : "params", def.error().message);
      return e;
    }
    e.setup.definition = *def;
    e.setup.source = "builtin " + builtin;
    return e;
  }
  agent::StrategyLoad load = agent::load_strategy_file(file);
  if (!load.ok()) {
    if (load.problems.empty()) {
      s.problem("file", "could not load " + file.string());
    }
    file_problems.insert(file_problems.end(), load.problems.begin(), load.problems.end());
    return e;
  }
  e.setup.definition = load.strategy;
  if (!params.empty()) {
    auto tuned = load.strategy->with_parameters(params);
    if (!tuned) {
      s.problem("params", tuned.error().message);
      e.setup.definition = nullptr;
      return e;
    }
    e.setup.definition = *tuned;
  }
  e.setup.source = file.string();
  return e;
}

}  // namespace

std::string_view to_string(AccountMode mode) {
  switch (mode) {
    case AccountMode::kSeparate:
      return "separate";
    case AccountMode::kShared:
      return "shared";
  }
  return "?";
}

Result<agent::ProductSpec> agent_product_spec(const gate::Config& gate, agent::ProductId product) {
  const std::string name = product.str();
  const gate::ProductSpec* venue = gate.gate.find_product(name);
  if (venue == nullptr) return make_error("product " + name + " is not in " + gate.gate.source_file.string());
  const gate::ProductLimits* limits = gate.safety.find(name);
  if (limits == nullptr) {
    return make_error("product " + name + " is not allowed by " + gate.safety.source_file.string());
  }
  agent::ProductSpec spec;
  spec.product = product;
  spec.base_increment = limits->size_increment;
  spec.quote_increment = limits->price_increment;
  spec.base_min_size = limits->size_min;
  spec.base_max_size = limits->size_max;
  spec.shortable = false;  // spot
  if (auto st = agent::validate(spec); !st) return make_error("product " + name + ": " + st.error().message);
  return spec;
}

Status validate(const BacktestConfig& config) {
  if (config.books.empty()) return make_error("no strategies: a backtest needs at least one strategy");
  if (config.books.size() > kBooksMax) {
    return make_error("at most " + std::to_string(kBooksMax) + " books (strategies with their own capital)");
  }
  if (config.products.size() > kRunProductsMax) {
    return make_error("at most " + std::to_string(kRunProductsMax) + " products");
  }
  for (const auto& p : config.products) {
    auto spec = agent_product_spec(config.gate, p);
    if (!spec) return spec.error();
  }
  for (std::size_t i = 0; i < config.books.size(); ++i) {
    const BookSetup& b = config.books[i];
    if (b.name.empty() || b.name.size() > kBookNameLengthMax) {
      return make_error("book name '" + b.name + "' must be 1 to " + std::to_string(kBookNameLengthMax) +
                        " characters");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (config.books[j].name == b.name) return make_error("book name '" + b.name + "' is used twice");
    }
    if (!b.capital.is_positive()) {
      return make_error("book '" + b.name + "' has capital " + b.capital.to_string() +
                        "; it must be positive, or the book would trade nothing");
    }
    if (b.strategies.empty()) return make_error("book '" + b.name + "' has no strategy");
    if (b.strategies.size() > agent::kEngineStrategiesMax) {
      return make_error("book '" + b.name + "' has more than " + std::to_string(agent::kEngineStrategiesMax) +
                        " strategies");
    }
    for (std::size_t k = 0; k < b.strategies.size(); ++k) {
      const StrategySetup& s = b.strategies[k];
      if (!s.definition) return make_error("book '" + b.name + "' has a strategy without a definition");
      for (std::size_t m = 0; m < k; ++m) {
        if (b.strategies[m].definition->name() == s.definition->name()) {
          return make_error("book '" + b.name + "' holds two strategies named '" + s.definition->name() + "'");
        }
      }
      for (const auto& p : s.products) {
        if (!config.products.empty() &&
            std::find(config.products.begin(), config.products.end(), p) == config.products.end()) {
          return make_error("strategy '" + s.definition->name() + "' trades " + p.str() +
                            ", which is not among the configured products");
        }
        auto spec = agent_product_spec(config.gate, p);
        if (!spec) return spec.error();
      }
    }
  }
  return {};
}

Result<BacktestConfig> load_backtest_config(const std::filesystem::path& file) {
  ConfigReader reader(file);
  ConfigMap root = reader.root();
  std::vector<ConfigProblem> other;  // problems of other files, with their own names

  BacktestConfig config;
  config.source_file = file;
  const std::filesystem::path gate_file = root.path("gate_config", Need::kOptional, "gate.yaml");
  config.rules_enabled = root.boolean("rules", Need::kOptional, true);
  const std::string account = root.choice("account", Need::kOptional, "separate", {"separate", "shared"});
  config.account = account == "shared" ? AccountMode::kShared : AccountMode::kSeparate;
  const bool has_seed = has_key(root, "seed");
  const auto seed = root.integer("seed", Need::kOptional, 0, 0, std::numeric_limits<std::int64_t>::max());
  const bool has_capital = has_key(root, "capital");
  const Decimal capital =
      root.decimal("capital", Need::kOptional, Decimal(), Decimal(), Decimal::from_units(kCapitalMaxUnits));
  if (has_capital && !capital.is_positive()) {
    root.problem("capital", "must be positive: an account without capital would trade nothing");
  }
  config.products = read_products(root, "products");
  config.sizing = agent::read_sizing_limits(root.map("sizing", Need::kOptional));

  std::vector<StrategyEntry> entries;
  for (auto& [key, map] : root.named_maps("strategies", Need::kRequired, kBooksMax)) {
    entries.push_back(read_strategy(key, map, other));
  }
  if (entries.empty()) root.problem("strategies", "no strategies: a backtest needs at least one strategy");

  // The gate's configuration, with its own file:line:column problems.
  gate::ConfigLoad gate_load = gate::load_config(gate_file);
  other.insert(other.end(), gate_load.problems.begin(), gate_load.problems.end());
  const bool gate_ok = gate_load.problems.empty();
  if (gate_ok) config.gate = std::move(gate_load.config);

  if (gate_ok) {
    const Decimal default_capital = has_capital ? capital : config.gate.safety.starting_cash;
    if (config.account == AccountMode::kShared) {
      BookSetup book;
      book.name = "account";
      book.capital = default_capital;
      for (auto& e : entries) {
        if (e.has_capital) {
          root.problem("strategies", "strategy '" + e.key +
                                         "' has its own capital, but with account: shared all strategies trade "
                                         "one account; set 'capital' at the top level or use account: separate");
        }
        if (e.setup.definition) book.strategies.push_back(e.setup);
      }
      config.books.push_back(std::move(book));
    } else {
      for (auto& e : entries) {
        BookSetup book;
        book.name = e.key;
        book.capital = e.has_capital ? e.capital : default_capital;
        if (e.setup.definition) book.strategies.push_back(e.setup);
        config.books.push_back(std::move(book));
      }
    }
    config.seed = has_seed ? static_cast<std::uint64_t>(seed) : config.gate.gate.sim.seed;
    for (const auto& p : config.products) {
      if (auto spec = agent_product_spec(config.gate, p); !spec) root.problem("products", spec.error().message);
    }
    for (const auto& e : entries) {
      for (const auto& p : e.setup.products) {
        if (auto spec = agent_product_spec(config.gate, p); !spec) {
          root.problem("strategies", "strategy '" + e.key + "': " + spec.error().message);
        }
      }
    }
  }

  std::vector<ConfigProblem> problems = reader.finish();
  problems.insert(problems.end(), other.begin(), other.end());
  if (!problems.empty()) return make_error(problems_text(problems));

  if (config.rules_enabled) {
    auto loaded = rules::load_rules(config.gate.gate.rules_core_dir.string(), config.gate.gate.rules_active_dir.string());
    if (!loaded.ok()) {
      std::string text = loaded.render_errors();
      while (!text.empty() && text.back() == '\n') text.pop_back();
      return make_error(text);
    }
    config.rules = loaded.value().rules;
    config.rule_files = loaded.value().files;
  }
  if (auto st = validate(config); !st) return make_error(file.string() + ": " + st.error().message);
  return config;
}

}  // namespace ta::backtest
