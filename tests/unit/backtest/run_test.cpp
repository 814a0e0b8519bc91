// run_backtest(): determinism, the next-bar rule, gaps, the reference
// (protobuf) path against the direct one, book independence, accounting.
#include <thread>

#include "backtest_test_support.h"

namespace ta::backtest::test {
namespace {

// A strategy that always wants to be long and holds one bar: it emits an
// intent on almost every bar, so every timing rule is exercised.
constexpr const char* kAlwaysLong = R"(
name: always_long
nodes: {}
entry:
  long: close > 0
stops:
  fixed_percent: 50
  max_holding_bars: 1
)";

TEST(Run, SameInputsGiveByteIdenticalReports) {
  const MarketData m = demo_market();
  const BacktestConfig c = two_books();
  const auto a = run_backtest(c, m).value();
  const auto b = run_backtest(c, m).value();
  EXPECT_EQ(a.books[0].equity_units, b.books[0].equity_units);
  EXPECT_EQ(a.books[1].ledger, b.books[1].ledger);
  EXPECT_EQ(all_reports(c, m, a), all_reports(c, m, b));
  EXPECT_GT(a.books[0].fills.size(), 10u);  // the run actually traded
}

TEST(Run, ReferencePathGivesTheSameResultAsTheDirectPath) {
  // The reference path converts every bar, order update and position
  // snapshot through gate.proto, as the SIM daemons do.
  const MarketData m = demo_market();
  BacktestConfig c = two_books();
  c.books.push_back(book("always_long", declarative(kAlwaysLong)));
  const auto fast = run_backtest(c, m, first_day()).value();
  RunOptions ref = first_day();
  ref.reference_path = true;
  const auto slow = run_backtest(c, m, ref).value();
  EXPECT_EQ(all_reports(c, m, fast), all_reports(c, m, slow));
  for (std::size_t k = 0; k < fast.books.size(); ++k) {
    EXPECT_EQ(fast.books[k].ledger, slow.books[k].ledger) << k;
    EXPECT_EQ(fast.books[k].fills.size(), slow.books[k].fills.size()) << k;
  }
}

TEST(Run, ReferencePathMatchesWithQuotesGapsAndHalts) {
  // Every other bar carries a quote (the spread then comes from it), the
  // outage sample has gaps, and the shipped fees make the one-bar strategy
  // hit the daily loss limit: flatten, cooldown, resume.
  std::vector<agent::Bar> bars = outage_market().bars;
  for (std::size_t i = 0; i < bars.size(); i += 2) {
    bars[i].quote = agent::Quote{bars[i].close - 0.5, bars[i].close + 0.5};
  }
  const MarketData m = make_market_data({bars}).value();
  std::string tight = kAlwaysLong;
  tight.replace(tight.find("fixed_percent: 50"), 17, "fixed_percent: 1");
  BacktestConfig c = config_with({book("always_long", declarative(tight)),
                                  book("momentum", builtin("momentum", "momentum", {{"fast_period", 3}, {"slow_period", 8}}))});
  const auto fast = run_backtest(c, m).value();
  RunOptions ref;
  ref.reference_path = true;
  const auto slow = run_backtest(c, m, ref).value();
  EXPECT_EQ(all_reports(c, m, fast), all_reports(c, m, slow));
  for (std::size_t k = 0; k < fast.books.size(); ++k) {
    EXPECT_EQ(fast.books[k].ledger, slow.books[k].ledger) << k;
    EXPECT_EQ(fast.books[k].equity_units, slow.books[k].equity_units) << k;
    EXPECT_EQ(fast.books[k].engine.position_mismatches, slow.books[k].engine.position_mismatches) << k;
  }
  EXPECT_FALSE(fast.books[0].halts.empty());
}

TEST(Run, IntentsFillOnTheProductsNextBarNeverTheSignalBar) {
  const MarketData m = demo_market();
  BacktestConfig c = two_books();
  c.books.push_back(book("always_long", declarative(kAlwaysLong)));
  frictionless(c);
  const auto r = run_backtest(c, m, first_day()).value();
  std::size_t checked = 0;
  for (const BookResult& b : r.books) {
    for (const FillRecord& f : b.fills) {
      if (f.strategy == "gate") continue;  // the gate's own flattening
      const std::int64_t signal = signal_ts(f.intent_id);
      const std::int64_t expected = next_open(m, f.product, signal + agent::kBarSeconds);
      ASSERT_GT(expected, signal);
      EXPECT_EQ(f.ts_ns, expected * gate::kNanosPerSecond) << f.intent_id;
      ++checked;
    }
  }
  EXPECT_GT(checked, 500u);
}

TEST(Run, GapsAreRespectedNothingIsForwardFilled) {
  // The Coinbase outage sample: 647 bars, one missing minute at 16:46 and
  // 432 missing minutes from 16:48 to 00:00.
  const MarketData m = outage_market();
  BacktestConfig c = config_with({book("always_long", declarative(kAlwaysLong))});
  frictionless(c);
  const auto r = run_backtest(c, m).value();
  EXPECT_EQ(r.bars, 647u);
  EXPECT_EQ(r.step_open_ts_s.size(), 647u);
  EXPECT_EQ(r.books[0].engine.bars, 647u);
  constexpr std::int64_t kGapStart = 1522860480;  // 2018-04-04T16:48:00Z
  constexpr std::int64_t kGapEnd = 1522886400;    // 2018-04-05T00:00:00Z
  for (std::int64_t t : r.step_open_ts_s) EXPECT_FALSE(t >= kGapStart && t < kGapEnd) << t;
  bool across_gap = false;
  for (const FillRecord& f : r.books[0].fills) {
    const std::int64_t ts = f.ts_ns / gate::kNanosPerSecond;
    EXPECT_FALSE(ts >= kGapStart && ts < kGapEnd) << f.intent_id;
    // The intent of the 16:47 bar fills at the first bar after the hole,
    // at that bar's open price.
    if (signal_ts(f.intent_id) == kGapStart - 60) {
      across_gap = true;
      EXPECT_EQ(ts, kGapEnd);
      const agent::Bar& after = *std::find_if(m.bars.begin(), m.bars.end(),
                                              [](const agent::Bar& b) { return b.open_ts_s == kGapEnd; });
      EXPECT_EQ(f.price, Decimal::from_double(after.open, Rounding::kHalfEven).value());
    }
  }
  EXPECT_TRUE(across_gap);
}

TEST(Run, ABooksResultDoesNotDependOnOtherBooks) {
  const MarketData m = demo_market();
  const BacktestConfig both = two_books();
  BacktestConfig alone = two_books();
  alone.books.erase(alone.books.begin());
  const auto a = run_backtest(both, m).value();
  const auto b = run_backtest(alone, m).value();
  EXPECT_EQ(a.books[1].equity_units, b.books[0].equity_units);
  EXPECT_EQ(a.books[1].ledger, b.books[0].ledger);
  EXPECT_EQ(a.books[1].fills.size(), b.books[0].fills.size());
}

TEST(Run, BooksOnThreadsGiveExactlyTheResultOfOneThread) {
  // Four books of different speeds, so the threads finish at different
  // times; every thread count, including more threads than books, must give
  // the one-thread result bit for bit, in the direct and the reference path.
  const MarketData m = demo_market();
  BacktestConfig c = two_books();
  c.books.push_back(book("always_long", declarative(kAlwaysLong)));
  c.books.push_back(book("fast_momentum", builtin("momentum", "fast_momentum", {{"fast_period", 3}, {"slow_period", 8}})));
  for (const bool reference : {false, true}) {
    RunOptions one = first_day();
    one.reference_path = reference;
    const auto base = run_backtest(c, m, one).value();
    const std::string base_reports = all_reports(c, m, base);
    EXPECT_GT(base.books[2].fills.size(), 100u);  // the books really trade
    const std::vector<std::size_t> counts =
        reference ? std::vector<std::size_t>{3} : std::vector<std::size_t>{2, 4, 9};
    for (const std::size_t threads : counts) {
      RunOptions o = one;
      o.book_threads = threads;
      const auto r = run_backtest(c, m, o).value();
      EXPECT_EQ(r.bars, base.bars) << threads;
      EXPECT_EQ(r.step_open_ts_s, base.step_open_ts_s) << threads;
      for (std::size_t k = 0; k < c.books.size(); ++k) {
        EXPECT_EQ(r.books[k].name, base.books[k].name) << threads << " " << k;
        EXPECT_EQ(r.books[k].ledger, base.books[k].ledger) << threads << " " << k;
        EXPECT_EQ(r.books[k].equity_units, base.books[k].equity_units) << threads << " " << k;
        EXPECT_EQ(r.books[k].fills.size(), base.books[k].fills.size()) << threads << " " << k;
      }
      EXPECT_EQ(all_reports(c, m, r), base_reports) << threads << (reference ? " reference" : " direct");
    }
  }
}

TEST(Run, BookThreadsOutsideTheirRangeAreRefused) {
  const MarketData m = demo_market();
  const BacktestConfig c = two_books();
  for (const std::size_t bad : {std::size_t{0}, kBookThreadsMax + 1}) {
    RunOptions o = first_day();
    o.book_threads = bad;
    auto r = run_backtest(c, m, o);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message,
              "book_threads must be in [1, " + std::to_string(kBookThreadsMax) + "], got " + std::to_string(bad));
  }
  RunOptions edge = first_day();
  edge.book_threads = kBookThreadsMax;  // allowed; the run uses one per book
  EXPECT_TRUE(run_backtest(c, m, edge));
}

