// GateState: the mutations that follow journaled events. Each method either
// applies completely or returns an error and changes nothing, so a replay
// that stops at a bad record leaves a consistent state behind.
#include "exposure.h"
#include "gate/core.h"
#include "invariant.h"

namespace ta::gate {
namespace {

Result<Decimal> parse_optional(const std::string& text, const char* name) {
  if (text.empty()) return Decimal();
  auto v = Decimal::parse(text);
  if (!v) return make_error(std::string(name) + ": " + v.error().message);
  return *v;
}

const std::string* find_field(const ipc::Decision& d, std::string_view name) {
  for (const auto& f : d.fields()) {
    if (f.name() == name) return &f.value();
  }
  return nullptr;
}

}  // namespace

GateState::GateState(SafetyLimits limits, Ledger ledger, GateStateBounds bounds)
    : limits_(std::move(limits)), bounds_(bounds), ledger_(std::move(ledger)) {}

std::string GateState::next_order_id() const { return "o-" + std::to_string(next_order_number_); }

const Order* GateState::find_live_order(std::string_view order_id) const {
  auto it = live_orders_.find(order_id);
  return it == live_orders_.end() ? nullptr : &it->second;
}

const Order* GateState::find_live_order_by_intent(std::string_view intent_id) const {
  for (const auto& [id, o] : live_orders_) {
    if (o.intent_id == intent_id) return &o;
  }
  return nullptr;
}

const RememberedIntent* GateState::find_intent(std::string_view intent_id) const {
  auto it = intents_.find(intent_id);
  return it == intents_.end() ? nullptr : &it->second;
}

void GateState::remember(const std::string& intent_id, std::uint64_t fingerprint, const ipc::Decision& decision) {
  if (intent_order_.size() >= bounds_.remembered_intents_max) {
    intents_.erase(intent_order_.front());
    intent_order_.pop_front();
  }
  intents_.emplace(intent_id, RememberedIntent{fingerprint, decision});
  intent_order_.push_back(intent_id);
  TA_GATE_INVARIANT(intents_.size() == intent_order_.size());
}

Status GateState::record_decision(const ipc::OrderIntent& intent, const ipc::Decision& decision) {
  if (decision.replayed() || !is_remembered(decision)) return {};
  const std::string& id = intent.intent_id();
  if (decision.intent_id() != id) return make_error("decision is for intent " + decision.intent_id() + ", not " + id);
  if (find_intent(id) != nullptr) return make_error("intent " + id + " was already decided");
  if (!decision.accepted()) {
    remember(id, intent_fingerprint(intent), decision);
    return {};
  }
  if (decision.order_id() != next_order_id()) {
    return make_error("accepted decision for " + id + " has order id " + decision.order_id() + ", expected " +
                      next_order_id());
  }
  Order o;
  o.order_id = decision.order_id();
  o.intent_id = id;
  o.strategy = intent.strategy();
  o.product = intent.product();
  o.side = intent.side();
  o.type = intent.type();
  o.time_in_force = intent.time_in_force();
  o.reduce_only = decision.reduce_only();
  o.expire_ts_ns = intent.expire_ts_ns();
  o.created_ts_ns = decision.decided_ts_ns();
  o.updated_ts_ns = decision.decided_ts_ns();
  auto quantity = Decimal::parse(decision.quantity());
  auto limit = parse_optional(intent.limit_price(), "limit_price");
  auto stop = parse_optional(intent.stop_price(), "stop_price");
  const std::string* price_text = find_field(decision, "order_price");
  auto price = parse_optional(price_text ? *price_text : std::string(), "order_price");
  if (!quantity || !quantity->is_positive() || !limit || !stop || !price || !price->is_positive() ||
      (o.side != ipc::SIDE_BUY && o.side != ipc::SIDE_SELL)) {
    return make_error("accepted decision for " + id + " has unusable order fields");
  }
  o.quantity = *quantity;
  o.limit_price = *limit;
  o.stop_price = *stop;
  o.decision_price = *price;
  // The same classification decide() used: the state has not changed since.
  const auto open = detail::open_order_totals(*this, o.product, o.side);
  o.grows_exposure = !detail::order_shrinks(ledger_.position_quantity(o.product), o.side, o.quantity, open.same_side);

  live_orders_.emplace(o.order_id, std::move(o));
  accepted_times_ns_.push_back(decision.decided_ts_ns());
  while (accepted_times_ns_.size() > limits_.order_rate_per_minute_max) accepted_times_ns_.pop_front();
  ++next_order_number_;
  remember(id, intent_fingerprint(intent), decision);
  return {};
}

void GateState::close_if_terminal(std::map<std::string, Order, std::less<>>::iterator it) {
  if (!is_terminal(it->second.state)) return;
  closed_orders_.push_back(std::move(it->second));
  live_orders_.erase(it);
  while (closed_orders_.size() > bounds_.closed_orders_max) closed_orders_.pop_front();
}

Status GateState::apply_order_event(std::string_view order_id, OrderEvent event, std::int64_t ts_ns) {
  auto it = live_orders_.find(order_id);
  if (it == live_orders_.end()) {
    return make_error("no open order " + std::string(order_id) + " for " + std::string(to_string(event)));
  }
  Status s = apply_event(it->second, event, ts_ns);
  if (!s) return s;
  close_if_terminal(it);
  return {};
}

Status GateState::apply_fill(const ipc::Fill& fill) {
  auto it = live_orders_.find(fill.order_id());
  if (it == live_orders_.end()) return make_error("fill " + fill.fill_id() + " for unknown order " + fill.order_id());
  const Order& live = it->second;
  if (fill.product() != live.product || fill.side() != live.side) {
    return make_error("fill " + fill.fill_id() + " does not match order " + live.order_id + " (product or side)");
  }
  auto qty = Decimal::parse(fill.quantity());
  auto price = Decimal::parse(fill.price());
  auto fee = parse_optional(fill.fee(), "fee");
  if (!qty || !price || !fee) return make_error("fill " + fill.fill_id() + " has unparsable numbers");
  Order next = live;
  auto event = gate::apply_fill(next, *qty, *price, *fee, fill.ts_ns());
  if (!event) return make_error(event.error().message);
  Status s = ledger_.apply_fill(LedgerFill{live.product, live.side, *qty, *price, *fee, fill.ts_ns()});
  if (!s) return s;
  it->second = std::move(next);
  close_if_terminal(it);
  return {};
}

Status GateState::apply_mark(std::string_view product, Price price, std::int64_t ts_ns) {
  return ledger_.apply_mark(product, price, ts_ns);
}

Result<HaltChange> GateState::apply_halt_event(HaltEvent event, std::int64_t now_ns) {
  return halt_.apply(event, now_ns, limits_.loss_cooldown_ms);
}

std::optional<HaltChange> GateState::check_loss_limit(std::int64_t now_ns) {
  ledger_.roll_day(now_ns);
  if (!ledger_.daily_loss_breached(limits_.daily_loss_fraction_max)) return std::nullopt;
  if (halt_.loss_halt_day() == ledger_.day()) return std::nullopt;  // once per UTC day
  auto change = halt_.apply(HaltEvent::kDailyLossLimit, now_ns, limits_.loss_cooldown_ms);
  TA_GATE_INVARIANT(change.ok());  // automatic protections are legal in every state
  return *change;
}

std::optional<HaltChange> GateState::tick(std::int64_t now_ns) { return halt_.tick(now_ns); }

}  // namespace ta::gate
