#include "gate/sim_venue.h"

#include <algorithm>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>

#include "gate/core.h"
#include "gate_test_support.h"

namespace ta::gate {
namespace {

using test::D;

constexpr std::int64_t kMinute = 60 * kNanosPerSecond;
constexpr std::int64_t kT0 = 1'522'800'000 * kNanosPerSecond;  // a minute boundary

SimVenueConfig config() {
  SimVenueConfig c;
  c.fee_maker_bps = D("60");
  c.fee_taker_bps = D("120");
  c.default_spread_bps = D("2");
  c.impact_coefficient = D("0.1");
  c.fill_volume_fraction_max = D("0.1");
  return c;
}

std::vector<ProductSpec> products() { return {{"BTC-USD", D("0.00000001"), D("0.01")}}; }

Bar bar(int minute, const char* o, const char* h, const char* l, const char* c, const char* volume = "100",
        const char* bid = "", const char* ask = "") {
  Bar b;
  b.product = "BTC-USD";
  b.open_ts_ns = kT0 + minute * kMinute;
  b.open = D(o);
  b.high = D(h);
  b.low = D(l);
  b.close = D(c);
  b.volume = D(volume);
  if (*bid) b.bid = D(bid);
  if (*ask) b.ask = D(ask);
  return b;
}

SimOrder order(const char* id, ipc::Side side, ipc::OrderType type, const char* qty, const char* limit = "",
               const char* stop = "", ipc::TimeInForce tif = ipc::TIME_IN_FORCE_GTC) {
  SimOrder o;
  o.order_id = id;
  o.product = "BTC-USD";
  o.side = side;
  o.type = type;
  o.time_in_force = tif;
  o.quantity = D(qty);
  if (*limit) o.limit_price = D(limit);
  if (*stop) o.stop_price = D(stop);
  return o;
}

std::vector<VenueEvent> feed(SimVenue& v, const Bar& b) {
  auto r = v.on_bar(b);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : std::vector<VenueEvent>();
}

std::vector<VenueEvent> fills(const std::vector<VenueEvent>& events) {
  std::vector<VenueEvent> out;
  for (const auto& e : events) {
    if (e.kind == VenueEventKind::kFill) out.push_back(e);
  }
  return out;
}

TEST(SimVenue, MarketOrderFillsAtTheNextBarsOpenNeverTheSignalBar) {
  SimVenue v(config(), products());
  // Bar 0 is the signal bar; the order is sent after it closed.
  EXPECT_TRUE(feed(v, bar(0, "9000", "9100", "8900", "9050")).empty());
  EXPECT_EQ(v.now_ns(), kT0 + kMinute);
  ASSERT_TRUE(v.submit(order("o-1", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, "0.1")).ok());
  const auto events = feed(v, bar(1, "10000", "10100", "9900", "10050"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, VenueEventKind::kAck);
  EXPECT_EQ(events[0].ts_ns, kT0 + kMinute);
  ASSERT_EQ(events[1].kind, VenueEventKind::kFill);
  // slip = half-spread 1 bp (default 2 bps) + impact 0.1 x 0.1 / 100 = 0.0002.
  EXPECT_EQ(events[1].price, D("10002"));
  EXPECT_EQ(events[1].quantity, D("0.1"));
  EXPECT_EQ(events[1].liquidity, ipc::LIQUIDITY_TAKER);
  EXPECT_EQ(events[1].fee, D("12.0024"));  // 1000.2 x 1.20%
  EXPECT_EQ(events[1].ts_ns, kT0 + kMinute);
  EXPECT_EQ(v.open_orders(), 0u);
}

TEST(SimVenue, SlippageRoundsAgainstTheTrader) {
  SimVenue v(config(), products());
  ASSERT_TRUE(v.submit(order("b", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, "0.1")).ok());
  ASSERT_TRUE(v.submit(order("s", ipc::SIDE_SELL, ipc::ORDER_TYPE_MARKET, "0.1")).ok());
  const auto f = fills(feed(v, bar(0, "10000.03", "10100", "9900", "10050", "200")));
  ASSERT_EQ(f.size(), 2u);
  // slip = 0.0001 + 0.1 x 0.1 / 200 = 0.00015
  // buy:  10000.03 x 1.00015 = 10001.5304... -> up to 10001.54
  // sell: 10000.03 x 0.99985 = 9998.5299... -> down to 9998.52
  EXPECT_EQ(f[0].price, D("10001.54"));
  EXPECT_EQ(f[1].price, D("9998.52"));
}

TEST(SimVenue, SpreadComesFromTheLatestBidAskBeforeTheBar) {
  SimVenue v(config(), products());
  feed(v, bar(0, "10000", "10000", "10000", "10000", "100", "9995", "10005"));  // half-spread 0.0005
  ASSERT_TRUE(v.submit(order("b", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, "0.1")).ok());
  // This bar's own (wide) bid/ask must not be used for its own fill.
  const auto f = fills(feed(v, bar(1, "10000", "10000", "10000", "10000", "100", "9000", "11000")));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].price, D("10006"));  // slip 0.0005 + 0.0001
}

TEST(SimVenue, LimitRestsUntilTradedThroughAndFillsAtTheLimitAsMaker) {
  SimVenue v(config(), products());
  ASSERT_TRUE(v.submit(order("o", ipc::SIDE_BUY, ipc::ORDER_TYPE_LIMIT, "0.05", "9950")).ok());
  auto e = feed(v, bar(0, "10000", "10010", "9950", "9990"));  // touches, does not trade through
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, VenueEventKind::kAck);
  e = feed(v, bar(1, "9990", "9995", "9949.99", "9960"));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, VenueEventKind::kFill);
  EXPECT_EQ(e[0].price, D("9950"));
  EXPECT_EQ(e[0].liquidity, ipc::LIQUIDITY_MAKER);
  EXPECT_EQ(e[0].fee, D("2.985"));  // 497.5 x 0.60%
  EXPECT_EQ(e[0].ts_ns, kT0 + 2 * kMinute);
}

