// GateApp in this process (RunningGate), with a disk that
// fails on purpose (the journal's FileOps seam): when the journal stops
// being writable the gate must halt, never tell the agent about an
// acceptance that did not reach the disk, refuse every intent and operator
// action from then on, and say why in its status.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>

#include "gate/daemon.h"
#include "gate_daemon_support.h"
#include "proto/decimal.h"
#include "running_gate.h"

namespace ta::test {
namespace {

using ipc::Envelope;

class FailingDisk : public journal::FileOps {
 public:
  std::atomic<bool> fail{false};
  int fdatasync(int fd) override { return fail ? EIO : journal::FileOps::fdatasync(fd); }
};

ipc::StatusReply status(const std::string& socket) {
  ipc::AdminEnvelope req;
  req.mutable_status_request();
  return admin(socket, req).status_reply();
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

// A bug caught inside the gate (here: the venue reports a fill for an
// order the gate never made, through the test-only venue seam) halts it:
// HALTED with cause internal_error, journaled, every open order asked to
// cancel, and still HALTED after a restart until an operator resumes.
TEST(GateApp, AnInternalErrorHaltsTheGateAndIsJournaled) {
  TempDir dir;
  const std::string config = write_gate_config(dir.path());
  const std::string admin = dir.file("admin.sock");
  const auto bars = sample_bars(3);
  std::atomic<bool> misbehave{false};
  const auto stray_fill = [&misbehave](std::vector<gate::VenueEvent>& events) {
    if (!misbehave) return;
    gate::VenueEvent e;
    e.kind = gate::VenueEventKind::kFill;
    e.order_id = "o-99";
    e.quantity = Decimal::parse("0.01").value();
    e.price = Decimal::parse("7400").value();
    e.liquidity = ipc::LIQUIDITY_TAKER;
    events.push_back(e);
  };
  {
    RunningGate gate(config, nullptr, stray_fill);
    ASSERT_EQ(gate.start_error, "");
    AgentPeer agent;
    ASSERT_TRUE(agent.connect(dir.file("gate.sock")));
    Envelope reply;
    ASSERT_TRUE(agent.reply_to(agent.send_bar(bars[0]), reply));
    ipc::Decision d;
    agent.send_intent(limit_intent("rest-1", ipc::SIDE_BUY, "0.01", "7350", "7300"));
    ASSERT_TRUE(agent.decision_for("rest-1", d));
    ASSERT_TRUE(d.accepted());
    EXPECT_EQ(status(admin).halt_state(), ipc::HALT_STATE_ACTIVE);

    misbehave = true;
    ASSERT_TRUE(agent.reply_to(agent.send_bar(bars[1]), reply));
    Envelope halt;
    for (const Envelope& e : agent.seen) {
      if (e.has_halt_state_changed()) halt = e;
    }
    ASSERT_TRUE(halt.has_halt_state_changed());
    EXPECT_EQ(halt.halt_state_changed().to(), ipc::HALT_STATE_HALTED);
    EXPECT_EQ(halt.halt_state_changed().cause(), ipc::HALT_CAUSE_INTERNAL_ERROR);
    EXPECT_EQ(halt.halt_state_changed().actor(), "gate");
    const auto st = status(admin);
    EXPECT_EQ(st.halt_state(), ipc::HALT_STATE_HALTED);
    EXPECT_NE(st.halt_reason().find("internal error: venue fill for order o-99"), std::string::npos)
        << st.halt_reason();
    agent.send_intent(limit_intent("after-1", ipc::SIDE_BUY, "0.01", "7340", "7300"));
    ASSERT_TRUE(agent.decision_for("after-1", d));
    EXPECT_EQ(d.reason(), ipc::DENY_REASON_HALTED);
  }
  // The journal holds the halt and the cancel it asked for.
  bool journaled_halt = false;
  bool cancel_requested = false;
  for (const auto& r : read_gate_records(dir.file("journal"))) {
    if (r.has_halt_state_changed() && r.halt_state_changed().cause() == ipc::HALT_CAUSE_INTERNAL_ERROR) {
      journaled_halt = true;
      EXPECT_EQ(r.halt_state_changed().to(), ipc::HALT_STATE_HALTED);
    }
    if (r.has_order_update() && r.order_update().order_id() == "o-1" &&
        r.order_update().event() == ipc::ORDER_EVENT_TYPE_CANCEL_REQUEST) {
      cancel_requested = journaled_halt;  // after the halt
    }
  }
  EXPECT_TRUE(journaled_halt);
  EXPECT_TRUE(cancel_requested);

  RunningGate gate(config, nullptr);
  ASSERT_EQ(gate.start_error, "");
  const auto st = status(admin);
  EXPECT_EQ(st.halt_state(), ipc::HALT_STATE_HALTED);
  EXPECT_NE(st.halt_reason().find("internal error"), std::string::npos) << st.halt_reason();
  CommandResult resume = tradectl(admin, {"resume", "--reason", "bug looked at"});
  EXPECT_EQ(resume.exit_code, 0) << resume.err;
  EXPECT_EQ(status(admin).halt_state(), ipc::HALT_STATE_ACTIVE);
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
