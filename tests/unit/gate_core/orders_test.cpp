#include "gate/orders.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace ta::gate {
namespace {

Decimal D(const char* text) { return Decimal::parse(text).value(); }

constexpr std::array<OrderState, kOrderStateCount> kStates = {
    OrderState::kPendingNew, OrderState::kSubmitted, OrderState::kOpen,     OrderState::kPartiallyFilled,
    OrderState::kFilled,     OrderState::kCancelPending, OrderState::kCancelled, OrderState::kRejected,
    OrderState::kExpired,    OrderState::kUnknown};
constexpr std::array<OrderEvent, kOrderEventCount> kEvents = {
    OrderEvent::kSubmit,        OrderEvent::kAck,       OrderEvent::kReject,
    OrderEvent::kPartialFill,   OrderEvent::kFill,      OrderEvent::kCancelRequest,
    OrderEvent::kCancelAck,     OrderEvent::kExpire,    OrderEvent::kLostContact,
    OrderEvent::kReconcileOpen, OrderEvent::kReconcilePartiallyFilled, OrderEvent::kReconcileCancelled,
    OrderEvent::kReconcileRejected, OrderEvent::kReconcileExpired};

// The expected machine, written out independently of kOrderTransitions as a
// grid: one row per state (in kStates order), one column per event (in
// kEvents order). Codes: PN SU OP PF FI CP CA RE EX UN, ".." = illegal.
//                submit ack  rej  pfill fill creq cack exp  lost r_op r_pf r_ca r_re r_ex
const char* kGrid[kOrderStateCount] = {
    /* PENDING_NEW      */ "SU .. RE .. .. CA .. .. .. .. .. .. .. ..",
    /* SUBMITTED        */ ".. OP RE PF FI CP CA EX UN .. .. .. .. ..",
    /* OPEN             */ ".. .. .. PF FI CP CA EX UN .. .. .. .. ..",
    /* PARTIALLY_FILLED */ ".. .. .. PF FI CP CA EX UN .. .. .. .. ..",
    /* FILLED           */ ".. .. .. .. .. .. .. .. .. .. .. .. .. ..",
    /* CANCEL_PENDING   */ ".. CP RE CP FI .. CA EX UN .. .. .. .. ..",
    /* CANCELLED        */ ".. .. .. .. .. .. .. .. .. .. .. .. .. ..",
    /* REJECTED         */ ".. .. .. .. .. .. .. .. .. .. .. .. .. ..",
    /* EXPIRED          */ ".. .. .. .. .. .. .. .. .. .. .. .. .. ..",
    /* UNKNOWN          */ ".. .. .. UN FI .. .. .. UN OP PF CA RE EX",
};

bool decode(std::string_view code, OrderState& out) {
  const std::pair<const char*, OrderState> codes[] = {
      {"PN", OrderState::kPendingNew}, {"SU", OrderState::kSubmitted},     {"OP", OrderState::kOpen},
      {"PF", OrderState::kPartiallyFilled}, {"FI", OrderState::kFilled}, {"CP", OrderState::kCancelPending},
      {"CA", OrderState::kCancelled},  {"RE", OrderState::kRejected},      {"EX", OrderState::kExpired},
      {"UN", OrderState::kUnknown}};
  for (const auto& [c, s] : codes) {
    if (code == c) {
      out = s;
      return true;
    }
  }
  return false;
}

TEST(OrderStateMachine, EveryStateEventPairMatchesTheSpecification) {
  int legal = 0;
  for (std::size_t s = 0; s < kStates.size(); ++s) {
    for (std::size_t e = 0; e < kEvents.size(); ++e) {
      const std::string_view code = std::string_view(kGrid[s]).substr(e * 3, 2);
      OrderState expected{};
      const bool should_be_legal = decode(code, expected);
      const auto got = next_order_state(kStates[s], kEvents[e]);
      const std::string where = std::string(to_string(kStates[s])) + " + " + std::string(to_string(kEvents[e]));
      if (should_be_legal) {
        ++legal;
        ASSERT_TRUE(got.ok()) << where << ": " << got.error().message;
        EXPECT_EQ(*got, expected) << where << " went to " << to_string(*got);
      } else {
        ASSERT_FALSE(got.ok()) << where << " should be illegal but went to " << to_string(*got);
        EXPECT_EQ(got.error().message, "illegal order transition: " + where);
      }
    }
  }
  EXPECT_EQ(legal, static_cast<int>(std::size(kOrderTransitions)));
}

TEST(OrderStateMachine, TerminalStatesAreExactlyTheFourFinalOnes) {
  for (OrderState s : kStates) {
    bool has_move = false;
    for (OrderEvent e : kEvents) has_move |= next_order_state(s, e).ok();
    EXPECT_EQ(is_terminal(s), !has_move) << to_string(s);
  }
}

TEST(OrderStateMachine, ProtoMappingIsOneToOne) {
  for (OrderState s : kStates) {
    EXPECT_EQ(ipc::OrderState_Name(to_proto(s)), "ORDER_STATE_" + std::string(to_string(s)));
  }
}

Order make_order(const char* quantity) {
  Order o;
  o.order_id = "o-1";
  o.product = "BTC-USD";
  o.side = ipc::SIDE_BUY;
  o.type = ipc::ORDER_TYPE_LIMIT;
  o.quantity = D(quantity);
  return o;
}

TEST(Order, LifecycleWithPartialFills) {
  Order o = make_order("1");
  ASSERT_TRUE(apply_event(o, OrderEvent::kSubmit, 1).ok());
  ASSERT_TRUE(apply_event(o, OrderEvent::kAck, 2).ok());
  EXPECT_EQ(o.state, OrderState::kOpen);
  auto e = apply_fill(o, D("0.4"), D("100"), D("0.1"), 3);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, OrderEvent::kPartialFill);
  EXPECT_EQ(o.state, OrderState::kPartiallyFilled);
  e = apply_fill(o, D("0.6"), D("101"), D("0.2"), 4);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, OrderEvent::kFill);
  EXPECT_EQ(o.state, OrderState::kFilled);
  EXPECT_EQ(o.filled_quantity, D("1"));
  EXPECT_EQ(o.filled_notional, D("100.6"));
  EXPECT_EQ(o.average_fill_price(), D("100.6"));
  EXPECT_EQ(o.fees, D("0.3"));
  EXPECT_EQ(o.updated_ts_ns, 4);
  const auto u = o.to_update();
  EXPECT_EQ(u.state(), ipc::ORDER_STATE_FILLED);
  EXPECT_EQ(u.filled_quantity(), "1");
  EXPECT_EQ(u.average_fill_price(), "100.6");
}

