// The gate's decision core: the state that decisions read (GateState) and
// the pure function that makes them (decide()).
//
// decide() reads the state, the intent and a context (time, peer identity,
// reference prices, the rule set) and returns a Decision, plus the rule
// facts it used and whether a rule asked for a halt. It has no side
// effects, reads no clock and does no I/O, so the same inputs always give
// the same decision. The caller journals the decision durably and only then
// applies it with GateState::record_decision(); replaying the journal
// through the same record_/apply_ methods rebuilds the same state without
// evaluating any rule again (the journaled decision is the record).
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
//   7. rules        the rule DSL (docs/rule-dsl.md): deny or halt (RULE),
//                   caps on quantity or notional (rounded down to the size
//                   increment; below size_min: RULE), forced reduce_only
//                   (checked as reduce-only: RULE), hold for approval
//                   (HELD_FOR_APPROVAL), warnings (counted)
//   8. rate         accepted orders in the last 60 s
//
// Rules run only on intents that passed every hard limit, and they can only
// deny, shrink or restrict an order: no rule can loosen a hard limit.
//
// An order "shrinks exposure" iff its side is opposite to the current
// position and its quantity is at most |position| minus the remaining
// quantity of open orders on the same (opposite-to-position) side.
//
// Not thread-safe: one thread owns a GateState (DESIGN.md section 4).
#pragma once

#include <array>
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
#include "gate/intent_memory.h"
#include "gate/ledger.h"
#include "gate/market_stats.h"
#include "gate/orders.h"
#include "gate/time_units.h"
#include "journal_records.pb.h"
#include "proto/decimal.h"
#include "proto/result.h"
#include "rules/rules.h"

namespace ta::gate {

// Intent fields: longest ids, largest plausible quantity or price. A value
// above kFieldValueMax (one billion) is a client bug, not a trade.
inline constexpr std::size_t kIntentIdLengthMax = 64;
inline constexpr std::size_t kStrategyLengthMax = 64;
inline constexpr std::size_t kProductLengthMax = 32;
inline constexpr std::int64_t kFieldValueMaxWhole = 1'000'000'000;
// Intent ids remembered for idempotency (IntentMemory, gate/intent_memory.h:
// about 60 bytes each: a full memory is about 12 MB, 14 MiB of the
// daemon's VmRSS, docs/performance-gate-daemon.md). Beyond this the oldest
// is forgotten; an intent created at or before the latest creation time
// forgotten (it may be a retry of a forgotten one) is then denied
// INTENT_TOO_OLD, never decided afresh. 200,000 ids is about a week at the
// hard maximum order rate (600/min, counting denials too) and months at
// real rates, while retries come within seconds.
inline constexpr std::size_t kRememberedIntentsMax = 200'000;
// Finished orders kept for status queries (the journal keeps all).
inline constexpr std::size_t kClosedOrdersMax = 1'000;
// The order-rate window.
inline constexpr std::int64_t kRateWindowNs = 60 * kNanosPerSecond;
// Strategy name on orders the gate creates itself (flattening).
inline constexpr std::string_view kGateStrategy = "gate";
// Orders held for approval at once. A rule that holds more is a rule that
// needs rewriting, not a queue for a person to wade through; beyond the
// limit a held intent is denied (RULE) instead of queued.
inline constexpr std::size_t kPendingHoldsMax = 64;
// Decision times kept for stats.orders_last_minute: more than the largest
// configurable order rate (600/min) counting denials; the fact saturates here.
inline constexpr std::size_t kRecentIntentsMax = 1'024;
// Rule ids with a hit counter while no RulesLoaded record has told the
// state which rules are loaded (tools and tests that record decisions
// without one): four rule sets' worth (kRuleCountMax each). Hits of further
// ids are counted in rule_hits_untracked(). Once the loaded set is known,
// only its rules have counters, at most kRuleCountMax.
inline constexpr std::size_t kRuleHitIdsMax = 4 * rules::kRuleCountMax;

// Names of the Decision fields that carry hold bookkeeping through the
// journal (values are decimal strings).
inline constexpr std::string_view kFieldHoldExpiry = "hold_expiry_s";   // on a HELD_FOR_APPROVAL decision
inline constexpr std::string_view kFieldHoldReleased = "hold_released"; // "1": an operator approved the hold
inline constexpr std::string_view kFieldHoldRejected = "hold_rejected"; // "1": an operator rejected it
inline constexpr std::string_view kFieldHoldExpired = "hold_expired";   // "1": nobody decided in time
inline constexpr std::string_view kFieldRequestedQuantity = "requested_quantity";  // when a rule capped it

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
  // The rule set of stage 7. nullptr skips stage 7 entirely: no facts are
  // gathered and none returned (tests of the hard limits, tools); the
  // daemon always passes its current set, which may be empty. Must outlive
  // the call only.
  const rules::RuleSet* rules = nullptr;
};

