// Helpers for the trading-gate integration tests: a generated configuration
// in a temporary directory, the real trading-gate binary as a child process,
// tradectl runs with captured output, a raw agent client on gate.sock, the
// repository's real BTC-USD bars, and reading the gate's journal.
//
// The binaries come from compile definitions TRADING_GATE_BIN and
// TRADECTL_BIN; the source tree from TA_SOURCE_DIR.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "admin.pb.h"
#include "gate.pb.h"
#include "gate/admin_client.h"
#include "ipc_test_support.h"
#include "journal/journal.h"
#include "journal_records.pb.h"

namespace ta::test {

inline std::string source_dir() {
  const char* dir = std::getenv("TA_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

// ------------------------------------------------------------------ config

struct GateTestConfig {
  std::string heartbeat_period = "1s";
  std::string heartbeat_timeout = "10m";  // long: only the dead-man test wants it short
  std::string gate_socket_extra;          // more keys under sockets.gate (4-space indent)
  std::string gate_extra;                 // more top-level gate.yaml text
  std::string rules_core_dir;             // default: the repository's rules/core
  int open_orders_max = 10;
  int order_rate_per_minute_max = 20;
  std::string order_notional_max = "1000";
  std::string position_fraction_max = "0.10";
  std::string gross_exposure_fraction_max = "0.50";
  std::string risk_per_trade_fraction_max = "0.005";
  std::string starting_cash = "10000";
  std::string daily_loss_fraction_max = "0.05";
};

// A `venue.sim` block of gate.yaml (for GateTestConfig::gate_extra) with
// these settings, one "key: value" each.
inline std::string sim_venue_yaml(std::initializer_list<std::string_view> settings) {
  std::string out = "venue:\n  sim:\n";
  for (std::string_view setting : settings) {
    out += "    ";
    out += setting;
    out += '\n';
  }
  return out;
}

// Writes gate.yaml and safety.yaml into `dir` (sockets, journal and logs
// inside it) and returns gate.yaml's path.
inline std::string write_gate_config(const std::string& dir, const GateTestConfig& c = {}) {
  const std::string rules = c.rules_core_dir.empty() ? source_dir() + "/rules/core" : c.rules_core_dir;
  std::ofstream(dir + "/gate.yaml") << "mode: SIM\n"
                                       "safety_file: safety.yaml\n"
                                       "state_dir: state\n"
                                       "journal_dir: journal\n"
                                       "rules:\n"
                                       "  core_dir: " << rules << "\n"
                                       "  active_dir: rules-active\n"
                                       "sockets:\n"
                                       "  gate:\n"
                                       "    path: gate.sock\n"
                                    << c.gate_socket_extra
                                    << "  admin:\n"
                                       "    path: admin.sock\n"
                                       "heartbeat:\n"
                                       "  period: " << c.heartbeat_period << "\n"
                                       "  timeout: " << c.heartbeat_timeout << "\n"
                                    << c.gate_extra
                                    << "products:\n"
                                       "  BTC-USD:\n"
                                       "    base_increment: \"0.00000001\"\n"
                                       "    quote_increment: \"0.01\"\n"
                                       "  ETH-USD:\n"
                                       "    base_increment: \"0.00000001\"\n"
                                       "    quote_increment: \"0.01\"\n";
  std::ofstream(dir + "/safety.yaml") << "products:\n"
                                         "  BTC-USD:\n"
                                         "    size_min: \"0.0001\"\n"
                                         "    size_max: \"1\"\n"
                                         "    size_increment: \"0.00000001\"\n"
                                         "    price_increment: \"0.01\"\n"
                                         "  ETH-USD:\n"
                                         "    size_min: \"0.001\"\n"
                                         "    size_max: \"20\"\n"
                                         "    size_increment: \"0.00000001\"\n"
                                         "    price_increment: \"0.01\"\n"
                                         "order_notional_max: \"" << c.order_notional_max << "\"\n"
                                         "position_fraction_max: \"" << c.position_fraction_max << "\"\n"
                                         "gross_exposure_fraction_max: \"" << c.gross_exposure_fraction_max << "\"\n"
                                         "risk_per_trade_fraction_max: \"" << c.risk_per_trade_fraction_max << "\"\n"
                                         "open_orders_max: " << c.open_orders_max << "\n"
                                         "order_rate_per_minute_max: " << c.order_rate_per_minute_max << "\n"
                                         "daily_loss_fraction_max: \"" << c.daily_loss_fraction_max << "\"\n"
                                         "starting_cash: \"" << c.starting_cash << "\"\n";
  return dir + "/gate.yaml";
}

// ------------------------------------------------------------------ processes

struct CommandResult {
  int exit_code = -1;  // -1: did not exit normally
  std::string out;
  std::string err;
};

// argv and an environment (the current one with `extra` entries
// "NAME=value" added or replacing) as the arrays execve() takes, built
// before fork(): a test process may have other threads (gate_app_test runs
// GateApp in-process), and a child forked from a multithreaded process may
// only make async-signal-safe calls until it execs. Allocating there can
// deadlock on a malloc lock another thread held at the fork.
class ExecArgs {
 public:
  ExecArgs(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env)
      : argv_(argv) {
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry(*e);
      const std::string name = entry.substr(0, entry.find('='));
      bool replaced = false;
      for (const auto& x : extra_env) replaced = replaced || x.substr(0, x.find('=')) == name;
      if (!replaced) env_.push_back(entry);
    }
    for (const auto& x : extra_env) env_.push_back(x);
    for (auto& a : argv_) argv_ptrs_.push_back(a.data());
    argv_ptrs_.push_back(nullptr);
    for (auto& e : env_) env_ptrs_.push_back(e.data());
    env_ptrs_.push_back(nullptr);
  }
  // Async-signal-safe; returns only if the exec failed.
  void exec() const { ::execve(argv_ptrs_[0], argv_ptrs_.data(), env_ptrs_.data()); }

 private:
  std::vector<std::string> argv_;
  std::vector<std::string> env_;
  std::vector<char*> argv_ptrs_;
  std::vector<char*> env_ptrs_;
};

// How long run_command waits for output or the end of a command before it
// kills it: tradectl answers in well under a second; a command stuck this
// long is a failure to report, not a reason to hang the test binary until
// ctest's timeout.
inline constexpr int kCommandTimeoutMs = 30'000;

// Runs argv[0] with argv, stdin from /dev/null, and captures both streams.
// Extra environment entries ("NAME=value") are added to the current one.
// A command that stays silent for kCommandTimeoutMs is killed (exit_code
// -1, and `err` says so).
inline CommandResult run_command(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}) {
  const ExecArgs exec_args(argv, env);
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return {};
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return {};
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here to the exec (see ExecArgs).
    ::dup2(out_pipe[1], 1);  // dup2 clears O_CLOEXEC on 1 and 2
    ::dup2(err_pipe[1], 2);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    exec_args.exec();
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  CommandResult r;
  struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_streams = 2;
  bool timed_out = false;
  char buf[4096];
  while (open_streams > 0) {
    const int ready = ::poll(fds, 2, kCommandTimeoutMs);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      timed_out = true;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_streams;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  if (timed_out && pid > 0) ::kill(pid, SIGKILL);
  int status = 0;
  if (pid > 0) ::waitpid(pid, &status, 0);
  r.exit_code = pid > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (timed_out) {
    r.exit_code = -1;
    r.err += "\n[run_command: " + argv[0] + " killed after " + std::to_string(kCommandTimeoutMs) + " ms without output]";
  }
  return r;
}

// The real trading-gate, started in `dir` with dir/gate.yaml, logging to
// dir/gate.log (appended across restarts).
class GateProcess {
 public:
  explicit GateProcess(std::string dir) : dir_(std::move(dir)) {}
  ~GateProcess() { kill_now(); }
  GateProcess(const GateProcess&) = delete;
  GateProcess& operator=(const GateProcess&) = delete;

  const std::string& dir() const { return dir_; }
  std::string admin_socket() const { return dir_ + "/admin.sock"; }
  std::string gate_socket() const { return dir_ + "/gate.sock"; }
  std::string journal_dir() const { return dir_ + "/journal"; }
  std::string log_path() const { return dir_ + "/gate.log"; }
  pid_t pid() const { return pid_; }

  // Starts the process; does not wait for readiness.
  void spawn(const std::vector<std::string>& extra_args = {}) {
    kill_now();
    std::vector<std::string> argv = {TRADING_GATE_BIN, "--config", dir_ + "/gate.yaml"};
    for (const auto& a : extra_args) argv.push_back(a);
    const ExecArgs exec_args(argv, {});
    const std::string log_file = log_path();
    pid_ = ::fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls from here to the exec (see ExecArgs).
      // If the test process dies (a crash, an abort), the gate goes too.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int log = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (log >= 0) {
        ::dup2(log, 1);
        ::dup2(log, 2);
      }
      exec_args.exec();
      ::_exit(127);
    }
  }

