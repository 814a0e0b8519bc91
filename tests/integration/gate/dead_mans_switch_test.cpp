// The dead-man's switch against a real, stopped agent process: a small
// agent (gate_test_agent, the agent's own GateClient) heartbeats and places
// a resting order; the test SIGSTOPs it; the gate must cancel the order and
// go HALTED within heartbeat.timeout, journal it, push it, and show it in
// tradectl status. A resume needs an operator.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "gate_daemon_support.h"

namespace ta::test {
namespace {

using ipc::Envelope;

struct AgentProcess {
  pid_t pid = -1;
  int out = -1;

  void spawn(const std::vector<std::string>& argv) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out = fds[0];
  }
  // One line of the agent's stdout within timeout_ms.
  std::string line(int timeout_ms) {
    std::string text;
    char c = 0;
    struct pollfd p = {out, POLLIN, 0};
    while (::poll(&p, 1, timeout_ms) > 0 && ::read(out, &c, 1) == 1) {
      if (c == '\n') return text;
      text.push_back(c);
    }
    return text;
  }
  ~AgentProcess() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (out >= 0) ::close(out);
  }
};

boost::json::value status_json(const GateProcess& gate) {
  CommandResult r = tradectl(gate.admin_socket(), {"status", "--json"});
  boost::system::error_code ec;
  auto v = boost::json::parse(r.out, ec);
  return ec ? boost::json::value() : v;
}

TEST(DeadMansSwitch, StoppedAgentGetsItsOrdersCancelledAndTheGateHalts) {
  TempDir dir;
  GateTestConfig c;
  c.heartbeat_period = "100ms";
  c.heartbeat_timeout = "1s";
  write_gate_config(dir.path(), c);
  GateProcess gate(dir.path());
  ASSERT_TRUE(gate.start()) << gate.log();
  const auto bars = sample_bars(3);

  // A second agent connection relays bars (it never heartbeats, so it does
  // not keep the switch happy on the agent's behalf).
  AgentPeer feeder;
  ASSERT_TRUE(feeder.connect(gate.gate_socket()));
  Envelope reply;
  ASSERT_TRUE(feeder.reply_to(feeder.send_bar(bars[0]), reply));

  AgentProcess agent;
  agent.spawn({GATE_TEST_AGENT_BIN, gate.gate_socket(), "dms-1", "0.01", "7350", "7300"});
  ASSERT_EQ(agent.line(10'000), "accepted o-1") << gate.log();
  ASSERT_TRUE(feeder.reply_to(feeder.send_bar(bars[1]), reply));  // the order rests (OPEN)
  // Heartbeats flow: well past the timeout, still ACTIVE.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_EQ(status_json(gate).at("halt_state").as_string(), "HALT_STATE_ACTIVE") << gate.log();

  ASSERT_EQ(::kill(agent.pid, SIGSTOP), 0);
  const auto stopped_at = std::chrono::steady_clock::now();
  bool halted = false;
  while (!halted && std::chrono::steady_clock::now() - stopped_at < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto st = status_json(gate);
    halted = st.is_object() && st.at("halt_state").as_string() == "HALT_STATE_HALTED";
  }
  const auto waited = std::chrono::steady_clock::now() - stopped_at;
  ASSERT_TRUE(halted) << gate.log();
  EXPECT_GE(waited, std::chrono::milliseconds(900));  // not before heartbeat.timeout (1 s)

  CommandResult status = tradectl(gate.admin_socket(), {"status"});
  EXPECT_NE(status.out.find("halt            HALTED"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("dead-man's switch"), std::string::npos) << status.out;
  // The order is being cancelled; the venue confirms at the next bar.
  CommandResult orders = tradectl(gate.admin_socket(), {"orders", "--json"});
  EXPECT_NE(orders.out.find("ORDER_STATE_CANCEL_PENDING"), std::string::npos) << orders.out;
  Envelope push;
  ASSERT_TRUE(feeder.wait_for([](const Envelope& e) { return e.has_halt_state_changed(); }, push));
  EXPECT_EQ(push.halt_state_changed().to(), ipc::HALT_STATE_HALTED);
  EXPECT_EQ(push.halt_state_changed().actor(), "dead_mans_switch");
  ASSERT_TRUE(feeder.reply_to(feeder.send_bar(bars[2]), reply));
  CommandResult after = tradectl(gate.admin_socket(), {"orders", "--all", "--json"});
  EXPECT_NE(after.out.find("ORDER_STATE_CANCELLED"), std::string::npos) << after.out;

  bool halt_journaled = false;
  bool cancel_journaled = false;
  for (const auto& r : read_gate_records(gate.journal_dir())) {
    if (r.has_halt_state_changed() && r.halt_state_changed().cause() == ipc::HALT_CAUSE_HEARTBEAT_TIMEOUT) {
      halt_journaled = true;
    }
    if (r.has_order_update() && r.order_update().order_id() == "o-1" &&
        r.order_update().event() == ipc::ORDER_EVENT_TYPE_CANCEL_ACK) {
      cancel_journaled = true;
    }
  }
  EXPECT_TRUE(halt_journaled);
  EXPECT_TRUE(cancel_journaled);

  // The switch needs an operator; once resumed the gate trades again.
  ::kill(agent.pid, SIGCONT);
  EXPECT_EQ(tradectl(gate.admin_socket(), {"resume", "--reason", "agent restarted"}).exit_code, 0);
  EXPECT_EQ(status_json(gate).at("halt_state").as_string(), "HALT_STATE_ACTIVE");
}

}  // namespace
}  // namespace ta::test
