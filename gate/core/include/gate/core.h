// The gate's decision core: the state that decisions read (GateState) and
// the pure function that makes them (decide()).
//
// decide() reads the state, the intent and a context (time, peer identity,
// reference prices) and returns a Decision. It has no side effects, reads
// no clock and does no I/O, so the same inputs always give the same
// decision. The caller journals the decision durably and only then applies
// it with GateState::record_decision(); replaying the journal through the
// same record_/apply_ methods rebuilds the same state.
//
// Checks run in this fixed order; the first failing check decides:
//
//   1. fields       intent_id, enums and decimals parse and are in range
//                   (MALFORMED, FIELD_RANGE)
//   2. peer         the connection's identity is allowed (PEER_NOT_ALLOWED)
//   3. readiness    recovery has finished (NOT_READY)
//   4. idempotency  a known intent id returns its original decision
//                   (replayed) or DUPLICATE_ID_CONFLICT if the content differs
//   5. halt state   KILLED, HALTED or COOLDOWN; REDUCING and reduce_only
//                   allow only orders that shrink exposure (REDUCING_ONLY)
//   6. hard limits  daily loss, product, size, increments, reference price,
//                   price band, notional, position, gross exposure,
//                   per-trade risk, open orders, funds
//   7. rules        the rule DSL stage (docs/rule-dsl.md) joins here
//   8. rate         accepted orders in the last 60 s
//
// An order "shrinks exposure" iff its side is opposite to the current
// position and its quantity is at most |position| minus the remaining
// quantity of open orders on the same (opposite-to-position) side.
//
// Not thread-safe: one thread owns a GateState (DESIGN.md section 4).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gate.pb.h"
#include "gate/config.h"
#include "gate/halt.h"
#include "gate/ledger.h"
#include "gate/orders.h"
#include "gate/time_units.h"
#include "proto/decimal.h"
#include "proto/result.h"

namespace ta::gate {

// Intent fields: longest ids, largest plausible quantity or price. A value
// above kFieldValueMax (one billion) is a client bug, not a trade.
inline constexpr std::size_t kIntentIdLengthMax = 64;
inline constexpr std::size_t kStrategyLengthMax = 64;
inline constexpr std::size_t kProductLengthMax = 32;
inline constexpr std::int64_t kFieldValueMaxWhole = 1'000'000'000;
// Intent ids remembered for idempotency. Beyond this the oldest record is
// forgotten and a retry of that id would be decided afresh; 200,000 ids is
// about a week at the hard maximum order rate (600/min, counting denials
// too) and months at real rates, while retries come within seconds.
inline constexpr std::size_t kRememberedIntentsMax = 200'000;
// Finished orders kept for status queries (the journal keeps all).
inline constexpr std::size_t kClosedOrdersMax = 1'000;
// The order-rate window.
inline constexpr std::int64_t kRateWindowNs = 60 * kNanosPerSecond;
// Strategy name on orders the gate creates itself (flattening).
inline constexpr std::string_view kGateStrategy = "gate";

struct ReferencePrice {
  std::string_view product;
  Price price;
  std::int64_t ts_ns = 0;  // when the gate's own feed saw it
};

struct DecisionContext {
  std::int64_t now_ns = 0;
  bool peer_allowed = false;  // SO_PEERCRED checked against the allow-list
  // The gate's own prices (never the agent's), one per product at most.
  std::span<const ReferencePrice> reference_prices;
};

// A remembered decision: what idempotency compares and replays.
struct RememberedIntent {
  std::uint64_t fingerprint = 0;  // of the intent's content
  ipc::Decision decision;
};

// An intent and decision the gate makes itself (flattening), ready to be
// journaled as IntentDecided and applied with record_decision().
struct GateOrder {
  ipc::OrderIntent intent;
  ipc::Decision decision;
};

// Transparent string hashing, so lookups by string_view do not allocate.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Memory bounds of a GateState; the defaults are the constants above,
// tests shrink them to exercise the edges.
struct GateStateBounds {
  std::size_t remembered_intents_max = kRememberedIntentsMax;
  std::size_t closed_orders_max = kClosedOrdersMax;
};

class GateState {
 public:
  GateState(SafetyLimits limits, Ledger ledger, GateStateBounds bounds = {});

