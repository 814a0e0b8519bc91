// Market data for runs: arguments, CSV refusals, the merged order, the
// fixed-point bars and times.
#include <cmath>
#include <random>

#include "backtest_test_support.h"
#include "market/feed.h"
#include "market/store.h"
#include "strategy/ipc_convert.h"

namespace ta::backtest::test {
namespace {

constexpr const char* kHeader = "ts,open,high,low,close,volume\n";

std::string row(std::int64_t ts, const char* rest = "100,101,99,100.5,2") { return std::to_string(ts) + "," + rest + "\n"; }

TEST(Data, ParsesDataArguments) {
  auto csv = parse_data_argument("BTC-USD=data/x.csv").value();
  EXPECT_FALSE(csv.is_store);
  EXPECT_EQ(csv.product, pid("BTC-USD"));
  EXPECT_EQ(csv.path, "data/x.csv");
  auto store = parse_data_argument("agent.sqlite").value();
  EXPECT_TRUE(store.is_store);
  EXPECT_FALSE(parse_data_argument("btc usd=x.csv").ok());
  EXPECT_FALSE(parse_data_argument("BTC-USD=").ok());
  EXPECT_FALSE(parse_data_argument("").ok());
}

TEST(Data, ParsesTimes) {
  EXPECT_EQ(parse_time_s("1752105600").value(), 1752105600);
  EXPECT_EQ(parse_time_s("2025-07-10").value(), 1752105600);
  EXPECT_EQ(parse_time_s("2025-07-10T00:01Z").value(), 1752105660);
  EXPECT_EQ(parse_time_s("2025-07-10T00:01:30Z").value(), 1752105690);
  EXPECT_EQ(parse_time_s("1970-01-01").value(), 0);
  for (const char* bad : {"", "2025-7-10", "2025-02-30", "2025-07-10T25:00Z", "2025-07-10 00:00", "-5", "x",
                          "2025-07-10T00:00", "99999999999"}) {
    EXPECT_FALSE(parse_time_s(bad).ok()) << bad;
  }
}

TEST(Data, MergesProductsByTimeThenProduct) {
  const MarketData m = demo_market();
  ASSERT_EQ(m.bars.size(), 8640u);
  ASSERT_EQ(m.gate_bars.size(), m.bars.size());
  for (std::size_t i = 1; i < m.bars.size(); ++i) {
    const auto& a = m.bars[i - 1];
    const auto& b = m.bars[i];
    EXPECT_TRUE(a.open_ts_s < b.open_ts_s || (a.open_ts_s == b.open_ts_s && a.product < b.product)) << i;
  }
  ASSERT_EQ(m.products.size(), 2u);
  EXPECT_EQ(m.products[0].product, pid("BTC-USD"));
  EXPECT_EQ(m.products[0].bars, 4320u);
  EXPECT_EQ(m.products[0].gap_count, 0);
}

TEST(Data, GapsAreReportedNotFilled) {
  const MarketData m = outage_market();
  EXPECT_EQ(m.bars.size(), 647u);
  ASSERT_EQ(m.products.size(), 1u);
  EXPECT_EQ(m.products[0].gap_count, 2);
  EXPECT_EQ(m.products[0].missing_minutes, 433);
}

TEST(Data, GateBarsEqualTheSimRelayPath) {
  // SIM relays bars to the gate as gate.proto Bars; the backtester converts
  // directly. Both must give the same fixed-point bar.
  for (const MarketData& m : {demo_market(), outage_market()}) {
    for (std::size_t i = 0; i < m.bars.size(); ++i) {
      const gate::Bar relayed = gate::parse_bar(agent::to_ipc_bar(m.bars[i]).value()).value();
      const gate::Bar& direct = m.gate_bars[i];
      ASSERT_EQ(relayed.product, direct.product);
      ASSERT_EQ(relayed.open_ts_ns, direct.open_ts_ns);
      ASSERT_EQ(relayed.open, direct.open);
      ASSERT_EQ(relayed.high, direct.high);
      ASSERT_EQ(relayed.low, direct.low);
      ASSERT_EQ(relayed.close, direct.close);
      ASSERT_EQ(relayed.volume, direct.volume);
    }
  }
  agent::Bar quoted = demo_market().bars[0];
  quoted.quote = agent::Quote{111230.5, 111231.25};
  const gate::Bar g = to_gate_bar(quoted).value();
  EXPECT_EQ(g.bid, D("111230.5"));
  EXPECT_EQ(g.ask, D("111231.25"));
  EXPECT_EQ(gate::parse_bar(agent::to_ipc_bar(quoted).value()).value().ask, g.ask);
  EXPECT_EQ(g.close, D("111282.61"));  // the CSV text, exactly
}

struct CsvCase {
  std::string name;
  std::string text;
  std::string expected;
};

TEST(Data, RefusesBadCsvFiles) {
  ScratchDir dir;
  const std::vector<CsvCase> cases = {
      {"empty.csv", "", "empty.csv:1:1"},
      {"header_only.csv", kHeader, "header_only.csv: no bars"},
      {"unsorted.csv", std::string(kHeader) + row(120) + row(60), "unsorted.csv:3:1"},
      {"repeated.csv", std::string(kHeader) + row(60) + row(120) + row(120), "repeated.csv:4:1: 1 repeated row"},
      {"conflict.csv", std::string(kHeader) + row(60) + row(60, "100,101,99,100,3"), "conflict.csv:3:1"},
  };
  for (const CsvCase& c : cases) {
    write_text(dir / c.name, c.text);
    const CsvSource s[] = {{pid("BTC-USD"), dir / c.name}};
    auto m = load_csv_data(s);
    ASSERT_FALSE(m.ok()) << c.name;
    EXPECT_NE(m.error().message.find(c.expected), std::string::npos) << c.name << ": " << m.error().message;
  }
  const CsvSource missing[] = {{pid("BTC-USD"), dir / "nope.csv"}};
  EXPECT_NE(load_csv_data(missing).error().message.find("nope.csv: no such file"), std::string::npos);
  write_text(dir / "ok.csv", std::string(kHeader) + row(60));
  const CsvSource twice[] = {{pid("BTC-USD"), dir / "ok.csv"}, {pid("BTC-USD"), dir / "ok.csv"}};
  EXPECT_NE(load_csv_data(twice).error().message.find("given twice"), std::string::npos);
  EXPECT_NE(load_csv_data({}).error().message.find("no market data"), std::string::npos);
}

TEST(Data, SourceLimit) {
  ScratchDir dir;
  write_text(dir / "ok.csv", std::string(kHeader) + row(60));
  for (std::size_t n : {kDataSourcesMax - 1, kDataSourcesMax, kDataSourcesMax + 1}) {
    std::vector<CsvSource> s;
    for (std::size_t i = 0; i < n; ++i) s.push_back({pid(("P" + std::to_string(i) + "-USD").c_str()), dir / "ok.csv"});
    auto m = load_csv_data(s);
    EXPECT_EQ(m.ok(), n <= kDataSourcesMax) << n;
  }
}

TEST(Data, MakeMarketDataChecksSeries) {
  std::vector<agent::Bar> a = demo_market().bars;
  a.resize(4);  // BTC, ETH, BTC, ETH
  EXPECT_NE(make_market_data({a}).error().message.find("more than one product"), std::string::npos);
  std::vector<agent::Bar> btc;
  for (const auto& b : demo_market().bars) {
    if (b.product == pid("BTC-USD") && btc.size() < 3) btc.push_back(b);
  }
  std::vector<agent::Bar> unsorted = {btc[1], btc[0]};
  EXPECT_NE(make_market_data({unsorted}).error().message.find("unsorted"), std::string::npos);
  std::vector<agent::Bar> repeated = {btc[0], btc[0]};
  EXPECT_NE(make_market_data({repeated}).error().message.find("repeated"), std::string::npos);
  EXPECT_NE(make_market_data({btc, btc}).error().message.find("more than one data source"), std::string::npos);
  EXPECT_NE(make_market_data({{}}).error().message.find("no bars"), std::string::npos);
  EXPECT_EQ(make_market_data({btc}).value().bars.size(), 3u);
}

TEST(Data, LoadsFromTheCandleStore) {
  ScratchDir dir;
  {
    auto store = agent::CandleStore::open(dir / "agent.sqlite").value();
    ASSERT_TRUE(agent::import_csv(store, demo_data() / "BTC-USD_1m_demo.csv", pid("BTC-USD")).ok());
    ASSERT_TRUE(agent::import_csv(store, demo_data() / "ETH-USD_1m_demo.csv", pid("ETH-USD")).ok());
  }
  const agent::ProductId btc[] = {pid("BTC-USD")};
  auto one = load_store_data(dir / "agent.sqlite", btc, 0, agent::kTimestampMax_s).value();
  EXPECT_EQ(one.bars.size(), 4320u);
  auto all = load_store_data(dir / "agent.sqlite", {}, 0, agent::kTimestampMax_s).value();
  EXPECT_EQ(all.bars, demo_market().bars);  // the same bars as from the CSV files
  auto window = load_store_data(dir / "agent.sqlite", btc, 1752105600, 1752105600 + 600).value();
  EXPECT_EQ(window.bars.size(), 10u);
  const agent::ProductId doge[] = {pid("DOGE-USD")};
  EXPECT_NE(load_store_data(dir / "agent.sqlite", doge, 0, agent::kTimestampMax_s).error().message.find("no bars of DOGE-USD"),
            std::string::npos);
  EXPECT_NE(load_store_data(dir / "none.sqlite", {}, 0, 1).error().message.find("no such file"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir / "none.sqlite"));  // never created
  EXPECT_NE(load_store_data(demo_data() / "BTC-USD_1m_demo.csv", {}, 0, 1).error().message.find("not an SQLite"),
            std::string::npos);
}

TEST(Data, FastPriceConversionEqualsDecimalFromDouble) {
  // to_gate_bar() rounds in double precision when that is provably the same
  // as Decimal::from_double (long double); ties and huge values take the
  // exact path. Random prices with 0 to 9 decimals, and ties, must agree.
  const unsigned seed = test_seed();
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> digits(0, 9);
  std::uniform_int_distribution<std::int64_t> mantissa(1, 999'999'999'999'999LL);
  agent::Bar b = demo_market().bars[0];
  for (int i = 0; i < 100'000; ++i) {
    const double v = static_cast<double>(mantissa(rng)) / std::pow(10.0, digits(rng) + (i % 3 == 0 ? 8 : 2));
    const double tie = (static_cast<double>(mantissa(rng) % 1'000'000) + 0.5) / 1e8;  // x.xxxxxxxx5
    for (double x : {v, tie, v * 1e6}) {
      if (!(x > 0)) continue;
      b.open = b.high = b.low = b.close = x;
      b.volume = x;
      auto g = to_gate_bar(b);
      auto d = Decimal::from_double(x, Rounding::kHalfEven);
      ASSERT_EQ(g.ok(), d.ok()) << x;
      if (d.ok()) {
        ASSERT_EQ(g->close, *d) << std::hexfloat << x;
        ASSERT_EQ(g->volume, *d) << std::hexfloat << x;
      }
    }
  }
}

TEST(Data, MergeOrderEqualsTheAgentsMerge) {
  const MarketData m = demo_market();
  std::vector<std::vector<agent::Bar>> series(2);
  for (const auto& b : m.bars) series[b.product == pid("BTC-USD") ? 0 : 1].push_back(b);
  series[1].erase(series[1].begin() + 100, series[1].begin() + 300);  // a gap in one product
  const auto merged = make_market_data(series).value();
  EXPECT_EQ(merged.bars, agent::merge_bars(series));
}

TEST(Data, BinaryCacheGivesTheSameBarsAndNoticesChanges) {
  ScratchDir dir;
  std::filesystem::copy_file(demo_data() / "BTC-USD_1m_demo.csv", dir / "btc.csv");
  const CsvSource s[] = {{pid("BTC-USD"), dir / "btc.csv"}};
  const MarketData plain = load_csv_data(s).value();
  const MarketData first = load_csv_data(s, dir / "cache").value();  // writes the cache
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir / "cache")) files.push_back(e.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename().string().rfind("BTC-USD-", 0), 0u);
  const MarketData second = load_csv_data(s, dir / "cache").value();  // reads it
  EXPECT_EQ(first.bars, plain.bars);
  EXPECT_EQ(second.bars, plain.bars);
  ASSERT_EQ(second.gate_bars.size(), plain.gate_bars.size());
  EXPECT_EQ(second.gate_bars.back().close, plain.gate_bars.back().close);
  // A damaged cache file is ignored (and rewritten).
  std::string bytes = read_text(files[0]);
  bytes[bytes.size() / 2] ^= 0x55;
  write_text(files[0], bytes);
  EXPECT_EQ(load_csv_data(s, dir / "cache").value().bars, plain.bars);
  EXPECT_NE(read_text(files[0]), bytes);
  write_text(files[0], bytes.substr(0, 100));  // truncated
  EXPECT_EQ(load_csv_data(s, dir / "cache").value().bars, plain.bars);
  // Changed data: a new cache entry, and the new bars.
  std::string csv = read_text(dir / "btc.csv");
  csv.resize(csv.rfind('\n', csv.size() - 2) + 1);  // drop the last row
  write_text(dir / "btc.csv", csv);
  const MarketData shorter = load_csv_data(s, dir / "cache").value();
  EXPECT_EQ(shorter.bars.size(), plain.bars.size() - 1);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir / "cache")) ++entries;
  EXPECT_EQ(entries, 2u);
  // Bad data is refused before anything is cached.
  write_text(dir / "bad.csv", std::string(kHeader) + row(120) + row(60));
  const CsvSource bad[] = {{pid("ETH-USD"), dir / "bad.csv"}};
  EXPECT_FALSE(load_csv_data(bad, dir / "cache").ok());
  write_text(dir / "file", "x");
  EXPECT_NE(load_csv_data(s, dir / "file").error().message.find("cache directory"), std::string::npos);
}

}  // namespace
}  // namespace ta::backtest::test
