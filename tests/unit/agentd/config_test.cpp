// agent.yaml loading: the shipped config, every problem with
// file:line:column (golden), limits at, below and above their edges.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "agentd/config.h"

namespace fs = std::filesystem;

namespace {

fs::path source_dir() {
  const char* d = std::getenv("TA_SOURCE_DIR");
  return d != nullptr ? fs::path(d) : fs::path(".");
}

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/agentd_config_XXXXXX";
    path = ::mkdtemp(tmpl);
    fs::create_directories(path / "strategies");
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream out(path / name);
    out << text;
  }
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string render(const ta::agent::AgentConfigLoad& load, const fs::path& dir) {
  std::string out;
  for (const auto& p : load.problems) out += p.to_string() + "\n";
  // Absolute paths in messages name the temporary directory.
  const std::string prefix = dir.string();
  for (std::size_t at = out.find(prefix); at != std::string::npos; at = out.find(prefix, at)) {
    out.replace(at, prefix.size(), "<dir>");
  }
  return out;
}

// A valid config; tests change one line at a time.
std::string valid_yaml(const std::string& replace_from = "", const std::string& replace_to = "") {
  std::string y =
      "mode: SIM\n"
      "state_dir: state\n"
      "journal_dir: journal\n"
      "gate:\n"
      "  socket: gate.sock\n"
      "  heartbeat_period: 1s\n"
      "status:\n"
      "  socket: status.sock\n"
      "  connections_max: 4\n"
      "feed:\n"
      "  source: replay_csv\n"
      "  speed: max\n"
      "  bars_max: 0\n"
      "  csv:\n"
      "    BTC-USD: {file: btc.csv}\n"
      "products:\n"
      "  BTC-USD: {base_min_size: \"0.0001\", base_max_size: \"1\"}\n"
      "strategies:\n"
      "  mr:\n"
      "    builtin: mean_reversion\n";
  if (!replace_from.empty()) {
    const auto at = y.find(replace_from);
    EXPECT_NE(at, std::string::npos) << replace_from;
    if (at != std::string::npos) y.replace(at, replace_from.size(), replace_to);
  }
  return y;
}

ta::agent::AgentConfigLoad parse(const TempDir& d, const std::string& yaml) {
  d.write("btc.csv", "ts,open,high,low,close,volume\n");
  return ta::agent::parse_agent_config(yaml, "agent.yaml", d.path);
}

TEST(AgentConfig, ShippedConfigLoads) {
  const auto load = ta::agent::load_agent_config(source_dir() / "config/agent.yaml");
  for (const auto& p : load.problems) ADD_FAILURE() << p.to_string();
  EXPECT_EQ(load.config.mode, ta::agent::AgentMode::kSim);
  EXPECT_EQ(load.config.products.size(), 2u);
  EXPECT_EQ(load.config.strategies.size(), 2u);
  EXPECT_EQ(load.config.replay.csv.size(), 2u);
  // Relative paths resolve against the config's directory.
  EXPECT_EQ(load.config.journal_dir.lexically_normal(), fs::absolute(source_dir() / "run/agent/journal").lexically_normal());
  EXPECT_EQ(load.config.config_sha256.size(), 64u);
}

TEST(AgentConfig, ValidTextLoads) {
  TempDir d;
  const auto load = parse(d, valid_yaml());
  for (const auto& p : load.problems) ADD_FAILURE() << p.to_string();
  EXPECT_EQ(load.config.status.socket_path, d.path / "status.sock");
  EXPECT_EQ(load.config.replay.csv.at(0).path, d.path / "btc.csv");
  ASSERT_EQ(load.config.strategies.size(), 1u);
  EXPECT_NE(load.config.strategies[0].definition, nullptr);
}

