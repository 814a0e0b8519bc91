// Conversions between engine values and gate.proto messages.
#include <gtest/gtest.h>

#include <limits>

#include "strategy/ipc_convert.h"
#include "strategy_test_support.h"

namespace ta::agent {
namespace {

using test::D;

TEST(IpcConvert, IntentToOrderIntent) {
  Intent in;
  in.intent_id = "ema_cross-BTC-USD-1752105660-0";
  in.strategy = "ema_cross";
  in.product = test::pid("BTC-USD");
  in.side = OrderSide::kBuy;
  in.quantity = D("0.01234567");
  in.protective_stop_price = D("110500.5");
  in.created_ts_ns = 1'752'105'720'000'000'000;
  const auto m = to_order_intent(in);
  EXPECT_EQ(m.intent_id(), in.intent_id);
  EXPECT_EQ(m.strategy(), "ema_cross");
  EXPECT_EQ(m.product(), "BTC-USD");
  EXPECT_EQ(m.side(), ta::ipc::SIDE_BUY);
  EXPECT_EQ(m.type(), ta::ipc::ORDER_TYPE_MARKET);
  EXPECT_EQ(m.time_in_force(), ta::ipc::TIME_IN_FORCE_IOC);
  EXPECT_EQ(m.quantity(), "0.01234567");
  EXPECT_EQ(m.protective_stop_price(), "110500.5");
  EXPECT_FALSE(m.reduce_only());
  EXPECT_TRUE(m.limit_price().empty());
  EXPECT_EQ(m.created_ts_ns(), in.created_ts_ns);
  // An exit: reduce-only, no stop sent.
  in.side = OrderSide::kSell;
  in.reduce_only = true;
  in.protective_stop_price = Decimal::zero();
  const auto x = to_order_intent(in);
  EXPECT_EQ(x.side(), ta::ipc::SIDE_SELL);
  EXPECT_TRUE(x.reduce_only());
  EXPECT_TRUE(x.protective_stop_price().empty());
}

TEST(IpcConvert, Fill) {
  ta::ipc::Fill f;
  f.set_intent_id("i");
  f.set_strategy("s");
  f.set_product("ETH-USD");
  f.set_side(ta::ipc::SIDE_SELL);
  f.set_quantity("1.5");
  f.set_price("3000.25");
  f.set_fee("1.8");
  f.set_ts_ns(42);
  const auto e = fill_from_ipc(f);
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->product, test::pid("ETH-USD"));
  EXPECT_EQ(e->side, OrderSide::kSell);
  EXPECT_EQ(e->quantity, D("1.5"));
  EXPECT_EQ(e->price, D("3000.25"));
  EXPECT_EQ(e->fee, D("1.8"));
  EXPECT_EQ(e->ts_ns, 42);
  f.set_quantity("1.5e3");
  EXPECT_EQ(fill_from_ipc(f).error().message.rfind("quantity: ", 0), 0u);
  f.set_quantity("1");
  f.set_side(ta::ipc::SIDE_UNSPECIFIED);
  EXPECT_FALSE(fill_from_ipc(f).ok());
  f.set_side(ta::ipc::SIDE_BUY);
  f.set_product("eth/usd");
  EXPECT_FALSE(fill_from_ipc(f).ok());
}

TEST(IpcConvert, DecisionAndOrderUpdate) {
  ta::ipc::Decision d;
  d.set_intent_id("i");
  d.set_accepted(false);
  d.set_reason(ta::ipc::DENY_REASON_POSITION_ABOVE_MAX);
  auto e = decision_from_ipc(d);
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->accepted);
  EXPECT_EQ(e->deny_reason, ta::ipc::DENY_REASON_POSITION_ABOVE_MAX);
  EXPECT_TRUE(e->quantity.is_zero());
  d.set_accepted(true);
  d.set_quantity("0.5");
  EXPECT_EQ(decision_from_ipc(d)->quantity, D("0.5"));
  d.set_quantity("x");
  EXPECT_FALSE(decision_from_ipc(d).ok());

