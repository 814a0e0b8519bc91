#include "gate/config.h"

#include <limits>

#include "gate/proposals.h"
#include "proto/framing.h"

namespace ta::gate {
namespace {

using proto::ConfigMap;
using proto::ConfigReader;
using proto::Need;

// Literal decimals for ranges; the texts are constants, so failure is a bug.
Decimal dec(std::string_view text) { return Decimal::parse(text).value(); }

constexpr std::int64_t kSecondMs = 1'000;
constexpr std::int64_t kMinuteMs = 60 * kSecondMs;
constexpr std::int64_t kHourMs = 60 * kMinuteMs;

std::vector<std::uint32_t> ids(ConfigMap m, std::string_view key) {
  std::vector<std::uint32_t> out;
  for (std::int64_t v : m.integer_list(key, Need::kOptional, 0, std::numeric_limits<std::uint32_t>::max(),
                                       kPeerIdsMax)) {
    out.push_back(static_cast<std::uint32_t>(v));
  }
  return out;
}

SocketConfig read_socket(ConfigMap m, std::string_view default_path, std::uint32_t connections_default) {
  SocketConfig s;
  s.path = m.path("path", Need::kOptional, default_path);
  s.allowed_uids = ids(m, "allowed_uids");
  s.allowed_gids = ids(m, "allowed_gids");
  s.allow_own_uid = m.boolean("allow_own_uid", Need::kOptional, s.allow_own_uid);
  // 1..64: one agent (plus a reconnect overlap) or a few dashboards.
  s.connections_max = static_cast<std::uint32_t>(m.integer("connections_max", Need::kOptional, connections_default, 1, 64));
  return s;
}

SimVenueConfig read_sim(ConfigMap m) {
  SimVenueConfig s;
  s.seed = static_cast<std::uint64_t>(
      m.integer("seed", Need::kOptional, static_cast<std::int64_t>(s.seed), 0, std::numeric_limits<std::int64_t>::max()));
  // Fees above 10% or spreads above 10% are typos, not markets.
  s.fee_maker_bps = m.decimal("fee_maker_bps", Need::kOptional, s.fee_maker_bps, dec("0"), dec("1000"));
  s.fee_taker_bps = m.decimal("fee_taker_bps", Need::kOptional, s.fee_taker_bps, dec("0"), dec("1000"));
  s.default_spread_bps = m.decimal("default_spread_bps", Need::kOptional, s.default_spread_bps, dec("0"), dec("1000"));
  s.impact_coefficient = m.decimal("impact_coefficient", Need::kOptional, s.impact_coefficient, dec("0"), dec("10"));
  s.fill_volume_fraction_max =
      m.decimal("fill_volume_fraction_max", Need::kOptional, s.fill_volume_fraction_max, dec("0.0001"), dec("1"));
  s.ack_latency_ms = m.duration_ms("ack_latency", Need::kOptional, s.ack_latency_ms, 0, kMinuteMs);
  s.ack_latency_jitter_ms = m.duration_ms("ack_latency_jitter", Need::kOptional, s.ack_latency_jitter_ms, 0, kMinuteMs);
  s.bar_period_ms = m.duration_ms("bar_period", Need::kOptional, s.bar_period_ms, kSecondMs, kHourMs);
  return s;
}

GateConfig read_gate(ConfigReader& reader) {
  GateConfig g;
  ConfigMap root = reader.root();
  g.source_file = reader.file_name();
  const std::string mode = root.choice("mode", Need::kRequired, "SIM", {"SIM", "PAPER", "LIVE"});
  g.mode = mode == "LIVE" ? Mode::kLive : mode == "PAPER" ? Mode::kPaper : Mode::kSim;
  g.safety_file = root.path("safety_file", Need::kOptional, "safety.yaml");
  g.state_dir = root.path("state_dir", Need::kOptional, "../run/state");
  g.journal_dir = root.path("journal_dir", Need::kOptional, "../run/journal");

  ConfigMap journal = root.map("journal", Need::kOptional);
  g.journal.group_commit_window_ms =
      journal.duration_ms("group_commit_window", Need::kOptional, g.journal.group_commit_window_ms, 0, 100);
  g.journal.segment_bytes_max = static_cast<std::uint64_t>(
      journal.integer("segment_bytes_max", Need::kOptional, static_cast<std::int64_t>(g.journal.segment_bytes_max),
                      4 * 1024, 1024LL * 1024 * 1024));

  ConfigMap rules = root.map("rules", Need::kOptional);
  g.rules_core_dir = rules.path("core_dir", Need::kOptional, "../rules/core");
  g.rules_active_dir = rules.path("active_dir", Need::kOptional, "../rules/active");

  ConfigMap proposals = root.map("proposals", Need::kOptional);
  static_assert(kProposalExpiryDefaultMs == kProposalExpiryDefault_s * kSecondMs);
  g.proposal_expiry_ms = proposals.duration_ms("expiry", Need::kOptional, g.proposal_expiry_ms,
                                               kProposalExpiryMin_s * kSecondMs, kProposalExpiryMax_s * kSecondMs);

  ConfigMap sockets = root.map("sockets", Need::kOptional);
  g.gate_socket = read_socket(sockets.map("gate", Need::kOptional), "../run/gate.sock", 4);
  g.admin_socket = read_socket(sockets.map("admin", Need::kOptional), "../run/admin.sock", 8);
  g.frame_size_max_bytes = static_cast<std::uint32_t>(sockets.integer(
      "frame_size_max_bytes", Need::kOptional, g.frame_size_max_bytes, 1024, proto::kFrameSizeMaxCeiling));
  g.outbound_queue_max_messages = static_cast<std::uint32_t>(
      sockets.integer("outbound_queue_max_messages", Need::kOptional, g.outbound_queue_max_messages, 16, 65536));
  if (!g.gate_socket.path.empty() && g.gate_socket.path == g.admin_socket.path) {
    sockets.map("admin", Need::kOptional).problem("path", "must differ from sockets.gate.path");
  }

  ConfigMap heartbeat = root.map("heartbeat", Need::kOptional);
  g.heartbeat_period_ms = heartbeat.duration_ms("period", Need::kOptional, g.heartbeat_period_ms, 100, kMinuteMs);
  g.heartbeat_timeout_ms = heartbeat.duration_ms("timeout", Need::kOptional, g.heartbeat_timeout_ms, 200, 10 * kMinuteMs);
  // One lost heartbeat must not trip the switch.
  if (g.heartbeat_timeout_ms < 2 * g.heartbeat_period_ms) {
    heartbeat.problem("timeout", "must be at least twice heartbeat.period (" +
                                     proto::format_duration_ms(g.heartbeat_period_ms) + ")");
  }

  ConfigMap venue = root.map("venue", Need::kOptional);
  g.venue_disconnect_halt_ms =
      venue.duration_ms("disconnect_halt_after", Need::kOptional, g.venue_disconnect_halt_ms, kSecondMs, kHourMs);
  g.sim = read_sim(venue.map("sim", Need::kOptional));

  for (auto& [name, m] : root.named_maps("products", Need::kRequired, kProductsMax)) {
    ProductSpec p;
    p.product = name;
    if (name.empty() || name.size() > kProductNameLengthMax) {
      root.map("products", Need::kRequired).problem(name, "product names are 1 to 32 characters");
    }
    p.base_increment = m.decimal("base_increment", Need::kRequired, dec("1"), dec("0.00000001"), dec("1"));
    p.quote_increment = m.decimal("quote_increment", Need::kRequired, dec("1"), dec("0.00000001"), dec("1000"));
    g.products.push_back(std::move(p));
  }
  return g;
}

SafetyLimits read_safety(ConfigReader& reader) {
  SafetyLimits s;
  ConfigMap root = reader.root();
  s.source_file = reader.file_name();
  for (auto& [name, m] : root.named_maps("products", Need::kRequired, kProductsMax)) {
    ProductLimits p;
    p.product = name;
    p.size_min = m.decimal("size_min", Need::kRequired, dec("1"), dec("0.00000001"), dec("1000000"));
    p.size_max = m.decimal("size_max", Need::kRequired, dec("1"), dec("0.00000001"), dec("1000000"));
    p.size_increment = m.decimal("size_increment", Need::kRequired, dec("1"), dec("0.00000001"), dec("1"));
    p.price_increment = m.decimal("price_increment", Need::kRequired, dec("1"), dec("0.00000001"), dec("1000"));
    if (p.size_min > p.size_max) m.problem("size_min", "must not exceed size_max (" + p.size_max.to_string() + ")");
    if (!p.size_min.is_multiple_of(p.size_increment)) {
      m.problem("size_min", "must be a multiple of size_increment (" + p.size_increment.to_string() + ")");
    }
    if (!p.size_max.is_multiple_of(p.size_increment)) {
      m.problem("size_max", "must be a multiple of size_increment (" + p.size_increment.to_string() + ")");
    }
    s.products.push_back(std::move(p));
  }
  s.order_notional_max = root.decimal("order_notional_max", Need::kOptional, s.order_notional_max, dec("1"), dec("1000000000"));
  s.position_fraction_max =
      root.decimal("position_fraction_max", Need::kOptional, s.position_fraction_max, dec("0.0001"), dec("1"));
  s.gross_exposure_fraction_max =
      root.decimal("gross_exposure_fraction_max", Need::kOptional, s.gross_exposure_fraction_max, dec("0.0001"), dec("1"));
  s.risk_per_trade_fraction_max =
      root.decimal("risk_per_trade_fraction_max", Need::kOptional, s.risk_per_trade_fraction_max, dec("0.0001"), dec("0.1"));
  s.open_orders_max = static_cast<std::uint32_t>(root.integer("open_orders_max", Need::kOptional, s.open_orders_max, 1, 1000));
  s.order_rate_per_minute_max =
      static_cast<std::uint32_t>(root.integer("order_rate_per_minute_max", Need::kOptional, s.order_rate_per_minute_max, 1, 600));
  s.price_band_bps = root.decimal("price_band_bps", Need::kOptional, s.price_band_bps, dec("1"), dec("5000"));
  s.reference_price_age_max_ms =
      root.duration_ms("reference_price_age_max", Need::kOptional, s.reference_price_age_max_ms, kSecondMs, kHourMs);
  s.daily_loss_fraction_max =
      root.decimal("daily_loss_fraction_max", Need::kOptional, s.daily_loss_fraction_max, dec("0.001"), dec("0.5"));
  s.loss_cooldown_ms = root.duration_ms("loss_cooldown", Need::kOptional, s.loss_cooldown_ms, kMinuteMs, 24 * kHourMs);
  s.fee_reserve_bps = root.decimal("fee_reserve_bps", Need::kOptional, s.fee_reserve_bps, dec("0"), dec("1000"));
  s.starting_cash = root.decimal("starting_cash", Need::kOptional, s.starting_cash, dec("1"), dec("1000000000"));
  return s;
}

// Checks that need both files: every allowed product is a venue product and
// the safety increments are coarser than (multiples of) the venue's.
void cross_check(const GateConfig& g, const SafetyLimits& s, ConfigReader& safety_reader) {
  ConfigMap products = safety_reader.root().map("products", Need::kRequired);
  for (const ProductLimits& p : s.products) {
    const ProductSpec* spec = g.find_product(p.product);
    ConfigMap m = products.map(p.product, Need::kRequired);
    if (spec == nullptr) {
      products.problem(p.product, "product is not listed under products in " + g.source_file.filename().string());
      continue;
    }
    if (!p.size_increment.is_multiple_of(spec->base_increment)) {
      m.problem("size_increment", "must be a multiple of the venue's base_increment (" +
                                      spec->base_increment.to_string() + ")");
    }
    if (!p.price_increment.is_multiple_of(spec->quote_increment)) {
      m.problem("price_increment", "must be a multiple of the venue's quote_increment (" +
                                       spec->quote_increment.to_string() + ")");
    }
  }
  // One bar can settle every open order, pushing up to three messages each
  // (ack, fill, order update) to the agent at once; a smaller outbound queue
  // would disconnect the agent exactly when it matters.
  const std::uint64_t queue_needed = std::uint64_t{kPushesPerOrderMax} * s.open_orders_max + kPushesSpare;
  if (g.outbound_queue_max_messages < queue_needed) {
    safety_reader.root().problem("open_orders_max",
                                 "needs sockets.outbound_queue_max_messages of at least " + std::to_string(queue_needed) +
                                     " (3 per open order + " + std::to_string(kPushesSpare) + ") in " +
                                     g.source_file.filename().string() + ", which is " +
                                     std::to_string(g.outbound_queue_max_messages));
  }
  if (g.mode != Mode::kLive && s.fee_reserve_bps < g.sim.fee_taker_bps) {
    safety_reader.root().problem("fee_reserve_bps", "must be at least venue.sim.fee_taker_bps (" +
                                                        g.sim.fee_taker_bps.to_string() + ")");
  }
}

}  // namespace

std::string_view to_string(Mode mode) {
  switch (mode) {
    case Mode::kSim:
      return "SIM";
    case Mode::kPaper:
      return "PAPER";
    case Mode::kLive:
      return "LIVE";
  }
  return "?";
}

const ProductSpec* GateConfig::find_product(std::string_view product) const {
  for (const auto& p : products) {
    if (p.product == product) return &p;
  }
  return nullptr;
}

const ProductLimits* SafetyLimits::find(std::string_view product) const {
  for (const auto& p : products) {
    if (p.product == product) return &p;
  }
  return nullptr;
}

ConfigLoad load_config(const std::filesystem::path& gate_yaml) {
  ConfigLoad out;
  ConfigReader gate_reader(gate_yaml);
  out.config.gate = read_gate(gate_reader);
  ConfigReader safety_reader(out.config.gate.safety_file);
  out.config.safety = read_safety(safety_reader);
  cross_check(out.config.gate, out.config.safety, safety_reader);
  out.problems = gate_reader.finish();
  for (auto& p : safety_reader.finish()) out.problems.push_back(std::move(p));
  return out;
}

std::vector<std::string> check_config(const std::filesystem::path& gate_yaml) {
  std::vector<std::string> lines;
  for (const auto& p : load_config(gate_yaml).problems) lines.push_back(p.to_string());
  return lines;
}

}  // namespace ta::gate
