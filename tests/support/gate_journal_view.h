// The gate journal's view of orders and positions, rebuilt by the tests
// from the records alone, independently of the gate's own replay code.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "gate_daemon_support.h"
#include "proto/decimal.h"

namespace ta::test {

// The journal's view of orders and positions, rebuilt here from the
// records alone: an accepted IntentDecided creates an order, each
// OrderUpdate states its new state, each Fill moves a position and fills
// its order (a crash may come between a Fill and the OrderUpdate that
// restates it; the Fill is the event, the update only its echo).
struct JournalView {
  struct OrderView {
    std::string intent_id;
    Decimal quantity;
    ipc::OrderState state = ipc::ORDER_STATE_PENDING_NEW;
    std::string filled = "0";
  };
  std::map<std::string, OrderView> orders;                 // by order id
  std::map<std::string, std::vector<std::string>> accepted;  // intent id -> order ids accepted
  std::map<std::string, Decimal> position;                 // product -> signed quantity
  Decimal fees;
  std::string error;
};

inline void apply_to_view(JournalView& v, const std::vector<ipc::GateRecord>& records) {
  for (const auto& r : records) {
    if (r.has_intent_decided()) {
      const auto& d = r.intent_decided().decision();
      if (d.accepted() && !d.replayed()) {
        v.accepted[r.intent_decided().intent().intent_id()].push_back(d.order_id());
        v.orders[d.order_id()].intent_id = r.intent_decided().intent().intent_id();
        v.orders[d.order_id()].quantity = Decimal::parse(d.quantity()).value();
      }
    } else if (r.has_order_update()) {
      auto& o = v.orders[r.order_update().order_id()];
      o.state = r.order_update().state();
      o.filled = r.order_update().filled_quantity();
    } else if (r.has_fill()) {
      const auto q = Decimal::parse(r.fill().quantity());
      const auto fee = Decimal::parse(r.fill().fee());
      if (!q || !fee) {
        v.error = "unparsable fill " + r.fill().fill_id();
        continue;
      }
      auto& o = v.orders[r.fill().order_id()];
      const Decimal filled = Decimal::parse(o.filled).value().add(*q).value();
      o.filled = filled.to_string();
      // docs/gate-core.md: a fill completes the order or leaves it partly
      // filled, except while a cancel is pending or the state is unknown.
      if (filled == o.quantity) {
        o.state = ipc::ORDER_STATE_FILLED;
      } else if (o.state != ipc::ORDER_STATE_CANCEL_PENDING && o.state != ipc::ORDER_STATE_UNKNOWN) {
        o.state = ipc::ORDER_STATE_PARTIALLY_FILLED;
      }
      Decimal& pos = v.position[r.fill().product()];
      pos = (r.fill().side() == ipc::SIDE_BUY ? pos.add(*q) : pos.sub(*q)).value();
      v.fees = v.fees.add(*fee).value();
    }
  }
}

inline JournalView view_of(const std::vector<ipc::GateRecord>& records) {
  JournalView v;
  apply_to_view(v, records);
  return v;
}

// The view of the journal in `dir`; a record that cannot be read ends it
// (in `error`).
inline JournalView replay(const std::string& dir) {
  JournalView v;
  const std::vector<ipc::GateRecord> records = read_gate_records(dir, &v.error);
  apply_to_view(v, records);
  return v;
}

inline bool terminal(ipc::OrderState s) {
  return s == ipc::ORDER_STATE_FILLED || s == ipc::ORDER_STATE_CANCELLED || s == ipc::ORDER_STATE_REJECTED ||
         s == ipc::ORDER_STATE_EXPIRED;
}

// One order's state as the tests compare it: "STATE filled_quantity".
inline std::string order_text(ipc::OrderState state, const std::string& filled) {
  return ipc::OrderState_Name(state) + " " + filled;
}

// The orders the gate must report as open (not final), by order id.
inline std::map<std::string, std::string> open_orders_of(const JournalView& v) {
  std::map<std::string, std::string> out;
  for (const auto& [id, o] : v.orders) {
    if (!terminal(o.state)) out[id] = order_text(o.state, o.filled);
  }
  return out;
}

// No intent produced two orders.
inline void expect_one_order_per_intent(const JournalView& v, const std::string& where) {
  for (const auto& [intent, orders] : v.accepted) {
    EXPECT_EQ(orders.size(), 1u) << where << ": intent " << intent << " produced " << orders.size() << " orders";
  }
}

}  // namespace ta::test