TEST(SimVenue, MarketableLimitFillsAtOnceButNeverWorseThanTheLimit) {
  SimVenue v(config(), products());
  ASSERT_TRUE(v.submit(order("a", ipc::SIDE_BUY, ipc::ORDER_TYPE_LIMIT, "0.1", "10001")).ok());
  ASSERT_TRUE(v.submit(order("b", ipc::SIDE_BUY, ipc::ORDER_TYPE_LIMIT, "0.1", "10010")).ok());
  const auto f = fills(feed(v, bar(0, "10000", "10020", "9990", "10000", "1000")));
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].price, D("10001"));  // slipped 10001.1 capped at the limit
  EXPECT_EQ(f[1].price, D("10001.1"));
  EXPECT_EQ(f[0].liquidity, ipc::LIQUIDITY_TAKER);
}

TEST(SimVenue, VolumeCapIsSharedAndPartialFillsContinue) {
  SimVenue v(config(), products());
  // Cap 10% of 1 = 0.1 per bar.
  ASSERT_TRUE(v.submit(order("a", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, "0.25")).ok());
  auto f = fills(feed(v, bar(0, "100", "100", "100", "100", "1")));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].quantity, D("0.1"));
  ASSERT_TRUE(v.submit(order("b", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, "0.08")).ok());
  f = fills(feed(v, bar(1, "100", "100", "100", "100", "1")));
  ASSERT_EQ(f.size(), 1u);  // "a" takes the whole cap first; "b" arrived for bar 2
  EXPECT_EQ(f[0].order_id, "a");
  f = fills(feed(v, bar(2, "100", "100", "100", "100", "1")));
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].quantity, D("0.05"));  // "a" completes
  EXPECT_EQ(f[1].quantity, D("0.05"));  // "b" gets the rest of the cap
  f = fills(feed(v, bar(3, "100", "100", "100", "100", "1")));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].quantity, D("0.03"));
  EXPECT_EQ(v.open_orders(), 0u);
}

// Bar 2 fills the last 0.05 of "a" and then 0.05 of "b" (the cap is 0.1).
// A restart kept "a"'s fill but lost "b"'s and bar 2 itself, so "a" is
// done and "b" is handed back whole. The rebuilt venue, told of the 0.05
// already filled on bar 2, works bar 2 again with the 0.05 of cap that was
// left: "b" gets exactly the fill it got the first time.
TEST(SimVenue, RestoredFillsOfABarLeaveItOnlyTheRestOfItsCap) {
  SimVenue first(config(), products());
  ASSERT_TRUE(first.submit(order("a", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, "0.25")).ok());
  feed(first, bar(0, "100", "100", "100", "100", "1"));
  ASSERT_TRUE(first.submit(order("b", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, "0.08")).ok());
  feed(first, bar(1, "100", "100", "100", "100", "1"));
  const auto original = fills(feed(first, bar(2, "100", "100", "100", "100", "1")));
  ASSERT_EQ(original.size(), 2u);

  // Rebuilt: bars up to 1 seen; "a" completed on bar 2 (its fill was
  // kept), "b" handed back whole (its fill was lost).
  SimVenue v(config(), products());
  ASSERT_TRUE(v.restore(bar(1, "100", "100", "100", "100", "1")).ok());
  ASSERT_TRUE(v.submit_at(order("b", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, "0.08"), kT0 + kMinute).ok());
  ASSERT_TRUE(v.restore_filled("BTC-USD", kT0 + 2 * kMinute, D("0.05")).ok());
  const auto again = fills(feed(v, bar(2, "100", "100", "100", "100", "1")));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].order_id, "b");
  EXPECT_EQ(again[0].quantity, original[1].quantity);
  EXPECT_EQ(again[0].price, original[1].price);
  EXPECT_EQ(again[0].fee, original[1].fee);

  // Without the restored fill "b" would take more of bar 2 than it did.
  SimVenue unaware(config(), products());
  ASSERT_TRUE(unaware.restore(bar(1, "100", "100", "100", "100", "1")).ok());
  ASSERT_TRUE(unaware.submit_at(order("b", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, "0.08"), kT0 + kMinute).ok());
  EXPECT_EQ(fills(feed(unaware, bar(2, "100", "100", "100", "100", "1")))[0].quantity, D("0.08"));
}

