// GateApp in this process, on its own io_context thread, with a disk that
// fails on purpose (the journal's FileOps seam): when the journal stops
// being writable the gate must halt, never tell the agent about an
// acceptance that did not reach the disk, refuse every intent and operator
// action from then on, and say why in its status.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <future>

#include "gate/daemon.h"
#include "gate_daemon_support.h"

namespace ta::test {
namespace {

using ipc::Envelope;

class FailingDisk : public journal::FileOps {
 public:
  std::atomic<bool> fail{false};
  int fdatasync(int fd) override { return fail ? EIO : journal::FileOps::fdatasync(fd); }
};

class RunningGate {
 public:
  RunningGate(const std::string& config_path, journal::FileOps* ops) {
    auto load = gate::load_config(config_path);
    EXPECT_TRUE(load.problems.empty());
    gate::GateAppOptions o;
    o.config = load.config;
    o.config_file = config_path;
    o.gate_version = "test";
    o.journal_file_ops = ops;
    app_ = std::make_unique<gate::GateApp>(io_, std::move(o));
    std::promise<std::string> started;
    thread_ = std::thread([&] {
      auto st = app_->start();
      started.set_value(st.ok() ? "" : st.error().message);
      io_.run();
    });
    start_error = started.get_future().get();
  }
  ~RunningGate() {
    boost::asio::post(io_, [this] { app_->stop("test over", [this] { io_.stop(); }); });
    thread_.join();
  }
  std::string start_error;

