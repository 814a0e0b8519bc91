// GateState: the mutations that follow journaled events. Each method either
// applies completely or returns an error and changes nothing, so a replay
// that stops at a bad record leaves a consistent state behind.
#include <algorithm>
#include <iterator>

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

bool has_marker(const ipc::Decision& d, std::string_view name) {
  const std::string* v = find_field(d, name);
  return v != nullptr && *v == "1";
}

}  // namespace

GateState::GateState(SafetyLimits limits, Ledger ledger, GateStateBounds bounds)
    : limits_(std::move(limits)), bounds_(bounds), ledger_(std::move(ledger)), intents_(bounds.remembered_intents_max) {
  market_stats_.resize(limits_.products.size());
}

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

const ProductOrderTotals* GateState::order_totals(std::string_view product) const {
  for (const ProductOrderTotals& t : order_totals_) {
    if (t.product == product) return &t;
  }
  return nullptr;
}

namespace {

void add_order(std::vector<ProductOrderTotals>& totals, const Order& o, int sign) {
  auto it = std::find_if(totals.begin(), totals.end(), [&](const ProductOrderTotals& t) { return t.product == o.product; });
  if (it == totals.end()) {
    TA_GATE_INVARIANT(sign > 0);  // an order leaves only the totals it joined
    it = totals.insert(totals.end(), ProductOrderTotals{});
    it->product = o.product;
  }
  ProductOrderTotals& t = *it;
  const Int128 remaining = Int128{o.remaining().units()} * sign;
  const Int128 notional = detail::wide(o.remaining(), o.decision_price);
  const auto move = [sign](WideSum& sum, Int128 v) {
    if (sign > 0) {
      sum.add(v);
    } else {
      sum.sub(v);
    }
  };
  t.count = sign > 0 ? t.count + 1 : t.count - 1;
  if (o.side == ipc::SIDE_BUY) {
    t.buy_remaining += remaining;
    move(t.buy_notional, notional);
  } else {
    t.sell_remaining += remaining;
  }
  if (o.grows_exposure) {
    t.growing_remaining += remaining;
    move(t.growing_notional, notional);
  }
  if (t.count == 0) {
    ProductOrderTotals zero;
    zero.product = t.product;
    TA_GATE_INVARIANT(t == zero);  // every sum went back to zero
    totals.erase(it);
  }
}

bool same_totals(std::vector<ProductOrderTotals> a, std::vector<ProductOrderTotals> b) {
  const auto by_product = [](const ProductOrderTotals& x, const ProductOrderTotals& y) { return x.product < y.product; };
  std::sort(a.begin(), a.end(), by_product);
  std::sort(b.begin(), b.end(), by_product);
  return a == b;
}

}  // namespace

void GateState::count_order(const Order& o, int sign) { add_order(order_totals_, o, sign); }

std::vector<ProductOrderTotals> GateState::recount_order_totals() const {
  std::vector<ProductOrderTotals> out;
  for (const auto& [id, o] : live_orders_) add_order(out, o, +1);
  return out;
}

bool GateState::order_totals_match_recount() const { return same_totals(order_totals_, recount_order_totals()); }

// Debug builds (and so every test) recount after each order change; a
// release gate trusts the incremental sums, whose updates sit next to the
// only three mutations of live orders.
void GateState::check_order_totals() const {
#ifndef NDEBUG
  TA_GATE_INVARIANT(order_totals_match_recount());
#endif
}

std::optional<RememberedIntent> GateState::find_intent(std::string_view intent_id) const {
  return intents_.find(intent_id);
}

void GateState::remember(const ipc::OrderIntent& intent, const ipc::Decision& decision) {
  intents_.add(intent.intent_id(), intent_fingerprint(intent), intent.created_ts_ns(), decision);
}