TEST(SimVenue, RestoredFillsEdges) {
  SimVenue v(config(), products());
  ASSERT_TRUE(v.restore(bar(1, "100", "100", "100", "100", "1")).ok());
  // Only bars not seen yet, known products, quantities >= 0.
  EXPECT_FALSE(v.restore_filled("BTC-USD", kT0 + kMinute, D("0.01")).ok());
  EXPECT_FALSE(v.restore_filled("ETH-USD", kT0 + 2 * kMinute, D("0.01")).ok());
  EXPECT_FALSE(v.restore_filled("BTC-USD", kT0 + 2 * kMinute, D("-0.01")).ok());
  // More than the cap: the bar fills nothing. Two entries for one bar add up.
  ASSERT_TRUE(v.restore_filled("BTC-USD", kT0 + 2 * kMinute, D("0.07")).ok());
  ASSERT_TRUE(v.restore_filled("BTC-USD", kT0 + 2 * kMinute, D("0.07")).ok());
  // A bar that never comes (3) is forgotten once a later one (4) is seen.
  ASSERT_TRUE(v.restore_filled("BTC-USD", kT0 + 3 * kMinute, D("0.1")).ok());
  ASSERT_TRUE(v.submit_at(order("a", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, "1"), kT0 + kMinute).ok());
  EXPECT_TRUE(fills(feed(v, bar(2, "100", "100", "100", "100", "1"))).empty());
  const auto f = fills(feed(v, bar(4, "100", "100", "100", "100", "1")));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].quantity, D("0.1")) << "bar 3's entry must not reduce bar 4's cap";
}

TEST(SimVenue, VolumeCapEdges) {
  for (const auto& [qty, first_fill] :
       {std::pair{"0.1", "0.1"}, std::pair{"0.09999999", "0.09999999"}, std::pair{"0.10000001", "0.1"}}) {
    SimVenue v(config(), products());
    ASSERT_TRUE(v.submit(order("a", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, qty)).ok());
    const auto f = fills(feed(v, bar(0, "100", "100", "100", "100", "1")));
    ASSERT_EQ(f.size(), 1u) << qty;
    EXPECT_EQ(f[0].quantity, D(first_fill)) << qty;
    EXPECT_EQ(v.open_orders(), std::string(qty) == "0.10000001" ? 1u : 0u) << qty;
  }
  // The cap rounds down to the base increment.
  SimVenue v(config(), products());
  ASSERT_TRUE(v.submit(order("a", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, "1")).ok());
  const auto f = fills(feed(v, bar(0, "100", "100", "100", "100", "0.00000019")));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].quantity, D("0.00000001"));
}

TEST(SimVenue, ImmediateOrdersDoNotRest) {
  SimVenue v(config(), products());
  ASSERT_TRUE(v.submit(order("ioc", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, "0.25", "", "", ipc::TIME_IN_FORCE_IOC)).ok());
  ASSERT_TRUE(v.submit(order("fok", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, "0.25", "", "", ipc::TIME_IN_FORCE_FOK)).ok());
  ASSERT_TRUE(
      v.submit(order("lim", ipc::SIDE_BUY, ipc::ORDER_TYPE_LIMIT, "0.01", "90", "", ipc::TIME_IN_FORCE_IOC)).ok());
  const auto e = feed(v, bar(0, "100", "100", "80", "100", "1"));
  std::vector<std::string> seen;
  for (const auto& x : e) seen.push_back(x.order_id + ":" + std::string(to_string(x.kind)));
  EXPECT_EQ(seen, (std::vector<std::string>{"ioc:ack", "fok:ack", "lim:ack", "ioc:fill", "ioc:cancelled",
                                            "fok:cancelled", "lim:cancelled"}));
  EXPECT_EQ(v.open_orders(), 0u);
}

