// The order state machine (DESIGN.md section 4).
//
// kOrderTransitions is the ONLY place that says which (state, event) moves
// are legal; next_order_state() looks moves up there and refuses everything
// else with an error naming the state and the event. In production an
// illegal move is a bug: the caller logs it and halts.
//
// Order adds what the table cannot see: quantities. A fill is kPartialFill
// or kFill according to how much remains, an overfill is refused, and the
// reconcile events must agree with the filled quantity.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gate.pb.h"
#include "proto/decimal.h"
#include "proto/result.h"

namespace ta::gate {

enum class OrderState : std::uint8_t {
  kPendingNew,       // decided and journaled; not yet sent
  kSubmitted,        // sent to the venue; no answer yet
  kOpen,             // acknowledged, resting, nothing filled
  kPartiallyFilled,  // acknowledged, part filled, rest resting
  kFilled,           // terminal
  kCancelPending,    // the gate asked for a cancel
  kCancelled,        // terminal
  kRejected,         // terminal
  kExpired,          // terminal
  kUnknown,          // fate unknown (timeout, disconnect) until reconciled
};
inline constexpr std::size_t kOrderStateCount = 10;

enum class OrderEvent : std::uint8_t {
  kSubmit,         // the gate sent the order to the venue
  kAck,            // the venue accepted it
  kReject,         // the venue (or the venue adapter, before sending) refused it
  kPartialFill,    // a fill that leaves quantity open
  kFill,           // the fill that completes the quantity
  kCancelRequest,  // the gate asks the venue to cancel
  kCancelAck,      // the venue reports the order cancelled, asked for or not (IOC rest)
  kExpire,         // the venue reports the order expired (GTD)
  kLostContact,    // timeout or disconnect: the venue's view is unknown
  kReconcileOpen,             // reconciliation: resting, nothing filled
  kReconcilePartiallyFilled,  // reconciliation: resting, part filled
  kReconcileCancelled,        // reconciliation: the venue cancelled it
  kReconcileRejected,         // reconciliation: the venue never took it
  kReconcileExpired,          // reconciliation: the venue expired it
};
inline constexpr std::size_t kOrderEventCount = 14;

struct OrderTransition {
  OrderState from;
  OrderEvent event;
  OrderState to;
};

// Every legal move; anything absent is illegal. Fills while UNKNOWN are
// facts learned during reconciliation and are applied before the
// reconcile_* event that settles the state. A fill racing a cancel is
// legal (CANCEL_PENDING + fill). PENDING_NEW + cancel_request settles at
// once because the venue never saw the order.
inline constexpr OrderTransition kOrderTransitions[] = {
    {OrderState::kPendingNew, OrderEvent::kSubmit, OrderState::kSubmitted},
    {OrderState::kPendingNew, OrderEvent::kReject, OrderState::kRejected},
    {OrderState::kPendingNew, OrderEvent::kCancelRequest, OrderState::kCancelled},

    {OrderState::kSubmitted, OrderEvent::kAck, OrderState::kOpen},
    {OrderState::kSubmitted, OrderEvent::kReject, OrderState::kRejected},
    {OrderState::kSubmitted, OrderEvent::kPartialFill, OrderState::kPartiallyFilled},
    {OrderState::kSubmitted, OrderEvent::kFill, OrderState::kFilled},
    {OrderState::kSubmitted, OrderEvent::kCancelRequest, OrderState::kCancelPending},
    {OrderState::kSubmitted, OrderEvent::kCancelAck, OrderState::kCancelled},
    {OrderState::kSubmitted, OrderEvent::kExpire, OrderState::kExpired},
    {OrderState::kSubmitted, OrderEvent::kLostContact, OrderState::kUnknown},

    {OrderState::kOpen, OrderEvent::kPartialFill, OrderState::kPartiallyFilled},
    {OrderState::kOpen, OrderEvent::kFill, OrderState::kFilled},
    {OrderState::kOpen, OrderEvent::kCancelRequest, OrderState::kCancelPending},
    {OrderState::kOpen, OrderEvent::kCancelAck, OrderState::kCancelled},
    {OrderState::kOpen, OrderEvent::kExpire, OrderState::kExpired},
    {OrderState::kOpen, OrderEvent::kLostContact, OrderState::kUnknown},

    {OrderState::kPartiallyFilled, OrderEvent::kPartialFill, OrderState::kPartiallyFilled},
    {OrderState::kPartiallyFilled, OrderEvent::kFill, OrderState::kFilled},
    {OrderState::kPartiallyFilled, OrderEvent::kCancelRequest, OrderState::kCancelPending},
    {OrderState::kPartiallyFilled, OrderEvent::kCancelAck, OrderState::kCancelled},
    {OrderState::kPartiallyFilled, OrderEvent::kExpire, OrderState::kExpired},
    {OrderState::kPartiallyFilled, OrderEvent::kLostContact, OrderState::kUnknown},

    {OrderState::kCancelPending, OrderEvent::kAck, OrderState::kCancelPending},
    {OrderState::kCancelPending, OrderEvent::kReject, OrderState::kRejected},
    {OrderState::kCancelPending, OrderEvent::kPartialFill, OrderState::kCancelPending},
    {OrderState::kCancelPending, OrderEvent::kFill, OrderState::kFilled},
    {OrderState::kCancelPending, OrderEvent::kCancelAck, OrderState::kCancelled},
    {OrderState::kCancelPending, OrderEvent::kExpire, OrderState::kExpired},
    {OrderState::kCancelPending, OrderEvent::kLostContact, OrderState::kUnknown},

    {OrderState::kUnknown, OrderEvent::kPartialFill, OrderState::kUnknown},
    {OrderState::kUnknown, OrderEvent::kFill, OrderState::kFilled},
    {OrderState::kUnknown, OrderEvent::kLostContact, OrderState::kUnknown},
    {OrderState::kUnknown, OrderEvent::kReconcileOpen, OrderState::kOpen},
    {OrderState::kUnknown, OrderEvent::kReconcilePartiallyFilled, OrderState::kPartiallyFilled},
    {OrderState::kUnknown, OrderEvent::kReconcileCancelled, OrderState::kCancelled},
    {OrderState::kUnknown, OrderEvent::kReconcileRejected, OrderState::kRejected},
    {OrderState::kUnknown, OrderEvent::kReconcileExpired, OrderState::kExpired},
};

std::string_view to_string(OrderState state);  // "PARTIALLY_FILLED"
std::string_view to_string(OrderEvent event);  // "partial_fill"
ipc::OrderState to_proto(OrderState state);
// FILLED, CANCELLED, REJECTED, EXPIRED: no event leaves them.
bool is_terminal(OrderState state);

// The table lookup. Error: "illegal order transition: FILLED + cancel_request".
Result<OrderState> next_order_state(OrderState from, OrderEvent event);

// One order as the gate tracks it. Prices that do not apply are zero.
struct Order {
  std::string order_id;
  std::string intent_id;
  std::string strategy;
  std::string product;
  ipc::Side side = ipc::SIDE_UNSPECIFIED;
  ipc::OrderType type = ipc::ORDER_TYPE_UNSPECIFIED;
  ipc::TimeInForce time_in_force = ipc::TIME_IN_FORCE_UNSPECIFIED;
  Quantity quantity;
  Price limit_price;
  Price stop_price;
  // The price decide() valued the order at (limit price, or the reference
  // price for a market order); open orders hold cash and exposure at it.
  Price decision_price;
  bool reduce_only = false;
  // decide()'s classification when accepted: false when the order shrank
  // the position at the time. Growing orders count toward the position and
  // gross exposure limits while they are open.
  bool grows_exposure = true;
  std::int64_t expire_ts_ns = 0;

