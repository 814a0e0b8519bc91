// Running a backtest: the agent's AgentEngine and the gate's decide(),
// GateState, Ledger and SimVenue in one process, in the order the two
// daemons use in SIM mode. A book is sequential; books may run on threads
// of their own (RunOptions::book_threads). docs/backtest.md states the order
// with its reasons; SIM parity depends on it, so here it is exactly.
//
// Market time is the bar stream: now = the close time (open + 60 s) of the
// bar being processed. No wall clock, no global randomness: the same
// config, data and seed give the same result, bit for bit.
//
// For every bar B (product P, open t, close T = t + 60 s) of the merged
// stream, in (open time, product) order, and for every book (books are
// independent accounts, so their order does not matter):
//
//   Gate side, now = T:
//   G1. SimVenue::on_bar(B): acks, rejects, cancels, expiries and fills of
//       orders sent earlier, in the venue's event order. Each event is
//       applied to the GateState (apply_order_event / apply_fill) and then
//       delivered to the engine: for a fill first the Fill
//       (AgentEngine::on_fill), then the order's new state
//       (on_order_update).
//   G2. GateState::apply_mark(P, B.close, T); P's reference price becomes
//       (B.close, T). (With the rule stage merged, apply_bar(B) comes
//       first, for the market facts.)
//   G3. check_loss_limit(T), then tick(T). A halt change that cancels
//       cancels every live order (cancel_request, SimVenue::cancel); one
//       that flattens records and submits plan_flatten()'s orders. Updates
//       of those orders go to the engine. (With the rule stage merged,
//       expire_holds(T) follows: expired holds are recorded as denials and
//       delivered to the engine.)
//   G4. When the equity or a position differs from the last snapshot sent
//       (initially the starting cash, flat), a position snapshot (equity,
//       signed quantity per product) goes to the engine: on_position().
//   Agent side:
//   A1. AgentEngine::on_bar(B) returns the intents of this bar.
//   A2. For each intent, in order: decide() with now = T, the peer allowed
//       and the reference prices of G2; record_decision(); when accepted,
//       apply_order_event(submit, T) and SimVenue::submit(). A rule halt
//       (rule stage) applies HaltEvent::kRuleHalt like G3.
//   A3. The decisions, in the same order, go to the engine (on_decision).
//
// After the last bar of each minute, every book's equity is sampled: the
// equity curve has one point per minute that has at least one bar.
//
// An intent built on bar N of P is submitted at N's close and SimVenue
// fills it only on a bar that opens at or after its arrival, i.e. on P's
// next bar (after a gap: the first bar after the gap), never on bar N.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backtest/config.h"
#include "backtest/data.h"
#include "gate.pb.h"
#include "gate/halt.h"
#include "gate/ledger.h"
#include "market/bar.h"
#include "proto/decimal.h"
#include "proto/result.h"
#include "strategy/engine.h"

