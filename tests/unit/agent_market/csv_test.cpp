#include "market/csv.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "agent_test_support.h"

namespace ta::agent {
namespace {

ProductId btc() { return ProductId::parse("BTC-USD").value(); }

const std::string kHeader = "ts,open,high,low,close,volume\n";

Result<CsvBars> parse(const std::string& text, const CsvOptions& options = {}) {
  return parse_bars_csv(text, "bars.csv", btc(), options);
}

CsvOptions skipping() {
  CsvOptions o;
  o.policy = BadRowPolicy::kSkip;
  return o;
}

TEST(CsvBars, ParsesValidRowsExactly) {
  auto r = parse(kHeader +
                 "1522800000,7424.91,7424.91,7422,7422,7.14319709\n"
                 "1522800060,7420,7422,7405,7405,13.35069752\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->bars.size(), 2u);
  const Bar& b = r->bars[0];
  EXPECT_EQ(b.product, btc());
  EXPECT_EQ(b.open_ts_s, 1522800000);
  EXPECT_EQ(b.open, 7424.91);
  EXPECT_EQ(b.high, 7424.91);
  EXPECT_EQ(b.low, 7422.0);
  EXPECT_EQ(b.close, 7422.0);
  EXPECT_EQ(b.volume, 7.14319709);
  EXPECT_EQ(r->report.rows_read, 2u);
  EXPECT_EQ(r->report.rows_accepted, 2u);
}

TEST(CsvBars, AcceptsCrlfMissingFinalNewlineAndBlankLines) {
  auto r = parse("ts,open,high,low,close,volume\r\n1522800000,1,2,1,2,0\r\n\n1522800060,2,2,2,2,5");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->bars.size(), 2u);
  EXPECT_EQ(r->report.blank_lines, 1u);
  EXPECT_EQ(r->bars[0].volume, 0.0);  // a zero-volume minute is a valid bar
}

TEST(CsvBars, HeaderIsRequired) {
  auto empty = parse("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().message.rfind("bars.csv:1:1: empty file", 0), 0u) << empty.error().message;
  auto missing = parse("1522800000,1,2,1,2,0\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("bars.csv:1:1: header must be"), std::string::npos);
  // Skipping bad rows never excuses a wrong header.
  auto other = parse("time,o,h,l,c,v\n", skipping());
  ASSERT_FALSE(other.ok());
}

struct BadRow {
  const char* name;
  std::string row;
  RowDefect defect;
  int column;
};

class CsvBadRow : public ::testing::TestWithParam<BadRow> {};

// Each bad row is the third line, after a valid first row at 1522800000.
TEST_P(CsvBadRow, StrictErrorNamesFileLineColumn) {
  const BadRow& c = GetParam();
  auto r = parse(kHeader + "1522800000,10,11,9,10,1\n" + c.row + "\n");
  ASSERT_FALSE(r.ok()) << c.name;
  const std::string prefix = "bars.csv:3:" + std::to_string(c.column) + ": " + std::string(describe(c.defect));
  EXPECT_EQ(r.error().message.rfind(prefix, 0), 0u) << r.error().message << "\nexpected prefix " << prefix;
}

TEST_P(CsvBadRow, SkipPolicyCountsAndContinues) {
  const BadRow& c = GetParam();
  auto r = parse(kHeader + "1522800000,10,11,9,10,1\n" + c.row + "\n1522800120,10,11,9,10,1\n", skipping());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->bars.size(), 2u);
  EXPECT_EQ(r->report.rows_read, 3u);
  EXPECT_EQ(r->report.rows_skipped, 1u);
  EXPECT_EQ(r->report.skipped_by_defect[static_cast<std::size_t>(c.defect)], 1u);
  ASSERT_EQ(r->report.issues.size(), 1u);
  EXPECT_EQ(r->report.issues[0].rfind("bars.csv:3:" + std::to_string(c.column) + ":", 0), 0u);
}

// Columns: "1522800060," is 11 characters, so open starts at 12; with
// two-character values "10," each later field starts 3 further on.
INSTANTIATE_TEST_SUITE_P(
    Rows, CsvBadRow,
    ::testing::Values(
        BadRow{"five_columns", "1522800060,10,11,9,10", RowDefect::kColumnCount, 1},
        BadRow{"seven_columns", "1522800060,10,11,9,10,1,7", RowDefect::kColumnCount, 1},
        BadRow{"ts_text", "abc,10,11,9,10,1", RowDefect::kNumberSyntax, 1},
        BadRow{"ts_fraction", "1522800060.0,10,11,9,10,1", RowDefect::kNumberSyntax, 1},
        BadRow{"close_text", "1522800060,10,11,9,x,1", RowDefect::kNumberSyntax, 20},
        BadRow{"trailing_junk", "1522800060,10,11,9,10,1kg", RowDefect::kNumberSyntax, 23},
        BadRow{"empty_field", "1522800060,,11,9,10,1", RowDefect::kNumberSyntax, 12},
        BadRow{"plus_sign", "1522800060,+10,11,9,10,1", RowDefect::kNumberSyntax, 12},
        BadRow{"space", "1522800060, 10,11,9,10,1", RowDefect::kNumberSyntax, 12},
        BadRow{"nan", "1522800060,nan,11,9,10,1", RowDefect::kNotFinite, 12},
        BadRow{"inf_volume", "1522800060,10,11,9,10,inf", RowDefect::kNotFinite, 23},
        BadRow{"negative_price", "1522800060,-10,11,9,10,1", RowDefect::kPriceNotPositive, 12},
        BadRow{"zero_low", "1522800060,10,11,0,10,1", RowDefect::kPriceNotPositive, 18},
        BadRow{"negative_volume", "1522800060,10,11,9,10,-1", RowDefect::kVolumeNegative, 23},
        BadRow{"high_below_low", "1522800060,10,9,11,10,1", RowDefect::kHighBelowLow, 15},
        BadRow{"open_above_high", "1522800060,12,11,9,10,1", RowDefect::kOpenOutsideRange, 12},
        BadRow{"close_below_low", "1522800060,10,11,9,8,1", RowDefect::kCloseOutsideRange, 20},
        BadRow{"ts_not_minute", "1522800061,10,11,9,10,1", RowDefect::kTimestampNotMinute, 1},
        BadRow{"ts_negative", "-60,10,11,9,10,1", RowDefect::kTimestampOutOfRange, 1},
        BadRow{"ts_unsorted", "1522799940,10,11,9,10,1", RowDefect::kTimestampUnsorted, 1},
        BadRow{"ts_conflict", "1522800000,10,11,9,10,2", RowDefect::kTimestampConflict, 1}),
    [](const ::testing::TestParamInfo<BadRow>& p) { return std::string(p.param.name); });

TEST(CsvBars, IdenticalRepeatedRowIsADuplicateUnderBothPolicies) {
  const std::string text = kHeader + "1522800000,10,11,9,10,1\n1522800000,10,11,9,10,1\n1522800060,10,11,9,10,1\n";
  for (const CsvOptions& o : {CsvOptions{}, skipping()}) {
    auto r = parse(text, o);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->bars.size(), 2u);
    EXPECT_EQ(r->report.duplicates, 1u);
    EXPECT_EQ(r->report.rows_skipped, 0u);
  }
}

TEST(CsvBars, SkipPolicyListsAtMostTheIssueLimit) {
  std::string text = kHeader + "1522800000,10,11,9,10,1\n";
  const std::size_t bad = CsvReport::kIssuesListedMax + 5;
  for (std::size_t i = 0; i < bad; ++i) text += "junk\n";
  auto r = parse(text, skipping());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->report.rows_skipped, bad);
  EXPECT_EQ(r->report.issues.size(), CsvReport::kIssuesListedMax);
  EXPECT_EQ(r->report.skipped_by_defect[static_cast<std::size_t>(RowDefect::kColumnCount)], bad);
}

// Pads a valid row with leading zeros in the volume field to `length`.
std::string row_of_length(std::size_t length) {
  const std::string head = "1522800000,10,11,9,10,";
  return head + std::string(length - head.size() - 1, '0') + "1";
}

TEST(CsvBars, LineLengthLimit) {
  CsvOptions o;
  o.limits.line_length_max = 40;
  EXPECT_TRUE(parse(kHeader + row_of_length(39) + "\n", o).ok());
  EXPECT_TRUE(parse(kHeader + row_of_length(40) + "\n", o).ok());
  auto over = parse(kHeader + row_of_length(41) + "\n", o);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().message, "bars.csv:2:41: line longer than 40 characters");
  // A long line is refused even when skipping bad rows: it is not a bar file.
  o.policy = BadRowPolicy::kSkip;
  EXPECT_FALSE(parse(kHeader + row_of_length(41) + "\n", o).ok());
  // The default limit, 256.
  EXPECT_TRUE(parse(kHeader + row_of_length(256) + "\n").ok());
  EXPECT_FALSE(parse(kHeader + row_of_length(257) + "\n").ok());
}