TEST(Order, OverfillIsRefusedAtTheEdge) {
  // Remaining 0.5: a fill of 0.49999999 is partial, 0.5 completes, 0.50000001 overfills.
  for (const auto& [fill, ok, event] : {std::tuple{"0.49999999", true, OrderEvent::kPartialFill},
                                        std::tuple{"0.5", true, OrderEvent::kFill},
                                        std::tuple{"0.50000001", false, OrderEvent::kFill}}) {
    Order o = make_order("1");
    ASSERT_TRUE(apply_event(o, OrderEvent::kSubmit, 1).ok());
    ASSERT_TRUE(apply_fill(o, D("0.5"), D("10"), D("0"), 2).ok());
    const Order before = o;
    const auto r = apply_fill(o, D(fill), D("10"), D("0"), 3);
    EXPECT_EQ(r.ok(), ok) << fill;
    if (ok) {
      EXPECT_EQ(*r, event);
    } else {
      EXPECT_NE(r.error().message.find("overfill"), std::string::npos) << r.error().message;
      EXPECT_EQ(o.filled_quantity, before.filled_quantity);
      EXPECT_EQ(o.state, before.state);
    }
  }
}

TEST(Order, FillsRefuseJunk) {
  Order o = make_order("1");
  ASSERT_TRUE(apply_event(o, OrderEvent::kSubmit, 1).ok());
  EXPECT_FALSE(apply_fill(o, D("0"), D("10"), D("0"), 2).ok());
  EXPECT_FALSE(apply_fill(o, D("-0.1"), D("10"), D("0"), 2).ok());
  EXPECT_FALSE(apply_fill(o, D("0.1"), D("0"), D("0"), 2).ok());
  EXPECT_FALSE(apply_fill(o, D("0.1"), D("10"), D("-0.01"), 2).ok());
  EXPECT_TRUE(o.filled_quantity.is_zero());
  // Fills on a terminal order are illegal transitions.
  ASSERT_TRUE(apply_event(o, OrderEvent::kCancelAck, 3).ok());
  const auto r = apply_fill(o, D("0.1"), D("10"), D("0"), 4);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "order o-1: illegal order transition: CANCELLED + partial_fill");
  // apply_event refuses fill events: quantities decide which one applies.
  Order p = make_order("1");
  EXPECT_FALSE(apply_event(p, OrderEvent::kFill, 1).ok());
  EXPECT_FALSE(apply_event(p, OrderEvent::kPartialFill, 1).ok());
}

TEST(Order, ReconcileMustAgreeWithFilledQuantity) {
  Order o = make_order("1");
  ASSERT_TRUE(apply_event(o, OrderEvent::kSubmit, 1).ok());
  ASSERT_TRUE(apply_event(o, OrderEvent::kLostContact, 2).ok());
  EXPECT_FALSE(apply_event(o, OrderEvent::kReconcilePartiallyFilled, 3).ok());
  EXPECT_EQ(o.state, OrderState::kUnknown);
  // A fill learned during reconciliation keeps the order UNKNOWN.
  ASSERT_TRUE(apply_fill(o, D("0.25"), D("10"), D("0"), 3).ok());
  EXPECT_EQ(o.state, OrderState::kUnknown);
  EXPECT_FALSE(apply_event(o, OrderEvent::kReconcileOpen, 4).ok());
  ASSERT_TRUE(apply_event(o, OrderEvent::kReconcilePartiallyFilled, 4).ok());
  EXPECT_EQ(o.state, OrderState::kPartiallyFilled);
}

TEST(Order, FillRacingACancelCompletesTheOrder) {
  Order o = make_order("1");
  ASSERT_TRUE(apply_event(o, OrderEvent::kSubmit, 1).ok());
  ASSERT_TRUE(apply_event(o, OrderEvent::kAck, 2).ok());
  ASSERT_TRUE(apply_event(o, OrderEvent::kCancelRequest, 3).ok());
  ASSERT_TRUE(apply_fill(o, D("0.5"), D("10"), D("0"), 4).ok());
  EXPECT_EQ(o.state, OrderState::kCancelPending);
  ASSERT_TRUE(apply_fill(o, D("0.5"), D("10"), D("0"), 5).ok());
  EXPECT_EQ(o.state, OrderState::kFilled);
  EXPECT_FALSE(apply_event(o, OrderEvent::kCancelAck, 6).ok());
}

}  // namespace
}  // namespace ta::gate
