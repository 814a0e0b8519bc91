// Table-driven tests of decide(): every hard limit at its edge, one step
// below and one step above, the fixed check order, junk fields,
// idempotency and the state updates that follow decisions.
#include "gate/core.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "gate_test_support.h"

namespace ta::gate {
namespace {

using test::D;

constexpr std::int64_t kT0 = 20'000 * kNanosPerDay + 12 * 3600 * kNanosPerSecond;  // midday UTC

ProductLimits product(const char* name, const char* size_min, const char* size_max, const char* size_inc,
                      const char* price_inc) {
  return ProductLimits{name, D(size_min), D(size_max), D(size_inc), D(price_inc)};
}

// Limits wide enough that only the limit a case tightens can bind. The
// exposure fractions go beyond the config's range of [.., 1] on purpose, so
// that cash (the funds check) binds before them.
SafetyLimits relaxed() {
  SafetyLimits s;
  s.products = {product("BTC-USD", "0.0001", "1000", "0.00000001", "0.01"),
                product("ETH-USD", "0.001", "10000", "0.00000001", "0.01")};
  s.order_notional_max = D("1000000000");
  s.position_fraction_max = D("2");
  s.gross_exposure_fraction_max = D("2");
  s.risk_per_trade_fraction_max = D("0.1");
  s.open_orders_max = 1000;
  s.order_rate_per_minute_max = 600;
  s.price_band_bps = D("5000");
  s.reference_price_age_max_ms = 120'000;
  s.daily_loss_fraction_max = D("0.5");
  s.loss_cooldown_ms = 3'600'000;
  s.fee_reserve_bps = D("0");
  s.starting_cash = D("1000000");
  return s;
}

struct World {
  SafetyLimits limits = relaxed();
  std::int64_t now = kT0;
  Decimal btc_ref = D("10000");
  std::int64_t btc_ref_ts = kT0;
  bool peer_allowed = true;
  std::vector<ReferencePrice> refs;