TEST(SimVenue, StopLimitTriggersThenBehavesAsLimit) {
  SimVenue v(config(), products());
  ASSERT_TRUE(v.submit(order("s", ipc::SIDE_BUY, ipc::ORDER_TYPE_STOP_LIMIT, "0.01", "10060", "10050")).ok());
  EXPECT_TRUE(fills(feed(v, bar(0, "10000", "10040", "9990", "10030"))).empty());  // stop not reached
  const auto triggered = feed(v, bar(1, "10030", "10055", "10020", "10050"));  // triggered inside the bar
  EXPECT_TRUE(fills(triggered).empty());
  // Said once, with the time it acts as a limit from: the bar's end.
  ASSERT_EQ(triggered.size(), 1u);
  EXPECT_EQ(triggered[0].kind, VenueEventKind::kTriggered);
  EXPECT_EQ(triggered[0].ts_ns, bar(2, "1", "1", "1", "1").open_ts_ns);
  // Next bar: acts as a limit at 10060; opens below it, so marketable at the open.
  const auto f = fills(feed(v, bar(2, "10052", "10070", "10040", "10065")));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].liquidity, ipc::LIQUIDITY_TAKER);
  // slip = 0.0001 + 0.1 x 0.01 / 100 = 0.00011; 10052 x 1.00011 = 10053.10572 -> up
  EXPECT_EQ(f[0].price, D("10053.11"));

  // Triggered at the open of a bar: a limit in that same bar.
  SimVenue w(config(), products());
  ASSERT_TRUE(w.submit(order("s", ipc::SIDE_SELL, ipc::ORDER_TYPE_STOP_LIMIT, "0.01", "9940", "9950")).ok());
  const auto at_open = feed(w, bar(0, "9945", "9948", "9930", "9935"));
  const auto g = fills(at_open);
  ASSERT_EQ(g.size(), 1u);
  const auto trigger = std::find_if(at_open.begin(), at_open.end(),
                                    [](const VenueEvent& e) { return e.kind == VenueEventKind::kTriggered; });
  ASSERT_NE(trigger, at_open.end());
  EXPECT_EQ(trigger->ts_ns, bar(0, "1", "1", "1", "1").open_ts_ns);
  EXPECT_EQ(g[0].price, D("9943.9"));  // 9945 x 0.99989 = 9943.90605 -> down
}

TEST(SimVenue, CancelsAndExpiriesComeBeforeFills) {
  SimVenue v(config(), products());
  ASSERT_TRUE(v.submit(order("a", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, "0.01")).ok());
  ASSERT_TRUE(v.cancel("a").ok());
  ASSERT_TRUE(v.cancel("a").ok());  // a repeated cancel changes nothing
  auto e = feed(v, bar(0, "100", "100", "100", "100"));
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[1].kind, VenueEventKind::kCancelled);
  EXPECT_TRUE(fills(e).empty());
  EXPECT_FALSE(v.cancel("a").ok());      // no longer held
  EXPECT_FALSE(v.cancel("never").ok());

  SimOrder gtd = order("g", ipc::SIDE_BUY, ipc::ORDER_TYPE_LIMIT, "0.01", "50", "", ipc::TIME_IN_FORCE_GTD);
  gtd.expire_ts_ns = kT0 + 3 * kMinute;
  ASSERT_TRUE(v.submit(gtd).ok());
  EXPECT_EQ(feed(v, bar(1, "100", "100", "100", "100")).size(), 1u);  // ack
  EXPECT_TRUE(feed(v, bar(2, "100", "100", "100", "100")).empty());    // one ns before expiry: still resting
  e = feed(v, bar(3, "40", "40", "40", "40"));                          // at expiry: expires before it could fill
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, VenueEventKind::kExpired);
}

TEST(SimVenue, AckLatencyInMarketTime) {
  SimVenueConfig c = config();
  c.ack_latency_ms = 30'000;
  SimVenue v(c, products());
  feed(v, bar(0, "100", "100", "100", "100"));
  ASSERT_TRUE(v.submit(order("a", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, "0.01")).ok());
  auto e = feed(v, bar(1, "100", "100", "100", "100"));  // arrives inside bar 1
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, VenueEventKind::kAck);
  EXPECT_EQ(e[0].ts_ns, kT0 + kMinute + 30 * kNanosPerSecond);
  e = feed(v, bar(2, "101", "101", "101", "101"));  // first bar opening after arrival
  ASSERT_EQ(fills(e).size(), 1u);
  EXPECT_EQ(fills(e)[0].ts_ns, kT0 + 2 * kMinute);
}

TEST(SimVenue, RejectsInvalidOrdersAtArrival) {
  SimVenue v(config(), products());
  SimOrder unknown = order("u", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, "0.01");
  unknown.product = "DOGE-USD";
  ASSERT_TRUE(v.submit(unknown).ok());
  ASSERT_TRUE(v.submit(order("q", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, "0")).ok());
  ASSERT_TRUE(v.submit(order("p", ipc::SIDE_BUY, ipc::ORDER_TYPE_LIMIT, "0.01", "100.001")).ok());
  ASSERT_TRUE(v.submit(order("s", ipc::SIDE_BUY, ipc::ORDER_TYPE_STOP_LIMIT, "0.01", "100", "")).ok());
  EXPECT_FALSE(v.submit(order("q", ipc::SIDE_BUY, ipc::ORDER_TYPE_MARKET, "0.01")).ok());  // duplicate id
  const auto e = feed(v, bar(0, "100", "100", "100", "100"));
  // "u" waits for a DOGE-USD bar; the others are rejected on this one.
  ASSERT_EQ(e.size(), 3u);
  for (const auto& x : e) EXPECT_EQ(x.kind, VenueEventKind::kReject) << x.order_id;
  EXPECT_EQ(v.open_orders(), 1u);
}

