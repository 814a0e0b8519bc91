// run_backtest(): the lockstep of backtest/run.h. A Book is one account:
// engine, gate state and venue; the runner walks the merged bars and hands
// each bar to every book.
#include "backtest/run.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <thread>

#include "gate/core.h"
#include "gate/sim_venue.h"
#include "gate/time_units.h"
#include "gate_compat.h"
#include "strategy/ipc_convert.h"

namespace ta::backtest {
namespace {

// Intent ids each book's gate remembers (see Book::bounds()).
constexpr std::size_t kRememberedIntentsInReplay = 1'024;

// The first bar a book (or the bar relay) failed on, and why.
struct BookFailure {
  bool failed = false;
  std::size_t bar = 0;  // index into MarketData::bars
  std::string message;
  bool in_book = true;  // false: the reference path's bar relay failed
};

// The products of one run, in ProductId order, with everything the books
// look up per bar.
struct RunProducts {
  std::vector<agent::ProductId> ids;
  std::vector<std::string> names;
  std::vector<agent::ProductSpec> specs;

  std::size_t index_of(const agent::ProductId& id) const {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] == id) return i;
    }
    return ids.size();
  }
  std::size_t index_of_name(std::string_view name) const {
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) return i;
    }
    return names.size();
  }
};

bool opposite(ipc::Side side, Quantity position) {
  return side == ipc::SIDE_BUY ? position.is_negative() : position.is_positive();
}

// The per-strategy ledger behind trade records: the gate's accounting
// applied to this strategy's fills only, so trade P&L is exact.
struct Shadow {
  struct OpenTrade {
    std::size_t index = 0;  // into BookResult::trades
    Notional start_realized;
    Notional start_fees;
  };
  std::string strategy;
  gate::Ledger ledger;
  std::vector<std::optional<OpenTrade>> open;  // per run product
};

class Book {
 public:
  Book(const BacktestConfig& config, const BookSetup& setup, const RunProducts& products, agent::AgentEngine engine,
       std::int64_t start_ts_ns, bool reference)
      : config_(config),
        products_(products),
        reference_(reference),
        market_facts_(reference || config.rules_enabled),
        engine_(std::move(engine)),
        state_(limits_for(config, setup), gate::Ledger(setup.capital, start_ts_ns), bounds(reference)),
        venue_(venue_config(config), config.gate.gate.products) {
    state_.set_ready(true);
    deferred_.resize(products.ids.size());
    venue_open_ns_.assign(products.ids.size(), -1);
    sent_equity_ = setup.capital;
    sent_quantity_.resize(products.ids.size());
    quantity_.resize(products.ids.size());
    refs_.resize(products.ids.size());
    for (std::size_t i = 0; i < products.ids.size(); ++i) refs_[i].product = products.names[i];
    result_.name = setup.name;
    result_.capital = setup.capital;
    for (const StrategySetup& s : setup.strategies) {
      result_.strategies.push_back(s.definition->name());
      shadows_.push_back(make_shadow(s.definition->name(), start_ts_ns));
    }
    start_ts_ns_ = start_ts_ns;
  }

  // G1..A3 of run.h for one bar.
  //
  // The direct path skips gate work that cannot change anything, and does
  // so exactly (the reference path skips nothing; tests require identical
  // results):
  // * the venue is not shown a bar of a product it holds no order for and
  //   that carries no quote (it would only note the bar's time); it is shown
  //   the bar before any submit or cancel, so arrival times are the same;
  // * when, in addition, the book is flat in the product and no loss
  //   cooldown is running, the mark is deferred (it cannot change equity)
  //   and the loss check and tick are skipped (with equity unchanged they
  //   cannot fire; the day roll they would make gives the same figures
  //   later). The deferred mark is applied before the product's next fill,
  //   before any decision of this bar (with the loss check and tick, which
  //   must then change nothing) and at the end of the run;
  // * the market facts (GateState::apply_bar) are kept only when rules are
  //   evaluated: decide() reads them in the rule stage alone, and orders
  //   held for approval come only from rules, so with rules off nothing
  //   reads them (and the bars were checked when loaded, so applying them
  //   could not fail either).
  Status on_bar(std::size_t p, const agent::Bar& bar, const gate::Bar& gbar) {
    const std::int64_t now = bar.close_ts_s() * gate::kNanosPerSecond;
    current_p_ = p;
    current_bar_ = &gbar;
    last_now_ = now;
    refs_[p].price = gbar.close;
    refs_[p].ts_ns = now;
    const bool venue_idle = !reference_ && !bar.quote && !has_live_orders(p);
    const bool ledger_idle = venue_idle && quantity_[p].is_zero() && !cooldown_running() &&
                             !state_.flatten_in_force() && !compat::has_pending_holds(state_);
    if (ledger_idle) {
      if (auto st = market_facts(gbar); !st) return st;
      deferred_[p] = DeferredMark{true, gbar.close, now};
      gate_current_ = false;
    } else {
      if (auto st = gate_step(p, gbar, now, venue_idle); !st) return st;
      gate_current_ = true;
    }
    // A1..A3: the agent's intents of this bar.
    const std::span<const agent::Intent> intents = engine_.on_bar(bar);
    if (intents.empty()) return {};
    if (!gate_current_) {
      if (auto st = catch_up(p, now); !st) return st;
    }
    return decide_intents(intents, bar, now);
  }

