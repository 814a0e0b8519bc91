// trading-gate configuration: gate.yaml (how the daemon runs) and
// safety.yaml (hard limits that no proposal can change).
//
// load_config() reads gate.yaml, then the safety file it names, and checks
// the two against each other. Every problem in either file is reported with
// file:line:column and, for numbers, the valid range; nothing is silently
// clamped. The defaults below are what an absent optional key means; the
// shipped config/*.yaml spell them out. docs/safety-limits.md lists every
// limit with its default and the reason for it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "proto/decimal.h"
#include "proto/yaml_config.h"

namespace ta::gate {

enum class Mode { kSim, kPaper, kLive };
std::string_view to_string(Mode mode);

// ------------------------------------------------------------- gate.yaml

// Exchange facts about one product (Coinbase's base_increment and
// quote_increment). SimVenue rounds fill prices to quote_increment.
struct ProductSpec {
  std::string product;  // "BTC-USD"
  Quantity base_increment;
  Price quote_increment;
};

struct SocketConfig {
  std::filesystem::path path;
  // A connecting peer (SO_PEERCRED) is allowed when its uid is listed, its
  // gid is listed, or allow_own_uid is set and it runs as the gate's uid.
  std::vector<std::uint32_t> allowed_uids;
  std::vector<std::uint32_t> allowed_gids;
  bool allow_own_uid = true;
  std::uint32_t connections_max = 4;
};

// SimVenue's market model (SIM and PAPER). See docs/gate-core.md for the
// fill model these numbers feed.
struct SimVenueConfig {
  std::uint64_t seed = 1;
  Decimal fee_maker_bps = Decimal::from_integer(60);   // Coinbase's entry tier, 0.60%
  Decimal fee_taker_bps = Decimal::from_integer(120);  // Coinbase's entry tier, 1.20%
  // Spread assumed when a bar carries no bid/ask: 2 bps, typical for
  // BTC-USD top of book.
  Decimal default_spread_bps = Decimal::from_integer(2);
  // Linear impact: slippage fraction += impact_coefficient * qty / bar volume.
  Decimal impact_coefficient = Decimal::from_units(Decimal::kScale / 10);  // 0.1
  // At most this fraction of a bar's volume fills per order per bar: 10%,
  // so a simulated order cannot pretend to own the market.
  Decimal fill_volume_fraction_max = Decimal::from_units(Decimal::kScale / 10);  // 0.1
  std::int64_t ack_latency_ms = 0;         // market time from submit to arrival
  std::int64_t ack_latency_jitter_ms = 0;  // extra latency, uniform in [0, jitter], seeded
  std::int64_t bar_period_ms = 60'000;     // 1-minute bars
};

// How the gate's journal reaches the disk (journal/include/journal/journal.h;
// the daemon checks these bounds against the journal library's own).
struct JournalConfig {
  // Group commit: a record nobody waits for (a denial, a mark) waits at
  // most this long for others before the journal syncs them together; a
  // record someone waits for (an acceptance, a push, an admin reply) is
  // synced at once, and records that arrive during a sync form the next
  // group. 1 ms is far below an exchange round trip and turns a stream of
  // denials into one sync per millisecond. 0 to 100 ms (the journal's own
  // ceiling).
  std::int64_t group_commit_window_ms = 1;
  // Segment files rotate at this size: 64 MiB, 4 KiB to 1 GiB.
  std::uint64_t segment_bytes_max = 64ull * 1024 * 1024;
};

// The default of GateConfig::proposal_expiry_ms (proposals.h names the
// same duration kProposalExpiryDefault_s, with its bounds).
inline constexpr std::int64_t kProposalExpiryDefaultMs = 7LL * 24 * 3'600'000;

struct GateConfig {
  std::filesystem::path source_file;
  Mode mode = Mode::kSim;
  std::filesystem::path safety_file;
  std::filesystem::path state_dir;
  std::filesystem::path journal_dir;
  std::filesystem::path rules_core_dir;
  std::filesystem::path rules_active_dir;
  SocketConfig gate_socket;
  SocketConfig admin_socket;
  // Largest frame on either socket; see proto/framing.h.
  std::uint32_t frame_size_max_bytes = 64 * 1024;
  // Messages queued to one slow peer before the gate stops reading from it
  // (backpressure) and, if it stays full, closes the connection.
  std::uint32_t outbound_queue_max_messages = 1024;
  // The agent heartbeats every period; silence for timeout trips the
  // dead-man's switch (cancel everything, HALTED).
  std::int64_t heartbeat_period_ms = 1'000;
  std::int64_t heartbeat_timeout_ms = 5'000;
  // A venue connection down this long halts trading.
  std::int64_t venue_disconnect_halt_ms = 60'000;
  JournalConfig journal;
  // proposals.expiry: a pending proposal expires this long after it was
  // submitted, in gate time (market time in SIM). 7 days: seen at the weekly
  // review while its evidence is fresh; 1 hour to 90 days
  // (kProposalExpiryDefault_s and its bounds in gate/proposals.h).
  std::int64_t proposal_expiry_ms = kProposalExpiryDefaultMs;
  SimVenueConfig sim;
  std::vector<ProductSpec> products;  // in file order

