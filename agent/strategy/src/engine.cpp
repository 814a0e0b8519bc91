#include "strategy/engine.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace ta::agent {

namespace {

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

struct Pending {
  bool active = false;
  IntentPurpose purpose = IntentPurpose::kEntry;
  std::string intent_id;
  Decimal quantity;
  Decimal filled;
  std::int64_t not_before_ns = 0;  // the execution bar's open
};

struct Slot {
  // Hot: read on every bar.
  StrategyInstance* instance = nullptr;
  Lifecycle state = Lifecycle::kIdle;
  PositionSide side = PositionSide::kFlat;
  bool ready = false;
  double stop = kNoPrice;
  std::int64_t bars_held = 0;
  std::int64_t bars_since_exit = 0;
  std::int64_t max_holding_bars = 0;
  std::int64_t cooldown_bars = 0;
  std::uint32_t strategy = 0;
  std::uint32_t product = 0;
  // Cold: touched on signals and gate messages.
  Decimal position;                 // signed base units
  double planned_stop = kNoPrice;   // stop of the latest entry intent, until its fill
  PositionSide planned_side = PositionSide::kFlat;
  Pending pending;
  SlotCounters counters;
  std::unique_ptr<StrategyInstance> owner;
};

struct ProductState {
  ProductSpec spec;
  std::string id;
  std::int64_t last_open_ts_s = -1;
  std::size_t slot_begin = 0;
  std::size_t slot_end = 0;
};

struct StrategyState {
  std::shared_ptr<const StrategyDefinition> definition;
  Decimal risk_weight;
};

PositionSide side_of(Decimal position) {
  if (position.is_positive()) return PositionSide::kLong;
  if (position.is_negative()) return PositionSide::kShort;
  return PositionSide::kFlat;
}

}  // namespace

std::string_view to_string(IntentPurpose purpose) {
  switch (purpose) {
    case IntentPurpose::kEntry: return "entry";
    case IntentPurpose::kExit: return "exit";
  }
  return "?";
}

struct AgentEngine::Impl {
  std::vector<ProductState> products;
  std::vector<StrategyState> strategies;
  std::vector<Slot> slots;
  SizingLimits sizing;
  Decimal equity;
  EngineCounters counters;
  // Intents of the current bar are out[0, out_count). The Intent objects
  // are reused from bar to bar so their strings keep their capacity: after
  // the first few intents, emitting one allocates nothing.
  std::vector<Intent> out;
  std::size_t out_count = 0;
  std::size_t last_product = 0;

  std::size_t find_product(const ProductId& id) {
    if (last_product < products.size() && products[last_product].spec.product == id) {
      return last_product;
    }
    for (std::size_t i = 0; i < products.size(); ++i) {
      if (products[i].spec.product == id) {
        last_product = i;
        return i;
      }
    }
    return products.size();
  }

  bool transition(Slot& s, LifecycleEvent event) {
    const auto next = next_lifecycle(s.state, event);
    if (!next) {
      ++s.counters.lifecycle_refused;
      return false;
    }
    s.state = *next;
    if (event == LifecycleEvent::kEntryFilled) s.bars_held = 0;
    if (s.state == Lifecycle::kExited) s.bars_since_exit = 0;
    return true;
  }

  // ------------------------------------------------------------ bars

  // The product of a bar that passes the guards (counted when refused),
  // with its last bar time moved on; nullptr when refused.
  ProductState* take(const Bar& bar) {
    const std::size_t p = find_product(bar.product);
    if (p == products.size()) {
      ++counters.bars_unknown_product;
      return nullptr;
    }
    if (check_bar(bar) != BarDefect::kNone) {
      ++counters.bars_invalid;
      return nullptr;
    }
    ProductState& product = products[p];
    if (bar.open_ts_s <= product.last_open_ts_s) {
      ++counters.bars_out_of_order;
      return nullptr;
    }
    product.last_open_ts_s = bar.open_ts_s;
    return &product;
  }

  std::span<const Intent> on_bar(const Bar& bar) {
    out_count = 0;
    ProductState* product = take(bar);
    if (product == nullptr) return {};
    ++counters.bars;
    for (std::size_t i = product->slot_begin; i < product->slot_end; ++i) step(slots[i], bar);
    return std::span<const Intent>(out.data(), out_count);
  }

  bool warm_up(const Bar& bar) {
    out_count = 0;
    ProductState* product = take(bar);
    if (product == nullptr) return false;
    ++counters.bars_warm_up;
    for (std::size_t i = product->slot_begin; i < product->slot_end; ++i) {
      Slot& s = slots[i];
      s.ready = s.instance->update(bar);
    }
    return true;
  }