Status GateState::record_decision(const ipc::OrderIntent& intent, const ipc::Decision& decision) {
  if (decision.replayed() || !is_remembered(decision)) return {};
  const std::string& id = intent.intent_id();
  if (decision.intent_id() != id) return make_error("decision is for intent " + decision.intent_id() + ", not " + id);
  if (has_marker(decision, kFieldHoldReleased) || has_marker(decision, kFieldHoldRejected) ||
      has_marker(decision, kFieldHoldExpired)) {
    return settle_hold(intent, decision);
  }
  if (intents_.contains(id)) return make_error("intent " + id + " was already decided");
  if (decision.accepted()) {
    Status s = create_order(intent, decision);
    if (!s) return s;
  } else if (decision.reason() == ipc::DENY_REASON_HELD_FOR_APPROVAL) {
    if (holds_.size() >= bounds_.pending_holds_max) {
      return make_error("held intent " + id + " does not fit: " + std::to_string(holds_.size()) + " holds pending");
    }
    const std::string* expiry_text = find_field(decision, kFieldHoldExpiry);
    auto expiry = parse_optional(expiry_text ? *expiry_text : std::string(), "hold_expiry_s");
    if (!expiry || !expiry->is_positive() || !expiry->is_multiple_of(Decimal::from_integer(1)) ||
        expiry->units() / Decimal::kScale > rules::kHoldExpiryMax_s) {
      return make_error("held decision for " + id + " has no usable hold_expiry_s");
    }
    const std::int64_t expiry_s = expiry->units() / Decimal::kScale;
    holds_.emplace(id, PendingHold{intent, decision, decision.decided_ts_ns(),
                                   decision.decided_ts_ns() + expiry_s * kNanosPerSecond});
  }
  remember(intent, decision);
  recent_intent_times_ns_.push_back(decision.decided_ts_ns());
  while (recent_intent_times_ns_.size() > bounds_.recent_intents_max) recent_intent_times_ns_.pop_front();
  count_rule_hits(decision);
  return {};
}

Status GateState::create_order(const ipc::OrderIntent& intent, const ipc::Decision& decision) {
  const std::string& id = intent.intent_id();
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

  count_order(o, +1);
  live_orders_.emplace(o.order_id, std::move(o));
  check_order_totals();
  accepted_times_ns_.push_back(decision.decided_ts_ns());
  while (accepted_times_ns_.size() > limits_.order_rate_per_minute_max) accepted_times_ns_.pop_front();
  ++next_order_number_;
  return {};
}

// An approval, rejection or expiry of a held order: the hold goes, the
// remembered decision becomes the settlement (so retries see it), and an
// approved, accepted one creates the order.
Status GateState::settle_hold(const ipc::OrderIntent& intent, const ipc::Decision& decision) {
  const std::string& id = intent.intent_id();
  auto hold = holds_.find(id);
  if (hold == holds_.end()) return make_error("no held order for intent " + id + " to settle");
  if (intent_fingerprint(hold->second.intent) != intent_fingerprint(intent)) {
    return make_error("settlement for held intent " + id + " carries a different intent");
  }
  if (decision.accepted() && !has_marker(decision, kFieldHoldReleased)) {
    return make_error("only an approval may accept held intent " + id);
  }
  if (decision.accepted()) {
    Status s = create_order(intent, decision);
    if (!s) return s;
  }
  holds_.erase(hold);
  if (!intents_.replace(id, decision)) {
    remember(intent, decision);  // forgotten meanwhile (idempotency memory is bounded)
  }
  // An approval decided the intent again, so its rules fired again; a
  // rejection or expiry only repeats the held decision's list.
  if (has_marker(decision, kFieldHoldReleased)) count_rule_hits(decision);
  return {};
}