TEST(SimVenue, RefusesBadBarStreams) {
  SimVenue v(config(), products());
  feed(v, bar(5, "100", "100", "100", "100"));
  EXPECT_FALSE(v.on_bar(bar(5, "100", "100", "100", "100")).ok());
  EXPECT_FALSE(v.on_bar(bar(4, "100", "100", "100", "100")).ok());
  Bar other = bar(6, "1", "1", "1", "1");
  other.product = "ETH-USD";
  EXPECT_FALSE(v.on_bar(other).ok());
}

TEST(SimVenue, ParseBar) {
  ipc::Bar b;
  b.set_product("BTC-USD");
  b.set_open_ts_s(1'522'800'000);
  b.set_open("7424.91");
  b.set_high("7424.91");
  b.set_low("7422");
  b.set_close("7422");
  b.set_volume("7.14319709");
  auto r = parse_bar(b);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->open_ts_ns, kT0);
  EXPECT_EQ(r->volume, D("7.14319709"));
  EXPECT_TRUE(r->bid.is_zero());
  const std::vector<std::function<void(ipc::Bar&)>> bad = {
      [](auto& x) { x.set_open("abc"); },       [](auto& x) { x.set_high("7424.90"); },
      [](auto& x) { x.set_low("7425"); },       [](auto& x) { x.set_low("0"); },
      [](auto& x) { x.set_volume("-1"); },      [](auto& x) { x.set_bid("7422"); },
      [](auto& x) {
        x.set_bid("7423");
        x.set_ask("7422");
      },
      [](auto& x) { x.set_product(""); },       [](auto& x) { x.set_open_ts_s(-1); },
      [](auto& x) { x.set_close(""); },
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    ipc::Bar x = b;
    bad[i](x);
    EXPECT_FALSE(parse_bar(x).ok()) << i;
  }
}

// A seeded random order stream over real bars: the same seed gives the same
// events, and every fill obeys the model's bounds.
TEST(SimVenue, DeterministicOnRealBarsAndFillsStayInBounds) {
  const unsigned seed = std::random_device{}();
  std::printf("seed=%u\n", seed);
  const auto sample = test::sample_bars(400);
  ASSERT_TRUE(sample.ok()) << sample.error().message;
  const std::vector<Bar>& bars = *sample;
  ASSERT_EQ(bars.size(), 400u);
  SimVenueConfig c = config();
  c.seed = seed;
  c.ack_latency_jitter_ms = 90'000;  // up to 1.5 bars
  const auto run = [&]() {
    SimVenue v(c, products());
    std::mt19937 rng(seed);
    std::vector<VenueEvent> all;
    std::map<std::string, std::pair<std::int64_t, SimOrder>> sent;  // submit time, order
    int n = 0;
    for (const Bar& b : bars) {
      auto events = feed(v, b);
      for (const auto& e : events) {
        if (e.kind == VenueEventKind::kFill) {
          const auto& [t, o] = sent.at(e.order_id);
          // Never a fill on a bar that opened before the order was sent.
          EXPECT_GE(b.open_ts_ns, t) << e.order_id;
          if (e.liquidity == ipc::LIQUIDITY_MAKER) {
            EXPECT_EQ(e.price, o.limit_price);
            EXPECT_TRUE(o.side == ipc::SIDE_BUY ? b.low < e.price : b.high > e.price);
          } else {
            EXPECT_TRUE(o.side == ipc::SIDE_BUY ? e.price >= b.open : e.price <= b.open);
          }
          if (!o.limit_price.is_zero()) {
            EXPECT_TRUE(o.side == ipc::SIDE_BUY ? e.price <= o.limit_price : e.price >= o.limit_price);
          }
        }
        all.push_back(e);
      }
      if (rng() % 3 == 0) {
        const std::string id = "o-" + std::to_string(++n);
        const ipc::Side side = rng() % 2 ? ipc::SIDE_BUY : ipc::SIDE_SELL;
        const auto kind = rng() % 3;
        const std::int64_t offset_cents = static_cast<std::int64_t>(rng() % 2000) - 1000;
        const Price limit = Decimal::from_units(b.close.units() + offset_cents * 1'000'000);
        SimOrder o;
        o.order_id = id;
        o.product = "BTC-USD";
        o.side = side;
        o.type = kind == 0 ? ipc::ORDER_TYPE_MARKET : kind == 1 ? ipc::ORDER_TYPE_LIMIT : ipc::ORDER_TYPE_STOP_LIMIT;
        o.time_in_force = rng() % 4 == 0 ? ipc::TIME_IN_FORCE_IOC : ipc::TIME_IN_FORCE_GTC;
        o.quantity = Decimal::from_units(1'000'000 + static_cast<std::int64_t>(rng() % 100'000'000));
        if (kind != 0) o.limit_price = limit;
        if (kind == 2) o.stop_price = limit;
        EXPECT_TRUE(v.submit(o).ok());
        sent[id] = {v.now_ns(), o};
        if (rng() % 5 == 0) (void)v.cancel("o-" + std::to_string(1 + rng() % n));
      }
    }
    // Per order: fills never exceed the quantity; at most one final event.
    std::map<std::string, std::pair<Int128, int>> totals;
    for (const auto& e : all) {
      if (e.kind == VenueEventKind::kFill) totals[e.order_id].first += e.quantity.units();
      if (e.kind == VenueEventKind::kCancelled || e.kind == VenueEventKind::kExpired ||
          e.kind == VenueEventKind::kReject) {
        ++totals[e.order_id].second;
      }
    }
    for (const auto& [id, t] : totals) {
      EXPECT_LE(t.first, Int128{sent.at(id).second.quantity.units()}) << id;
      EXPECT_LE(t.second, 1) << id;
    }
    return all;
  };
  const auto a = run();
  const auto b = run();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].order_id, b[i].order_id);
    EXPECT_EQ(a[i].kind, b[i].kind);
    EXPECT_EQ(a[i].ts_ns, b[i].ts_ns);
    EXPECT_EQ(a[i].price, b[i].price);
    EXPECT_EQ(a[i].quantity, b[i].quantity);
    EXPECT_EQ(a[i].fee, b[i].fee);
  }
  EXPECT_GT(fills(a).size(), 10u);
}