// Every kind of problem at once, each with its position. Set
// TA_UPDATE_GOLDEN=1 to rewrite the golden file after a deliberate change.
TEST(AgentConfig, ProblemsGolden) {
  TempDir d;
  d.write("strategies/broken.yaml",
          "name: broken\n"
          "params:\n"
          "  fast_period: {value: 12, min: 2, max: 500}\n"
          "nodes:\n"
          "  fast: {ema: {period: fast_periodx}}\n"
          "entry: {long: fast crosses_above}\n");
  d.write("strategies/other.yaml", read_file(source_dir() / "config/strategies/ema_cross.yaml"));
  const std::string yaml =
      "mode: SIMX\n"
      "state_dir: state\n"
      "journal_dir: journal\n"
      "gate:\n"
      "  socket: gate.sock\n"
      "  heartbeat_period: 5ms\n"
      "  reconnect_delay_initial: 2s\n"
      "  reconnect_delay_max: 1s\n"
      "  colour: blue\n"
      "status:\n"
      "  connections_max: 17\n"
      "  write_timeout: forever\n"
      "feed:\n"
      "  source: replay_csv\n"
      "  speed: accelerated 0\n"
      "  bars_max: -1\n"
      "  csv:\n"
      "    BTC-USD: {file: missing.csv}\n"
      "    DOGE-USD: {file: btc.csv}\n"
      "products:\n"
      "  BTC-USD:\n"
      "    base_increment: \"-1\"\n"
      "  btc-usd: {}\n"
      "sizing:\n"
      "  risk_per_trade_pct: \"5\"\n"
      "starting_equity: lots\n"
      "strategies:\n"
      "  mr:\n"
      "    builtin: mean_reversion\n"
      "    params: {period: 1}\n"
      "    products: [ETH-USD]\n"
      "    risk_weight: \"1.5\"\n"
      "  both:\n"
      "    builtin: momentum\n"
      "    file: strategies/other.yaml\n"
      "  Bad-Name:\n"
      "    builtin: momentum\n"
      "  neither: {}\n"
      "  broken:\n"
      "    file: strategies/broken.yaml\n"
      "  renamed:\n"
      "    file: strategies/other.yaml\n"
      "  unknown_kind:\n"
      "    builtin: martingale\n";
  const auto load = parse(d, yaml);
  EXPECT_FALSE(load.ok());
  const std::string got = render(load, d.path);
  std::printf("%s", got.c_str());
  const fs::path golden = source_dir() / "tests/unit/agentd/golden/config_problems.txt";
  if (std::getenv("TA_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(golden) << got;
  }
  EXPECT_EQ(got, read_file(golden));
}

void expect_ok(const std::string& from, const std::string& to) {
  TempDir d;
  const auto load = parse(d, valid_yaml(from, to));
  EXPECT_TRUE(load.ok()) << to << ": " << (load.ok() ? "" : load.problems[0].to_string());
}

void expect_problem(const std::string& from, const std::string& to, const std::string& key) {
  TempDir d;
  const auto load = parse(d, valid_yaml(from, to));
  ASSERT_FALSE(load.ok()) << to;
  EXPECT_EQ(load.problems[0].key, key) << load.problems[0].to_string();
  EXPECT_GT(load.problems[0].line, 0);
  EXPECT_GT(load.problems[0].column, 0);
}

TEST(AgentConfig, StatusConnectionsLimit) {
  expect_ok("connections_max: 4", "connections_max: 16");
  expect_ok("connections_max: 4", "connections_max: 15");
  expect_problem("connections_max: 4", "connections_max: 17", "status.connections_max");
  expect_ok("connections_max: 4", "connections_max: 1");
  expect_problem("connections_max: 4", "connections_max: 0", "status.connections_max");
  expect_problem("connections_max: 4", "connections_max: many", "status.connections_max");
}

TEST(AgentConfig, HeartbeatPeriodLimits) {
  expect_ok("heartbeat_period: 1s", "heartbeat_period: 10ms");
  expect_ok("heartbeat_period: 1s", "heartbeat_period: 11ms");
  expect_problem("heartbeat_period: 1s", "heartbeat_period: 9ms", "gate.heartbeat_period");
  expect_ok("heartbeat_period: 1s", "heartbeat_period: 60s");
  expect_problem("heartbeat_period: 1s", "heartbeat_period: 60001ms", "gate.heartbeat_period");
}

TEST(AgentConfig, BarsInFlightLimit) {
  const std::string line = "heartbeat_period: 1s";
  const auto with = [&](const std::string& v) { return line + "\n  bars_in_flight_max: " + v; };
  const std::size_t ceiling = ta::agent::kBarsInFlightMaxCeiling;
  expect_ok(line, with(std::to_string(ceiling)));
  expect_ok(line, with(std::to_string(ceiling - 1)));
  expect_problem(line, with(std::to_string(ceiling + 1)), "gate.bars_in_flight_max");
  expect_ok(line, with("0"));  // lockstep
  expect_ok(line, with("1"));
  expect_problem(line, with("-1"), "gate.bars_in_flight_max");
  expect_problem(line, with("lots"), "gate.bars_in_flight_max");
  TempDir d;
  const auto load = parse(d, valid_yaml());
  ASSERT_TRUE(load.ok());
  EXPECT_EQ(load.config.gate.bars_in_flight_max, ta::agent::kBarsInFlightMaxDefault);
}

TEST(AgentConfig, BarsMaxLimit) {
  const std::string max = std::to_string(ta::agent::kSimBarsMax);
  expect_ok("bars_max: 0", "bars_max: " + max);
  expect_ok("bars_max: 0", "bars_max: " + std::to_string(ta::agent::kSimBarsMax - 1));
  expect_problem("bars_max: 0", "bars_max: " + std::to_string(ta::agent::kSimBarsMax + 1), "feed.bars_max");
}

TEST(AgentConfig, SpeedForms) {
  expect_ok("speed: max", "speed: real");
  expect_ok("speed: max", "speed: accelerated 1");
  expect_ok("speed: max", "speed: accelerated 1000000");
  expect_ok("speed: max", "speed: accelerated 999999");
  expect_problem("speed: max", "speed: accelerated 1000001", "feed.speed");
  expect_problem("speed: max", "speed: accelerated 0.5", "feed.speed");
  expect_problem("speed: max", "speed: accelerated", "feed.speed");
  expect_problem("speed: max", "speed: fast", "feed.speed");
}

TEST(AgentConfig, ModeAndFeedMustAgree) {
  expect_problem("mode: SIM", "mode: PAPER", "feed.source");
  expect_problem("source: replay_csv", "source: coinbase", "feed.source");
}

// A PAPER config on the Coinbase feed, from the valid SIM one.
std::string paper_feed(const std::string& coinbase_keys) {
  return "source: coinbase\n  coinbase:\n    url: ws://127.0.0.1:1\n" + coinbase_keys;
}

void expect_paper_ok(const std::string& coinbase_keys, std::int64_t minutes, const std::string& rest_url) {
  TempDir d;
  std::string y = valid_yaml("mode: SIM", "mode: PAPER");
  const std::string feed = "source: replay_csv\n  speed: max\n  bars_max: 0\n  csv:\n    BTC-USD: {file: btc.csv}\n";
  y.replace(y.find(feed), feed.size(), paper_feed(coinbase_keys));
  const auto load = parse(d, y);
  ASSERT_TRUE(load.ok()) << coinbase_keys << ": " << load.problems[0].to_string();
  EXPECT_EQ(load.config.warm_up.minutes, minutes) << coinbase_keys;
  EXPECT_EQ(load.config.warm_up.rest.base_url, rest_url) << coinbase_keys;
}

void expect_paper_problem(const std::string& coinbase_keys, const std::string& key) {
  TempDir d;
  std::string y = valid_yaml("mode: SIM", "mode: PAPER");
  const std::string feed = "source: replay_csv\n  speed: max\n  bars_max: 0\n  csv:\n    BTC-USD: {file: btc.csv}\n";
  y.replace(y.find(feed), feed.size(), paper_feed(coinbase_keys));
  const auto load = parse(d, y);
  ASSERT_FALSE(load.ok()) << coinbase_keys;
  EXPECT_EQ(load.problems[0].key, key) << load.problems[0].to_string();
  EXPECT_GT(load.problems[0].line, 0);
  EXPECT_GT(load.problems[0].column, 0);
}

TEST(AgentConfig, WarmUpMinutesAndRestUrl) {
  using ta::agent::WarmUpConfig;
  expect_paper_ok("", WarmUpConfig::kMinutesDefault, "https://api.coinbase.com");
  const std::string max = std::to_string(WarmUpConfig::kMinutesMax);
  expect_paper_ok("    warmup_minutes: " + max + "\n", WarmUpConfig::kMinutesMax, "https://api.coinbase.com");
  expect_paper_ok("    warmup_minutes: " + std::to_string(WarmUpConfig::kMinutesMax - 1) + "\n",
                  WarmUpConfig::kMinutesMax - 1, "https://api.coinbase.com");
  expect_paper_problem("    warmup_minutes: " + std::to_string(WarmUpConfig::kMinutesMax + 1) + "\n",
                       "feed.coinbase.warmup_minutes");
  expect_paper_ok("    warmup_minutes: 0\n", 0, "https://api.coinbase.com");  // cold start
  expect_paper_ok("    warmup_minutes: 1\n", 1, "https://api.coinbase.com");
  expect_paper_problem("    warmup_minutes: -1\n", "feed.coinbase.warmup_minutes");
  expect_paper_problem("    warmup_minutes: a day\n", "feed.coinbase.warmup_minutes");
  expect_paper_ok("    rest_url: http://127.0.0.1:8080\n", WarmUpConfig::kMinutesDefault, "http://127.0.0.1:8080");
  expect_paper_problem("    rest_url: ws://127.0.0.1:8080\n", "feed.coinbase.rest_url");
}

TEST(AgentConfig, StrategyCountLimit) {
  for (const std::size_t n : {ta::agent::kAgentStrategiesMax, ta::agent::kAgentStrategiesMax + 1}) {
    std::string list;
    for (std::size_t i = 0; i < n; ++i) list += "  s" + std::to_string(i) + ": {builtin: momentum}\n";
    TempDir d;
    const auto load = parse(d, valid_yaml("  mr:\n    builtin: mean_reversion\n", list));
    if (n <= ta::agent::kAgentStrategiesMax) {
      EXPECT_TRUE(load.ok()) << (load.ok() ? "" : load.problems[0].to_string());
      EXPECT_EQ(load.config.strategies.size(), n);
    } else {
      ASSERT_FALSE(load.ok());
      EXPECT_EQ(load.problems[0].key, "strategies");
    }
  }
}

TEST(AgentConfig, JunkIsAProblemNotACrash) {
  for (const std::string junk : {"", "- a\n- b\n", "mode: [", "\x01\x02\x03", "strategies: 7\n"}) {
    TempDir d;
    const auto load = parse(d, junk);
    EXPECT_FALSE(load.ok());
  }
}

TEST(AgentConfig, StrategyFileProblemsKeepTheirPosition) {
  TempDir d;
  d.write("strategies/s.yaml", "name: s\nparams: {}\nnodes: {}\nentry: {long: \"close >\"}\nstops: {}\n");
  const auto load = parse(d, valid_yaml("    builtin: mean_reversion\n", "    file: strategies/s.yaml\n"));
  ASSERT_FALSE(load.ok());
  bool in_file = false;
  for (const auto& p : load.problems) {
    if (p.file == "strategies/s.yaml") {
      in_file = true;
      EXPECT_GT(p.line, 0);
    }
  }
  EXPECT_TRUE(in_file) << render(load, d.path);
}

}  // namespace