  GateState make() const {
    GateState s(limits, Ledger(limits.starting_cash, kT0));
    s.set_ready(true);
    if (btc_ref.is_positive()) {
      EXPECT_TRUE(s.apply_mark("BTC-USD", btc_ref, kT0).ok());
    }
    EXPECT_TRUE(s.apply_mark("ETH-USD", D("2000"), kT0).ok());
    return s;
  }
  DecisionContext ctx() {
    refs = {{"BTC-USD", btc_ref, btc_ref_ts}, {"ETH-USD", D("2000"), kT0}};
    return DecisionContext{now, peer_allowed, refs};
  }
};

ipc::OrderIntent intent(const char* id, ipc::Side side, ipc::OrderType type, const char* qty, const char* limit,
                        const char* stop, const char* protective) {
  ipc::OrderIntent i;
  i.set_intent_id(id);
  i.set_strategy("test");
  i.set_product("BTC-USD");
  i.set_side(side);
  i.set_type(type);
  i.set_quantity(qty);
  i.set_limit_price(limit);
  i.set_stop_price(stop);
  i.set_time_in_force(ipc::TIME_IN_FORCE_GTC);
  i.set_protective_stop_price(protective);
  i.set_created_ts_ns(kT0);
  return i;
}

ipc::OrderIntent buy(const char* qty, const char* limit = "10000", const char* protective = "9900") {
  return intent("i-1", ipc::SIDE_BUY, ipc::ORDER_TYPE_LIMIT, qty, limit, "", protective);
}
ipc::OrderIntent sell(const char* qty, const char* limit = "10000", const char* protective = "") {
  return intent("i-1", ipc::SIDE_SELL, ipc::ORDER_TYPE_LIMIT, qty, limit, "", protective);
}
ipc::OrderIntent market_buy(const char* qty, const char* protective = "9900") {
  return intent("i-1", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, qty, "", "", protective);
}

std::string inject_order(GateState& s, const char* product_name, ipc::Side side, const char* qty, const char* price,
                         std::int64_t ts = kT0) {
  auto id = test::inject_order(s, product_name, side, qty, price, ts);
  EXPECT_TRUE(id.ok()) << id.error().message;
  return id.ok() ? *id : std::string();
}

void fill(GateState& s, const std::string& order_id, const char* qty, const char* price, const char* fee = "0",
          std::int64_t ts = kT0) {
  const Order* o = s.find_live_order(order_id);
  ASSERT_NE(o, nullptr) << order_id;
  if (o->state == OrderState::kPendingNew) {
    ASSERT_TRUE(s.apply_order_event(order_id, OrderEvent::kSubmit, ts).ok());
  }
  ipc::Fill f;
  f.set_fill_id("f-" + order_id);
  f.set_order_id(order_id);
  f.set_product(o->product);
  f.set_side(o->side);
  f.set_quantity(qty);
  f.set_price(price);
  f.set_fee(fee);
  f.set_ts_ns(ts);
  const Status st = s.apply_fill(f);
  ASSERT_TRUE(st.ok()) << st.error().message;
}

void position(GateState& s, const char* product_name, const char* qty, const char* price) {
  fill(s, inject_order(s, product_name, ipc::SIDE_BUY, qty, price), qty, price);
}

struct Case {
  std::string name;
  ipc::OrderIntent intent;
  ipc::DenyReason expected;  // DENY_REASON_UNSPECIFIED: accepted
  std::function<void(World&)> world = [](World&) {};
  std::function<void(GateState&)> prepare = [](GateState&) {};
};

constexpr auto kOk = ipc::DENY_REASON_UNSPECIFIED;

void run(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    World w;
    c.world(w);
    GateState s = w.make();
    c.prepare(s);
    const ipc::Decision d = decide(s, c.intent, w.ctx()).decision;
    if (c.expected == kOk) {
      EXPECT_TRUE(d.accepted()) << c.name << ": denied " << ipc::DenyReason_Name(d.reason()) << " (" << d.detail()
                                << ") limit=" << d.limit() << " observed=" << d.observed();
    } else {
      EXPECT_FALSE(d.accepted()) << c.name << ": accepted, expected " << ipc::DenyReason_Name(c.expected);
      EXPECT_EQ(ipc::DenyReason_Name(d.reason()), ipc::DenyReason_Name(c.expected)) << c.name << ": " << d.detail();
      EXPECT_FALSE(d.detail().empty()) << c.name;
    }
    EXPECT_EQ(d.intent_id(), c.intent.intent_id()) << c.name;
    EXPECT_EQ(d.decided_ts_ns(), w.now) << c.name;
    // Pure: the same inputs give the same bytes.
    EXPECT_EQ(decide(s, c.intent, w.ctx()).decision.SerializeAsString(), d.SerializeAsString()) << c.name;
  }
}

// ------------------------------------------------------------ hard limits

TEST(Decide, SizeLimits) {
  const auto tight = [](World& w) {
    w.limits.products[0] = product("BTC-USD", "0.0001", "1", "0.00000001", "0.01");
  };
  const auto inc = [](World& w) { w.limits.products[0] = product("BTC-USD", "0.0001", "1", "0.001", "0.01"); };
  run({
      {"size_min at", buy("0.0001"), kOk, tight},
      {"size_min one above", buy("0.00010001"), kOk, tight},
      {"size_min one below", buy("0.00009999"), ipc::DENY_REASON_SIZE_BELOW_MIN, tight},
      {"size_max at", buy("1"), kOk, tight},
      {"size_max one below", buy("0.99999999"), kOk, tight},
      {"size_max one above", buy("1.00000001"), ipc::DENY_REASON_SIZE_ABOVE_MAX, tight},
      {"size_increment multiple", buy("0.002"), kOk, inc},
      {"size_increment one unit above", buy("0.00200001"), ipc::DENY_REASON_SIZE_INCREMENT, inc},
      {"size_increment one unit below", buy("0.00199999"), ipc::DENY_REASON_SIZE_INCREMENT, inc},
  });
}

TEST(Decide, PriceIncrement) {
  const auto stop_limit = [](const char* stop) {
    return intent("i-1", ipc::SIDE_BUY, ipc::ORDER_TYPE_STOP_LIMIT, "0.01", "10000.05", stop, "9900");
  };
  run({
      {"limit on increment", buy("0.01", "10000.01"), kOk},
      {"limit one unit above increment", buy("0.01", "10000.01000001"), ipc::DENY_REASON_PRICE_INCREMENT},
      {"limit one unit below increment", buy("0.01", "10000.00999999"), ipc::DENY_REASON_PRICE_INCREMENT},
      {"stop on increment", stop_limit("10000.02"), kOk},
      {"stop off increment", stop_limit("10000.025"), ipc::DENY_REASON_PRICE_INCREMENT},
  });
}

TEST(Decide, PriceBandAgainstTheGatesReference) {
  const auto band = [](World& w) { w.limits.price_band_bps = D("300"); };  // 3% of 10000 = 300
  run({
      {"above ref at band", buy("0.01", "10300", "9000"), kOk, band},
      {"above ref one tick inside", buy("0.01", "10299.99", "9000"), kOk, band},
      {"above ref one tick outside", buy("0.01", "10300.01", "9000"), ipc::DENY_REASON_PRICE_BAND, band},
      {"below ref at band", buy("0.01", "9700", "9000"), kOk, band},
      {"below ref one tick inside", buy("0.01", "9700.01", "9000"), kOk, band},
      {"below ref one tick outside", buy("0.01", "9699.99", "9000"), ipc::DENY_REASON_PRICE_BAND, band},
      {"fat finger x10", buy("0.01", "100000", "9000"), ipc::DENY_REASON_PRICE_BAND, band},
      {"market order uses the reference", market_buy("0.01"), kOk, band},
  });
}

TEST(Decide, ReferencePriceMustExistAndBeFresh) {
  const auto age = [](std::int64_t age_ns) {
    return [age_ns](World& w) { w.btc_ref_ts = w.now - age_ns; };
  };
  const std::int64_t max_ns = 120 * kNanosPerSecond;
  run({
      {"age at max", buy("0.01"), kOk, age(max_ns)},
      {"age one ns below max", buy("0.01"), kOk, age(max_ns - 1)},
      {"age one ns above max", buy("0.01"), ipc::DENY_REASON_NO_REFERENCE_PRICE, age(max_ns + 1)},
      {"zero reference", buy("0.01"), ipc::DENY_REASON_NO_REFERENCE_PRICE, [](World& w) { w.btc_ref = Decimal(); }},
  });
  // No entry for the product at all.
  World w;
  GateState s = w.make();
  const std::vector<ReferencePrice> only_eth = {{"ETH-USD", D("2000"), kT0}};
  const auto d = decide(s, market_buy("0.01"), DecisionContext{kT0, true, only_eth}).decision;
  EXPECT_EQ(d.reason(), ipc::DENY_REASON_NO_REFERENCE_PRICE);
}

TEST(Decide, OrderNotional) {
  const auto max = [](World& w) { w.limits.order_notional_max = D("1000"); };
  run({
      {"at max", buy("0.1"), kOk, max},
      {"one unit below", buy("0.09999999"), kOk, max},
      {"one unit above", buy("0.10000001"), ipc::DENY_REASON_NOTIONAL_ABOVE_MAX, max},
      {"market at max", market_buy("0.1"), kOk, max},
      {"market one unit above", market_buy("0.10000001"), ipc::DENY_REASON_NOTIONAL_ABOVE_MAX, max},
  });
  World w;
  max(w);
  GateState s = w.make();
  const auto d = decide(s, buy("0.10000001"), w.ctx()).decision;
  EXPECT_EQ(d.limit(), "1000");
  EXPECT_EQ(d.observed(), "1000.0001");
  ASSERT_EQ(d.fields_size(), 1);
  EXPECT_EQ(d.fields(0).name(), "price");
  EXPECT_EQ(d.fields(0).value(), "10000");
}

TEST(Decide, PositionFractionOfEquity) {
  // Equity 10000, 10% -> position value up to 1000 = 0.1 BTC at 10000.
  const auto small = [](World& w) {
    w.limits.starting_cash = D("10000");
    w.limits.position_fraction_max = D("0.10");
  };
  const auto holding = [](GateState& s) { position(s, "BTC-USD", "0.05", "10000"); };
  const auto open_buy = [](GateState& s) { inject_order(s, "BTC-USD", ipc::SIDE_BUY, "0.05", "10000"); };
  run({
      {"flat at max", buy("0.1"), kOk, small},
      {"flat one unit below", buy("0.09999999"), kOk, small},
      {"flat one unit above", buy("0.10000001"), ipc::DENY_REASON_POSITION_ABOVE_MAX, small},
      {"holding at max", buy("0.05"), kOk, small, holding},
      {"holding one unit above", buy("0.05000001"), ipc::DENY_REASON_POSITION_ABOVE_MAX, small, holding},
      {"open buy counts", buy("0.05"), kOk, small, open_buy},
      {"open buy counts, one above", buy("0.05000001"), ipc::DENY_REASON_POSITION_ABOVE_MAX, small, open_buy},
      {"valued at the reference, not the limit", buy("0.1", "9900", "9800"), kOk, small},
      {"valued at the reference, one above", buy("0.10000001", "9900", "9800"), ipc::DENY_REASON_POSITION_ABOVE_MAX,
       small},
  });
  World w;
  small(w);
  GateState s = w.make();
  const auto d = decide(s, buy("0.10000001"), w.ctx()).decision;
  EXPECT_EQ(d.limit(), "1000");
  EXPECT_EQ(d.observed(), "1000.0001");
}

TEST(Decide, GrossExposureFractionOfEquity) {
  // Equity 10000; ETH position 2 x 2000 = 4000; 50% -> 5000 total.
  const auto w50 = [](World& w) {
    w.limits.starting_cash = D("10000");
    w.limits.gross_exposure_fraction_max = D("0.5");
  };
  const auto eth = [](GateState& s) { position(s, "ETH-USD", "2", "2000"); };
  const auto eth_and_open_eth = [](GateState& s) {
    position(s, "ETH-USD", "1.5", "2000");
    inject_order(s, "ETH-USD", ipc::SIDE_BUY, "0.5", "2000");
  };
  run({
      {"at max", buy("0.1"), kOk, w50, eth},
      {"one unit below", buy("0.09999999"), kOk, w50, eth},
      {"one unit above", buy("0.10000001"), ipc::DENY_REASON_GROSS_EXPOSURE_ABOVE_MAX, w50, eth},
      {"open orders of other products count, at", buy("0.1"), kOk, w50, eth_and_open_eth},
      {"open orders of other products count, above", buy("0.10000001"), ipc::DENY_REASON_GROSS_EXPOSURE_ABOVE_MAX,
       w50, eth_and_open_eth},
  });
}

TEST(Decide, RiskPerTradeAndProtectiveStop) {
  // Equity 10000, 0.5% -> 50. 0.01 BTC bought at 10000, stop 5000 -> 50.
  const auto r = [](World& w) {
    w.limits.starting_cash = D("10000");
    w.limits.risk_per_trade_fraction_max = D("0.005");
  };
  const auto long_half = [](GateState& s) { position(s, "BTC-USD", "0.5", "10000"); };
  run({
      {"at max", buy("0.01", "10000", "5000"), kOk, r},
      {"one cent below", buy("0.01", "10000", "5000.01"), kOk, r},
      {"one cent above", buy("0.01", "10000", "4999.99"), ipc::DENY_REASON_RISK_PER_TRADE_ABOVE_MAX, r},
      {"market uses the reference", market_buy("0.01", "5000"), kOk, r},
      {"market one cent above", market_buy("0.01", "4999.99"), ipc::DENY_REASON_RISK_PER_TRADE_ABOVE_MAX, r},
      {"entry without stop", buy("0.01", "10000", ""), ipc::DENY_REASON_STOP_REQUIRED, r},
      {"stop at the entry", buy("0.01", "10000", "10000"), ipc::DENY_REASON_FIELD_RANGE, r},
      {"stop above a buy entry", buy("0.01", "10000", "10000.01"), ipc::DENY_REASON_FIELD_RANGE, r},
      {"exit needs no stop", sell("0.5"), kOk, r, long_half},
  });
}

TEST(Decide, OpenOrders) {
  const auto max3 = [](World& w) { w.limits.open_orders_max = 3; };
  const auto open = [](int n) {
    return [n](GateState& s) {
      for (int i = 0; i < n; ++i) inject_order(s, "ETH-USD", ipc::SIDE_BUY, "0.01", "2000");
    };
  };
  run({
      {"reaching max", buy("0.01"), kOk, max3, open(2)},
      {"one below", buy("0.01"), kOk, max3, open(1)},
      {"one above", buy("0.01"), ipc::DENY_REASON_OPEN_ORDERS_ABOVE_MAX, max3, open(3)},
  });
}

TEST(Decide, InsufficientFunds) {
  const auto cash = [](World& w) { w.limits.starting_cash = D("10000"); };
  const auto cash_with_fee = [](World& w) {
    w.limits.starting_cash = D("10100");
    w.limits.fee_reserve_bps = D("100");  // 1%: 10000 notional needs 10100
  };
  const auto open_buy = [](GateState& s) { inject_order(s, "ETH-USD", ipc::SIDE_BUY, "1", "2000"); };
  const auto long_half_open_sell = [](GateState& s) {
    position(s, "BTC-USD", "0.5", "10000");
    inject_order(s, "BTC-USD", ipc::SIDE_SELL, "0.2", "10000");
  };
  run({
      {"buy at cash", buy("1", "10000", "9999"), kOk, cash},
      {"buy one unit below", buy("0.99999999", "10000", "9999"), kOk, cash},
      {"buy one unit above", buy("1.00000001", "10000", "9999"), ipc::DENY_REASON_INSUFFICIENT_FUNDS, cash},
      {"fee reserve at", buy("1", "10000", "9999"), kOk, cash_with_fee},
      {"fee reserve one unit above", buy("1.00000001", "10000", "9999"), ipc::DENY_REASON_INSUFFICIENT_FUNDS,
       cash_with_fee},
      {"open buys hold cash, at", buy("0.8", "10000", "9999"), kOk, cash, open_buy},
      {"open buys hold cash, above", buy("0.80000001", "10000", "9999"), ipc::DENY_REASON_INSUFFICIENT_FUNDS, cash,
       open_buy},
      {"sell flat (spot: no shorting)", sell("0.01", "10000", "10100"), ipc::DENY_REASON_INSUFFICIENT_FUNDS},
      {"sell at free position", sell("0.3"), kOk, cash, long_half_open_sell},
      {"sell one unit below", sell("0.29999999"), kOk, cash, long_half_open_sell},
      {"sell one unit above", sell("0.30000001", "10000", "10100"), ipc::DENY_REASON_INSUFFICIENT_FUNDS, cash,
       long_half_open_sell},
  });
}

TEST(Decide, OrderRateSlidingWindow) {
  const auto max5 = [](World& w) { w.limits.order_rate_per_minute_max = 5; };
  const auto accepted_at = [](int n, std::int64_t ago_ns) {
    return [n, ago_ns](GateState& s) {
      for (int i = 0; i < n; ++i) inject_order(s, "ETH-USD", ipc::SIDE_BUY, "0.01", "2000", kT0 - ago_ns);
    };
  };
  run({
      {"reaching max", buy("0.01"), kOk, max5, accepted_at(4, 1)},
      {"one below", buy("0.01"), kOk, max5, accepted_at(3, 1)},
      {"one above", buy("0.01"), ipc::DENY_REASON_ORDER_RATE_ABOVE_MAX, max5, accepted_at(5, 1)},
      {"window end: exactly 60 s ago is outside", buy("0.01"), kOk, max5, accepted_at(5, kRateWindowNs)},
      {"window end: 1 ns inside", buy("0.01"), ipc::DENY_REASON_ORDER_RATE_ABOVE_MAX, max5,
       accepted_at(5, kRateWindowNs - 1)},
  });
}

TEST(Decide, DailyLossLimit) {
  // Equity 10000 at the day's start: cash 5000 + 1 BTC bought at 5000.
  // 5% -> a loss of 500, reached when the mark falls to 4500.
  const auto setup = [](const char* mark) {
    return [mark](GateState& s) {
      position(s, "BTC-USD", "1", "5000");
      ASSERT_TRUE(s.apply_mark("BTC-USD", D(mark), kT0).ok());
    };
  };
  const auto w5 = [](World& w) {
    w.limits.starting_cash = D("10000");
    w.limits.daily_loss_fraction_max = D("0.05");
    w.btc_ref = D("4500");
  };
  run({
      {"loss at limit", buy("0.001", "4500", "4400"), kOk, w5, setup("4500")},
      {"loss one unit below", buy("0.001", "4500", "4400"), kOk, w5, setup("4500.00000001")},
      {"loss one unit above", buy("0.001", "4500", "4400"), ipc::DENY_REASON_DAILY_LOSS_LIMIT, w5,
       setup("4499.99999999")},
      {"reducing order still allowed", sell("0.5", "4500"), kOk, w5, setup("4000")},
      {"the next UTC day starts afresh", buy("0.001", "4500", "4400"), kOk,
       [&](World& w) {
         w5(w);
         w.now = kT0 + kNanosPerDay;
         w.btc_ref_ts = w.now;
       },
       setup("4000")},
  });
  World w;
  w5(w);
  GateState s = w.make();
  setup("4499.99999999")(s);
  const auto d = decide(s, buy("0.001", "4500", "4400"), w.ctx()).decision;
  EXPECT_EQ(d.limit(), "500");
  EXPECT_EQ(d.observed(), "500.00000001");
}

// ------------------------------------------------------------- halt state

TEST(Decide, HaltStates) {
  const auto halt = [](HaltEvent e) {
    return [e](GateState& s) { ASSERT_TRUE(s.apply_halt_event(e, kT0 - 1).ok()); };
  };
  const auto reducing_long = [](const char* open_sell) {
    return [open_sell](GateState& s) {
      position(s, "BTC-USD", "1", "10000");
      if (*open_sell) inject_order(s, "BTC-USD", ipc::SIDE_SELL, open_sell, "10000");
      ASSERT_TRUE(s.apply_halt_event(HaltEvent::kOperatorReduce, kT0 - 1).ok());
    };
  };
  const auto nothing = [](World&) {};
  run({
      {"killed", buy("0.01"), ipc::DENY_REASON_KILLED, nothing, halt(HaltEvent::kOperatorKill)},
      {"halted", buy("0.01"), ipc::DENY_REASON_HALTED, nothing, halt(HaltEvent::kOperatorHalt)},
      {"dead man's switch", buy("0.01"), ipc::DENY_REASON_HALTED, nothing, halt(HaltEvent::kHeartbeatTimeout)},
      {"cooldown", buy("0.01"), ipc::DENY_REASON_COOLDOWN, nothing, halt(HaltEvent::kDailyLossLimit)},
      {"killed denies exits too", sell("0.01"), ipc::DENY_REASON_KILLED, nothing, halt(HaltEvent::kOperatorKill)},
      {"reducing denies entries", buy("0.01"), ipc::DENY_REASON_REDUCING_ONLY, nothing, reducing_long("")},
      {"reducing: shrink at |position| - open sells", sell("0.7"), kOk, nothing, reducing_long("0.3")},
      {"reducing: one unit below", sell("0.69999999"), kOk, nothing, reducing_long("0.3")},
      {"reducing: one unit above", sell("0.70000001"), ipc::DENY_REASON_REDUCING_ONLY, nothing, reducing_long("0.3")},
  });
  // A reducing order accepted in REDUCING carries reduce_only.
  World w;
  GateState s = w.make();
  reducing_long("")(s);
  const auto d = decide(s, sell("1"), w.ctx()).decision;
  ASSERT_TRUE(d.accepted()) << d.detail();
  EXPECT_TRUE(d.reduce_only());
  // A denial names how much could still be reduced.
  GateState t = w.make();
  reducing_long("0.3")(t);
  const auto denied = decide(t, sell("0.70000001"), w.ctx()).decision;
  EXPECT_EQ(denied.reason(), ipc::DENY_REASON_REDUCING_ONLY);
  EXPECT_EQ(denied.limit(), "0.7");
  EXPECT_EQ(denied.observed(), "0.70000001");
}

TEST(Decide, ReduceOnlyFlag) {
  auto reduce_only_buy = buy("0.01");
  reduce_only_buy.set_reduce_only(true);
  auto reduce_only_sell = sell("0.5");
  reduce_only_sell.set_reduce_only(true);
  const auto long_half = [](GateState& s) { position(s, "BTC-USD", "0.5", "10000"); };
  const auto nothing = [](World&) {};
  run({
      {"reduce_only entry", reduce_only_buy, ipc::DENY_REASON_REDUCING_ONLY},
      {"reduce_only exit", reduce_only_sell, kOk, nothing, long_half},
  });
}

// ------------------------------------------------- order of the checks

TEST(Decide, ChecksRunInTheFixedOrder) {
  auto junk = buy("abc");
  const auto not_peer = [](World& w) { w.peer_allowed = false; };
  const auto kill = [](GateState& s) { ASSERT_TRUE(s.apply_halt_event(HaltEvent::kOperatorKill, kT0).ok()); };
  const auto not_ready = [](GateState& s) { s.set_ready(false); };
  auto unknown_product = buy("5");
  unknown_product.set_product("DOGE-USD");
  const auto nothing = [](World&) {};
  const auto tight = [](World& w) {
    w.limits.products[0] = product("BTC-USD", "0.0001", "1", "0.00000001", "0.01");
    w.limits.order_notional_max = D("1000");
    w.limits.open_orders_max = 1;
  };
  run({
      {"fields before peer", junk, ipc::DENY_REASON_MALFORMED, not_peer},
      {"peer before readiness", buy("0.01"), ipc::DENY_REASON_PEER_NOT_ALLOWED, not_peer, not_ready},
      {"readiness before halt", buy("0.01"), ipc::DENY_REASON_NOT_READY, nothing,
       [&](GateState& s) {
         kill(s);
         not_ready(s);
       }},
      {"halt before product", unknown_product, ipc::DENY_REASON_KILLED, nothing, kill},
      {"product before size", unknown_product, ipc::DENY_REASON_PRODUCT_NOT_ALLOWED},
      {"size before notional", buy("2"), ipc::DENY_REASON_SIZE_ABOVE_MAX, tight},
      {"notional before open orders", buy("0.5"), ipc::DENY_REASON_NOTIONAL_ABOVE_MAX, tight,
       [](GateState& s) { inject_order(s, "ETH-USD", ipc::SIDE_BUY, "0.01", "2000"); }},
  });
}

// ------------------------------------------------------------ junk fields

TEST(Decide, JunkFields) {
  struct J {
    const char* name;
    std::function<void(ipc::OrderIntent&)> edit;
    ipc::DenyReason expected;
  };
  const J cases[] = {
      {"empty quantity", [](auto& i) { i.set_quantity(""); }, ipc::DENY_REASON_MALFORMED},
      {"text quantity", [](auto& i) { i.set_quantity("abc"); }, ipc::DENY_REASON_MALFORMED},
      {"NaN", [](auto& i) { i.set_quantity("NaN"); }, ipc::DENY_REASON_MALFORMED},
      {"inf", [](auto& i) { i.set_quantity("inf"); }, ipc::DENY_REASON_MALFORMED},
      {"exponent", [](auto& i) { i.set_quantity("1e-2"); }, ipc::DENY_REASON_MALFORMED},
      {"leading space", [](auto& i) { i.set_quantity(" 0.01"); }, ipc::DENY_REASON_MALFORMED},
      {"plus sign", [](auto& i) { i.set_quantity("+0.01"); }, ipc::DENY_REASON_MALFORMED},
      {"nine decimals", [](auto& i) { i.set_quantity("0.010000001"); }, ipc::DENY_REASON_MALFORMED},
      {"beyond decimal range", [](auto& i) { i.set_quantity("99999999999999"); }, ipc::DENY_REASON_MALFORMED},
      {"negative", [](auto& i) { i.set_quantity("-0.01"); }, ipc::DENY_REASON_FIELD_RANGE},
      {"zero", [](auto& i) { i.set_quantity("0"); }, ipc::DENY_REASON_FIELD_RANGE},
      {"absurd, one unit above 1e9", [](auto& i) { i.set_quantity("1000000000.00000001"); },
       ipc::DENY_REASON_FIELD_RANGE},
      {"1e9 passes the field check", [](auto& i) { i.set_quantity("1000000000"); }, ipc::DENY_REASON_SIZE_ABOVE_MAX},
      {"negative limit", [](auto& i) { i.set_limit_price("-10000"); }, ipc::DENY_REASON_FIELD_RANGE},
      {"zero limit", [](auto& i) { i.set_limit_price("0"); }, ipc::DENY_REASON_FIELD_RANGE},
      {"absurd limit", [](auto& i) { i.set_limit_price("2000000000"); }, ipc::DENY_REASON_FIELD_RANGE},
      {"junk protective stop", [](auto& i) { i.set_protective_stop_price("9900x"); }, ipc::DENY_REASON_MALFORMED},
      {"zero protective stop", [](auto& i) { i.set_protective_stop_price("0"); }, ipc::DENY_REASON_FIELD_RANGE},
      {"empty intent id", [](auto& i) { i.set_intent_id(""); }, ipc::DENY_REASON_MALFORMED},
      {"intent id 65 chars", [](auto& i) { i.set_intent_id(std::string(65, 'a')); }, ipc::DENY_REASON_MALFORMED},
      {"intent id 64 chars", [](auto& i) { i.set_intent_id(std::string(64, 'a')); }, kOk},
      {"intent id with space", [](auto& i) { i.set_intent_id("a b"); }, ipc::DENY_REASON_MALFORMED},
      {"intent id with newline", [](auto& i) { i.set_intent_id("a\nb"); }, ipc::DENY_REASON_MALFORMED},
      {"strategy with bytes", [](auto& i) { i.set_strategy("s\xff"); }, ipc::DENY_REASON_MALFORMED},
      {"empty product", [](auto& i) { i.set_product(""); }, ipc::DENY_REASON_MALFORMED},
      {"unknown product", [](auto& i) { i.set_product("DOGE-USD"); }, ipc::DENY_REASON_PRODUCT_NOT_ALLOWED},
      {"lowercase product", [](auto& i) { i.set_product("btc-usd"); }, ipc::DENY_REASON_PRODUCT_NOT_ALLOWED},
      {"side unspecified", [](auto& i) { i.set_side(ipc::SIDE_UNSPECIFIED); }, ipc::DENY_REASON_MALFORMED},
      {"side out of range", [](auto& i) { i.set_side(static_cast<ipc::Side>(99)); }, ipc::DENY_REASON_MALFORMED},
      {"type unspecified", [](auto& i) { i.set_type(ipc::ORDER_TYPE_UNSPECIFIED); }, ipc::DENY_REASON_MALFORMED},
      {"tif unspecified", [](auto& i) { i.set_time_in_force(ipc::TIME_IN_FORCE_UNSPECIFIED); },
       ipc::DENY_REASON_MALFORMED},
      {"limit order without price", [](auto& i) { i.set_limit_price(""); }, ipc::DENY_REASON_MALFORMED},
      {"market order with price", [](auto& i) { i.set_type(ipc::ORDER_TYPE_MARKET); }, ipc::DENY_REASON_MALFORMED},
      {"stop price on a limit order", [](auto& i) { i.set_stop_price("9000"); }, ipc::DENY_REASON_MALFORMED},
      {"stop-limit without stop", [](auto& i) { i.set_type(ipc::ORDER_TYPE_STOP_LIMIT); }, ipc::DENY_REASON_MALFORMED},
      {"expiry without GTD", [](auto& i) { i.set_expire_ts_ns(kT0 + 1); }, ipc::DENY_REASON_MALFORMED},
      {"GTD expiring now", [](auto& i) {
         i.set_time_in_force(ipc::TIME_IN_FORCE_GTD);
         i.set_expire_ts_ns(kT0);
       },
       ipc::DENY_REASON_FIELD_RANGE},
      {"GTD 1 ns in the future", [](auto& i) {
         i.set_time_in_force(ipc::TIME_IN_FORCE_GTD);
         i.set_expire_ts_ns(kT0 + 1);
       },
       kOk},
  };
  std::vector<Case> table;
  for (const J& j : cases) {
    ipc::OrderIntent i = buy("0.01");
    j.edit(i);
    table.push_back(Case{j.name, i, j.expected});
  }
  run(table);
}

// -------------------------------------------------------------- idempotency

TEST(Decide, IdempotentByIntentId) {
  World w;
  GateState s = w.make();
  const ipc::OrderIntent first = buy("0.01");
  const ipc::Decision d1 = decide(s, first, w.ctx()).decision;
  ASSERT_TRUE(d1.accepted()) << d1.detail();
  EXPECT_EQ(d1.order_id(), "o-1");
  ASSERT_TRUE(s.record_decision(first, d1).ok());
  EXPECT_EQ(s.live_orders().size(), 1u);

  // The retry (for example after a reconnect) gets the original decision.
  w.now += 5 * kNanosPerSecond;
  const ipc::Decision d2 = decide(s, first, w.ctx()).decision;
  EXPECT_TRUE(d2.replayed());
  EXPECT_TRUE(d2.accepted());
  EXPECT_EQ(d2.order_id(), "o-1");
  EXPECT_EQ(d2.decided_ts_ns(), d1.decided_ts_ns());
  ASSERT_TRUE(s.record_decision(first, d2).ok());
  EXPECT_EQ(s.live_orders().size(), 1u);  // never a second order
  EXPECT_EQ(s.next_order_number(), 2u);

  // Same id, other content.
  ipc::OrderIntent changed = first;
  changed.set_quantity("0.02");
  const ipc::Decision d3 = decide(s, changed, w.ctx()).decision;
  EXPECT_FALSE(d3.accepted());
  EXPECT_EQ(d3.reason(), ipc::DENY_REASON_DUPLICATE_ID_CONFLICT);
  ASSERT_TRUE(s.record_decision(changed, d3).ok());
  EXPECT_EQ(s.live_orders().size(), 1u);

  // Recording the same id twice is refused: a corrupt journal cannot double an order.
  EXPECT_FALSE(s.record_decision(first, d1).ok());
}

TEST(Decide, DenialsAreRememberedFromTheHaltStageOn) {
  World w;
  GateState s = w.make();
  ASSERT_TRUE(s.apply_halt_event(HaltEvent::kOperatorHalt, kT0).ok());
  const ipc::OrderIntent i = buy("0.01");
  const ipc::Decision d = decide(s, i, w.ctx()).decision;
  ASSERT_EQ(d.reason(), ipc::DENY_REASON_HALTED);
  ASSERT_TRUE(s.record_decision(i, d).ok());
  ASSERT_TRUE(s.apply_halt_event(HaltEvent::kOperatorResume, kT0).ok());
  const ipc::Decision again = decide(s, i, w.ctx()).decision;
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.reason(), ipc::DENY_REASON_HALTED);