// A gate restart rebuilds SimVenue: restore() with the bars it had seen,
// then submit_at() with every open order's remaining quantity and first
// submit time, in submission order. From the cut on, the rebuilt venue
// gives the same fills, cancels and expiries as the one that never stopped
// (acks of handed-back orders aside: the gate swallows them). The stream
// has jitter up to 1.5 bars, bid/ask on some bars (the spread) and partial
// fills, and stop-limit orders: one whose stop was reached before the cut
// (its kTriggered event, journaled by the gate) comes back with
// SimOrder::stop_limit_from_ns. No cancels (their rebuild is tested in
// gate_daemon_test).
TEST(SimVenue, ARebuiltVenueContinuesAsTheOneThatNeverStopped) {
  const char* replay = std::getenv("TA_TEST_SEED");
  const unsigned seed = replay != nullptr ? static_cast<unsigned>(std::strtoul(replay, nullptr, 10))
                                          : std::random_device{}();
  std::printf("seed=%u\n", seed);
  const auto sample = test::sample_bars(400);
  ASSERT_TRUE(sample.ok()) << sample.error().message;
  std::vector<Bar> bars = *sample;
  std::mt19937 rng(seed);
  for (Bar& b : bars) {
    if (rng() % 3 != 0) continue;
    const std::int64_t half_cents = 1 + static_cast<std::int64_t>(rng() % 300);
    b.bid = Decimal::from_units(b.close.units() - half_cents * 1'000'000);
    b.ask = Decimal::from_units(b.close.units() + half_cents * 1'000'000);
  }
  SimVenueConfig c = config();
  c.seed = seed;
  c.ack_latency_ms = 10'000;
  c.ack_latency_jitter_ms = 80'000;
  const std::size_t cut = 50 + rng() % 300;
  std::printf("cut=%zu\n", cut);

  // The orders, drawn once: bar index -> order.
  std::multimap<std::size_t, SimOrder> plan;
  int n = 0;
  for (std::size_t i = 0; i < bars.size(); ++i) {
    if (rng() % 3 != 0) continue;
    SimOrder o;
    o.order_id = "o-" + std::to_string(++n);
    o.product = "BTC-USD";
    o.side = rng() % 2 ? ipc::SIDE_BUY : ipc::SIDE_SELL;
    const unsigned kind = rng() % 3;
    o.type = kind == 0 ? ipc::ORDER_TYPE_MARKET : kind == 1 ? ipc::ORDER_TYPE_LIMIT : ipc::ORDER_TYPE_STOP_LIMIT;
    o.time_in_force = rng() % 4 == 0 ? ipc::TIME_IN_FORCE_IOC : ipc::TIME_IN_FORCE_GTC;
    // Up to several bars' fill cap (10% of volume), so some fill in parts.
    o.quantity = Decimal::from_units(1'000'000 + static_cast<std::int64_t>(rng() % 2'000'000'000));
    if (o.type != ipc::ORDER_TYPE_MARKET) {
      const std::int64_t offset_cents = static_cast<std::int64_t>(rng() % 2000) - 1000;
      o.limit_price = Decimal::from_units(bars[i].close.units() + offset_cents * 1'000'000);
    }
    if (o.type == ipc::ORDER_TYPE_STOP_LIMIT) {
      // A stop up to $15 away on the side it waits for: reached within a
      // few bars, or not at all.
      const std::int64_t away_cents = static_cast<std::int64_t>(rng() % 1500);
      const bool buy = o.side == ipc::SIDE_BUY;
      o.stop_price = Decimal::from_units(bars[i].close.units() + (buy ? away_cents : -away_cents) * 1'000'000);
    }
    plan.emplace(i, o);
  }

  struct Sent {
    SimOrder order;
    std::int64_t submitted_ns = 0;
    Int128 filled = 0;
    bool done = false;
    std::int64_t limit_from_ns = -1;  // kTriggered
  };
  std::vector<Sent> sent;  // submission order
  std::map<std::string, std::size_t> index;
  std::size_t triggered_before_cut = 0;
  std::size_t triggered_handed_back = 0;
  const auto note = [&](const VenueEvent& e) {
    Sent& s = sent[index.at(e.order_id)];
    if (e.kind == VenueEventKind::kFill) {
      s.filled += e.quantity.units();
      if (s.filled == Int128{s.order.quantity.units()}) s.done = true;
    } else if (e.kind == VenueEventKind::kTriggered) {
      s.limit_from_ns = e.ts_ns;
      ++triggered_before_cut;
    } else if (e.kind != VenueEventKind::kAck) {
      s.done = true;
    }
  };
  const auto comparable = [](const std::vector<VenueEvent>& in) {
    std::vector<VenueEvent> out;
    for (const auto& e : in) {
      if (e.kind != VenueEventKind::kAck) out.push_back(e);
    }
    return out;
  };

  SimVenue a(c, products());
  std::optional<SimVenue> b;
  std::size_t handed_back = 0;
  std::size_t compared = 0;
  for (std::size_t i = 0; i < bars.size(); ++i) {
    if (i == cut) {
      b.emplace(c, products());
      for (std::size_t k = 0; k < cut; ++k) ASSERT_TRUE(b->restore(bars[k]).ok());
      ASSERT_EQ(b->now_ns(), a.now_ns());
      for (const Sent& s : sent) {
        if (s.done) continue;
        SimOrder rest = s.order;
        rest.quantity = Decimal::from_units(static_cast<std::int64_t>(Int128{s.order.quantity.units()} - s.filled));
        rest.stop_limit_from_ns = s.limit_from_ns;
        if (s.limit_from_ns >= 0) ++triggered_handed_back;
        ASSERT_TRUE(b->submit_at(rest, s.submitted_ns).ok());
        ++handed_back;
      }
    }
    const auto ea = feed(a, bars[i]);
    if (!b) {
      for (const auto& e : ea) note(e);
    }
    if (b) {
      const auto want = comparable(ea);
      const auto got = comparable(feed(*b, bars[i]));
      ASSERT_EQ(got.size(), want.size()) << "bar " << i;
      for (std::size_t k = 0; k < want.size(); ++k) {
        EXPECT_EQ(got[k].order_id, want[k].order_id) << "bar " << i;
        EXPECT_EQ(got[k].kind, want[k].kind) << "bar " << i << " " << want[k].order_id;
        EXPECT_EQ(got[k].ts_ns, want[k].ts_ns) << "bar " << i << " " << want[k].order_id;
        EXPECT_EQ(got[k].price, want[k].price) << "bar " << i << " " << want[k].order_id;
        EXPECT_EQ(got[k].quantity, want[k].quantity) << "bar " << i << " " << want[k].order_id;
        EXPECT_EQ(got[k].fee, want[k].fee) << "bar " << i << " " << want[k].order_id;
      }
      compared += want.size();
    }
    for (auto [it, end] = plan.equal_range(i); it != end; ++it) {
      index[it->second.order_id] = sent.size();
      sent.push_back(Sent{it->second, a.now_ns()});
      ASSERT_TRUE(a.submit(it->second).ok());
      if (b) {
        ASSERT_TRUE(b->submit(it->second).ok());
      }
    }
  }
  std::printf("handed back %zu orders (%zu of them stop-limits already triggered; %zu triggers before the cut), "
              "compared %zu events after the cut\n",
              handed_back, triggered_handed_back, triggered_before_cut, compared);
  EXPECT_GT(compared, 0u);
}

// BTC-USD only, with a fee reserve: the limits of the GateState tests below.
SafetyLimits btc_limits() {
  SafetyLimits limits;
  limits.products = {ProductLimits{"BTC-USD", D("0.0001"), D("1"), D("0.00000001"), D("0.01")}};
  limits.fee_reserve_bps = D("120");
  return limits;
}

// The pieces together: decide -> record -> submit -> venue events -> state.
TEST(SimVenue, DrivesTheGateStateThroughAnOrdersLife) {
  const SafetyLimits limits = btc_limits();
  GateState state(limits, Ledger(limits.starting_cash, kT0));
  state.set_ready(true);
  SimVenue venue(config(), products());
  const Bar signal = bar(0, "10000", "10010", "9990", "10000");
  ASSERT_TRUE(venue.on_bar(signal).ok());
  ASSERT_TRUE(state.apply_mark("BTC-USD", signal.close, venue.now_ns()).ok());

  ipc::OrderIntent intent;
  intent.set_intent_id("i-1");
  intent.set_strategy("demo");
  intent.set_product("BTC-USD");
  intent.set_side(ipc::SIDE_BUY);
  intent.set_type(ipc::ORDER_TYPE_MARKET);
  intent.set_quantity("0.05");
  intent.set_time_in_force(ipc::TIME_IN_FORCE_GTC);
  intent.set_protective_stop_price("9900");
  const ReferencePrice ref{"BTC-USD", signal.close, venue.now_ns()};
  const ipc::Decision d = decide(state, intent, DecisionContext{venue.now_ns(), true, {&ref, 1}}).decision;
  ASSERT_TRUE(d.accepted()) << d.detail();
  ASSERT_TRUE(state.record_decision(intent, d).ok());
  ASSERT_TRUE(venue.submit(to_sim_order(*state.find_live_order(d.order_id()))).ok());
  ASSERT_TRUE(state.apply_order_event(d.order_id(), OrderEvent::kSubmit, venue.now_ns()).ok());

  int n = 0;
  for (const auto& e : feed(venue, bar(1, "10010", "10020", "10000", "10015"))) {
    switch (e.kind) {
      case VenueEventKind::kAck:
        ASSERT_TRUE(state.apply_order_event(e.order_id, OrderEvent::kAck, e.ts_ns).ok());
        break;
      case VenueEventKind::kFill: {
        ipc::Fill f;
        f.set_fill_id("f-" + std::to_string(++n));
        f.set_order_id(e.order_id);
        f.set_product("BTC-USD");
        f.set_side(ipc::SIDE_BUY);
        f.set_quantity(e.quantity.to_string());
        f.set_price(e.price.to_string());
        f.set_fee(e.fee.to_string());
        f.set_ts_ns(e.ts_ns);
        ASSERT_TRUE(state.apply_fill(f).ok());
        break;
      }
      case VenueEventKind::kReject:
      case VenueEventKind::kCancelled:
      case VenueEventKind::kExpired:
      case VenueEventKind::kTriggered:
        FAIL() << "unexpected " << to_string(e.kind);
    }
  }
  EXPECT_TRUE(state.live_orders().empty());
  ASSERT_EQ(state.closed_orders().size(), 1u);
  EXPECT_EQ(state.closed_orders()[0].state, OrderState::kFilled);
  EXPECT_EQ(state.ledger().position_quantity("BTC-USD"), D("0.05"));
  // 10010 x 1.00015 (half-spread 0.0001 + impact 0.1 x 0.05/100) = 10011.5015 -> 10011.51
  EXPECT_EQ(state.closed_orders()[0].average_fill_price(), D("10011.51"));
}

}  // namespace
}  // namespace ta::gate

