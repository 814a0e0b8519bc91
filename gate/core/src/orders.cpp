#include "gate/orders.h"

namespace ta::gate {
namespace {

// The table as a dense matrix, built once at compile time so a lookup is
// one index; the list above stays the readable source of truth.
struct Matrix {
  // kOrderStateCount marks "illegal".
  std::array<std::array<std::uint8_t, kOrderEventCount>, kOrderStateCount> next{};
};

constexpr Matrix build_matrix() {
  Matrix m;
  for (auto& row : m.next) row.fill(static_cast<std::uint8_t>(kOrderStateCount));
  for (const auto& t : kOrderTransitions) {
    m.next[static_cast<std::size_t>(t.from)][static_cast<std::size_t>(t.event)] = static_cast<std::uint8_t>(t.to);
  }
  return m;
}

constexpr Matrix kMatrix = build_matrix();

constexpr bool table_has_no_duplicates() {
  for (std::size_t i = 0; i < std::size(kOrderTransitions); ++i) {
    for (std::size_t j = i + 1; j < std::size(kOrderTransitions); ++j) {
      if (kOrderTransitions[i].from == kOrderTransitions[j].from &&
          kOrderTransitions[i].event == kOrderTransitions[j].event) {
        return false;
      }
    }
  }
  return true;
}
static_assert(table_has_no_duplicates(), "a (state, event) pair appears twice in kOrderTransitions");

constexpr bool terminal_states_have_no_moves() {
  for (const auto& t : kOrderTransitions) {
    if (t.from == OrderState::kFilled || t.from == OrderState::kCancelled || t.from == OrderState::kRejected ||
        t.from == OrderState::kExpired) {
      return false;
    }
  }
  return true;
}
static_assert(terminal_states_have_no_moves(), "a terminal order state has an outgoing move");

}  // namespace

std::string_view to_string(OrderState state) {
  switch (state) {
    case OrderState::kPendingNew:
      return "PENDING_NEW";
    case OrderState::kSubmitted:
      return "SUBMITTED";
    case OrderState::kOpen:
      return "OPEN";
    case OrderState::kPartiallyFilled:
      return "PARTIALLY_FILLED";
    case OrderState::kFilled:
      return "FILLED";
    case OrderState::kCancelPending:
      return "CANCEL_PENDING";
    case OrderState::kCancelled:
      return "CANCELLED";
    case OrderState::kRejected:
      return "REJECTED";
    case OrderState::kExpired:
      return "EXPIRED";
    case OrderState::kUnknown:
      return "UNKNOWN";
  }
  return "?";
}

std::string_view to_string(OrderEvent event) {
  switch (event) {
    case OrderEvent::kSubmit:
      return "submit";
    case OrderEvent::kAck:
      return "ack";
    case OrderEvent::kReject:
      return "reject";
    case OrderEvent::kPartialFill:
      return "partial_fill";
    case OrderEvent::kFill:
      return "fill";
    case OrderEvent::kCancelRequest:
      return "cancel_request";
    case OrderEvent::kCancelAck:
      return "cancel_ack";
    case OrderEvent::kExpire:
      return "expire";
    case OrderEvent::kLostContact:
      return "lost_contact";
    case OrderEvent::kReconcileOpen:
      return "reconcile_open";
    case OrderEvent::kReconcilePartiallyFilled:
      return "reconcile_partially_filled";
    case OrderEvent::kReconcileCancelled:
      return "reconcile_cancelled";
    case OrderEvent::kReconcileRejected:
      return "reconcile_rejected";
    case OrderEvent::kReconcileExpired:
      return "reconcile_expired";
  }
  return "?";
}

ipc::OrderState to_proto(OrderState state) {
  switch (state) {
    case OrderState::kPendingNew:
      return ipc::ORDER_STATE_PENDING_NEW;
    case OrderState::kSubmitted:
      return ipc::ORDER_STATE_SUBMITTED;
    case OrderState::kOpen:
      return ipc::ORDER_STATE_OPEN;
    case OrderState::kPartiallyFilled:
      return ipc::ORDER_STATE_PARTIALLY_FILLED;
    case OrderState::kFilled:
      return ipc::ORDER_STATE_FILLED;
    case OrderState::kCancelPending:
      return ipc::ORDER_STATE_CANCEL_PENDING;
    case OrderState::kCancelled:
      return ipc::ORDER_STATE_CANCELLED;
    case OrderState::kRejected:
      return ipc::ORDER_STATE_REJECTED;
    case OrderState::kExpired:
      return ipc::ORDER_STATE_EXPIRED;
    case OrderState::kUnknown:
      return ipc::ORDER_STATE_UNKNOWN;
  }
  return ipc::ORDER_STATE_UNSPECIFIED;
}

bool is_terminal(OrderState state) {
  switch (state) {
    case OrderState::kFilled:
    case OrderState::kCancelled:
    case OrderState::kRejected:
    case OrderState::kExpired:
      return true;
    case OrderState::kPendingNew:
    case OrderState::kSubmitted:
    case OrderState::kOpen:
    case OrderState::kPartiallyFilled:
    case OrderState::kCancelPending:
    case OrderState::kUnknown:
      return false;
  }
  return false;
}

Result<OrderState> next_order_state(OrderState from, OrderEvent event) {
  const std::uint8_t to = kMatrix.next[static_cast<std::size_t>(from)][static_cast<std::size_t>(event)];
  if (to == kOrderStateCount) {
    return make_error("illegal order transition: " + std::string(to_string(from)) + " + " +
                      std::string(to_string(event)));
  }
  return static_cast<OrderState>(to);
}

Quantity Order::remaining() const { return Decimal::from_units(quantity.units() - filled_quantity.units()); }

Price Order::average_fill_price() const {
  if (filled_quantity.is_zero()) return Price();
  return filled_notional.div(filled_quantity, Rounding::kHalfEven).value();
}

ipc::OrderUpdate Order::to_update() const {
  ipc::OrderUpdate u;
  u.set_order_id(order_id);
  u.set_intent_id(intent_id);
  u.set_strategy(strategy);
  u.set_product(product);
  u.set_side(side);
  u.set_state(to_proto(state));
  u.set_quantity(quantity.to_string());
  u.set_filled_quantity(filled_quantity.to_string());
  u.set_average_fill_price(average_fill_price().to_string());
  u.set_venue_order_id(venue_order_id);
  u.set_ts_ns(updated_ts_ns);
  return u;
}

Status apply_event(Order& order, OrderEvent event, std::int64_t ts_ns) {
  if (event == OrderEvent::kPartialFill || event == OrderEvent::kFill) {
    return make_error("order " + order.order_id + ": fills go through apply_fill");
  }
  if (event == OrderEvent::kReconcileOpen && !order.filled_quantity.is_zero()) {
    return make_error("order " + order.order_id + ": reconcile_open but " + order.filled_quantity.to_string() +
                      " already filled");
  }
  if (event == OrderEvent::kReconcilePartiallyFilled && order.filled_quantity.is_zero()) {
    return make_error("order " + order.order_id + ": reconcile_partially_filled but nothing filled");
  }
  auto next = next_order_state(order.state, event);
  if (!next) return make_error("order " + order.order_id + ": " + next.error().message);
  order.state = *next;
  order.updated_ts_ns = ts_ns;
  if (event == OrderEvent::kCancelRequest) order.cancel_requested_ts_ns = ts_ns;
  return {};
}

Result<OrderEvent> apply_fill(Order& order, Quantity quantity, Price price, Notional fee, std::int64_t ts_ns) {
  if (!quantity.is_positive() || !price.is_positive() || fee.is_negative()) {
    return make_error("order " + order.order_id + ": fill needs positive quantity and price and a fee >= 0, got " +
                      quantity.to_string() + " @ " + price.to_string() + " fee " + fee.to_string());
  }
  const Quantity remaining = order.remaining();
  if (quantity > remaining) {
    return make_error("order " + order.order_id + ": overfill, fill " + quantity.to_string() + " but only " +
                      remaining.to_string() + " remains of " + order.quantity.to_string());
  }
  const OrderEvent event = quantity == remaining ? OrderEvent::kFill : OrderEvent::kPartialFill;
  auto next = next_order_state(order.state, event);
  if (!next) return make_error("order " + order.order_id + ": " + next.error().message);
  auto notional = quantity.mul(price, Rounding::kHalfEven);
  if (!notional) return make_error("order " + order.order_id + ": fill notional: " + notional.error().message);
  auto filled_notional = order.filled_notional.add(*notional);
  auto fees = order.fees.add(fee);
  if (!filled_notional || !fees) return make_error("order " + order.order_id + ": fill totals overflow");
  order.state = *next;
  order.filled_quantity = Decimal::from_units(order.filled_quantity.units() + quantity.units());
  order.filled_notional = *filled_notional;
  order.fees = *fees;
  order.updated_ts_ns = ts_ns;
  return event;
}

}  // namespace ta::gate
