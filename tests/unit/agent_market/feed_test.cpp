#include "market/feed.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <random>
#include <stdexcept>

#include "agent_test_support.h"
#include "market/store.h"

namespace ta::agent {
namespace {

ProductId btc() { return ProductId::parse("BTC-USD").value(); }
ProductId eth() { return ProductId::parse("ETH-USD").value(); }

constexpr std::int64_t kT0 = 1752105600;  // 2025-07-10T00:00:00Z

Bar bar(ProductId p, std::int64_t minute, double price = 100) {
  return Bar{p, kT0 + 60 * minute, price, price, price, price, 1, std::nullopt};
}

// Records everything the feed delivers, with the scheduler time.
struct Recorder : FeedHandler {
  explicit Recorder(const Scheduler& s) : scheduler(s) {}
  struct Item {
    std::int64_t at_us;
    bool is_bar;
    Bar bar;
    FeedEvent event;
  };
  void on_bar(const Bar& b) override {
    items.push_back({scheduler.now_us(), true, b, {}});
    if (stop_after_bars > 0 && ++bars_seen == stop_after_bars) feed->stop();
  }
  void on_feed_event(const FeedEvent& e) override { items.push_back({scheduler.now_us(), false, {}, e}); }
  std::vector<Bar> bars() const {
    std::vector<Bar> out;
    for (const auto& i : items) {
      if (i.is_bar) out.push_back(i.bar);
    }
    return out;
  }
  const Scheduler& scheduler;
  std::vector<Item> items;
  Feed* feed = nullptr;
  std::size_t stop_after_bars = 0;
  std::size_t bars_seen = 0;
};

TEST(MergeBars, OrdersByTimeThenProductWhateverTheInputOrder) {
  const std::vector<Bar> b = {bar(btc(), 0), bar(btc(), 1), bar(btc(), 3)};
  const std::vector<Bar> e = {bar(eth(), 0), bar(eth(), 2), bar(eth(), 3)};
  const std::vector<std::vector<Bar>> be = {b, e};
  const std::vector<std::vector<Bar>> eb = {e, b};
  const auto m1 = merge_bars(be);
  const auto m2 = merge_bars(eb);
  EXPECT_EQ(m1, m2);
  const std::vector<Bar> expected = {bar(btc(), 0), bar(eth(), 0), bar(btc(), 1),
                                     bar(eth(), 2), bar(btc(), 3), bar(eth(), 3)};
  EXPECT_EQ(m1, expected);
}

TEST(MergeBars, RandomSeriesComeOutSortedAndComplete) {
  const unsigned seed = test::test_seed();
  std::mt19937 rng(seed);
  std::vector<std::vector<Bar>> series(3);
  const ProductId ids[] = {eth(), btc(), ProductId::parse("SOL-USD").value()};
  for (std::size_t p = 0; p < 3; ++p) {
    for (std::int64_t m = 0; m < 500; ++m) {
      if (rng() % 3 != 0) series[p].push_back(bar(ids[p], m));
    }
  }
  const auto merged = merge_bars(series);
  EXPECT_EQ(merged.size(), series[0].size() + series[1].size() + series[2].size()) << "seed=" << seed;
  for (std::size_t i = 1; i < merged.size(); ++i) {
    const bool ordered = merged[i - 1].open_ts_s < merged[i].open_ts_s ||
                         (merged[i - 1].open_ts_s == merged[i].open_ts_s && merged[i - 1].product < merged[i].product);
    ASSERT_TRUE(ordered) << "seed=" << seed << " at " << i;
  }
}

TEST(ReplayFeed, MaxSpeedDeliversInOrderInBatchesWithGapsAndEnd) {
  const std::vector<std::vector<Bar>> series = {
      {bar(btc(), 0), bar(btc(), 1), bar(btc(), 4)},  // BTC misses minutes 2, 3
      {bar(eth(), 0), bar(eth(), 1), bar(eth(), 2), bar(eth(), 3), bar(eth(), 4)}};
  ManualScheduler sched;
  ReplayOptions opt;
  opt.batch_bars = 3;
  ReplayFeed feed(merge_bars(series), sched, opt);
  Recorder rec(sched);
  ASSERT_TRUE(feed.start(rec).ok());
  EXPECT_TRUE(rec.items.empty());  // asynchronous: nothing before the loop runs
  EXPECT_EQ(sched.run_due(1), 1u);
  EXPECT_EQ(rec.bars().size(), 3u);  // one batch
  EXPECT_EQ(sched.run_all(), 2u);    // 3 + 2 bars
  ASSERT_EQ(rec.items.size(), 8u + 1u + 1u);
  std::vector<std::string> seen;
  for (const auto& i : rec.items) {
    if (i.is_bar) {
      seen.push_back(i.bar.product.str() + "@" + std::to_string((i.bar.open_ts_s - kT0) / 60));
    } else if (i.event.kind == FeedEventKind::kGap) {
      seen.push_back("gap:" + i.event.product.str() + "@" + std::to_string((i.event.gap.start_ts_s - kT0) / 60) +
                     "-" + std::to_string((i.event.gap.end_ts_s - kT0) / 60));
    } else {
      seen.push_back(i.event.kind == FeedEventKind::kEndOfData ? "end" : "error");
    }
  }
  const std::vector<std::string> expected = {"BTC-USD@0", "ETH-USD@0", "BTC-USD@1",        "ETH-USD@1",
                                             "ETH-USD@2", "ETH-USD@3", "gap:BTC-USD@2-4", "BTC-USD@4",
                                             "ETH-USD@4", "end"};
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(feed.delivered(), 8u);
  EXPECT_EQ(sched.pending(), 0u);
}

TEST(ReplayFeed, RealSpeedDeliversEachBarAtItsMinute) {
  ManualScheduler sched;
  sched.advance_to(5'000'000);
  ReplayOptions opt;
  opt.speed = ReplaySpeed::kReal;
  const std::vector<std::vector<Bar>> series = {{bar(btc(), 0), bar(btc(), 1), bar(btc(), 3)}, {bar(eth(), 1)}};
  ReplayFeed feed(merge_bars(series), sched, opt);
  Recorder rec(sched);
  ASSERT_TRUE(feed.start(rec).ok());
  sched.run_all();
  std::vector<std::pair<std::int64_t, std::string>> got;
  for (const auto& i : rec.items) {
    if (i.is_bar) got.emplace_back(i.at_us, i.bar.product.str());
  }
  const std::vector<std::pair<std::int64_t, std::string>> expected = {
      {5'000'000, "BTC-USD"}, {65'000'000, "BTC-USD"}, {65'000'000, "ETH-USD"}, {185'000'000, "BTC-USD"}};
  EXPECT_EQ(got, expected);
}

TEST(ReplayFeed, AcceleratedSpeedDividesTheWaits) {
  ManualScheduler sched;
  ReplayOptions opt;
  opt.speed = ReplaySpeed::kAccelerated;
  opt.factor = 60;  // a minute per second
  const std::vector<std::vector<Bar>> series = {{bar(btc(), 0), bar(btc(), 1), bar(btc(), 10)}};
  ReplayFeed feed(merge_bars(series), sched, opt);
  Recorder rec(sched);
  ASSERT_TRUE(feed.start(rec).ok());
  sched.run_due();
  EXPECT_EQ(rec.bars().size(), 1u);
  sched.advance_to(999'999);
  sched.run_due();
  EXPECT_EQ(rec.bars().size(), 1u);  // not yet
  sched.advance_to(1'000'000);
  sched.run_due();
  EXPECT_EQ(rec.bars().size(), 2u);
  sched.run_all();
  ASSERT_EQ(rec.bars().size(), 3u);
  EXPECT_EQ(rec.items.back().event.kind, FeedEventKind::kEndOfData);
  EXPECT_EQ(rec.items.back().at_us, 10'000'000);
}

TEST(ReplayFeed, StopFromTheHandlerEndsDelivery) {
  ManualScheduler sched;
  std::vector<Bar> bars;
  for (int m = 0; m < 10; ++m) bars.push_back(bar(btc(), m));
  ReplayFeed feed(bars, sched, ReplayOptions{});
  Recorder rec(sched);
  rec.feed = &feed;
  rec.stop_after_bars = 4;
  ASSERT_TRUE(feed.start(rec).ok());
  sched.run_all();
  EXPECT_EQ(rec.items.size(), 4u);  // no end-of-data after stop
  EXPECT_FALSE(feed.start(rec).ok());
}

TEST(ReplayFeed, DestroyedFeedLeavesHarmlessTasks) {
  ManualScheduler sched;
  Recorder rec(sched);
  {
    ReplayFeed feed({bar(btc(), 0)}, sched, ReplayOptions{});
    ASSERT_TRUE(feed.start(rec).ok());
  }
  EXPECT_EQ(sched.run_all(), 1u);
  EXPECT_TRUE(rec.items.empty());
}

TEST(ReplayFeed, OptionLimits) {
  ManualScheduler sched;
  const auto make = [&](ReplaySpeed speed, double factor, std::size_t batch) {
    ReplayOptions o;
    o.speed = speed;
    o.factor = factor;
    o.batch_bars = batch;
    ReplayFeed feed({}, sched, o);
  };
  EXPECT_NO_THROW(make(ReplaySpeed::kAccelerated, 1.0, 1));
  EXPECT_NO_THROW(make(ReplaySpeed::kAccelerated, ReplayOptions::factor_max, 1));
  EXPECT_THROW(make(ReplaySpeed::kAccelerated, ReplayOptions::factor_max * 1.000001, 1), std::invalid_argument);
  EXPECT_THROW(make(ReplaySpeed::kAccelerated, 0.5, 1), std::invalid_argument);
  EXPECT_THROW(make(ReplaySpeed::kAccelerated, std::nan(""), 1), std::invalid_argument);
  EXPECT_NO_THROW(make(ReplaySpeed::kMax, 1.0, ReplayOptions::batch_bars_max));
  EXPECT_THROW(make(ReplaySpeed::kMax, 1.0, ReplayOptions::batch_bars_max + 1), std::invalid_argument);
  EXPECT_THROW(make(ReplaySpeed::kMax, 1.0, 0), std::invalid_argument);
  EXPECT_THROW(ReplayFeed({bar(btc(), 1), bar(btc(), 0)}, sched, ReplayOptions{}), std::invalid_argument);
  EXPECT_THROW(ReplayFeed({bar(btc(), 0), bar(btc(), 0)}, sched, ReplayOptions{}), std::invalid_argument);
}

TEST(ReplayFeed, EmptyReplayOnlyEnds) {
  ManualScheduler sched;
  ReplayFeed feed({}, sched, ReplayOptions{});
  Recorder rec(sched);
  ASSERT_TRUE(feed.start(rec).ok());
  sched.run_all();
  ASSERT_EQ(rec.items.size(), 1u);
  EXPECT_EQ(rec.items[0].event.kind, FeedEventKind::kEndOfData);
}

// The shipped demo files, time-aligned: every minute has BTC then ETH.
TEST(ReplayFeed, TwoProductsFromCsvAreTimeAligned) {
  ManualScheduler sched;
  const std::vector<ReplayFeed::CsvSource> sources = {
      {test::demo_data() / "ETH-USD_1m_demo.csv", eth()},
      {test::demo_data() / "BTC-USD_1m_demo.csv", btc()}};
  auto feed = ReplayFeed::from_csv(sources, sched, ReplayOptions{});
  ASSERT_TRUE(feed.ok()) << feed.error().message;
  Recorder rec(sched);
  ASSERT_TRUE(feed.value()->start(rec).ok());
  sched.run_all();
  const auto bars = rec.bars();
  ASSERT_EQ(bars.size(), 2u * 4320u);
  for (std::size_t i = 0; i < bars.size(); i += 2) {
    ASSERT_EQ(bars[i].product, btc()) << i;
    ASSERT_EQ(bars[i + 1].product, eth()) << i;
    ASSERT_EQ(bars[i].open_ts_s, bars[i + 1].open_ts_s) << i;
    if (i > 0) {
      ASSERT_EQ(bars[i].open_ts_s, bars[i - 2].open_ts_s + 60) << i;
    }
  }
  EXPECT_EQ(bars.front().open_ts_s, kT0);
  EXPECT_EQ(rec.items.size(), bars.size() + 1);  // no gaps, one end
}

TEST(ReplayFeed, FromStoreAndCsvErrors) {
  test::ScratchDir dir;
  auto store = CandleStore::open(dir / "c.db");
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(store.value().insert(std::vector<Bar>{bar(btc(), 0), bar(btc(), 2), bar(eth(), 1)}).ok());
  ManualScheduler sched;
  const std::vector<ProductId> products = {eth(), btc()};
  auto feed = ReplayFeed::from_store(store.value(), products, kT0, kT0 + 3600, sched, ReplayOptions{});
  ASSERT_TRUE(feed.ok()) << feed.error().message;
  Recorder rec(sched);
  ASSERT_TRUE(feed.value()->start(rec).ok());
  sched.run_all();
  EXPECT_EQ(rec.bars(), (std::vector<Bar>{bar(btc(), 0), bar(eth(), 1), bar(btc(), 2)}));
  const std::vector<ReplayFeed::CsvSource> missing = {{dir / "nope.csv", btc()}};
  auto bad = ReplayFeed::from_csv(missing, sched, ReplayOptions{});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("nope.csv"), std::string::npos);
}

TEST(ReplayFeed, RunsOnAnAsioIoContext) {
  boost::asio::io_context io;
  auto sched = make_asio_scheduler(io);
  std::vector<Bar> bars;
  for (int m = 0; m < 50; ++m) bars.push_back(bar(btc(), m));
  ReplayOptions opt;
  opt.speed = ReplaySpeed::kAccelerated;
  opt.factor = 60'000;  // 50 minutes in 50 ms
  ReplayFeed feed(bars, *sched, opt);
  Recorder rec(*sched);
  // Read the clock before start(): the feed takes its own start time
  // inside start(), and a later reading would make the delay look short.
  const std::int64_t start = sched->now_us();
  ASSERT_TRUE(feed.start(rec).ok());
  io.run();
  ASSERT_EQ(rec.bars(), bars);
  EXPECT_EQ(rec.items.back().event.kind, FeedEventKind::kEndOfData);
  // The last bar is due 49 minutes / 60000 = 49 ms after the start.
  EXPECT_GE(rec.items.back().at_us - start, 49'000);
}

}  // namespace
}  // namespace ta::agent
