// Helpers for the SIM tests of the real binaries: a run directory made from
// the repository's config/ (every path inside it), trading-gate and
// trading-agent as child processes, their journals and tradectl read back,
// and trading-backtest on the same set-up. Black box: only the binaries,
// their files and their output are used, so the tests do not depend on how
// the agent and the gate talk to each other.
//
// Binaries: TRADING_GATE_BIN, TRADECTL_BIN, TRADING_AGENT_BIN,
// TRADING_BACKTEST_BIN (compile definitions). TA_KEEP_TEST_DIRS=1 keeps the
// run directories for a look afterwards.
#pragma once

#include <gtest/gtest.h>

#include <google/protobuf/util/json_util.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gate_daemon_support.h"
#include "journal_records.pb.h"
#include "proto/decimal.h"

namespace ta::simtest {

namespace fs = std::filesystem;
using ta::Decimal;

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// Every `from` in `text` replaced by `to`; a failure when there is none (the
// shipped config changed and the test must follow).
inline std::string replace_all(std::string text, const std::string& from, const std::string& to,
                               const std::string& file) {
  std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << file << " has no '" << from << "' any more";
  while (at != std::string::npos) {
    text.replace(at, from.size(), to);
    at = text.find(from, at + to.size());
  }
  return text;
}

// A one-minute bar CSV row source for generated data.
struct CsvBar {
  std::int64_t open_ts_s = 0;
  std::string open, high, low, close, volume;
};

inline std::string bars_csv(const std::vector<CsvBar>& bars) {
  std::string out = "ts,open,high,low,close,volume\n";
  for (const CsvBar& b : bars) {
    out += std::to_string(b.open_ts_s) + "," + b.open + "," + b.high + "," + b.low + "," + b.close + "," + b.volume +
           "\n";
  }
  return out;
}

// The shipped SIM set-up (config/gate.yaml, safety.yaml, agent.yaml,
// parity.yaml, strategies/) in a fresh directory, with every path inside
// it: gate sockets, journal and state in the root, the agent's in agent/,
// the bar CSVs in data/. The gate's heartbeat timeout is 10 minutes so that
// a slow restart on a loaded machine cannot trip the dead-man's switch
// (that switch has its own test).
class Workspace {
 public:
  struct Options {
    std::uint64_t bars_max = 0;  // the agent's feed.bars_max (0: all)
    fs::path btc_csv;            // default: the demo data
    fs::path eth_csv;
    // venue.sim.ack_latency and ack_latency_jitter of gate.yaml (empty:
    // the shipped 0ms), e.g. "45s".
    std::string ack_latency;
    std::string ack_latency_jitter;
    // journal.group_commit_window of agent.yaml (empty: the shipped 0ms),
    // e.g. "100ms".
    std::string agent_journal_window;
  };

  explicit Workspace(const Options& o) : root_(make_temp_dir()), gate_(root_.string()) {
    const fs::path src = ta::test::source_dir();
    const fs::path config = src / "config";
    fs::create_directories(root_ / "data");
    fs::copy(config / "strategies", root_ / "strategies", fs::copy_options::recursive);
    fs::copy_file(config / "safety.yaml", root_ / "safety.yaml");
    fs::copy_file(o.btc_csv.empty() ? src / "data/demo/BTC-USD_1m_demo.csv" : o.btc_csv,
                  root_ / "data/BTC-USD_1m_demo.csv");
    fs::copy_file(o.eth_csv.empty() ? src / "data/demo/ETH-USD_1m_demo.csv" : o.eth_csv,
                  root_ / "data/ETH-USD_1m_demo.csv");

    std::string gate = read_text(config / "gate.yaml");
    gate = replace_all(gate, "../run/", "", "gate.yaml");
    gate = replace_all(gate, "../rules/core", (src / "rules/core").string(), "gate.yaml");
    gate = replace_all(gate, "../rules/active", "rules-active", "gate.yaml");
    gate = replace_all(gate, "timeout: 5s", "timeout: 10m", "gate.yaml");
    if (!o.ack_latency.empty()) {
      gate = replace_all(gate, "ack_latency: 0ms ", "ack_latency: " + o.ack_latency + " ", "gate.yaml");
      gate = replace_all(gate, "ack_latency_jitter: 0ms", "ack_latency_jitter: " + o.ack_latency_jitter, "gate.yaml");
    }
    write_text(root_ / "gate.yaml", gate);

    std::string agent = read_text(config / "agent.yaml");
    agent = replace_all(agent, "../run/", "", "agent.yaml");
    agent = replace_all(agent, "../data/demo/", "data/", "agent.yaml");
    agent = replace_all(agent, "bars_max: 0", "bars_max: " + std::to_string(o.bars_max), "agent.yaml");
    // Reconnect quickly: the restart tests wait on it.
    agent = replace_all(agent, "reconnect_delay_initial: 100ms", "reconnect_delay_initial: 10ms", "agent.yaml");
    if (!o.agent_journal_window.empty()) {
      agent = replace_all(agent, "group_commit_window: 0ms", "group_commit_window: " + o.agent_journal_window,
                          "agent.yaml");
    }
    write_text(root_ / "agent.yaml", agent);

    fs::copy_file(config / "parity.yaml", root_ / "parity.yaml");
  }