  // G1..G4 for a bar the gate must process.
  Status gate_step(std::size_t p, const gate::Bar& gbar, std::int64_t now, bool venue_idle) {
    if (auto st = flush_mark(p); !st) return st;
    // G1: the venue works the orders sent earlier.
    if (!venue_idle) {
      auto events = venue_.on_bar(gbar);
      if (!events) return events.error();
      venue_open_ns_[p] = gbar.open_ts_ns;
      for (const gate::VenueEvent& e : *events) {
        if (auto st = apply_venue_event(e, p, gbar); !st) return st;
      }
    }
    // G2: the gate's own prices.
    if (auto st = market_facts(gbar); !st) return st;
    if (auto st = state_.apply_mark(gbar.product, gbar.close, now); !st) return st;
    // G3: protections.
    if (auto change = state_.check_loss_limit(now)) {
      if (auto st = on_halt(*change, now); !st) return st;
    }
    if (auto change = state_.tick(now)) {
      if (auto st = on_halt(*change, now); !st) return st;
    }
    // What a cancelled or expired exit no longer covers (as trading-gate
    // does after each bar while the flattening lasts).
    if (state_.flatten_in_force()) {
      if (auto st = flatten(now); !st) return st;
    }
    if (auto st = expire_holds(now); !st) return st;
    // G4: the position snapshot, when it changed.
    return send_position(now);
  }

  Status market_facts(const gate::Bar& gbar) {
    if (!market_facts_) return {};
    return compat::apply_bar(state_, gbar);
  }

  // Orders held for approval whose time ran out: their denials are recorded
  // and go to the engine, whose slot has kept the held intent pending
  // (as trading-agent does until trading-gate pushes the settlement).
  Status expire_holds(std::int64_t now) {
    return compat::for_each_expired_hold(state_, now, [&](const ipc::OrderIntent& intent,
                                                          const ipc::Decision& decision) -> Status {
      if (auto st = state_.record_decision(intent, decision); !st) return st;
      auto event = agent::decision_from_ipc(decision);
      if (!event) return event.error();
      engine_.on_decision(*event);
      return {};
    });
  }

  // Before deciding on a bar whose gate step was skipped: the mark, the loss
  // check and the tick that step would have made. Anything but the mark
  // changing state here means a skipping rule is wrong: a bug, reported.
  Status catch_up(std::size_t p, std::int64_t now) {
    if (auto st = flush_mark(p); !st) return st;
    const bool fired = state_.check_loss_limit(now).has_value() || state_.tick(now).has_value();
    if (fired || snapshot_changed()) {
      return make_error("internal: a skipped gate step would have changed the state (backtester bug)");
    }
    gate_current_ = true;
    return {};
  }

  Status flush_mark(std::size_t p) {
    DeferredMark& d = deferred_[p];
    if (!d.pending) return {};
    d.pending = false;
    return state_.apply_mark(products_.names[p], d.price, d.ts_ns);
  }

  // The venue sees the current bar before a submit or cancel, so its clock
  // (arrival times) is the bar's close, as if it had seen every bar.
  Status venue_current() {
    if (venue_open_ns_[current_p_] >= current_bar_->open_ts_ns) return {};
    auto events = venue_.on_bar(*current_bar_);
    if (!events) return events.error();
    venue_open_ns_[current_p_] = current_bar_->open_ts_ns;
    if (!events->empty()) return make_error("internal: a bar shown late to the venue had events (backtester bug)");
    return {};
  }

  bool has_live_orders(std::size_t p) const {
    for (const auto& [id, o] : state_.live_orders()) {
      if (o.product == products_.names[p]) return true;
    }
    return false;
  }

  // tick() can only act while the daily-loss cooldown holds the gate.
  bool cooldown_running() const {
    const gate::HaltMachine& h = state_.halt();
    return h.state() == gate::HaltState::kHalted && h.cause() == gate::HaltEvent::kDailyLossLimit;
  }

  // The end of the run: deferred marks in time order, then the last bar's
  // loss check (its day roll), which must change nothing else.
  Status finish_gate() {
    if (!gate_current_) {
      std::vector<std::size_t> order;
      for (std::size_t i = 0; i < deferred_.size(); ++i) {
        if (deferred_[i].pending) order.push_back(i);
      }
      std::stable_sort(order.begin(), order.end(),
                       [&](std::size_t a, std::size_t b) { return deferred_[a].ts_ns < deferred_[b].ts_ns; });
      for (std::size_t i : order) {
        if (auto st = flush_mark(i); !st) return st;
      }
      if (state_.check_loss_limit(last_now_).has_value() || state_.tick(last_now_).has_value() || snapshot_changed()) {
        return make_error("internal: a skipped gate step would have changed the state (backtester bug)");
      }
    }
    for (std::size_t i = 0; i < deferred_.size(); ++i) {
      if (auto st = flush_mark(i); !st) return st;
    }
    return {};
  }