  OrderState state = OrderState::kPendingNew;
  Quantity filled_quantity;
  Notional filled_notional;  // sum of fill quantity x price, exact
  Notional fees;
  std::string venue_order_id;
  std::int64_t created_ts_ns = 0;
  std::int64_t updated_ts_ns = 0;
  std::int64_t cancel_requested_ts_ns = 0;  // the latest cancel_request event; 0: none
  // STOP_LIMIT: the venue reached the stop, and the order acts as a limit
  // order on bars opening at or after this market time; -1: not reached.
  // Journaled (StopTriggered) so a venue rebuilt after a restart keeps it.
  std::int64_t stop_limit_from_ns = -1;

  Quantity remaining() const;  // quantity - filled_quantity
  // filled_notional / filled_quantity, half-even; zero when nothing filled.
  Price average_fill_price() const;
  ipc::OrderUpdate to_update() const;
};

// Applies any event except fills (use apply_fill). Reconcile events must
// agree with the filled quantity: reconcile_open needs nothing filled,
// reconcile_partially_filled needs a part filled. On error the order is
// unchanged.
Status apply_event(Order& order, OrderEvent event, std::int64_t ts_ns);

// Applies a fill: kFill when it completes the quantity, kPartialFill
// otherwise. Refuses a non-positive quantity or price, a negative fee, and
// an overfill (filled + quantity > order quantity). On error the order is
// unchanged. Returns the event applied.
Result<OrderEvent> apply_fill(Order& order, Quantity quantity, Price price, Notional fee, std::int64_t ts_ns);

}  // namespace ta::gate