  // NOT_READY is not remembered: after recovery the same id is decided.
  GateState t = w.make();
  t.set_ready(false);
  const ipc::Decision nr = decide(t, i, w.ctx()).decision;
  ASSERT_EQ(nr.reason(), ipc::DENY_REASON_NOT_READY);
  ASSERT_TRUE(t.record_decision(i, nr).ok());
  t.set_ready(true);
  const ipc::Decision fresh = decide(t, i, w.ctx()).decision;
  EXPECT_TRUE(fresh.accepted());
  EXPECT_FALSE(fresh.replayed());
}

TEST(Decide, FingerprintCoversEveryField) {
  const ipc::OrderIntent base = buy("0.01");
  const std::uint64_t h = intent_fingerprint(base);
  std::vector<std::function<void(ipc::OrderIntent&)>> edits = {
      [](auto& i) { i.set_intent_id("i-2"); },       [](auto& i) { i.set_strategy("other"); },
      [](auto& i) { i.set_product("ETH-USD"); },     [](auto& i) { i.set_side(ipc::SIDE_SELL); },
      [](auto& i) { i.set_type(ipc::ORDER_TYPE_MARKET); }, [](auto& i) { i.set_quantity("0.010"); },
      [](auto& i) { i.set_limit_price("10001"); },   [](auto& i) { i.set_stop_price("1"); },
      [](auto& i) { i.set_time_in_force(ipc::TIME_IN_FORCE_IOC); }, [](auto& i) { i.set_reduce_only(true); },
      [](auto& i) { i.set_protective_stop_price("9901"); }, [](auto& i) { i.set_expire_ts_ns(1); },
      [](auto& i) { i.set_created_ts_ns(kT0 + 1); },
      // Moving text between adjacent fields changes the hash too.
      [](auto& i) {
        i.set_strategy("tes");
        i.set_product("tBTC-USD");
      },
  };
  for (std::size_t k = 0; k < edits.size(); ++k) {
    ipc::OrderIntent e = base;
    edits[k](e);
    EXPECT_NE(intent_fingerprint(e), h) << k;
  }
  EXPECT_EQ(intent_fingerprint(buy("0.01")), h);
}