  void step(Slot& s, const Bar& bar) {
    s.ready = s.instance->update(bar);
    switch (s.state) {
      case Lifecycle::kIdle:
        if (s.ready && transition(s, LifecycleEvent::kWarmedUp)) look(s, bar);
        return;
      case Lifecycle::kLooking:
        look(s, bar);
        return;
      case Lifecycle::kEntered:
      case Lifecycle::kExiting:
        return;  // an intent is in flight
      case Lifecycle::kManaging:
        manage(s, bar);
        return;
      case Lifecycle::kExited:
        if (++s.bars_since_exit > s.cooldown_bars && transition(s, LifecycleEvent::kCooldownOver)) look(s, bar);
        return;
    }
  }

  void look(Slot& s, const Bar& bar) {
    if (!s.ready) return;
    const Signal sig = s.instance->entry(bar);
    if (sig.not_finite) {
      ++s.counters.not_finite;
      return;
    }
    const ProductState& product = products[s.product];
    switch (sig.kind) {
      case SignalKind::kNone:
      case SignalKind::kExit:
        return;
      case SignalKind::kEnterShort:
        if (!product.spec.shortable) {
          ++s.counters.short_not_allowed;
          return;
        }
        break;
      case SignalKind::kEnterLong:
        break;
    }
    const bool is_long = sig.kind == SignalKind::kEnterLong;
    SizingRequest req;
    req.side = is_long ? OrderSide::kBuy : OrderSide::kSell;
    req.entry_price = bar.close;
    req.stop_price = sig.stop_price;
    req.equity = equity;
    req.product_exposure_base = exposure(product);
    req.risk_weight = strategies[s.strategy].risk_weight;
    const SizingResult r = size_entry(req, product.spec, sizing);
    if (r.capped_by_position) ++s.counters.capped_by_position;
    if (r.capped_by_order_notional) ++s.counters.capped_by_order_notional;
    if (r.capped_by_max_size) ++s.counters.capped_by_max_size;
    if (r.outcome != SizingOutcome::kOk) {
      if (r.outcome == SizingOutcome::kNotFinite) {
        ++s.counters.not_finite;
      } else {
        ++s.counters.sizing_refused[static_cast<std::size_t>(r.outcome)];
      }
      return;
    }
    Intent& in = emit(s, bar, IntentPurpose::kEntry, sig.reason);
    in.side = req.side;
    in.quantity = r.quantity;
    in.protective_stop_price = r.stop_price;
    s.planned_stop = r.stop_price.to_double();
    s.planned_side = is_long ? PositionSide::kLong : PositionSide::kShort;
    s.pending.quantity = r.quantity;
    ++s.counters.intents_entry;
    transition(s, LifecycleEvent::kEntrySignal);
  }

  void manage(Slot& s, const Bar& bar) {
    ++s.bars_held;
    const bool is_long = s.side == PositionSide::kLong;
    if (std::isfinite(s.stop) && (is_long ? bar.low <= s.stop : bar.high >= s.stop)) {
      ++s.counters.stops_hit;
      exit(s, bar, SignalReason::kProtectiveStop);
      return;
    }
    if (s.max_holding_bars > 0 && s.bars_held >= s.max_holding_bars) {
      ++s.counters.max_holding_exits;
      exit(s, bar, SignalReason::kMaxHoldingBars);
      return;
    }
    if (!s.ready) return;
    const Signal sig = s.instance->exit(bar, s.side);
    if (sig.not_finite) {
      ++s.counters.not_finite;
      return;
    }
    switch (sig.kind) {
      case SignalKind::kNone:
        return;
      case SignalKind::kExit:
        exit(s, bar, sig.reason);
        return;
      case SignalKind::kEnterLong:
        if (!is_long) exit(s, bar, SignalReason::kOppositeSignal);
        return;
      case SignalKind::kEnterShort:
        if (is_long) exit(s, bar, SignalReason::kOppositeSignal);
        return;
    }
  }

  void exit(Slot& s, const Bar& bar, SignalReason reason) {
    const Decimal quantity = s.position.abs();
    if (!quantity.is_positive()) return;
    Intent& in = emit(s, bar, IntentPurpose::kExit, reason);
    in.side = s.side == PositionSide::kLong ? OrderSide::kSell : OrderSide::kBuy;
    in.quantity = quantity;
    in.reduce_only = true;
    s.pending.quantity = quantity;
    ++s.counters.intents_exit;
    transition(s, LifecycleEvent::kExitSignal);
  }

