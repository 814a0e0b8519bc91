#include "strategy/ipc_convert.h"

namespace ta::agent {
namespace {

Result<Decimal> field(std::string_view name, const std::string& text) {
  auto d = Decimal::parse(text);
  if (!d) return make_error(std::string(name) + ": " + d.error().message);
  return d;
}

// An empty string means "not given" in proto3; zero then.
Result<Decimal> optional_field(std::string_view name, const std::string& text) {
  if (text.empty()) return Decimal::zero();
  return field(name, text);
}

Result<OrderSide> side_from(ta::ipc::Side side) {
  switch (side) {
    case ta::ipc::SIDE_BUY: return OrderSide::kBuy;
    case ta::ipc::SIDE_SELL: return OrderSide::kSell;
    case ta::ipc::SIDE_UNSPECIFIED:
    case ta::ipc::Side_INT_MIN_SENTINEL_DO_NOT_USE_:
    case ta::ipc::Side_INT_MAX_SENTINEL_DO_NOT_USE_:
      break;
  }
  return make_error("side is not BUY or SELL");
}

}  // namespace

ta::ipc::OrderIntent to_order_intent(const Intent& intent) {
  ta::ipc::OrderIntent m;
  to_order_intent(intent, m);
  return m;
}

void to_order_intent(const Intent& intent, ta::ipc::OrderIntent& m) {
  m.Clear();
  m.set_intent_id(intent.intent_id);
  m.set_strategy(intent.strategy);
  m.set_product(intent.product.view().data(), intent.product.view().size());
  m.set_side(intent.side == OrderSide::kBuy ? ta::ipc::SIDE_BUY : ta::ipc::SIDE_SELL);
  switch (intent.type) {
    case OrderType::kMarket:
      m.set_type(ta::ipc::ORDER_TYPE_MARKET);
      m.set_time_in_force(ta::ipc::TIME_IN_FORCE_IOC);
      break;
  }
  m.set_quantity(intent.quantity.to_string());
  m.set_reduce_only(intent.reduce_only);
  if (intent.protective_stop_price.is_positive()) {
    m.set_protective_stop_price(intent.protective_stop_price.to_string());
  }
  m.set_created_ts_ns(intent.created_ts_ns);
}

Status to_ipc_bar(const Bar& bar, ta::ipc::Bar& out) {
  out.set_product(bar.product.view().data(), bar.product.view().size());
  out.set_open_ts_s(bar.open_ts_s);
  const double values[] = {bar.open, bar.high, bar.low, bar.close, bar.volume,
                           bar.quote ? bar.quote->bid : 0.0, bar.quote ? bar.quote->ask : 0.0};
  const char* names[] = {"open", "high", "low", "close", "volume", "bid", "ask"};
  std::string* fields[] = {out.mutable_open(), out.mutable_high(),  out.mutable_low(), out.mutable_close(),
                           out.mutable_volume(), out.mutable_bid(), out.mutable_ask()};
  const std::size_t count = bar.quote ? 7 : 5;
  for (std::size_t i = 0; i < count; ++i) {
    auto d = Decimal::from_double(values[i], Rounding::kHalfEven);
    if (!d) return make_error(std::string("bar ") + names[i] + ": " + d.error().message);
    *fields[i] = d->to_string();
  }
  if (!bar.quote) {
    out.clear_bid();
    out.clear_ask();
  }
  return {};
}

Result<ta::ipc::Bar> to_ipc_bar(const Bar& bar) {
  ta::ipc::Bar m;
  if (auto st = to_ipc_bar(bar, m); !st) return st.error();
  return m;
}

Result<DecisionEvent> decision_from_ipc(const ta::ipc::Decision& decision) {
  DecisionEvent e;
  e.intent_id = decision.intent_id();
  e.accepted = decision.accepted();
  e.deny_reason = static_cast<std::int32_t>(decision.reason());
  static_assert(kDenyReasonHeldForApproval == ta::ipc::DENY_REASON_HELD_FOR_APPROVAL);
  auto q = optional_field("quantity", decision.quantity());
  if (!q) return q.error();
  e.quantity = *q;
  return e;
}

Result<OrderEvent> order_event_from_ipc(const ta::ipc::OrderUpdate& update) {
  OrderEvent e;
  e.intent_id = update.intent_id();
  switch (update.state()) {
    case ta::ipc::ORDER_STATE_FILLED: e.kind = OrderEventKind::kFilled; break;
    case ta::ipc::ORDER_STATE_CANCELLED: e.kind = OrderEventKind::kCancelled; break;
    case ta::ipc::ORDER_STATE_REJECTED: e.kind = OrderEventKind::kRejected; break;
    case ta::ipc::ORDER_STATE_EXPIRED: e.kind = OrderEventKind::kExpired; break;
    case ta::ipc::ORDER_STATE_UNSPECIFIED:
    case ta::ipc::ORDER_STATE_PENDING_NEW:
    case ta::ipc::ORDER_STATE_SUBMITTED:
    case ta::ipc::ORDER_STATE_OPEN:
    case ta::ipc::ORDER_STATE_PARTIALLY_FILLED:
    case ta::ipc::ORDER_STATE_CANCEL_PENDING:
    case ta::ipc::ORDER_STATE_UNKNOWN:
    case ta::ipc::OrderState_INT_MIN_SENTINEL_DO_NOT_USE_:
    case ta::ipc::OrderState_INT_MAX_SENTINEL_DO_NOT_USE_:
      e.kind = OrderEventKind::kWorking;
      break;
  }
  auto q = optional_field("filled_quantity", update.filled_quantity());
  if (!q) return q.error();
  e.filled_quantity = *q;
  return e;
}

Result<FillEvent> fill_from_ipc(const ta::ipc::Fill& fill) {
  FillEvent e;
  e.intent_id = fill.intent_id();
  e.strategy = fill.strategy();
  auto product = ProductId::parse(fill.product());
  if (!product) return make_error("product: " + product.error().message);
  e.product = *product;
  auto side = side_from(fill.side());
  if (!side) return side.error();
  e.side = *side;
  auto q = field("quantity", fill.quantity());
  if (!q) return q.error();
  e.quantity = *q;
  auto price = field("price", fill.price());
  if (!price) return price.error();
  e.price = *price;
  auto fee = optional_field("fee", fill.fee());
  if (!fee) return fee.error();
  e.fee = *fee;
  e.ts_ns = fill.ts_ns();
  return e;
}

Result<PositionEvent> position_from_ipc(const ta::ipc::PositionSnapshot& snapshot) {
  PositionEvent e;
  if (snapshot.has_account() && !snapshot.account().equity().empty()) {
    auto equity = field("account.equity", snapshot.account().equity());
    if (!equity) return equity.error();
    e.equity = *equity;
  }
  for (const auto& p : snapshot.positions()) {
    auto product = ProductId::parse(p.product());
    if (!product) return make_error("positions.product: " + product.error().message);
    auto q = field("positions.quantity", p.quantity());
    if (!q) return q.error();
    e.positions.emplace_back(*product, *q);
  }
  return e;
}

}  // namespace ta::agent
