// The real trading-gate and trading-agent binaries in SIM on the demo data
// with the shipped configuration (issue 5: "a full agent talking to a real
// gate binary in SIM"). Black box: what the agent prints and journals is
// checked against the gate's journal and tradectl.
//
//  * A complete run: every intent the agent journaled was decided exactly
//    once by the gate and the agent journaled that same decision; no order
//    was submitted twice; the agent journaled exactly the gate's fills; the
//    positions, fees and equity of tradectl agree with the fills and with
//    the agent's summary line.
//  * The same run with the agent killed by SIGKILL at a random bar step
//    (seed printed; TA_TEST_SEED replays) and started again: the same
//    checks hold, no intent is decided twice, and fills, positions and
//    equity are identical to the uninterrupted run. A fill whose push the
//    kill lost must appear in the agent's journal as an attributed
//    AgentReconciled record.
//  * The same run with the gate killed by SIGKILL at a random bar step and
//    started again while the agent keeps running: the gate's answers to
//    bars do not wait for their marks to be durable (docs/ipc.md, "Bars
//    and lockstep"), so the kill may lose marks the agent already built on;
//    the agent sends those bars again and the result is identical to the
//    uninterrupted run (a denial the kill took from the gate's journal
//    must be one the uninterrupted gate made).
//  * Both kill tests once more with SimVenue's ack latency at 45 s + up to
//    30 s of jitter, so that a kill finds orders on their way to the venue.
#include <gtest/gtest.h>

#include <random>

#include "agent_test_support.h"
#include "sim_outcome.h"
#include "sim_support.h"