TEST(Run, TradeRecordsAddUpToTheLedger) {
  const MarketData m = demo_market();
  BacktestConfig c = two_books();
  c.books.push_back(book("always_long", declarative(kAlwaysLong)));
  const auto r = run_backtest(c, m, first_day()).value();
  for (const BookResult& b : r.books) {
    // Every trade is closed at the end here or still open; closed trades'
    // P&L plus open positions' realized part equals realized - fees.
    Notional trades, open_fees;
    for (const TradeRecord& t : b.trades) {
      if (t.closed) trades = trades.add(t.pnl).value();
      if (!t.closed) open_fees = open_fees.add(t.fees).value();
    }
    const gate::Ledger& l = b.ledger;
    bool flat = true;
    for (const auto& p : l.positions()) flat = flat && p.quantity.is_zero();
    if (flat) {
      EXPECT_EQ(trades, l.realized_pnl().sub(l.fees_paid()).value()) << b.name;
    }
    // Equity identity of the book: capital + realized - fees + unrealized.
    EXPECT_EQ(l.equity(), b.capital.add(l.realized_pnl()).value().sub(l.fees_paid()).value().add(
                              l.unrealized_pnl()).value());
    EXPECT_EQ(b.equity_units.back(), l.equity().units());
    EXPECT_EQ(b.equity_units.size(), r.step_open_ts_s.size());
  }
}