  Intent& emit(Slot& s, const Bar& bar, IntentPurpose purpose, SignalReason reason) {
    const StrategyDefinition& def = *strategies[s.strategy].definition;
    const ProductState& product = products[s.product];
    if (out_count == out.size()) out.emplace_back();
    Intent& in = out[out_count++];
    char ts[24];
    const auto [end, ec] = std::to_chars(ts, ts + sizeof ts, bar.open_ts_s);
    (void)ec;  // 24 characters hold any int64
    in.intent_id.assign(def.name()).append("-").append(product.id).append("-").append(ts, end).append("-0");
    in.strategy.assign(def.name());
    in.side = OrderSide::kBuy;
    in.quantity = Decimal::zero();
    in.protective_stop_price = Decimal::zero();
    in.reduce_only = false;
    in.product = bar.product;
    in.type = OrderType::kMarket;
    in.purpose = purpose;
    in.reason = reason;
    in.signal_bar_open_ts_s = bar.open_ts_s;
    in.created_ts_ns = bar.close_ts_s() * kNanosPerSecond;
    in.execute_bar_open_ts_s = bar.close_ts_s();
    in.reference_price = bar.close;
    s.pending.active = true;
    s.pending.purpose = purpose;
    s.pending.intent_id = in.intent_id;
    s.pending.filled = Decimal::zero();
    s.pending.not_before_ns = in.created_ts_ns;
    return in;
  }

  // Absolute base units held or in flight (entries) in a product by every
  // strategy of this engine.
  Decimal exposure(const ProductState& product) const {
    Decimal total;
    for (std::size_t i = product.slot_begin; i < product.slot_end; ++i) {
      const Slot& s = slots[i];
      auto sum = total.add(s.position.abs());
      if (sum) total = *sum;
      if (s.pending.active && s.pending.purpose == IntentPurpose::kEntry && s.pending.quantity > s.pending.filled) {
        const auto left = s.pending.quantity.sub(s.pending.filled);
        if (left) sum = total.add(*left);
        if (sum) total = *sum;
      }
    }
    return total;
  }

  // ------------------------------------------------------ gate messages

  Slot* find_pending(std::string_view intent_id) {
    if (intent_id.empty()) return nullptr;
    for (Slot& s : slots) {
      if (s.pending.active && s.pending.intent_id == intent_id) return &s;
    }
    return nullptr;
  }

  static void clear_pending(Slot& s) {
    s.pending.active = false;
    s.pending.intent_id.clear();
  }

  void on_decision(const DecisionEvent& d) {
    Slot* s = find_pending(d.intent_id);
    if (s == nullptr) {
      ++counters.messages_unmatched;
      return;
    }
    if (d.accepted) {
      if (d.quantity.is_positive()) s->pending.quantity = d.quantity;
      return;
    }
    if (d.deny_reason == kDenyReasonHeldForApproval) {
      // Not an answer yet: the gate keeps the order until a person approves
      // or rejects it or it expires, and then sends the final decision for
      // the same id. The slot waits for it instead of signalling again.
      ++s->counters.held_for_approval;
      return;
    }
    denied(*s);
  }

  // The pending intent will not (or no longer) trade.
  void denied(Slot& s) {
    const IntentPurpose purpose = s.pending.purpose;
    clear_pending(s);
    switch (purpose) {
      case IntentPurpose::kEntry:
        ++s.counters.entries_denied;
        if (s.position.is_zero()) transition(s, LifecycleEvent::kEntryDenied);
        return;
      case IntentPurpose::kExit:
        ++s.counters.exits_denied;
        if (!s.position.is_zero()) transition(s, LifecycleEvent::kExitDenied);
        return;
    }
  }

  void on_order_update(const OrderEvent& u) {
    switch (u.kind) {
      case OrderEventKind::kWorking:
        return;
      case OrderEventKind::kFilled: {
        // Fills change positions; the order is simply no longer in flight.
        if (Slot* s = find_pending(u.intent_id)) clear_pending(*s);
        return;
      }
      case OrderEventKind::kCancelled:
      case OrderEventKind::kRejected:
      case OrderEventKind::kExpired: {
        Slot* s = find_pending(u.intent_id);
        if (s == nullptr) {
          ++counters.messages_unmatched;
          return;
        }
        if (s->pending.purpose == IntentPurpose::kEntry && u.filled_quantity.is_positive()) {
          // Partly filled before it ended: the fills (some may still be on
          // their way) make the position; nothing was denied.
          clear_pending(*s);
          return;
        }
        denied(*s);
        return;
      }
    }
  }