Status GateState::apply_rules_loaded(const ipc::RulesLoaded& loaded) {
  if (loaded.failed()) return {};
  if (loaded.rules().empty() && loaded.rule_count() > 0) {
    loaded_rules_known_ = false;
    loaded_rules_.clear();
    return {};
  }
  if (static_cast<std::size_t>(loaded.rules_size()) > rules::kRuleCountMax) {
    return make_error("RulesLoaded lists " + std::to_string(loaded.rules_size()) + " rules; at most " +
                      std::to_string(rules::kRuleCountMax) + " can be loaded");
  }
  std::map<std::string, std::uint32_t, std::less<>> next;
  for (const ipc::RulesLoaded::Rule& r : loaded.rules()) {
    if (!next.emplace(r.id(), r.version()).second) return make_error("RulesLoaded lists rule " + r.id() + " twice");
  }
  for (auto it = rule_hits_.begin(); it != rule_hits_.end();) {
    bool keep = false;
    if (auto now = next.find(it->first); now != next.end()) {
      // A counter from before the loaded set was known has no version: it
      // stays while its rule is loaded.
      auto before = loaded_rules_.find(it->first);
      keep = !loaded_rules_known_ || before == loaded_rules_.end() || before->second == now->second;
    }
    it = keep ? std::next(it) : rule_hits_.erase(it);
  }
  loaded_rules_ = std::move(next);
  loaded_rules_known_ = true;
  return {};
}

void GateState::count_rule_hits(const ipc::Decision& decision) {
  for (const std::string& rule_id : decision.rules_fired()) {
    if (loaded_rules_known_ && loaded_rules_.count(rule_id) == 0) {
      ++rule_hits_untracked_;
      continue;
    }
    auto it = rule_hits_.find(rule_id);
    if (it != rule_hits_.end()) {
      ++it->second;
    } else if (rule_hits_.size() < bounds_.rule_hit_ids_max) {
      rule_hits_.emplace(rule_id, 1);
    } else {
      ++rule_hits_untracked_;
    }
  }
}

const PendingHold* GateState::find_hold(std::string_view intent_id) const {
  auto it = holds_.find(intent_id);
  return it == holds_.end() ? nullptr : &it->second;
}

const MarketStats* GateState::market_stats(std::string_view product) const {
  const ProductLimits* p = limits_.find(product);
  if (p == nullptr) return nullptr;
  const MarketStats& m = market_stats_[static_cast<std::size_t>(p - limits_.products.data())];
  return m.empty() ? nullptr : &m;
}

MarketStats* GateState::market_stats_for(std::string_view product) {
  const ProductLimits* p = limits_.find(product);
  if (p == nullptr) return nullptr;
  return &market_stats_[static_cast<std::size_t>(p - limits_.products.data())];
}

Status GateState::apply_bar(const Bar& bar) {
  MarketStats* m = market_stats_for(bar.product);
  if (m == nullptr) return make_error("bar for product " + bar.product + " that safety.yaml does not allow");
  return m->add_bar(bar);
}

Status GateState::apply_quote(std::string_view product, Price bid, Price ask, std::int64_t ts_ns) {
  MarketStats* m = market_stats_for(product);
  if (m == nullptr) return make_error("quote for product " + std::string(product) + " that safety.yaml does not allow");
  return m->set_quote(bid, ask, ts_ns);
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
  // Events change no quantity; a finished order leaves the sums.
  if (is_terminal(it->second.state)) count_order(it->second, -1);
  const bool rejected = event == OrderEvent::kReject || event == OrderEvent::kReconcileRejected;
  if (rejected && it->second.strategy == kGateStrategy && halt_.flatten_wanted()) flatten_refused_ = true;
  close_if_terminal(it);
  check_order_totals();
  return {};
}

Status GateState::apply_stop_triggered(std::string_view order_id, std::int64_t limit_from_ns) {
  auto it = live_orders_.find(order_id);
  if (it == live_orders_.end()) return make_error("stop triggered for " + std::string(order_id) + ", which is not open");
  Order& o = it->second;
  if (o.type != ipc::ORDER_TYPE_STOP_LIMIT) {
    return make_error("stop triggered for " + o.order_id + ", which is not a stop-limit order");
  }
  if (o.stop_limit_from_ns >= 0) return make_error("stop of " + o.order_id + " triggered twice");
  if (limit_from_ns < 0) return make_error("stop of " + o.order_id + " triggered at a negative time");
  o.stop_limit_from_ns = limit_from_ns;
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
  const Position* p = ledger_.find(live.product);
  const Position before = p != nullptr ? *p : Position{};
  Status s = ledger_.apply_fill(LedgerFill{live.product, live.side, *qty, *price, *fee, fill.ts_ns()});
  if (!s) return s;
  const Position* after = ledger_.find(live.product);
  TA_GATE_INVARIANT(after != nullptr);  // the ledger just applied a fill to it
  update_trade_stats(before, *after, fill);
  count_order(it->second, -1);
  it->second = std::move(next);
  if (!is_terminal(it->second.state)) count_order(it->second, +1);
  close_if_terminal(it);
  check_order_totals();
  return {};
}