TEST(Decide, FingerprintTellsLongIdsApartByAnyOneCharacter) {
  // The hash takes eight bytes at a time; a change in any position of the
  // 64-character maximum, full words and the tail alike, must show.
  ipc::OrderIntent a = buy("0.01");
  a.set_intent_id(std::string(kIntentIdLengthMax, 'a'));
  const std::uint64_t h = intent_fingerprint(a);
  for (std::size_t k = 0; k < kIntentIdLengthMax; ++k) {
    ipc::OrderIntent b = a;
    std::string id = a.intent_id();
    id[k] = 'b';
    b.set_intent_id(id);
    EXPECT_NE(intent_fingerprint(b), h) << k;
  }
  ipc::OrderIntent shorter = a;
  shorter.set_intent_id(std::string(kIntentIdLengthMax - 1, 'a'));
  EXPECT_NE(intent_fingerprint(shorter), h);
}

// ------------------------------------------------------ state after decisions

TEST(GateState, OrderLifecycleUpdatesLedgerAndCounts) {
  World w;
  GateState s = w.make();
  const ipc::OrderIntent i = buy("0.5", "10000", "9900");
  const ipc::Decision d = decide(s, i, w.ctx()).decision;
  ASSERT_TRUE(d.accepted()) << d.detail();
  ASSERT_TRUE(s.record_decision(i, d).ok());
  const Order* o = s.find_live_order("o-1");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->state, OrderState::kPendingNew);
  EXPECT_EQ(o->decision_price, D("10000"));
  EXPECT_TRUE(o->grows_exposure);
  EXPECT_EQ(s.find_live_order_by_intent("i-1"), o);
  EXPECT_EQ(s.accepted_times_ns().size(), 1u);

  ASSERT_TRUE(s.apply_order_event("o-1", OrderEvent::kSubmit, kT0 + 1).ok());
  ASSERT_TRUE(s.apply_order_event("o-1", OrderEvent::kAck, kT0 + 2).ok());
  fill(s, "o-1", "0.2", "10000", "1", kT0 + 3);
  EXPECT_EQ(s.find_live_order("o-1")->state, OrderState::kPartiallyFilled);
  fill(s, "o-1", "0.3", "9990", "1.5", kT0 + 4);
  EXPECT_EQ(s.find_live_order("o-1"), nullptr);
  ASSERT_EQ(s.closed_orders().size(), 1u);
  EXPECT_EQ(s.closed_orders().back().state, OrderState::kFilled);
  EXPECT_EQ(s.ledger().position_quantity("BTC-USD"), D("0.5"));
  EXPECT_EQ(s.ledger().fees_paid(), D("2.5"));
  EXPECT_EQ(s.ledger().cash(), D("1000000").sub(D("4997"))->sub(D("2.5")).value());

  // Events for unknown or finished orders are refused; the state is unchanged.
  EXPECT_FALSE(s.apply_order_event("o-1", OrderEvent::kCancelRequest, kT0 + 5).ok());
  EXPECT_FALSE(s.apply_order_event("o-9", OrderEvent::kAck, kT0 + 5).ok());
}

