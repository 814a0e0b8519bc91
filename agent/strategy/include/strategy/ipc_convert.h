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

[[nodiscard]] Result<DecisionEvent> decision_from_ipc(const ta::ipc::Decision& decision);
// Non-terminal states map to OrderEventKind::kWorking; UNKNOWN is not
// terminal (reconciliation settles it later).
[[nodiscard]] Result<OrderEvent> order_event_from_ipc(const ta::ipc::OrderUpdate& update);
[[nodiscard]] Result<FillEvent> fill_from_ipc(const ta::ipc::Fill& fill);
// Products that are not valid product ids are an error.
[[nodiscard]] Result<PositionEvent> position_from_ipc(const ta::ipc::PositionSnapshot& snapshot);

}  // namespace ta::agent
