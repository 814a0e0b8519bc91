// Runs the real trading-backtest binary: the three report files, identical
// bytes on a second run, the candle store as a source, and every kind of
// bad input refused with exit 1 and a message (never an empty report).
#include <sys/wait.h>

#include <cstdlib>

#include "backtest_test_support.h"
#include "market/store.h"

namespace ta::backtest::test {
namespace {

namespace fs = std::filesystem;

struct Exec {
  int rc = -1;
  std::string out;
  std::string err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

class Cli : public ::testing::Test {
 protected:
  Exec run(const std::vector<std::string>& args) {
    std::string cmd = quote(TRADING_BACKTEST_BIN);
    for (const auto& a : args) cmd += " " + quote(a);
    cmd += " >" + quote((dir_ / "stdout").string()) + " 2>" + quote((dir_ / "stderr").string());
    const int status = std::system(cmd.c_str());
    Exec e;
    e.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    e.out = read_text(dir_ / "stdout");
    e.err = read_text(dir_ / "stderr");
    return e;
  }
  std::string config() const { return (source_dir() / "config" / "backtest.yaml").string(); }
  std::string btc() const { return "BTC-USD=" + (demo_data() / "BTC-USD_1m_demo.csv").string(); }
  std::string eth() const { return "ETH-USD=" + (demo_data() / "ETH-USD_1m_demo.csv").string(); }
  std::string out(const char* name) const { return (dir_ / name).string(); }
  fs::path file(const char* name, const std::string& text) const {
    write_text(dir_ / name, text);
    return dir_ / name;
  }