  // After the last bar of a minute.
  void end_step() {
    const gate::Ledger& l = state_.ledger();
    result_.equity_units.push_back(l.equity().units());
    result_.exposed.push_back(held_products_ > 0 ? 1 : 0);
  }

  Result<BookResult> finish() {
    if (auto st = finish_gate(); !st) return st.error();
    result_.ledger = state_.ledger();
    result_.engine = engine_.counters();
    for (std::size_t i = 0; i < engine_.slot_count(); ++i) {
      const agent::SlotView v = engine_.slot(i);
      result_.slots.push_back(SlotSummary{std::string(v.strategy), v.product, *v.counters});
    }
    return std::move(result_);
  }

  const std::string& name() const { return result_.name; }

 private:
  static gate::SafetyLimits limits_for(const BacktestConfig& config, const BookSetup& setup) {
    gate::SafetyLimits limits = config.gate.safety;
    limits.starting_cash = setup.capital;
    return limits;
  }
  // The gate's idempotency memory answers retries of an intent id. In a
  // replay no id repeats: the engine names each intent after its strategy,
  // product and signal bar (strategy/engine.h), emits at most one per
  // strategy, product and bar, and bars strictly increase per product
  // (decide_intents() checks the intents against that). So the memory
  // never answers; the gate's 200,000 entries would only cost memory and
  // cache misses in the direct path, which keeps kRememberedIntentsInReplay.
  // Its size could change a result only through the forgotten-intent rule
  // (INTENT_TOO_OLD for an intent created no later than one already
  // forgotten), which needs more than that many intents created at one bar
  // close; a replayed, conflicting or too-old decision is treated as a bug
  // (decide_intents), so that never passes silently. The reference path
  // keeps the daemon's memory, as a SIM gate does, and the tests compare
  // the two.
  static gate::GateStateBounds bounds(bool reference) {
    gate::GateStateBounds b;
    if (!reference) b.remembered_intents_max = kRememberedIntentsInReplay;
    return b;
  }
  static gate::SimVenueConfig venue_config(const BacktestConfig& config) {
    gate::SimVenueConfig c = config.gate.gate.sim;
    c.seed = config.seed;
    return c;
  }
  Shadow make_shadow(const std::string& strategy, std::int64_t start_ts_ns) const {
    Shadow s;
    s.strategy = strategy;
    s.ledger = gate::Ledger(Notional(), start_ts_ns);
    s.open.resize(products_.ids.size());
    return s;
  }

  // ------------------------------------------------------------ gate side

  Status apply_venue_event(const gate::VenueEvent& e, std::size_t p, const gate::Bar& gbar) {
    gate::OrderEvent event = gate::OrderEvent::kAck;
    switch (e.kind) {
      case gate::VenueEventKind::kFill:
        return apply_fill(e, p, gbar);
      case gate::VenueEventKind::kAck:
        event = gate::OrderEvent::kAck;
        break;
      case gate::VenueEventKind::kReject:
        event = gate::OrderEvent::kReject;
        break;
      case gate::VenueEventKind::kCancelled:
        event = gate::OrderEvent::kCancelAck;
        break;
      case gate::VenueEventKind::kExpired:
        event = gate::OrderEvent::kExpire;
        break;
      case gate::VenueEventKind::kTriggered:
        // As in trading-gate (no order state change; the agent is not told).
        return state_.apply_stop_triggered(e.order_id, e.ts_ns);
    }
    if (auto st = state_.apply_order_event(e.order_id, event, e.ts_ns); !st) return st;
    return deliver_update(e.order_id);
  }