TEST(Run, SharedAccountRunsEveryStrategyInOneBook) {
  const MarketData m = demo_market();
  BacktestConfig c = two_books();
  BookSetup shared;
  shared.name = "account";
  shared.capital = D("20000");
  for (const BookSetup& b : c.books) shared.strategies.push_back(b.strategies.front());
  c.books = {shared};
  c.account = AccountMode::kShared;
  const auto r = run_backtest(c, m).value();
  ASSERT_EQ(r.books.size(), 1u);
  EXPECT_EQ(r.books[0].strategies, (std::vector<std::string>{"momentum", "mean_reversion"}));
  bool saw[2] = {false, false};
  for (const FillRecord& f : r.books[0].fills) {
    saw[0] = saw[0] || f.strategy == "momentum";
    saw[1] = saw[1] || f.strategy == "mean_reversion";
  }
  EXPECT_TRUE(saw[0] && saw[1]);
  const Report rep = summarize(c, m, r);
  ASSERT_EQ(rep.strategies.size(), 2u);
  EXPECT_GT(rep.strategies[0].trades, 0u);
  EXPECT_GT(rep.strategies[1].trades, 0u);
}

TEST(Run, DailyLossLimitHaltsFlattensAndCoolsDown) {
  // The shipped fees (1.2% taker) make a one-bar strategy lose about 0.2%
  // of equity per trade, so the 5% daily limit fires: the gate flattens
  // with its own orders, denies during the cooldown and resumes after it.
  const MarketData m = demo_market();
  const BacktestConfig c = config_with({book("always_long", declarative(kAlwaysLong))});
  const auto r = run_backtest(c, m, first_day()).value();
  const BookResult& b = r.books[0];
  ASSERT_FALSE(b.halts.empty());
  EXPECT_EQ(b.halts[0].event, gate::HaltEvent::kDailyLossLimit);
  EXPECT_EQ(b.halts[0].to, gate::HaltState::kHalted);
  ASSERT_GE(b.halts.size(), 2u);
  EXPECT_EQ(b.halts[1].event, gate::HaltEvent::kCooldownElapsed);
  EXPECT_EQ(b.halts[1].ts_ns - b.halts[0].ts_ns, c.gate.safety.loss_cooldown_ms * gate::kNanosPerMs);
  EXPECT_GT(b.decisions.denied_by_reason.at(ipc::DENY_REASON_COOLDOWN), 0u);
  EXPECT_GT(b.decisions.denied_by_reason.at(ipc::DENY_REASON_DAILY_LOSS_LIMIT), 0u);
}

