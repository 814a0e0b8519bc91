#include "gate/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

namespace ta::gate {
namespace {

Decimal D(const char* text) { return Decimal::parse(text).value(); }

std::filesystem::path source_dir() {
  const char* dir = std::getenv("TA_SOURCE_DIR");
  EXPECT_NE(dir, nullptr) << "TA_SOURCE_DIR is not set";
  return dir ? dir : ".";
}

// Writes gate.yaml and safety.yaml into a fresh directory under the build
// tree and returns the gate.yaml path.
std::filesystem::path write_config(const std::string& name, const std::string& gate, const std::string& safety) {
  const char* binary_dir = std::getenv("TA_BINARY_DIR");
  EXPECT_NE(binary_dir, nullptr) << "TA_BINARY_DIR is not set";
  const auto dir = std::filesystem::path(binary_dir ? binary_dir : ".") / "gate_config_test" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "gate.yaml") << gate;
  std::ofstream(dir / "safety.yaml") << safety;
  return dir / "gate.yaml";
}

const std::string kMinimalGate =
    "mode: SIM\n"
    "products:\n"
    "  BTC-USD: {base_increment: \"0.00000001\", quote_increment: \"0.01\"}\n";
const std::string kMinimalSafety =
    "products:\n"
    "  BTC-USD: {size_min: \"0.0001\", size_max: \"1\", size_increment: \"0.00000001\", price_increment: \"0.01\"}\n";

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

TEST(GateConfig, ShippedFilesAreValidAndSpellOutTheDefaults) {
  const auto load = load_config(source_dir() / "config" / "gate.yaml");
  ASSERT_TRUE(load.problems.empty()) << proto::join_problems(load.problems);
  const GateConfig& g = load.config.gate;
  const SafetyLimits& s = load.config.safety;
  EXPECT_EQ(g.mode, Mode::kSim);
  EXPECT_EQ(g.safety_file, (source_dir() / "config" / "safety.yaml").lexically_normal());
  EXPECT_EQ(g.journal_dir, (source_dir() / "run" / "journal").lexically_normal());
  ASSERT_EQ(g.products.size(), 2u);
  ASSERT_EQ(s.products.size(), 2u);
  EXPECT_EQ(s.products[0].product, "BTC-USD");

  // The shipped safety.yaml states exactly the built-in defaults, so the
  // table in docs/safety-limits.md, the code and the file agree.
  const SafetyLimits d;
  EXPECT_EQ(s.order_notional_max, d.order_notional_max);
  EXPECT_EQ(s.position_fraction_max, D("0.10"));
  EXPECT_EQ(s.position_fraction_max, d.position_fraction_max);
  EXPECT_EQ(s.gross_exposure_fraction_max, D("0.5"));
  EXPECT_EQ(s.gross_exposure_fraction_max, d.gross_exposure_fraction_max);
  EXPECT_EQ(s.risk_per_trade_fraction_max, D("0.005"));
  EXPECT_EQ(s.risk_per_trade_fraction_max, d.risk_per_trade_fraction_max);
  EXPECT_EQ(s.open_orders_max, d.open_orders_max);
  EXPECT_EQ(s.order_rate_per_minute_max, d.order_rate_per_minute_max);
  EXPECT_EQ(s.price_band_bps, d.price_band_bps);
  EXPECT_EQ(s.reference_price_age_max_ms, d.reference_price_age_max_ms);
  EXPECT_EQ(s.daily_loss_fraction_max, D("0.05"));
  EXPECT_EQ(s.daily_loss_fraction_max, d.daily_loss_fraction_max);
  EXPECT_EQ(s.loss_cooldown_ms, 60 * 60'000);
  EXPECT_EQ(s.loss_cooldown_ms, d.loss_cooldown_ms);
  EXPECT_EQ(s.fee_reserve_bps, d.fee_reserve_bps);
  EXPECT_EQ(s.starting_cash, d.starting_cash);

  const GateConfig gd;
  EXPECT_EQ(g.heartbeat_period_ms, gd.heartbeat_period_ms);
  EXPECT_EQ(g.heartbeat_timeout_ms, gd.heartbeat_timeout_ms);
  EXPECT_EQ(g.frame_size_max_bytes, gd.frame_size_max_bytes);
  EXPECT_EQ(g.sim.fee_taker_bps, gd.sim.fee_taker_bps);
  EXPECT_EQ(g.sim.fee_maker_bps, gd.sim.fee_maker_bps);
  EXPECT_EQ(g.sim.impact_coefficient, D("0.1"));
  EXPECT_EQ(g.sim.fill_volume_fraction_max, D("0.1"));
  EXPECT_EQ(g.sim.bar_period_ms, 60'000);
  EXPECT_EQ(g.journal.group_commit_window_ms, gd.journal.group_commit_window_ms);
  EXPECT_EQ(g.journal.segment_bytes_max, gd.journal.segment_bytes_max);
  EXPECT_EQ(g.proposal_expiry_ms, 7 * 24 * 3'600'000LL);
  EXPECT_EQ(g.proposal_expiry_ms, gd.proposal_expiry_ms);
}

TEST(GateConfig, MinimalFilesGetDefaultsAndResolvePaths) {
  const auto path = write_config("minimal", kMinimalGate, kMinimalSafety);
  const auto load = load_config(path);
  ASSERT_TRUE(load.problems.empty()) << proto::join_problems(load.problems);
  const auto dir = std::filesystem::absolute(path).parent_path();
  EXPECT_EQ(load.config.gate.safety_file, dir / "safety.yaml");
  EXPECT_EQ(load.config.gate.gate_socket.path, (dir / "../run/gate.sock").lexically_normal());
  EXPECT_EQ(load.config.gate.admin_socket.connections_max, 8u);
  EXPECT_EQ(load.config.safety.open_orders_max, SafetyLimits{}.open_orders_max);
  EXPECT_TRUE(check_config(path).empty());
}

TEST(GateConfig, ReportsEveryProblemInBothFilesWithPositions) {
  const auto path = write_config("bad",
                                 "mode: sim\n"
                                 "heartbeat:\n"
                                 "  period: 2s\n"
                                 "  timeout: 3s\n"
                                 "bogus: 1\n" +
                                     kMinimalGate.substr(kMinimalGate.find("products")),
                                 kMinimalSafety +
                                     "open_orders_max: abc\n"
                                     "position_fraction_max: \"1.5\"\n"
                                     "price_band_bps: 1e3\n");
  const auto lines = check_config(path);
  const std::string all = joined(lines);
  ASSERT_EQ(lines.size(), 6u) << all;
  EXPECT_NE(all.find("gate.yaml:1:7: key 'mode': expected one of SIM, PAPER, LIVE, got \"sim\""), std::string::npos)
      << all;
  EXPECT_NE(all.find("gate.yaml:4:12: key 'heartbeat.timeout': must be at least twice heartbeat.period (2s)"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("gate.yaml:5:1: key 'bogus': unknown key; allowed keys here: mode, safety_file"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("safety.yaml:3:18: key 'open_orders_max': expected integer in [1, 1000], got \"abc\""),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("safety.yaml:4:24: key 'position_fraction_max': expected decimal in [0.0001, 1], got \"1.5\""),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("key 'price_band_bps': expected decimal in [1, 5000], got \"1e3\""), std::string::npos) << all;
}

TEST(GateConfig, CrossChecksBetweenFiles) {
  const auto path = write_config(
      "cross",
      "mode: PAPER\n"
      "venue:\n  sim:\n    fee_taker_bps: \"150\"\n"
      "products:\n  BTC-USD: {base_increment: \"0.0001\", quote_increment: \"0.05\"}\n",
      "products:\n"
      "  BTC-USD: {size_min: \"0.0002\", size_max: \"0.0001\", size_increment: \"0.00001\", price_increment: \"0.01\"}\n"
      "  DOGE-USD: {size_min: \"1\", size_max: \"2\", size_increment: \"1\", price_increment: \"0.01\"}\n");
  const std::string all = joined(check_config(path));
  EXPECT_NE(all.find("key 'products.BTC-USD.size_min': must not exceed size_max (0.0001)"), std::string::npos) << all;
  EXPECT_NE(all.find("key 'products.BTC-USD.size_increment': must be a multiple of the venue's base_increment (0.0001)"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("key 'products.BTC-USD.price_increment': must be a multiple of the venue's quote_increment (0.05)"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("key 'products.DOGE-USD': product is not listed under products in gate.yaml"), std::string::npos)
      << all;
  EXPECT_NE(all.find("key 'fee_reserve_bps': must be at least venue.sim.fee_taker_bps (150)"), std::string::npos) << all;
}

TEST(GateConfig, MissingSafetyFileAndMissingProducts) {
  const auto path = write_config("missing", "mode: LIVE\nsafety_file: nowhere.yaml\n", "");
  const std::string all = joined(check_config(path));
  EXPECT_NE(all.find("gate.yaml:1:1: key 'products': missing required key"), std::string::npos) << all;
  EXPECT_NE(all.find("nowhere.yaml: cannot read"), std::string::npos) << all;
}

// Each safety limit at the edges of its valid range, one step inside and
// one step outside.
TEST(GateConfig, SafetyValueRanges) {
  struct Case {
    const char* key;
    const char* at_min;
    const char* below_min;
    const char* at_max;
    const char* above_max;
  } cases[] = {
      {"order_notional_max", "1", "0.99999999", "1000000000", "1000000000.00000001"},
      {"position_fraction_max", "0.0001", "0.00009999", "1", "1.00000001"},
      {"gross_exposure_fraction_max", "0.0001", "0.00009999", "1", "1.00000001"},
      {"risk_per_trade_fraction_max", "0.0001", "0.00009999", "0.1", "0.10000001"},
      {"open_orders_max", "1", "0", "1000", "1001"},
      {"order_rate_per_minute_max", "1", "0", "600", "601"},
      {"price_band_bps", "1", "0.99999999", "5000", "5000.00000001"},
      {"reference_price_age_max", "1s", "999ms", "1h", "3600001ms"},
      {"daily_loss_fraction_max", "0.001", "0.00099999", "0.5", "0.50000001"},
      {"loss_cooldown", "1m", "59999ms", "24h", "86400001ms"},
      {"fee_reserve_bps", "120", "119.99999999", "1000", "1000.00000001"},
      {"starting_cash", "1", "0.99999999", "1000000000", "1000000000.00000001"},
  };
  for (const auto& c : cases) {
    const std::pair<const char*, bool> values[] = {
        {c.at_min, true}, {c.below_min, false}, {c.at_max, true}, {c.above_max, false}};
    for (const auto& [value, ok] : values) {
      // A queue that holds what 1000 open orders can push (see
      // OutboundQueueHoldsWhatOneBarCanPush), so open_orders_max alone decides.
      const auto path = write_config("range", kMinimalGate + "sockets:\n  outbound_queue_max_messages: 4096\n",
                                     kMinimalSafety + c.key + ": \"" + value + "\"\n");
      const auto lines = check_config(path);
      EXPECT_EQ(lines.empty(), ok) << c.key << "=" << value << "\n" << joined(lines);
      if (!ok && !lines.empty()) {
        EXPECT_NE(lines[0].find(std::string("key '") + c.key + "': "), std::string::npos) << lines[0];
      }
    }
  }
}

TEST(GateConfig, OutboundQueueHoldsWhatOneBarCanPush) {
  // open_orders_max 100 needs 3 x 100 + 64 = 364 queued messages.
  const std::pair<int, bool> cases[] = {{364, true}, {363, false}, {365, true}};
  for (const auto& [queue, ok] : cases) {
    const auto path =
        write_config("queue", kMinimalGate + "sockets:\n  outbound_queue_max_messages: " + std::to_string(queue) + "\n",
                     kMinimalSafety + "open_orders_max: 100\n");
    const auto lines = check_config(path);
    EXPECT_EQ(lines.empty(), ok) << queue << "\n" << joined(lines);
    if (!ok && !lines.empty()) {
      EXPECT_NE(lines[0].find("key 'open_orders_max': needs sockets.outbound_queue_max_messages of at least 364"),
                std::string::npos)
          << lines[0];
    }
  }
}

TEST(GateConfig, JournalValueRanges) {
  struct Case {
    const char* key;
    const char* at_min;
    const char* below_min;
    const char* at_max;
    const char* above_max;
  } cases[] = {
      {"group_commit_window", "0ms", "-1ms", "100ms", "101ms"},
      {"segment_bytes_max", "4096", "4095", "1073741824", "1073741825"},
  };
  for (const auto& c : cases) {
    const std::pair<const char*, bool> values[] = {
        {c.at_min, true}, {c.below_min, false}, {c.at_max, true}, {c.above_max, false}};
    for (const auto& [value, ok] : values) {
      const auto path =
          write_config("journal_range", kMinimalGate + "journal:\n  " + c.key + ": " + value + "\n", kMinimalSafety);
      const auto lines = check_config(path);
      EXPECT_EQ(lines.empty(), ok) << c.key << "=" << value << "\n" << joined(lines);
      if (!ok && !lines.empty()) {
        EXPECT_NE(lines[0].find(std::string("key 'journal.") + c.key + "': "), std::string::npos) << lines[0];
      }
    }
  }
  const auto path = write_config("journal_values", kMinimalGate + "journal:\n  group_commit_window: 5ms\n"
                                                                  "  segment_bytes_max: 65536\n",
                                 kMinimalSafety);
  const auto load = load_config(path);
  ASSERT_TRUE(load.problems.empty()) << proto::join_problems(load.problems);
  EXPECT_EQ(load.config.gate.journal.group_commit_window_ms, 5);
  EXPECT_EQ(load.config.gate.journal.segment_bytes_max, 65536u);
}

TEST(GateConfig, ProposalExpiryRange) {
  // One hour to 90 days (2160h); the unit tests the edges one millisecond out.
  const std::pair<const char*, bool> values[] = {{"1h", true},       {"3599999ms", false}, {"2160h", true},
                                                 {"7776000001ms", false}, {"junk", false}};
  for (const auto& [value, ok] : values) {
    const auto path = write_config("proposal_expiry", kMinimalGate + "proposals:\n  expiry: " + value + "\n",
                                   kMinimalSafety);
    const auto lines = check_config(path);
    EXPECT_EQ(lines.empty(), ok) << value << "\n" << joined(lines);
    if (!ok && !lines.empty()) {
      EXPECT_NE(lines[0].find("key 'proposals.expiry': "), std::string::npos) << lines[0];
    }
  }
  const auto path = write_config("proposal_expiry_value", kMinimalGate + "proposals:\n  expiry: 36h\n", kMinimalSafety);
  const auto load = load_config(path);
  ASSERT_TRUE(load.problems.empty()) << proto::join_problems(load.problems);
  EXPECT_EQ(load.config.gate.proposal_expiry_ms, 36 * 3'600'000LL);
}

}  // namespace
}  // namespace ta::gate