  Status apply_fill(const gate::VenueEvent& e, std::size_t p, const gate::Bar& gbar) {
    const gate::Order* order = state_.find_live_order(e.order_id);
    if (order == nullptr) return make_error("fill for order " + e.order_id + ", which the gate does not hold");
    if (result_.fills.size() >= kBookFillsMax) {
      return make_error("book '" + result_.name + "' made more than " + std::to_string(kBookFillsMax) + " fills");
    }
    ipc::Fill& fill = fill_;
    fill.set_fill_id("f-" + std::to_string(++fill_count_));
    fill.set_order_id(order->order_id);
    fill.set_intent_id(order->intent_id);
    fill.set_strategy(order->strategy);
    fill.set_product(order->product);
    fill.set_side(order->side);
    fill.set_quantity(e.quantity.to_string());
    fill.set_price(e.price.to_string());
    fill.set_fee(e.fee.to_string());
    fill.set_liquidity(e.liquidity);
    fill.set_ts_ns(e.ts_ns);
    FillRecord rec;
    rec.strategy = order->strategy;
    rec.intent_id = order->intent_id;
    rec.order_id = order->order_id;
    rec.product = products_.ids[p];
    rec.side = order->side;
    rec.quantity = e.quantity;
    rec.price = e.price;
    rec.fee = e.fee;
    rec.liquidity = e.liquidity;
    rec.ts_ns = e.ts_ns;
    rec.bar_open = gbar.open;
    if (auto st = state_.apply_fill(fill); !st) return st;  // order may now be closed
    const Quantity before = quantity_[p];
    quantity_[p] = state_.ledger().position_quantity(products_.names[p]);
    held_products_ += (before.is_zero() ? 1 : 0) - (quantity_[p].is_zero() ? 1 : 0);

    const bool buy = rec.side == ipc::SIDE_BUY;
    const std::int64_t diff = buy ? rec.price.units() - rec.bar_open.units() : rec.bar_open.units() - rec.price.units();
    result_.slippage_wide += Int128{diff} * rec.quantity.units();
    auto notional = rec.quantity.mul(rec.price, Rounding::kHalfEven);
    if (!notional) return notional.error();
    auto total = result_.traded_notional.add(*notional);
    if (!total) return total.error();
    result_.traded_notional = *total;
    if (auto st = attribute(rec, p); !st) return st;
    result_.fills.push_back(rec);

    if (reference_) {
      auto agent_fill = agent::fill_from_ipc(fill);
      if (!agent_fill) return agent_fill.error();
      engine_.on_fill(*agent_fill);
    } else {
      // What fill_from_ipc() makes of the message, without the text.
      fill_event_.intent_id = rec.intent_id;
      fill_event_.strategy = rec.strategy;
      fill_event_.product = rec.product;
      fill_event_.side = buy ? agent::OrderSide::kBuy : agent::OrderSide::kSell;
      fill_event_.quantity = rec.quantity;
      fill_event_.price = rec.price;
      fill_event_.fee = rec.fee;
      fill_event_.ts_ns = rec.ts_ns;
      engine_.on_fill(fill_event_);
    }
    return deliver_update(e.order_id);
  }

  // The order's new state to the engine. The engine acts only on terminal
  // states; the fast path skips the others, the reference path sends all.
  Status deliver_update(const std::string& order_id) {
    const gate::Order* o = state_.find_live_order(order_id);
    if (o == nullptr) {
      if (state_.closed_orders().empty() || state_.closed_orders().back().order_id != order_id) {
        return make_error("order " + order_id + " is neither live nor the last closed order");
      }
      o = &state_.closed_orders().back();
    }
    const bool terminal = gate::is_terminal(o->state);
    if (terminal) count_terminal(*o);
    if (reference_) {
      auto event = agent::order_event_from_ipc(o->to_update());
      if (!event) return event.error();
      engine_.on_order_update(*event);
      return {};
    }
    if (!terminal) return {};
    // What order_event_from_ipc() makes of the terminal update.
    update_event_.intent_id = o->intent_id;
    update_event_.filled_quantity = o->filled_quantity;
    switch (o->state) {
      case gate::OrderState::kFilled:
        update_event_.kind = agent::OrderEventKind::kFilled;
        break;
      case gate::OrderState::kCancelled:
        update_event_.kind = agent::OrderEventKind::kCancelled;
        break;
      case gate::OrderState::kRejected:
        update_event_.kind = agent::OrderEventKind::kRejected;
        break;
      case gate::OrderState::kExpired:
        update_event_.kind = agent::OrderEventKind::kExpired;
        break;
      case gate::OrderState::kPendingNew:
      case gate::OrderState::kSubmitted:
      case gate::OrderState::kOpen:
      case gate::OrderState::kPartiallyFilled:
      case gate::OrderState::kCancelPending:
      case gate::OrderState::kUnknown:
        return make_error("order " + order_id + ": terminal state expected");
    }
    engine_.on_order_update(update_event_);
    return {};
  }

  void count_terminal(const gate::Order& o) {
    DecisionStats& d = result_.decisions;
    switch (o.state) {
      case gate::OrderState::kFilled:
        ++d.orders_filled;
        return;
      case gate::OrderState::kCancelled:
        ++d.orders_cancelled;
        return;
      case gate::OrderState::kRejected:
        ++d.orders_rejected;
        return;
      case gate::OrderState::kExpired:
        ++d.orders_expired;
        return;
      case gate::OrderState::kPendingNew:
      case gate::OrderState::kSubmitted:
      case gate::OrderState::kOpen:
      case gate::OrderState::kPartiallyFilled:
      case gate::OrderState::kCancelPending:
      case gate::OrderState::kUnknown:
        return;
    }
  }

  Status on_halt(const gate::HaltChange& change, std::int64_t now) {
    result_.halts.push_back(HaltRecord{now, change.from, change.to, change.event});
    if (change.cancel_all) {
      std::vector<std::string> ids;
      for (const auto& [id, o] : state_.live_orders()) {
        if (gate::next_order_state(o.state, gate::OrderEvent::kCancelRequest)) ids.push_back(id);
      }
      for (const std::string& id : ids) {
        const bool at_venue = state_.find_live_order(id)->state != gate::OrderState::kPendingNew;
        if (auto st = state_.apply_order_event(id, gate::OrderEvent::kCancelRequest, now); !st) return st;
        if (at_venue) {
          if (auto st = venue_current(); !st) return st;
          if (auto st = venue_.cancel(id); !st) return st;
        }
        if (auto st = deliver_update(id); !st) return st;
      }
    }
    if (change.flatten) return flatten(now);
    return {};
  }

