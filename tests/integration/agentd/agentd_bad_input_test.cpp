// Bad market data through the whole agent (issue 5, "Bad input"): the demo
// CSVs with bad rows mixed in - NaN, inf, negative and zero prices, high
// below low, a close outside the bar, wrong column counts, junk, a timestamp
// off the minute, an older timestamp, a conflicting and an identical
// repeat, a negative volume. Most of them carry a price spike that would
// make mean reversion trade if it got through.
//
//  * Strict (the default): the agent refuses to start with the first bad
//    row's file:line:column and never connects to the gate.
//  * feed.skip_bad_rows: the rows are skipped, their count logged per file
//    and kept in the status document, and the run is exactly the
//    run on the clean files: the same intents, decisions and fills, record
//    for record. No intent is built on a bad row.
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>

#include "agentd_test_support.h"

namespace ta::agentd_test {
namespace {

constexpr std::size_t kRowsPerProduct = 320;  // about 640 merged bars

struct Csv {
  std::string header;
  std::vector<std::string> rows;
};

Csv read_csv(const fs::path& p, std::size_t rows_max) {
  std::ifstream in(p);
  Csv c;
  std::getline(in, c.header);
  std::string line;
  while (c.rows.size() < rows_max && std::getline(in, line)) c.rows.push_back(line);
  return c;
}

std::vector<std::string> split(const std::string& row) {
  std::vector<std::string> f;
  std::stringstream ss(row);
  std::string x;
  while (std::getline(ss, x, ',')) f.push_back(x);
  return f;
}

std::string join(const std::vector<std::string>& f) {
  std::string out;
  for (std::size_t i = 0; i < f.size(); ++i) out += (i ? "," : "") + f[i];
  return out;
}

std::string half(const std::string& price) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", std::stod(price) / 2);
  return buf;
}

struct Dirty {
  std::string text;
  std::uint64_t skipped = 0;
  std::uint64_t duplicates = 0;
  int first_bad_line = 0;  // 1-based line of the first bad row
};

// The clean rows with bad ones around chosen good rows. Fields: ts, open,
// high, low, close, volume.
Dirty make_dirty(const Csv& clean) {
  Dirty d;
  std::vector<std::string> lines = {clean.header};
  auto bad = [&](std::string row) {
    lines.push_back(std::move(row));
    ++d.skipped;
    if (d.first_bad_line == 0) d.first_bad_line = static_cast<int>(lines.size());
  };
  int variant = 0;
  for (std::size_t i = 0; i < clean.rows.size(); ++i) {
    const std::string& row = clean.rows[i];
    const auto f = split(row);
    const std::string& ts = f[0];
    const bool spot = i >= 40 && i % 23 == 0;  // after the warm-up, every 23rd minute
    if (spot) {
      switch (variant++ % 9) {
        case 0: bad(join({ts, f[1], f[2], f[3], "nan", f[5]})); break;
        case 1: bad(join({ts, f[1], "inf", f[3], half(f[4]), f[5]})); break;
        case 2: bad(join({ts, "-" + f[1], f[2], half(f[3]), half(f[4]), f[5]})); break;
        case 3: bad(join({ts, f[1], f[2], "0", half(f[4]), f[5]})); break;
        case 4: bad(join({ts, f[1], half(f[3]), f[2], half(f[4]), f[5]})); break;  // high below low
        case 5: bad(join({ts, f[1], f[2], f[3], half(f[4]), f[5]})); break;        // close below low
        case 6: bad(join({ts, f[1], f[2], half(f[3]), half(f[4])})); break;        // five columns
        case 7: bad("abc," + f[1] + "," + f[2] + "," + half(f[3]) + "," + half(f[4]) + "," + f[5]); break;
        case 8: bad(join({std::to_string(std::stoll(ts) + 1), f[1], f[2], half(f[3]), half(f[4]), f[5]})); break;
      }
    }
    lines.push_back(row);
    if (spot) {
      switch (variant % 4) {
        case 0: bad(join({ts, f[1], f[2], half(f[3]), half(f[4]), f[5]})); break;  // same minute, other values
        case 1:
          lines.push_back(row);  // identical repeat: dropped and counted
          ++d.duplicates;
          break;
        case 2: bad(join({std::to_string(std::stoll(ts) - 120), f[1], f[2], half(f[3]), half(f[4]), f[5]})); break;
        case 3: bad(join({ts, f[1], f[2], f[3], f[4], "-1"})); break;
      }
    }
  }
  for (const auto& l : lines) d.text += l + "\n";
  return d;
}

struct Files {
  fs::path btc;
  fs::path eth;
};

std::vector<std::string> stable_records(const JournalView& j) {
  std::vector<std::string> out;
  for (const auto& r : j.records) {
    if (!r.has_started()) out.push_back(r.SerializeAsString());
  }
  return out;
}

struct Captured {
  std::ostringstream text;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text);
  std::shared_ptr<spdlog::logger> logger;
  Captured() {
    logger = spdlog::get("agent.daemon");
    if (!logger) {
      logger = spdlog::default_logger()->clone("agent.daemon");
      spdlog::register_logger(logger);
    }
    logger->sinks().push_back(sink);
  }
  ~Captured() {
    auto& sinks = logger->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());
  }
};