TEST(GateState, FillsAreAtomicAcrossOrderAndLedger) {
  World w;
  GateState s = w.make();
  const std::string id = inject_order(s, "BTC-USD", ipc::SIDE_BUY, "1", "10000");
  ASSERT_TRUE(s.apply_order_event(id, OrderEvent::kSubmit, kT0).ok());
  ipc::Fill f;
  f.set_fill_id("f1");
  f.set_order_id(id);
  f.set_product("BTC-USD");
  f.set_side(ipc::SIDE_BUY);
  f.set_price("10000");
  f.set_ts_ns(kT0);
  f.set_quantity("1.00000001");  // overfill
  EXPECT_FALSE(s.apply_fill(f).ok());
  f.set_quantity("0.5");
  f.set_side(ipc::SIDE_SELL);  // does not match the order
  EXPECT_FALSE(s.apply_fill(f).ok());
  f.set_side(ipc::SIDE_BUY);
  f.set_product("ETH-USD");
  EXPECT_FALSE(s.apply_fill(f).ok());
  f.set_product("BTC-USD");
  f.set_price("abc");
  EXPECT_FALSE(s.apply_fill(f).ok());
  EXPECT_TRUE(s.find_live_order(id)->filled_quantity.is_zero());
  EXPECT_TRUE(s.ledger().position_quantity("BTC-USD").is_zero());
}

