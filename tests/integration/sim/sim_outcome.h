// What a SIM run of the real binaries leaves behind (the agent's summary,
// tradectl's positions, both journals) and the checks every run must pass,
// interrupted or not: the agent's journal agrees with the gate's, and an
// interrupted run ends exactly where the uninterrupted one does. Shared by
// sim_daemons_test (random kills) and sim_agent_prefix_test (every record
// boundary of the agent's journal).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sim_support.h"

namespace ta::simtest {

struct Outcome {
  std::map<std::string, std::string> summary;
  ta::ipc::PositionSnapshot positions;
  AgentJournal agent;
  GateJournal gate;
};

// After the agent exited: tradectl, then the gate stopped, then both
// journals.
inline Outcome collect(Workspace& ws) {
  Outcome o;
  o.summary = agent_summary(ws.agent_log());
  if (auto p = ws.positions()) o.positions = *p;
  EXPECT_TRUE(ws.stop_gate()) << ws.gate().log().substr(0, 4000);
  o.agent = read_agent_journal(ws.agent_journal());
  o.gate = read_gate_journal(ws.gate().journal_dir());
  EXPECT_EQ(o.agent.error, "");
  EXPECT_EQ(o.gate.error, "");
  return o;
}

inline std::map<std::string, std::string> text(const std::map<std::string, Decimal>& m) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : non_zero(m)) out[k] = v.to_string();
  return out;
}

// How long a SIM test waits for one agent run (the ASan build under load).
constexpr int kSimRunTimeoutMs = 240'000;

// A complete run on `options`: the gate started, the agent run to the end
// of its data, then collect().
inline Outcome uninterrupted(const Workspace::Options& options) {
  Workspace ws(options);
  EXPECT_TRUE(ws.start_gate()) << ws.gate().log();
  const int code = wait_child(ws.spawn_agent(), kSimRunTimeoutMs);
  EXPECT_EQ(code, 0) << read_text(ws.agent_log()).substr(0, 4000);
  return collect(ws);
}

