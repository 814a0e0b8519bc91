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

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "agentd_test_support.h"

namespace ta::agentd_test {
namespace {

// agent.yaml for these tests: the shared set-up with a status socket;
// bars_in_flight_max < 0: the default.
ta::agent::AgentConfig sim_config(const fs::path& dir, int bars_max, int bars_in_flight_max = -1) {
  AgentSetup s;
  s.bars_max = bars_max;
  s.status_socket = true;
  if (bars_in_flight_max >= 0) s.gate_extra = "  bars_in_flight_max: " + std::to_string(bars_in_flight_max) + "\n";
  return agent_config(dir, s);
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
  std::vector<std::string> fill_ids;
  for (const auto& f : j.fills) fill_ids.push_back(f.fill_id());
  std::vector<std::string> gate_fills;
  for (const auto& f : gate.fills) gate_fills.push_back(f.fill_id());
  EXPECT_EQ(fill_ids, gate_fills);
}

TEST(AgentdSim, LockstepRunCompletesAndJournalsAgreeWithTheGate) {
  TempDir d;
  const auto gcfg = gate_config(d.root);
  boost::asio::io_context io;
  ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
  ASSERT_TRUE(gate.start().ok());
  const auto r = run_agent(io, sim_config(d.root, 600));
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

// The pipeline (bars sent ahead on predicted snapshots, in batches) and
// strict lockstep give the same trading: the same decisions, fills (ids,
// prices, fees) and final equity at the gate.
TEST(AgentdSim, PipelineAndLockstepTradeTheSame) {
  struct Outcome {
    std::vector<std::string> fills;
    std::map<std::string, int> decided;
    std::string equity;
    ta::agent::AgentCounters counters;
    std::uint64_t batches = 0;
  };
  auto run = [](int in_flight) {
    Outcome o;
    TempDir d;
    const auto gcfg = gate_config(d.root);
    boost::asio::io_context io;
    ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
    EXPECT_TRUE(gate.start().ok());
    const auto r = run_agent(io, sim_config(d.root, 2000, in_flight));
    EXPECT_EQ(r.exit_code, 0) << r.reason;
    for (const auto& f : gate.fills) o.fills.push_back(f.SerializeAsString());
    o.decided = gate.decisions_fresh;
    o.equity = gate.snapshot().account().equity();
    o.counters = r.counters;
    o.batches = gate.batches;
    EXPECT_EQ(gate.bars_processed, 2000u);
    EXPECT_EQ(gate.protocol_errors, 0u);
    EXPECT_NE(r.summary.find("final_equity=" + o.equity), std::string::npos) << r.summary;
    const JournalView j = read_journal(d.root / "agent-journal");
    EXPECT_EQ(j.steps, 2000u);
    expect_agreement(j, gate);
    gate.shutdown();
    io.run_for(std::chrono::milliseconds(50));
    return o;
  };
  const Outcome lockstep = run(0);
  const Outcome pipelined = run(4096);
  const Outcome narrow = run(1);  // at most one bar ahead
  EXPECT_EQ(lockstep.counters.bars_predicted, 0u);
  EXPECT_EQ(lockstep.batches, 2000u) << "lockstep: one bar per batch";
  EXPECT_GT(pipelined.counters.bars_predicted, 1000u);
  EXPECT_LT(pipelined.batches, 1000u);
  EXPECT_EQ(pipelined.counters.predictions_missed, 0u);
  EXPECT_GT(narrow.counters.bars_predicted, 1000u);
  EXPECT_GT(lockstep.fills.size(), 10u);
  for (const Outcome* o : {&pipelined, &narrow}) {
    EXPECT_EQ(o->fills, lockstep.fills);
    EXPECT_EQ(o->decided, lockstep.decided);
    EXPECT_EQ(o->equity, lockstep.equity);
    EXPECT_EQ(o->counters.intents_sent, lockstep.counters.intents_sent);
    EXPECT_EQ(o->counters.accepted, lockstep.counters.accepted);
  }
}

// The gate's account moves in a way the agent cannot predict (here a mark
// the agent never sent, while it holds a position): the answer differs from
// the prediction, the agent steps in lockstep until it has taken the gate's
// snapshot, journals it, and finishes with the gate's equity. A second agent
// on the same journal replays it (including the late snapshot) and resumes.
TEST(AgentdSim, MissedPredictionFallsBackToLockstepAndReplays) {
  TempDir d;
  const auto gcfg = gate_config(d.root);
  boost::asio::io_context io;
  ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
  ASSERT_TRUE(gate.start().ok());
  int remarks = 0;
  gate.before_reply = [&] {
    // Now and then, while a position is held, just before an answer.
    if (gate.bars_processed < 100 + 200u * static_cast<unsigned>(remarks) || remarks >= 3) return;
    for (const auto& p : gate.state().ledger().positions()) {
      if (p.quantity.is_zero()) continue;
      gate.remark(p.product, ta::Decimal::from_units(p.mark_price.units() + ta::Decimal::kScale));
      ++remarks;
      return;
    }
  };
  const auto first = run_agent(io, sim_config(d.root, 1500), 1000);
  ASSERT_EQ(first.exit_code, 137) << first.reason;
  ASSERT_GT(remarks, 0) << "the strategies should hold a position after bar 100";
  EXPECT_GT(first.counters.predictions_missed, 0u);
  const auto second = run_agent(io, sim_config(d.root, 1500));
  ASSERT_EQ(second.exit_code, 0) << second.reason;
  EXPECT_LE(second.counters.bars_replayed, 1000u);
  EXPECT_GE(second.counters.bars_replayed + 512, 1000u);
  EXPECT_NE(second.summary.find("final_equity=" + gate.snapshot().account().equity()), std::string::npos)
      << second.summary;
  const JournalView j = read_journal(d.root / "agent-journal");
  EXPECT_EQ(j.steps, 1500u);
  expect_agreement(j, gate);
  EXPECT_EQ(gate.protocol_errors, 0u);
  gate.shutdown();
  io.run_for(std::chrono::milliseconds(50));
}

TEST(AgentdSim, TwoRunsWriteTheSameJournal) {
  std::vector<std::string> first;
  for (int run = 0; run < 2; ++run) {
    TempDir d;
    const auto gcfg = gate_config(d.root);
    boost::asio::io_context io;
    ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
    ASSERT_TRUE(gate.start().ok());
    const auto r = run_agent(io, sim_config(d.root, 400));
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
    TempDir d;
    const auto gcfg = gate_config(d.root);
    boost::asio::io_context io;
    ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
    ASSERT_TRUE(gate.start().ok());
    const auto r = run_agent(io, sim_config(d.root, 600));
    ASSERT_EQ(r.exit_code, 0) << r.reason;
    reference_equity = gate.snapshot().account().equity();
    reference_fills = gate.fills.size();
    gate.shutdown();
    io.run_for(std::chrono::milliseconds(50));
  }
  // The same run, stopped without a goodbye at several points, then resumed
  // by a new AgentApp on the same journal against the same gate.
  for (const std::uint64_t freeze_at : {1u, 137u, 301u}) {
    TempDir d;
    const auto gcfg = gate_config(d.root);
    boost::asio::io_context io;
    ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
    ASSERT_TRUE(gate.start().ok());
    const auto first = run_agent(io, sim_config(d.root, 600), freeze_at);
    ASSERT_EQ(first.exit_code, 137) << first.reason;
    const auto second = run_agent(io, sim_config(d.root, 600));
    ASSERT_EQ(second.exit_code, 0) << second.reason;
    // The first agent stopped as if killed: the predicted steps it had not
    // journaled yet (at most one bar_steps record's worth, 512) are lost
    // and recomputed by the second.
    EXPECT_LE(second.counters.bars_replayed, freeze_at);
    EXPECT_GE(second.counters.bars_replayed + 512, freeze_at);
    // Steps the first agent journaled but never sent (its batch was still
    // filling) are sent by the second; the gate processes each bar once.
    EXPECT_EQ(gate.bars_processed, 600u) << "freeze_at=" << freeze_at;
    EXPECT_EQ(gate.protocol_errors, 0u);
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
  TempDir d;
  const auto gcfg = gate_config(d.root);
  boost::asio::io_context io;
  ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
  ASSERT_TRUE(gate.start().ok());
  gate.halt_event(ta::gate::HaltEvent::kOperatorHalt);
  // Resume after 300 bars: intents before that are held, after it sent.
  gate.after_bar = [&gate](std::uint64_t n) {
    if (n == 300) gate.halt_event(ta::gate::HaltEvent::kOperatorResume);
  };
  const auto r = run_agent(io, sim_config(d.root, 600));
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
  TempDir d;
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
  const auto r = run_agent(io, sim_config(d.root, 200));
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
  TempDir d;
  const auto gcfg = gate_config(d.root);
  boost::asio::io_context io;
  ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
  ASSERT_TRUE(gate.start().ok());
  std::string doc_text;
  const auto r = run_agent(io, sim_config(d.root, 600), 250, [&](ta::agent::AgentApp* app) {
    if (app != nullptr) return;  // started; the document is read once the run froze
    // The status server runs on the io_context: read from a helper thread
    // while this one serves.
    std::string text;  // the reader's until it sets `read`
    std::atomic<bool> read{false};
    std::thread reader([&] {
      text = read_status(d.root / "agent-status.sock");
      read.store(true);
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!read.load() && std::chrono::steady_clock::now() < deadline) io.run_for(std::chrono::milliseconds(5));
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
}  // namespace ta::agentd_test