TEST(GateState, RecordDecisionRefusesWhatDoesNotFit) {
  World w;
  GateState s = w.make();
  const ipc::OrderIntent i = buy("0.01");
  ipc::Decision d = decide(s, i, w.ctx()).decision;
  ASSERT_TRUE(d.accepted());
  ipc::Decision wrong_id = d;
  wrong_id.set_order_id("o-7");
  EXPECT_FALSE(s.record_decision(i, wrong_id).ok());
  ipc::Decision other_intent = d;
  other_intent.set_intent_id("i-2");
  EXPECT_FALSE(s.record_decision(i, other_intent).ok());
  ipc::Decision no_price = d;
  no_price.clear_fields();
  EXPECT_FALSE(s.record_decision(i, no_price).ok());
  EXPECT_TRUE(s.live_orders().empty());
  EXPECT_TRUE(s.record_decision(i, d).ok());
}

TEST(GateState, RateWindowKeepsOnlyWhatTheLimitNeeds) {
  World w;
  w.limits.order_rate_per_minute_max = 3;
  GateState s = w.make();
  for (int k = 0; k < 5; ++k) inject_order(s, "ETH-USD", ipc::SIDE_BUY, "0.01", "2000", kT0 + k);
  EXPECT_EQ(s.accepted_times_ns().size(), 3u);
  EXPECT_EQ(s.accepted_times_ns().front(), kT0 + 2);
}

TEST(GateState, DailyLossFiresOncePerDayThenFlattens) {
  World w;
  w.limits.starting_cash = D("10000");
  w.limits.daily_loss_fraction_max = D("0.05");
  GateState s = w.make();
  position(s, "BTC-USD", "1", "10000");
  ASSERT_TRUE(s.apply_mark("BTC-USD", D("9500"), kT0 + 1).ok());
  EXPECT_FALSE(s.check_loss_limit(kT0 + 1).has_value());  // at the limit
  ASSERT_TRUE(s.apply_mark("BTC-USD", D("9400"), kT0 + 2).ok());
  const auto change = s.check_loss_limit(kT0 + 2);
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(change->to, HaltState::kHalted);
  EXPECT_TRUE(change->flatten);
  EXPECT_TRUE(change->cancel_all);
  EXPECT_EQ(change->cooldown_until_ns, kT0 + 2 + 3'600'000 * kNanosPerMs);
  EXPECT_FALSE(s.check_loss_limit(kT0 + 3).has_value());  // once per day

  // The gate's own flatten orders: market sells of the whole position.
  std::vector<std::string> skipped;
  w.btc_ref = D("9400");
  const auto plan = plan_flatten(s, w.ctx(), &skipped);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_TRUE(skipped.empty());
  EXPECT_EQ(plan[0].intent.side(), ipc::SIDE_SELL);
  EXPECT_EQ(plan[0].intent.quantity(), "1");
  EXPECT_EQ(plan[0].intent.strategy(), "gate");
  EXPECT_EQ(plan[0].decision.order_id(), s.next_order_id());
  ASSERT_TRUE(s.record_decision(plan[0].intent, plan[0].decision).ok());
  const Order* o = s.find_live_order(plan[0].decision.order_id());
  ASSERT_NE(o, nullptr);
  EXPECT_FALSE(o->grows_exposure);
  EXPECT_TRUE(o->reduce_only);

  // During the cooldown even an exit from the agent is denied; after it, the
  // day's loss still blocks entries but allows exits.
  const auto d = decide(s, sell("0.1", "9400"), w.ctx()).decision;
  EXPECT_EQ(d.reason(), ipc::DENY_REASON_COOLDOWN);
  const std::int64_t after = change->cooldown_until_ns;
  ASSERT_TRUE(s.tick(after).has_value());
  EXPECT_EQ(s.halt().state(), HaltState::kActive);
  w.now = after;
  w.btc_ref_ts = after;
  EXPECT_EQ(decide(s, buy("0.001", "9400", "9300"), w.ctx()).decision.reason(), ipc::DENY_REASON_DAILY_LOSS_LIMIT);
}

