// Replaying the gate's journal into a GateState (docs/operations.md,
// "Recovery"). The live gate applies every event to its state and journals
// it only when the core accepted it, so replaying the records in order
// through the same GateState methods must succeed; a record that does not
// apply means the journal and the code disagree, and the gate refuses to
// start rather than guess.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gate/config.h"
#include "gate/core.h"
#include "gate/proposals.h"
#include "gate/sim_venue.h"
#include "gate.pb.h"
#include "journal_records.pb.h"
#include "proto/result.h"

namespace ta::gate::daemon {

// Cancels remembered for idempotency (a resent CancelIntent gets its first
// answer back). Agents resend within seconds; 10,000 is hours of cancels.
inline constexpr std::size_t kRememberedCancelsMax = 10'000;

struct MarkSeen {
  std::string product;
  Price price;
  std::int64_t ts_ns = 0;
};

struct Replayed {
  std::unique_ptr<GateState> state;
  // From the journal's first GateStarted; the config's values for a new journal.
  Notional starting_cash;
  std::int64_t ledger_start_ts_ns = 0;
  bool new_journal = true;       // no record at all
  std::uint64_t records = 0;
  std::uint64_t last_seq = 0;
  std::uint64_t fills = 0;       // Fill records: fill ids continue from here
  std::uint64_t starts = 0;      // GateStarted records
  bool last_stop_clean = true;   // the last start was followed by a GateStopped
  std::int64_t market_now_ns = 0;  // latest mark (SIM: the latest bar's close)
  std::vector<MarkSeen> marks;     // latest mark per product, in config order
  // SIM: per product, the latest journaled bar, with the latest bid/ask
  // any bar carried (SimVenue::restore() rebuilds the venue's books).
  std::vector<Bar> venue_bars;
  // SIM: fills of bars whose mark the journal lacks (a bar's fills are
  // appended before its mark, so a stop can keep the one and lose the
  // other), summed per product and bar: a bar sent again after the restart
  // must not fill that quantity a second time (SimVenue::restore_filled).
  // Only fills after their product's last mark are kept.
  struct UnmarkedFill {
    std::string product;
    std::int64_t bar_open_ts_ns = 0;
    Quantity quantity;
  };
  std::vector<UnmarkedFill> unmarked_fills;
  std::deque<ipc::CancelIntent> cancels;  // accepted cancels, oldest first, bounded
  std::string halt_reason;
  // Orders a cancel was decided for: by a halt change with cancel_all
  // (kill, daily loss, dead-man's switch...), every order it found open,
  // and by an agent's accepted CancelIntent, its order. The decision and
  // the order's cancel_request are separate records, so a stop between them
  // leaves the order without its cancel; the restart requests it for those
  // still open (reconcile). Pruned to live orders as it grows.
  std::set<std::string, std::less<>> cancels_owed;
  // Every ProposalStateChanged and ParameterChangeAck applied in order:
  // the pending proposals, the kept decided ones and the parameter changes
  // still waiting for the agent. Limits from gate.yaml (proposal_limits()).
  ProposalBook proposals;
};

// The book's limits under this configuration (proposals.expiry).
ProposalLimits proposal_limits(const Config& config);

// Reads every record of `dir` (which journal::recover() has made whole)
// and rebuilds the state. A fresh journal starts from the config's
// starting_cash and `ledger_start_ts_ns`. Errors name the record's
// sequence number and what did not apply.
Result<Replayed> replay_journal(const std::filesystem::path& dir, const Config& config,
                                std::int64_t ledger_start_ts_ns, GateStateBounds bounds = {});

// The same order, live or among the recently closed ones; nullptr if neither.
const Order* find_any_order(const GateState& state, std::string_view order_id);

}  // namespace ta::gate::daemon