// Everything that must agree between the agent and the gate after a run
// (interrupted or not).
inline void expect_agreement(const Outcome& o, std::uint64_t bars) {
  // Intents: one intent_sent and one decision each in the agent's journal,
  // exactly one IntentDecided at the gate, the same decision.
  std::uint64_t accepted = 0;
  std::uint64_t denied = 0;
  for (const auto& [id, n] : o.agent.sent) {
    EXPECT_EQ(n, 1) << id;
    ASSERT_EQ(o.agent.decisions.count(id), 1u) << "no decision journaled for " << id;
    EXPECT_EQ(o.agent.decisions.at(id), 1) << id;
    ASSERT_EQ(o.gate.decided.count(id), 1u) << "the gate never decided " << id;
    EXPECT_EQ(o.gate.decided.at(id), 1) << "decided more than once: " << id;
    const ta::ipc::Decision& a = o.agent.decision.at(id);
    const ta::ipc::Decision& g = o.gate.intent.at(id).decision();
    EXPECT_EQ(a.accepted(), g.accepted()) << id;
    EXPECT_EQ(a.reason(), g.reason()) << id;
    EXPECT_EQ(a.order_id(), g.order_id()) << id;
    EXPECT_EQ(a.quantity(), g.quantity()) << id;
    (a.accepted() ? accepted : denied) += 1;
  }
  // The gate decided nothing the agent did not journal, except its own
  // orders (flattening).
  for (const auto& [id, rec] : o.gate.intent) {
    if (rec.intent().strategy() == "gate") continue;
    EXPECT_EQ(o.agent.sent.count(id), 1u) << "decided at the gate, never journaled by the agent: " << id;
  }
  // No duplicate orders: one submission per order, one order per accepted
  // intent.
  std::set<std::string> accepted_orders;
  for (const auto& [id, rec] : o.gate.intent) {
    if (rec.decision().accepted()) accepted_orders.insert(rec.decision().order_id());
  }
  std::set<std::string> submitted;
  for (const auto& [order, n] : o.gate.submits) {
    EXPECT_EQ(n, 1) << "order submitted " << n << " times: " << order;
    submitted.insert(order);
  }
  EXPECT_EQ(submitted, accepted_orders);

  // Fills: each the agent journaled is the gate's, byte for byte; a gate
  // fill the agent never saw (its push died with the process) is covered
  // by an AgentReconciled attribution to the same intent.
  std::map<std::string, std::string> gate_fills;
  for (const auto& f : o.gate.fills) gate_fills[f.fill_id()] = f.SerializeAsString();
  std::set<std::string> seen;
  for (const auto& f : o.agent.fills) {
    ASSERT_EQ(gate_fills.count(f.fill_id()), 1u) << "the gate has no fill " << f.fill_id();
    EXPECT_EQ(gate_fills.at(f.fill_id()), f.SerializeAsString()) << f.fill_id();
    EXPECT_TRUE(seen.insert(f.fill_id()).second) << "fill journaled twice: " << f.fill_id();
  }
  std::map<std::string, Decimal> missing;  // intent id -> quantity the agent did not journal as fills
  std::vector<ta::ipc::Fill> unseen;
  for (const auto& f : o.gate.fills) {
    if (seen.count(f.fill_id()) != 0) continue;
    unseen.push_back(f);
    Decimal& m = missing[f.intent_id()];
    m = m.add(Decimal::parse(f.quantity()).value()).value();
  }
  std::map<std::string, Decimal> attributed;
  for (const auto& r : o.agent.reconciled) {
    const Decimal q = Decimal::parse(r.quantity()).value();
    if (q.is_zero()) continue;
    Decimal& a = attributed[r.intent_id()];
    a = a.add(q).value();
  }
  EXPECT_EQ(text(attributed), text(missing)) << "gate fills the agent neither journaled nor attributed";

  // Positions: tradectl = the gate's fills = the agent's fills plus its
  // attributions.
  const auto gate_positions = text(positions_from_fills(o.gate.fills));
  EXPECT_EQ(text(positions_of(o.positions)), gate_positions);
  std::vector<ta::ipc::Fill> agent_view = o.agent.fills;
  for (const auto& r : o.agent.reconciled) {
    ta::ipc::Fill f;
    f.set_product(r.product());
    f.set_side(r.side());
    f.set_quantity(r.quantity());
    agent_view.push_back(f);
  }
  EXPECT_EQ(text(positions_from_fills(agent_view)), gate_positions);

  // Money: fees and equity.
  EXPECT_EQ(Decimal::parse(o.positions.account().fees_paid()).value().to_string(), fees_of(o.gate.fills).to_string());
  ASSERT_EQ(o.summary.count("final_equity"), 1u) << "no summary line";
  EXPECT_EQ(o.summary.at("final_equity"), o.positions.account().equity());

  // The summary's counters are the journals'.
  EXPECT_EQ(o.summary.at("bars"), std::to_string(bars));
  EXPECT_EQ(o.summary.at("sent"), std::to_string(o.agent.sent.size()));
  EXPECT_EQ(o.summary.at("accepted"), std::to_string(accepted));
  EXPECT_EQ(o.summary.at("denied"), std::to_string(denied));
  EXPECT_EQ(o.summary.at("fills"), std::to_string(o.agent.fills.size()));
  EXPECT_EQ(o.agent.steps, bars);
  EXPECT_EQ(o.agent.stops, 1u);
}

// The same intents, decisions, fills and money as the uninterrupted run.
inline void expect_same_result(const Outcome& o, const Outcome& ref) {
  std::set<std::string> ref_ids;
  for (const auto& [id, n] : ref.gate.decided) ref_ids.insert(id);
  std::set<std::string> ids;
  for (const auto& [id, n] : o.gate.decided) ids.insert(id);
  EXPECT_EQ(ids, ref_ids);
  ASSERT_EQ(o.gate.fills.size(), ref.gate.fills.size());
  for (std::size_t i = 0; i < o.gate.fills.size(); ++i) {
    EXPECT_EQ(o.gate.fills[i].SerializeAsString(), ref.gate.fills[i].SerializeAsString()) << i;
  }
  EXPECT_EQ(o.positions.account().equity(), ref.positions.account().equity());
  EXPECT_EQ(o.positions.account().fees_paid(), ref.positions.account().fees_paid());
  EXPECT_EQ(text(positions_of(o.positions)), text(positions_of(ref.positions)));
  EXPECT_EQ(o.summary.at("final_equity"), ref.summary.at("final_equity"));
}

}  // namespace ta::simtest