TEST(CsvBars, FileSizeLimit) {
  const std::string text = kHeader + "1522800000,10,11,9,10,1\n";
  CsvOptions o;
  o.limits.file_size_max_bytes = text.size();
  EXPECT_TRUE(parse(text, o).ok());
  o.limits.file_size_max_bytes = text.size() - 1;
  auto r = parse(text, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("more than the limit"), std::string::npos);
}

TEST(CsvBars, RowCountLimit) {
  std::string text = kHeader;
  for (int i = 0; i < 5; ++i) text += std::to_string(1522800000 + 60 * i) + ",10,11,9,10,1\n";
  CsvOptions o;
  o.limits.rows_max = 5;
  EXPECT_TRUE(parse(text, o).ok());
  o.limits.rows_max = 6;
  EXPECT_TRUE(parse(text, o).ok());
  o.limits.rows_max = 4;
  auto r = parse(text, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "bars.csv:6:1: more than 4 rows");
}

TEST(CsvBars, ReadsFilesAndNamesThemInErrors) {
  test::ScratchDir dir;
  const auto path = dir / "x.csv";
  std::ofstream(path) << kHeader << "1522800000,10,11,9,10,1\n1522800060,10,11,9,10\n";
  auto r = read_bars_csv(path, btc());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind(path.string() + ":3:1: wrong number of columns", 0), 0u) << r.error().message;
  auto missing = read_bars_csv(dir / "none.csv", btc());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("none.csv"), std::string::npos);
  EXPECT_FALSE(read_bars_csv(path, ProductId{}).ok());
}

