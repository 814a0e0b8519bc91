#include "market/aggregator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>
#include <vector>

#include "agent_test_support.h"

namespace ta::agent {
namespace {

// 2023-11-14T22:13:00Z, a minute boundary.
constexpr std::int64_t kT0_s = 1'699'999'980;
static_assert(kT0_s % 60 == 0);

ProductId btc() { return ProductId::parse("BTC-USD").value(); }

// Microseconds at `minute` minutes and `seconds` seconds after kT0_s.
std::int64_t at(int minute, double seconds) {
  return (kT0_s + minute * 60) * kMicrosPerSecond + static_cast<std::int64_t>(std::llround(seconds * 1e6));
}

Trade trade(std::uint64_t id, std::int64_t time_us, double price, double size = 1.0) {
  return Trade{btc(), id, time_us, price, size};
}

struct Fixture {
  explicit Fixture(std::int64_t grace_ms) : agg(btc(), AggregatorConfig{grace_ms}, [this](const Bar& b) { bars.push_back(b); }) {}
  std::vector<Bar> bars;
  BarAggregator agg;
};

TEST(BarAggregator, MinuteBoundaryAtExactlyZeroSeconds) {
  Fixture f(0);
  EXPECT_EQ(f.agg.on_trade(trade(1, at(0, 0.0), 100)), TradeOutcome::kAccepted);       // :00.000000 -> minute 0
  EXPECT_EQ(f.agg.on_trade(trade(2, at(0, 59.999999), 101)), TradeOutcome::kAccepted);  // last microsecond
  EXPECT_TRUE(f.bars.empty());
  // Exactly :00 of the next minute belongs to the next minute and, with no
  // grace, closes the previous one.
  EXPECT_EQ(f.agg.on_trade(trade(3, at(1, 0.0), 102)), TradeOutcome::kAccepted);
  ASSERT_EQ(f.bars.size(), 1u);
  const Bar& b = f.bars[0];
  EXPECT_EQ(b.product, btc());
  EXPECT_EQ(b.open_ts_s, kT0_s);
  EXPECT_EQ(b.open, 100);
  EXPECT_EQ(b.high, 101);
  EXPECT_EQ(b.low, 100);
  EXPECT_EQ(b.close, 101);
  EXPECT_EQ(b.volume, 2.0);
  EXPECT_FALSE(b.quote.has_value());
}

TEST(BarAggregator, OhlcvFromTrades) {
  Fixture f(0);
  ASSERT_EQ(f.agg.on_trade(trade(10, at(0, 1), 100.0, 0.5)), TradeOutcome::kAccepted);
  ASSERT_EQ(f.agg.on_trade(trade(11, at(0, 2), 104.5, 0.25)), TradeOutcome::kAccepted);
  ASSERT_EQ(f.agg.on_trade(trade(12, at(0, 3), 98.0, 1.0)), TradeOutcome::kAccepted);
  ASSERT_EQ(f.agg.on_trade(trade(13, at(0, 4), 101.0, 2.0)), TradeOutcome::kAccepted);
  f.agg.on_clock(at(1, 0));
  ASSERT_EQ(f.bars.size(), 1u);
  EXPECT_EQ(f.bars[0].open, 100.0);
  EXPECT_EQ(f.bars[0].high, 104.5);
  EXPECT_EQ(f.bars[0].low, 98.0);
  EXPECT_EQ(f.bars[0].close, 101.0);
  EXPECT_EQ(f.bars[0].volume, 3.75);
  EXPECT_EQ(check_bar(f.bars[0]), BarDefect::kNone);
}

TEST(BarAggregator, NoBarBeforeMinuteEndPlusGrace) {
  Fixture f(2'000);
  ASSERT_EQ(f.agg.on_trade(trade(1, at(0, 30), 100)), TradeOutcome::kAccepted);
  f.agg.on_clock(at(1, 0) - 1);
  f.agg.on_clock(at(1, 0));
  f.agg.on_clock(at(1, 2) - 1);  // one microsecond before end + grace
  EXPECT_TRUE(f.bars.empty());
  f.agg.on_clock(at(1, 2));
  ASSERT_EQ(f.bars.size(), 1u);
  EXPECT_EQ(f.agg.stats().bars_emitted, 1u);
}

TEST(BarAggregator, LateTradeWithinGraceIsIncludedAndOrderedByTime) {
  Fixture f(2'000);
  ASSERT_EQ(f.agg.on_trade(trade(1, at(0, 30), 100)), TradeOutcome::kAccepted);
  // A trade of minute 1 at 1:01 does not close minute 0 (ends 1:00 + 2 s).
  ASSERT_EQ(f.agg.on_trade(trade(2, at(1, 1), 200)), TradeOutcome::kAccepted);
  ASSERT_TRUE(f.bars.empty());
  // Arrives after it but happened at 0:59.5: late, within grace -> included.
  EXPECT_EQ(f.agg.on_trade(trade(3, at(0, 59.5), 90)), TradeOutcome::kAcceptedLate);
  // Happened at 0:10, before the first trade: becomes the open.
  EXPECT_EQ(f.agg.on_trade(trade(4, at(0, 10), 95)), TradeOutcome::kAcceptedLate);
  ASSERT_EQ(f.agg.on_trade(trade(5, at(1, 2.5), 201)), TradeOutcome::kAccepted);
  ASSERT_EQ(f.bars.size(), 1u);
  const Bar& b = f.bars[0];
  EXPECT_EQ(b.open, 95);   // earliest by match time (0:10)
  EXPECT_EQ(b.close, 90);  // latest by match time (0:59.5)
  EXPECT_EQ(b.high, 100);
  EXPECT_EQ(b.low, 90);
  EXPECT_EQ(b.volume, 3.0);
  EXPECT_EQ(f.agg.stats().accepted, 5u);
  EXPECT_EQ(f.agg.stats().accepted_late, 2u);
}

TEST(BarAggregator, LateTradeBeyondGraceIsDroppedAndBarNeverRewritten) {
  Fixture f(2'000);
  ASSERT_EQ(f.agg.on_trade(trade(1, at(0, 30), 100)), TradeOutcome::kAccepted);
  ASSERT_EQ(f.agg.on_trade(trade(2, at(1, 2), 200)), TradeOutcome::kAccepted);  // closes minute 0
  ASSERT_EQ(f.bars.size(), 1u);
  const Bar emitted = f.bars[0];
  EXPECT_EQ(f.agg.on_trade(trade(3, at(0, 59.9), 50)), TradeOutcome::kLateDropped);
  f.agg.on_clock(at(5, 0));
  ASSERT_EQ(f.bars.size(), 2u);
  EXPECT_EQ(f.bars[0], emitted);
  EXPECT_EQ(f.bars[1].open_ts_s, kT0_s + 60);
  EXPECT_EQ(f.bars[1].low, 200);  // the dropped trade went nowhere
  EXPECT_EQ(f.agg.stats().late_dropped, 1u);
}

TEST(BarAggregator, GraceAtItsMaximumKeepsTwoMinutesOpen) {
  Fixture f(AggregatorConfig::grace_ms_max);
  ASSERT_EQ(f.agg.on_trade(trade(1, at(0, 10), 100)), TradeOutcome::kAccepted);
  ASSERT_EQ(f.agg.on_trade(trade(2, at(1, 59), 110)), TradeOutcome::kAccepted);
  EXPECT_EQ(f.agg.on_trade(trade(3, at(0, 50), 105)), TradeOutcome::kAcceptedLate);
  EXPECT_TRUE(f.bars.empty());
  // 2:00 = end of minute 0 + 60 s: minute 0 closes, minute 1 stays open.
  ASSERT_EQ(f.agg.on_trade(trade(4, at(2, 0), 120)), TradeOutcome::kAccepted);
  ASSERT_EQ(f.bars.size(), 1u);
  EXPECT_EQ(f.bars[0].close, 105);
  EXPECT_EQ(f.agg.on_trade(trade(5, at(1, 30), 111)), TradeOutcome::kAcceptedLate);
  f.agg.on_clock(at(3, 0));
  ASSERT_EQ(f.bars.size(), 2u);
  EXPECT_EQ(f.bars[1].open_ts_s, kT0_s + 60);
  EXPECT_EQ(f.bars[1].close, 110);  // 1:59 is later than 1:30
  EXPECT_EQ(f.bars[1].volume, 2.0);
}

TEST(BarAggregator, GraceLimits) {
  const auto sink = [](const Bar&) {};
  EXPECT_NO_THROW(BarAggregator(btc(), AggregatorConfig{0}, sink));
  EXPECT_NO_THROW(BarAggregator(btc(), AggregatorConfig{AggregatorConfig::grace_ms_max - 1}, sink));
  EXPECT_NO_THROW(BarAggregator(btc(), AggregatorConfig{AggregatorConfig::grace_ms_max}, sink));
  EXPECT_THROW(BarAggregator(btc(), AggregatorConfig{AggregatorConfig::grace_ms_max + 1}, sink),
               std::invalid_argument);
  EXPECT_THROW(BarAggregator(btc(), AggregatorConfig{-1}, sink), std::invalid_argument);
  EXPECT_THROW(BarAggregator(ProductId{}, AggregatorConfig{}, sink), std::invalid_argument);
  EXPECT_THROW(BarAggregator(btc(), AggregatorConfig{}, nullptr), std::invalid_argument);
}

TEST(BarAggregator, EmptyMinutesProduceNoBar) {
  Fixture f(0);
  ASSERT_EQ(f.agg.on_trade(trade(1, at(0, 5), 100)), TradeOutcome::kAccepted);
  ASSERT_EQ(f.agg.on_trade(trade(2, at(3, 5), 103)), TradeOutcome::kAccepted);
  f.agg.on_clock(at(10, 0));
  ASSERT_EQ(f.bars.size(), 2u);
  EXPECT_EQ(f.bars[0].open_ts_s, kT0_s);
  EXPECT_EQ(f.bars[1].open_ts_s, kT0_s + 180);  // minutes 1 and 2 stay missing
  const GapReport gaps = find_gaps(f.bars);
  ASSERT_EQ(gaps.gaps.size(), 1u);
  EXPECT_EQ(gaps.gaps[0], (Gap{kT0_s + 60, kT0_s + 180}));
}

TEST(BarAggregator, DuplicatesAndOutOfOrderIdsAreSkipped) {
  Fixture f(0);
  ASSERT_EQ(f.agg.on_trade(trade(10, at(0, 1), 100)), TradeOutcome::kAccepted);
  ASSERT_EQ(f.agg.on_trade(trade(12, at(0, 2), 101)), TradeOutcome::kAccepted);
  EXPECT_EQ(f.agg.on_trade(trade(12, at(0, 2), 101)), TradeOutcome::kDuplicate);  // newest again
  EXPECT_EQ(f.agg.on_trade(trade(10, at(0, 1), 100)), TradeOutcome::kDuplicate);  // older again
  EXPECT_EQ(f.agg.on_trade(trade(11, at(0, 3), 500)), TradeOutcome::kOutOfOrder);
  f.agg.on_clock(at(1, 0));
  ASSERT_EQ(f.bars.size(), 1u);
  EXPECT_EQ(f.bars[0].volume, 2.0);
  EXPECT_EQ(f.bars[0].high, 101);
  EXPECT_EQ(f.agg.stats().duplicates, 2u);
  EXPECT_EQ(f.agg.stats().out_of_order, 1u);
}

TEST(BarAggregator, TradeIdMemoryAtItsLimit) {
  constexpr std::size_t n = BarAggregator::kTradeIdsRemembered;
  Fixture f(0);
  // Even ids 2, 4, ..., 2n: exactly n remembered.
  for (std::size_t i = 1; i <= n; ++i) {
    ASSERT_EQ(f.agg.on_trade(trade(2 * i, at(0, 1), 100, 0.001)), TradeOutcome::kAccepted);
  }
  EXPECT_EQ(f.agg.on_trade(trade(2, at(0, 1), 100)), TradeOutcome::kDuplicate);   // oldest kept
  EXPECT_EQ(f.agg.on_trade(trade(3, at(0, 1), 100)), TradeOutcome::kOutOfOrder);  // a hole
  // One more: id 2 is forgotten, so its replay can only count as out of order.
  ASSERT_EQ(f.agg.on_trade(trade(2 * n + 2, at(0, 2), 100, 0.001)), TradeOutcome::kAccepted);
  EXPECT_EQ(f.agg.on_trade(trade(2, at(0, 1), 100)), TradeOutcome::kOutOfOrder);
  EXPECT_EQ(f.agg.on_trade(trade(4, at(0, 1), 100)), TradeOutcome::kDuplicate);
}

TEST(BarAggregator, BadValuesAreRejectedAndCounted) {
  Fixture f(0);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(f.agg.on_trade(trade(1, at(0, 1), nan)), TradeOutcome::kInvalid);
  EXPECT_EQ(f.agg.on_trade(trade(2, at(0, 1), inf)), TradeOutcome::kInvalid);
  EXPECT_EQ(f.agg.on_trade(trade(3, at(0, 1), -inf)), TradeOutcome::kInvalid);
  EXPECT_EQ(f.agg.on_trade(trade(4, at(0, 1), -100)), TradeOutcome::kInvalid);
  EXPECT_EQ(f.agg.on_trade(trade(5, at(0, 1), 0.0)), TradeOutcome::kInvalid);
  EXPECT_EQ(f.agg.on_trade(trade(6, at(0, 1), 100, 0.0)), TradeOutcome::kInvalid);
  EXPECT_EQ(f.agg.on_trade(trade(7, at(0, 1), 100, -1)), TradeOutcome::kInvalid);
  EXPECT_EQ(f.agg.on_trade(trade(8, at(0, 1), 100, nan)), TradeOutcome::kInvalid);
  EXPECT_EQ(f.agg.on_trade(trade(9, -1, 100)), TradeOutcome::kInvalid);
  EXPECT_EQ(f.agg.on_trade(trade(10, kTimestampMax_s * kMicrosPerSecond + 1, 100)), TradeOutcome::kInvalid);
  Trade eth = trade(11, at(0, 1), 100);
  eth.product = ProductId::parse("ETH-USD").value();
  EXPECT_EQ(f.agg.on_trade(eth), TradeOutcome::kWrongProduct);
  EXPECT_EQ(f.agg.stats().invalid, 10u);
  EXPECT_EQ(f.agg.stats().wrong_product, 1u);
  // Rejected trades leave no trace: ids are free, nothing was aggregated.
  EXPECT_EQ(f.agg.on_trade(trade(1, at(0, 1), 100)), TradeOutcome::kAccepted);
  f.agg.on_clock(at(2, 0));
  ASSERT_EQ(f.bars.size(), 1u);
  EXPECT_EQ(f.bars[0].volume, 1.0);
}

TEST(BarAggregator, ClockGoingBackwardsIsIgnored) {
  Fixture f(0);
  ASSERT_EQ(f.agg.on_trade(trade(1, at(0, 1), 100)), TradeOutcome::kAccepted);
  f.agg.on_clock(at(0, 30));
  f.agg.on_clock(at(0, 10));
  EXPECT_EQ(f.agg.watermark_us(), at(0, 30));
  f.agg.on_clock(-5);
  EXPECT_EQ(f.agg.watermark_us(), at(0, 30));
  EXPECT_TRUE(f.bars.empty());
}

TEST(BarAggregator, QuotesAttachToTheirMinute) {
  Fixture f(0);
  EXPECT_EQ(f.agg.on_quote(at(0, 1), Quote{99.5, 100.5}), QuoteOutcome::kAccepted);  // before any trade
  ASSERT_EQ(f.agg.on_trade(trade(1, at(0, 2), 100)), TradeOutcome::kAccepted);
  EXPECT_EQ(f.agg.on_quote(at(0, 40), Quote{100.0, 100.1}), QuoteOutcome::kAccepted);
  EXPECT_EQ(f.agg.on_quote(at(1, 5), Quote{101.0, 101.2}), QuoteOutcome::kAccepted);  // closes minute 0
  ASSERT_EQ(f.bars.size(), 1u);
  ASSERT_TRUE(f.bars[0].quote.has_value());
  EXPECT_EQ(*f.bars[0].quote, (Quote{100.0, 100.1}));
  EXPECT_EQ(f.agg.on_quote(at(0, 59), Quote{1, 2}), QuoteOutcome::kLateDropped);
  EXPECT_EQ(f.agg.on_quote(at(1, 6), Quote{101.3, 101.2}), QuoteOutcome::kInvalid);  // crossed
  // Minute 1 has a quote but no trade: no bar.
  f.agg.on_clock(at(5, 0));
  EXPECT_EQ(f.bars.size(), 1u);
  EXPECT_EQ(f.agg.stats().quotes_dropped, 2u);
}

// Property: trades in time order with random gaps, sizes and replayed
// duplicates give exactly the bars of a direct group-by-minute.
TEST(BarAggregator, MatchesGroupByMinuteOnRandomStreams) {
  const unsigned seed = test::test_seed();
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 20; ++round) {
    const std::int64_t grace_ms = static_cast<std::int64_t>(rng() % 60'001);
    Fixture f(grace_ms);
    std::map<std::int64_t, Bar> expected;
    std::int64_t t = at(0, 0);
    std::vector<Trade> sent;
    for (std::uint64_t id = 1; id <= 2000; ++id) {
      // Mostly small steps, sometimes a few empty minutes.
      t += (rng() % 50 == 0) ? static_cast<std::int64_t>(rng() % 300'000'000) : static_cast<std::int64_t>(rng() % 3'000'000);
      const double price = 100'000.0 + static_cast<double>(rng() % 100'000) / 100.0;
      const double size = static_cast<double>(1 + rng() % 1000) / 1000.0;
      const Trade tr = trade(id, t, price, size);
      ASSERT_EQ(f.agg.on_trade(tr), TradeOutcome::kAccepted) << "seed=" << seed;
      sent.push_back(tr);
      if (rng() % 10 == 0) {  // replay a recent trade
        const Trade& again = sent[sent.size() - 1 - rng() % std::min<std::size_t>(sent.size(), 100)];
        ASSERT_EQ(f.agg.on_trade(again), TradeOutcome::kDuplicate) << "seed=" << seed;
      }
      const std::int64_t minute_s = tr.time_us / kBarMicros * kBarSeconds;
      auto [it, fresh] = expected.try_emplace(minute_s);
      Bar& b = it->second;
      if (fresh) {
        b = Bar{btc(), minute_s, price, price, price, price, size, std::nullopt};
      } else {
        b.high = std::max(b.high, price);
        b.low = std::min(b.low, price);
        b.close = price;
        b.volume += size;
      }
    }
    f.agg.on_clock(t + kBarMicros + grace_ms * 1000);
    ASSERT_EQ(f.bars.size(), expected.size()) << "seed=" << seed;
    std::size_t i = 0;
    for (const auto& [minute_s, b] : expected) {
      EXPECT_EQ(f.bars[i].open_ts_s, minute_s) << "seed=" << seed;
      EXPECT_EQ(f.bars[i].open, b.open) << "seed=" << seed;
      EXPECT_EQ(f.bars[i].high, b.high) << "seed=" << seed;
      EXPECT_EQ(f.bars[i].low, b.low) << "seed=" << seed;
      EXPECT_EQ(f.bars[i].close, b.close) << "seed=" << seed;
      EXPECT_DOUBLE_EQ(f.bars[i].volume, b.volume) << "seed=" << seed;
      ++i;
    }
  }
}

}  // namespace
}  // namespace ta::agent
