// Runs the real trading-agent binary: `data import` output and exit codes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "agent_test_support.h"

namespace ta::agent {
namespace {

struct CliRun {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

CliRun run(const std::string& args) {
  const auto binary = test::env_path("TA_BINARY_DIR", ".") / "agent" / "app" / "trading-agent";
  const std::string cmd = binary.string() + " " + args + " 2>&1";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(ImportCli, ImportsReportsGapsAndIsIdempotent) {
  test::ScratchDir dir;
  const std::string file = (test::demo_data() / "BTC-USD_1m_coinbase_outage.csv").string();
  const std::string db = (dir / "c.db").string();
  const CliRun first = run("data import " + file + " --product BTC-USD --db " + db);
  ASSERT_EQ(first.exit_code, 0) << first.out;
  EXPECT_NE(first.out.find("rows_read=647 imported=647 already_present=0 skipped=0 duplicates=0 conflicts=0 gaps=2 "
                           "missing_minutes=433"),
            std::string::npos)
      << first.out;
  EXPECT_NE(first.out.find("gap start=2018-04-04T16:48:00Z end=2018-04-05T00:00:00Z minutes=432"), std::string::npos)
      << first.out;
  const CliRun second = run("data import " + file + " --product BTC-USD --db " + db);
  ASSERT_EQ(second.exit_code, 0) << second.out;
  EXPECT_NE(second.out.find("imported=0 already_present=647"), std::string::npos) << second.out;
}

TEST(ImportCli, ConflictRefusesWithExitOne) {
  test::ScratchDir dir;
  const auto a = dir / "a.csv";
  const auto b = dir / "b.csv";
  std::ofstream(a) << "ts,open,high,low,close,volume\n1522800000,10,11,9,10,1\n";
  std::ofstream(b) << "ts,open,high,low,close,volume\n1522800000,10,11,9,10.5,1\n1522800060,10,11,9,10,1\n";
  const std::string db = (dir / "c.db").string();
  ASSERT_EQ(run("data import " + a.string() + " --product BTC-USD --db " + db).exit_code, 0);
  const CliRun r = run("data import " + b.string() + " --product BTC-USD --db " + db);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("conflicts=1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("refused: 1 bars differ"), std::string::npos) << r.out;
}

TEST(ImportCli, BadRowsFailWithFileLineUnlessSkipped) {
  test::ScratchDir dir;
  const auto f = dir / "bad.csv";
  std::ofstream(f) << "ts,open,high,low,close,volume\n1522800000,10,11,9,10,1\n1522800030,10,11,9,10,1\n";
  const std::string db = (dir / "c.db").string();
  const CliRun strict = run("data import " + f.string() + " --product BTC-USD --db " + db);
  EXPECT_EQ(strict.exit_code, 1);
  EXPECT_NE(strict.out.find(f.string() + ":3:1: ts is not a multiple of 60"), std::string::npos) << strict.out;
  const CliRun lenient = run("data import " + f.string() + " --product BTC-USD --db " + db + " --skip-bad-rows");
  EXPECT_EQ(lenient.exit_code, 0) << lenient.out;
  EXPECT_NE(lenient.out.find("imported=1"), std::string::npos) << lenient.out;
  EXPECT_NE(lenient.out.find("skipped=1"), std::string::npos) << lenient.out;
}

TEST(ImportCli, UsageErrorsExitTwo) {
  EXPECT_EQ(run("data import x.csv --db y.db").exit_code, 2);               // no --product
  EXPECT_EQ(run("data import x.csv --product btc-usd --db y.db").exit_code, 2);  // bad product
  EXPECT_EQ(run("data").exit_code, 2);
  EXPECT_EQ(run("").exit_code, 2);
  EXPECT_EQ(run("--no-such-flag").exit_code, 2);
  EXPECT_EQ(run("--help").exit_code, 0);
  EXPECT_EQ(run("data import --help").exit_code, 0);
}

TEST(ImportCli, MissingFileExitsOne) {
  test::ScratchDir dir;
  const CliRun r = run("data import " + (dir / "none.csv").string() + " --product BTC-USD --db " + (dir / "c.db").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("none.csv"), std::string::npos);
}

}  // namespace
}  // namespace ta::agent