  const SafetyLimits& limits() const { return limits_; }
  const Ledger& ledger() const { return ledger_; }
  const HaltMachine& halt() const { return halt_; }
  bool ready() const { return ready_; }
  // Open (non-terminal) orders by order id.
  const std::map<std::string, Order, std::less<>>& live_orders() const { return live_orders_; }
  // The most recent finished orders, oldest first.
  const std::deque<Order>& closed_orders() const { return closed_orders_; }
  const Order* find_live_order(std::string_view order_id) const;
  const Order* find_live_order_by_intent(std::string_view intent_id) const;
  const RememberedIntent* find_intent(std::string_view intent_id) const;
  // Accepted decision times inside the rate window (at most the rate limit).
  const std::deque<std::int64_t>& accepted_times_ns() const { return accepted_times_ns_; }
  std::uint64_t next_order_number() const { return next_order_number_; }
  // The id the next accepted order gets: "o-<n>".
  std::string next_order_id() const;

  // Recovery finished (or not): NOT_READY until set.
  void set_ready(bool ready) { ready_ = ready; }

  // Applies a decision after it was journaled. Accepted decisions create the
  // order (PENDING_NEW) and count toward the rate; decisions from stage 4 on
  // are remembered for idempotency; replayed ones change nothing. Refuses a
  // decision that does not fit the state (wrong order id, unparsable
  // intent), so a corrupt journal cannot build a wrong state quietly.
  Status record_decision(const ipc::OrderIntent& intent, const ipc::Decision& decision);
  // Non-fill order events (submit, ack, cancel, reconcile, ...). Terminal
  // orders move to closed_orders().
  Status apply_order_event(std::string_view order_id, OrderEvent event, std::int64_t ts_ns);
  // A fill: updates the order and the ledger together, or neither.
  Status apply_fill(const ipc::Fill& fill);
  Status apply_mark(std::string_view product, Price price, std::int64_t ts_ns);
  Result<HaltChange> apply_halt_event(HaltEvent event, std::int64_t now_ns);
  // Daily loss limit: fires kDailyLossLimit at most once per UTC day when the
  // ledger breaches it. The caller then cancels all and flattens.
  std::optional<HaltChange> check_loss_limit(std::int64_t now_ns);
  // Ends the loss cooldown when due.
  std::optional<HaltChange> tick(std::int64_t now_ns);
  // Recovery from a snapshot or journal.
  void restore_halt(HaltState state, HaltEvent cause, std::int64_t cooldown_until_ns, std::int64_t loss_halt_day) {
    halt_.restore(state, cause, cooldown_until_ns, loss_halt_day);
  }

 private:
  void remember(const std::string& intent_id, std::uint64_t fingerprint, const ipc::Decision& decision);
  void close_if_terminal(std::map<std::string, Order, std::less<>>::iterator it);

  SafetyLimits limits_;
  GateStateBounds bounds_;
  Ledger ledger_;
  HaltMachine halt_;
  bool ready_ = false;
  std::map<std::string, Order, std::less<>> live_orders_;
  std::deque<Order> closed_orders_;
  std::unordered_map<std::string, RememberedIntent, StringHash, std::equal_to<>> intents_;
  std::deque<std::string> intent_order_;  // remembered ids, oldest first
  std::deque<std::int64_t> accepted_times_ns_;
  std::uint64_t next_order_number_ = 1;
};

// The pure decision. Never throws; every outcome is a Decision.
ipc::Decision decide(const GateState& state, const ipc::OrderIntent& intent, const DecisionContext& ctx);

// Whether record_decision() remembers this decision for idempotency (it
// came from stage 4 or later and is not itself a replay).
bool is_remembered(const ipc::Decision& decision);

// A hash of every field of the intent, for "same id, same content?".
std::uint64_t intent_fingerprint(const ipc::OrderIntent& intent);

// Cancel by intent id: allowed in every halt state; refused for an unknown
// peer, before readiness, for unknown or finished orders and for orders
// already being cancelled. On accept the caller journals the request and
// applies OrderEvent::kCancelRequest.
ipc::CancelResult decide_cancel(const GateState& state, const ipc::CancelIntent& cancel, const DecisionContext& ctx);

// Market orders that close every position (rounded down to the size
// increment; dust below it stays), created by the gate itself after a kill
// with --flatten or the daily loss limit. They bypass decide() on purpose:
// a halted gate must still be able to reduce its exposure. Products without
// a reference price are skipped and named in `skipped`.
std::vector<GateOrder> plan_flatten(const GateState& state, const DecisionContext& ctx,
                                    std::vector<std::string>* skipped);

}  // namespace ta::gate
