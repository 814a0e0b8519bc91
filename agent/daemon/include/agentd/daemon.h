// trading-agent, the daemon: the feed, the AgentEngine and the GateClient on
// one io_context thread, with the agent's journal and a read-only status
// socket. docs/agent.md describes the behaviour; this header the contract.
//
// SIM (replay feed), bar by bar in merged (time, product) order, as in
// lockstep:
//   1. send the Bar to the gate and wait for the PositionSnapshot that
//      answers it (the gate pushes the fills and order updates the bar
//      caused before that reply; they are journaled and applied to the
//      engine as they arrive);
//   2. journal the step, apply the snapshot (positions, equity);
//   3. engine.on_bar(bar) -> intents; journal each, submit it;
//   4. wait until every intent of this bar has its Decision (journaled,
//      applied) before the next bar.
// While the gate's answer is predictable (no order of ours working, the
// gate ACTIVE, its daily-loss check out of reach) a step does not wait in
// 1: the bar joins a BarBatch, the engine gets the snapshot the agent's
// book predicts, and the answer is checked when it comes (docs/agent.md,
// "SIM pipeline"; gate.bars_in_flight_max bounds how far ahead).
// Market time drives every decision; the wall clock only paces the
// accelerated and real replay speeds and bounds how long the agent waits
// for the gate (reply_timeout).
//
// Restart. The journal is replayed through a fresh engine (the same code
// path as live, without sending), so the engine is rebuilt exactly; intents
// the journal shows as sent without a decision are submitted again with the
// same id, and the gate's idempotency answers them with the original
// decision. Decided intents are never sent again. After every (re)connect
// the agent sends again the bars the gate may lack, then the intents in
// flight; the gate's PositionSnapshot is the truth: differences are
// attributed to the orders in flight or applied as the gate's positions.
//
// PAPER/LIVE: the live feed's bars go to the engine as they come and the
// intents to the gate; there is no lockstep (the gate has its own feed).
//
// Threading: everything runs on the io_context passed in, on the thread
// that runs it. The journal's flusher is the only other thread.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agentd/config.h"
#include "proto/result.h"

namespace boost::asio {
class io_context;
}

namespace ta::journal {
class Writer;
}  // namespace ta::journal

namespace ta::agent {

// Deny reasons are ta::ipc::DenyReason values 0..kDenyReasonSlots-1; a
// larger value (a newer gate) is counted in the last slot.
inline constexpr std::size_t kDenyReasonSlots = 32;

// Counters of one run (since the process started, journal replay included).
struct AgentCounters {
  std::uint64_t bars = 0;              // steps handed to the engine
  std::uint64_t bars_catch_up = 0;     // of which the gate had already processed (restart)
  std::uint64_t bars_replayed = 0;     // steps rebuilt from the journal at start
  std::uint64_t intents = 0;           // emitted by the engine
  std::uint64_t intents_sent = 0;      // submitted to the gate (resends of one intent count once)
  std::uint64_t intents_resent = 0;    // submitted again after a restart (journaled, undecided)
  std::uint64_t intents_held = 0;      // not sent: the gate's halt state forbids them
  std::uint64_t holds_asked = 0;       // held-for-approval intents asked about again after a (re)connect
  std::uint64_t accepted = 0;
  std::uint64_t denied = 0;
  std::array<std::uint64_t, kDenyReasonSlots> denied_by_reason{};
  std::uint64_t fills = 0;
  std::uint64_t order_updates = 0;
  std::uint64_t reconciled_fills = 0;   // attributed from a snapshot after a reconnect
  std::uint64_t reconciled_orders = 0;  // IOC orders settled after their bar passed
  std::uint64_t unattributed = 0;       // snapshot differences no order in flight explains
  std::uint64_t parameter_changes = 0;
  std::uint64_t parameter_changes_refused = 0;
  std::uint64_t protocol_errors = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t replay_rows_skipped = 0;  // bad CSV rows skipped (feed.skip_bad_rows)
  std::uint64_t replay_duplicates = 0;    // identical repeated CSV rows dropped
  // SIM pipeline (docs/agent.md, "SIM pipeline").
  std::uint64_t bars_predicted = 0;      // steps taken before the gate's answer, on the predicted snapshot
  std::uint64_t bars_resent = 0;         // sent again after a (re)connect: the gate may not have them
  std::uint64_t bar_batches = 0;         // BarBatch messages sent
  std::uint64_t predictions_missed = 0;  // answers that differed from the prediction (then lockstep)
  std::uint64_t journal_flushes = 0;     // waits for the journal's durability before sending
  // PAPER/LIVE warm-up (docs/agent.md, "Warm-up").
  std::uint64_t warm_up_bars = 0;        // backfilled bars the indicators took
  std::uint64_t warm_ups_done = 0;       // products warmed up
  std::uint64_t warm_ups_failed = 0;     // products whose strategies started cold
};

struct AgentAppOptions {
  AgentConfig config;
  std::string agent_version = "0.1.0";
  // Called once when a SIM run ends (end of data, exit code 0) or the
  // daemon gives up (exit code 1, with the reason). Runs on the io_context
  // thread; the app is stopped by then.
  std::function<void(int exit_code, const std::string& reason)> on_finished;
  // Tests: stop processing (as if killed) after this many bar steps of this
  // process. 0: never.
  std::uint64_t halt_after_steps_for_test = 0;
  // Tests: called on the io_context thread right after each record this
  // process appends to its journal (not during the replay at start), with
  // the journal and the record's sequence number. A crash test kills the
  // process there, between one record and the next.
  std::function<void(ta::journal::Writer& journal, std::uint64_t seq)> after_journal_append_for_test;
};

class AgentApp {
 public:
  // `io` must outlive the app. Nothing happens until start().
  AgentApp(boost::asio::io_context& io, AgentAppOptions options);
  ~AgentApp();
  AgentApp(const AgentApp&) = delete;
  AgentApp& operator=(const AgentApp&) = delete;

  // Loads the replay bars (SIM), opens and replays the journal, opens the
  // status socket and starts connecting to the gate (PAPER/LIVE: starts the
  // live feed). Errors are one line for people.
  [[nodiscard]] Status start();
  // Journals AgentStopped, closes the journal, the status socket, the gate
  // connection and the feed. Harmless to call twice.
  void stop(const std::string& reason);

  // The status document (docs/agent.md, "Status socket"), as served on the
  // status socket.
  std::string status_json() const;
  // "bars=... intents=... accepted=... denied=... fills=... equity=..."
  std::string summary_line() const;
  const AgentCounters& counters() const;
  bool finished() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// For --check-config: every problem of agent.yaml and the strategy files it
// names, one line each ("file:line:column: key 'a.b': message"). Empty when
// the configuration is valid.
std::vector<std::string> check_agent_config(const std::filesystem::path& agent_yaml);

// trading-agent's main loop: runs an AgentApp on its own io_context, stops
// on SIGTERM/SIGINT (exit 0 after a clean stop), exits when a SIM run ends
// (0) or fails (1, with a one-line reason on stderr).
int run_agent_daemon(AgentAppOptions options);

}  // namespace ta::agent
