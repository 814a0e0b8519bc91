// AgentEngine: the agent's decision core from closed bars to order intents.
// The trading-agent daemon and trading-backtest drive the same engine, so a
// backtest and a SIM run on the same bars and fills produce the same intents.
//
// Pure and single-threaded: no clock (market time comes from the bars), no
// randomness, no I/O, no locks. Not thread-safe; call everything from one
// thread. Once warm, on_bar() allocates nothing, also when it emits intents
// (the Intent objects and their strings are reused from bar to bar).
//
// Per closed bar of product P, on_bar():
//   1. refuses the bar (counted, nothing else happens) when check_bar()
//      finds a defect, when P is not configured, or when the bar is not
//      newer than P's previous bar;
//   2. for every strategy bound to P, in configuration order: updates its
//      indicators, then acts on its lifecycle state (strategy/lifecycle.h):
//      LOOKING evaluates entries, MANAGING checks the protective stop (the
//      bar's low for a long, high for a short, touching the stop), the
//      holding limit and the exit conditions;
//   3. sizes entries (strategy/sizing.h) and returns the intents.
//
// The next-bar rule. Intents returned by on_bar(bar N) are built from bar N's
// close and must execute on bar N+1, never on bar N: the caller sends them
// to the gate at once, and the venue (SimVenue in backtest and SIM) fills a
// MARKET intent at bar N+1's open. Intent::execute_bar_open_ts_s states the
// bar; Intent::created_ts_ns is bar N's close in market time. Because bars
// are only published once closed, bar N's data cannot leak into an earlier
// decision, and the fill price cannot be bar N's.
//
// Ordering contract for parity: the gate's messages that result from bar
// N+1's open (decisions, fills) are delivered before on_bar(bar N+1). The
// backtester does so naturally; a SIM daemon must relay bar N+1 to the gate
// and apply the gate's replies before calling on_bar(bar N+1).
//
// The gate is the source of truth: positions change only through on_fill()
// and on_position(); a denied entry returns the strategy to LOOKING, a
// denied exit to MANAGING (it exits again on the next bar).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "market/bar.h"
#include "proto/decimal.h"
#include "proto/result.h"
#include "strategy/definition.h"
#include "strategy/lifecycle.h"
#include "strategy/sizing.h"

namespace ta::agent {

// Limits of one engine. Each (strategy, product) pair is a slot with its own
// indicators; 32 x 32 keeps the per-bar work and memory bounded.
inline constexpr std::size_t kEngineProductsMax = 32;
inline constexpr std::size_t kEngineStrategiesMax = 32;

enum class OrderType : std::uint8_t { kMarket };
enum class IntentPurpose : std::uint8_t { kEntry, kExit };
std::string_view to_string(IntentPurpose purpose);

// Everything needed to fill a ta::ipc::OrderIntent (strategy/ipc_convert.h
// does it).
struct Intent {
  // "<strategy>-<product>-<signal bar open_ts_s>-<n>", n = 0 for the first
  // intent of that strategy, product and bar (the engine emits at most one).
  // Deterministic: replaying the same bars after a restart yields the same
  // id, which the gate answers idempotently.
  std::string intent_id;
  std::string strategy;
  ProductId product;
  OrderSide side = OrderSide::kBuy;
  OrderType type = OrderType::kMarket;
  IntentPurpose purpose = IntentPurpose::kEntry;
  SignalReason reason = SignalReason::kNone;
  Decimal quantity;               // base units, > 0, a multiple of the base increment
  Decimal protective_stop_price;  // entries: > 0; exits: zero (not sent)
  bool reduce_only = false;       // exits
  std::int64_t signal_bar_open_ts_s = 0;   // bar N
  std::int64_t created_ts_ns = 0;          // bar N's close, market time
  std::int64_t execute_bar_open_ts_s = 0;  // bar N+1: the earliest bar that may fill it
  double reference_price = 0;              // bar N's close, used for sizing
};

// ---- messages from the gate, as plain values ------------------------------

// ta::ipc::DENY_REASON_HELD_FOR_APPROVAL (gate.proto), which the engine
// treats as "still pending" rather than as a denial.
inline constexpr std::int32_t kDenyReasonHeldForApproval = 25;

struct DecisionEvent {
  std::string intent_id;
  bool accepted = false;
  std::int32_t deny_reason = 0;  // ta::ipc::DenyReason value when denied
  Decimal quantity;              // accepted quantity (a rule may cap it); zero when unknown
};

enum class OrderEventKind : std::uint8_t {
  kWorking,    // not terminal (submitted, open, partially filled, ...): ignored
  kFilled,
  kCancelled,
  kRejected,   // by the venue
  kExpired,
};

struct OrderEvent {
  std::string intent_id;
  OrderEventKind kind = OrderEventKind::kWorking;
  Decimal filled_quantity;
};

struct FillEvent {
  std::string intent_id;
  std::string strategy;
  ProductId product;
  OrderSide side = OrderSide::kBuy;
  Decimal quantity;  // > 0
  Decimal price;
  Decimal fee;       // USD
  std::int64_t ts_ns = 0;
};

struct PositionEvent {
  std::optional<Decimal> equity;                              // USD
  std::vector<std::pair<ProductId, Decimal>> positions;       // signed base units per product
};

// ---- configuration --------------------------------------------------------

struct StrategyBinding {
  std::shared_ptr<const StrategyDefinition> strategy;
  std::vector<ProductId> products;  // empty: every configured product
  // Share of the risk budget for this strategy, in [0, 1] (capital
  // allocation between strategies; loop 2 may propose changes).
  Decimal risk_weight = Decimal::from_integer(1);
};

struct EngineConfig {
  std::vector<ProductSpec> products;
  SizingLimits sizing;
  Decimal equity;  // USD, used until on_position()/set_equity() says otherwise
  std::vector<StrategyBinding> strategies;
};

// ---- counters ---------------------------------------------------------------

// Per (strategy, product). Every reason a signal did not become an intent
// is counted here.
struct SlotCounters {
  std::uint64_t intents_entry = 0;
  std::uint64_t intents_exit = 0;
  std::uint64_t not_finite = 0;              // NaN/inf indicator, condition or stop input
  std::uint64_t short_not_allowed = 0;       // short entry on a spot product while flat
  std::uint64_t sizing_refused[kSizingOutcomeCount] = {};  // by SizingOutcome (kOk unused)
  std::uint64_t capped_by_position = 0;
  std::uint64_t capped_by_order_notional = 0;
  std::uint64_t capped_by_max_size = 0;
  std::uint64_t entries_denied = 0;          // decision denied or order ended unfilled
  std::uint64_t exits_denied = 0;
  std::uint64_t held_for_approval = 0;       // intents a gate rule held for a person (pending until settled)
  std::uint64_t stops_hit = 0;
  std::uint64_t max_holding_exits = 0;
  std::uint64_t lifecycle_refused = 0;       // an event illegal in the current state
  std::uint64_t positions_without_stop = 0;  // a position opened by a fill no entry of ours explains
  std::uint64_t fills_before_next_bar = 0;   // fill time before the intent's execution bar
  std::uint64_t trades_closed = 0;
};

// Engine-wide.
struct EngineCounters {
  std::uint64_t bars = 0;                    // accepted
  std::uint64_t bars_warm_up = 0;            // accepted by warm_up()
  std::uint64_t bars_invalid = 0;            // check_bar() defect
  std::uint64_t bars_out_of_order = 0;       // not newer than the product's previous bar
  std::uint64_t bars_unknown_product = 0;
  std::uint64_t messages_unmatched = 0;      // decision/order update for no pending intent
  std::uint64_t fills_unmatched = 0;         // fill for a strategy/product we do not run
  std::uint64_t position_mismatches = 0;     // gate snapshot differs from our per-strategy sum
};

// What one slot looks like from outside (reports, dashboards, tests).
struct SlotView {
  std::string_view strategy;
  ProductId product;
  Lifecycle state = Lifecycle::kIdle;
  bool ready = false;        // every indicator of the strategy has warmed up
  PositionSide side = PositionSide::kFlat;
  Decimal position;          // signed base units, from fills
  double stop_price = kNoPrice;
  std::int64_t bars_held = 0;
  std::string_view pending_intent_id;  // empty when nothing is in flight
  const SlotCounters* counters = nullptr;
};

class AgentEngine {
 public:
  // Validates the configuration: products (validate(ProductSpec), unique,
  // at most kEngineProductsMax), sizing limits, equity >= 0, strategies
  // (non-null, unique names, at most kEngineStrategiesMax, products known,
  // risk_weight in [0, 1]).
  [[nodiscard]] static Result<AgentEngine> create(EngineConfig config);

