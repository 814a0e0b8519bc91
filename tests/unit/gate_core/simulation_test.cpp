// A seeded simulation of the whole core: random intents (some of them junk),
// cancels, retries and halts go through decide() and GateState, accepted
// orders trade on SimVenue over 400 real Coinbase bars, and after every step
// the promises of the hard limits must hold. The seed is printed first; a
// failing seed becomes a regression case.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <random>

#include "gate/core.h"
#include "gate/sim_venue.h"
#include "gate_test_support.h"

namespace ta::gate {
namespace {

using test::D;

struct Sim {
  explicit Sim(unsigned seed) : rng(seed), venue(venue_config(seed), {{"BTC-USD", D("0.00000001"), D("0.01")}}) {}

  static SimVenueConfig venue_config(unsigned seed) {
    SimVenueConfig c;
    c.seed = seed;
    return c;
  }
  static SafetyLimits limits() {
    SafetyLimits s;
    s.products = {ProductLimits{"BTC-USD", D("0.0001"), D("1"), D("0.00000001"), D("0.01")}};
    s.open_orders_max = 4;
    s.order_rate_per_minute_max = 3;
    return s;  // the other limits at their defaults: 10% position, 50% gross, ...
  }

  std::mt19937 rng;
  GateState state{limits(), Ledger(limits().starting_cash, 0)};
  SimVenue venue;
  std::vector<std::pair<ipc::OrderIntent, ipc::Decision>> journal;
  std::vector<std::int64_t> accepted_at;
  int fills = 0;
  int accepted = 0;
  int denied = 0;
  std::map<std::string, int> reasons;

