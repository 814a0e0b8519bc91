#include "gate/ledger.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>

namespace ta::gate {
namespace {

Decimal D(const char* text) { return Decimal::parse(text).value(); }

constexpr std::int64_t kDay0 = 20'000 * kNanosPerDay;  // some UTC midnight

LedgerFill fill(const char* product, ipc::Side side, const char* qty, const char* price, const char* fee,
                std::int64_t ts = kDay0 + 1) {
  return LedgerFill{product, side, D(qty), D(price), D(fee), ts};
}

TEST(Ledger, RoundTripLongTrade) {
  Ledger l(D("10000"), kDay0);
  ASSERT_TRUE(l.apply_fill(fill("BTC-USD", ipc::SIDE_BUY, "1", "100", "0.1")).ok());
  EXPECT_EQ(l.cash(), D("9899.9"));
  EXPECT_EQ(l.equity(), D("9999.9"));  // marked at the fill price
  ASSERT_TRUE(l.apply_mark("BTC-USD", D("110"), kDay0 + 2).ok());
  EXPECT_EQ(l.unrealized_pnl(), D("10"));
  EXPECT_EQ(l.equity(), D("10009.9"));
  EXPECT_EQ(l.gross_exposure(), D("110"));
  ASSERT_TRUE(l.apply_fill(fill("BTC-USD", ipc::SIDE_SELL, "1", "120", "0.12", kDay0 + 3)).ok());
  EXPECT_EQ(l.realized_pnl(), D("20"));
  EXPECT_EQ(l.fees_paid(), D("0.22"));
  EXPECT_EQ(l.cash(), D("10019.78"));
  EXPECT_EQ(l.equity(), D("10019.78"));
  EXPECT_EQ(l.position_quantity("BTC-USD"), D("0"));
  EXPECT_EQ(l.find("BTC-USD")->cost_basis, D("0"));
  EXPECT_EQ(l.peak_equity(), D("10019.78"));
  EXPECT_EQ(l.daily_pnl(), D("19.78"));
}

TEST(Ledger, AverageCostAndPartialClose) {
  Ledger l(D("10000"), kDay0);
  ASSERT_TRUE(l.apply_fill(fill("ETH-USD", ipc::SIDE_BUY, "2", "100", "0")).ok());
  ASSERT_TRUE(l.apply_fill(fill("ETH-USD", ipc::SIDE_BUY, "1", "103", "0")).ok());
  const Position* p = l.find("ETH-USD");
  EXPECT_EQ(p->cost_basis, D("303"));
  EXPECT_EQ(p->average_cost(), D("101"));
  ASSERT_TRUE(l.apply_fill(fill("ETH-USD", ipc::SIDE_SELL, "1.5", "110", "0")).ok());
  p = l.find("ETH-USD");
  EXPECT_EQ(p->quantity, D("1.5"));
  EXPECT_EQ(p->cost_basis, D("151.5"));
  EXPECT_EQ(p->realized_pnl, D("13.5"));
  EXPECT_EQ(p->average_cost(), D("101"));
}

TEST(Ledger, FlipAndShortCover) {
  Ledger l(D("10000"), kDay0);
  ASSERT_TRUE(l.apply_fill(fill("BTC-USD", ipc::SIDE_BUY, "1", "100", "0")).ok());
  ASSERT_TRUE(l.apply_fill(fill("BTC-USD", ipc::SIDE_SELL, "3", "90", "0")).ok());
  const Position* p = l.find("BTC-USD");
  EXPECT_EQ(p->quantity, D("-2"));
  EXPECT_EQ(p->cost_basis, D("-180"));
  EXPECT_EQ(p->average_cost(), D("90"));
  EXPECT_EQ(p->realized_pnl, D("-10"));
  ASSERT_TRUE(l.apply_mark("BTC-USD", D("80"), kDay0 + 2).ok());
  EXPECT_EQ(l.unrealized_pnl(), D("20"));
  EXPECT_EQ(l.gross_exposure(), D("160"));
  ASSERT_TRUE(l.apply_fill(fill("BTC-USD", ipc::SIDE_BUY, "2", "85", "0", kDay0 + 3)).ok());
  EXPECT_EQ(l.realized_pnl(), D("0"));  // -10 then +10
  EXPECT_EQ(l.equity(), D("10000"));
}

TEST(Ledger, DailyLossLimitEdgesFromTheDaysPeak) {
  Ledger l(D("10000"), kDay0);
  ASSERT_TRUE(l.apply_fill(fill("BTC-USD", ipc::SIDE_BUY, "1", "1000", "0")).ok());
  const Decimal limit = D("0.05");
  struct Step {
    const char* mark;
    bool breached;
  } steps[] = {
      {"500.00000001", false},  // loss 499.99999999: one below the 500 limit
      {"500", false},           // loss exactly 500: at the limit, allowed
      {"499.99999999", true},   // one above
  };
  for (const auto& s : steps) {
    ASSERT_TRUE(l.apply_mark("BTC-USD", D(s.mark), kDay0 + 10).ok());
    EXPECT_EQ(l.daily_loss_breached(limit), s.breached) << s.mark;
  }
  // The day's peak rises with gains: 10100, so the limit is 505.
  ASSERT_TRUE(l.apply_mark("BTC-USD", D("1100"), kDay0 + 20).ok());
  EXPECT_EQ(l.day_peak_equity(), D("10100"));
  ASSERT_TRUE(l.apply_mark("BTC-USD", D("595"), kDay0 + 30).ok());
  EXPECT_FALSE(l.daily_loss_breached(limit));
  EXPECT_EQ(l.daily_loss_fraction(), D("0.05"));
  ASSERT_TRUE(l.apply_mark("BTC-USD", D("594.99999999"), kDay0 + 40).ok());
  EXPECT_TRUE(l.daily_loss_breached(limit));
  EXPECT_EQ(l.daily_pnl(), D("-405.00000001"));

  // The next UTC day starts from the equity before its first event.
  const Decimal before = l.equity();
  ASSERT_TRUE(l.apply_mark("BTC-USD", D("594"), kDay0 + kNanosPerDay).ok());
  EXPECT_EQ(l.day(), 20'001);
  EXPECT_EQ(l.day_start_equity(), before);
  EXPECT_EQ(l.day_peak_equity(), before);
  EXPECT_FALSE(l.daily_loss_breached(limit));
  EXPECT_EQ(l.daily_pnl(), D("-0.99999999"));
  EXPECT_EQ(l.peak_equity(), D("10100"));
  EXPECT_EQ(l.drawdown_fraction(), l.peak_equity().sub(l.equity())->div(D("10100"), Rounding::kHalfEven).value());
  // A timestamp from the previous day does not roll back.
  ASSERT_TRUE(l.apply_mark("BTC-USD", D("594"), kDay0 + 5).ok());
  EXPECT_EQ(l.day(), 20'001);
}

TEST(Ledger, RefusesJunkAndLeavesStateUnchanged) {
  Ledger l(D("10000"), kDay0);
  ASSERT_TRUE(l.apply_fill(fill("BTC-USD", ipc::SIDE_BUY, "1", "100", "0")).ok());
  const Ledger before = l;
  EXPECT_FALSE(l.apply_fill(fill("BTC-USD", ipc::SIDE_BUY, "0", "100", "0")).ok());
  EXPECT_FALSE(l.apply_fill(fill("BTC-USD", ipc::SIDE_BUY, "-1", "100", "0")).ok());
  EXPECT_FALSE(l.apply_fill(fill("BTC-USD", ipc::SIDE_BUY, "1", "0", "0")).ok());
  EXPECT_FALSE(l.apply_fill(fill("BTC-USD", ipc::SIDE_BUY, "1", "100", "-1")).ok());
  EXPECT_FALSE(l.apply_fill(fill("BTC-USD", ipc::SIDE_UNSPECIFIED, "1", "100", "0")).ok());
  // Notional beyond the decimal range.
  EXPECT_FALSE(l.apply_fill(fill("BTC-USD", ipc::SIDE_BUY, "90000000000", "90000000000", "0")).ok());
  // Cash beyond the range.
  EXPECT_TRUE(D("9.223372").mul(D("10000000000"), Rounding::kHalfEven).ok());
  EXPECT_FALSE(l.apply_fill(fill("BTC-USD", ipc::SIDE_SELL, "9.223372", "10000000000", "0", kDay0 + kNanosPerDay)).ok());
  EXPECT_FALSE(l.apply_mark("BTC-USD", D("0"), kDay0 + 2).ok());
  EXPECT_FALSE(l.apply_mark("BTC-USD", D("-5"), kDay0 + 2).ok());
  EXPECT_TRUE(l == before);
}

TEST(Ledger, PositionCountLimit) {
  Ledger l(D("1000000"), kDay0);
  for (std::size_t i = 0; i < kLedgerPositionsMax; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "P%02zu-USD", i);
    ASSERT_TRUE(l.apply_mark(name, D("1"), kDay0).ok()) << i;
  }
  EXPECT_FALSE(l.apply_mark("ZZZ-USD", D("1"), kDay0).ok());
  EXPECT_TRUE(l.apply_mark("P00-USD", D("2"), kDay0).ok());
}

// Replays a seeded random stream of fills and marks: replaying it again
// gives an identical ledger, and a ledger restored from a snapshot taken
// halfway and fed the second half ends identical too.
TEST(Ledger, ReplayIsDeterministicAndSnapshotsRoundTrip) {
  const unsigned seed = std::random_device{}();
  std::printf("seed=%u\n", seed);
  std::mt19937 rng(seed);
  struct Event {
    bool is_fill;
    LedgerFill fill;
  };
  std::vector<Event> events;
  const char* products[] = {"BTC-USD", "ETH-USD"};
  std::int64_t ts = kDay0;
  for (int i = 0; i < 400; ++i) {
    ts += static_cast<std::int64_t>(rng() % 7200) * kNanosPerSecond;  // crosses several UTC days
    Event e;
    e.is_fill = rng() % 2 == 0;
    e.fill.product = products[rng() % 2];
    e.fill.side = rng() % 2 ? ipc::SIDE_BUY : ipc::SIDE_SELL;
    e.fill.quantity = Decimal::from_units(1 + static_cast<std::int64_t>(rng() % 300'000'000));
    e.fill.price = Decimal::from_units(static_cast<std::int64_t>(900'000 + rng() % 200'000) * 1'000'000);
    e.fill.fee = Decimal::from_units(static_cast<std::int64_t>(rng() % 10'000'000));
    e.fill.ts_ns = ts;
    events.push_back(e);
  }
  const auto run = [&](Ledger l, std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      const auto& e = events[i];
      const Status s = e.is_fill ? l.apply_fill(e.fill) : l.apply_mark(e.fill.product, e.fill.price, e.fill.ts_ns);
      EXPECT_TRUE(s.ok()) << i << ": " << s.error().message;
    }
    return l;
  };
  const Ledger start(D("100000"), kDay0);
  const Ledger a = run(start, 0, events.size());
  const Ledger b = run(start, 0, events.size());
  EXPECT_TRUE(a == b);
  EXPECT_EQ(a.serialize(), b.serialize());

  const Ledger half = run(start, 0, events.size() / 2);
  auto restored = Ledger::deserialize(half.serialize());
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  EXPECT_TRUE(*restored == half);
  const Ledger c = run(*restored, events.size() / 2, events.size());
  EXPECT_TRUE(c == a);
  EXPECT_GT(a.day(), 20'000);

  // Closing everything turns all P&L into realized P&L and cash.
  Ledger closed = a;
  for (const auto& f : flatten_orders(a)) {
    ASSERT_TRUE(closed.apply_fill(LedgerFill{f.product, f.side, f.quantity, a.find(f.product)->mark_price, Decimal(),
                                             ts + 1})
                    .ok());
  }
  EXPECT_TRUE(flatten_orders(closed).empty());
  EXPECT_EQ(closed.unrealized_pnl(), D("0"));
  EXPECT_EQ(closed.cash(), closed.equity());
  EXPECT_EQ(closed.cash(), start.cash().add(closed.realized_pnl())->sub(closed.fees_paid()).value());
}

TEST(Ledger, DeserializeRefusesJunk) {
  Ledger l(D("10000"), kDay0);
  ASSERT_TRUE(l.apply_fill(fill("BTC-USD", ipc::SIDE_BUY, "1", "100", "0.5")).ok());
  const std::string good = l.serialize();
  ASSERT_TRUE(Ledger::deserialize(good).ok());
  const auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  const std::string cases[] = {
      "",
      good.substr(0, good.size() - 4),            // no "end"
      good.substr(0, good.size() - 1),            // no final newline
      replace("ledger 1", "ledger 2"),
      replace("cash 9899.5", "cash 9899.6"),      // breaks the cash identity
      replace("cash 9899.5", "cash x"),
      replace("day 20000", "day 2e4"),
      replace("position BTC-USD 1 ", "position BTC-USD 0 "),
      good + "position ZZZ 0 0 0 0 0\n",
      replace("end\n", "position AAA-USD 0 0 0 0 1\nend\n"),  // unsorted
  };
  for (const auto& text : cases) EXPECT_FALSE(Ledger::deserialize(text).ok()) << text;
}

TEST(Ledger, SnapshotMessage) {
  Ledger l(D("10000"), kDay0);
  ASSERT_TRUE(l.apply_fill(fill("BTC-USD", ipc::SIDE_BUY, "0.5", "100", "0.25")).ok());
  ASSERT_TRUE(l.apply_mark("BTC-USD", D("90"), kDay0 + 2).ok());
  const auto s = l.to_snapshot(77);
  ASSERT_EQ(s.positions_size(), 1);
  EXPECT_EQ(s.positions(0).quantity(), "0.5");
  EXPECT_EQ(s.positions(0).average_cost(), "100");
  EXPECT_EQ(s.positions(0).unrealized_pnl(), "-5");
  EXPECT_EQ(s.account().equity(), "9994.75");
  EXPECT_EQ(s.account().cash(), "9949.75");
  EXPECT_EQ(s.account().fees_paid(), "0.25");
  EXPECT_EQ(s.account().daily_pnl(), "-5.25");
  EXPECT_EQ(s.account().drawdown(), "0.000525");
  EXPECT_EQ(s.ts_ns(), 77);
}

}  // namespace
}  // namespace ta::gate