namespace ta::backtest {

// The progress callback runs every kProgressEveryBars bars (and after the
// last): often enough for a terminal line, rarely enough to cost nothing.
inline constexpr std::uint64_t kProgressEveryBars = 1u << 16;
// Fills and trades kept per book. A run that trades more is a strategy
// gone wrong; it stops with an error rather than eating the memory.
inline constexpr std::size_t kBookFillsMax = 1'000'000;
// Threads one run may use for its books (RunOptions::book_threads). The
// same bound as run_jobs()' workers: beyond the cores of a home server more
// threads only add switching. A run never uses more threads than books.
inline constexpr std::size_t kBookThreadsMax = 64;

struct RunOptions {
  // Bars with from_ts_s <= open_ts_s < to_ts_s take part (walk-forward
  // windows; the CLI's --from/--to).
  std::int64_t from_ts_s = 0;
  std::int64_t to_ts_s = agent::kTimestampMax_s + agent::kBarSeconds;
  // Use the daemons' protobuf conversions for every message, bar and
  // snapshot, as SIM does, instead of the direct equivalents. Slower; the
  // tests run both and require identical results.
  bool reference_path = false;
  // Threads the books run on (at most one per book; 1 runs everything on
  // the calling thread). Books are independent accounts, so the result is
  // the same bit for bit whatever this is. In [1, kBookThreadsMax].
  std::size_t book_threads = 1;
  // Called with (bars done by every book, bars in the run). Not called when
  // empty. Runs on the run's thread; it may read a clock (the run never
  // does).
  std::function<void(std::uint64_t, std::uint64_t)> progress;
};

struct FillRecord {
  std::string strategy;  // the order's strategy ("gate" for the gate's own flattening)
  std::string intent_id;
  std::string order_id;
  agent::ProductId product;
  ipc::Side side = ipc::SIDE_UNSPECIFIED;
  Quantity quantity;
  Price price;
  Notional fee;
  ipc::Liquidity liquidity = ipc::LIQUIDITY_UNSPECIFIED;
  std::int64_t ts_ns = 0;
  Price bar_open;  // open of the bar that filled it (slippage reference)
};

// A round trip of one strategy in one product: from the fill that opens a
// position (from flat) to the fill that brings it back to flat or through
// zero. Figures come from a fixed-point ledger per strategy (gate::Ledger,
// the gate's own accounting), so they are exact.
struct TradeRecord {
  std::string strategy;
  agent::ProductId product;
  bool long_side = true;
  std::int64_t open_ts_ns = 0;
  std::int64_t close_ts_ns = 0;  // 0 while open
  bool closed = false;
  Quantity quantity_max;         // largest |position| during the trade
  Notional pnl;                  // realized P&L less fees (closed trades)
  Notional fees;
};

struct HaltRecord {
  std::int64_t ts_ns = 0;
  gate::HaltState from = gate::HaltState::kActive;
  gate::HaltState to = gate::HaltState::kActive;
  gate::HaltEvent event = gate::HaltEvent::kOperatorHalt;
};

// Outcomes of decide() and of the orders.
struct DecisionStats {
  std::uint64_t intents = 0;
  std::uint64_t accepted = 0;
  std::uint64_t denied = 0;
  std::map<ipc::DenyReason, std::uint64_t> denied_by_reason;
  std::map<std::string, std::uint64_t> rule_hits;  // Decision.rules_fired, by rule id
  std::uint64_t orders_filled = 0;
  std::uint64_t orders_cancelled = 0;  // includes IOC remainders
  std::uint64_t orders_rejected = 0;   // by the venue
  std::uint64_t orders_expired = 0;
  std::uint64_t gate_orders = 0;       // the gate's own (flattening)
};

// Per (strategy, product): what the engine saw and did.
struct SlotSummary {
  std::string strategy;
  agent::ProductId product;
  agent::SlotCounters counters;
};

struct BookResult {
  std::string name;
  Decimal capital;
  std::vector<std::string> strategies;  // names, configuration order
  // Equity in 1e-8 USD units after each step of the timeline.
  std::vector<std::int64_t> equity_units;
  // 1 after each step at which the book held a position in some product.
  std::vector<std::uint8_t> exposed;
  std::vector<FillRecord> fills;
  std::vector<TradeRecord> trades;  // in the order they opened
  DecisionStats decisions;
  std::vector<HaltRecord> halts;
  gate::Ledger ledger;  // the final ledger
  agent::EngineCounters engine;
  std::vector<SlotSummary> slots;
  // Sum over fills of (price - bar open) x quantity for buys and
  // (bar open - price) x quantity for sells, in 1e-16 USD units (exact).
  Int128 slippage_wide = 0;
  Notional traded_notional;  // sum of quantity x price, each rounded half-even
};

struct BacktestResult {
  // The timeline: open time of each step (a minute with at least one bar).
  std::vector<std::int64_t> step_open_ts_s;
  std::uint64_t bars = 0;
  std::uint64_t seed = 0;
  std::vector<agent::ProductId> products;  // traded, in ProductId order
  std::vector<BookResult> books;
};

// Runs every book of `config` over the bars of `data` inside the window.
// Errors: no bars in the window, a configured product without data, a
// product unknown to the gate configuration, an engine configuration the
// engine refuses, and broken invariants between venue and gate state
// (bugs) - never a partial result.
[[nodiscard]] Result<BacktestResult> run_backtest(const BacktestConfig& config, const MarketData& data,
                                                  const RunOptions& options = {});

}  // namespace ta::backtest
