// Lost fills (docs/agent.md, "Restart"): the connection to the gate dies
// right after the gate filled an order, so the agent never gets the Fill,
// the order's final update or the bar's reply. On reconnect the gate's
// position snapshot is the truth: the agent attributes the difference to
// the one order in flight that explains it (AgentReconciled), settles that
// order once its bar has passed, resends the bar (the gate answers it
// without processing it again) and carries on exactly as if nothing had
// been lost. MiniGate (the real gate core behind the real IPC server) drops
// the connection at a chosen fill, so every case is deterministic.
#include <set>

#include "agentd_test_support.h"

namespace ta::agentd_test {
namespace {

constexpr int kBars = 600;

struct Reference {
  std::vector<ta::ipc::Fill> fills;
  std::string equity;
  std::map<std::string, std::string> positions;
};

Reference make_reference(const AgentSetup& setup) {
  {
    Reference r;
    TempDir d;
    const auto gcfg = gate_config(d.root);
    boost::asio::io_context io;
    ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
    EXPECT_TRUE(gate.start().ok());
    const auto run = run_agent(io, agent_config(d.root, setup));
    EXPECT_EQ(run.exit_code, 0) << run.reason;
    EXPECT_EQ(run.counters.reconciled_fills, 0u);
    r.fills = gate.fills;
    r.equity = gate.snapshot().account().equity();
    r.positions = gate_positions(gate.snapshot());
    gate.shutdown();
    io.run_for(std::chrono::milliseconds(50));
    return r;
  }
}

// Two strategies per product: the demo set-up.
const Reference& reference() {
  static const Reference ref = make_reference(AgentSetup{});
  return ref;
}

// Fill numbers (1-based) that are the only fill of their bar: dropping the
// connection there loses exactly one fill, which one order explains.
std::vector<std::uint64_t> lone_fills(const std::vector<ta::ipc::Fill>& fills) {
  std::map<std::int64_t, int> per_time;
  for (const auto& f : fills) ++per_time[f.ts_ns()];
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i < fills.size(); ++i) {
    if (per_time[fills[i].ts_ns()] == 1) out.push_back(i + 1);
  }
  return out;
}

struct Dropped {
  RunResult run;
  JournalView journal;
  std::vector<ta::ipc::Fill> gate_fills;
  std::vector<ta::ipc::Fill> dropped;
  std::map<std::string, int> decisions_fresh;
  std::string equity;
  std::map<std::string, std::string> positions;
  std::uint64_t connects = 0;
  std::uint64_t bars_repeated = 0;
  RunResult again;  // a second AgentApp started on the finished run's journal
};

Dropped run_dropping_at(std::uint64_t fill_number, const AgentSetup& setup = {}) {
  Dropped out;
  TempDir d;
  const auto gcfg = gate_config(d.root);
  boost::asio::io_context io;
  ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
  gate.drop_connection_at_fill = fill_number;
  EXPECT_TRUE(gate.start().ok());
  out.run = run_agent(io, agent_config(d.root, setup));
  out.journal = read_journal(d.root / "agent-journal");
  out.gate_fills = gate.fills;
  out.dropped = gate.dropped_fills;
  out.decisions_fresh = gate.decisions_fresh;
  out.equity = gate.snapshot().account().equity();
  out.positions = gate_positions(gate.snapshot());
  out.connects = gate.connects;
  out.bars_repeated = gate.bars_repeated;
  // Started again, the agent rebuilds the same engine from its journal
  // (reconciled records included) and finds nothing left to do.
  out.again = run_agent(io, agent_config(d.root, setup));
  gate.shutdown();
  io.run_for(std::chrono::milliseconds(50));
  return out;
}

TEST(AgentdReconcile, LostFillIsAttributedFromTheGatesSnapshot) {
  const Reference& ref = reference();
  const auto lone = lone_fills(ref.fills);
  ASSERT_GE(lone.size(), 3u) << "the demo run should have fills on bars of their own";
  // The first, one in the middle and the last such fill.
  for (const std::uint64_t k : {lone.front(), lone[lone.size() / 2], lone.back()}) {
    SCOPED_TRACE("connection dropped at fill " + std::to_string(k));
    const Dropped r = run_dropping_at(k);
    ASSERT_EQ(r.run.exit_code, 0) << r.run.reason;
    ASSERT_EQ(r.dropped.size(), 1u);
    const ta::ipc::Fill& lost = r.dropped[0];
    EXPECT_EQ(lost.fill_id(), ref.fills[k - 1].fill_id());
    EXPECT_EQ(r.connects, 2u);
    EXPECT_EQ(r.bars_repeated, 1u) << "the bar whose reply was lost is sent again and answered, not processed again";
    EXPECT_EQ(r.run.counters.reconnects, 1u);

    // The agent attributed the lost fill to its order, and settled the
    // order whose final state was lost too.
    EXPECT_EQ(r.run.counters.reconciled_fills, 1u);
    EXPECT_EQ(r.run.counters.unattributed, 0u);
    EXPECT_EQ(r.run.counters.reconciled_orders, 1u);
    std::vector<ta::ipc::AgentReconciled> fills_attributed;
    std::vector<ta::ipc::AgentReconciled> orders_settled;
    for (const auto& rec : r.journal.reconciled) {
      (rec.order_done() ? orders_settled : fills_attributed).push_back(rec);
    }
    ASSERT_EQ(fills_attributed.size(), 1u);
    const auto& a = fills_attributed[0];
    EXPECT_EQ(a.intent_id(), lost.intent_id());
    EXPECT_EQ(a.strategy(), lost.strategy());
    EXPECT_EQ(a.product(), lost.product());
    EXPECT_EQ(a.side(), lost.side());
    EXPECT_EQ(a.quantity(), lost.quantity());
    ASSERT_EQ(orders_settled.size(), 1u);
    EXPECT_EQ(orders_settled[0].intent_id(), lost.intent_id());

    // The journal has every fill but the lost one, in the gate's order.
    std::vector<std::string> expected;
    for (const auto& f : r.gate_fills) {
      if (f.fill_id() != lost.fill_id()) expected.push_back(f.fill_id());
    }
    std::vector<std::string> journaled;
    for (const auto& f : r.journal.fills) journaled.push_back(f.fill_id());
    EXPECT_EQ(journaled, expected);

    // Every intent decided once, one decision journaled per intent.
    for (const auto& [id, n] : r.journal.sent) {
      EXPECT_EQ(n, 1) << id;
      EXPECT_EQ(r.journal.decisions.count(id), 1u) << id;
      EXPECT_EQ(r.decisions_fresh.count(id), 1u) << id;
    }
    for (const auto& [id, n] : r.decisions_fresh) EXPECT_EQ(n, 1) << id;

    // The engine's positions are the gate's, and the run ends exactly where
    // the uninterrupted one did.
    EXPECT_EQ(engine_positions(r.run.status), r.positions);
    ASSERT_EQ(r.gate_fills.size(), ref.fills.size());
    for (std::size_t i = 0; i < ref.fills.size(); ++i) {
      EXPECT_EQ(r.gate_fills[i].SerializeAsString(), ref.fills[i].SerializeAsString()) << i;
    }
    EXPECT_EQ(r.equity, ref.equity);
    EXPECT_EQ(r.positions, ref.positions);

    // A restart on that journal replays the attribution: same engine, same
    // counters, nothing sent.
    EXPECT_EQ(r.again.exit_code, 0) << r.again.reason;
    EXPECT_EQ(r.again.summary, r.run.summary);
    EXPECT_EQ(engine_positions(r.again.status), r.positions);
    EXPECT_EQ(r.again.status.at("strategies"), r.run.status.at("strategies"));
  }
}

// Two copies of one momentum strategy enter and exit on the same bars, so a
// lost bar loses two fills of one product and side. Neither order alone
// explains the difference; both filled in full do, and each gets its own
// attribution.
TEST(AgentdReconcile, TwoLostFillsOfOneBarAreAttributedToTheirOrders) {
  AgentSetup setup;
  setup.sizing = "{order_notional_max_usd: \"400\"}";  // two entries fit under the position cap
  setup.strategies =
      "  mo1:\n    builtin: momentum\n    params: {fast_period: 5, slow_period: 20}\n    risk_weight: \"0.5\"\n"
      "  mo2:\n    builtin: momentum\n    params: {fast_period: 5, slow_period: 20}\n    risk_weight: \"0.5\"\n";
  const Reference ref = make_reference(setup);
  // The first bar with two fills of the same product and side.
  std::uint64_t k = 0;
  for (std::size_t i = 0; i + 1 < ref.fills.size() && k == 0; ++i) {
    const auto& a = ref.fills[i];
    const auto& b = ref.fills[i + 1];
    if (a.ts_ns() == b.ts_ns() && a.product() == b.product() && a.side() == b.side()) k = i + 1;
  }
  ASSERT_NE(k, 0u) << "the twin strategies should fill together";
  const Dropped r = run_dropping_at(k, setup);
  ASSERT_EQ(r.run.exit_code, 0) << r.run.reason;
  ASSERT_EQ(r.dropped.size(), 2u);
  EXPECT_EQ(r.run.counters.reconciled_fills, 2u);
  EXPECT_EQ(r.run.counters.unattributed, 0u);
  std::map<std::string, std::string> attributed;
  for (const auto& rec : r.journal.reconciled) {
    if (!rec.order_done()) attributed[rec.intent_id()] = rec.quantity();
  }
  std::map<std::string, std::string> lost;
  for (const auto& f : r.dropped) lost[f.intent_id()] = f.quantity();
  EXPECT_EQ(attributed, lost);
  EXPECT_EQ(engine_positions(r.run.status), r.positions);
  ASSERT_EQ(r.gate_fills.size(), ref.fills.size());
  for (std::size_t i = 0; i < ref.fills.size(); ++i) {
    EXPECT_EQ(r.gate_fills[i].SerializeAsString(), ref.fills[i].SerializeAsString()) << i;
  }
  EXPECT_EQ(r.equity, ref.equity);
}

}  // namespace
}  // namespace ta::agentd_test
