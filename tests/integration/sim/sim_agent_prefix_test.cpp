// Every record boundary of the agent's journal as a crash point, with the
// real trading-gate running on. The random SIGKILL of sim_daemons_test lands
// where the kill happened to find the agent; here the agent is killed right
// after each record it appends, in turn, and started again.
//
// A crash between records k and k + 1 leaves the gate where the agent had
// brought it by then, and the agent's journal holding at least the records
// that were durable at that moment and at most all k. Both ends are run:
//  * kept: the journal holds all k records;
//  * lost: it holds only those durable when record k was appended, so the
//    gate has seen intents and bars whose records are gone.
// After each crash the real trading-agent resumes on that journal and runs
// to the end of the data. It must pass the checks of every complete run
// (expect_agreement: one decision per intent, no order submitted twice,
// every gate fill journaled or attributed, positions, fees and equity as
// tradectl has them), and end exactly where the uninterrupted run ends
// (expect_same_result). What the agent may leave out of its journal and
// why is in docs/agent.md, "Restart". The lost end runs once more with
// SimVenue's acknowledgement latency, so that kills find orders on their
// way to the venue.
//
// No randomness: the kill points are the records 1, 2, ... of the crashed
// run, until the one that ends it (its stop record). The crashed run's timing
// (which bars go out before an answer) may differ from one run to the next,
// and with it the records, so every case prints nothing unless it fails,
// and the test prints what it covered.
#include <gtest/gtest.h>

#include <fstream>
#include <optional>

#include "journal_prefix.h"
#include "sim_outcome.h"
#include "sim_support.h"

