#include "market/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>

#include "agent_test_support.h"

namespace ta::agent {
namespace {

ProductId btc() { return ProductId::parse("BTC-USD").value(); }
ProductId eth() { return ProductId::parse("ETH-USD").value(); }

constexpr std::int64_t kT0 = 1522800000;

std::vector<Bar> series(ProductId product, std::int64_t first_minute, std::int64_t count, double base = 100) {
  std::vector<Bar> out;
  for (std::int64_t i = first_minute; i < first_minute + count; ++i) {
    const double p = base + static_cast<double>(i % 7);
    out.push_back(Bar{product, kT0 + 60 * i, p, p + 1, p - 1, p + 0.5, 1.0 + static_cast<double>(i), std::nullopt});
  }
  return out;
}

// Runs one SQL statement on the database file directly, for inspection and
// for simulating hand edits.
std::string sql_text(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open(db.string().c_str(), &h), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
  std::string out;
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != nullptr) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  }
  sqlite3_finalize(s);
  sqlite3_close(h);
  return out;
}

TEST(CandleStore, CreatesSchemaInWalMode) {
  test::ScratchDir dir;
  auto store = CandleStore::open(dir / "c.db");
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ(sql_text(dir / "c.db", "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(sql_text(dir / "c.db", "SELECT version FROM ta_schema WHERE component='candles'"), "1");
  EXPECT_NE(sql_text(dir / "c.db", "SELECT sql FROM sqlite_master WHERE name='candles'").find("PRIMARY KEY (product, ts)"),
            std::string::npos);
}

TEST(CandleStore, RefusesAnotherSchemaVersionAndBadPaths) {
  test::ScratchDir dir;
  { ASSERT_TRUE(CandleStore::open(dir / "c.db").ok()); }
  sql_text(dir / "c.db", "UPDATE ta_schema SET version = 2 WHERE component = 'candles'");
  auto again = CandleStore::open(dir / "c.db");
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("schema version 2"), std::string::npos);
  auto nowhere = CandleStore::open(dir / "missing-dir" / "c.db");
  ASSERT_FALSE(nowhere.ok());
  EXPECT_NE(nowhere.error().message.find("missing-dir"), std::string::npos);
}

TEST(CandleStore, InsertIsIdempotent) {
  test::ScratchDir dir;
  auto store = CandleStore::open(dir / "c.db");
  ASSERT_TRUE(store.ok());
  CandleStore& db = store.value();
  const auto bars = series(btc(), 0, 100);
  auto first = db.insert(bars);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->committed);
  EXPECT_EQ(first->rows_inserted, 100u);
  auto second = db.insert(bars);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->committed);
  EXPECT_EQ(second->rows_inserted, 0u);
  EXPECT_EQ(second->rows_already_present, 100u);
  EXPECT_EQ(db.count(btc()).value(), 100u);
  // Overlap: half old, half new.
  auto overlap = db.insert(series(btc(), 50, 100));
  ASSERT_TRUE(overlap.ok());
  EXPECT_EQ(overlap->rows_inserted, 50u);
  EXPECT_EQ(overlap->rows_already_present, 50u);
  auto loaded = db.load(btc(), 0, kT0 + 60 * 1000);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded.value(), series(btc(), 0, 150));
}

TEST(CandleStore, ConflictsAreReportedAndNothingIsWritten) {
  test::ScratchDir dir;
  auto store = CandleStore::open(dir / "c.db");
  ASSERT_TRUE(store.ok());
  CandleStore& db = store.value();
  ASSERT_TRUE(db.insert(series(btc(), 0, 10)).ok());
  auto incoming = series(btc(), 5, 10);  // 5..9 overlap, 10..14 new
  incoming[2].close += 0.25;             // minute 7 differs
  incoming[2].high += 1;
  auto r = db.insert(incoming);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->committed);
  EXPECT_EQ(r->conflict_count, 1u);
  EXPECT_EQ(r->rows_inserted, 0u);
  ASSERT_EQ(r->conflicts.size(), 1u);
  EXPECT_EQ(r->conflicts[0].stored, series(btc(), 7, 1)[0]);
  EXPECT_EQ(r->conflicts[0].incoming, incoming[2]);
  EXPECT_EQ(db.count(btc()).value(), 10u);  // the new minutes were not written either
  EXPECT_EQ(db.load(btc(), 0, kT0 + 6000).value(), series(btc(), 0, 10));
}