  ta::ipc::OrderUpdate u;
  u.set_intent_id("i");
  const std::pair<ta::ipc::OrderState, OrderEventKind> states[] = {
      {ta::ipc::ORDER_STATE_PENDING_NEW, OrderEventKind::kWorking},
      {ta::ipc::ORDER_STATE_OPEN, OrderEventKind::kWorking},
      {ta::ipc::ORDER_STATE_PARTIALLY_FILLED, OrderEventKind::kWorking},
      {ta::ipc::ORDER_STATE_UNKNOWN, OrderEventKind::kWorking},
      {ta::ipc::ORDER_STATE_FILLED, OrderEventKind::kFilled},
      {ta::ipc::ORDER_STATE_CANCELLED, OrderEventKind::kCancelled},
      {ta::ipc::ORDER_STATE_REJECTED, OrderEventKind::kRejected},
      {ta::ipc::ORDER_STATE_EXPIRED, OrderEventKind::kExpired},
  };
  for (const auto& [state, kind] : states) {
    u.set_state(state);
    EXPECT_EQ(order_event_from_ipc(u)->kind, kind) << state;
  }
  u.set_filled_quantity("0.25");
  EXPECT_EQ(order_event_from_ipc(u)->filled_quantity, D("0.25"));
}

TEST(IpcConvert, PositionSnapshot) {
  ta::ipc::PositionSnapshot s;
  s.mutable_account()->set_equity("100000.5");
  auto* p = s.add_positions();
  p->set_product("BTC-USD");
  p->set_quantity("-0.1");
  auto e = position_from_ipc(s);
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(*e->equity, D("100000.5"));
  ASSERT_EQ(e->positions.size(), 1u);
  EXPECT_EQ(e->positions[0].second, D("-0.1"));
  ta::ipc::PositionSnapshot no_account;
  EXPECT_FALSE(position_from_ipc(no_account)->equity.has_value());
  p->set_quantity("");
  EXPECT_FALSE(position_from_ipc(s).ok());
}

TEST(IpcConvert, BarToIpcRoundsHalfEvenToEightDigits) {
  Bar b = test::bar(test::pid("BTC-USD"), 3, 111234.12, 111300.5, 111200.01, 111282.61, 12.79716);
  ta::ipc::Bar m = to_ipc_bar(b).value();
  EXPECT_EQ(m.product(), "BTC-USD");
  EXPECT_EQ(m.open_ts_s(), b.open_ts_s);
  EXPECT_EQ(m.open(), "111234.12");
  EXPECT_EQ(m.high(), "111300.5");
  EXPECT_EQ(m.low(), "111200.01");
  EXPECT_EQ(m.close(), "111282.61");
  EXPECT_EQ(m.volume(), "12.79716");
  EXPECT_TRUE(m.bid().empty());
  EXPECT_TRUE(m.ask().empty());
  b.volume = 0.123456789;  // nine digits: rounded to eight
  b.quote = Quote{111282.6, 111282.62};
  m = to_ipc_bar(b).value();
  EXPECT_EQ(m.volume(), "0.12345679");
  EXPECT_EQ(m.bid(), "111282.6");
  EXPECT_EQ(m.ask(), "111282.62");
  b.close = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(to_ipc_bar(b).ok());
}

TEST(IpcConvert, IntentIntoAReusedMessageEqualsAFreshOne) {
  Intent entry;
  entry.intent_id = "m-BTC-USD-1752105660-0";
  entry.strategy = "m";
  entry.product = test::pid("BTC-USD");
  entry.quantity = D("0.5");
  entry.protective_stop_price = D("100");
  entry.created_ts_ns = 5;
  Intent exit = entry;
  exit.intent_id = "m-BTC-USD-1752105720-0";
  exit.side = OrderSide::kSell;
  exit.reduce_only = true;
  exit.protective_stop_price = Decimal::zero();
  ta::ipc::OrderIntent reused;
  for (const Intent* in : {&entry, &exit, &entry}) {
    to_order_intent(*in, reused);  // the exit must not keep the entry's stop
    EXPECT_EQ(reused.SerializeAsString(), to_order_intent(*in).SerializeAsString()) << in->intent_id;
  }
}

}  // namespace
}  // namespace ta::agent
