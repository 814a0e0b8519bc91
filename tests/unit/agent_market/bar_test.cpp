#include "market/bar.h"

#include <gtest/gtest.h>

#include <limits>
#include <type_traits>

namespace ta::agent {
namespace {

static_assert(std::is_trivially_copyable_v<ProductId>);
static_assert(std::is_trivially_copyable_v<Bar>);
static_assert(sizeof(ProductId) == 16);

TEST(ProductId, ParsesVenueSpellings) {
  for (const char* ok : {"BTC-USD", "ETH-USD", "BTCUSDT", "MATIC-USDC", "A", "1INCH-USD"}) {
    auto id = ProductId::parse(ok);
    ASSERT_TRUE(id.ok()) << ok;
    EXPECT_EQ(id->view(), ok);
  }
}

TEST(ProductId, LengthLimit) {
  EXPECT_TRUE(ProductId::parse(std::string(ProductId::kLengthMax - 1, 'A')).ok());
  EXPECT_TRUE(ProductId::parse(std::string(ProductId::kLengthMax, 'A')).ok());
  EXPECT_EQ(ProductId::parse(std::string(ProductId::kLengthMax, 'A'))->view().size(), ProductId::kLengthMax);
  EXPECT_FALSE(ProductId::parse(std::string(ProductId::kLengthMax + 1, 'A')).ok());
}

TEST(ProductId, RefusesJunk) {
  for (const char* bad : {"", "btc-usd", "BTC USD", "-BTC", "BTC-", "BTC/USD", "BTC\n"}) {
    auto id = ProductId::parse(bad);
    EXPECT_FALSE(id.ok()) << bad;
  }
  EXPECT_FALSE(ProductId::parse(std::string_view("BT\0C", 4)).ok());
  EXPECT_TRUE(ProductId().empty());
}

TEST(ProductId, OrdersLikeItsText) {
  const auto id = [](const char* s) { return ProductId::parse(s).value(); };
  EXPECT_LT(id("BTC-USD"), id("ETH-USD"));
  EXPECT_LT(id("BTC"), id("BTC-USD"));  // a prefix sorts first
  EXPECT_LT(id("BTC-USD"), id("BTC-USDC"));
  EXPECT_EQ(id("BTC-USD"), id("BTC-USD"));
}

TEST(Time, MinuteFloor) {
  EXPECT_EQ(minute_floor_s(0), 0);
  EXPECT_EQ(minute_floor_s(59), 0);
  EXPECT_EQ(minute_floor_s(60), 60);
  EXPECT_EQ(minute_floor_s(-1), -60);
  EXPECT_EQ(minute_floor_s(1522800059), 1522800000);
}

TEST(Time, FormatUtc) {
  EXPECT_EQ(format_utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_utc(1522860480), "2018-04-04T16:48:00Z");
  EXPECT_EQ(format_utc(kTimestampMax_s), "2200-01-01T00:00:00Z");
}

Bar good() { return Bar{ProductId::parse("BTC-USD").value(), 1522800000, 10, 11, 9, 10, 1, std::nullopt}; }

TEST(CheckBar, AcceptsValidAndEdgeBars) {
  EXPECT_EQ(check_bar(good()), BarDefect::kNone);
  Bar flat = good();
  flat.open = flat.high = flat.low = flat.close = 10;
  flat.volume = 0;
  EXPECT_EQ(check_bar(flat), BarDefect::kNone);
  Bar edge = good();
  edge.open_ts_s = kTimestampMax_s;
  EXPECT_EQ(check_bar(edge), BarDefect::kNone);
  edge.open_ts_s = 0;
  EXPECT_EQ(check_bar(edge), BarDefect::kNone);
  Bar quoted = good();
  quoted.quote = Quote{9.99, 10.01};
  EXPECT_EQ(check_bar(quoted), BarDefect::kNone);
}

TEST(CheckBar, FindsEachDefect) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto with = [](auto edit) {
    Bar b = good();
    edit(b);
    return check_bar(b);
  };
  EXPECT_EQ(with([](Bar& b) { b.open_ts_s = 1522800001; }), BarDefect::kTimestampNotMinute);
  EXPECT_EQ(with([](Bar& b) { b.open_ts_s = -60; }), BarDefect::kTimestampOutOfRange);
  EXPECT_EQ(with([](Bar& b) { b.open_ts_s = kTimestampMax_s + 60; }), BarDefect::kTimestampOutOfRange);
  EXPECT_EQ(with([&](Bar& b) { b.close = nan; }), BarDefect::kNotFinite);
  EXPECT_EQ(with([](Bar& b) { b.volume = std::numeric_limits<double>::infinity(); }), BarDefect::kNotFinite);
  EXPECT_EQ(with([](Bar& b) { b.low = 0; }), BarDefect::kPriceNotPositive);
  EXPECT_EQ(with([](Bar& b) { b.volume = -0.5; }), BarDefect::kVolumeNegative);
  EXPECT_EQ(with([](Bar& b) { b.high = 8; }), BarDefect::kHighBelowLow);
  EXPECT_EQ(with([](Bar& b) { b.open = 11.5; }), BarDefect::kOpenOutsideRange);
  EXPECT_EQ(with([](Bar& b) { b.close = 8.5; }), BarDefect::kCloseOutsideRange);
  EXPECT_EQ(with([](Bar& b) { b.quote = Quote{10.02, 10.01}; }), BarDefect::kQuoteInvalid);
  EXPECT_EQ(with([&](Bar& b) { b.quote = Quote{nan, 10.01}; }), BarDefect::kQuoteInvalid);
}

std::vector<Bar> bars_at(std::initializer_list<std::int64_t> minutes) {
  std::vector<Bar> out;
  for (std::int64_t m : minutes) {
    Bar b = good();
    b.open_ts_s = 1522800000 + 60 * m;
    out.push_back(b);
  }
  return out;
}

TEST(FindGaps, ReportsHalfOpenRanges) {
  EXPECT_EQ(find_gaps(bars_at({})).gap_count, 0);
  EXPECT_EQ(find_gaps(bars_at({0, 1, 2})).gap_count, 0);
  const GapReport r = find_gaps(bars_at({0, 1, 3, 10, 11}));
  EXPECT_EQ(r.gap_count, 2);
  EXPECT_EQ(r.missing_minutes, 1 + 6);
  ASSERT_EQ(r.gaps.size(), 2u);
  EXPECT_EQ(r.gaps[0], (Gap{1522800000 + 120, 1522800000 + 180}));
  EXPECT_EQ(r.gaps[0].minutes(), 1);
  EXPECT_EQ(r.gaps[1], (Gap{1522800000 + 240, 1522800000 + 600}));
}

TEST(FindGaps, ListIsBoundedButCountsAreNot) {
  std::vector<Bar> bars;
  const std::size_t gaps = GapReport::kGapsListedMax + 1;
  for (std::size_t i = 0; i <= gaps; ++i) {
    Bar b = good();
    b.open_ts_s = 1522800000 + static_cast<std::int64_t>(120 * i);  // every other minute
    bars.push_back(b);
  }
  const GapReport r = find_gaps(bars);
  EXPECT_EQ(r.gap_count, static_cast<std::int64_t>(gaps));
  EXPECT_EQ(r.missing_minutes, static_cast<std::int64_t>(gaps));
  EXPECT_EQ(r.gaps.size(), GapReport::kGapsListedMax);
}

}  // namespace
}  // namespace ta::agent
