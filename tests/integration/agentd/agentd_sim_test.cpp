// The agent daemon (AgentApp) in SIM mode against MiniGate (the real gate
// core behind the real IPC server), both on one io_context in this process:
// lockstep, journal contents, determinism, restart without duplicate
// intents, halt handling, parameter changes and the status socket.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "agentd/daemon.h"
#include "journal/journal.h"
#include "journal_records.pb.h"
#include "mini_gate.h"

namespace fs = std::filesystem;

namespace {

fs::path source_dir() {
  const char* d = std::getenv("TA_SOURCE_DIR");
  return d != nullptr ? fs::path(d) : fs::path(".");
}

struct Dirs {
  fs::path root;
  Dirs() {
    char tmpl[] = "/tmp/agentd_sim_XXXXXX";
    root = ::mkdtemp(tmpl);
  }
  ~Dirs() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

void write(const fs::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
}

// gate.yaml and safety.yaml from the repository, in `dir`.
ta::gate::Config gate_config(const fs::path& dir) {
  fs::copy_file(source_dir() / "config/safety.yaml", dir / "safety.yaml", fs::copy_options::overwrite_existing);
  fs::copy_file(source_dir() / "config/gate.yaml", dir / "gate.yaml", fs::copy_options::overwrite_existing);
  auto load = ta::gate::load_config(dir / "gate.yaml");
  EXPECT_TRUE(load.problems.empty()) << (load.problems.empty() ? "" : load.problems[0].to_string());
  return load.config;
}

std::string agent_yaml(const fs::path& dir, int bars_max, const std::string& extra_strategy = "") {
  const fs::path demo = source_dir() / "data/demo";
  return "mode: SIM\n"
         "state_dir: " + (dir / "agent-state").string() + "\n"
         "journal_dir: " + (dir / "agent-journal").string() + "\n"
         "gate:\n  socket: " + (dir / "gate.sock").string() + "\n  reply_timeout: 20s\n"
         "status:\n  socket: " + (dir / "agent-status.sock").string() + "\n"
         "feed:\n  source: replay_csv\n  speed: max\n  bars_max: " + std::to_string(bars_max) + "\n"
         "  csv:\n"
         "    BTC-USD: {file: " + (demo / "BTC-USD_1m_demo.csv").string() + "}\n"
         "    ETH-USD: {file: " + (demo / "ETH-USD_1m_demo.csv").string() + "}\n"
         "products:\n"
         "  BTC-USD: {base_increment: \"0.00000001\", quote_increment: \"0.01\", base_min_size: \"0.0001\", base_max_size: \"1\"}\n"
         "  ETH-USD: {base_increment: \"0.00000001\", quote_increment: \"0.01\", base_min_size: \"0.001\", base_max_size: \"20\"}\n"
         "sizing: {order_notional_max_usd: \"900\"}\n"
         "strategies:\n"
         "  mr:\n    builtin: mean_reversion\n    params: {period: 20, entry_z: 1.5, max_holding_bars: 30}\n"
         "  mo:\n    builtin: momentum\n    params: {fast_period: 5, slow_period: 20}\n" +
         extra_strategy;
}

ta::agent::AgentConfig agent_config(const fs::path& dir, int bars_max) {
  write(dir / "agent.yaml", agent_yaml(dir, bars_max));
  auto load = ta::agent::load_agent_config(dir / "agent.yaml");
  EXPECT_TRUE(load.ok()) << (load.ok() ? "" : load.problems[0].to_string());
  return load.config;
}

struct JournalView {
  std::vector<ta::ipc::AgentRecord> records;
  std::map<std::string, int> sent;       // intent id -> intent_sent records
  std::map<std::string, int> decisions;  // intent id -> decision records
  std::vector<std::string> fill_ids;
  std::uint64_t steps = 0;
  std::vector<std::string> stable;  // records without process-specific fields, serialized
};

JournalView read_journal(const fs::path& dir) {
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
    if (r.has_fill()) v.fill_ids.push_back(r.fill().fill_id());
    if (r.has_bar_step()) ++v.steps;
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
};

// Runs the agent against `gate` until it finishes (or freezes for a test).
RunResult run_agent(boost::asio::io_context& io, ta::agent::AgentConfig config, std::uint64_t freeze_after = 0,
                    std::function<void(ta::agent::AgentApp&)> before_exit = {}) {
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
  if (!st) return result;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!done && std::chrono::steady_clock::now() < deadline) io.run_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(done) << "the agent did not finish";
  if (before_exit) before_exit(app);
  result.summary = app.summary_line();
  result.counters = app.counters();
  // Drain what is queued (closing sockets) without blocking.
  io.run_for(std::chrono::milliseconds(20));
  return result;
}

void expect_agreement(const JournalView& j, const ta::test::MiniGate& gate) {
  // Every intent the agent sent has exactly one decision in its journal and
  // was decided exactly once at the gate (retries only get replays).
  for (const auto& [id, n] : j.sent) {
    EXPECT_EQ(n, 1) << id;
    EXPECT_EQ(j.decisions.count(id), 1u) << id;
    if (j.decisions.count(id)) {
      EXPECT_EQ(j.decisions.at(id), 1) << id;
    }
    EXPECT_EQ(gate.decisions_fresh.count(id), 1u) << id;
  }
  for (const auto& [id, n] : gate.decisions_fresh) {
    EXPECT_EQ(n, 1) << id;
    EXPECT_EQ(j.sent.count(id), 1u) << "decided at the gate, never journaled as sent: " << id;
  }
  // Fills: the same ids, in the same order.
  std::vector<std::string> gate_fills;
  for (const auto& f : gate.fills) gate_fills.push_back(f.fill_id());
  EXPECT_EQ(j.fill_ids, gate_fills);
}

TEST(AgentdSim, LockstepRunCompletesAndJournalsAgreeWithTheGate) {
  Dirs d;
  const auto gcfg = gate_config(d.root);
  boost::asio::io_context io;
  ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
  ASSERT_TRUE(gate.start().ok());
  const auto r = run_agent(io, agent_config(d.root, 600));
  EXPECT_EQ(r.exit_code, 0) << r.reason;
  std::printf("%s\n", r.summary.c_str());
  EXPECT_EQ(gate.bars_processed, 600u);
  EXPECT_EQ(r.counters.bars, 600u);
  EXPECT_GT(r.counters.intents_sent, 0u) << "the strategies should trade on 600 bars";
  EXPECT_GT(gate.fills.size(), 0u);
  EXPECT_EQ(r.counters.accepted + r.counters.denied, r.counters.intents_sent);
  EXPECT_EQ(r.counters.fills, gate.fills.size());
  EXPECT_EQ(r.counters.reconciled_fills, 0u);
  EXPECT_EQ(r.counters.reconciled_orders, 0u) << "the gate's own order updates settle every order";
  const JournalView j = read_journal(d.root / "agent-journal");
  EXPECT_EQ(j.steps, 600u);
  expect_agreement(j, gate);
  // The summary's final equity is the gate's.
  EXPECT_NE(r.summary.find("final_equity=" + gate.snapshot().account().equity()), std::string::npos) << r.summary;
  gate.shutdown();
  io.run_for(std::chrono::milliseconds(50));
}

TEST(AgentdSim, TwoRunsWriteTheSameJournal) {
  std::vector<std::string> first;
  for (int run = 0; run < 2; ++run) {
    Dirs d;
    const auto gcfg = gate_config(d.root);
    boost::asio::io_context io;
    ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
    ASSERT_TRUE(gate.start().ok());
    const auto r = run_agent(io, agent_config(d.root, 400));
    EXPECT_EQ(r.exit_code, 0) << r.reason;
    const JournalView j = read_journal(d.root / "agent-journal");
    if (run == 0) {
      first = j.stable;
    } else {
      EXPECT_EQ(j.stable, first) << "SIM runs must be deterministic";
    }
    gate.shutdown();
    io.run_for(std::chrono::milliseconds(50));
  }
}

TEST(AgentdSim, RestartResumesWithoutDuplicateIntents) {
  // Reference: an uninterrupted run.
  std::string reference_equity;
  std::size_t reference_fills = 0;
  {
    Dirs d;
    const auto gcfg = gate_config(d.root);
    boost::asio::io_context io;
    ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
    ASSERT_TRUE(gate.start().ok());
    const auto r = run_agent(io, agent_config(d.root, 600));
    ASSERT_EQ(r.exit_code, 0) << r.reason;
    reference_equity = gate.snapshot().account().equity();
    reference_fills = gate.fills.size();
    gate.shutdown();
    io.run_for(std::chrono::milliseconds(50));
  }
  // The same run, stopped without a goodbye at several points, then resumed
  // by a new AgentApp on the same journal against the same gate.
  for (const std::uint64_t freeze_at : {1u, 137u, 301u}) {
    Dirs d;
    const auto gcfg = gate_config(d.root);
    boost::asio::io_context io;
    ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
    ASSERT_TRUE(gate.start().ok());
    const auto first = run_agent(io, agent_config(d.root, 600), freeze_at);
    ASSERT_EQ(first.exit_code, 137) << first.reason;
    const auto second = run_agent(io, agent_config(d.root, 600));
    ASSERT_EQ(second.exit_code, 0) << second.reason;
    EXPECT_EQ(second.counters.bars_replayed, freeze_at);
    const JournalView j = read_journal(d.root / "agent-journal");
    EXPECT_EQ(j.steps, 600u);
    expect_agreement(j, gate);
    EXPECT_EQ(gate.fills.size(), reference_fills) << "freeze_at=" << freeze_at;
    EXPECT_EQ(gate.snapshot().account().equity(), reference_equity) << "freeze_at=" << freeze_at;
    gate.shutdown();
    io.run_for(std::chrono::milliseconds(50));
  }
}

TEST(AgentdSim, HaltedGateGetsNoEntriesUntilActive) {
  Dirs d;
  const auto gcfg = gate_config(d.root);
  boost::asio::io_context io;
  ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
  ASSERT_TRUE(gate.start().ok());
  gate.halt_event(ta::gate::HaltEvent::kOperatorHalt);
  // Resume after 300 bars: intents before that are held, after it sent.
  gate.after_bar = [&gate](std::uint64_t n) {
    if (n == 300) gate.halt_event(ta::gate::HaltEvent::kOperatorResume);
  };
  const auto r = run_agent(io, agent_config(d.root, 600));
  EXPECT_EQ(r.exit_code, 0) << r.reason;
  EXPECT_GT(r.counters.intents_held, 0u);
  EXPECT_GT(r.counters.intents_sent, 0u);
  EXPECT_EQ(r.counters.denied_by_reason[ta::ipc::DENY_REASON_HALTED], 0u) << "held, not sent to be denied";
  const JournalView j = read_journal(d.root / "agent-journal");
  for (const auto& rec : j.records) {
    if (rec.has_intent_sent()) {
      EXPECT_GE(rec.ts_ns(), 0);
    }
  }
  expect_agreement(j, gate);
  gate.shutdown();
  io.run_for(std::chrono::milliseconds(50));
}

TEST(AgentdSim, ParameterChangesAreAppliedOrRefusedAndAcked) {
  Dirs d;
  const auto gcfg = gate_config(d.root);
  boost::asio::io_context io;
  ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
  ASSERT_TRUE(gate.start().ok());
  gate.after_bar = [&gate](std::uint64_t n) {
    if (n != 50) return;
    ta::ipc::ParameterChange good;
    good.set_proposal_id("p-1");
    good.set_strategy("mr");
    good.set_parameter("entry_z");
    good.set_value("2.5");
    gate.send_parameter_change(good);
    ta::ipc::ParameterChange bad = good;
    bad.set_proposal_id("p-2");
    bad.set_value("1000");  // outside the bounds
    gate.send_parameter_change(bad);
    ta::ipc::ParameterChange unknown = good;
    unknown.set_proposal_id("p-3");
    unknown.set_strategy("nope");
    gate.send_parameter_change(unknown);
    // Sent again (a gate that restarted before it recorded the ack): the
    // first answer again, and the change is not applied a second time.
    ta::ipc::ParameterChange resent = good;
    resent.set_value("2.6");
    gate.send_parameter_change(resent);
  };
  const auto r = run_agent(io, agent_config(d.root, 200));
  EXPECT_EQ(r.exit_code, 0) << r.reason;
  ASSERT_EQ(gate.acks.size(), 4u);
  EXPECT_EQ(gate.acks[3].SerializeAsString(), gate.acks[0].SerializeAsString());
  EXPECT_EQ(gate.acks[0].proposal_id(), "p-1");
  EXPECT_TRUE(gate.acks[0].applied()) << gate.acks[0].detail();
  EXPECT_FALSE(gate.acks[1].applied());
  EXPECT_NE(gate.acks[1].detail().find("entry_z"), std::string::npos) << gate.acks[1].detail();
  EXPECT_FALSE(gate.acks[2].applied());
  EXPECT_NE(gate.acks[2].detail().find("not configured"), std::string::npos) << gate.acks[2].detail();
  EXPECT_EQ(r.counters.parameter_changes, 1u);
  EXPECT_EQ(r.counters.parameter_changes_refused, 2u);
  gate.shutdown();
  io.run_for(std::chrono::milliseconds(50));
}

std::string read_status(const fs::path& socket_path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "";
  }
  std::string out;
  char buf[4096];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

TEST(AgentdSim, StatusSocketServesOneDocument) {
  Dirs d;
  const auto gcfg = gate_config(d.root);
  boost::asio::io_context io;
  ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
  ASSERT_TRUE(gate.start().ok());
  std::string doc_text;
  const auto r = run_agent(io, agent_config(d.root, 600), 250, [&](ta::agent::AgentApp&) {
    // The status server runs on the io_context: read from a helper thread
    // while this one serves.
    std::string text;
    std::thread reader([&] { text = read_status(d.root / "agent-status.sock"); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (text.empty() && std::chrono::steady_clock::now() < deadline) io.run_for(std::chrono::milliseconds(5));
    reader.join();
    doc_text = text;
  });
  EXPECT_EQ(r.exit_code, 137);
  ASSERT_FALSE(doc_text.empty());
  const auto doc = boost::json::parse(doc_text).as_object();
  EXPECT_EQ(doc.at("mode").as_string(), "SIM");
  EXPECT_EQ(doc.at("connection").as_string(), "ready");
  EXPECT_EQ(doc.at("counters").as_object().at("bars").to_number<std::uint64_t>(), 250u);
  EXPECT_EQ(doc.at("strategies").as_array().size(), 4u);  // 2 strategies x 2 products
  EXPECT_TRUE(doc.at("last_bar_open_ts_s").as_object().contains("BTC-USD"));
  EXPECT_TRUE(doc.at("regime").as_object().contains("ETH-USD"));
  EXPECT_TRUE(doc.contains("intents_in_flight"));
  EXPECT_TRUE(doc.contains("denials"));
  gate.shutdown();
  io.run_for(std::chrono::milliseconds(50));
}

}  // namespace