  ~Workspace() {
    gate_.kill_now();
    const char* keep = std::getenv("TA_KEEP_TEST_DIRS");
    if (keep != nullptr && *keep != '\0') {
      std::printf("kept %s\n", root_.c_str());
      return;
    }
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  const fs::path& root() const { return root_; }
  ta::test::GateProcess& gate() { return gate_; }
  fs::path agent_journal() const { return root_ / "agent/journal"; }
  fs::path agent_log() const { return root_ / "agent.log"; }
  fs::path agent_yaml() const { return root_ / "agent.yaml"; }

  // Starts trading-gate and waits until it is ready.
  bool start_gate() { return gate_.start(); }

  // Starts trading-agent on agent.yaml, or `command` instead when given;
  // the output is appended to agent.log.
  pid_t spawn_agent(std::vector<std::string> command = {}) const {
    if (command.empty()) command = {TRADING_AGENT_BIN, "--config", agent_yaml().string()};
    std::vector<char*> argv;
    for (std::string& arg : command) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const std::string log_path = agent_log().string();
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (log >= 0) {
        ::dup2(log, 1);
        ::dup2(log, 2);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    return pid;
  }

  // tradectl positions --json, as the PositionSnapshot it prints.
  std::optional<ta::ipc::PositionSnapshot> positions() {
    const auto r = ta::test::tradectl(gate_.admin_socket(), {"positions", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    ta::ipc::PositionSnapshot s;
    if (r.exit_code != 0 || !google::protobuf::util::JsonStringToMessage(r.out, &s).ok()) {
      ADD_FAILURE() << "tradectl positions --json printed: " << r.out;
      return std::nullopt;
    }
    return s;
  }

  // Stops the gate with SIGTERM; true when it exited 0.
  bool stop_gate() {
    gate_.signal(SIGTERM);
    return gate_.wait_exit(60'000) == 0;
  }

  // trading-backtest with parity.yaml on this directory's data; the report
  // goes to out/. Returns the exit code.
  int run_backtest() const {
    const auto r = ta::test::run_command(
        {TRADING_BACKTEST_BIN, "--config", (root_ / "parity.yaml").string(), "--data",
         "BTC-USD=" + (root_ / "data/BTC-USD_1m_demo.csv").string(), "--data",
         "ETH-USD=" + (root_ / "data/ETH-USD_1m_demo.csv").string(), "--out", (root_ / "out").string(), "--quiet"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code;
  }

 private:
  // Under /dev/shm when there is one: both journals sync on every bar
  // that matters, which on a disk makes the lockstep wait milliseconds per
  // bar. What these tests check does not depend on the disk.
  static fs::path make_temp_dir() {
    char tmpl[] = "/dev/shm/ta-sim-XXXXXX";
    if (!fs::is_directory("/dev/shm")) std::snprintf(tmpl, sizeof tmpl, "/tmp/ta-sim-XXXXXX");
    const char* made = ::mkdtemp(tmpl);
    return made != nullptr ? fs::path(made) : fs::path();
  }

  fs::path root_;  // before gate_, which is built from it
  ta::test::GateProcess gate_;
};

// Waits for a child; its exit code, 128 + signal, or -1 after the timeout
// (the child is then killed).
inline int wait_child(pid_t pid, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

// ------------------------------------------------------------------ journals

struct AgentJournal {
  std::map<std::string, int> sent;                   // intent id -> intent_sent records
  std::map<std::string, int> decisions;              // intent id -> decision records
  std::map<std::string, ta::ipc::Decision> decision;  // the last one per intent id
  std::vector<ta::ipc::Fill> fills;
  std::vector<ta::ipc::AgentReconciled> reconciled;
  std::uint64_t steps = 0;  // bar_step records plus the steps of bar_steps ranges
  std::uint64_t catch_up = 0;
  std::uint64_t starts = 0;
  std::uint64_t stops = 0;
  std::string error;  // a reader problem, empty when the journal read cleanly
};

inline AgentJournal read_agent_journal(const fs::path& dir) {
  AgentJournal j;
  auto reader = ta::journal::Reader::open(dir);
  if (!reader) {
    j.error = reader.error().message;
    return j;
  }
  for (;;) {
    auto next = (*reader)->next();
    if (!next) {
      j.error = next.error().message;
      return j;
    }
    if (!next->has_value()) return j;
    ta::ipc::AgentRecord r;
    if (!r.ParseFromArray((*next)->payload.data(), static_cast<int>((*next)->payload.size()))) {
      j.error = "record " + std::to_string((*next)->seq) + " is not an AgentRecord";
      return j;
    }
    if (r.has_intent_sent()) ++j.sent[r.intent_sent().intent().intent_id()];
    if (r.has_decision()) {
      ++j.decisions[r.decision().intent_id()];
      j.decision[r.decision().intent_id()] = r.decision();
    }
    if (r.has_fill()) j.fills.push_back(r.fill());
    if (r.has_reconciled()) j.reconciled.push_back(r.reconciled());
    if (r.has_bar_step()) {
      ++j.steps;
      if (r.bar_step().catch_up()) ++j.catch_up;
    }
    if (r.has_bar_steps()) j.steps += r.bar_steps().count();  // predicted steps (SIM pipeline)
    if (r.has_started()) ++j.starts;
    if (r.has_stopped()) ++j.stops;
  }
}

struct GateJournal {
  std::map<std::string, int> decided;                   // intent id -> IntentDecided records
  std::map<std::string, ta::ipc::IntentDecided> intent;  // the last one per intent id
  std::vector<ta::ipc::Fill> fills;
  std::map<std::string, int> submits;  // order id -> SUBMIT order updates
  std::string error;
};

inline GateJournal read_gate_journal(const fs::path& dir) {
  GateJournal g;
  for (const ta::ipc::GateRecord& r : ta::test::read_gate_records(dir.string(), &g.error)) {
    if (r.has_intent_decided()) {
      ++g.decided[r.intent_decided().intent().intent_id()];
      g.intent[r.intent_decided().intent().intent_id()] = r.intent_decided();
    }
    if (r.has_fill()) g.fills.push_back(r.fill());
    if (r.has_order_update() && r.order_update().event() == ta::ipc::ORDER_EVENT_TYPE_SUBMIT) {
      ++g.submits[r.order_update().order_id()];
    }
  }
  return g;
}

// ------------------------------------------------------------------ output

// The agent's summary line ("summary mode=SIM bars=... final_equity=..."),
// the last one in its log, as key -> value.
inline std::map<std::string, std::string> agent_summary(const fs::path& log) {
  const std::string text = read_text(log);
  std::map<std::string, std::string> out;
  const std::size_t at = text.rfind("\nsummary mode=");
  const std::size_t begin = at == std::string::npos ? (text.rfind("summary mode=", 0) == 0 ? 0 : text.npos) : at + 1;
  if (begin == std::string::npos) return out;
  const std::string line = text.substr(begin, text.find('\n', begin) - begin);
  std::stringstream ss(line);
  std::string field;
  while (ss >> field) {
    const auto eq = field.find('=');
    if (eq != std::string::npos) out[field.substr(0, eq)] = field.substr(eq + 1);
  }
  return out;
}

// Signed base units per product from fills, exactly.
inline std::map<std::string, Decimal> positions_from_fills(const std::vector<ta::ipc::Fill>& fills) {
  std::map<std::string, Decimal> out;
  for (const auto& f : fills) {
    const Decimal q = Decimal::parse(f.quantity()).value();
    Decimal& p = out[f.product()];
    p = (f.side() == ta::ipc::SIDE_BUY ? p.add(q) : p.sub(q)).value();
  }
  return out;
}

inline Decimal fees_of(const std::vector<ta::ipc::Fill>& fills) {
  Decimal sum;
  for (const auto& f : fills) sum = sum.add(Decimal::parse(f.fee()).value()).value();
  return sum;
}

inline std::map<std::string, Decimal> positions_of(const ta::ipc::PositionSnapshot& s) {
  std::map<std::string, Decimal> out;
  for (const auto& p : s.positions()) out[p.product()] = Decimal::parse(p.quantity()).value();
  return out;
}

// Drops zero entries so "flat and listed" equals "never traded".
inline std::map<std::string, Decimal> non_zero(std::map<std::string, Decimal> m) {
  std::erase_if(m, [](const auto& kv) { return kv.second.is_zero(); });
  return m;
}

}  // namespace ta::simtest