TEST(Run, WindowSelectsBarsAndRefusesAnEmptyOne) {
  const MarketData m = demo_market();
  const BacktestConfig c = two_books();
  RunOptions o;
  o.from_ts_s = 1752105600 + 86400;  // the second day only
  o.to_ts_s = 1752105600 + 2 * 86400;
  const auto r = run_backtest(c, m, o).value();
  EXPECT_EQ(r.bars, 2u * 1440);
  EXPECT_EQ(r.step_open_ts_s.front(), o.from_ts_s);
  o.from_ts_s = 1;
  o.to_ts_s = 2;
  const auto empty = run_backtest(c, m, o);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("no bars"), std::string::npos);
}

TEST(Run, RefusesConfigsThatWouldTradeNothing) {
  const MarketData m = demo_market();
  BacktestConfig none = two_books();
  none.books.clear();
  EXPECT_NE(run_backtest(none, m).error().message.find("no strategies"), std::string::npos);
  BacktestConfig broke = two_books();
  broke.books[0].capital = Decimal();
  EXPECT_NE(run_backtest(broke, m).error().message.find("capital"), std::string::npos);
  BacktestConfig missing = two_books();
  missing.products = {pid("ETH-USD"), pid("BTC-USD")};
  const MarketData btc_only = outage_market();
  EXPECT_NE(run_backtest(missing, btc_only).error().message.find("no data for product ETH-USD"), std::string::npos);
}

TEST(Run, ProgressIsReportedAndEndsAtTheTotal) {
  const MarketData m = demo_market();
  const BacktestConfig c = two_books();
  std::vector<std::pair<std::uint64_t, std::uint64_t>> calls;
  RunOptions o;
  o.progress = [&](std::uint64_t done, std::uint64_t total) { calls.emplace_back(done, total); };
  const auto r = run_backtest(c, m, o).value();
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back(), std::make_pair(r.bars, r.bars));
  // With the books on threads the calling thread still makes every call.
  calls.clear();
  o.book_threads = 2;
  const std::thread::id caller = std::this_thread::get_id();
  bool other_thread = false;
  o.progress = [&](std::uint64_t done, std::uint64_t total) {
    other_thread = other_thread || std::this_thread::get_id() != caller;
    calls.emplace_back(done, total);
  };
  const auto t = run_backtest(c, m, o).value();
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back(), std::make_pair(t.bars, t.bars));
  EXPECT_FALSE(other_thread);
}

}  // namespace
}  // namespace ta::backtest::test
