// Flattening (plan_flatten() and GateState::flatten_in_force()): the gate's
// own market orders after kill --flatten or the daily loss limit must never
// sell more than the position (spot cannot go short), even when exits are
// already in flight in any state, and must still end flat once those exits
// are cancelled, expire or are rejected. A seeded property test drives
// random positions, exits and venue outcomes; the seed is printed first
// (TA_TEST_SEED=N replays a run).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "gate/core.h"
#include "gate_test_support.h"

namespace ta::gate {
namespace {

using test::D;

constexpr std::int64_t kT0 = 20'000 * kNanosPerDay + 12 * 3600 * kNanosPerSecond;
constexpr const char* kProducts[] = {"BTC-USD", "ETH-USD"};

SafetyLimits limits() {
  SafetyLimits s;
  s.products = {ProductLimits{"BTC-USD", D("0.0001"), D("1000"), D("0.0001"), D("0.01")},
                ProductLimits{"ETH-USD", D("0.001"), D("10000"), D("0.001"), D("0.01")}};
  s.starting_cash = D("10000000");
  s.open_orders_max = 1000;
  s.order_rate_per_minute_max = 600;
  return s;
}

struct Flattening {
  GateState state{limits(), Ledger(limits().starting_cash, kT0)};
  std::vector<ReferencePrice> refs{{"BTC-USD", D("10000"), kT0}, {"ETH-USD", D("2000"), kT0}};
  std::int64_t now = kT0;
  int fill_number = 0;

  Flattening() {
    state.set_ready(true);
    EXPECT_TRUE(state.apply_mark("BTC-USD", D("10000"), kT0).ok());
    EXPECT_TRUE(state.apply_mark("ETH-USD", D("2000"), kT0).ok());
  }

  DecisionContext ctx() const { return DecisionContext{now, true, refs}; }

  std::string order(const char* product, ipc::Side side, const Decimal& qty) {
    const char* price = std::string(product) == "BTC-USD" ? "10000" : "2000";
    auto id = test::inject_order(state, product, side, qty.to_string().c_str(), price, now);
    EXPECT_TRUE(id.ok()) << id.error().message;
    return id.ok() ? *id : std::string();
  }

  Status event(const std::string& order_id, OrderEvent e) { return state.apply_order_event(order_id, e, ++now); }

  Status fill(const std::string& order_id, const Decimal& qty) {
    const Order* o = state.find_live_order(order_id);
    if (o == nullptr) return make_error("no live order " + order_id);
    ipc::Fill f;
    f.set_fill_id("f-" + std::to_string(++fill_number));
    f.set_order_id(order_id);
    f.set_product(o->product);
    f.set_side(o->side);
    f.set_quantity(qty.to_string());
    f.set_price(o->decision_price.to_string());
    f.set_fee("0");
    f.set_ts_ns(++now);
    return state.apply_fill(f);
  }

  // A position of `qty` in `product`, bought and filled.
  void position(const char* product, const Decimal& qty) {
    const std::string id = order(product, ipc::SIDE_BUY, qty);
    ASSERT_TRUE(event(id, OrderEvent::kSubmit).ok());
    ASSERT_TRUE(fill(id, qty).ok());
  }

  // What the daemon's halt handling does: cancel every order that can be,
  // then record and submit the flatten orders.
  std::vector<std::string> cancel_all_and_flatten() {
    std::vector<std::string> ids;
    for (const auto& [id, o] : state.live_orders()) {
      if (next_order_state(o.state, OrderEvent::kCancelRequest).ok()) ids.push_back(id);
    }
    for (const std::string& id : ids) EXPECT_TRUE(event(id, OrderEvent::kCancelRequest).ok()) << id;
    return flatten();
  }

  std::vector<std::string> flatten() {
    std::vector<std::string> made;
    std::vector<std::string> skipped;
    for (const GateOrder& g : plan_flatten(state, ctx(), &skipped)) {
      const Status st = state.record_decision(g.intent, g.decision);
      EXPECT_TRUE(st.ok()) << st.error().message;
      EXPECT_TRUE(event(g.decision.order_id(), OrderEvent::kSubmit).ok());
      made.push_back(g.decision.order_id());
    }
    return made;
  }