  ScratchDir dir_;
};

TEST_F(Cli, WritesAllThreeFilesAndTheSameBytesTwice) {
  const Exec a = run({"--config", config(), "--data", btc(), "--data", eth(), "--out", out("a")});
  ASSERT_EQ(a.rc, 0) << a.err;
  EXPECT_NE(a.out.find("8640 bars, 3 book(s)"), std::string::npos) << a.out;
  EXPECT_EQ(a.err, "");  // stderr is not a terminal: no progress line
  const Exec b = run({"--config", config(), "--data", eth(), "--data", btc(), "--out", out("b")});
  ASSERT_EQ(b.rc, 0) << b.err;
  for (const char* f : {"report.json", "report.md", "equity.svg"}) {
    const std::string x = read_text(dir_ / "a" / f);
    EXPECT_GT(x.size(), 1000u) << f;
    EXPECT_EQ(x, read_text(dir_ / "b" / f)) << f;  // --data order does not matter
  }
  const std::string json = read_text(dir_ / "a" / "report.json");
  EXPECT_NE(json.find("\"bars\": 8640"), std::string::npos);
  EXPECT_NE(json.find("\"name\": \"rsi_reversion\""), std::string::npos);
}

TEST_F(Cli, ThreadsDoNotChangeTheReports) {
  // backtest.yaml has three books: one thread, one per book, and the
  // largest allowed count (capped at the books) write the same bytes.
  const Exec one = run({"--config", config(), "--data", btc(), "--data", eth(), "--out", out("t1"), "--threads", "1"});
  ASSERT_EQ(one.rc, 0) << one.err;
  for (const std::string& n : {std::string("3"), std::to_string(kBookThreadsMax)}) {
    const Exec e = run({"--config", config(), "--data", btc(), "--data", eth(), "--out", out("tn"), "--threads", n});
    ASSERT_EQ(e.rc, 0) << e.err;
    for (const char* f : {"report.json", "report.md", "equity.svg"}) {
      EXPECT_EQ(read_text(dir_ / "tn" / f), read_text(dir_ / "t1" / f)) << n << " " << f;
    }
  }
}

TEST_F(Cli, SeedWindowAndProductsFlags) {
  const Exec e = run({"--config", config(), "--data", btc(), "--out", out("o"), "--seed", "42", "--products",
                      "BTC-USD", "--from", "2025-07-11", "--to", "2025-07-12T00:00Z"});
  ASSERT_EQ(e.rc, 0) << e.err;
  EXPECT_NE(e.out.find("1440 bars"), std::string::npos) << e.out;
  const std::string json = read_text(dir_ / "o" / "report.json");
  EXPECT_NE(json.find("\"seed\": 42"), std::string::npos);
  EXPECT_NE(json.find("\"start_utc\": \"2025-07-11T00:00:00Z\""), std::string::npos);
}

TEST_F(Cli, ReadsTheCandleStore) {
  {
    auto store = agent::CandleStore::open(dir_ / "agent.sqlite").value();
    ASSERT_TRUE(agent::import_csv(store, demo_data() / "BTC-USD_1m_demo.csv", pid("BTC-USD")).ok());
    ASSERT_TRUE(agent::import_csv(store, demo_data() / "ETH-USD_1m_demo.csv", pid("ETH-USD")).ok());
  }
  const Exec s = run({"--config", config(), "--data", out("agent.sqlite"), "--out", out("s")});
  ASSERT_EQ(s.rc, 0) << s.err;
  const Exec c = run({"--config", config(), "--data", btc(), "--data", eth(), "--out", out("c")});
  ASSERT_EQ(c.rc, 0) << c.err;
  // Same bars, same account: only the data sources differ in the report.
  const auto account = [](const std::string& json) { return json.substr(json.find("\"account\": {")); };
  EXPECT_EQ(account(read_text(dir_ / "s" / "report.json")), account(read_text(dir_ / "c" / "report.json")));
  EXPECT_EQ(read_text(dir_ / "s" / "equity.svg"), read_text(dir_ / "c" / "equity.svg"));
}

TEST_F(Cli, CacheGivesTheSameReports) {
  const Exec plain = run({"--config", config(), "--data", btc(), "--data", eth(), "--out", out("plain")});
  ASSERT_EQ(plain.rc, 0) << plain.err;
  for (const char* name : {"cold", "warm"}) {
    const Exec e = run({"--config", config(), "--data", btc(), "--data", eth(), "--out", out(name), "--cache",
                        out("cache")});
    ASSERT_EQ(e.rc, 0) << e.err;
    for (const char* f : {"report.json", "report.md", "equity.svg"}) {
      EXPECT_EQ(read_text(dir_ / name / f), read_text(dir_ / "plain" / f)) << name << " " << f;
    }
  }
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_ / "cache")) ++files;
  EXPECT_EQ(files, 2u);
}

struct BadInput {
  std::vector<std::string> args;
  std::string message;
};

TEST_F(Cli, BadInputIsRefusedWithExitOneAndNoReport) {
  const std::string header = "ts,open,high,low,close,volume\n";
  const std::string r1 = "1752105600,100,101,99,100,1\n", r2 = "1752105660,100,101,99,100,1\n";
  const fs::path empty = file("empty.csv", "");
  const fs::path header_only = file("header.csv", header);
  const fs::path unsorted = file("unsorted.csv", header + r2 + r1);
  const fs::path repeated = file("repeated.csv", header + r1 + r2 + r2);
  const fs::path no_strategies = file("none.yaml", "gate_config: " + (source_dir() / "config" / "gate.yaml").string() +
                                                       "\nrules: false\nstrategies: {}\n");
  const fs::path zero_capital =
      file("zero.yaml", "gate_config: " + (source_dir() / "config" / "gate.yaml").string() +
                            "\nrules: false\ncapital: \"0\"\nstrategies:\n  m: {builtin: momentum}\n");
  const fs::path no_products =
      file("noproducts.yaml", "gate_config: " + (source_dir() / "config" / "gate.yaml").string() +
                                  "\nrules: false\nproducts: []\nstrategies:\n  m: {builtin: momentum}\n");
  const std::vector<BadInput> cases = {
      {{"--data", "BTC-USD=" + out("missing.csv")}, "missing.csv: no such file"},
      {{"--data", "BTC-USD=" + empty.string()}, "empty.csv:1:1"},
      {{"--data", "BTC-USD=" + header_only.string()}, "header.csv: no bars"},
      {{"--data", "BTC-USD=" + unsorted.string()}, "unsorted.csv:3:1"},
      {{"--data", "BTC-USD=" + repeated.string()}, "repeated.csv:4:1: 1 repeated row"},
      {{"--data", "DOGE-USD=" + (demo_data() / "BTC-USD_1m_demo.csv").string()}, "product DOGE-USD is not in"},
      {{"--data", btc(), "--data", "BTC-USD=" + (demo_data() / "BTC-USD_1m_coinbase_outage.csv").string()},
       "product BTC-USD is given twice"},
      {{"--data", out("nostore.sqlite")}, "nostore.sqlite: no such file"},
      {{"--data", (demo_data() / "BTC-USD_1m_demo.csv").string()}, "not an SQLite candle store"},
      {{"--data", btc(), "--config", no_strategies.string()}, "no strategies"},
      {{"--data", btc(), "--config", zero_capital.string()}, "zero.yaml:3:10: key 'capital': must be positive"},
      {{"--data", btc(), "--config", no_products.string()}, "noproducts.yaml:3:11: key 'products': no products"},
      {{"--data", btc(), "--config", out("nowhere.yaml")}, "nowhere.yaml"},
      {{"--data", btc()}, "no data for product ETH-USD"},  // the shipped config trades BTC and ETH
      {{"--data", btc(), "--data", eth(), "--from", "2030-01-01"}, "no bars to replay"},
      {{"--data", btc(), "--data", eth(), "--products", "BTC-USD"}, "ETH-USD, which the run does not trade"},
  };
  for (const BadInput& c : cases) {
    std::vector<std::string> args = {"--out", out("bad")};
    bool has_config = false;
    for (const auto& a : c.args) has_config = has_config || a == "--config";
    if (!has_config) args.insert(args.end(), {"--config", config()});
    args.insert(args.end(), c.args.begin(), c.args.end());
    const Exec e = run(args);
    EXPECT_EQ(e.rc, 1) << c.message << "\n" << e.err;
    EXPECT_NE(e.err.find(c.message), std::string::npos) << "expected: " << c.message << "\ngot: " << e.err;
    EXPECT_EQ(e.err.rfind("trading-backtest: ", 0), 0u) << e.err;
    EXPECT_FALSE(fs::exists(dir_ / "bad" / "report.json")) << c.message;
  }
}

TEST_F(Cli, UsageErrorsExitTwoAndHelpExitsZero) {
  const Exec help = run({"--help"});
  EXPECT_EQ(help.rc, 0);
  EXPECT_NE(help.out.find("--data"), std::string::npos);
  EXPECT_NE(help.out.find("--seed"), std::string::npos);
  const std::vector<std::vector<std::string>> usage = {
      {},
      {"--config", config(), "--out", out("u")},  // no --data
      {"--config", config(), "--data", btc(), "--out", out("u"), "--bogus"},
      {"--config", config(), "--data", btc(), "--out", out("u"), "--seed", "-3"},
      {"--config", config(), "--data", "btc=x.csv", "--out", out("u")},
      {"--config", config(), "--data", btc(), "--data", out("s.sqlite"), "--out", out("u")},
      {"--config", config(), "--data", btc(), "--out", out("u"), "--from", "yesterday"},
      {"--config", config(), "--data", btc(), "--out", out("u"), "--from", "2025-07-12", "--to", "2025-07-11"},
      {"--config", config(), "--data", btc(), "--out", out("u"), "--threads", "0"},
      {"--config", config(), "--data", btc(), "--out", out("u"), "--threads", std::to_string(kBookThreadsMax + 1)},
  };
  for (const auto& args : usage) {
    const Exec e = run(args);
    EXPECT_EQ(e.rc, 2) << (args.empty() ? "" : args.back()) << "\n" << e.err;
    EXPECT_FALSE(e.err.empty());
  }
}

}  // namespace
}  // namespace ta::backtest::test