 private:
  boost::asio::io_context io_{1};
  std::unique_ptr<gate::GateApp> app_;
  std::thread thread_;
};

ipc::StatusReply status(const std::string& socket) {
  gate::AdminClientOptions o;
  o.socket_path = socket;
  ipc::AdminEnvelope req;
  req.mutable_status_request();
  auto r = gate::admin_request(o, req);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r->status_reply() : ipc::StatusReply();
}

TEST(GateApp, AnUnwritableJournalHaltsTheGateAndNothingUnjournaledGetsOut) {
  TempDir dir;
  const std::string config = write_gate_config(dir.path());
  const std::string admin = dir.file("admin.sock");
  FailingDisk disk;
  const auto bars = sample_bars(3);
  {
    RunningGate gate(config, &disk);
    ASSERT_EQ(gate.start_error, "");
    AgentPeer agent;
    ASSERT_TRUE(agent.connect(dir.file("gate.sock")));
    Envelope reply;
    ASSERT_TRUE(agent.reply_to(agent.send_bar(bars[0]), reply));
    ipc::Decision d;
    agent.send_intent(limit_intent("ok-1", ipc::SIDE_BUY, "0.01", "7350", "7300"));
    ASSERT_TRUE(agent.decision_for("ok-1", d));
    ASSERT_TRUE(d.accepted());

    disk.fail = true;
    agent.send_intent(limit_intent("lost-1", ipc::SIDE_BUY, "0.01", "7340", "7300"));
    // The acceptance never reached the disk, so it is never announced.
    Envelope halt;
    ASSERT_TRUE(agent.wait_for([](const Envelope& e) { return e.has_halt_state_changed(); }, halt, 5000));
    EXPECT_EQ(halt.halt_state_changed().to(), ipc::HALT_STATE_HALTED);
    EXPECT_EQ(halt.halt_state_changed().cause(), ipc::HALT_CAUSE_JOURNAL_UNWRITABLE);
    for (const Envelope& e : agent.seen) {
      EXPECT_FALSE(e.has_decision() && e.decision().intent_id() == "lost-1" && e.decision().accepted());
    }
    // From now on every intent is refused, and so are operator actions.
    agent.send_intent(limit_intent("after-1", ipc::SIDE_BUY, "0.01", "7330", "7300"));
    ASSERT_TRUE(agent.decision_for("after-1", d));
    EXPECT_FALSE(d.accepted());
    EXPECT_EQ(d.reason(), ipc::DENY_REASON_HALTED);
    EXPECT_NE(d.detail().find("journal not writable"), std::string::npos) << d.detail();
    const auto st = status(admin);
    EXPECT_EQ(st.halt_state(), ipc::HALT_STATE_HALTED);
    EXPECT_FALSE(st.ready());
    EXPECT_NE(st.halt_reason().find("journal not writable"), std::string::npos) << st.halt_reason();
    CommandResult resume = tradectl(admin, {"resume"});
    EXPECT_EQ(resume.exit_code, 1);
    EXPECT_NE(resume.err.find("journal not writable"), std::string::npos) << resume.err;
    // Bars are not processed any more either.
    const std::uint64_t id = agent.send_bar(bars[1]);
    ASSERT_TRUE(agent.reply_to(id, reply));
    EXPECT_TRUE(reply.has_protocol_error());
  }
  // With a working disk the gate starts again from what the journal holds.
  disk.fail = false;
  RunningGate gate(config, &disk);
  ASSERT_EQ(gate.start_error, "");
  const auto st = status(admin);
  EXPECT_TRUE(st.ready());
  AgentPeer agent;
  ASSERT_TRUE(agent.connect(dir.file("gate.sock")));
  ipc::Decision d;
  agent.send_intent(limit_intent("ok-1", ipc::SIDE_BUY, "0.01", "7350", "7300"));
  ASSERT_TRUE(agent.decision_for("ok-1", d));
  EXPECT_TRUE(d.accepted() && d.replayed());
  EXPECT_EQ(d.order_id(), "o-1");
}

// A reload whose RulesLoaded record cannot be made durable never comes
// into force; once the journal has failed, reloads are refused at once.
TEST(GateApp, AReloadThatCannotBeJournaledChangesNothing) {
  TempDir dir;
  const std::string config = write_gate_config(dir.path());
  const std::string admin = dir.file("admin.sock");
  FailingDisk disk;
  RunningGate gate(config, &disk);
  ASSERT_EQ(gate.start_error, "");
  const CommandResult before = tradectl(admin, {"rules", "list", "--json"});
  ASSERT_EQ(before.exit_code, 0) << before.err;

  std::filesystem::create_directories(dir.file("rules-active"));
  std::ofstream(dir.file("rules-active/extra.rule"))
      << "rule extra v1 \"x\" {\n  from proposal \"p-1\"\n  when true\n  then warn \"x\"\n}\n";
  disk.fail = true;
  const CommandResult pending = tradectl(admin, {"rules", "reload"});
  EXPECT_EQ(pending.exit_code, 1);
  EXPECT_NE(pending.err.find("refused rules reload"), std::string::npos) << pending.err;
  EXPECT_NE(pending.out.find("journal not writable"), std::string::npos) << pending.out;
  const CommandResult after = tradectl(admin, {"rules", "list", "--json"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(after.out, before.out);  // the same set, from the same reload

  const CommandResult refused = tradectl(admin, {"rules", "reload"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.out.find("journal not writable"), std::string::npos) << refused.out;
}

TEST(GateApp, StartRefusesLiveModeAndAJournalFromAnotherMode) {
  TempDir dir;
  const std::string config = write_gate_config(dir.path());
  {
    RunningGate gate(config, nullptr);  // writes a SIM journal
    ASSERT_EQ(gate.start_error, "");
  }
  for (const char* mode : {"PAPER", "LIVE"}) {
    std::string text;
    {
      std::ifstream in(config);
      std::stringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    }
    const auto at = text.find("mode: ");
    text.replace(at, text.find('\n', at) - at, std::string("mode: ") + mode);
    std::ofstream(config) << text;
    RunningGate gate(config, nullptr);
    if (std::string(mode) == "LIVE") {
      EXPECT_NE(gate.start_error.find("LIVE needs the Coinbase venue"), std::string::npos) << gate.start_error;
    } else {
      EXPECT_NE(gate.start_error.find("written in MODE_SIM mode"), std::string::npos) << gate.start_error;
    }
  }
}

}  // namespace
}  // namespace ta::test
