// trading-agent's configuration: config/agent.yaml (docs/agent.md is the
// reference of every key).
//
// load_agent_config() reads the file with proto::ConfigReader, so every
// problem carries file:line:column: unknown keys, wrong types and values out
// of range (the message states the valid range), relative paths resolved
// against the file's directory. It then loads the strategy files the config
// names and adds their problems (with their own file:line:column), builds
// every strategy and checks what relates several keys (a strategy bound to
// an unknown product, SIM without a replay feed, duplicate names...). One
// call reports everything; nothing stops at the first problem.
//
// The result is a plain value; nothing is opened or started here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "coinbase/candles.h"
#include "coinbase/ws_feed.h"
#include "market/feed.h"
#include "proto/decimal.h"
#include "proto/yaml_config.h"
#include "strategy/engine.h"

namespace ta::agent {

enum class AgentMode { kSim, kPaper, kLive };
std::string_view to_string(AgentMode mode);

enum class FeedSource {
  kReplayCsv,    // bar CSV files, one per product
  kReplayStore,  // the SQLite candle store, a product list and a time range
  kCoinbase,     // the live Coinbase WebSocket (PAPER, LIVE)
};
std::string_view to_string(FeedSource source);

// Limits of the configuration itself.
// Replay products: the engine's own limit.
inline constexpr std::size_t kAgentProductsMax = kEngineProductsMax;
// Strategy bindings: the engine's own limit.
inline constexpr std::size_t kAgentStrategiesMax = kEngineStrategiesMax;
// Bars of one SIM run: 20 million is ten years of two products, and at
// about 100 bytes a bar 2 GB of memory; more is a mistake.
inline constexpr std::uint64_t kSimBarsMax = 20'000'000;
// Status socket connections served at once. The status is read by a person
// or a monitoring probe now and then; 16 at once means something loops.
inline constexpr std::size_t kStatusConnectionsMaxDefault = 4;
inline constexpr std::size_t kStatusConnectionsMaxCeiling = 16;
// A status reader gets this long to take the document; a reader that does
// not read must not hold a slot.
inline constexpr std::int64_t kStatusWriteTimeoutMsDefault = 1'000;
inline constexpr std::int64_t kStatusWriteTimeoutMsMax = 60'000;
// SIM: how long the agent waits for the gate's answer to one bar or one
// intent before it gives up the run (exit 1). The gate answers in
// microseconds; 30 s covers a gate restart with a long journal replay.
inline constexpr std::int64_t kGateReplyTimeoutMsDefault = 30'000;
inline constexpr std::int64_t kGateReplyTimeoutMsMax = 600'000;
// SIM: bars the agent may have sent ahead of the gate's answers while it
// can predict them (docs/agent.md, "SIM pipeline"). 0 is strict lockstep.
// The default covers an fdatasync of 20 ms at 200,000 bars/s, so a slow
// disk does not stall the pipeline; the ceiling bounds what a gate restart
// makes the agent send again and what waits in the gate's queue.
inline constexpr std::size_t kBarsInFlightMaxDefault = 4'096;
inline constexpr std::size_t kBarsInFlightMaxCeiling = 65'536;
// Journal group commit window (journal/journal.h): 0 syncs as soon as the
// previous sync ends; at most the journal's ceiling of 100 ms.
inline constexpr std::int64_t kAgentJournalWindowMsMax = 100;

struct GateLinkConfig {
  std::filesystem::path socket_path;
  std::int64_t heartbeat_period_ms = 1'000;
  std::int64_t reconnect_delay_ms_initial = 100;
  std::int64_t reconnect_delay_ms_max = 5'000;
  std::int64_t reply_timeout_ms = kGateReplyTimeoutMsDefault;
  std::size_t bars_in_flight_max = kBarsInFlightMaxDefault;  // SIM; 0: lockstep
};

struct StatusConfig {
  std::filesystem::path socket_path;  // empty: no status socket
  std::size_t connections_max = kStatusConnectionsMaxDefault;
  std::int64_t write_timeout_ms = kStatusWriteTimeoutMsDefault;
};

struct ReplayConfig {
  ReplaySpeed speed = ReplaySpeed::kMax;
  double factor = 1.0;                          // kAccelerated only
  std::vector<ReplayFeed::CsvSource> csv;       // kReplayCsv
  bool skip_bad_rows = false;                   // kReplayCsv
  std::filesystem::path store;                  // kReplayStore
  std::int64_t from_ts_s = 0;                   // kReplayStore: [from, to)
  std::int64_t to_ts_s = 0;
  std::uint64_t bars_max = 0;                   // 0: every bar; else the first bars_max of the merged replay
};

// PAPER/LIVE: the indicators' warm-up from the REST candle backfill
// (docs/agent.md, "Warm-up"). On the first live bar of each product the
// agent asks for the `minutes` one-minute candles before it and runs them
// through the indicators, so the strategies judge that first bar already.
struct WarmUpConfig {
  // 1,440 minutes (a day) covers the regime classifier's 12-hour volatility
  // window (721 bars) and every shipped strategy with room; it is 5
  // requests per product, about a second at the default pacing.
  static constexpr std::int64_t kMinutesDefault = 1'440;
  // A week: 29 requests per product, under 4 s each at the default pacing
  // (32 products, the most the agent trades, take about 2 minutes). Longer
  // windows belong to files (`trading-agent data import`).
  static constexpr std::int64_t kMinutesMax = 7 * 24 * 60;
  // Live bars kept per product while its backfill runs; they go to the
  // engine, in order, when it ends. A backfill takes about a second, a few
  // retries a minute; a signal on a bar older than three minutes is stale,
  // so on the fourth live bar the product stops waiting and starts cold.
  static constexpr std::size_t kHeldBarsMax = 3;