  // Polls the admin socket until status says ready (or the process died).
  bool wait_ready(int timeout_ms = 20'000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!alive()) return false;
      ta::gate::AdminClientOptions o;
      o.socket_path = admin_socket();
      o.timeout_ms = 2'000;
      ta::ipc::AdminEnvelope req;
      req.mutable_status_request();
      auto r = ta::gate::admin_request(o, req);
      if (r.ok() && r->has_status_reply() && r->status_reply().ready()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  bool start(const std::vector<std::string>& extra_args = {}) {
    spawn(extra_args);
    return wait_ready();
  }

  bool alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_status_ = status;
      pid_ = -1;
      return false;
    }
    return true;
  }

  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  // Waits for the process to end; returns its exit code, 128+signal if it
  // was killed, -1 on timeout.
  int wait_exit(int timeout_ms = 10'000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!alive()) {
        if (WIFEXITED(exit_status_)) return WEXITSTATUS(exit_status_);
        if (WIFSIGNALED(exit_status_)) return 128 + WTERMSIG(exit_status_);
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return -1;
  }

  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string log() const {
    std::ifstream in(log_path());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

// One request on admin.sock; a failure to get an answer fails the test
// and returns an empty envelope.
inline ta::ipc::AdminEnvelope admin(const std::string& socket, const ta::ipc::AdminEnvelope& request) {
  ta::gate::AdminClientOptions o;
  o.socket_path = socket;
  auto r = ta::gate::admin_request(o, request);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : ta::ipc::AdminEnvelope();
}

inline CommandResult tradectl(const std::string& socket, std::vector<std::string> args) {
  std::vector<std::string> argv = {TRADECTL_BIN, "--socket", socket};
  for (auto& a : args) argv.push_back(std::move(a));
  return run_command(argv);
}

// ------------------------------------------------------------------ agent

// A raw agent on gate.sock: Hello, then envelopes written and frames read
// with deadlines. Everything the gate pushes is kept in order in `seen`.
class AgentPeer {
 public:
  bool connect(const std::string& socket_path, int timeout_ms = 5'000) {
    peer_ = RawPeer::connect(socket_path);
    if (!peer_.valid()) return false;
    ta::ipc::Envelope hello;
    hello.set_request_id(next_request_id_++);
    hello.mutable_hello()->set_protocol_version(ta::ipc::PROTOCOL_VERSION_CURRENT);
    hello.mutable_hello()->set_client_name("test-agent");
    if (!peer_.write_message(hello)) return false;
    ta::ipc::Envelope ack;
    if (!next(ack, timeout_ms) || !ack.has_hello_ack()) return false;
    ack_ = ack.hello_ack();
    return ack_.accepted();
  }
  const ta::ipc::HelloAck& ack() const { return ack_; }
  bool valid() const { return peer_.valid(); }
  RawPeer& raw() { return peer_; }

  std::uint64_t send(ta::ipc::Envelope e) {
    const std::uint64_t id = next_request_id_++;
    e.set_request_id(id);
    return peer_.write_message(e) ? id : 0;
  }
  std::uint64_t send_intent(const ta::ipc::OrderIntent& intent) {
    ta::ipc::Envelope e;
    *e.mutable_order_intent() = intent;
    return send(std::move(e));
  }
  std::uint64_t send_bar(const ta::ipc::Bar& bar) {
    ta::ipc::Envelope e;
    *e.mutable_bar() = bar;
    return send(std::move(e));
  }
  std::uint64_t send_heartbeat() {
    ta::ipc::Envelope e;
    e.mutable_heartbeat()->set_sequence(++heartbeats_);
    return send(std::move(e));
  }

  // The next frame within timeout_ms; false on timeout or a closed socket.
  bool next(ta::ipc::Envelope& out, int timeout_ms = 5'000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string payload;
    for (;;) {
      // poll_closed() reads what arrived with the close: a frame sent just
      // before it (a protocol error) is then decoded on the next pass.
      const bool closed = peer_.poll_closed();
      if (peer_.poll_frame(payload)) {
        if (!out.ParseFromString(payload)) return false;
        seen.push_back(out);
        return true;
      }
      if (closed || std::chrono::steady_clock::now() >= deadline) return false;
      struct pollfd p = {peer_.fd(), POLLIN, 0};
      ::poll(&p, 1, 5);
    }
  }

  // Reads until a frame satisfies `match` (kept in `out`); false on timeout.
  bool wait_for(const std::function<bool(const ta::ipc::Envelope&)>& match, ta::ipc::Envelope& out,
                int timeout_ms = 5'000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      if (!next(out, static_cast<int>(left.count()))) return false;
      if (match(out)) return true;
    }
  }

  bool decision_for(const std::string& intent_id, ta::ipc::Decision& out, int timeout_ms = 5'000) {
    ta::ipc::Envelope e;
    if (!wait_for([&](const ta::ipc::Envelope& m) { return m.has_decision() && m.decision().intent_id() == intent_id; },
                  e, timeout_ms)) {
      return false;
    }
    out = e.decision();
    return true;
  }

  bool reply_to(std::uint64_t request_id, ta::ipc::Envelope& out, int timeout_ms = 5'000) {
    return wait_for([&](const ta::ipc::Envelope& m) { return m.request_id() == request_id; }, out, timeout_ms);
  }

  std::vector<ta::ipc::Envelope> seen;

 private:
  RawPeer peer_{ta::proto::UniqueFd()};
  ta::ipc::HelloAck ack_;
  std::uint64_t next_request_id_ = 1;
  std::uint64_t heartbeats_ = 0;
};

// ------------------------------------------------------------------ market data

// The repository's real one-minute Coinbase BTC-USD bars of 2018-04-04
// (tests/unit/gate_core/data), as gate.proto Bars.
inline std::vector<ta::ipc::Bar> sample_bars(std::size_t limit = 400) {
  std::ifstream in(source_dir() + "/tests/unit/gate_core/data/coinbase_BTC-USD_1m_2018-04-04_first400.csv");
  std::vector<ta::ipc::Bar> out;
  std::string line;
  std::getline(in, line);  // ts,open,high,low,close,volume
  while (out.size() < limit && std::getline(in, line)) {
    std::stringstream ss(line);
    std::string f[6];
    for (auto& x : f) std::getline(ss, x, ',');
    ta::ipc::Bar b;
    b.set_product("BTC-USD");
    b.set_open_ts_s(std::stoll(f[0]));
    b.set_open(f[1]);
    b.set_high(f[2]);
    b.set_low(f[3]);
    b.set_close(f[4]);
    b.set_volume(f[5]);
    out.push_back(b);
  }
  return out;
}

inline ta::ipc::OrderIntent limit_intent(const std::string& id, ta::ipc::Side side, const std::string& quantity,
                                         const std::string& price, const std::string& stop) {
  ta::ipc::OrderIntent i;
  i.set_intent_id(id);
  i.set_strategy("test");
  i.set_product("BTC-USD");
  i.set_side(side);
  i.set_type(ta::ipc::ORDER_TYPE_LIMIT);
  i.set_quantity(quantity);
  i.set_limit_price(price);
  i.set_time_in_force(ta::ipc::TIME_IN_FORCE_GTC);
  if (!stop.empty()) i.set_protective_stop_price(stop);
  return i;
}

inline ta::ipc::OrderIntent market_intent(const std::string& id, ta::ipc::Side side, const std::string& quantity,
                                          const std::string& stop) {
  ta::ipc::OrderIntent i;
  i.set_intent_id(id);
  i.set_strategy("test");
  i.set_product("BTC-USD");
  i.set_side(side);
  i.set_type(ta::ipc::ORDER_TYPE_MARKET);
  i.set_quantity(quantity);
  i.set_time_in_force(ta::ipc::TIME_IN_FORCE_GTC);
  if (!stop.empty()) i.set_protective_stop_price(stop);
  return i;
}

// ------------------------------------------------------------------ journal

// Every GateRecord in the journal directory, in order. Stops at the end or
// at the first problem (reported in `error`).
inline std::vector<ta::ipc::GateRecord> read_gate_records(const std::string& dir, std::string* error = nullptr) {
  std::vector<ta::ipc::GateRecord> out;
  auto reader = ta::journal::Reader::open(dir);
  if (!reader) {
    if (error) *error = reader.error().message;
    return out;
  }
  for (;;) {
    auto next = (*reader)->next();
    if (!next) {
      if (error) *error = next.error().message;
      return out;
    }
    if (!next->has_value()) return out;
    ta::ipc::GateRecord r;
    if (!r.ParseFromArray((*next)->payload.data(), static_cast<int>((*next)->payload.size()))) {
      if (error) *error = "unparsable record " + std::to_string((*next)->seq);
      return out;
    }
    out.push_back(std::move(r));
  }
}

}  // namespace ta::test