// See TradeStats in core.h for the definitions.
void GateState::update_trade_stats(const Position& before, const Position& after, const ipc::Fill& fill) {
  TradeStats& t = trade_stats_;
  const std::int64_t day = utc_day(fill.ts_ns());
  if (t.fills_in_day == 0 || day > t.fills_day) {
    t.fills_day = day;
    t.fills_in_day = 0;
  }
  if (day == t.fills_day) ++t.fills_in_day;  // a late fill from an earlier day is not today's

  const Quantity q0 = before.quantity;
  const Quantity q1 = after.quantity;
  const bool reduces = (q0.is_positive() && fill.side() == ipc::SIDE_SELL) ||
                       (q0.is_negative() && fill.side() == ipc::SIDE_BUY);
  const auto realized = after.realized_pnl.sub(before.realized_pnl);
  if (reduces && realized.ok() && realized->is_negative()) {
    if (!t.stopped_out || fill.ts_ns() > t.last_stop_out_ts_ns) t.last_stop_out_ts_ns = fill.ts_ns();
    t.stopped_out = true;
  }

  const std::string& product = after.product;
  const bool closes = reduces && (q1.is_zero() || q1.is_negative() != q0.is_negative());
  if (closes) {
    auto start = trade_starts_.find(product);
    const TradeStart from = start != trade_starts_.end() ? start->second : TradeStart{before.realized_pnl, before.fees};
    // Differences of ledger totals, each within the ledger's checked range.
    const auto pnl = after.realized_pnl.sub(from.realized_pnl);
    const auto fees = after.fees.sub(from.fees);
    const bool loss = pnl.ok() && fees.ok() && *pnl < *fees;
    t.consecutive_losses = loss ? t.consecutive_losses + 1 : 0;
    trade_starts_.erase(product);
  }
  if (q1.is_zero()) return;
  if (q0.is_zero()) {
    trade_starts_[product] = TradeStart{before.realized_pnl, before.fees};  // the opening fill's fee counts
  } else if (closes) {
    trade_starts_[product] = TradeStart{after.realized_pnl, after.fees};  // flipped: a new trade
  }
}

Status GateState::apply_mark(std::string_view product, Price price, std::int64_t ts_ns) {
  return ledger_.apply_mark(product, price, ts_ns);
}

Result<HaltChange> GateState::apply_halt_event(HaltEvent event, std::int64_t now_ns) {
  auto change = halt_.apply(event, now_ns, limits_.loss_cooldown_ms);
  if (change && change->flatten) flatten_refused_ = false;  // a new flattening: try again
  return change;
}

std::optional<HaltChange> GateState::check_loss_limit(std::int64_t now_ns) {
  ledger_.roll_day(now_ns);
  if (!ledger_.daily_loss_breached(limits_.daily_loss_fraction_max)) return std::nullopt;
  if (halt_.loss_halt_day() == ledger_.day()) return std::nullopt;  // once per UTC day
  auto change = halt_.apply(HaltEvent::kDailyLossLimit, now_ns, limits_.loss_cooldown_ms);
  TA_GATE_INVARIANT(change.ok());  // automatic protections are legal in every state
  flatten_refused_ = false;        // the limit flattens: a new flattening
  return *change;
}

std::optional<HaltChange> GateState::tick(std::int64_t now_ns) { return halt_.tick(now_ns); }

}  // namespace ta::gate