  const ProductSpec* find_product(std::string_view product) const;
};

// ----------------------------------------------------------- safety.yaml

// Per-product hard limits. Increments must be multiples of the venue's.
struct ProductLimits {
  std::string product;
  Quantity size_min;
  Quantity size_max;
  Quantity size_increment;
  Price price_increment;
};

struct SafetyLimits {
  std::filesystem::path source_file;
  std::vector<ProductLimits> products;  // the allowed products, in file order
  // Largest single order, quantity x price (reference price for market
  // orders), in USD. Caps the damage of one wrong order.
  Notional order_notional_max = Decimal::from_integer(1'000);
  // Largest position in one product, valued at the reference price, as a
  // fraction of equity: concentration limit.
  Decimal position_fraction_max = Decimal::from_units(Decimal::kScale / 10);  // 0.10
  // Sum of all positions' values (worst case with open orders filled) as a
  // fraction of equity: at least half the account stays in cash.
  Decimal gross_exposure_fraction_max = Decimal::from_units(Decimal::kScale / 2);  // 0.50
  // Loss if the protective stop is hit, |entry - stop| x quantity, as a
  // fraction of equity: 0.5%, so a run of 20 stopped trades costs ~10%.
  Decimal risk_per_trade_fraction_max = Decimal::from_units(Decimal::kScale / 200);  // 0.005
  // Live orders at once: a strategy bug cannot litter the book.
  std::uint32_t open_orders_max = 10;
  // Accepted orders in any 60-second window: stops runaway loops.
  std::uint32_t order_rate_per_minute_max = 20;
  // Fat-finger band: a limit price further than this from the gate's own
  // reference price is denied. 300 bps = 3%.
  Decimal price_band_bps = Decimal::from_integer(300);
  // A reference price older than this is no reference: NO_REFERENCE_PRICE.
  std::int64_t reference_price_age_max_ms = 120'000;
  // Loss from the UTC day's highest equity (which starts at the day's
  // opening equity) that triggers flatten + HALTED + cooldown.
  Decimal daily_loss_fraction_max = Decimal::from_units(Decimal::kScale / 20);  // 0.05
  std::int64_t loss_cooldown_ms = 60 * 60'000;  // 60 minutes
  // Cash set aside for fees when checking a buy's funds; at least the
  // venue's taker fee.
  Decimal fee_reserve_bps = Decimal::from_integer(120);
  // Account size for SIM and PAPER (LIVE reads balances from the venue).
  Notional starting_cash = Decimal::from_integer(10'000);

  const ProductLimits* find(std::string_view product) const;
};

// The agent's outbound queue (sockets.outbound_queue_max_messages) must hold
// what one bar can push: up to kPushesPerOrderMax messages per open order
// (ack, fill, order update) plus kPushesSpare for snapshots, halt changes
// and decisions. load_config() checks it against open_orders_max.
inline constexpr std::uint32_t kPushesPerOrderMax = 3;
inline constexpr std::uint32_t kPushesSpare = 64;

// Bounds on the configuration itself (not trading limits).
inline constexpr std::size_t kProductsMax = 32;        // products per file
inline constexpr std::size_t kPeerIdsMax = 64;         // uids or gids per socket
inline constexpr std::size_t kProductNameLengthMax = 32;

struct Config {
  GateConfig gate;
  SafetyLimits safety;
};

struct ConfigLoad {
  Config config;  // meaningful only when problems is empty
  std::vector<proto::ConfigProblem> problems;
};

// Reads gate.yaml, the safety file it names (safety_file, default
// "safety.yaml" beside it), and cross-checks them. Collects every problem.
ConfigLoad load_config(const std::filesystem::path& gate_yaml);

// For --check-config: every problem as one "file:line:column: ..." line;
// empty when the configuration is usable.
std::vector<std::string> check_config(const std::filesystem::path& gate_yaml);

}  // namespace ta::gate