// Who acts on the admin socket. Approving a held order or a proposal takes
// one: those functions are for the admin path only, and the agent's
// message path has no operator to pass.
class OperatorId {
 public:
  // 1 to 64 characters of [A-Za-z0-9._@:-] (a user name, "uid:1000").
  static Result<OperatorId> make(std::string_view name);
  const std::string& name() const { return name_; }

 private:
  explicit OperatorId(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

// The facts the rule stage read for one intent, owning copies of the
// product and strategy names (rules::Facts only views them), so a snapshot
// can be kept, copied and journaled after the intent is gone.
class FactsSnapshot {
 public:
  FactsSnapshot() = default;
  // Names longer than kProductLengthMax / kStrategyLengthMax are cut; the
  // gate never produces such facts (stage 1 refuses the intent).
  explicit FactsSnapshot(const rules::Facts& facts);
  // The facts, viewing this snapshot's names: valid while it lives.
  rules::Facts facts() const;

 private:
  rules::Facts facts_;  // names left empty; facts() points them here
  std::array<char, kProductLengthMax> product_{};
  std::array<char, kStrategyLengthMax> strategy_{};
  std::uint8_t product_size_ = 0;
  std::uint8_t strategy_size_ = 0;
};

// For IntentDecided.rule_facts, and back (for what-if). from_proto refuses
// unparsable decimals, unknown enums and names that are too long.
ipc::RuleFacts to_proto(const rules::Facts& facts);
Result<FactsSnapshot> facts_from_proto(const ipc::RuleFacts& facts);

// What decide() returns.
struct DecideResult {
  ipc::Decision decision;
  // The facts of stage 7, present when the intent reached it (it passed
  // every hard limit and ctx.rules was set), whether or not a rule fired.
  // Journal them as IntentDecided.rule_facts (to_proto()).
  std::optional<FactsSnapshot> rule_facts;
  // A rule's 'halt' fired (the decision is a RULE denial): after journaling
  // the decision, apply HaltEvent::kRuleHalt with decision.detail as reason.
  bool rule_halt = false;
};

// An order held for approval (DENY_REASON_HELD_FOR_APPROVAL), waiting in
// the GateState until an operator approves or rejects it or it expires.
struct PendingHold {
  ipc::OrderIntent intent;
  ipc::Decision decision;      // the held decision: capped quantity, final reduce_only, rules_fired
  std::int64_t held_ts_ns = 0;
  std::int64_t expires_ts_ns = 0;  // held_ts_ns + the shortest 'within' of the holding rules
};

// Statistics of the account's own trading, kept from journaled fills (so a
// replay rebuilds them) for the time.* and stats.* rule facts.
//
// * A stop-out is a fill that reduces a position at a price worse than the
//   position's average cost: its realized P&L (gross of fees) is negative.
// * A trade runs from the fill that opens a position in a product (from
//   flat) to the fill that closes it (back to flat, or through zero: a flip
//   closes one trade and opens the next). Its P&L is the realized P&L of
//   its fills less their fees (a flipping fill's whole fee goes to the
//   closed trade). consecutive_losses counts trades in a row, across
//   products, whose P&L was negative; any other closed trade resets it.
// * fills_today counts fills in the UTC day of the latest fill.
struct TradeStats {
  bool stopped_out = false;            // a stop-out happened
  std::int64_t last_stop_out_ts_ns = 0;
  std::int64_t consecutive_losses = 0;
  std::int64_t fills_day = 0;          // utc_day() of the latest fill
  std::int64_t fills_in_day = 0;
};

// An exact running sum of non-negative "wide" amounts (a quantity times a
// price, in 1e-16 units; each below 2^126) that can be decreased exactly
// again: value = carries x 2^126 + low, 0 <= low < 2^126. saturated() is
// min(value, 2^126), which is what the limit checks compare (they treat
// everything from 2^126 up as "too much").
struct WideSum {
  static constexpr Int128 kUnit = Int128{1} << 126;
  Int128 low = 0;
  std::uint64_t carries = 0;

  void add(Int128 v) {
    low += v;
    while (low >= kUnit) {
      low -= kUnit;
      ++carries;
    }
  }
  void sub(Int128 v) {
    low -= v;
    while (low < 0) {
      low += kUnit;
      --carries;
    }
  }
  Int128 saturated() const { return carries > 0 ? kUnit : low; }
  friend bool operator==(const WideSum&, const WideSum&) = default;
};

// What the live orders of one product hold, kept by GateState on every
// order change (creation, fill, finish), so that decide() reads these sums
// instead of walking every open order per intent. Remaining = quantity -
// filled; notional = remaining x the order's decision price.
struct ProductOrderTotals {
  std::string product;
  std::size_t count = 0;          // live orders
  Int128 buy_remaining = 0;       // 1e-8 units
  Int128 sell_remaining = 0;      // 1e-8 units
  Int128 growing_remaining = 0;   // of orders that grow exposure (Order::grows_exposure)
  WideSum buy_notional;           // of buys, 1e-16 units
  WideSum growing_notional;       // of orders that grow exposure, 1e-16 units
  friend bool operator==(const ProductOrderTotals&, const ProductOrderTotals&) = default;
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
  // At least 1 (IntentMemory). The backtester, in which no intent id can
  // repeat (it checks that it cannot), keeps 1,024; a daemon the default.
  std::size_t remembered_intents_max = kRememberedIntentsMax;
  std::size_t closed_orders_max = kClosedOrdersMax;
  std::size_t pending_holds_max = kPendingHoldsMax;
  std::size_t recent_intents_max = kRecentIntentsMax;
  std::size_t rule_hit_ids_max = kRuleHitIdsMax;
};

class GateState {
 public:
  GateState(SafetyLimits limits, Ledger ledger, GateStateBounds bounds = {});

  const SafetyLimits& limits() const { return limits_; }
  const GateStateBounds& bounds() const { return bounds_; }
  const Ledger& ledger() const { return ledger_; }
  const HaltMachine& halt() const { return halt_; }
  bool ready() const { return ready_; }
  // Open (non-terminal) orders by order id.
  const std::map<std::string, Order, std::less<>>& live_orders() const { return live_orders_; }
  // The most recent finished orders, oldest first.
  const std::deque<Order>& closed_orders() const { return closed_orders_; }
  const Order* find_live_order(std::string_view order_id) const;
  const Order* find_live_order_by_intent(std::string_view intent_id) const;
  // The remembered decision of an intent id (decoded from the compact
  // memory), or nullopt.
  std::optional<RememberedIntent> find_intent(std::string_view intent_id) const;
  const IntentMemory& intent_memory() const { return intents_; }
  // Accepted decision times inside the rate window (at most the rate limit).
  const std::deque<std::int64_t>& accepted_times_ns() const { return accepted_times_ns_; }
  std::uint64_t next_order_number() const { return next_order_number_; }
  // The id the next accepted order gets: "o-<n>".
  std::string next_order_id() const;
  // Times of recorded decisions (stage 5 on, newest last), at most
  // bounds().recent_intents_max: stats.orders_last_minute.
  const std::deque<std::int64_t>& recent_intent_times_ns() const { return recent_intent_times_ns_; }
  // Orders held for approval, by intent id.
  const std::map<std::string, PendingHold, std::less<>>& pending_holds() const { return holds_; }
  const PendingHold* find_hold(std::string_view intent_id) const;
  // How often each rule fired, by rule id, counted from recorded decisions
  // (so a replay gives the same counts). For the admin socket. Once
  // apply_rules_loaded() has named the loaded rules, a counter counts one
  // version of one loaded rule: see apply_rules_loaded().
  const std::map<std::string, std::uint64_t, std::less<>>& rule_hits() const { return rule_hits_; }
  // Hits no counter holds: ids beyond bounds().rule_hit_ids_max, and hits
  // of rules that are not loaded (a held order released after its rule was
  // reloaded away).
  std::uint64_t rule_hits_untracked() const { return rule_hits_untracked_; }
  // The loaded rules (id -> version) from the last apply_rules_loaded();
  // empty before one.
  const std::map<std::string, std::uint32_t, std::less<>>& loaded_rule_versions() const { return loaded_rules_; }
  const TradeStats& trade_stats() const { return trade_stats_; }
  // Sums over the live orders, one entry per product that has any (in the
  // order the products got their first live order); nullptr for a product
  // without live orders.
  const std::vector<ProductOrderTotals>& order_totals() const { return order_totals_; }
  const ProductOrderTotals* order_totals(std::string_view product) const;
  // The same sums counted afresh from live_orders(): the invariant
  // order_totals() == recount_order_totals() (as sets of products) is
  // checked after every order change in debug builds and by the tests.
  std::vector<ProductOrderTotals> recount_order_totals() const;
  bool order_totals_match_recount() const;
  // The market statistics of a product; nullptr before its first bar or quote.
  const MarketStats* market_stats(std::string_view product) const;

  // The rule set the gate decides with from now on, from a RulesLoaded
  // record (journaled at start and after every reload; applied live when
  // the set comes into force and in replay at the record). Hit counters
  // survive for the rules still loaded with the same id and version; a
  // rule that is gone or has another version starts again from zero. A
  // record with `failed` set changes nothing. A record written before
  // RulesLoaded listed its rules (rule_count > 0, no rules) leaves the
  // loaded set unknown: counters are then kept by id, as before any
  // record. Refuses more than rules::kRuleCountMax rules or an id listed
  // twice (nothing changes).
  Status apply_rules_loaded(const ipc::RulesLoaded& loaded);

  // Recovery finished (or not): NOT_READY until set.
  void set_ready(bool ready) { ready_ = ready; }

  // Applies a decision after it was journaled. Accepted decisions create the
  // order (PENDING_NEW) and count toward the rate; decisions from stage 4 on
  // are remembered for idempotency, counted for stats.orders_last_minute
  // and add their rules_fired to the hit counters; replayed ones change
  // nothing. A HELD_FOR_APPROVAL decision adds a pending hold; a decision
  // marked hold_released / hold_rejected / hold_expired (from
  // approve_hold(), reject_hold(), expire_holds()) settles one and replaces
  // the remembered decision, so a retry of the intent id then gets the
  // final answer. Refuses a decision that does not fit the state (wrong
  // order id, unparsable intent, no such hold, holds full), so a corrupt
  // journal cannot build a wrong state quietly. Never evaluates rules.
  Status record_decision(const ipc::OrderIntent& intent, const ipc::Decision& decision);
  // Non-fill order events (submit, ack, cancel, reconcile, ...). Terminal
  // orders move to closed_orders().
  Status apply_order_event(std::string_view order_id, OrderEvent event, std::int64_t ts_ns);
  // The venue reached a live STOP_LIMIT order's stop: from `limit_from_ns`
  // on it acts as a limit order (Order::stop_limit_from_ns). Refuses an
  // order that is not live or not a stop-limit, and a second trigger.
  Status apply_stop_triggered(std::string_view order_id, std::int64_t limit_from_ns);
  // A fill: updates the order, the ledger and the trade statistics
  // together, or none of them.
  Status apply_fill(const ipc::Fill& fill);
  Status apply_mark(std::string_view product, Price price, std::int64_t ts_ns);
  // Market data from the gate's own feed (SIM: the relayed replay bars) for
  // the market.* rule facts; see market_stats.h. Refuses products that
  // safety.yaml does not allow and bars out of order. Does not mark the
  // ledger: marks are journaled separately (apply_mark).
  Status apply_bar(const Bar& bar);
  Status apply_quote(std::string_view product, Price bid, Price ask, std::int64_t ts_ns);
  Result<HaltChange> apply_halt_event(HaltEvent event, std::int64_t now_ns);
  // Daily loss limit: fires kDailyLossLimit at most once per UTC day when the
  // ledger breaches it. The caller then cancels all and flattens.
  std::optional<HaltChange> check_loss_limit(std::int64_t now_ns);
  // Ends the loss cooldown when due.
  std::optional<HaltChange> tick(std::int64_t now_ns);
  // Positions should still be closed: the halt state wants them flat
  // (HaltMachine::flatten_wanted(): after kill --flatten or the daily loss
  // limit, until the gate is ACTIVE or REDUCING again) and the venue has
  // not rejected one of the gate's own flatten orders since the flattening
  // began (retrying a rejected one could repeat forever; a person must
  // look). While it holds, the caller calls plan_flatten() again after
  // each bar's venue events, so quantity that a cancelled, expired or
  // rejected in-flight order no longer covers is closed too.
  bool flatten_in_force() const { return halt_.flatten_wanted() && !flatten_refused_; }
  // Recovery from a snapshot or journal.
  void restore_halt(HaltState state, HaltEvent cause, std::int64_t cooldown_until_ns, std::int64_t loss_halt_day,
                    bool flatten_wanted = false) {
    halt_.restore(state, cause, cooldown_until_ns, loss_halt_day, flatten_wanted);
  }

 private:
  void remember(const ipc::OrderIntent& intent, const ipc::Decision& decision);
  void close_if_terminal(std::map<std::string, Order, std::less<>>::iterator it);
  // Adds (sign +1) or removes (sign -1) a live order's share of order_totals_.
  void count_order(const Order& o, int sign);
  void check_order_totals() const;
  Status create_order(const ipc::OrderIntent& intent, const ipc::Decision& decision);
  Status settle_hold(const ipc::OrderIntent& intent, const ipc::Decision& decision);
  void count_rule_hits(const ipc::Decision& decision);
  void update_trade_stats(const Position& before, const Position& after, const ipc::Fill& fill);
  MarketStats* market_stats_for(std::string_view product);

  SafetyLimits limits_;
  GateStateBounds bounds_;
  Ledger ledger_;
  HaltMachine halt_;
  bool flatten_refused_ = false;  // a gate flatten order was rejected since the flattening began
  bool ready_ = false;
  std::map<std::string, Order, std::less<>> live_orders_;
  std::vector<ProductOrderTotals> order_totals_;
  std::deque<Order> closed_orders_;
  IntentMemory intents_;
  std::deque<std::int64_t> accepted_times_ns_;
  std::uint64_t next_order_number_ = 1;
  std::deque<std::int64_t> recent_intent_times_ns_;
  std::map<std::string, PendingHold, std::less<>> holds_;
  std::map<std::string, std::uint64_t, std::less<>> rule_hits_;
  std::uint64_t rule_hits_untracked_ = 0;
  std::map<std::string, std::uint32_t, std::less<>> loaded_rules_;
  bool loaded_rules_known_ = false;
  TradeStats trade_stats_;
  // Realized P&L and fees of a product when its current trade opened.
  struct TradeStart {
    Notional realized_pnl;
    Notional fees;
  };
  std::map<std::string, TradeStart, std::less<>> trade_starts_;
  // Per allowed product, in limits_.products order (so a bar costs one
  // product lookup, not a map search by name).
  std::vector<MarketStats> market_stats_;
};

// The pure decision. Never throws; every outcome is a Decision.
DecideResult decide(const GateState& state, const ipc::OrderIntent& intent, const DecisionContext& ctx);
// The same into an existing result, which is cleared first and keeps the
// storage of its message: a caller that decides intent after intent
// (replays, the backtester) allocates nothing per decision once warm.
void decide(const GateState& state, const ipc::OrderIntent& intent, const DecisionContext& ctx, DecideResult& out);

// The facts stage 7 would give the rules for this intent in this state
// (decided with an empty rule set), or nullopt when the intent does not
// reach stage 7. For tools and benchmarks; a decision already returns them.
std::optional<FactsSnapshot> rule_facts_for(const GateState& state, const ipc::OrderIntent& intent,
                                            const DecisionContext& ctx);

// A held order's settlement: the original intent and the decision to
// journal as IntentDecided and then record_decision().
struct HoldDecision {
  ipc::OrderIntent intent;
  DecideResult result;
};

// An operator approves the held intent `intent_id` (admin socket only).
// The intent is decided again now, from stage 5 on, against the current
// state, reference prices and rules, with the hold counted as approved; the
// quantity is at most the held quantity and reduce_only stays if it was
// forced. The decision is accepted (the order to submit: journal,
// record_decision(), then submit as usual) or a denial; either way it is
// marked hold_released and settles the hold. Refused (error) when there is
// no such pending hold or it has expired at ctx.now_ns.
Result<HoldDecision> approve_hold(const GateState& state, std::string_view intent_id, const OperatorId& who,
                                  const DecisionContext& ctx);
// An operator rejects a held intent: a RULE denial marked hold_rejected.
Result<HoldDecision> reject_hold(const GateState& state, std::string_view intent_id, const OperatorId& who,
                                 std::string_view reason, std::int64_t now_ns);
// Every pending hold whose expiry is at or before now_ns, as RULE denials
// marked hold_expired, in intent id order. Call on a timer.
std::vector<HoldDecision> expire_holds(const GateState& state, std::int64_t now_ns);

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

// Market orders that close every position, created by the gate itself
// after a kill with --flatten or the daily loss limit. They bypass decide()
// on purpose: a halted gate must still be able to reduce its exposure.
//
// Orders already in flight on the closing side (sells of a long position,
// buys of a short one, in any live state: a cancel may lose its race with
// a fill, and an UNKNOWN order may still fill) are counted as if they will
// fill: each product's order is for |position| minus their remaining
// quantity, rounded down to the size increment. So the closing-side
// quantity in flight never exceeds the position: spot is never oversold.
// The halt's cancel_all asks the venue to cancel those orders first; what
// each cancel frees is closed by the next call, which the caller makes
// while GateState::flatten_in_force() holds ("cancel, then flatten what
// the cancel freed"; docs/gate-core.md, Flattening).
//
// Products without a reference price, or whose uncovered quantity is below
// the size increment (dust), are skipped and named in `skipped`; products
// fully covered by orders in flight produce nothing and are not named.
std::vector<GateOrder> plan_flatten(const GateState& state, const DecisionContext& ctx,
                                    std::vector<std::string>* skipped);

}  // namespace ta::gate