namespace ta::simtest {
namespace {

// Bars of the merged demo replay: about 80 agent records, with
// intents, decisions, fills and order updates from the first tenth on.
constexpr std::uint64_t kBars = 400;

enum class Venue { kInstant, kLatency };

Workspace::Options options(Venue venue) {
  Workspace::Options o;
  o.bars_max = kBars;
  // The longest window agent.yaml allows: a record is durable only when the
  // agent makes it so (docs/agent.md, "Restart"), not because the flusher
  // happened to sync it, so "lost" loses everything the rules allow.
  o.agent_journal_window = "100ms";
  if (venue == Venue::kLatency) {
    // Orders reach SimVenue 45 to 75 s of market time after their
    // decision, so kills find them on their way.
    o.ack_latency = "45s";
    o.ack_latency_jitter = "30s";
  }
  return o;
}

const Outcome& reference(Venue venue) {
  static const Outcome instant = uninterrupted(options(Venue::kInstant));
  if (venue == Venue::kInstant) return instant;
  static const Outcome latency = uninterrupted(options(Venue::kLatency));
  return latency;
}

struct Crash {
  std::uint64_t durable = 0;  // records durable when the kill came
  std::uint64_t at = 0;       // the record after which it came
};

// Runs agent_crash_child in `ws` (the gate running) until it kills itself
// right after journal record `at`; nullopt when the run ended first.
std::optional<Crash> crash_agent_at(Workspace& ws, std::uint64_t at) {
  const fs::path report = ws.root() / "crash-report";
  const pid_t child =
      ws.spawn_agent({AGENT_CRASH_CHILD_BIN, ws.agent_yaml().string(), std::to_string(at), report.string()});
  const int code = wait_child(child, kSimRunTimeoutMs);
  if (code == 0) return std::nullopt;
  EXPECT_EQ(code, 128 + SIGKILL) << read_text(ws.agent_log()).substr(0, 4000);
  Crash c;
  std::ifstream in(report);
  in >> c.durable >> c.at;
  EXPECT_TRUE(in) << "no crash report after record " << at;
  return c;
}

// Keeps the first `k` records of the agent's journal.
void cut_agent_journal(Workspace& ws, std::size_t k) {
  const std::vector<ta::test::RawJournalRecord> records = ta::test::read_raw_journal(ws.agent_journal());
  ASSERT_GE(records.size(), k);
  fs::remove_all(ws.agent_journal());
  ta::test::write_journal_prefix(ws.agent_journal(), records, k);
}

enum class Tail { kKept, kLost };

struct Coverage {
  std::uint64_t cases = 0;
  std::uint64_t records_lost = 0;  // summed over the cases
  std::uint64_t reconciled = 0;    // AgentReconciled records the resumed runs wrote
  std::uint64_t catch_up = 0;      // catch-up steps the resumed runs took
};

// One crash point; false when the run ended before record `at` or with it
// (its stop record).
bool crash_and_resume(std::uint64_t at, Venue venue, Tail tail, const Outcome& ref, Coverage& cov) {
  Workspace ws(options(venue));
  EXPECT_TRUE(ws.start_gate()) << ws.gate().log();
  const std::optional<Crash> crash = crash_agent_at(ws, at);
  if (!crash) return false;
  EXPECT_EQ(crash->at, at);
  // Killed after its stop record: the run was over.
  if (read_agent_journal(ws.agent_journal()).stops > 0) return false;
  std::uint64_t kept = at;
  if (tail == Tail::kLost) {
    if (crash->durable >= at) return true;  // nothing to lose: the same as kept
    kept = crash->durable;
    cut_agent_journal(ws, kept);
  }
  const std::string where = "killed after record " + std::to_string(at) + ", " + std::to_string(kept) +
                            " records kept";
  const int code = wait_child(ws.spawn_agent(), kSimRunTimeoutMs);
  EXPECT_EQ(code, 0) << where << "\n" << read_text(ws.agent_log()).substr(0, 6000);
  if (code != 0) return true;
  const Outcome o = collect(ws);
  {
    SCOPED_TRACE(where);
    expect_agreement(o, kBars);
    EXPECT_EQ(o.agent.starts, kept == 0 ? 1u : 2u);
    expect_same_result(o, ref);
  }
  ++cov.cases;
  cov.records_lost += at - kept;
  cov.reconciled += o.agent.reconciled.size();
  cov.catch_up += o.agent.catch_up;
  return true;
}

void every_record(Venue venue, Tail tail) {
  const Outcome& ref = reference(venue);
  expect_agreement(ref, kBars);
  ASSERT_GT(ref.agent.sent.size(), 5u) << "the run must trade";
  Coverage cov;
  std::uint64_t points = 0;  // kill points run: records 1..points
  while (crash_and_resume(points + 1, venue, tail, ref, cov)) {
    ++points;
    if (::testing::Test::HasFailure()) break;  // one crash point's failures are enough to read
  }
  std::printf("kill points 1..%llu of the crashed runs; %llu resumed runs checked, %llu records lost in all, "
              "%llu reconciled fills, %llu catch-up steps; reference: %zu intents, %zu fills, equity %s\n",
              static_cast<unsigned long long>(points), static_cast<unsigned long long>(cov.cases),
              static_cast<unsigned long long>(cov.records_lost), static_cast<unsigned long long>(cov.reconciled),
              static_cast<unsigned long long>(cov.catch_up), ref.agent.sent.size(), ref.gate.fills.size(),
              ref.positions.account().equity().c_str());
  if (!::testing::Test::HasFailure()) {
    EXPECT_GT(points, ref.agent.sent.size()) << "the crashed runs ended too early";
  }
}

TEST(SimAgentPrefix, EveryRecordBoundaryWithItsRecordsKeptResumesToTheSameResult) {
  every_record(Venue::kInstant, Tail::kKept);
}

TEST(SimAgentPrefix, EveryRecordBoundaryWithItsUnsyncedRecordsLostResumesToTheSameResult) {
  every_record(Venue::kInstant, Tail::kLost);
}

// The agent, killed with orders on their way to the venue, waits for their
// final state after the restart (docs/agent.md, "Restart").
TEST(SimAgentPrefix, EveryRecordBoundaryWithOrdersInFlightAndUnsyncedRecordsLostResumesToTheSameResult) {
  every_record(Venue::kLatency, Tail::kLost);
}

}  // namespace
}  // namespace ta::simtest
