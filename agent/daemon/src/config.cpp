// Loading agent.yaml. One pass collects every problem: the getters of
// ConfigReader record theirs, the checks that relate several keys add
// theirs with ConfigMap::problem(), and strategy files add their own.
#include "agentd/config.h"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "agent/gate_client.h"
#include "strategy/builtin.h"
#include "strategy/declarative.h"

namespace ta::agent {
namespace {

using proto::ConfigMap;
using proto::ConfigProblem;
using proto::ConfigReader;
using proto::Need;

// Longest path text in the file. PATH_MAX on Linux.
constexpr std::size_t kPathLengthMax = 4096;
constexpr std::size_t kUrlLengthMax = 2048;
// A parameter value outside +-1e9 is no parameter; the strategy's own
// bounds are far tighter and are checked when it is built.
const Decimal kParamAbsMax = Decimal::from_integer(1'000'000'000);
// An order increment or size limit outside [1e-8, 1e9] is no real product.
const Decimal kSpecMin = Decimal::from_units(1);
const Decimal kSpecMax = Decimal::from_integer(1'000'000'000);

std::string sha256_hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

AgentMode parse_mode(const std::string& text) {
  if (text == "PAPER") return AgentMode::kPaper;
  if (text == "LIVE") return AgentMode::kLive;
  return AgentMode::kSim;
}

FeedSource parse_source(const std::string& text) {
  if (text == "replay_store") return FeedSource::kReplayStore;
  if (text == "coinbase") return FeedSource::kCoinbase;
  return FeedSource::kReplayCsv;
}

// "max", "real" or "accelerated N" with N in [1, factor_max].
void read_speed(ConfigMap feed, ReplayConfig& replay) {
  const std::string text = feed.text("speed", Need::kOptional, "max", 64);
  if (text == "max") {
    replay.speed = ReplaySpeed::kMax;
    return;
  }
  if (text == "real") {
    replay.speed = ReplaySpeed::kReal;
    return;
  }
  const std::string_view prefix = "accelerated ";
  const std::string range = "expected max, real or \"accelerated N\" with N in [1, " +
                            std::to_string(static_cast<long long>(ReplayOptions::factor_max)) + "]";
  if (text.rfind(prefix, 0) != 0) {
    feed.problem("speed", range + ", got \"" + text + "\"");
    return;
  }
  const std::string number = text.substr(prefix.size());
  auto parsed = Decimal::parse(number);
  const double factor = parsed ? parsed->to_double() : 0;
  if (!parsed || factor < 1 || factor > ReplayOptions::factor_max) {
    feed.problem("speed", range + ", got \"" + text + "\"");
    return;
  }
  replay.speed = ReplaySpeed::kAccelerated;
  replay.factor = factor;
}

std::vector<ProductSpec> read_products(ConfigMap root) {
  std::vector<ProductSpec> out;
  for (auto& [name, m] : root.named_maps("products", Need::kRequired, kAgentProductsMax)) {
    ProductSpec spec;
    auto id = ProductId::parse(name);
    if (!id) {
      root.map("products", Need::kRequired).problem(name, id.error().message);
    } else {
      spec.product = *id;
    }
    const ProductSpec d;
    spec.base_increment = m.decimal("base_increment", Need::kOptional, d.base_increment, kSpecMin, kSpecMax);
    spec.quote_increment = m.decimal("quote_increment", Need::kOptional, d.quote_increment, kSpecMin, kSpecMax);
    spec.base_min_size = m.decimal("base_min_size", Need::kOptional, d.base_min_size, kSpecMin, kSpecMax);
    spec.base_max_size = m.decimal("base_max_size", Need::kOptional, d.base_max_size, kSpecMin, kSpecMax);
    spec.shortable = m.boolean("shortable", Need::kOptional, false);
    if (id) {
      if (auto st = validate(spec); !st) m.problem("base_min_size", st.error().message);
    }
    out.push_back(spec);
  }
  if (out.empty()) root.problem("products", "at least one product is required");
  return out;
}

bool has_key(const ConfigMap& m, std::string_view key) {
  const auto keys = m.keys();
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

bool known_product(const std::vector<ProductSpec>& products, ProductId id) {
  return std::any_of(products.begin(), products.end(), [&](const ProductSpec& p) { return p.product == id; });
}

void read_replay(ConfigMap feed, AgentConfig& c) {
  ReplayConfig& r = c.replay;
  read_speed(feed, r);
  r.bars_max = static_cast<std::uint64_t>(
      feed.integer("bars_max", Need::kOptional, 0, 0, static_cast<std::int64_t>(kSimBarsMax)));
  if (c.feed == FeedSource::kReplayCsv) {
    ConfigMap csv_map = feed.map("csv", Need::kRequired);
    for (auto& [name, m] : feed.named_maps("csv", Need::kRequired, kAgentProductsMax)) {
      ReplayFeed::CsvSource source;
      source.path = m.path("file", Need::kRequired, "");
      auto id = ProductId::parse(name);
      if (!id) {
        csv_map.problem(name, id.error().message);
        continue;
      }
      if (!known_product(c.products, *id)) {
        csv_map.problem(name, "product " + name + " is not listed under products");
        continue;
      }
      if (!source.path.empty() && !std::filesystem::is_regular_file(source.path)) {
        m.problem("file", "no such file: " + source.path.string());
      }
      source.product = *id;
      r.csv.push_back(std::move(source));
    }
    if (r.csv.empty()) feed.problem("csv", "at least one CSV file is required");
    r.skip_bad_rows = feed.boolean("skip_bad_rows", Need::kOptional, false);
  } else {
    r.store = feed.path("store", Need::kRequired, "");
    const std::int64_t ts_max = kTimestampMax_s;
    r.from_ts_s = feed.integer("from", Need::kRequired, 0, 0, ts_max);
    r.to_ts_s = feed.integer("to", Need::kRequired, 0, 0, ts_max);
    if (r.to_ts_s <= r.from_ts_s) feed.problem("to", "must be after 'from' (Unix seconds, [from, to))");
    if (!r.store.empty() && !std::filesystem::is_regular_file(r.store)) {
      feed.problem("store", "no such file: " + r.store.string());
    }
  }
}

void read_coinbase(ConfigMap feed, AgentConfig& c) {
  ConfigMap m = feed.map("coinbase", Need::kOptional);
  coinbase::WsFeedConfig& w = c.coinbase;
  const coinbase::WsFeedConfig d;
  const std::int64_t t_max = coinbase::WsFeedConfig::timeout_ms_max;
  w.url = m.text("url", Need::kOptional, d.url, kUrlLengthMax);
  if (w.url.rfind("ws://", 0) != 0 && w.url.rfind("wss://", 0) != 0) {
    m.problem("url", "expected a ws:// or wss:// URL, got \"" + w.url + "\"");
  }
  w.connect_timeout_ms = m.duration_ms("connect_timeout", Need::kOptional, d.connect_timeout_ms, 1, t_max);
  w.subscribe_ack_timeout_ms =
      m.duration_ms("subscribe_ack_timeout", Need::kOptional, d.subscribe_ack_timeout_ms, 1, t_max);
  w.stale_timeout_ms = m.duration_ms("stale_timeout", Need::kOptional, d.stale_timeout_ms, 1, t_max);
  w.reconnect_attempts_max = static_cast<std::uint32_t>(
      m.integer("reconnect_attempts_max", Need::kOptional, d.reconnect_attempts_max, 1,
                coinbase::WsFeedConfig::reconnect_attempts_limit));
  w.seed = static_cast<std::uint64_t>(m.integer("seed", Need::kOptional, 0, 0, INT64_MAX));
  for (const ProductSpec& p : c.products) w.products.push_back(p.product);
  WarmUpConfig& warm = c.warm_up;
  warm.rest.base_url = m.text("rest_url", Need::kOptional, std::string(coinbase::kRestBaseUrl), kUrlLengthMax);
  if (warm.rest.base_url.rfind("http://", 0) != 0 && warm.rest.base_url.rfind("https://", 0) != 0) {
    m.problem("rest_url", "expected an http:// or https:// URL, got \"" + warm.rest.base_url + "\"");
  }
  warm.rest.seed = w.seed;
  warm.minutes = m.integer("warmup_minutes", Need::kOptional, WarmUpConfig::kMinutesDefault, 0,
                           WarmUpConfig::kMinutesMax);
}

void read_feed(ConfigMap root, AgentConfig& c) {
  ConfigMap feed = root.map("feed", Need::kRequired);
  c.feed = parse_source(feed.choice("source", Need::kRequired, "replay_csv", {"replay_csv", "replay_store", "coinbase"}));
  switch (c.feed) {
    case FeedSource::kReplayCsv:
    case FeedSource::kReplayStore:
      read_replay(feed, c);
      if (c.mode != AgentMode::kSim) {
        feed.problem("source", "mode " + std::string(to_string(c.mode)) +
                                   " trades on live data: use source: coinbase (replay is for SIM)");
      }
      return;
    case FeedSource::kCoinbase:
      read_coinbase(feed, c);
      if (c.mode == AgentMode::kSim) {
        feed.problem("source", "mode SIM replays recorded bars: use source replay_csv or replay_store");
      }
      return;
  }
}

// params: {name: value, ...}; each value a number. The strategy checks the
// names and bounds when it is built.
std::vector<std::pair<std::string, double>> read_overrides(ConfigMap binding) {
  std::vector<std::pair<std::string, double>> out;
  ConfigMap params = binding.map("params", Need::kOptional);
  for (const std::string& key : params.keys()) {
    const Decimal v = params.decimal(key, Need::kRequired, Decimal::zero(), kParamAbsMax.negate().value(), kParamAbsMax);
    out.emplace_back(key, v.to_double());
  }
  return out;
}

// Builds the definition: a built-in with overrides, or a file (whose own
// problems are added) with overrides.
void build_strategy(const ConfigReader& reader, ConfigMap binding, StrategyConfig& s,
                    std::vector<ConfigProblem>& file_problems) {
  std::shared_ptr<const StrategyDefinition> def;
  if (!s.builtin.empty()) {
    auto built = make_builtin(s.builtin, s.name);
    if (!built) {
      binding.problem("builtin", built.error().message);
      return;
    }
    def = *built;
  } else {
    if (!std::filesystem::is_regular_file(s.file)) {
      binding.problem("file", "no such strategy file: " + s.file.string());
      return;
    }
    StrategyLoad load = load_strategy_file(s.file);
    // The strategy file is named as the operator would reach it: the
    // config's directory as given, then the path written in the config.
    std::error_code ec;
    const std::filesystem::path relative = std::filesystem::relative(s.file, reader.base_dir(), ec);
    const std::string shown = ec || relative.empty() || *relative.begin() == ".."
                                  ? s.file.string()
                                  : (std::filesystem::path(reader.file_name()).parent_path() / relative).string();
    for (ConfigProblem p : load.problems) {
      if (p.file == s.file.string()) p.file = shown;
      file_problems.push_back(std::move(p));
    }
    if (!load.ok()) return;
    if (load.strategy->name() != s.name) {
      binding.problem("file", s.file.filename().string() + " defines strategy '" + load.strategy->name() +
                                  "', but it is bound here as '" + s.name + "' (use the file's name as the key)");
      return;
    }
    def = load.strategy;
  }
  if (!s.overrides.empty()) {
    auto changed = def->with_parameters(s.overrides);
    if (!changed) {
      binding.problem("params", changed.error().message);
      return;
    }
    def = *changed;
  }
  s.definition = def;
}

void read_strategies(const ConfigReader& reader, ConfigMap root, AgentConfig& c,
                     std::vector<ConfigProblem>& file_problems) {
  ConfigMap all = root.map("strategies", Need::kRequired);
  for (auto& [name, m] : root.named_maps("strategies", Need::kRequired, kAgentStrategiesMax)) {
    StrategyConfig s;
    s.name = name;
    if (auto st = validate_strategy_name(name); !st) all.problem(name, st.error().message);
    if (has_key(m, "builtin")) {
      std::string kinds;
      for (std::string_view k : builtin_kinds()) kinds += (kinds.empty() ? "" : ", ") + std::string(k);
      s.builtin = m.text("builtin", Need::kRequired, "", 64);
      if (has_key(m, "file")) {
        (void)m.path("file", Need::kOptional, "");
        m.problem("file", "give either 'builtin' (" + kinds + ") or 'file', not both");
      }
    } else {
      s.file = m.path("file", Need::kRequired, "");
    }
    s.overrides = read_overrides(m);
    for (const std::string& text : m.text_list("products", Need::kOptional, ProductId::kLengthMax, kAgentProductsMax)) {
      auto id = ProductId::parse(text);
      if (!id || !known_product(c.products, *id)) {
        m.problem("products", "product " + text + " is not listed under products");
        continue;
      }
      if (std::find(s.products.begin(), s.products.end(), *id) != s.products.end()) {
        m.problem("products", "product " + text + " is listed twice");
        continue;
      }
      s.products.push_back(*id);
    }
    s.risk_weight = m.decimal("risk_weight", Need::kOptional, Decimal::from_integer(1), Decimal::zero(),
                              Decimal::from_integer(1));
    const bool name_ok = validate_strategy_name(name).ok();
    if (name_ok && (!s.builtin.empty() || !s.file.empty())) build_strategy(reader, m, s, file_problems);
    c.strategies.push_back(std::move(s));
  }
}

void read_root(ConfigReader& reader, AgentConfig& c, std::vector<ConfigProblem>& file_problems) {
  ConfigMap root = reader.root();
  c.mode = parse_mode(root.choice("mode", Need::kRequired, "SIM", {"SIM", "PAPER", "LIVE"}));
  c.state_dir = root.path("state_dir", Need::kRequired, "");
  c.journal_dir = root.path("journal_dir", Need::kRequired, "");
  ConfigMap journal = root.map("journal", Need::kOptional);
  c.journal_group_commit_window_ms =
      journal.duration_ms("group_commit_window", Need::kOptional, 0, 0, kAgentJournalWindowMsMax);

  ConfigMap gate = root.map("gate", Need::kRequired);
  const GateLinkConfig gd;
  c.gate.socket_path = gate.path("socket", Need::kRequired, "");
  c.gate.heartbeat_period_ms = gate.duration_ms("heartbeat_period", Need::kOptional, gd.heartbeat_period_ms,
                                                kHeartbeatPeriodMsMin, kHeartbeatPeriodMsMax);
  c.gate.reconnect_delay_ms_initial = gate.duration_ms("reconnect_delay_initial", Need::kOptional,
                                                       gd.reconnect_delay_ms_initial, 1, kReconnectDelayMsCeiling);
  c.gate.reconnect_delay_ms_max = gate.duration_ms("reconnect_delay_max", Need::kOptional, gd.reconnect_delay_ms_max,
                                                   1, kReconnectDelayMsCeiling);
  if (c.gate.reconnect_delay_ms_max < c.gate.reconnect_delay_ms_initial) {
    gate.problem("reconnect_delay_max", "must be at least reconnect_delay_initial (" +
                                            proto::format_duration_ms(c.gate.reconnect_delay_ms_initial) + ")");
  }
  c.gate.reply_timeout_ms = gate.duration_ms("reply_timeout", Need::kOptional, gd.reply_timeout_ms, 1,
                                             kGateReplyTimeoutMsMax);
  c.gate.bars_in_flight_max = static_cast<std::size_t>(
      gate.integer("bars_in_flight_max", Need::kOptional, static_cast<std::int64_t>(gd.bars_in_flight_max), 0,
                   static_cast<std::int64_t>(kBarsInFlightMaxCeiling)));
  if (c.gate.socket_path.string().size() > 107) {
    gate.problem("socket", "a Unix socket path has at most 107 bytes");
  }

  ConfigMap status = root.map("status", Need::kOptional);
  c.status.socket_path = status.path("socket", Need::kOptional, "");
  c.status.connections_max = static_cast<std::size_t>(status.integer(
      "connections_max", Need::kOptional, kStatusConnectionsMaxDefault, 1, kStatusConnectionsMaxCeiling));
  c.status.write_timeout_ms =
      status.duration_ms("write_timeout", Need::kOptional, kStatusWriteTimeoutMsDefault, 1, kStatusWriteTimeoutMsMax);
  if (c.status.socket_path.string().size() > 107) {
    status.problem("socket", "a Unix socket path has at most 107 bytes");
  }

  c.products = read_products(root);
  read_feed(root, c);
  c.starting_equity = root.decimal("starting_equity", Need::kOptional, Decimal::from_integer(10'000),
                                   Decimal::from_units(1), Decimal::from_integer(1'000'000'000));
  c.sizing = read_sizing_limits(root.map("sizing", Need::kOptional));
  read_strategies(reader, root, c, file_problems);
}

AgentConfigLoad finish(ConfigReader& reader, AgentConfig config, std::vector<ConfigProblem> file_problems) {
  AgentConfigLoad load;
  load.problems = reader.finish();
  load.problems.insert(load.problems.end(), file_problems.begin(), file_problems.end());
  load.config = std::move(config);
  if (load.problems.empty()) {
    // The engine's own checks; the loader checked each part already, so a
    // failure here is a combination the loader does not know about.
    if (auto engine = AgentEngine::create(load.config.engine_config()); !engine) {
      load.problems.push_back(ConfigProblem{reader.file_name(), 1, 1, "", engine.error().message});
    }
  }
  return load;
}

}  // namespace

std::string_view to_string(AgentMode mode) {
  switch (mode) {
    case AgentMode::kSim:
      return "SIM";
    case AgentMode::kPaper:
      return "PAPER";
    case AgentMode::kLive:
      return "LIVE";
  }
  return "?";
}

std::string_view to_string(FeedSource source) {
  switch (source) {
    case FeedSource::kReplayCsv:
      return "replay_csv";
    case FeedSource::kReplayStore:
      return "replay_store";
    case FeedSource::kCoinbase:
      return "coinbase";
  }
  return "?";
}

EngineConfig AgentConfig::engine_config() const {
  EngineConfig e;
  e.products = products;
  e.sizing = sizing;
  e.equity = starting_equity;
  for (const StrategyConfig& s : strategies) {
    StrategyBinding b;
    b.strategy = s.definition;
    b.products = s.products;
    b.risk_weight = s.risk_weight;
    e.strategies.push_back(std::move(b));
  }
  return e;
}

AgentConfigLoad load_agent_config(const std::filesystem::path& agent_yaml) {
  // Problems name the file as the operator gave it; relative paths inside
  // resolve against its directory either way.
  ConfigReader reader(agent_yaml);
  AgentConfig config;
  std::error_code ec;
  config.file = std::filesystem::absolute(agent_yaml, ec);
  std::vector<ConfigProblem> file_problems;
  read_root(reader, config, file_problems);
  std::ifstream in(agent_yaml, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  config.config_sha256 = sha256_hex(bytes);
  return finish(reader, std::move(config), std::move(file_problems));
}

AgentConfigLoad parse_agent_config(std::string_view yaml_text, std::string file_name,
                                   const std::filesystem::path& base_dir) {
  ConfigReader reader(yaml_text, std::move(file_name), base_dir);
  AgentConfig config;
  config.file = base_dir / reader.file_name();
  std::vector<ConfigProblem> file_problems;
  read_root(reader, config, file_problems);
  config.config_sha256 = sha256_hex(std::string(yaml_text));
  return finish(reader, std::move(config), std::move(file_problems));
}

}  // namespace ta::agent
