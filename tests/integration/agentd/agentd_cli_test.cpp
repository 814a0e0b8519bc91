// trading-agent's command line: --check-config exit codes and output, and
// that the data subcommand is still there.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;

namespace {

struct CliRun {
  int code = -1;
  std::string output;  // stdout and stderr
};

CliRun run(const std::string& args) {
  CliRun r;
  const std::string cmd = std::string(TRADING_AGENT_BIN) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), p) != nullptr) r.output += buf.data();
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

fs::path source_dir() {
  const char* d = std::getenv("TA_SOURCE_DIR");
  return d != nullptr ? fs::path(d) : fs::path(".");
}

TEST(AgentCli, CheckConfigAcceptsTheShippedConfig) {
  const CliRun r = run("--config " + (source_dir() / "config/agent.yaml").string() + " --check-config");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("configuration OK"), std::string::npos) << r.output;
}

TEST(AgentCli, CheckConfigPrintsEveryProblemAndExits1) {
  char tmpl[] = "/tmp/agentd_cli_XXXXXX";
  const fs::path dir = ::mkdtemp(tmpl);
  std::ofstream(dir / "agent.yaml") << "mode: SIMX\nstate_dir: s\njournal_dir: j\ngate: {socket: g.sock, colour: 1}\n";
  const CliRun r = run("--config " + (dir / "agent.yaml").string() + " --check-config");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("agent.yaml:1:7: key 'mode'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("key 'gate.colour': unknown key"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("key 'feed': missing required key"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("key 'products': missing required key"), std::string::npos) << r.output;
  // The daemon refuses to start with the same problems.
  const CliRun start = run("--config " + (dir / "agent.yaml").string());
  EXPECT_EQ(start.code, 1) << start.output;
  EXPECT_NE(start.output.find("nothing started"), std::string::npos) << start.output;
  fs::remove_all(dir);
}

TEST(AgentCli, MissingConfigFileExits1) {
  const CliRun r = run("--config /nonexistent/agent.yaml --check-config");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/agent.yaml"), std::string::npos) << r.output;
}

TEST(AgentCli, UsageErrorsExit2) {
  EXPECT_EQ(run("--check-config").code, 2);
  EXPECT_EQ(run("--no-such-flag").code, 2);
  EXPECT_EQ(run("").code, 2);
}

TEST(AgentCli, DataImportIsStillASubcommand) {
  const CliRun r = run("data import --help");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("--product"), std::string::npos) << r.output;
}

}  // namespace