  // Remaining quantity of live orders on the side that closes the position.
  Decimal closing_in_flight(const char* product) const {
    const Quantity q = state.ledger().position_quantity(product);
    const ipc::Side closing = q.is_negative() ? ipc::SIDE_BUY : ipc::SIDE_SELL;
    std::int64_t units = 0;
    for (const auto& [id, o] : state.live_orders()) {
      if (o.product == product && o.side == closing) units += o.remaining().units();
    }
    return Decimal::from_units(units);
  }

  Decimal sells_in_flight(const char* product) const {
    std::int64_t units = 0;
    for (const auto& [id, o] : state.live_orders()) {
      if (o.product == product && o.side == ipc::SIDE_SELL) units += o.remaining().units();
    }
    return Decimal::from_units(units);
  }
};

// A multiple of the product's size increment in [1, max_steps] steps.
Decimal steps(std::mt19937& rng, const char* product, int max_steps) {
  const std::int64_t inc = std::string(product) == "BTC-USD" ? 10'000 : 100'000;  // 0.0001, 0.001
  return Decimal::from_units(inc * std::uniform_int_distribution<std::int64_t>(1, max_steps)(rng));
}

TEST(Flatten, SellsOnlyWhatAnExitInFlightDoesNotCoverThenWhatItsCancelFrees) {
  Flattening f;
  f.position("BTC-USD", D("1"));
  const std::string exit = f.order("BTC-USD", ipc::SIDE_SELL, D("0.4"));
  ASSERT_TRUE(f.event(exit, OrderEvent::kSubmit).ok());
  ASSERT_TRUE(f.event(exit, OrderEvent::kAck).ok());
  ASSERT_TRUE(f.state.apply_halt_event(HaltEvent::kOperatorKillFlatten, f.now).ok());
  EXPECT_TRUE(f.state.flatten_in_force());

  const auto first = f.cancel_all_and_flatten();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(f.state.find_live_order(first[0])->quantity, D("0.6"));
  EXPECT_EQ(f.state.find_live_order(exit)->state, OrderState::kCancelPending);
  EXPECT_EQ(f.sells_in_flight("BTC-USD"), D("1"));
  EXPECT_TRUE(f.flatten().empty()) << "nothing new while the exit may still fill";

  // The exit's cancel wins: the 0.4 it covered is flattened next.
  ASSERT_TRUE(f.event(exit, OrderEvent::kCancelAck).ok());
  const auto second = f.flatten();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(f.state.find_live_order(second[0])->quantity, D("0.4"));
  ASSERT_TRUE(f.fill(first[0], D("0.6")).ok());
  ASSERT_TRUE(f.fill(second[0], D("0.4")).ok());
  EXPECT_TRUE(f.state.ledger().position_quantity("BTC-USD").is_zero());
  EXPECT_TRUE(f.flatten().empty());
}

TEST(Flatten, AnExitThatWinsTheRaceWithItsCancelLeavesNothingToFollowUp) {
  Flattening f;
  f.position("BTC-USD", D("1"));
  const std::string exit = f.order("BTC-USD", ipc::SIDE_SELL, D("0.4"));
  ASSERT_TRUE(f.event(exit, OrderEvent::kSubmit).ok());
  ASSERT_TRUE(f.state.apply_halt_event(HaltEvent::kOperatorKillFlatten, f.now).ok());
  const auto first = f.cancel_all_and_flatten();
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(f.fill(exit, D("0.4")).ok());  // filled before the cancel arrived
  EXPECT_TRUE(f.flatten().empty());
  ASSERT_TRUE(f.fill(first[0], D("0.6")).ok());
  EXPECT_TRUE(f.state.ledger().position_quantity("BTC-USD").is_zero());
}

TEST(Flatten, InForceUntilTheGateTradesAgainOrAFlattenOrderIsRejected) {
  Flattening f;
  f.position("BTC-USD", D("1"));
  EXPECT_FALSE(f.state.flatten_in_force());
  ASSERT_TRUE(f.state.apply_halt_event(HaltEvent::kOperatorKill, f.now).ok());
  EXPECT_FALSE(f.state.flatten_in_force()) << "a kill without --flatten keeps positions";
  ASSERT_TRUE(f.state.apply_halt_event(HaltEvent::kOperatorKillFlatten, f.now).ok());
  EXPECT_TRUE(f.state.flatten_in_force());
  ASSERT_TRUE(f.state.apply_halt_event(HaltEvent::kHeartbeatTimeout, f.now).ok());
  EXPECT_TRUE(f.state.flatten_in_force()) << "automatic protections do not end a flattening";

  // The venue refuses the gate's own order: no automatic retry until a new
  // flattening starts.
  const auto made = f.cancel_all_and_flatten();
  ASSERT_EQ(made.size(), 1u);
  ASSERT_TRUE(f.event(made[0], OrderEvent::kReject).ok());
  EXPECT_FALSE(f.state.flatten_in_force());
  ASSERT_TRUE(f.state.apply_halt_event(HaltEvent::kOperatorKillFlatten, f.now).ok());
  EXPECT_TRUE(f.state.flatten_in_force());
  ASSERT_TRUE(f.state.apply_halt_event(HaltEvent::kOperatorResume, f.now).ok());
  EXPECT_FALSE(f.state.flatten_in_force());

  // The daily loss limit flattens until its cooldown ends.
  ASSERT_TRUE(f.state.apply_halt_event(HaltEvent::kDailyLossLimit, f.now).ok());
  EXPECT_TRUE(f.state.flatten_in_force());
  ASSERT_TRUE(f.state.tick(f.now + limits().loss_cooldown_ms * kNanosPerMs).has_value());
  EXPECT_EQ(f.state.halt().state(), HaltState::kActive);
  EXPECT_FALSE(f.state.flatten_in_force());
}

// The property: whatever exits are in flight and whatever the venue then
// does with them, the sell quantity in flight never exceeds the position,
// and once every order has settled the position is flat.
TEST(Flatten, PropertyNeverOversellsAndEndsFlat) {
  unsigned seed = std::random_device{}();
  if (const char* s = std::getenv("TA_TEST_SEED")) seed = static_cast<unsigned>(std::strtoul(s, nullptr, 10));
  std::printf("seed=%u\n", seed);
  std::mt19937 rng(seed);
  constexpr int kRuns = 300;
  constexpr int kStepsMax = 200;
  int exits_in_flight_at_flatten = 0;
  for (int run = 0; run < kRuns; ++run) {
    SCOPED_TRACE("seed=" + std::to_string(seed) + " run=" + std::to_string(run));
    Flattening f;
    for (const char* product : kProducts) {
      if (rng() % 4 == 0) continue;
      f.position(product, steps(rng, product, 10'000));
      // Exits (sells, at most the position in all, as decide()'s funds
      // check guarantees) and entries (buys) in random live states.
      const int orders = static_cast<int>(rng() % 6);
      for (int k = 0; k < orders; ++k) {
        const bool sell = rng() % 3 != 0;
        Decimal qty = steps(rng, product, 3'000);
        if (sell) {
          const Decimal left = f.state.ledger().position_quantity(product).sub(f.sells_in_flight(product)).value();
          if (!left.is_positive()) continue;
          qty = std::min(qty, left);
        }
        const std::string id = f.order(product, sell ? ipc::SIDE_SELL : ipc::SIDE_BUY, qty);
        switch (rng() % 6) {
          case 0:
            break;  // PENDING_NEW
          case 1:
            ASSERT_TRUE(f.event(id, OrderEvent::kSubmit).ok());
            break;
          case 2:
            ASSERT_TRUE(f.event(id, OrderEvent::kSubmit).ok());
            ASSERT_TRUE(f.event(id, OrderEvent::kAck).ok());
            break;
          case 3: {
            ASSERT_TRUE(f.event(id, OrderEvent::kSubmit).ok());
            const std::int64_t inc = std::string(product) == "BTC-USD" ? 10'000 : 100'000;
            const Decimal part = Decimal::from_units(qty.units() / 2 / inc * inc);
            if (part.is_positive() && part < qty) {
              ASSERT_TRUE(f.fill(id, part).ok());
            }
            break;
          }
          case 4:
            ASSERT_TRUE(f.event(id, OrderEvent::kSubmit).ok());
            ASSERT_TRUE(f.event(id, OrderEvent::kCancelRequest).ok());
            break;
          default:
            ASSERT_TRUE(f.event(id, OrderEvent::kSubmit).ok());
            ASSERT_TRUE(f.event(id, OrderEvent::kLostContact).ok());
            break;
        }
      }
    }
    for (const char* product : kProducts) exits_in_flight_at_flatten += f.sells_in_flight(product).is_positive();
    const HaltEvent trigger = rng() % 2 == 0 ? HaltEvent::kOperatorKillFlatten : HaltEvent::kDailyLossLimit;
    ASSERT_TRUE(f.state.apply_halt_event(trigger, f.now).ok());
    f.cancel_all_and_flatten();

    const auto check = [&](const char* when) {
      for (const char* product : kProducts) {
        const Quantity q = f.state.ledger().position_quantity(product);
        ASSERT_FALSE(q.is_negative()) << product << " went short " << when;
        ASSERT_TRUE(f.sells_in_flight(product) <= q)
            << product << " oversold " << when << ": sells in flight " << f.sells_in_flight(product).to_string()
            << ", position " << q.to_string();
      }
    };
    check("after the flatten");
    if (HasFatalFailure()) return;

    // The venue answers in random order; after each answer ("bar") the
    // gate follows up while the flattening is in force.
    for (int step = 0; step < kStepsMax && !f.state.live_orders().empty(); ++step) {
      std::vector<std::string> ids;
      for (const auto& [id, o] : f.state.live_orders()) ids.push_back(id);
      const std::string id = ids[rng() % ids.size()];
      const Order& o = *f.state.find_live_order(id);
      const bool gate_order = o.strategy == kGateStrategy;
      switch (rng() % 5) {
        case 0:
        case 1: {  // a fill, partial or whole
          if (o.state == OrderState::kPendingNew) break;
          const std::int64_t rem = o.remaining().units();
          const std::int64_t inc = std::string(o.product) == "BTC-USD" ? 10'000 : 100'000;
          const std::int64_t q = rng() % 2 == 0 || rem <= inc ? rem : inc * (1 + static_cast<std::int64_t>(rng() % (rem / inc)));
          ASSERT_TRUE(f.fill(id, Decimal::from_units(std::min(q, rem))).ok());
          break;
        }
        case 2:  // the venue confirms a cancel (or cancels on its own)
          if (next_order_state(o.state, OrderEvent::kCancelAck).ok()) {
            ASSERT_TRUE(f.event(id, OrderEvent::kCancelAck).ok());
          } else if (o.state == OrderState::kUnknown) {
            ASSERT_TRUE(f.event(id, OrderEvent::kReconcileCancelled).ok());
          }
          break;
        case 3:  // expiry, or reconciliation finds it open again
          if (next_order_state(o.state, OrderEvent::kExpire).ok()) {
            ASSERT_TRUE(f.event(id, OrderEvent::kExpire).ok());
          } else if (o.state == OrderState::kUnknown) {
            ASSERT_TRUE(f.event(id, o.filled_quantity.is_zero() ? OrderEvent::kReconcileOpen
                                                                : OrderEvent::kReconcilePartiallyFilled)
                            .ok());
          }
          break;
        default:  // a reject, rarely of the gate's own orders
          if (gate_order && rng() % 8 != 0) break;
          if (next_order_state(o.state, OrderEvent::kReject).ok()) {
            ASSERT_TRUE(f.event(id, OrderEvent::kReject).ok());
          }
          break;
      }
      check("after a venue event");
      if (HasFatalFailure()) return;
      if (f.state.flatten_in_force()) f.flatten();
      check("after a follow-up flatten");
      if (HasFatalFailure()) return;
    }
    // Settle what is left: every order fills, then follow-ups close the rest.
    for (int round = 0; round < 10 && !f.state.live_orders().empty(); ++round) {
      std::vector<std::string> ids;
      for (const auto& [id, o] : f.state.live_orders()) ids.push_back(id);
      for (const std::string& id : ids) {
        const Order& o = *f.state.find_live_order(id);
        if (o.state == OrderState::kPendingNew) {
          ASSERT_TRUE(f.event(id, OrderEvent::kSubmit).ok());
        }
        ASSERT_TRUE(f.fill(id, f.state.find_live_order(id)->remaining()).ok());
        check("while settling");
        if (HasFatalFailure()) return;
      }
      if (f.state.flatten_in_force()) f.flatten();
    }
    if (f.state.flatten_in_force()) {
      for (const char* product : kProducts) {
        EXPECT_TRUE(f.state.ledger().position_quantity(product).is_zero())
            << product << " not flat: " << f.state.ledger().position_quantity(product).to_string() << ", "
            << f.state.live_orders().size() << " live orders";
        EXPECT_TRUE(f.closing_in_flight(product).is_zero());
      }
    }
  }
  EXPECT_GT(exits_in_flight_at_flatten, kRuns / 2) << "the runs should mostly have exits in flight";
}

}  // namespace
}  // namespace ta::gate
