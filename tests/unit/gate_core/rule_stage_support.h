// Helpers for the tests of the rule stage, holds and what-if (GoogleTest
// assertions inside; header-only).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "gate/core.h"
#include "gate_test_support.h"
#include "rules/rules.h"

namespace ta::gate::rstest {

using test::D;

// 2024-10-04 (a Friday), 12:00 UTC.
inline constexpr std::int64_t kDay0 = 20'000;
inline constexpr std::int64_t kT0 = kDay0 * kNanosPerDay + 12 * 3'600 * kNanosPerSecond;
inline constexpr std::int64_t kHourNs = 3'600 * kNanosPerSecond;
inline constexpr std::int64_t kMinuteNs = 60 * kNanosPerSecond;

// Limits wide enough that no hard limit binds unless a test tightens it.
inline SafetyLimits relaxed_limits() {
  SafetyLimits s;
  s.products = {ProductLimits{"BTC-USD", D("0.0001"), D("1000"), D("0.00000001"), D("0.01")},
                ProductLimits{"ETH-USD", D("0.001"), D("10000"), D("0.001"), D("0.01")}};
  s.order_notional_max = D("1000000000");
  s.position_fraction_max = D("2");
  s.gross_exposure_fraction_max = D("2");
  s.risk_per_trade_fraction_max = D("0.5");
  s.open_orders_max = 1000;
  s.order_rate_per_minute_max = 600;
  s.price_band_bps = D("5000");
  s.reference_price_age_max_ms = 120'000;
  s.daily_loss_fraction_max = D("0.5");
  s.fee_reserve_bps = D("0");
  s.starting_cash = D("1000000");
  return s;
}

// A state, the gate's reference prices and a rule set, with a clock.
struct Bench {
  SafetyLimits limits = relaxed_limits();
  GateStateBounds bounds;
  std::int64_t now = kT0;
  std::vector<ReferencePrice> refs;
  rules::RuleSet rule_set;
  bool use_rules = true;

  GateState make() const {
    GateState s(limits, Ledger(limits.starting_cash, kT0 - kNanosPerDay), bounds);
    s.set_ready(true);
    EXPECT_TRUE(s.apply_mark("BTC-USD", D("10000"), kT0 - kNanosPerDay).ok());
    EXPECT_TRUE(s.apply_mark("ETH-USD", D("2000"), kT0 - kNanosPerDay).ok());
    return s;
  }
  DecisionContext ctx() {
    refs = {{"BTC-USD", D("10000"), now}, {"ETH-USD", D("2000"), now}};
    return DecisionContext{now, true, refs, use_rules ? &rule_set : nullptr};
  }
};

inline rules::RuleSet compile_rules(const std::string& text) {
  auto c = rules::compile_source(text, "test.rule", rules::SourceOrigin::core());
  if (!c.ok()) {
    ADD_FAILURE() << "rules did not compile:\n" << c.render_errors();
    return rules::RuleSet();
  }
  return std::move(c).value();
}

// The shipped rules/core, found through TA_SOURCE_DIR.
inline rules::RuleSet shipped_rules() {
  const char* dir = std::getenv("TA_SOURCE_DIR");
  if (dir == nullptr) {
    ADD_FAILURE() << "TA_SOURCE_DIR is not set";
    return rules::RuleSet();
  }
  auto loaded = rules::load_rules(std::string(dir) + "/rules/core", std::string(dir) + "/rules/no-active-dir");
  if (!loaded.ok()) {
    ADD_FAILURE() << loaded.render_errors();
    return rules::RuleSet();
  }
  return loaded.value().rules;
}

inline ipc::OrderIntent order(const std::string& id, ipc::Side side, const char* qty, const char* limit = "10000",
                              const char* protective = "", const char* product = "BTC-USD") {
  ipc::OrderIntent i;
  i.set_intent_id(id);
  i.set_strategy("test");
  i.set_product(product);
  i.set_side(side);
  i.set_type(*limit ? ipc::ORDER_TYPE_LIMIT : ipc::ORDER_TYPE_MARKET);
  i.set_quantity(qty);
  i.set_limit_price(limit);
  i.set_time_in_force(ipc::TIME_IN_FORCE_GTC);
  i.set_protective_stop_price(protective);
  i.set_created_ts_ns(kT0);
  return i;
}
// An entry (needs a protective stop) and an exit.
inline ipc::OrderIntent entry(const std::string& id, const char* qty, const char* limit = "10000") {
  return order(id, ipc::SIDE_BUY, qty, limit, "9000");
}
inline ipc::OrderIntent exit_sell(const std::string& id, const char* qty, bool reduce_only = true) {
  ipc::OrderIntent i = order(id, ipc::SIDE_SELL, qty);
  i.set_reduce_only(reduce_only);
  return i;
}

// Fills an order injected straight into the state (bypassing decide()).
inline void trade(GateState& s, const char* product, ipc::Side side, const char* qty, const char* price,
                  std::int64_t ts, const char* fee = "0") {
  auto id = test::inject_order(s, product, side, qty, price, ts);
  ASSERT_TRUE(id.ok()) << id.error().message;
  ASSERT_TRUE(s.apply_order_event(*id, OrderEvent::kSubmit, ts).ok());
  ipc::Fill f;
  f.set_fill_id("f-" + *id);
  f.set_order_id(*id);
  f.set_product(product);
  f.set_side(side);
  f.set_quantity(qty);
  f.set_price(price);
  f.set_fee(fee);
  f.set_ts_ns(ts);
  const Status st = s.apply_fill(f);
  ASSERT_TRUE(st.ok()) << st.error().message;
}

// Names of the rules that fired, in order.
inline std::vector<std::string> fired(const ipc::Decision& d) {
  return std::vector<std::string>(d.rules_fired().begin(), d.rules_fired().end());
}

inline std::string field(const ipc::Decision& d, std::string_view name) {
  for (const auto& f : d.fields()) {
    if (f.name() == name) return f.value();
  }
  return "";
}

inline OperatorId op(const char* name = "alice") { return OperatorId::make(name).value(); }

}  // namespace ta::gate::rstest
