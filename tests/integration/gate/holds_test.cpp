// Orders held for approval, end to end: the real trading-gate binary (SIM)
// with a rule that holds orders above 0.005 BTC, a raw agent on gate.sock
// and the real tradectl on admin.sock. A held order waits until a person
// approves it (decided again, then sent to the venue and filled on the next
// bar), rejects it, or its time runs out in market time; each settlement is
// journaled as IntentDecided before the agent hears of it as a Decision
// for the held intent id; holds survive a SIGKILL; the agent's socket
// cannot settle a hold.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdio>
#include <filesystem>

#include "gate_daemon_support.h"
#include "proto/decimal.h"

namespace ta::test {
namespace {

using ipc::Envelope;

// The hold lasts 10 minutes of market time: 10 one-minute bars.
constexpr const char* kHoldRule =
    "rule hold_big v1 \"Orders above 0.005 BTC wait for a person\" {\n"
    "  from proposal \"p-hold\"\n"
    "  when order.quantity > 0.005\n"
    "  then hold for approval within 10m\n"
    "}\n";

class HoldsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() + "/rules-active");
    std::ofstream(dir_.path() + "/rules-active/hold_big.rule") << kHoldRule;
    write_gate_config(dir_.path());
    gate_ = std::make_unique<GateProcess>(dir_.path());
    ASSERT_TRUE(gate_->start()) << gate_->log();
    connect();
  }
  void connect() {
    agent_ = std::make_unique<AgentPeer>();
    ASSERT_TRUE(agent_->connect(gate_->gate_socket())) << gate_->log();
  }
  void bar(std::size_t i) {
    const std::uint64_t id = agent_->send_bar(bars_.at(i));
    Envelope reply;
    ASSERT_TRUE(agent_->reply_to(id, reply)) << gate_->log();
    ASSERT_TRUE(reply.has_position_snapshot()) << reply.DebugString();
  }
  // A buy of `quantity` at the current price (the sample's closes are near 7400).
  ipc::Decision intend(const std::string& id, const std::string& quantity) {
    agent_->send_intent(limit_intent(id, ipc::SIDE_BUY, quantity, "7500", "7300"));
    ipc::Decision d;
    EXPECT_TRUE(agent_->decision_for(id, d)) << gate_->log();
    return d;
  }
  CommandResult ctl(std::vector<std::string> args) { return tradectl(gate_->admin_socket(), std::move(args)); }
  boost::json::array held() {
    CommandResult r = ctl({"holds", "list", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const boost::json::value v = boost::json::parse(r.out);
    if (!v.as_object().contains("holds")) return {};
    return v.at("holds").as_array();
  }
  // IntentDecided records for `intent_id`, in journal order.
  std::vector<ipc::Decision> journaled(const std::string& intent_id) {
    std::vector<ipc::Decision> out;
    for (const auto& r : read_gate_records(gate_->journal_dir())) {
      if (r.has_intent_decided() && r.intent_decided().intent().intent_id() == intent_id) {
        out.push_back(r.intent_decided().decision());
      }
    }
    return out;
  }
  std::string position() {
    CommandResult r = ctl({"positions", "--json"});
    const boost::json::value v = boost::json::parse(r.out);
    for (const auto& p : v.at("positions").as_array()) {
      if (p.at("product").as_string() == "BTC-USD") return std::string(p.at("quantity").as_string());
    }
    return "0";
  }

  TempDir dir_;
  std::unique_ptr<GateProcess> gate_;
  std::unique_ptr<AgentPeer> agent_;
  std::vector<ipc::Bar> bars_ = sample_bars(40);
};

TEST_F(HoldsTest, ApprovedHoldIsDecidedAgainSentAndFilled) {
  bar(0);
  const ipc::Decision d = intend("i-big", "0.01");
  ASSERT_FALSE(d.accepted());
  ASSERT_EQ(d.reason(), ipc::DENY_REASON_HELD_FOR_APPROVAL) << d.DebugString();
  // Small orders pass.
  EXPECT_TRUE(intend("i-small", "0.004").accepted());

  const auto list = held();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("intent").at("intent_id").as_string(), "i-big");
  EXPECT_EQ(list[0].at("decision").at("rules_fired").at(0).as_string(), "hold_big");
  CommandResult text = ctl({"holds", "list"});
  std::printf("$ tradectl holds list\n%s", text.out.c_str());  // the example in docs/operations.md
  EXPECT_NE(text.out.find("i-big"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("hold_big"), std::string::npos) << text.out;

  CommandResult approved = ctl({"holds", "approve", "i-big", "--reason", "checked the book"});
  ASSERT_EQ(approved.exit_code, 0) << approved.err << gate_->log();
  std::printf("$ tradectl holds approve i-big --reason \"checked the book\"\n%s", approved.out.c_str());
  EXPECT_NE(approved.out.find("held intent i-big approved: order o-"), std::string::npos) << approved.out;
  // The agent hears the final decision for the same intent id, unasked.
  ipc::Decision pushed;
  ASSERT_TRUE(agent_->decision_for("i-big", pushed)) << gate_->log();
  EXPECT_TRUE(pushed.accepted()) << pushed.DebugString();
  EXPECT_EQ(pushed.quantity(), "0.01");
  EXPECT_NE(pushed.detail().find("approved by uid:"), std::string::npos) << pushed.detail();
  // Journaled: the hold, then the release; the release names the operator.
  const auto records = journaled("i-big");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].reason(), ipc::DENY_REASON_HELD_FOR_APPROVAL);
  EXPECT_TRUE(records[1].accepted());
  EXPECT_EQ(records[1].order_id(), pushed.order_id());
  EXPECT_TRUE(held().empty());

  // The order trades on the next bar like any other (the sample's next
  // low is below 7500).
  bar(1);
  EXPECT_EQ(*ta::Decimal::parse(position()), *ta::Decimal::parse("0.014")) << position() << gate_->log();
  // Settled: a second approval is refused, naming the intent.
  CommandResult again = ctl({"holds", "approve", "i-big"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("i-big"), std::string::npos) << again.err;
  // A retry of the intent id gets the final answer, not a second order.
  ipc::Decision retry = intend("i-big", "0.01");
  EXPECT_TRUE(retry.accepted());
  EXPECT_TRUE(retry.replayed());
  EXPECT_EQ(retry.order_id(), pushed.order_id());
}