namespace ta::simtest {
namespace {

// Bars of the merged demo replay (BTC and ETH): enough for a few dozen
// intents and fills, few enough for seconds under ASan.
constexpr std::uint64_t kBars = 1000;

Workspace::Options demo_options() {
  Workspace::Options o;
  o.bars_max = kBars;
  return o;
}

// The same with orders reaching SimVenue 45 to 75 s of market time after
// their decision (one or two bars), so a gate kill finds orders on their way.
Workspace::Options latency_options() {
  Workspace::Options o = demo_options();
  o.ack_latency = "45s";
  o.ack_latency_jitter = "30s";
  return o;
}

// The uninterrupted runs, made once and shared by the tests.
const Outcome& reference() {
  static const Outcome outcome = uninterrupted(demo_options());
  return outcome;
}
const Outcome& latency_reference() {
  static const Outcome outcome = uninterrupted(latency_options());
  return outcome;
}

TEST(SimDaemons, CompleteRunAgreesWithTheGateJournalAndTradectl) {
  const Outcome& o = reference();
  expect_agreement(o, kBars);
  // Uninterrupted: the agent saw every fill as it came.
  EXPECT_EQ(o.agent.fills.size(), o.gate.fills.size());
  for (std::size_t i = 0; i < std::min(o.agent.fills.size(), o.gate.fills.size()); ++i) {
    EXPECT_EQ(o.agent.fills[i].fill_id(), o.gate.fills[i].fill_id()) << i;
  }
  EXPECT_TRUE(o.agent.reconciled.empty());
  EXPECT_EQ(o.agent.starts, 1u);
  EXPECT_EQ(o.agent.catch_up, 0u);
  // The run must exercise the path: intents, both kinds of decision, fills.
  EXPECT_GT(o.agent.sent.size(), 10u);
  EXPECT_GT(o.gate.fills.size(), 5u);
  std::printf("reference: intents=%zu fills=%zu equity=%s\n", o.agent.sent.size(), o.gate.fills.size(),
              o.positions.account().equity().c_str());
}

// A step between 10% and 80% of the run, from the printed seed.
std::uint64_t random_kill_step(const char* name) {
  const unsigned seed = ta::agent::test::test_seed();
  std::mt19937 rng(seed);
  const std::uint64_t step = kBars / 10 + rng() % (kBars * 7 / 10);
  std::printf("%s=%llu\n", name, static_cast<unsigned long long>(step));
  return step;
}

// Waits while the agent runs until its journal holds `steps` steps.
::testing::AssertionResult agent_reached(Workspace& ws, pid_t agent, std::uint64_t steps) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kSimRunTimeoutMs);
  for (;;) {
    int status = 0;
    if (::waitpid(agent, &status, WNOHANG) == agent) {
      return ::testing::AssertionFailure() << "the agent ended before " << steps << " steps";
    }
    if (read_agent_journal(ws.agent_journal()).steps >= steps) return ::testing::AssertionSuccess();
    if (std::chrono::steady_clock::now() >= deadline) {
      return ::testing::AssertionFailure() << "the agent did not reach " << steps << " steps in time";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void agent_killed_mid_run(const Workspace::Options& options, const Outcome& ref) {
  const std::uint64_t kill_after = random_kill_step("kill_after_steps");

  Workspace ws(options);
  ASSERT_TRUE(ws.start_gate()) << ws.gate().log();
  const pid_t first = ws.spawn_agent();
  ASSERT_TRUE(agent_reached(ws, first, kill_after));
  ::kill(first, SIGKILL);
  ASSERT_EQ(wait_child(first, 30'000), 128 + SIGKILL);
  const std::uint64_t steps_at_kill = read_agent_journal(ws.agent_journal()).steps;
  const int code = wait_child(ws.spawn_agent(), kSimRunTimeoutMs);
  ASSERT_EQ(code, 0) << read_text(ws.agent_log()).substr(0, 6000);
  const Outcome o = collect(ws);
  std::printf("killed after %llu steps; resumed: catch_up=%llu reconciled=%zu\n",
              static_cast<unsigned long long>(steps_at_kill), static_cast<unsigned long long>(o.agent.catch_up),
              o.agent.reconciled.size());

  expect_agreement(o, kBars);
  EXPECT_EQ(o.agent.starts, 2u);
  expect_same_result(o, ref);
}

TEST(SimDaemons, AgentKilledMidRunResumesToTheSameResult) { agent_killed_mid_run(demo_options(), reference()); }

void gate_killed_mid_run(const Workspace::Options& options, const Outcome& ref) {
  const std::uint64_t kill_after = random_kill_step("gate_kill_after_steps");

  Workspace ws(options);
  ASSERT_TRUE(ws.start_gate()) << ws.gate().log();
  const pid_t agent = ws.spawn_agent();
  ASSERT_TRUE(agent_reached(ws, agent, kill_after));
  ws.gate().signal(SIGKILL);
  ASSERT_EQ(ws.gate().wait_exit(30'000), 128 + SIGKILL);
  ASSERT_TRUE(ws.start_gate()) << ws.gate().log().substr(0, 6000);
  const int code = wait_child(agent, kSimRunTimeoutMs);
  ASSERT_EQ(code, 0) << read_text(ws.agent_log()).substr(0, 6000);
  Outcome o = collect(ws);
  // A denial goes to the agent without waiting for the disk (it creates
  // nothing; docs/ipc.md), so the kill may take the gate's record of a
  // denial the agent already journaled. Each such intent must be one the
  // uninterrupted gate denied for the same reason; its record is taken from
  // the reference so that every other check runs.
  std::size_t lost_denials = 0;
  for (const auto& [id, n] : o.agent.sent) {
    if (o.gate.decided.count(id) != 0) continue;
    ASSERT_EQ(o.agent.decision.count(id), 1u) << "neither side decided " << id;
    ASSERT_FALSE(o.agent.decision.at(id).accepted()) << "an acceptance missing from the gate's journal: " << id;
    ASSERT_EQ(ref.gate.intent.count(id), 1u) << id;
    ASSERT_FALSE(ref.gate.intent.at(id).decision().accepted()) << id;
    EXPECT_EQ(ref.gate.intent.at(id).decision().reason(), o.agent.decision.at(id).reason()) << id;
    o.gate.decided[id] = 1;
    o.gate.intent[id] = ref.gate.intent.at(id);
    ++lost_denials;
  }
  std::printf("gate killed after %llu agent steps; resumed: reconciled=%zu denials_lost_by_the_kill=%zu\n",
              static_cast<unsigned long long>(kill_after), o.agent.reconciled.size(), lost_denials);

  expect_agreement(o, kBars);
  EXPECT_EQ(o.agent.starts, 1u);
  expect_same_result(o, ref);
}

TEST(SimDaemons, GateKilledMidRunResumesToTheSameResult) { gate_killed_mid_run(demo_options(), reference()); }

// The restarted gate rebuilds SimVenue (books, market time, the open
// orders' first arrival times): with orders a bar or two on their way at
// the kill, the fills are still the uninterrupted run's.
TEST(SimDaemons, GateKilledMidRunWithVenueLatencyResumesToTheSameResult) {
  const Outcome& ref = latency_reference();
  expect_agreement(ref, kBars);
  gate_killed_mid_run(latency_options(), ref);
}

// The agent, killed with orders on their way, waits for their final state
// after the restart instead of settling them a bar early.
TEST(SimDaemons, AgentKilledMidRunWithVenueLatencyResumesToTheSameResult) {
  agent_killed_mid_run(latency_options(), latency_reference());
}

}  // namespace
}  // namespace ta::simtest