TEST(GateState, CancelDecisions) {
  World w;
  GateState s = w.make();
  const ipc::OrderIntent i = buy("0.01");
  ASSERT_TRUE(s.record_decision(i, decide(s, i, w.ctx()).decision).ok());
  ipc::CancelIntent c;
  c.set_cancel_id("c-1");
  c.set_intent_id("i-1");
  EXPECT_TRUE(decide_cancel(s, c, w.ctx()).accepted());
  ASSERT_TRUE(s.apply_halt_event(HaltEvent::kOperatorKill, kT0).ok());
  EXPECT_TRUE(decide_cancel(s, c, w.ctx()).accepted()) << "cancels are allowed in every halt state";
  ASSERT_TRUE(s.apply_order_event("o-1", OrderEvent::kSubmit, kT0).ok());
  ASSERT_TRUE(s.apply_order_event("o-1", OrderEvent::kCancelRequest, kT0).ok());
  EXPECT_FALSE(decide_cancel(s, c, w.ctx()).accepted()) << "already cancelling";
  c.set_intent_id("nope");
  EXPECT_FALSE(decide_cancel(s, c, w.ctx()).accepted());
  c.set_cancel_id("");
  EXPECT_FALSE(decide_cancel(s, c, w.ctx()).accepted());
  w.peer_allowed = false;
  c.set_cancel_id("c-2");
  c.set_intent_id("i-1");
  EXPECT_FALSE(decide_cancel(s, c, w.ctx()).accepted());
}

// The per-product sums of the live orders follow every creation, fill and
// finish, and always equal a count over the orders.
TEST(GateState, OrderTotalsFollowEveryOrderChange) {
  World w;
  GateState s = w.make();
  EXPECT_TRUE(s.order_totals().empty());
  const std::string b1 = inject_order(s, "BTC-USD", ipc::SIDE_BUY, "0.5", "10000");
  const std::string b2 = inject_order(s, "BTC-USD", ipc::SIDE_BUY, "0.25", "9000");
  const std::string e1 = inject_order(s, "ETH-USD", ipc::SIDE_BUY, "2", "2000");
  const ProductOrderTotals* btc = s.order_totals("BTC-USD");
  ASSERT_NE(btc, nullptr);
  EXPECT_EQ(btc->count, 2u);
  EXPECT_EQ(btc->buy_remaining, D("0.75").units());
  EXPECT_EQ(btc->sell_remaining, 0);
  EXPECT_EQ(btc->growing_remaining, D("0.75").units());
  EXPECT_EQ(btc->buy_notional.saturated(), Int128{D("7250").units()} * Decimal::kScale);  // 5000 + 2250
  EXPECT_EQ(btc->growing_notional, btc->buy_notional);
  EXPECT_TRUE(s.order_totals_match_recount());

  fill(s, b1, "0.2", "10000");  // partial
  EXPECT_EQ(s.order_totals("BTC-USD")->buy_remaining, D("0.55").units());
  EXPECT_EQ(s.order_totals("BTC-USD")->buy_notional.saturated(), Int128{D("5250").units()} * Decimal::kScale);
  // A sell that shrinks the 0.2 position: not growing.
  const std::string x1 = inject_order(s, "BTC-USD", ipc::SIDE_SELL, "0.1", "10100");
  EXPECT_EQ(s.order_totals("BTC-USD")->sell_remaining, D("0.1").units());
  EXPECT_EQ(s.order_totals("BTC-USD")->growing_remaining, D("0.55").units());
  EXPECT_EQ(s.order_totals("BTC-USD")->count, 3u);
  EXPECT_TRUE(s.order_totals_match_recount());

  fill(s, b1, "0.3", "10000");                                                  // b1 filled: gone
  ASSERT_TRUE(s.apply_order_event(b2, OrderEvent::kCancelRequest, kT0).ok());  // PENDING_NEW: cancelled at once
  ASSERT_TRUE(s.apply_order_event(x1, OrderEvent::kSubmit, kT0).ok());          // no quantity change
  EXPECT_EQ(s.order_totals("BTC-USD")->count, 1u);
  EXPECT_EQ(s.order_totals("BTC-USD")->buy_remaining, 0);
  EXPECT_EQ(s.order_totals("BTC-USD")->buy_notional, WideSum{});
  EXPECT_FALSE(s.apply_order_event(x1, OrderEvent::kFill, kT0).ok());  // refused: nothing changes
  EXPECT_TRUE(s.order_totals_match_recount());
  ASSERT_TRUE(s.apply_order_event(x1, OrderEvent::kCancelRequest, kT0).ok());
  ASSERT_TRUE(s.apply_order_event(x1, OrderEvent::kCancelAck, kT0).ok());
  EXPECT_EQ(s.order_totals("BTC-USD"), nullptr) << "a product without live orders has no entry";
  ASSERT_NE(s.order_totals("ETH-USD"), nullptr);
  EXPECT_EQ(s.order_totals("ETH-USD")->buy_remaining, D("2").units());
  ASSERT_TRUE(s.apply_order_event(e1, OrderEvent::kSubmit, kT0).ok());
  ASSERT_TRUE(s.apply_order_event(e1, OrderEvent::kReject, kT0).ok());
  EXPECT_TRUE(s.order_totals().empty());
  EXPECT_TRUE(s.order_totals_match_recount());
}

// WideSum is exact across its saturation point, one below, at and above
// 2^126, and comes back down exactly.
TEST(GateState, WideSumSaturatesAtTheCapAndSubtractsExactly) {
  constexpr Int128 kCap = WideSum::kUnit;
  WideSum w;
  w.add(kCap - 1);
  EXPECT_EQ(w.saturated(), kCap - 1);  // one below
  w.add(1);
  EXPECT_EQ(w.saturated(), kCap);  // at
  EXPECT_EQ(w.carries, 1u);
  EXPECT_EQ(w.low, 0);
  w.add(kCap - 1);
  w.add(5);
  EXPECT_EQ(w.saturated(), kCap);  // above: saturated, but counted exactly
  EXPECT_EQ(w.carries, 2u);
  EXPECT_EQ(w.low, 4);
  w.sub(kCap - 1);
  w.sub(5);
  w.sub(1);
  EXPECT_EQ(w.saturated(), kCap - 1);
  w.sub(kCap - 1);
  EXPECT_EQ(w, WideSum{});
}