  // The gate's own flatten orders (plan_flatten()), recorded and submitted.
  Status flatten(std::int64_t now) {
    gate::DecisionContext ctx;
    ctx.now_ns = now;
    ctx.peer_allowed = true;
    ctx.reference_prices = refs_;
    std::vector<std::string> skipped;
    for (const gate::GateOrder& g : gate::plan_flatten(state_, ctx, &skipped)) {
      if (auto st = state_.record_decision(g.intent, g.decision); !st) return st;
      ++result_.decisions.gate_orders;
      if (auto st = submit(g.decision.order_id(), now); !st) return st;
    }
    return {};
  }

  Status submit(const std::string& order_id, std::int64_t now) {
    if (auto st = venue_current(); !st) return st;
    if (auto st = state_.apply_order_event(order_id, gate::OrderEvent::kSubmit, now); !st) return st;
    const gate::Order* o = state_.find_live_order(order_id);
    if (o == nullptr) return make_error("accepted order " + order_id + " is not live");
    if (auto st = venue_.submit(gate::to_sim_order(*o)); !st) return st;
    return deliver_update(order_id);
  }

  // G4. A snapshot goes to the engine when the equity or a position differs
  // from the last one sent (initially: the starting cash, flat), so a SIM
  // gate does not repeat itself every bar; the engine acts on changes only.
  bool snapshot_changed() const {
    const gate::Ledger& l = state_.ledger();
    if (l.equity() != sent_equity_) return true;
    for (std::size_t i = 0; i < sent_quantity_.size(); ++i) {
      if (quantity_[i] != sent_quantity_[i]) return true;
    }
    return false;
  }

  Status send_position(std::int64_t now) {
    if (!snapshot_changed()) return {};
    const gate::Ledger& l = state_.ledger();
    sent_equity_ = l.equity();
    sent_quantity_ = quantity_;
    if (reference_) {
      auto snapshot = agent::position_from_ipc(l.to_snapshot(now));
      if (!snapshot) return snapshot.error();
      engine_.on_position(*snapshot);
      return {};
    }
    position_.equity = l.equity();
    position_.positions.clear();
    for (const gate::Position& pos : l.positions()) {
      const std::size_t i = products_.index_of_name(pos.product);
      if (i == products_.names.size()) return make_error("ledger holds unknown product " + pos.product);
      position_.positions.emplace_back(products_.ids[i], pos.quantity);
    }
    engine_.on_position(position_);
    return {};
  }

  // ---------------------------------------------------------- agent side

  // The engine's intents of `bar` are unique ids among all intents of the
  // run: each is for this bar (whose product's bars strictly increase) and
  // from a strategy with no other intent in it. That is what lets the gate
  // run with a small idempotency memory (bounds()); a failure is a bug.
  static Status check_unique(std::span<const agent::Intent> intents, const agent::Bar& bar) {
    for (std::size_t i = 0; i < intents.size(); ++i) {
      const agent::Intent& in = intents[i];
      bool unique = in.signal_bar_open_ts_s == bar.open_ts_s && in.product == bar.product;
      for (std::size_t j = 0; j < i && unique; ++j) unique = intents[j].strategy != in.strategy;
      if (!unique) return make_error("internal: intent id " + in.intent_id + " may repeat (backtester bug)");
    }
    return {};
  }

  Status decide_intents(std::span<const agent::Intent> intents, const agent::Bar& bar, std::int64_t now) {
    if (auto st = check_unique(intents, bar); !st) return st;
    decisions_.clear();
    gate::DecisionContext ctx;
    ctx.now_ns = now;
    ctx.peer_allowed = true;
    ctx.reference_prices = refs_;
    compat::set_rules(ctx, config_.rules_enabled ? &config_.rules : nullptr);
    for (const agent::Intent& intent : intents) {
      ipc::OrderIntent& message = message_;
      agent::to_order_intent(intent, message);
      gate::decide(state_, message, ctx, outcome_);  // reused: no allocation per decision
      const ipc::Decision& decision = outcome_.decision;
      if (auto st = state_.record_decision(message, decision); !st) return st;
      count_decision(decision);
      if (decision.replayed() || decision.reason() == ipc::DENY_REASON_DUPLICATE_ID_CONFLICT ||
          decision.reason() == ipc::DENY_REASON_INTENT_TOO_OLD) {
        return make_error("internal: intent id " + message.intent_id() + " was decided before (backtester bug)");
      }
      if (decision.accepted()) {
        if (auto st = submit(decision.order_id(), now); !st) return st;
      }
      if (outcome_.rule_halt) {
        auto change = state_.apply_halt_event(gate::HaltEvent::kRuleHalt, now);
        if (!change) return change.error();
        if (auto st = on_halt(*change, now); !st) return st;
      }
      auto event = agent::decision_from_ipc(decision);
      if (!event) return event.error();
      decisions_.push_back(std::move(event).value());
    }
    for (const agent::DecisionEvent& d : decisions_) engine_.on_decision(d);
    return {};
  }