TEST(CandleStore, ConflictListIsBounded) {
  test::ScratchDir dir;
  auto store = CandleStore::open(dir / "c.db");
  ASSERT_TRUE(store.ok());
  CandleStore& db = store.value();
  const std::int64_t n = static_cast<std::int64_t>(ImportReport::kConflictsListedMax) + 3;
  ASSERT_TRUE(db.insert(series(btc(), 0, n)).ok());
  auto changed = series(btc(), 0, n);
  for (Bar& b : changed) b.volume += 1;
  auto r = db.insert(changed);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->conflict_count, static_cast<std::uint64_t>(n));
  EXPECT_EQ(r->conflicts.size(), ImportReport::kConflictsListedMax);
}

TEST(CandleStore, InvalidBarsAreRefusedWithoutWriting) {
  test::ScratchDir dir;
  auto store = CandleStore::open(dir / "c.db");
  ASSERT_TRUE(store.ok());
  CandleStore& db = store.value();
  auto bars = series(btc(), 0, 3);
  bars[2].low = bars[2].high + 1;
  auto r = db.insert(bars);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("high is below low"), std::string::npos);
  bars[2] = series(btc(), 2, 1)[0];
  bars[2].product = ProductId{};
  EXPECT_FALSE(db.insert(bars).ok());
  EXPECT_EQ(db.count(btc()).value(), 0u);
}

TEST(CandleStore, LoadsRangesPerProductWithARowLimit) {
  test::ScratchDir dir;
  auto store = CandleStore::open(dir / "c.db");
  ASSERT_TRUE(store.ok());
  CandleStore& db = store.value();
  ASSERT_TRUE(db.insert(series(btc(), 0, 20)).ok());
  ASSERT_TRUE(db.insert(series(eth(), 0, 20, 2000)).ok());
  auto mid = db.load(btc(), kT0 + 60 * 5, kT0 + 60 * 8);  // [5, 8)
  ASSERT_TRUE(mid.ok());
  ASSERT_EQ(mid->size(), 3u);
  EXPECT_EQ(mid->front().open_ts_s, kT0 + 300);
  EXPECT_EQ(mid->back().open_ts_s, kT0 + 420);
  EXPECT_TRUE(db.load(btc(), kT0 + 60 * 5, kT0 + 60 * 8, 3).ok());
  auto over = db.load(btc(), kT0 + 60 * 5, kT0 + 60 * 8, 2);
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.error().message.find("more than 2 bars"), std::string::npos);
  EXPECT_EQ(db.products().value(), (std::vector<ProductId>{btc(), eth()}));
  EXPECT_EQ(db.load(eth(), 0, kT0 + 6000).value(), series(eth(), 0, 20, 2000));
}

TEST(CandleStore, ProductListLimit) {
  test::ScratchDir dir;
  auto store = CandleStore::open(dir / "c.db");
  ASSERT_TRUE(store.ok());
  CandleStore& db = store.value();
  std::vector<Bar> bars;
  for (std::size_t i = 0; i < CandleStore::kProductsMax; ++i) {
    Bar b = series(btc(), 0, 1)[0];
    b.product = ProductId::parse("P" + std::to_string(i)).value();
    bars.push_back(b);
  }
  ASSERT_TRUE(db.insert(bars).ok());
  auto at_limit = db.products();
  ASSERT_TRUE(at_limit.ok()) << at_limit.error().message;
  EXPECT_EQ(at_limit->size(), CandleStore::kProductsMax);
  ASSERT_TRUE(db.insert(series(btc(), 0, 1)).ok());
  auto over = db.products();
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.error().message.find("more than 10000 products"), std::string::npos);
}

TEST(CandleStore, HandEditedBadRowIsReportedOnLoad) {
  test::ScratchDir dir;
  {
    auto store = CandleStore::open(dir / "c.db");
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.value().insert(series(btc(), 0, 5)).ok());
  }
  sql_text(dir / "c.db", "UPDATE candles SET low = 1000 WHERE ts = " + std::to_string(kT0 + 120));
  auto store = CandleStore::open(dir / "c.db");
  ASSERT_TRUE(store.ok());
  CandleStore& db = store.value();
  auto r = db.load(btc(), 0, kT0 + 6000);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("2018-04-04T00:02:00Z"), std::string::npos) << r.error().message;
}

