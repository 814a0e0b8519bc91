// Candle response bodies and gap computation, without the network.
#include <gtest/gtest.h>

#include <string>

#include "coinbase/candles.h"

namespace ta::agent::coinbase {
namespace {

const ProductId kBtc = ProductId::parse("BTC-USD").value();
constexpr std::int64_t kT0 = 1'522'800'000;  // 2018-04-04T00:00:00Z

std::string row(std::int64_t ts, const char* o, const char* h, const char* l, const char* c, const char* v) {
  return std::string(R"({"start":")") + std::to_string(ts) + R"(","low":")" + l + R"(","high":")" + h +
         R"(","open":")" + o + R"(","close":")" + c + R"(","volume":")" + v + R"("})";
}

TEST(CandlesPage, ReadsRowsNewestFirst) {
  const std::string body = R"({"candles":[)" + row(kT0 + 60, "2", "3", "1", "2.5", "10") + "," +
                           row(kT0, "7424.91", "7424.91", "7422", "7422", "7.14319709") + "]}";
  auto page = parse_candles_page(body, kBtc, kT0, kT0 + 120);
  ASSERT_TRUE(page.ok()) << page.error().message;
  ASSERT_EQ(page->bars.size(), 2u);
  EXPECT_EQ(page->bars[0].open_ts_s, kT0 + 60);
  EXPECT_EQ(page->bars[1].open_ts_s, kT0);
  EXPECT_DOUBLE_EQ(page->bars[1].open, 7424.91);
  EXPECT_DOUBLE_EQ(page->bars[1].volume, 7.14319709);
  EXPECT_EQ(page->bars[1].product, kBtc);
  EXPECT_EQ(page->rows_received, 2u);
  EXPECT_EQ(page->rows_rejected, 0u);
}

TEST(CandlesPage, RejectsBadRowsKeepsGoodOnes) {
  const std::string rows[] = {
      row(kT0, "1", "1", "1", "1", "0"),               // valid, zero volume
      row(kT0 + 60, "1", "1", "2", "1", "1"),          // high < low
      row(kT0 + 120, "1e3", "1", "1", "1", "1"),       // exponent
      row(kT0 + 180, "5", "4", "1", "2", "1"),         // open above high
      row(kT0 + 30, "1", "1", "1", "1", "1"),          // not a minute
      row(kT0 + 240, "1", "1", "1", "1", "-1"),        // negative volume
      R"({"start":1522800300,"low":"1","high":"1","open":"1","close":"1","volume":"1"})",  // number, not string
      R"({"start":"1522800360","low":"1","high":"1","open":"1","close":"1"})",             // no volume
      row(kT0 + 420, "0", "0", "0", "0", "1"),         // price 0
      "7",
  };
  std::string body = R"({"candles":[)";
  for (std::size_t i = 0; i < std::size(rows); ++i) body += (i ? "," : "") + rows[i];
  body += "]}";
  auto page = parse_candles_page(body, kBtc, kT0, kT0 + 600);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->rows_received, std::size(rows));
  ASSERT_EQ(page->bars.size(), 1u);
  EXPECT_EQ(page->rows_rejected, std::size(rows) - 1);
  ASSERT_EQ(page->issues.size(), std::size(rows) - 1);
  EXPECT_NE(page->issues[0].find("row 1"), std::string::npos) << page->issues[0];
  EXPECT_NE(page->issues[0].find("high"), std::string::npos) << page->issues[0];
  EXPECT_NE(page->issues[5].find("start: not a string"), std::string::npos) << page->issues[5];
  EXPECT_NE(page->issues[6].find("volume: missing"), std::string::npos) << page->issues[6];
}

TEST(CandlesPage, RowsOutsideThePageAreDropped) {
  const std::string body = R"({"candles":[)" + row(kT0 + 120, "1", "1", "1", "1", "1") + "," +
                           row(kT0 + 60, "1", "1", "1", "1", "1") + "," + row(kT0 - 60, "1", "1", "1", "1", "1") +
                           "]}";
  auto page = parse_candles_page(body, kBtc, kT0, kT0 + 120);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->bars.size(), 1u);
  EXPECT_EQ(page->rows_outside_page, 2u);
}

TEST(CandlesPage, IssuesListIsBounded) {
  std::string body = R"({"candles":[)";
  for (int i = 0; i < 50; ++i) body += (i ? "," : "") + row(kT0 + i * 60, "x", "1", "1", "1", "1");
  body += "]}";
  auto page = parse_candles_page(body, kBtc, kT0, kT0 + 3000);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->rows_rejected, 50u);
  EXPECT_EQ(page->issues.size(), BackfillReport::kIssuesListedMax);
}

TEST(CandlesPage, BodyErrors) {
  EXPECT_FALSE(parse_candles_page("", kBtc, kT0, kT0 + 60).ok());
  EXPECT_FALSE(parse_candles_page("{\"candles\":[", kBtc, kT0, kT0 + 60).ok());
  EXPECT_FALSE(parse_candles_page("[]", kBtc, kT0, kT0 + 60).ok());
  EXPECT_FALSE(parse_candles_page("{}", kBtc, kT0, kT0 + 60).ok());
  EXPECT_FALSE(parse_candles_page(R"({"candles":{}})", kBtc, kT0, kT0 + 60).ok());
  auto empty = parse_candles_page(R"({"candles":[]})", kBtc, kT0, kT0 + 60);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->bars.empty());
}

Bar bar_at(std::int64_t ts) {
  Bar b;
  b.product = kBtc;
  b.open_ts_s = ts;
  b.open = b.high = b.low = b.close = 1;
  return b;
}

TEST(RangeGaps, EdgesAndInside) {
  const std::vector<Bar> bars = {bar_at(kT0 + 120), bar_at(kT0 + 180), bar_at(kT0 + 600)};
  const GapReport r = range_gaps(bars, kT0, kT0 + 900);
  ASSERT_EQ(r.gaps.size(), 3u);
  EXPECT_EQ(r.gaps[0], (Gap{kT0, kT0 + 120}));
  EXPECT_EQ(r.gaps[1], (Gap{kT0 + 240, kT0 + 600}));
  EXPECT_EQ(r.gaps[2], (Gap{kT0 + 660, kT0 + 900}));
  EXPECT_EQ(r.gap_count, 3);
  EXPECT_EQ(r.missing_minutes, 2 + 6 + 4);
  const GapReport none = range_gaps(bars, kT0 + 120, kT0 + 240);
  EXPECT_EQ(none.gap_count, 1);  // 180..600 inside; edges empty
  const GapReport all = range_gaps({}, kT0, kT0 + 300);
  ASSERT_EQ(all.gaps.size(), 1u);
  EXPECT_EQ(all.missing_minutes, 5);
}

}  // namespace
}  // namespace ta::agent::coinbase