TEST(CsvBars, FormatRoundTrips) {
  auto r = parse(kHeader + "1522800000,7424.91,7424.91,7422,7422,7.14319709\n1522800060,0.1,0.30000000000000004,0.1,0.2,0\n");
  ASSERT_TRUE(r.ok());
  auto back = parse(format_bars_csv(r->bars));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->bars, r->bars);
}

TEST(CsvBars, RealSharedFilesAreValid) {
  const auto dir = test::shared_data();
  const char* files[] = {"binance_BTCUSDT_1m_2025-05-20_2025-08-17.csv", "binance_ETHUSDT_1m_2025-05-20_2025-08-17.csv",
                         "coinbase_BTC-USD_1m_2018-04-04_2018-04-06.csv", "coinbase_ETH-USD_1m_2018-04-04_2018-04-05.csv"};
  const std::uint64_t rows[] = {129'600, 129'600, 3'887, 2'449};
  if (!std::filesystem::exists(dir / files[0])) GTEST_FAIL() << "shared data missing (set -DTA_SHARED_DATA): " << dir;
  for (std::size_t i = 0; i < 4; ++i) {
    auto r = read_bars_csv(dir / files[i], btc());
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->report.rows_accepted, rows[i]) << files[i];
    EXPECT_EQ(r->report.rows_skipped + r->report.duplicates, 0u);
  }
}

}  // namespace
}  // namespace ta::agent