  std::int64_t minutes = kMinutesDefault;  // 0: no warm-up, the strategies start cold
  coinbase::BackfillConfig rest;           // rest.base_url from feed.coinbase.rest_url
};

struct StrategyConfig {
  std::string name;
  std::string builtin;                       // kind, or empty
  std::filesystem::path file;                // YAML strategy file, or empty
  std::vector<std::pair<std::string, double>> overrides;
  std::vector<ProductId> products;           // empty: every product
  Decimal risk_weight = Decimal::from_integer(1);
  std::shared_ptr<const StrategyDefinition> definition;  // built and checked
};

struct AgentConfig {
  std::filesystem::path file;  // the agent.yaml that was read (absolute)
  AgentMode mode = AgentMode::kSim;
  std::filesystem::path state_dir;
  std::filesystem::path journal_dir;
  std::int64_t journal_group_commit_window_ms = 0;
  GateLinkConfig gate;
  StatusConfig status;
  FeedSource feed = FeedSource::kReplayCsv;
  ReplayConfig replay;
  coinbase::WsFeedConfig coinbase;  // kCoinbase (products filled from `products`)
  WarmUpConfig warm_up;             // kCoinbase
  std::vector<ProductSpec> products;
  SizingLimits sizing;
  Decimal starting_equity = Decimal::from_integer(10'000);  // until the gate's first snapshot
  std::vector<StrategyConfig> strategies;
  std::string config_sha256;  // of agent.yaml's bytes, journaled at start

  // The engine configuration these settings describe.
  EngineConfig engine_config() const;
};

struct AgentConfigLoad {
  AgentConfig config;
  std::vector<proto::ConfigProblem> problems;  // of agent.yaml and every strategy file
  bool ok() const { return problems.empty(); }
};

// Reads and checks agent.yaml and the strategy files it names.
AgentConfigLoad load_agent_config(const std::filesystem::path& agent_yaml);
// The same from text (tests); relative paths resolve against base_dir.
AgentConfigLoad parse_agent_config(std::string_view yaml_text, std::string file_name,
                                   const std::filesystem::path& base_dir);

}  // namespace ta::agent