namespace ta::gate {
namespace {

// GateState keeps a venue's stop trigger on the order (for the journal's
// replay and the rebuilt venue) and refuses one that cannot be right.
TEST(SimVenue, GateStateKeepsAStopTriggerAndRefusesImpossibleOnes) {
  const SafetyLimits limits = btc_limits();
  GateState state(limits, Ledger(limits.starting_cash, kT0));
  state.set_ready(true);
  const Bar signal = bar(0, "10000", "10010", "9990", "10000");
  ASSERT_TRUE(state.apply_mark("BTC-USD", signal.close, signal.open_ts_ns + 60'000'000'000LL).ok());
  const std::int64_t now = signal.open_ts_ns + 60'000'000'000LL;
  const ReferencePrice ref{"BTC-USD", signal.close, now};
  const auto accept = [&](const char* id, ipc::OrderType type) {
    ipc::OrderIntent in;
    in.set_intent_id(id);
    in.set_strategy("demo");
    in.set_product("BTC-USD");
    in.set_side(ipc::SIDE_BUY);
    in.set_type(type);
    in.set_quantity("0.01");
    in.set_limit_price("10020");
    if (type == ipc::ORDER_TYPE_STOP_LIMIT) in.set_stop_price("10015");
    in.set_time_in_force(ipc::TIME_IN_FORCE_GTC);
    in.set_protective_stop_price("9900");
    const ipc::Decision d = decide(state, in, DecisionContext{now, true, {&ref, 1}}).decision;
    EXPECT_TRUE(d.accepted()) << d.detail();
    EXPECT_TRUE(state.record_decision(in, d).ok());
    return d.order_id();
  };
  const std::string stop_limit = accept("i-stop", ipc::ORDER_TYPE_STOP_LIMIT);
  const std::string limit = accept("i-limit", ipc::ORDER_TYPE_LIMIT);
  EXPECT_EQ(state.find_live_order(stop_limit)->stop_limit_from_ns, -1);
  EXPECT_EQ(to_sim_order(*state.find_live_order(stop_limit)).stop_limit_from_ns, -1);

  EXPECT_FALSE(state.apply_stop_triggered(limit, now).ok());  // not a stop-limit
  EXPECT_FALSE(state.apply_stop_triggered("o-404", now).ok());
  EXPECT_FALSE(state.apply_stop_triggered(stop_limit, -5).ok());
  ASSERT_TRUE(state.apply_stop_triggered(stop_limit, now).ok());
  EXPECT_EQ(state.find_live_order(stop_limit)->stop_limit_from_ns, now);
  EXPECT_EQ(to_sim_order(*state.find_live_order(stop_limit)).stop_limit_from_ns, now);
  EXPECT_FALSE(state.apply_stop_triggered(stop_limit, now + 1).ok());  // twice
  EXPECT_EQ(state.find_live_order(stop_limit)->stop_limit_from_ns, now);
}

}  // namespace
}  // namespace ta::gate