  Slot* find_slot(std::string_view strategy, const ProductId& product) {
    const std::size_t p = find_product(product);
    if (p == products.size()) return nullptr;
    for (std::size_t i = products[p].slot_begin; i < products[p].slot_end; ++i) {
      if (strategies[slots[i].strategy].definition->name() == strategy) return &slots[i];
    }
    return nullptr;
  }

  void on_fill(const FillEvent& f) {
    Slot* s = find_slot(f.strategy, f.product);
    if (s == nullptr || !f.quantity.is_positive()) {
      ++counters.fills_unmatched;
      return;
    }
    const Decimal old = s->position;
    const auto next = f.side == OrderSide::kBuy ? old.add(f.quantity) : old.sub(f.quantity);
    if (!next) {
      ++counters.fills_unmatched;
      return;
    }
    s->position = *next;
    if (s->pending.active && s->pending.intent_id == f.intent_id) {
      if (f.ts_ns < s->pending.not_before_ns) ++s->counters.fills_before_next_bar;
      const auto filled = s->pending.filled.add(f.quantity);
      if (filled) s->pending.filled = *filled;
      const bool entry_done = s->pending.purpose == IntentPurpose::kEntry && s->pending.filled >= s->pending.quantity;
      const bool exit_done = s->pending.purpose == IntentPurpose::kExit && s->position.is_zero();
      if (entry_done || exit_done) clear_pending(*s);
    }
    const PositionSide before = side_of(old);
    const PositionSide after = side_of(s->position);
    if (before == after) return;
    if (before != PositionSide::kFlat) closed(*s, LifecycleEvent::kExitFilled);
    if (after != PositionSide::kFlat) opened(*s, after);
  }

  void opened(Slot& s, PositionSide side) {
    s.side = side;
    if (s.planned_side == side && std::isfinite(s.planned_stop)) {
      s.stop = s.planned_stop;
    } else {
      s.stop = kNoPrice;
      ++s.counters.positions_without_stop;
    }
    s.planned_stop = kNoPrice;
    s.planned_side = PositionSide::kFlat;
    transition(s, LifecycleEvent::kEntryFilled);
  }

  void closed(Slot& s, LifecycleEvent event) {
    s.side = PositionSide::kFlat;
    s.stop = kNoPrice;
    ++s.counters.trades_closed;
    // The trade is over: an exit in flight is done, and the unfilled rest of
    // a partly filled entry no longer counts as exposure.
    clear_pending(s);
    transition(s, event);
  }

  void on_position(const PositionEvent& snap) {
    if (snap.equity) equity = *snap.equity;
    for (const auto& [id, quantity] : snap.positions) {
      const std::size_t p = find_product(id);
      if (p == products.size()) continue;
      Decimal sum;
      for (std::size_t i = products[p].slot_begin; i < products[p].slot_end; ++i) {
        const auto t = sum.add(slots[i].position);
        if (t) sum = *t;
      }
      if (sum == quantity) continue;
      if (!quantity.is_zero()) {
        ++counters.position_mismatches;
        continue;
      }
      for (std::size_t i = products[p].slot_begin; i < products[p].slot_end; ++i) {
        Slot& s = slots[i];
        if (s.position.is_zero()) continue;
        s.position = Decimal::zero();
        closed(s, LifecycleEvent::kFlattened);
      }
    }
  }

  SlotView view(const Slot& s) const {
    SlotView v;
    v.strategy = strategies[s.strategy].definition->name();
    v.product = products[s.product].spec.product;
    v.state = s.state;
    v.ready = s.ready;
    v.side = s.side;
    v.position = s.position;
    v.stop_price = s.stop;
    v.bars_held = s.bars_held;
    v.pending_intent_id = s.pending.active ? std::string_view(s.pending.intent_id) : std::string_view();
    v.counters = &s.counters;
    return v;
  }
};

