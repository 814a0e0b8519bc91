// Helpers for the agent daemon tests that run AgentApp against MiniGate in
// this process: configuration in a temporary directory, running the app to
// its end, and the agent's journal read back.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "agentd/daemon.h"
#include "journal/journal.h"
#include "journal_records.pb.h"
#include "mini_gate.h"

namespace ta::agentd_test {

namespace fs = std::filesystem;

inline fs::path source_dir() {
  const char* d = std::getenv("TA_SOURCE_DIR");
  return d != nullptr ? fs::path(d) : fs::path(".");
}

struct TempDir {
  fs::path root;
  // Under /dev/shm when there is one: the agent's journal syncs on every
  // bar with a position, which on a disk costs milliseconds per bar.
  TempDir() {
    char tmpl[] = "/dev/shm/agentd_test_XXXXXX";
    if (!fs::is_directory("/dev/shm")) std::snprintf(tmpl, sizeof tmpl, "/tmp/agentd_test_XXXXXX");
    const char* made = ::mkdtemp(tmpl);
    root = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// The repository's gate.yaml and safety.yaml, loaded from `dir`.
inline ta::gate::Config gate_config(const fs::path& dir) {
  fs::copy_file(source_dir() / "config/safety.yaml", dir / "safety.yaml", fs::copy_options::overwrite_existing);
  fs::copy_file(source_dir() / "config/gate.yaml", dir / "gate.yaml", fs::copy_options::overwrite_existing);
  auto load = ta::gate::load_config(dir / "gate.yaml");
  EXPECT_TRUE(load.problems.empty()) << (load.problems.empty() ? "" : load.problems[0].to_string());
  return load.config;
}

struct AgentSetup {
  int bars_max = 600;
  fs::path btc_csv;  // default: the demo data
  fs::path eth_csv;
  std::string feed_extra;  // more keys under feed: (2-space indent)
  std::string gate_extra;  // more keys under gate: (2-space indent)
  std::string sizing = "{order_notional_max_usd: \"900\"}";
  bool status_socket = false;  // status.socket at dir/agent-status.sock
  std::string strategies =
      "  mr:\n    builtin: mean_reversion\n    params: {period: 20, entry_z: 1.5, max_holding_bars: 30}\n"
      "  mo:\n    builtin: momentum\n    params: {fast_period: 5, slow_period: 20}\n";
};

// agent.yaml in `dir` for a SIM run against dir/gate.sock; loaded.
inline ta::agent::AgentConfig agent_config(const fs::path& dir, const AgentSetup& s = {}) {
  const fs::path demo = source_dir() / "data/demo";
  const fs::path btc = s.btc_csv.empty() ? demo / "BTC-USD_1m_demo.csv" : s.btc_csv;
  const fs::path eth = s.eth_csv.empty() ? demo / "ETH-USD_1m_demo.csv" : s.eth_csv;
  std::ofstream(dir / "agent.yaml")
      << "mode: SIM\n"
         "state_dir: " << (dir / "agent-state").string() << "\n"
         "journal_dir: " << (dir / "agent-journal").string() << "\n"
         "gate:\n  socket: " << (dir / "gate.sock").string()
      << "\n  reply_timeout: 20s\n  reconnect_delay_initial: 5ms\n  reconnect_delay_max: 50ms\n"
      << s.gate_extra
      << (s.status_socket ? "status:\n  socket: " + (dir / "agent-status.sock").string() + "\n" : std::string())
      << "feed:\n  source: replay_csv\n  speed: max\n  bars_max: " << s.bars_max << "\n"
      << s.feed_extra
      << "  csv:\n"
         "    BTC-USD: {file: " << btc.string() << "}\n"
         "    ETH-USD: {file: " << eth.string() << "}\n"
         "products:\n"
         "  BTC-USD: {base_increment: \"0.00000001\", quote_increment: \"0.01\", base_min_size: \"0.0001\", "
         "base_max_size: \"1\"}\n"
         "  ETH-USD: {base_increment: \"0.00000001\", quote_increment: \"0.01\", base_min_size: \"0.001\", "
         "base_max_size: \"20\"}\n"
         "sizing: " << s.sizing << "\n"
         "strategies:\n"
      << s.strategies;
  auto load = ta::agent::load_agent_config(dir / "agent.yaml");
  EXPECT_TRUE(load.ok()) << (load.ok() ? "" : load.problems[0].to_string());
  return load.config;
}

struct JournalView {
  std::vector<ta::ipc::AgentRecord> records;
  std::map<std::string, int> sent;       // intent id -> intent_sent records
  std::map<std::string, int> decisions;  // intent id -> decision records
  std::vector<ta::ipc::Fill> fills;
  std::vector<ta::ipc::AgentReconciled> reconciled;
  std::uint64_t steps = 0;
  std::vector<std::string> stable;  // records without process-specific fields (all but started), serialized
};

inline JournalView read_journal(const fs::path& dir) {
  JournalView v;
  auto reader = ta::journal::Reader::open(dir);
  EXPECT_TRUE(reader.ok());
  if (!reader) return v;
  while (true) {
    auto next = (*reader)->next();
    EXPECT_TRUE(next.ok());
    if (!next || !next->has_value()) break;
    ta::ipc::AgentRecord r;
    EXPECT_TRUE(r.ParseFromArray((*next)->payload.data(), static_cast<int>((*next)->payload.size())));
    if (r.has_intent_sent()) ++v.sent[r.intent_sent().intent().intent_id()];
    if (r.has_decision()) ++v.decisions[r.decision().intent_id()];
    if (r.has_fill()) v.fills.push_back(r.fill());
    if (r.has_reconciled()) v.reconciled.push_back(r.reconciled());
    if (r.has_bar_step()) ++v.steps;
    if (r.has_bar_steps()) v.steps += r.bar_steps().count();
    if (!r.has_started()) v.stable.push_back(r.SerializeAsString());
    v.records.push_back(std::move(r));
  }
  return v;
}

struct RunResult {
  int exit_code = -1;
  std::string reason;
  std::string summary;
  ta::agent::AgentCounters counters;
  boost::json::object status;  // the status document at the end
};

// Runs an AgentApp against the gate on `io` until it finishes (or freezes
// for a test after `freeze_after` steps).
// `on_started` sees the app once it started (tests that look at its status
// while it runs keep the pointer until run_agent returns), and is called
// again with nullptr once the run is over, while the app (and its status
// socket) still exists.
inline RunResult run_agent(boost::asio::io_context& io, ta::agent::AgentConfig config, std::uint64_t freeze_after = 0,
                           const std::function<void(ta::agent::AgentApp*)>& on_started = {}) {
  RunResult result;
  ta::agent::AgentAppOptions o;
  o.config = std::move(config);
  o.halt_after_steps_for_test = freeze_after;
  bool done = false;
  o.on_finished = [&](int code, const std::string& why) {
    result.exit_code = code;
    result.reason = why;
    done = true;
  };
  ta::agent::AgentApp app(io, std::move(o));
  auto st = app.start();
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
  if (!st) {
    result.reason = st.error().message;
    return result;
  }
  if (on_started) on_started(&app);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!done && std::chrono::steady_clock::now() < deadline) io.run_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(done) << "the agent did not finish";
  result.summary = app.summary_line();
  result.counters = app.counters();
  result.status = boost::json::parse(app.status_json()).as_object();
  io.run_for(std::chrono::milliseconds(20));
  if (on_started) on_started(nullptr);
  return result;
}

// Signed positions per product from the status document's engine view
// (zero entries dropped).
inline std::map<std::string, std::string> engine_positions(const boost::json::object& status) {
  std::map<std::string, std::string> out;
  for (const auto& [product, q] : status.at("positions").as_object()) {
    const std::string text(q.as_string());
    if (Decimal::parse(text).value().is_zero()) continue;
    out[std::string(product)] = Decimal::parse(text).value().to_string();
  }
  return out;
}

inline std::map<std::string, std::string> gate_positions(const ta::ipc::PositionSnapshot& s) {
  std::map<std::string, std::string> out;
  for (const auto& p : s.positions()) {
    const Decimal q = Decimal::parse(p.quantity()).value();
    if (!q.is_zero()) out[p.product()] = q.to_string();
  }
  return out;
}

}  // namespace ta::agentd_test
