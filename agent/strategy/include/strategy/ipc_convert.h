// Conversions between the engine's plain values (strategy/engine.h) and the
// gate protocol's messages (gate.proto), for the trading-agent daemon. The
// backtester drives the engine with plain values and needs none of this.
//
// Decimal fields travel as strings; parsing them is the only way these
// conversions fail, and the error names the field and the text.
#pragma once

#include "gate.pb.h"
#include "proto/result.h"
#include "strategy/engine.h"

namespace ta::agent {

// MARKET intents go out with time in force IOC: a market order that cannot
// fill at once should not rest.
ta::ipc::OrderIntent to_order_intent(const Intent& intent);
// The same into an existing message (cleared first), which keeps its
// strings' storage: no allocation once the message has been used.
void to_order_intent(const Intent& intent, ta::ipc::OrderIntent& out);

// A closed bar as the gate receives it from the agent in SIM mode (the
// replayed bars relayed for the gate's own prices and SimVenue): prices
// and volume as decimal text rounded half-even to 1e-8
// (Decimal::from_double), bid/ask only when the bar has a quote. Error: a
// value Decimal cannot hold (NaN, infinite, out of range).
[[nodiscard]] Result<ta::ipc::Bar> to_ipc_bar(const Bar& bar);
// The same into `out` (every field is set; bid and ask cleared without a
// quote), reusing its strings: the SIM agent fills the Bars of a BarBatch
// it keeps from batch to batch. On error `out` is unspecified.
[[nodiscard]] Status to_ipc_bar(const Bar& bar, ta::ipc::Bar& out);

[[nodiscard]] Result<DecisionEvent> decision_from_ipc(const ta::ipc::Decision& decision);
// Non-terminal states map to OrderEventKind::kWorking; UNKNOWN is not
// terminal (reconciliation settles it later).
[[nodiscard]] Result<OrderEvent> order_event_from_ipc(const ta::ipc::OrderUpdate& update);
[[nodiscard]] Result<FillEvent> fill_from_ipc(const ta::ipc::Fill& fill);
// Products that are not valid product ids are an error.
[[nodiscard]] Result<PositionEvent> position_from_ipc(const ta::ipc::PositionSnapshot& snapshot);

}  // namespace ta::agent