  std::string random_price(Price ref) {
    const std::int64_t cents = static_cast<std::int64_t>(rng() % 40'000) - 20'000;  // +-200 USD
    return Decimal::from_units(ref.units() + cents * 1'000'000).to_string();
  }

  ipc::OrderIntent random_intent(Price ref, int n) {
    ipc::OrderIntent i;
    i.set_intent_id("i-" + std::to_string(rng() % 8 == 0 && n > 1 ? rng() % n : n));  // some retries
    i.set_strategy("sim");
    i.set_product(rng() % 20 == 0 ? "ETH-USD" : "BTC-USD");
    const bool buy = rng() % 2 == 0;
    i.set_side(buy ? ipc::SIDE_BUY : ipc::SIDE_SELL);
    const auto type = rng() % 3;
    i.set_type(type == 0 ? ipc::ORDER_TYPE_MARKET : ipc::ORDER_TYPE_LIMIT);
    i.set_quantity(Decimal::from_units(static_cast<std::int64_t>(5'000 + rng() % 20'000'000)).to_string());
    if (type != 0) i.set_limit_price(random_price(ref));
    i.set_time_in_force(rng() % 5 == 0 ? ipc::TIME_IN_FORCE_IOC : ipc::TIME_IN_FORCE_GTC);
    if (rng() % 4 != 0) {
      const std::int64_t dist = static_cast<std::int64_t>(1 + rng() % 30'000) * 1'000'000;  // up to 300 USD
      i.set_protective_stop_price(Decimal::from_units(ref.units() + (buy ? -dist : dist)).to_string());
    }
    switch (rng() % 25) {  // junk
      case 0:
        i.set_quantity("NaN");
        break;
      case 1:
        i.set_quantity("-1");
        break;
      case 2:
        i.set_limit_price("1e9");
        break;
      case 3:
        i.set_side(ipc::SIDE_UNSPECIFIED);
        break;
      default:
        break;
    }
    return i;
  }

  void apply(const VenueEvent& e) {
    switch (e.kind) {
      case VenueEventKind::kAck:
        ASSERT_TRUE(state.apply_order_event(e.order_id, OrderEvent::kAck, e.ts_ns).ok());
        break;
      case VenueEventKind::kReject:
        ASSERT_TRUE(state.apply_order_event(e.order_id, OrderEvent::kReject, e.ts_ns).ok());
        break;
      case VenueEventKind::kCancelled:
        ASSERT_TRUE(state.apply_order_event(e.order_id, OrderEvent::kCancelAck, e.ts_ns).ok());
        break;
      case VenueEventKind::kExpired:
        ASSERT_TRUE(state.apply_order_event(e.order_id, OrderEvent::kExpire, e.ts_ns).ok());
        break;
      case VenueEventKind::kTriggered:
        ASSERT_TRUE(state.apply_stop_triggered(e.order_id, e.ts_ns).ok());
        break;
      case VenueEventKind::kFill: {
        const Order* o = state.find_live_order(e.order_id);
        ASSERT_NE(o, nullptr);
        ipc::Fill f;
        f.set_fill_id("f-" + std::to_string(++fills));
        f.set_order_id(e.order_id);
        f.set_product(o->product);
        f.set_side(o->side);
        f.set_quantity(e.quantity.to_string());
        f.set_price(e.price.to_string());
        f.set_fee(e.fee.to_string());
        f.set_ts_ns(e.ts_ns);
        const Status s = state.apply_fill(f);
        ASSERT_TRUE(s.ok()) << s.error().message;
        break;
      }
    }
  }

  void check_invariants(std::int64_t now) {
    const Ledger& l = state.ledger();
    // The per-product sums decide() reads equal a count over the orders.
    EXPECT_TRUE(state.order_totals_match_recount());
    EXPECT_LE(state.live_orders().size(), state.limits().open_orders_max);
    EXPECT_FALSE(l.position_quantity("BTC-USD").is_negative()) << "spot: never short";
    EXPECT_FALSE(l.cash().is_negative());
    // Accepted orders in any 60 s window never exceed the rate limit.
    std::size_t in_window = 0;
    for (std::int64_t t : accepted_at) in_window += t > now - kRateWindowNs ? 1 : 0;
    EXPECT_LE(in_window, state.limits().order_rate_per_minute_max);
    // Worst-case exposure from accepted orders stays inside the limits
    // (valued at the current mark; 1% leeway for moves since acceptance).
    Int128 growing = 0;
    for (const auto& [id, o] : state.live_orders()) {
      if (o.grows_exposure) growing += o.remaining().units();
    }
    const Int128 qty = Int128{l.position_quantity("BTC-USD").units()} + growing;
    const Position* p = l.find("BTC-USD");
    if (p != nullptr && l.equity().is_positive()) {
      const Int128 value = qty * p->mark_price.units();
      const Int128 cap = Int128{l.equity().units()} * D("0.101").units();
      EXPECT_LE(value, cap) << "position above 10% of equity";
    }
  }
};

TEST(Simulation, RandomIntentsKeepEveryPromise) {
  const unsigned seed = std::random_device{}();
  std::printf("seed=%u\n", seed);
  Sim sim(seed);
  sim.state.set_ready(true);
  const auto sample = test::sample_bars(400);
  ASSERT_TRUE(sample.ok()) << sample.error().message;
  const std::vector<Bar>& all = *sample;
  ASSERT_EQ(all.size(), 400u);
  int n = 0;
  for (const Bar& b : all) {
    auto events = sim.venue.on_bar(b);
    ASSERT_TRUE(events.ok()) << events.error().message;
    for (const auto& e : *events) {
      sim.apply(e);
      if (::testing::Test::HasFatalFailure()) return;
    }
    const std::int64_t now = sim.venue.now_ns();
    ASSERT_TRUE(sim.state.apply_mark("BTC-USD", b.close, now).ok());
    if (auto change = sim.state.check_loss_limit(now)) {
      EXPECT_TRUE(change->flatten);
    }
    (void)sim.state.tick(now);
    // Now and then an operator halts and resumes.
    if (sim.rng() % 60 == 0) (void)sim.state.apply_halt_event(HaltEvent::kOperatorHalt, now);
    if (sim.rng() % 20 == 0) (void)sim.state.apply_halt_event(HaltEvent::kOperatorResume, now);

    const ReferencePrice ref{"BTC-USD", b.close, now};
    const DecisionContext ctx{now, sim.rng() % 50 != 0, {&ref, 1}};
    const int intents = static_cast<int>(sim.rng() % 4);
    for (int k = 0; k < intents; ++k) {
      const ipc::OrderIntent intent = sim.random_intent(b.close, ++n);
      const ipc::Decision d = decide(sim.state, intent, ctx).decision;
      const std::size_t live_before = sim.state.live_orders().size();
      const Status s = sim.state.record_decision(intent, d);
      ASSERT_TRUE(s.ok()) << s.error().message;
      sim.journal.emplace_back(intent, d);
      if (d.accepted() && !d.replayed()) {
        ++sim.accepted;
        sim.accepted_at.push_back(now);
        ASSERT_EQ(sim.state.live_orders().size(), live_before + 1);
        ASSERT_TRUE(sim.venue.submit(to_sim_order(*sim.state.find_live_order(d.order_id()))).ok());
        ASSERT_TRUE(sim.state.apply_order_event(d.order_id(), OrderEvent::kSubmit, now).ok());
      } else {
        ASSERT_EQ(sim.state.live_orders().size(), live_before) << "a replay or denial created an order";
        if (!d.accepted()) {
          ++sim.denied;
          ++sim.reasons[ipc::DenyReason_Name(d.reason())];
        }
      }
    }
    // Cancel something now and then.
    if (!sim.state.live_orders().empty() && sim.rng() % 10 == 0) {
      const Order& o = sim.state.live_orders().begin()->second;
      ipc::CancelIntent c;
      c.set_cancel_id("c-" + std::to_string(n));
      c.set_intent_id(o.intent_id);
      if (decide_cancel(sim.state, c, ctx).accepted() && sim.venue.cancel(o.order_id).ok()) {
        ASSERT_TRUE(sim.state.apply_order_event(o.order_id, OrderEvent::kCancelRequest, now).ok());
      }
    }
    sim.check_invariants(now);
  }
  std::printf("accepted=%d denied=%d fills=%d\n", sim.accepted, sim.denied, sim.fills);
  for (const auto& [reason, count] : sim.reasons) std::printf("  %s: %d\n", reason.c_str(), count);
  // The random stream reaches the interesting limits, not just one denial.
  EXPECT_GE(sim.reasons.size(), 8u);
  EXPECT_GT(sim.accepted, 5);
  EXPECT_GT(sim.denied, 50);

  // The decision journal replays into the same orders and memory.
  GateState replayed(Sim::limits(), Ledger(Sim::limits().starting_cash, 0));
  for (const auto& [i, d] : sim.journal) ASSERT_TRUE(replayed.record_decision(i, d).ok());
  EXPECT_EQ(replayed.next_order_number(), sim.state.next_order_number());
  EXPECT_EQ(replayed.accepted_times_ns(), sim.state.accepted_times_ns());
}

}  // namespace
}  // namespace ta::gate