  AgentEngine(AgentEngine&&) noexcept;
  AgentEngine& operator=(AgentEngine&&) noexcept;
  ~AgentEngine();

  // One closed bar. Returns the intents it produced; the span is valid until
  // the next call of any non-const method.
  std::span<const Intent> on_bar(const Bar& bar);

  // A closed bar from before the live data (a restart's REST backfill):
  // refused like on_bar() (defect, unknown product, not newer than the
  // product's previous bar; counted the same way), otherwise it updates the
  // indicators of every strategy bound to the product and nothing else: no
  // signal is evaluated, no lifecycle state, stop, holding count, position
  // or cooldown changes, and nothing is emitted. A strategy warm at the end
  // evaluates its first live bar (on_bar) at once. Returns whether the bar
  // was taken.
  bool warm_up(const Bar& bar);

  // The gate's answer to an intent.
  void on_decision(const DecisionEvent& decision);
  // An order's state change; only terminal kinds matter.
  void on_order_update(const OrderEvent& update);
  // A fill: changes the position of (fill.strategy, fill.product).
  void on_fill(const FillEvent& fill);
  // A position snapshot: equity for sizing; a product the gate reports flat
  // closes every strategy position in it (kFlattened).
  void on_position(const PositionEvent& snapshot);
  // Equity for sizing (the backtester marks to market itself).
  void set_equity(Decimal equity);
  // Swaps in a new definition of a configured strategy (same name), for an
  // approved parameter change. Each of its slots gets a fresh instance whose
  // indicators warm up again on the next bars; lifecycle state, position,
  // pending intent and counters stay. Until the new indicators are ready the
  // strategy emits no entry or exit signal of its own (the protective stop
  // and the holding limit still apply). Fails for an unknown name.
  [[nodiscard]] Status replace_strategy(std::shared_ptr<const StrategyDefinition> definition);
  // The definition in use for a strategy name (nullptr when unknown).
  std::shared_ptr<const StrategyDefinition> strategy(std::string_view name) const;
  Decimal equity() const;

  // Inspection. Slots are ordered by product (configuration order), then
  // strategy (configuration order).
  std::size_t slot_count() const;
  SlotView slot(std::size_t index) const;
  std::optional<SlotView> find_slot(std::string_view strategy, ProductId product) const;
  const EngineCounters& counters() const;

 private:
  struct Impl;
  explicit AgentEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ta::agent