TEST(GateState, RememberedIntentsAndClosedOrdersAreBounded) {
  World w;
  GateState s(w.limits, Ledger(w.limits.starting_cash, kT0), GateStateBounds{3, 2});
  s.set_ready(true);
  // Fill the memory to its bound (3), then one more: the oldest id goes.
  for (int k = 1; k <= 4; ++k) {
    ipc::OrderIntent i = buy("0.01");
    i.set_intent_id("i-" + std::to_string(k));
    const ipc::Decision d = decide(s, i, w.ctx()).decision;
    ASSERT_TRUE(d.accepted()) << d.detail();
    ASSERT_TRUE(s.record_decision(i, d).ok());
    EXPECT_TRUE(s.find_intent("i-" + std::to_string(k)).has_value());
    EXPECT_EQ(s.find_intent("i-1").has_value(), k <= 3) << k;
  }
  EXPECT_TRUE(s.find_intent("i-2").has_value());
  // Closed orders: 2 kept, the oldest dropped first.
  for (int k = 1; k <= 3; ++k) {
    const std::string id = "o-" + std::to_string(k);
    ASSERT_TRUE(s.apply_order_event(id, OrderEvent::kCancelRequest, kT0).ok()) << id;  // PENDING_NEW -> CANCELLED
    EXPECT_EQ(s.closed_orders().size(), static_cast<std::size_t>(std::min(k, 2)));
    EXPECT_EQ(s.closed_orders().back().order_id, id);
  }
  EXPECT_EQ(s.closed_orders().front().order_id, "o-2");
}

// The idempotency memory at its limit (3 here): one below and at it every
// retry replays; one above, the oldest id is forgotten, and a retry of it -
// or any intent created no later than it - is denied INTENT_TOO_OLD
// instead of being decided afresh (which could make a second order). Newer
// intents are decided as usual, and a replay of the journal rebuilds the
// same memory and the same answers.
TEST(GateState, IdempotencyMemoryAtItsLimitNeverDecidesAForgottenIdAgain) {
  World w;
  GateStateBounds bounds;
  bounds.remembered_intents_max = 3;
  GateState s(w.limits, Ledger(w.limits.starting_cash, kT0), bounds);
  s.set_ready(true);
  ASSERT_TRUE(s.apply_mark("BTC-USD", w.btc_ref, kT0).ok());
  std::vector<std::pair<ipc::OrderIntent, ipc::Decision>> journal;
  const auto intent_at = [](int k, std::int64_t created) {
    ipc::OrderIntent i = buy("0.01");
    i.set_intent_id("i-" + std::to_string(k));
    i.set_created_ts_ns(created);
    return i;
  };
  const auto record = [&](const ipc::OrderIntent& i) {
    const ipc::Decision d = decide(s, i, w.ctx()).decision;
    EXPECT_TRUE(s.record_decision(i, d).ok());
    journal.emplace_back(i, d);
    return d;
  };
  for (int k = 1; k <= 3; ++k) {
    ASSERT_TRUE(record(intent_at(k, kT0 - 10 + k)).accepted());
    // One below the limit and at it: every retry so far replays.
    for (int j = 1; j <= k; ++j) EXPECT_TRUE(decide(s, intent_at(j, kT0 - 10 + j), w.ctx()).decision.replayed());
  }
  EXPECT_FALSE(s.intent_memory().forgotten_created_max_ns().has_value());
  const std::uint64_t orders_before = s.next_order_number();
  ASSERT_TRUE(record(intent_at(4, kT0 - 6)).accepted());  // one above: i-1 is forgotten
  EXPECT_FALSE(s.find_intent("i-1").has_value());
  ASSERT_TRUE(s.intent_memory().forgotten_created_max_ns().has_value());
  EXPECT_EQ(*s.intent_memory().forgotten_created_max_ns(), kT0 - 9);

  const ipc::Decision retry = record(intent_at(1, kT0 - 9));
  EXPECT_FALSE(retry.accepted());
  EXPECT_EQ(retry.reason(), ipc::DENY_REASON_INTENT_TOO_OLD);
  EXPECT_FALSE(retry.replayed());
  EXPECT_EQ(retry.limit(), "1728043199.99999999");  // kT0 - 9 ns, in seconds (truncated to 1e-8)
  EXPECT_EQ(s.next_order_number(), orders_before + 1) << "no second order for the forgotten id";
  EXPECT_FALSE(s.find_intent("i-1").has_value()) << "a too-old denial is not remembered";
  // An unknown id created as early is denied too (it cannot be told apart).
  EXPECT_EQ(record(intent_at(9, kT0 - 20)).reason(), ipc::DENY_REASON_INTENT_TOO_OLD);
  EXPECT_EQ(record(intent_at(10, kT0 - 9)).reason(), ipc::DENY_REASON_INTENT_TOO_OLD);  // at the horizon
  // One step newer than the horizon is decided; the remembered ones replay.
  EXPECT_TRUE(record(intent_at(11, kT0 - 8)).accepted());
  EXPECT_TRUE(decide(s, intent_at(4, kT0 - 6), w.ctx()).decision.replayed());

  // A replay of the journal (a restart) rebuilds the same memory.
  GateState replayed(w.limits, Ledger(w.limits.starting_cash, kT0), bounds);
  replayed.set_ready(true);
  ASSERT_TRUE(replayed.apply_mark("BTC-USD", w.btc_ref, kT0).ok());
  for (const auto& [i, d] : journal) ASSERT_TRUE(replayed.record_decision(i, d).ok());
  EXPECT_EQ(replayed.intent_memory().forgotten_created_max_ns(), s.intent_memory().forgotten_created_max_ns());
  EXPECT_EQ(decide(replayed, intent_at(1, kT0 - 9), w.ctx()).decision.reason(), ipc::DENY_REASON_INTENT_TOO_OLD);
  for (int k : {4, 11}) {
    const std::string id = "i-" + std::to_string(k);
    ASSERT_TRUE(replayed.find_intent(id).has_value()) << id;
    EXPECT_EQ(replayed.find_intent(id)->decision.SerializeAsString(), s.find_intent(id)->decision.SerializeAsString());
  }
}

// Replaying the same decisions and events into a fresh state rebuilds it.
TEST(GateState, ReplayRebuildsTheSameState) {
  World w;
  w.limits.order_rate_per_minute_max = 600;
  std::vector<std::pair<ipc::OrderIntent, ipc::Decision>> journal;
  GateState live = w.make();
  for (int k = 0; k < 20; ++k) {
    ipc::OrderIntent i = buy("0.01", k % 3 ? "10000" : "10000.005");
    i.set_intent_id("i-" + std::to_string(k % 15));  // some retries
    w.now = kT0 + k * kNanosPerSecond;
    w.btc_ref_ts = w.now;
    const ipc::Decision d = decide(live, i, w.ctx()).decision;
    ASSERT_TRUE(live.record_decision(i, d).ok());
    journal.emplace_back(i, d);
  }
  GateState replayed = w.make();
  for (const auto& [i, d] : journal) ASSERT_TRUE(replayed.record_decision(i, d).ok());
  EXPECT_EQ(replayed.live_orders().size(), live.live_orders().size());
  EXPECT_EQ(replayed.next_order_number(), live.next_order_number());
  EXPECT_EQ(replayed.accepted_times_ns(), live.accepted_times_ns());
  for (int k = 0; k < 15; ++k) {
    const std::string id = "i-" + std::to_string(k);
    ASSERT_TRUE(live.find_intent(id).has_value()) << id;
    ASSERT_TRUE(replayed.find_intent(id).has_value()) << id;
    EXPECT_EQ(live.find_intent(id)->decision.SerializeAsString(), replayed.find_intent(id)->decision.SerializeAsString());
  }
}

}  // namespace
}  // namespace ta::gate