TEST(AgentdBadInput, BadRowsAreRefusedOrSkippedAndNeverTraded) {
  const fs::path demo = source_dir() / "data/demo";
  const Csv btc = read_csv(demo / "BTC-USD_1m_demo.csv", kRowsPerProduct);
  const Csv eth = read_csv(demo / "ETH-USD_1m_demo.csv", kRowsPerProduct);
  ASSERT_EQ(btc.rows.size(), kRowsPerProduct);
  const Dirty dirty_btc = make_dirty(btc);
  const Dirty dirty_eth = make_dirty(eth);
  ASSERT_GE(dirty_btc.skipped, 10u);

  TempDir files;
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(files.root / name) << text;
    return files.root / name;
  };
  std::string clean_btc = btc.header + "\n";
  for (const auto& r : btc.rows) clean_btc += r + "\n";
  std::string clean_eth = eth.header + "\n";
  for (const auto& r : eth.rows) clean_eth += r + "\n";
  const Files clean{write("btc_clean.csv", clean_btc), write("eth_clean.csv", clean_eth)};
  const Files bad{write("btc_bad.csv", dirty_btc.text), write("eth_bad.csv", dirty_eth.text)};

  auto setup = [](const Files& f, bool skip) {
    AgentSetup s;
    s.bars_max = 0;
    s.btc_csv = f.btc;
    s.eth_csv = f.eth;
    if (skip) s.feed_extra = "  skip_bad_rows: true\n";
    return s;
  };

  // Strict: refused at start with the first bad row's position; the gate
  // never hears from the agent.
  {
    TempDir d;
    const auto gcfg = gate_config(d.root);
    boost::asio::io_context io;
    ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
    ASSERT_TRUE(gate.start().ok());
    ta::agent::AgentAppOptions o;
    o.config = agent_config(d.root, setup(bad, false));
    ta::agent::AgentApp app(io, std::move(o));
    const auto st = app.start();
    ASSERT_FALSE(st.ok());
    const std::string where = bad.btc.string() + ":" + std::to_string(dirty_btc.first_bad_line) + ":";
    EXPECT_EQ(st.error().message.rfind("replay: " + where, 0), 0u) << st.error().message;
    io.run_for(std::chrono::milliseconds(100));
    EXPECT_EQ(gate.connects, 0u);
    EXPECT_EQ(gate.bars_processed, 0u);
    EXPECT_TRUE(gate.arrivals.empty());
    gate.shutdown();
    io.run_for(std::chrono::milliseconds(50));
  }

  auto run = [&](const Files& f, bool skip, RunResult& result, std::uint64_t& bars) {
    TempDir d;
    const auto gcfg = gate_config(d.root);
    boost::asio::io_context io;
    ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
    EXPECT_TRUE(gate.start().ok());
    result = run_agent(io, agent_config(d.root, setup(f, skip)));
    bars = gate.bars_processed;
    const JournalView j = read_journal(d.root / "agent-journal");
    gate.shutdown();
    io.run_for(std::chrono::milliseconds(50));
    return stable_records(j);
  };
  RunResult clean_run;
  std::uint64_t clean_bars = 0;
  const auto clean_records = run(clean, false, clean_run, clean_bars);
  ASSERT_EQ(clean_run.exit_code, 0) << clean_run.reason;
  ASSERT_GT(clean_run.counters.intents_sent, 0u) << "the clean run should trade";

  // Skipping: counted and logged, and the run equals the clean one.
  Captured log;
  RunResult skip_run;
  std::uint64_t skip_bars = 0;
  const auto skip_records = run(bad, true, skip_run, skip_bars);
  ASSERT_EQ(skip_run.exit_code, 0) << skip_run.reason;
  EXPECT_EQ(skip_run.counters.replay_rows_skipped, dirty_btc.skipped + dirty_eth.skipped);
  EXPECT_EQ(skip_run.counters.replay_duplicates, dirty_btc.duplicates + dirty_eth.duplicates);
  const auto& counters = skip_run.status.at("counters").as_object();
  EXPECT_EQ(counters.at("replay_rows_skipped").to_number<std::uint64_t>(), dirty_btc.skipped + dirty_eth.skipped);
  EXPECT_EQ(counters.at("replay_duplicates").to_number<std::uint64_t>(), dirty_btc.duplicates + dirty_eth.duplicates);
  const std::string logged = log.text.str();
  EXPECT_NE(logged.find("rows_skipped=" + std::to_string(dirty_btc.skipped)), std::string::npos) << logged;
  EXPECT_NE(logged.find("rows_skipped=" + std::to_string(dirty_eth.skipped)), std::string::npos) << logged;
  EXPECT_EQ(skip_bars, clean_bars);
  EXPECT_EQ(skip_run.counters.bars, clean_run.counters.bars);
  EXPECT_EQ(skip_run.summary, clean_run.summary);
  EXPECT_EQ(skip_records, clean_records) << "bad rows changed what the agent did";
}

}  // namespace
}  // namespace ta::agentd_test
