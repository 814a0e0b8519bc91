// Sizing: the risk formula, every cap at the limit / one below / one above,
// rounding down to the increment, the minimum size, and bad inputs.
#include <gtest/gtest.h>

#include <limits>

#include "strategy_test_support.h"

namespace ta::agent {
namespace {

using test::D;

ProductSpec product() {
  ProductSpec p;
  p.product = test::pid("BTC-USD");
  p.base_increment = D("0.001");
  p.quote_increment = D("0.01");
  p.base_min_size = D("0.01");
  p.base_max_size = D("1000");
  return p;
}

// Generous caps so only the risk budget matters unless a test says otherwise.
SizingLimits loose() {
  SizingLimits l;
  l.risk_per_trade_pct = D("1");
  l.position_notional_pct_max = D("100");
  l.order_notional_max = D("1000000");
  return l;
}

SizingRequest long_at(double entry, double stop, const char* equity = "10000") {
  SizingRequest r;
  r.side = OrderSide::kBuy;
  r.entry_price = entry;
  r.stop_price = stop;
  r.equity = D(equity);
  return r;
}

TEST(Sizing, RiskBudgetOverStopDistance) {
  // 1 % of 10,000 = 100 USD at risk; distance 5 -> 20 units.
  const auto r = size_entry(long_at(100, 95), product(), loose());
  ASSERT_EQ(r.outcome, SizingOutcome::kOk);
  EXPECT_EQ(r.quantity, D("20"));
  EXPECT_EQ(r.risk_quantity, D("20"));
  EXPECT_EQ(r.stop_price, D("95"));
  EXPECT_EQ(r.entry_price, D("100"));
  EXPECT_FALSE(r.capped_by_position || r.capped_by_order_notional || r.capped_by_max_size);
  // A short mirrors it.
  SizingRequest s = long_at(100, 105);
  s.side = OrderSide::kSell;
  const auto rs = size_entry(s, product(), loose());
  ASSERT_EQ(rs.outcome, SizingOutcome::kOk);
  EXPECT_EQ(rs.quantity, D("20"));
}

TEST(Sizing, RoundsDownToTheIncrementAndStopAwayFromEntry) {
  // 100 / 3 = 33.333... -> 33.333 (increment 0.001), never up.
  const auto r = size_entry(long_at(100, 97), product(), loose());
  ASSERT_EQ(r.outcome, SizingOutcome::kOk);
  EXPECT_EQ(r.quantity, D("33.333"));
  EXPECT_EQ(r.risk_quantity, D("33.33333333"));
  // A long's stop rounds down to the price increment (96.999 -> 96.99),
  // a short's up (103.001 -> 103.01): the distance only grows.
  const auto l = size_entry(long_at(100, 96.999), product(), loose());
  EXPECT_EQ(l.stop_price, D("96.99"));
  SizingRequest s = long_at(100, 103.001);
  s.side = OrderSide::kSell;
  EXPECT_EQ(size_entry(s, product(), loose()).stop_price, D("103.01"));
}

TEST(Sizing, StopDistanceZeroNegativeOrGoneAfterRounding) {
  EXPECT_EQ(size_entry(long_at(100, 100), product(), loose()).outcome, SizingOutcome::kStopDistanceNotPositive);
  EXPECT_EQ(size_entry(long_at(100, 101), product(), loose()).outcome, SizingOutcome::kStopDistanceNotPositive);
  SizingRequest s = long_at(100, 99);
  s.side = OrderSide::kSell;  // a short with its stop below the entry
  EXPECT_EQ(size_entry(s, product(), loose()).outcome, SizingOutcome::kStopDistanceNotPositive);
  // The smallest positive distance survives: 100 - 99.99 = one increment
  // (99.99 is not exactly a double; it must not round down to 99.98).
  const auto r = size_entry(long_at(100, 99.99), product(), loose());
  EXPECT_EQ(r.outcome, SizingOutcome::kOk);
  EXPECT_EQ(r.stop_price, D("99.99"));
  EXPECT_EQ(r.risk_quantity, D("10000"));
  // 10,000 units by risk; the position cap (100 % of 10,000 USD) allows 100.
  EXPECT_EQ(r.quantity, D("100"));
  EXPECT_TRUE(r.capped_by_position);
}

TEST(Sizing, NonFiniteAndNonPositiveInputs) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(size_entry(long_at(nan, 95), product(), loose()).outcome, SizingOutcome::kNotFinite);
  EXPECT_EQ(size_entry(long_at(100, nan), product(), loose()).outcome, SizingOutcome::kNotFinite);
  EXPECT_EQ(size_entry(long_at(inf, 95), product(), loose()).outcome, SizingOutcome::kNotFinite);
  EXPECT_EQ(size_entry(long_at(100, -1), product(), loose()).outcome, SizingOutcome::kPriceNotPositive);
  EXPECT_EQ(size_entry(long_at(0, 95), product(), loose()).outcome, SizingOutcome::kPriceNotPositive);
  // A stop so close to zero that it rounds down to 0.00.
  EXPECT_EQ(size_entry(long_at(100, 0.001), product(), loose()).outcome, SizingOutcome::kPriceNotPositive);
  EXPECT_EQ(size_entry(long_at(100, 95, "0"), product(), loose()).outcome, SizingOutcome::kEquityNotPositive);
  EXPECT_EQ(size_entry(long_at(100, 95, "-5"), product(), loose()).outcome, SizingOutcome::kEquityNotPositive);
  EXPECT_EQ(size_entry(long_at(1e300, 95), product(), loose()).outcome, SizingOutcome::kArithmetic);
}

TEST(Sizing, TinyEquityIsBelowMinimum) {
  // 1 % of 5 USD over a distance of 5: 0.01 units = exactly the minimum.
  auto r = size_entry(long_at(100, 95, "5"), product(), loose());
  EXPECT_EQ(r.outcome, SizingOutcome::kOk);
  EXPECT_EQ(r.quantity, D("0.01"));
  // One increment less: 4.99 USD -> 0.00998 -> 0.009 after rounding: below.
  r = size_entry(long_at(100, 95, "4.99"), product(), loose());
  EXPECT_EQ(r.outcome, SizingOutcome::kBelowMinSize);
  EXPECT_TRUE(r.quantity.is_zero());
  r = size_entry(long_at(100, 95, "0.01"), product(), loose());
  EXPECT_EQ(r.outcome, SizingOutcome::kBelowMinSize);
}

TEST(Sizing, OrderNotionalCapAtLimitOneBelowOneAbove) {
  // Risk quantity 20 at 100 = 2,000 USD notional.
  SizingLimits l = loose();
  l.order_notional_max = D("2000");  // exactly the order: not capped
  auto r = size_entry(long_at(100, 95), product(), l);
  EXPECT_EQ(r.quantity, D("20"));
  EXPECT_FALSE(r.capped_by_order_notional);
  l.order_notional_max = D("2000.1");  // one unit of 0.1 USD above: not capped
  r = size_entry(long_at(100, 95), product(), l);
  EXPECT_EQ(r.quantity, D("20"));
  EXPECT_FALSE(r.capped_by_order_notional);
  l.order_notional_max = D("1999.9");  // below: capped to 19.999
  r = size_entry(long_at(100, 95), product(), l);
  EXPECT_EQ(r.quantity, D("19.999"));
  EXPECT_TRUE(r.capped_by_order_notional);
  EXPECT_LE(r.quantity.mul(D("100"), Rounding::kTowardZero).value(), l.order_notional_max);
}

TEST(Sizing, PositionCapAtLimitOneBelowOneAbove) {
  // Cap 10 % of 10,000 = 1,000 USD; already holding 8 units at 100 = 800,
  // so 2 more units (200 USD) fit exactly.
  SizingLimits l = loose();
  l.position_notional_pct_max = D("10");
  SizingRequest req = long_at(100, 90);  // risk quantity 100 / 10 = 10 units
  req.product_exposure_base = D("8");
  auto r = size_entry(req, product(), l);
  EXPECT_EQ(r.quantity, D("2"));
  EXPECT_TRUE(r.capped_by_position);
  // Risk quantity exactly at the room: not capped.
  req.stop_price = 50;  // 100 / 50 = 2 units
  r = size_entry(req, product(), l);
  EXPECT_EQ(r.quantity, D("2"));
  EXPECT_FALSE(r.capped_by_position);
  // One increment of exposure more: the room is 1.999 units.
  req.product_exposure_base = D("8.001");
  r = size_entry(req, product(), l);
  EXPECT_EQ(r.quantity, D("1.999"));
  EXPECT_TRUE(r.capped_by_position);
  // Full: nothing fits, which is below the minimum size.
  req.product_exposure_base = D("10");
  r = size_entry(req, product(), l);
  EXPECT_EQ(r.outcome, SizingOutcome::kBelowMinSize);
  EXPECT_TRUE(r.capped_by_position);
  // Beyond full (price moved up): still nothing, no negative quantity.
  req.product_exposure_base = D("12");
  EXPECT_EQ(size_entry(req, product(), l).outcome, SizingOutcome::kBelowMinSize);
  // Short exposure counts by its absolute value.
  req.product_exposure_base = D("-8");
  EXPECT_EQ(size_entry(req, product(), l).quantity, D("2"));
}

TEST(Sizing, MaxSizeAndRiskWeight) {
  ProductSpec p = product();
  p.base_max_size = D("20");
  auto r = size_entry(long_at(100, 95), p, loose());
  EXPECT_EQ(r.quantity, D("20"));
  EXPECT_FALSE(r.capped_by_max_size);
  p.base_max_size = D("19.999");
  r = size_entry(long_at(100, 95), p, loose());
  EXPECT_EQ(r.quantity, D("19.999"));
  EXPECT_TRUE(r.capped_by_max_size);
  SizingRequest req = long_at(100, 95);
  req.risk_weight = D("0.5");
  EXPECT_EQ(size_entry(req, product(), loose()).quantity, D("10"));
  req.risk_weight = D("0");
  EXPECT_EQ(size_entry(req, product(), loose()).outcome, SizingOutcome::kBelowMinSize);
}

TEST(Sizing, DefaultsStayBelowTheGateDefaults) {
  const SizingLimits d;
  EXPECT_TRUE(validate(d).ok());
  EXPECT_LT(d.risk_per_trade_pct, D("0.5"));          // gate: 0.5 % per trade
  EXPECT_LT(d.position_notional_pct_max, D("10"));    // gate: 10 % per symbol
}

TEST(Sizing, LimitValidation) {
  SizingLimits l;
  l.risk_per_trade_pct = kRiskPerTradePctMax;
  EXPECT_TRUE(validate(l).ok());
  l.risk_per_trade_pct = D("2.000001");
  EXPECT_FALSE(validate(l).ok());
  l.risk_per_trade_pct = D("0");
  EXPECT_FALSE(validate(l).ok());
  l.risk_per_trade_pct = D("0.0000001");  // seven fractional digits
  EXPECT_FALSE(validate(l).ok());
  l = {};
  l.position_notional_pct_max = D("100");
  EXPECT_TRUE(validate(l).ok());
  l.position_notional_pct_max = D("100.000001");
  EXPECT_FALSE(validate(l).ok());
  l = {};
  l.order_notional_max = D("0");
  EXPECT_FALSE(validate(l).ok());
  ProductSpec p = product();
  EXPECT_TRUE(validate(p).ok());
  p.base_increment = D("0");
  EXPECT_FALSE(validate(p).ok());
  p = product();
  p.base_max_size = D("0.001");
  EXPECT_FALSE(validate(p).ok());
}

TEST(Sizing, ReadsLimitsFromConfig) {
  proto::ConfigReader r("sizing:\n  risk_per_trade_pct: 0.3\n  order_notional_max_usd: 2500\n", "agent.yaml", "/");
  const auto l = read_sizing_limits(r.root().map("sizing", proto::Need::kRequired));
  EXPECT_TRUE(r.finish().empty());
  EXPECT_EQ(l.risk_per_trade_pct, D("0.3"));
  EXPECT_EQ(l.order_notional_max, D("2500"));
  EXPECT_EQ(l.position_notional_pct_max, SizingLimits{}.position_notional_pct_max);
  proto::ConfigReader bad("sizing:\n  risk_per_trade_pct: 3\n", "agent.yaml", "/");
  (void)read_sizing_limits(bad.root().map("sizing", proto::Need::kRequired));
  const auto problems = bad.finish();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].to_string(),
            "agent.yaml:2:23: key 'sizing.risk_per_trade_pct': expected decimal in [0.000001, 2], got \"3\"");
}

}  // namespace
}  // namespace ta::agent