  void count_decision(const ipc::Decision& d) {
    DecisionStats& s = result_.decisions;
    ++s.intents;
    if (d.accepted()) {
      ++s.accepted;
    } else {
      ++s.denied;
      ++s.denied_by_reason[d.reason()];
    }
    for (const std::string& rule : d.rules_fired()) ++s.rule_hits[rule];
  }

  // ------------------------------------------------------- trade records

  // Which strategy a fill belongs to. The gate's own flattening orders
  // close the positions of the strategies that hold the product, in
  // configuration order, each up to its own position; anything left (not
  // possible on spot) goes to a pseudo-strategy named "gate".
  Status attribute(const FillRecord& f, std::size_t p) {
    if (f.strategy != gate::kGateStrategy) return apply_shadow(shadow_for(f.strategy), p, f, f.quantity, f.fee);
    Quantity left = f.quantity;
    Notional fee_left = f.fee;
    for (std::size_t i = 0; i < shadows_.size() && left.is_positive(); ++i) {
      const Quantity held = shadows_[i].ledger.position_quantity(products_.names[p]);
      if (!opposite(f.side, held)) continue;
      const Quantity part = std::min(held.abs(), left);
      left = left.sub(part).value();
      // The fee in proportion to quantity; the last part takes the rest so
      // the parts add up to the fee exactly.
      Notional fee = fee_left;
      if (left.is_positive()) {
        fee = Decimal::from_units(static_cast<std::int64_t>(
            divide_rounded(Int128{f.fee.units()} * part.units(), f.quantity.units(), Rounding::kHalfEven)));
      }
      fee_left = fee_left.sub(fee).value();
      if (auto st = apply_shadow(shadows_[i], p, f, part, fee); !st) return st;
    }
    if (left.is_positive()) return apply_shadow(shadow_for(std::string(gate::kGateStrategy)), p, f, left, fee_left);
    return {};
  }

  Shadow& shadow_for(const std::string& strategy) {
    for (Shadow& s : shadows_) {
      if (s.strategy == strategy) return s;
    }
    shadows_.push_back(make_shadow(strategy, start_ts_ns_));
    return shadows_.back();
  }

  Status apply_shadow(Shadow& s, std::size_t p, const FillRecord& f, Quantity quantity, Notional fee) {
    const std::string& product = products_.names[p];
    const gate::Position* before = s.ledger.find(product);
    const Quantity q0 = before ? before->quantity : Quantity();
    const Notional realized0 = before ? before->realized_pnl : Notional();
    const Notional fees0 = before ? before->fees : Notional();
    if (auto st = s.ledger.apply_fill(gate::LedgerFill{product, f.side, quantity, f.price, fee, f.ts_ns}); !st) {
      return st;
    }
    const gate::Position* after = s.ledger.find(product);
    const Quantity q1 = after->quantity;
    const bool closes = !q0.is_zero() && (q1.is_zero() || q1.is_negative() != q0.is_negative());
    if (closes && s.open[p]) {
      TradeRecord& t = result_.trades[s.open[p]->index];
      t.fees = after->fees.sub(s.open[p]->start_fees).value();
      t.pnl = after->realized_pnl.sub(s.open[p]->start_realized).value().sub(t.fees).value();
      t.closed = true;
      t.close_ts_ns = f.ts_ns;
      s.open[p].reset();
    }
    const bool opens = !q1.is_zero() && (q0.is_zero() || closes);
    if (opens) {
      TradeRecord t;
      t.strategy = s.strategy;
      t.product = products_.ids[p];
      t.long_side = q1.is_positive();
      t.open_ts_ns = f.ts_ns;
      // The opening fill's fee belongs to this trade; a flipping fill's fee
      // went wholly to the trade it closed.
      s.open[p] = Shadow::OpenTrade{result_.trades.size(), closes ? after->realized_pnl : realized0,
                                    closes ? after->fees : fees0};
      result_.trades.push_back(std::move(t));
    }
    if (s.open[p]) {
      TradeRecord& t = result_.trades[s.open[p]->index];
      t.quantity_max = std::max(t.quantity_max, q1.abs());
      t.fees = after->fees.sub(s.open[p]->start_fees).value();
    }
    return {};
  }

