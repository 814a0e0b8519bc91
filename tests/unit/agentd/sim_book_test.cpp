// SimBook (agent/daemon/src/sim_book.h) against the gate's own Ledger: the
// agent predicts the gate's snapshot after a bar, so its equity must equal
// the ledger's to the last 1e-8, and its daily-loss guard must never call a
// bar clear on which the ledger's check fires. Test code may link both
// sides; the daemons never do.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>

#include "gate/ledger.h"
#include "sim_book.h"

namespace {

using ta::Decimal;
using ta::agent::ProductId;
using ta::agent::SimBook;

constexpr std::int64_t kMinuteNs = 60'000'000'000LL;

ProductId product(const char* name) { return ProductId::parse(name).value(); }

SimBook book_of(const ta::gate::Ledger& ledger, std::int64_t ts_ns) {
  auto b = SimBook::from_snapshot(ledger.to_snapshot(ts_ns));
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().message);
  return b.ok() ? *b : SimBook{};
}

unsigned test_seed() {
  const char* fixed = std::getenv("TA_TEST_SEED");
  return fixed != nullptr ? static_cast<unsigned>(std::strtoul(fixed, nullptr, 10)) : std::random_device{}();
}

// Random fills and marks over several UTC days: after every mark the
// book's equity is the ledger's, and a bar the guard calls clear never
// breaches the ledger's daily loss limit.
TEST(SimBook, FollowsTheLedgerExactlyAndItsLossGuardIsSound) {
  const unsigned seed = test_seed();
  std::printf("seed=%u\n", seed);
  std::mt19937_64 rng(seed);
  const Decimal fraction = Decimal::parse("0.05").value();
  ta::gate::Ledger ledger(Decimal::from_integer(10'000), 0);
  const char* names[] = {"BTC-USD", "ETH-USD"};
  std::int64_t price_units[] = {60'000 * Decimal::kScale, 3'000 * Decimal::kScale};
  std::int64_t ts = 0;
  SimBook book = book_of(ledger, ts);
  int clear_while_holding = 0;
  int breaches = 0;
  for (int step = 0; step < 20'000; ++step) {
    const int p = static_cast<int>(rng() % 2);
    if (rng() % 40 == 0) {
      // A fill at about the current price; the agent takes the gate's
      // snapshot after it.
      ta::gate::LedgerFill f;
      f.product = names[p];
      f.side = rng() % 2 == 0 ? ta::ipc::SIDE_BUY : ta::ipc::SIDE_SELL;
      f.quantity = Decimal::from_units(static_cast<std::int64_t>(1 + rng() % 5'000'000));  // up to 0.05
      f.price = Decimal::from_units(price_units[p]);
      f.fee = Decimal::from_units(static_cast<std::int64_t>(rng() % 100'000'000));
      f.ts_ns = ts;
      ASSERT_TRUE(ledger.apply_fill(f).ok());
      book = book_of(ledger, ts);
      continue;
    }
    // A bar: a random walk with occasional jumps of 20 % either way, so
    // that long and short positions alike breach now and then.
    const std::int64_t move = static_cast<std::int64_t>(rng() % 2001) - 1000;
    const std::int64_t jump_sign = rng() % 2 == 0 ? -1 : 1;
    const std::int64_t jump = rng() % 500 == 0 ? jump_sign * price_units[p] / 5 : 0;
    price_units[p] = std::max<std::int64_t>(Decimal::kScale, price_units[p] + move * price_units[p] / 100'000 + jump);
    ts += kMinuteNs * static_cast<std::int64_t>(1 + rng() % 30);  // several days in all
    const Decimal mark = Decimal::from_units(price_units[p]);
    auto predicted = book.equity_with_mark(product(names[p]), mark);
    ASSERT_TRUE(predicted.ok());
    const bool clear = book.loss_limit_clear(*predicted, fraction);
    ASSERT_TRUE(book.apply_mark(product(names[p]), mark).ok());
    ASSERT_TRUE(ledger.apply_mark(names[p], mark, ts).ok());
    ASSERT_EQ(book.equity(), ledger.equity()) << "step " << step;
    ASSERT_EQ(*predicted, ledger.equity()) << "step " << step;
    const SimBook actual = book_of(ledger, ts);
    ASSERT_TRUE(book.same_account(actual)) << "step " << step;
    const bool breached = ledger.daily_loss_breached(fraction);
    if (breached) ++breaches;
    if (clear) {
      ASSERT_FALSE(breached) << "the guard called a breaching bar clear at step " << step;
      if (!book.flat()) ++clear_while_holding;
    }
    // What the agent learns from an answer: the exact peak (a lower bound
    // than its own, so the guard gets less cautious again).
    book.set_day_peak_bound(actual.day_peak_bound());
  }
  std::printf("clear_while_holding=%d breaches=%d\n", clear_while_holding, breaches);
  EXPECT_GT(clear_while_holding, 1000) << "the guard should let most bars through";
  EXPECT_GT(breaches, 0) << "the walk should reach the limit now and then";
}

// The limit itself: a loss of exactly fraction x peak is allowed (the gate
// halts above it), one unit more is not.
TEST(SimBook, LossGuardAtTheLimit) {
  ta::ipc::PositionSnapshot s;
  s.mutable_account()->set_cash("0");
  s.mutable_account()->set_equity("10000");
  s.mutable_account()->set_day_peak_equity("10000");
  auto* p = s.add_positions();
  p->set_product("BTC-USD");
  p->set_quantity("1");
  p->set_mark_price("10000");
  const SimBook book = SimBook::from_snapshot(s).value();
  EXPECT_EQ(book.day_peak_bound(), Decimal::from_integer(10'000));
  const Decimal fraction = Decimal::parse("0.05").value();
  EXPECT_TRUE(book.loss_limit_clear(Decimal::from_integer(9'501), fraction));                       // below
  EXPECT_TRUE(book.loss_limit_clear(Decimal::from_integer(9'500), fraction));                       // at
  EXPECT_FALSE(book.loss_limit_clear(Decimal::from_units(9'500 * Decimal::kScale - 1), fraction));  // above
  // The ledger agrees at the same three points.
  for (const auto& [units, clear] : {std::pair{9'501 * Decimal::kScale, true}, std::pair{9'500 * Decimal::kScale, true},
                                     std::pair{9'500 * Decimal::kScale - 1, false}}) {
    ta::gate::Ledger ledger(Decimal::from_integer(0), 0);
    ta::gate::LedgerFill f;
    f.product = "BTC-USD";
    f.side = ta::ipc::SIDE_BUY;
    f.quantity = Decimal::from_integer(1);
    f.price = Decimal::from_integer(10'000);
    ASSERT_TRUE(ledger.apply_fill(f).ok());
    ASSERT_TRUE(ledger.apply_mark("BTC-USD", Decimal::from_integer(20'000), 1).ok());  // equity and peak 10000
    ASSERT_EQ(ledger.day_peak_equity(), Decimal::from_integer(10'000));
    ASSERT_TRUE(ledger.apply_mark("BTC-USD", Decimal::from_units(10'000 * Decimal::kScale + units), 2).ok());
    EXPECT_EQ(ledger.daily_loss_breached(fraction), !clear) << units;
  }
  // No positive peak: nothing is clear while holding.
  SimBook broke = book;
  broke.set_day_peak_bound(Decimal::zero());
  EXPECT_FALSE(broke.loss_limit_clear(Decimal::zero(), fraction));
}

TEST(SimBook, FlatBooksAreAlwaysClearAndKeepTheirEquity) {
  ta::gate::Ledger ledger(Decimal::from_integer(10'000), 0);
  SimBook book = book_of(ledger, 0);
  EXPECT_TRUE(book.flat());
  ASSERT_TRUE(book.apply_mark(product("BTC-USD"), Decimal::from_integer(60'000)).ok());
  ASSERT_TRUE(book.apply_mark(product("ETH-USD"), Decimal::from_integer(3'000)).ok());
  EXPECT_EQ(book.equity(), Decimal::from_integer(10'000));
  EXPECT_EQ(book.positions().size(), 2u) << "a marked product gets a flat position, as in the ledger";
  EXPECT_TRUE(book.loss_limit_clear(Decimal::parse("0.0").value()));
  EXPECT_EQ(book.to_event().positions.size(), 2u);
}

TEST(SimBook, SameAccountComparesWhatReachesTheEngine) {
  ta::gate::Ledger ledger(Decimal::from_integer(10'000), 0);
  ASSERT_TRUE(ledger.apply_mark("BTC-USD", Decimal::from_integer(60'000), 1).ok());
  const SimBook a = book_of(ledger, 1);
  SimBook b = book_of(ta::gate::Ledger(Decimal::from_integer(10'000), 0), 1);
  EXPECT_TRUE(a.same_account(b)) << "a flat position present on one side only is no difference";
  ASSERT_TRUE(b.apply_mark(product("ETH-USD"), Decimal::from_integer(1)).ok());
  EXPECT_TRUE(a.same_account(b));

  ta::gate::LedgerFill f;
  f.product = "BTC-USD";
  f.side = ta::ipc::SIDE_BUY;
  f.quantity = Decimal::parse("0.01").value();
  f.price = Decimal::from_integer(60'000);
  f.fee = Decimal::zero();
  ta::gate::Ledger holding = ledger;
  ASSERT_TRUE(holding.apply_fill(f).ok());
  const SimBook h = book_of(holding, 1);
  EXPECT_FALSE(a.same_account(h)) << "cash and a quantity moved";
  SimBook moved = h;
  ASSERT_TRUE(moved.apply_mark(product("BTC-USD"), Decimal::from_integer(61'000)).ok());
  EXPECT_FALSE(moved.same_account(h)) << "a mark of a held product moves equity";
}

TEST(SimBook, UnknownDayPeakIsNeverClearWhileHolding) {
  ta::ipc::PositionSnapshot s;
  s.mutable_account()->set_cash("100");
  s.mutable_account()->set_equity("100");
  auto* p = s.add_positions();
  p->set_product("BTC-USD");
  p->set_quantity("0");
  p->set_mark_price("10");
  SimBook flat = SimBook::from_snapshot(s).value();
  EXPECT_FALSE(flat.day_peak_known());
  EXPECT_TRUE(flat.loss_limit_clear(Decimal::parse("0.05").value()));
  p->set_quantity("1");
  SimBook holding = SimBook::from_snapshot(s).value();
  EXPECT_FALSE(holding.loss_limit_clear(Decimal::parse("0.05").value()));
  s.mutable_account()->set_day_peak_equity("110");
  EXPECT_TRUE(SimBook::from_snapshot(s).value().loss_limit_clear(Decimal::parse("0.5").value()));
}

// After a restart that lost fills, the book takes the gate's cash and
// positions and keeps its own marks (it may be ahead of the gate).
TEST(SimBook, RebaseTakesHoldingsAndKeepsMarks) {
  ta::gate::Ledger gate(Decimal::from_integer(10'000), 0);
  ASSERT_TRUE(gate.apply_mark("BTC-USD", Decimal::from_integer(60'000), 1).ok());
  SimBook book = book_of(gate, 1);
  ASSERT_TRUE(book.apply_mark(product("BTC-USD"), Decimal::from_integer(61'000)).ok());  // ahead of the gate
  ta::gate::LedgerFill f;
  f.product = "BTC-USD";
  f.side = ta::ipc::SIDE_BUY;
  f.quantity = Decimal::parse("0.1").value();
  f.price = Decimal::from_integer(60'000);
  f.fee = Decimal::from_integer(3);
  ASSERT_TRUE(gate.apply_fill(f).ok());
  const SimBook at_gate = book_of(gate, 1);
  EXPECT_FALSE(book.same_holdings(at_gate));
  ASSERT_TRUE(book.rebase(at_gate).ok());
  EXPECT_TRUE(book.same_holdings(at_gate));
  EXPECT_EQ(book.cash(), gate.cash());
  // cash 10000 - 6000 - 3, plus 0.1 x 61000 (the book's mark, not the gate's)
  EXPECT_EQ(book.equity(), Decimal::parse("10097").value());
  // The gate reaches the same bar: the same account.
  ASSERT_TRUE(gate.apply_mark("BTC-USD", Decimal::from_integer(61'000), 2).ok());
  EXPECT_TRUE(book.same_account(book_of(gate, 2)));
}

TEST(SimBook, RefusesJunkAndOverflow) {
  ta::ipc::PositionSnapshot s;
  s.mutable_account()->set_cash("ten");
  EXPECT_FALSE(SimBook::from_snapshot(s).ok());
  s.mutable_account()->set_cash("1");
  auto* p = s.add_positions();
  p->set_product("BTC-USD");
  p->set_quantity("92233720368");  // near the largest Decimal
  p->set_mark_price("1");
  auto parsed = SimBook::from_snapshot(s);
  ASSERT_TRUE(parsed.ok());
  SimBook book = *parsed;
  const Decimal before = book.equity();
  EXPECT_FALSE(book.apply_mark(product("BTC-USD"), Decimal::from_integer(1'000'000)).ok());
  EXPECT_EQ(book.equity(), before) << "a refused mark changes nothing";
  p->set_product("not a product");
  EXPECT_FALSE(SimBook::from_snapshot(s).ok());
}

}  // namespace