TEST_F(HoldsTest, RejectedHoldIsADenialTheAgentHears) {
  bar(0);
  ASSERT_EQ(intend("i-big", "0.01").reason(), ipc::DENY_REASON_HELD_FOR_APPROVAL);
  CommandResult no_reason = ctl({"holds", "reject", "i-big"});
  EXPECT_EQ(no_reason.exit_code, 2) << "--reason is required";
  CommandResult rejected = ctl({"holds", "reject", "i-big", "--reason", "too large for a Sunday"});
  ASSERT_EQ(rejected.exit_code, 0) << rejected.err;
  EXPECT_EQ(rejected.out, "held intent i-big rejected\n");
  ipc::Decision pushed;
  ASSERT_TRUE(agent_->decision_for("i-big", pushed)) << gate_->log();
  EXPECT_FALSE(pushed.accepted());
  EXPECT_EQ(pushed.reason(), ipc::DENY_REASON_RULE);
  EXPECT_NE(pushed.detail().find("too large for a Sunday"), std::string::npos) << pushed.detail();
  EXPECT_TRUE(held().empty());
  bar(1);
  EXPECT_TRUE(ta::Decimal::parse(position())->is_zero()) << position();
}

TEST_F(HoldsTest, HoldsExpireInMarketTimeAndSurviveAKill) {
  bar(0);
  ASSERT_EQ(intend("i-big", "0.01").reason(), ipc::DENY_REASON_HELD_FOR_APPROVAL);
  // SIGKILL: the hold is rebuilt from the journal.
  gate_->kill_now();
  ASSERT_TRUE(gate_->start()) << gate_->log();
  connect();
  ASSERT_EQ(held().size(), 1u) << gate_->log();
  // Bar 0 closed at t0 + 1m and the hold lasts 10m: still held after the
  // bar that closes at t0 + 10m, expired by the one that closes at t0 + 11m.
  for (std::size_t i = 1; i <= 9; ++i) bar(i);
  EXPECT_EQ(held().size(), 1u);
  bar(10);
  EXPECT_TRUE(held().empty()) << gate_->log();
  // The push came before the bar's reply (read while waiting for it).
  ipc::Decision pushed;
  for (const Envelope& m : agent_->seen) {
    if (m.has_decision() && m.decision().intent_id() == "i-big") pushed = m.decision();
  }
  ASSERT_EQ(pushed.intent_id(), "i-big") << gate_->log();
  EXPECT_FALSE(pushed.accepted());
  EXPECT_EQ(pushed.reason(), ipc::DENY_REASON_RULE);
  const auto records = journaled("i-big");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_NE(records[1].detail().find("expired"), std::string::npos) << records[1].detail();
  // Too late to approve.
  CommandResult late = ctl({"holds", "approve", "i-big"});
  EXPECT_EQ(late.exit_code, 1);
}

TEST_F(HoldsTest, TheAgentSocketCannotSettleAHold) {
  bar(0);
  ASSERT_EQ(intend("i-big", "0.01").reason(), ipc::DENY_REASON_HELD_FOR_APPROVAL);
  // gate.proto has no message that settles a hold (ProposalsTest checks the
  // whole list of what an agent may send); the admin request sent on
  // gate.sock does not decode as one, so the gate closes the connection.
  ipc::AdminEnvelope approve;
  approve.set_request_id(99);
  approve.mutable_hold_decision_request()->set_intent_id("i-big");
  approve.mutable_hold_decision_request()->set_approve(true);
  ASSERT_TRUE(agent_->raw().write_message(approve));
  Envelope refused;
  ASSERT_TRUE(agent_->wait_for([](const Envelope& m) { return m.has_protocol_error(); }, refused)) << gate_->log();
  Envelope nothing;
  EXPECT_FALSE(agent_->next(nothing, 2'000)) << "the gate closed the connection";
  EXPECT_EQ(held().size(), 1u) << "still held";
  EXPECT_EQ(journaled("i-big").size(), 1u);
  EXPECT_TRUE(gate_->alive());
}

}  // namespace
}  // namespace ta::test