TEST(ImportCsv, ReportsCountsAndGapsAndIsIdempotent) {
  test::ScratchDir dir;
  const auto file = dir / "bars.csv";
  std::ofstream(file) << "ts,open,high,low,close,volume\n"
                      << kT0 << ",10,11,9,10,1\n"
                      << kT0 << ",10,11,9,10,1\n"  // identical duplicate row
                      << kT0 + 60 << ",10,11,9,10,1\n"
                      << kT0 + 300 << ",10,11,9,10,1\n";
  auto store = CandleStore::open(dir / "c.db");
  ASSERT_TRUE(store.ok());
  CandleStore& db = store.value();
  auto r = import_csv(db, file, btc());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->csv.rows_read, 4u);
  EXPECT_EQ(r->csv.duplicates, 1u);
  EXPECT_EQ(r->store.rows_inserted, 3u);
  EXPECT_EQ(r->gaps.gap_count, 1);
  EXPECT_EQ(r->gaps.missing_minutes, 3);
  EXPECT_EQ(r->gaps.gaps[0], (Gap{kT0 + 120, kT0 + 300}));
  auto again = import_csv(db, file, btc());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->store.rows_inserted, 0u);
  EXPECT_EQ(again->store.rows_already_present, 3u);
  EXPECT_EQ(db.count(btc()).value(), 3u);
}

TEST(ImportCsv, StrictByDefault) {
  test::ScratchDir dir;
  const auto file = dir / "bars.csv";
  std::ofstream(file) << "ts,open,high,low,close,volume\n" << kT0 << ",10,11,9,10,1\n" << kT0 + 60 << ",10,9,11,10,1\n";
  auto store = CandleStore::open(dir / "c.db");
  ASSERT_TRUE(store.ok());
  CandleStore& db = store.value();
  auto r = import_csv(db, file, btc());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("bars.csv:3:"), std::string::npos);
  EXPECT_EQ(db.count(btc()).value(), 0u);
  CsvOptions skip;
  skip.policy = BadRowPolicy::kSkip;
  auto lenient = import_csv(db, file, btc(), skip);
  ASSERT_TRUE(lenient.ok());
  EXPECT_EQ(lenient->csv.rows_skipped, 1u);
  EXPECT_EQ(db.count(btc()).value(), 1u);
}

// The real Coinbase outage: the feed stopped after 2018-04-04 16:47 and came
// back at 2018-04-05 00:00 (432 missing minutes), plus one missing minute
// at 16:46. Both stay gaps in the store.
TEST(ImportCsv, RealCoinbaseOutageStaysAGap) {
  const auto file = test::shared_data() / "coinbase_BTC-USD_1m_2018-04-04_2018-04-06.csv";
  if (!std::filesystem::exists(file)) GTEST_FAIL() << "shared data missing (set -DTA_SHARED_DATA): " << file;
  test::ScratchDir dir;
  auto store = CandleStore::open(dir / "c.db");
  ASSERT_TRUE(store.ok());
  CandleStore& db = store.value();
  auto r = import_csv(db, file, btc());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->store.rows_inserted, 3887u);
  EXPECT_EQ(r->gaps.gap_count, 2);
  EXPECT_EQ(r->gaps.missing_minutes, 433);
  ASSERT_EQ(r->gaps.gaps.size(), 2u);
  EXPECT_EQ(format_utc(r->gaps.gaps[0].start_ts_s), "2018-04-04T16:46:00Z");
  EXPECT_EQ(r->gaps.gaps[0].minutes(), 1);
  const Gap outage = r->gaps.gaps[1];
  EXPECT_EQ(format_utc(outage.start_ts_s), "2018-04-04T16:48:00Z");
  EXPECT_EQ(format_utc(outage.end_ts_s), "2018-04-05T00:00:00Z");
  EXPECT_EQ(outage.minutes(), 432);
  // Nothing was filled in: the store has no bar inside the outage, and the
  // same gaps come back out.
  EXPECT_EQ(db.load(btc(), outage.start_ts_s, outage.end_ts_s).value().size(), 0u);
  auto all = db.load(btc(), 0, kTimestampMax_s);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3887u);
  const GapReport back = find_gaps(*all);
  EXPECT_EQ(back.gaps, r->gaps.gaps);
}

TEST(ImportCsv, ShippedOutageSampleHasTheSameGap) {
  const auto file = test::demo_data() / "BTC-USD_1m_coinbase_outage.csv";
  test::ScratchDir dir;
  auto store = CandleStore::open(dir / "c.db");
  ASSERT_TRUE(store.ok());
  CandleStore& db = store.value();
  auto r = import_csv(db, file, btc());
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->gaps.gap_count, 2);
  EXPECT_EQ(format_utc(r->gaps.gaps[1].start_ts_s), "2018-04-04T16:48:00Z");
  EXPECT_EQ(format_utc(r->gaps.gaps[1].end_ts_s), "2018-04-05T00:00:00Z");
}

}  // namespace
}  // namespace ta::agent