  const BacktestConfig& config_;
  const RunProducts& products_;
  const bool reference_;
  const bool market_facts_;  // GateState::apply_bar() on every bar (see on_bar)
  agent::AgentEngine engine_;
  gate::GateState state_;
  gate::SimVenue venue_;
  std::vector<gate::ReferencePrice> refs_;
  agent::PositionEvent position_;
  std::vector<agent::DecisionEvent> decisions_;
  std::vector<Shadow> shadows_;
  std::uint64_t fill_count_ = 0;
  std::int64_t start_ts_ns_ = 0;
  // Skipping (see on_bar).
  struct DeferredMark {
    bool pending = false;
    Price price;
    std::int64_t ts_ns = 0;
  };
  std::vector<DeferredMark> deferred_;        // per product
  std::vector<std::int64_t> venue_open_ns_;   // per product: the last bar the venue saw
  bool gate_current_ = true;                  // the gate side of the latest bar ran
  std::size_t current_p_ = 0;
  const gate::Bar* current_bar_ = nullptr;
  std::int64_t last_now_ = 0;
  Notional sent_equity_;                      // the last snapshot sent
  std::vector<Quantity> sent_quantity_;       // per product
  // The ledger's position per product, refreshed after every fill (the only
  // thing that changes it), and how many are not zero.
  std::vector<Quantity> quantity_;
  int held_products_ = 0;
  agent::FillEvent fill_event_;
  ipc::OrderIntent message_;  // reused: its strings keep their storage
  gate::DecideResult outcome_;  // likewise
  ipc::Fill fill_;
  agent::OrderEvent update_event_;
  BookResult result_;
};

Result<RunProducts> run_products(const BacktestConfig& config, const MarketData& data) {
  RunProducts out;
  // Data of a product the gate does not know is a mistake, traded or not.
  for (const ProductData& d : data.products) {
    if (auto spec = agent_product_spec(config.gate, d.product); !spec) {
      return make_error(spec.error().message + " (data from " + d.source + ")");
    }
  }
  if (config.products.empty()) {
    for (const ProductData& d : data.products) out.ids.push_back(d.product);
  } else {
    for (const agent::ProductId& p : config.products) {
      const bool has_data = std::any_of(data.products.begin(), data.products.end(),
                                        [&](const ProductData& d) { return d.product == p; });
      if (!has_data) return make_error("no data for product " + p.str() + " (configured in products)");
      out.ids.push_back(p);
    }
  }
  if (out.ids.empty()) return make_error("no products to trade");
  if (out.ids.size() > kRunProductsMax) {
    return make_error("at most " + std::to_string(kRunProductsMax) + " products per run");
  }
  std::sort(out.ids.begin(), out.ids.end());
  for (const agent::ProductId& id : out.ids) {
    auto spec = agent_product_spec(config.gate, id);
    if (!spec) return spec.error();
    out.names.push_back(id.str());
    out.specs.push_back(*spec);
  }
  for (const BookSetup& b : config.books) {
    for (const StrategySetup& s : b.strategies) {
      for (const agent::ProductId& p : s.products) {
        if (out.index_of(p) == out.ids.size()) {
          return make_error("strategy '" + s.definition->name() + "' trades " + p.str() + ", which has no data");
        }
      }
    }
  }
  return out;
}

Result<agent::AgentEngine> make_engine(const BacktestConfig& config, const BookSetup& setup,
                                       const RunProducts& products) {
  agent::EngineConfig ec;
  ec.products = products.specs;
  ec.sizing = config.sizing;
  ec.equity = setup.capital;
  for (const StrategySetup& s : setup.strategies) {
    ec.strategies.push_back(agent::StrategyBinding{s.definition, s.products, s.risk_weight});
  }
  auto engine = agent::AgentEngine::create(std::move(ec));
  if (!engine) return make_error("book '" + setup.name + "': " + engine.error().message);
  return engine;
}

}  // namespace