Result<AgentEngine> AgentEngine::create(EngineConfig config) {
  if (config.products.empty() || config.products.size() > kEngineProductsMax) {
    return make_error("between 1 and " + std::to_string(kEngineProductsMax) + " products are required");
  }
  if (config.strategies.size() > kEngineStrategiesMax) {
    return make_error("at most " + std::to_string(kEngineStrategiesMax) + " strategies are allowed");
  }
  if (auto st = validate(config.sizing); !st) return st.error();
  if (config.equity.is_negative()) return make_error("equity must be >= 0");
  auto impl = std::make_unique<Impl>();
  impl->sizing = config.sizing;
  impl->equity = config.equity;
  for (const auto& spec : config.products) {
    if (auto st = validate(spec); !st) return st.error();
    for (const auto& p : impl->products) {
      if (p.spec.product == spec.product) return make_error("product " + spec.product.str() + " is listed twice");
    }
    ProductState ps;
    ps.spec = spec;
    ps.id = spec.product.str();
    impl->products.push_back(std::move(ps));
  }
  for (const auto& b : config.strategies) {
    if (!b.strategy) return make_error("a strategy binding has no strategy");
    for (const auto& other : impl->strategies) {
      if (other.definition->name() == b.strategy->name()) {
        return make_error("strategy name '" + b.strategy->name() + "' is used twice");
      }
    }
    if (b.risk_weight.is_negative() || b.risk_weight > Decimal::from_integer(1)) {
      return make_error("strategy '" + b.strategy->name() + "': risk_weight must be in [0, 1]");
    }
    for (const auto& id : b.products) {
      const bool known = std::any_of(impl->products.begin(), impl->products.end(),
                                     [&id](const ProductState& p) { return p.spec.product == id; });
      if (!known) return make_error("strategy '" + b.strategy->name() + "': product " + id.str() + " is not configured");
    }
    impl->strategies.push_back({b.strategy, b.risk_weight});
  }
  // Slots grouped by product so a bar touches one contiguous range.
  for (std::size_t p = 0; p < impl->products.size(); ++p) {
    impl->products[p].slot_begin = impl->slots.size();
    for (std::size_t k = 0; k < config.strategies.size(); ++k) {
      const auto& b = config.strategies[k];
      const bool bound = b.products.empty() || std::find(b.products.begin(), b.products.end(),
                                                         impl->products[p].spec.product) != b.products.end();
      if (!bound) continue;
      Slot s;
      s.owner = b.strategy->instantiate();
      s.instance = s.owner.get();
      s.strategy = static_cast<std::uint32_t>(k);
      s.product = static_cast<std::uint32_t>(p);
      s.max_holding_bars = b.strategy->max_holding_bars();
      s.cooldown_bars = b.strategy->cooldown_bars();
      impl->slots.push_back(std::move(s));
    }
    impl->products[p].slot_end = impl->slots.size();
  }
  return AgentEngine(std::move(impl));
}

AgentEngine::AgentEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AgentEngine::AgentEngine(AgentEngine&&) noexcept = default;
AgentEngine& AgentEngine::operator=(AgentEngine&&) noexcept = default;
AgentEngine::~AgentEngine() = default;

std::span<const Intent> AgentEngine::on_bar(const Bar& bar) { return impl_->on_bar(bar); }
bool AgentEngine::warm_up(const Bar& bar) { return impl_->warm_up(bar); }
void AgentEngine::on_decision(const DecisionEvent& decision) { impl_->on_decision(decision); }
void AgentEngine::on_order_update(const OrderEvent& update) { impl_->on_order_update(update); }
void AgentEngine::on_fill(const FillEvent& fill) { impl_->on_fill(fill); }
void AgentEngine::on_position(const PositionEvent& snapshot) { impl_->on_position(snapshot); }
void AgentEngine::set_equity(Decimal equity) { impl_->equity = equity; }
Decimal AgentEngine::equity() const { return impl_->equity; }

Status AgentEngine::replace_strategy(std::shared_ptr<const StrategyDefinition> definition) {
  if (!definition) return make_error("no strategy definition");
  for (std::size_t k = 0; k < impl_->strategies.size(); ++k) {
    StrategyState& st = impl_->strategies[k];
    if (st.definition->name() != definition->name()) continue;
    st.definition = definition;
    for (Slot& s : impl_->slots) {
      if (s.strategy != k) continue;
      s.owner = definition->instantiate();
      s.instance = s.owner.get();
      s.ready = false;
      s.max_holding_bars = definition->max_holding_bars();
      s.cooldown_bars = definition->cooldown_bars();
    }
    return {};
  }
  return make_error("strategy '" + definition->name() + "' is not configured");
}

std::shared_ptr<const StrategyDefinition> AgentEngine::strategy(std::string_view name) const {
  for (const StrategyState& st : impl_->strategies) {
    if (st.definition->name() == name) return st.definition;
  }
  return nullptr;
}
std::size_t AgentEngine::slot_count() const { return impl_->slots.size(); }
SlotView AgentEngine::slot(std::size_t index) const { return impl_->view(impl_->slots.at(index)); }
const EngineCounters& AgentEngine::counters() const { return impl_->counters; }

std::optional<SlotView> AgentEngine::find_slot(std::string_view strategy, ProductId product) const {
  Slot* s = impl_->find_slot(strategy, product);
  if (s == nullptr) return std::nullopt;
  return impl_->view(*s);
}

}  // namespace ta::agent