Result<BacktestResult> run_backtest(const BacktestConfig& config, const MarketData& data, const RunOptions& options) {
  if (auto st = validate(config); !st) return st.error();
  if (data.bars.size() != data.gate_bars.size()) return make_error("market data without its fixed-point bars");
  auto products = run_products(config, data);
  if (!products) return products.error();

  // The window, and the bars of the run's products inside it.
  const auto first = std::lower_bound(data.bars.begin(), data.bars.end(), options.from_ts_s,
                                      [](const agent::Bar& b, std::int64_t t) { return b.open_ts_s < t; });
  const auto last = std::lower_bound(first, data.bars.end(), options.to_ts_s,
                                     [](const agent::Bar& b, std::int64_t t) { return b.open_ts_s < t; });
  const std::size_t begin = static_cast<std::size_t>(first - data.bars.begin());
  const std::size_t end = static_cast<std::size_t>(last - data.bars.begin());
  std::uint64_t total = 0;
  std::size_t first_bar = end;
  for (std::size_t i = begin; i < end; ++i) {
    if (products->index_of(data.bars[i].product) == products->ids.size()) continue;
    if (first_bar == end) first_bar = i;
    ++total;
  }
  if (total == 0) {
    return make_error("no bars to replay between " + agent::format_utc(std::max<std::int64_t>(options.from_ts_s, 0)) +
                      " and the end of the window");
  }
  const std::int64_t start_ts_ns = data.bars[first_bar].open_ts_s * gate::kNanosPerSecond;

  std::vector<std::unique_ptr<Book>> books;
  for (const BookSetup& setup : config.books) {
    auto engine = make_engine(config, setup, *products);
    if (!engine) return engine.error();
    books.push_back(std::make_unique<Book>(config, setup, *products, std::move(engine).value(), start_ts_ns,
                                           options.reference_path));
  }

  // Books are independent accounts: each walks the whole stream on its own,
  // so they can run on threads of their own without changing a bit of any
  // book's result. A book's error names the first bar it failed on; the
  // run reports the error a one-thread run would meet first (earliest bar,
  // then lowest book).
  const std::size_t threads = std::min(options.book_threads, books.size());
  if (threads < 1 || options.book_threads > kBookThreadsMax) {
    return make_error("book_threads must be in [1, " + std::to_string(kBookThreadsMax) + "], got " +
                      std::to_string(options.book_threads));
  }
  std::vector<BookFailure> failures(books.size());
  std::vector<std::atomic<std::uint64_t>> done(threads);
  std::vector<std::int64_t> steps;
  // The earliest bar any book failed on: the others stop after it.
  std::atomic<std::size_t> stop_after{end};
  const auto fail = [&](std::size_t k, std::size_t i, std::string message, bool in_book) {
    failures[k] = BookFailure{true, i, std::move(message), in_book};
    std::size_t seen = stop_after.load();
    while (i < seen && !stop_after.compare_exchange_weak(seen, i)) {
    }
  };
  const auto walk = [&](std::size_t t) {
    const bool lead = t == 0;  // keeps the minute steps and reports progress
    std::vector<Book*> mine;
    std::vector<std::size_t> mine_index;
    for (std::size_t k = t; k < books.size(); k += threads) {
      mine.push_back(books[k].get());
      mine_index.push_back(k);
    }
    std::int64_t step_open_ts_s = 0;
    bool any_step = false;
    std::uint64_t n = 0;
    for (std::size_t i = first_bar; i < end; ++i) {
      if (i > stop_after.load(std::memory_order_relaxed)) return;
      const agent::Bar& bar = data.bars[i];
      const std::size_t p = products->index_of(bar.product);
      if (p == products->ids.size()) continue;
      if (!any_step || step_open_ts_s != bar.open_ts_s) {
        if (any_step) {
          for (Book* b : mine) b->end_step();
        }
        any_step = true;
        step_open_ts_s = bar.open_ts_s;
        if (lead) steps.push_back(bar.open_ts_s);
      }
      const gate::Bar* gbar = &data.gate_bars[i];
      gate::Bar relayed;
      if (options.reference_path) {
        auto message = agent::to_ipc_bar(bar);
        auto parsed = message ? gate::parse_bar(*message) : Result<gate::Bar>(message.error());
        if (!parsed) {
          fail(mine_index.front(), i, parsed.error().message, false);
          return;
        }
        relayed = std::move(parsed).value();
        gbar = &relayed;
      }
      for (std::size_t j = 0; j < mine.size(); ++j) {
        if (auto st = mine[j]->on_bar(p, bar, *gbar); !st) {
          fail(mine_index[j], i, st.error().message, true);
          return;
        }
      }
      ++n;
      done[t].store(n, std::memory_order_relaxed);
      if (lead && options.progress && (n % kProgressEveryBars == 0)) {
        std::uint64_t all = n;
        for (const auto& d : done) all = std::min(all, d.load(std::memory_order_relaxed));
        options.progress(all, total);
      }
    }
    for (Book* b : mine) b->end_step();
  };
  if (threads == 1) {
    walk(0);
  } else {
    std::vector<std::thread> pool;
    pool.reserve(threads - 1);
    // An exception (only std::bad_alloc is expected) must not end the
    // process from a worker: it becomes that worker's failure.
    const auto guarded = [&](std::size_t t) {
      try {
        walk(t);
      } catch (const std::exception& e) {
        fail(t, first_bar, std::string("book thread failed: ") + e.what(), true);
      }
    };
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(guarded, t);
    guarded(0);
    for (std::thread& th : pool) th.join();
  }
  const BookFailure* failure = nullptr;
  std::size_t failed_book = 0;
  for (std::size_t k = 0; k < failures.size(); ++k) {
    if (failures[k].failed && (failure == nullptr || failures[k].bar < failure->bar)) {
      failure = &failures[k];
      failed_book = k;
    }
  }
  if (failure != nullptr) {
    const agent::Bar& bar = data.bars[failure->bar];
    if (!failure->in_book) return make_error(failure->message);
    return make_error("book '" + books[failed_book]->name() + "', " + bar.product.str() + " bar at " +
                      agent::format_utc(bar.open_ts_s) + ": " + failure->message);
  }

  BacktestResult result;
  result.seed = config.seed;
  result.products = products->ids;
  result.step_open_ts_s = std::move(steps);
  if (options.progress) options.progress(total, total);
  result.bars = total;
  for (auto& b : books) {
    auto finished = b->finish();
    if (!finished) return make_error("book '" + b->name() + "': " + finished.error().message);
    result.books.push_back(std::move(finished).value());
  }
  return result;
}

}  // namespace ta::backtest
