// Orders held for approval: the held decision, the pending hold in the
// GateState, approval (which decides the intent again), rejection, expiry
// at its edge, the bound on pending holds, and a replay of the journaled
// decisions that rebuilds the same state without evaluating any rule.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gate/core.h"
#include "rule_stage_support.h"

namespace ta::gate {
namespace {

using namespace rstest;
using ::testing::ElementsAre;

const std::string kHoldRule =
    "rule big_order_review v1 \"Hold orders above 100 USD\" {\n"
    "  from core\n"
    "  when order.notional > 100 USD\n"
    "  then hold for approval within 30m\n"
    "}\n";
const std::string kHalveRule =
    "rule halve v1 \"Halve every order\" {\n"
    "  from core\n"
    "  when true\n"
    "  then cap quantity to order.quantity * 50%\n"
    "}\n";

// The journal of a test: every (intent, decision) in the order recorded.
struct Journal {
  std::vector<std::pair<ipc::OrderIntent, ipc::Decision>> records;
  void record(GateState& s, const ipc::OrderIntent& i, const ipc::Decision& d) {
    records.emplace_back(i, d);
    const Status st = s.record_decision(i, d);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
};

TEST(Hold, HeldThenApproved) {
  Bench b;
  b.rule_set = compile_rules(kHoldRule + kHalveRule);
  GateState s = b.make();
  const ipc::OrderIntent i = entry("big-1", "0.04");  // 400 USD, halved to 0.02
  const DecideResult held = decide(s, i, b.ctx());
  EXPECT_FALSE(held.decision.accepted());
  EXPECT_EQ(held.decision.reason(), ipc::DENY_REASON_HELD_FOR_APPROVAL);
  EXPECT_EQ(held.decision.detail(), "rule 'big_order_review' v1 holds the order for approval (expires in 1800s)");
  EXPECT_EQ(held.decision.quantity(), "0.02");
  EXPECT_FALSE(held.decision.reduce_only());
  EXPECT_EQ(field(held.decision, kFieldHoldExpiry), "1800");
  EXPECT_EQ(field(held.decision, kFieldRequestedQuantity), "0.04");
  EXPECT_THAT(fired(held.decision), ElementsAre("big_order_review", "halve"));
  EXPECT_FALSE(held.rule_halt);
  ASSERT_TRUE(held.rule_facts.has_value());

  ASSERT_TRUE(s.record_decision(i, held.decision).ok());
  ASSERT_EQ(s.pending_holds().size(), 1u);
  const PendingHold* h = s.find_hold("big-1");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->held_ts_ns, b.now);
  EXPECT_EQ(h->expires_ts_ns, b.now + 30 * kMinuteNs);
  EXPECT_TRUE(s.live_orders().empty());

  // A retry while held gets the held decision back.
  const ipc::Decision retry = decide(s, i, b.ctx()).decision;
  EXPECT_TRUE(retry.replayed());
  EXPECT_EQ(retry.reason(), ipc::DENY_REASON_HELD_FOR_APPROVAL);

  // The operator approves ten minutes later: decided again, hold counted as approved.
  b.now += 10 * kMinuteNs;
  auto approved = approve_hold(s, "big-1", op("alice"), b.ctx());
  ASSERT_TRUE(approved.ok()) << approved.error().message;
  const ipc::Decision& d = approved->result.decision;
  ASSERT_TRUE(d.accepted()) << d.detail();
  EXPECT_EQ(d.order_id(), "o-1");
  EXPECT_EQ(d.quantity(), "0.02");
  EXPECT_EQ(d.detail(), "approved by alice");
  EXPECT_EQ(field(d, kFieldHoldReleased), "1");
  EXPECT_EQ(d.decided_ts_ns(), b.now);
  EXPECT_EQ(approved->intent.SerializeAsString(), i.SerializeAsString());
  EXPECT_THAT(fired(d), ElementsAre("big_order_review", "halve"));

  ASSERT_TRUE(s.record_decision(approved->intent, d).ok());
  EXPECT_TRUE(s.pending_holds().empty());
  ASSERT_EQ(s.live_orders().size(), 1u);
  EXPECT_EQ(s.live_orders().begin()->second.quantity, D("0.02"));
  // A retry now gets the order.
  const ipc::Decision after = decide(s, i, b.ctx()).decision;
  EXPECT_TRUE(after.replayed());
  EXPECT_TRUE(after.accepted());
  EXPECT_EQ(after.order_id(), "o-1");
  // Settling twice is refused.
  EXPECT_FALSE(s.record_decision(approved->intent, d).ok());
  EXPECT_FALSE(approve_hold(s, "big-1", op(), b.ctx()).ok());
}

TEST(Hold, ExpiresAtItsEdge) {
  Bench b;
  b.rule_set = compile_rules(kHoldRule);
  GateState s = b.make();
  const ipc::OrderIntent i = entry("big-1", "0.04");
  ASSERT_TRUE(s.record_decision(i, decide(s, i, b.ctx()).decision).ok());
  const std::int64_t expiry = b.now + 30 * kMinuteNs;

  EXPECT_TRUE(expire_holds(s, expiry - 1).empty());
  b.now = expiry - 1;
  EXPECT_TRUE(approve_hold(s, "big-1", op(), b.ctx()).ok()) << "one ns before the expiry it can still be approved";
  b.now = expiry;
  EXPECT_FALSE(approve_hold(s, "big-1", op(), b.ctx()).ok()) << "at the expiry it cannot";

  const std::vector<HoldDecision> expired = expire_holds(s, expiry);
  ASSERT_EQ(expired.size(), 1u);
  const ipc::Decision& d = expired[0].result.decision;
  EXPECT_FALSE(d.accepted());
  EXPECT_EQ(d.reason(), ipc::DENY_REASON_RULE);
  EXPECT_EQ(d.detail(), "held order expired without approval");
  EXPECT_EQ(field(d, kFieldHoldExpired), "1");
  EXPECT_THAT(fired(d), ElementsAre("big_order_review"));
  ASSERT_TRUE(s.record_decision(expired[0].intent, d).ok());
  EXPECT_TRUE(s.pending_holds().empty());
  EXPECT_TRUE(expire_holds(s, expiry + kHourNs).empty());
  const ipc::Decision retry = decide(s, i, b.ctx()).decision;
  EXPECT_TRUE(retry.replayed());
  EXPECT_EQ(retry.detail(), "held order expired without approval");
}

TEST(Hold, RejectedByAnOperator) {
  Bench b;
  b.rule_set = compile_rules(kHoldRule);
  GateState s = b.make();
  const ipc::OrderIntent i = entry("big-1", "0.04");
  ASSERT_TRUE(s.record_decision(i, decide(s, i, b.ctx()).decision).ok());
  auto rejected = reject_hold(s, "big-1", op("bob"), "too big for a Friday", b.now);
  ASSERT_TRUE(rejected.ok());
  EXPECT_EQ(rejected->result.decision.detail(), "held order rejected by bob: too big for a Friday");
  EXPECT_EQ(field(rejected->result.decision, kFieldHoldRejected), "1");
  ASSERT_TRUE(s.record_decision(rejected->intent, rejected->result.decision).ok());
  EXPECT_TRUE(s.pending_holds().empty());
  EXPECT_TRUE(s.live_orders().empty());
  EXPECT_FALSE(reject_hold(s, "big-1", op("bob"), "", b.now).ok());
  EXPECT_FALSE(reject_hold(s, "unknown", op("bob"), "", b.now).ok());
}

TEST(Hold, ApprovalDecidesAgainAgainstTheCurrentState) {
  Bench b;
  b.rule_set = compile_rules(kHoldRule);
  GateState s = b.make();
  const ipc::OrderIntent i = entry("big-1", "0.04");
  ASSERT_TRUE(s.record_decision(i, decide(s, i, b.ctx()).decision).ok());
  // The operator halted the gate meanwhile: the approval yields a denial
  // that settles the hold; no order.
  ASSERT_TRUE(s.apply_halt_event(HaltEvent::kOperatorHalt, b.now).ok());
  auto approved = approve_hold(s, "big-1", op(), b.ctx());
  ASSERT_TRUE(approved.ok());
  const ipc::Decision& d = approved->result.decision;
  EXPECT_FALSE(d.accepted());
  EXPECT_EQ(d.reason(), ipc::DENY_REASON_HALTED);
  EXPECT_EQ(field(d, kFieldHoldReleased), "1");
  EXPECT_EQ(d.detail().rfind("approved by alice; the gate is HALTED", 0), 0u) << d.detail();
  ASSERT_TRUE(s.record_decision(approved->intent, d).ok());
  EXPECT_TRUE(s.pending_holds().empty());
  EXPECT_TRUE(s.live_orders().empty());
}

TEST(Hold, ReleaseNeverExceedsTheHeldQuantity) {
  Bench b;
  b.rule_set = compile_rules(kHoldRule + kHalveRule);
  GateState s = b.make();
  const ipc::OrderIntent i = entry("big-1", "0.04");
  ASSERT_TRUE(s.record_decision(i, decide(s, i, b.ctx()).decision).ok());  // held at 0.02
  // The rules were reloaded without the cap: still at most 0.02.
  b.rule_set = compile_rules(kHoldRule);
  auto approved = approve_hold(s, "big-1", op(), b.ctx());
  ASSERT_TRUE(approved.ok());
  ASSERT_TRUE(approved->result.decision.accepted()) << approved->result.decision.detail();
  EXPECT_EQ(approved->result.decision.quantity(), "0.02");
  // Even with no rule set at all.
  b.use_rules = false;
  auto without = approve_hold(s, "big-1", op(), b.ctx());
  ASSERT_TRUE(without.ok());
  EXPECT_EQ(without->result.decision.quantity(), "0.02");
  b.use_rules = true;
  // A cap that became tighter applies.
  b.rule_set = compile_rules(kHoldRule + "rule tiny v1 \"x\" {\n from core\n when true\n then cap quantity to 0.005\n}\n");
  auto tighter = approve_hold(s, "big-1", op(), b.ctx());
  ASSERT_TRUE(tighter.ok());
  EXPECT_EQ(tighter->result.decision.quantity(), "0.005");
}

TEST(Hold, ForcedReduceOnlySurvivesTheRelease) {
  Bench b;
  b.rule_set = compile_rules(kHoldRule + "rule ro v1 \"x\" {\n from core\n when true\n then force reduce_only\n}\n");
  GateState s = b.make();
  trade(s, "BTC-USD", ipc::SIDE_BUY, "1", "10000", kT0 - kHourNs);
  const ipc::OrderIntent i = exit_sell("out-1", "0.5", false);
  const ipc::Decision held = decide(s, i, b.ctx()).decision;
  ASSERT_EQ(held.reason(), ipc::DENY_REASON_HELD_FOR_APPROVAL) << held.detail();
  EXPECT_TRUE(held.reduce_only());
  ASSERT_TRUE(s.record_decision(i, held).ok());
  // Rules without the force, or none at all: the release stays reduce-only.
  b.rule_set = compile_rules(kHoldRule);
  auto approved = approve_hold(s, "out-1", op(), b.ctx());
  ASSERT_TRUE(approved.ok());
  ASSERT_TRUE(approved->result.decision.accepted()) << approved->result.decision.detail();
  EXPECT_TRUE(approved->result.decision.reduce_only());
  b.use_rules = false;
  auto bare = approve_hold(s, "out-1", op(), b.ctx());
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare->result.decision.reduce_only());
}

TEST(Hold, PendingHoldsAreBounded) {
  for (const std::size_t max : {std::size_t{1}, std::size_t{2}, std::size_t{3}}) {
    Bench b;
    b.bounds.pending_holds_max = max;
    b.rule_set = compile_rules(kHoldRule);
    GateState s = b.make();
    for (std::size_t k = 0; k < 2; ++k) {  // two holds
      const ipc::OrderIntent i = entry("big-" + std::to_string(k), "0.04");
      const ipc::Decision d = decide(s, i, b.ctx()).decision;
      if (k < max) {
        ASSERT_EQ(d.reason(), ipc::DENY_REASON_HELD_FOR_APPROVAL) << max;
        ASSERT_TRUE(s.record_decision(i, d).ok());
      } else {
        // Beyond the bound: denied at once, with the numbers.
        EXPECT_EQ(d.reason(), ipc::DENY_REASON_RULE) << max;
        EXPECT_EQ(d.limit(), std::to_string(max));
        EXPECT_EQ(d.observed(), std::to_string(max + 1));
        EXPECT_NE(d.detail().find("holds are full"), std::string::npos) << d.detail();
        ASSERT_TRUE(s.record_decision(i, d).ok());
      }
    }
    EXPECT_EQ(s.pending_holds().size(), std::min<std::size_t>(max, 2)) << max;
  }
  // A journal with more holds than the bound is refused, not obeyed.
  Bench b;
  b.rule_set = compile_rules(kHoldRule);
  GateState wide = b.make();
  const ipc::OrderIntent i1 = entry("a", "0.04"), i2 = entry("b", "0.04");
  const ipc::Decision d1 = decide(wide, i1, b.ctx()).decision;
  const ipc::Decision d2 = decide(wide, i2, b.ctx()).decision;
  b.bounds.pending_holds_max = 1;
  GateState narrow = b.make();
  ASSERT_TRUE(narrow.record_decision(i1, d1).ok());
  EXPECT_FALSE(narrow.record_decision(i2, d2).ok());
}

TEST(Hold, SettlementsThatDoNotFitAreRefused) {
  Bench b;
  b.rule_set = compile_rules(kHoldRule);
  GateState s = b.make();
  const ipc::OrderIntent i = entry("big-1", "0.04");
  ASSERT_TRUE(s.record_decision(i, decide(s, i, b.ctx()).decision).ok());
  auto approved = approve_hold(s, "big-1", op(), b.ctx());
  ASSERT_TRUE(approved.ok());
  // The same settlement for another intent id, or for changed content.
  ipc::OrderIntent other = i;
  other.set_quantity("0.05");
  EXPECT_FALSE(s.record_decision(other, approved->result.decision).ok());
  ipc::OrderIntent unknown = entry("nobody", "0.04");
  ipc::Decision for_unknown = approved->result.decision;
  for_unknown.set_intent_id("nobody");
  EXPECT_FALSE(s.record_decision(unknown, for_unknown).ok());
  // An accepted decision without the approval mark cannot settle a hold.
  ipc::Decision unmarked = approved->result.decision;
  unmarked.clear_fields();
  ipc::DecisionField* f = unmarked.add_fields();
  f->set_name("order_price");
  f->set_value("10000");
  EXPECT_FALSE(s.record_decision(i, unmarked).ok());
  // A held decision without a usable expiry is refused.
  GateState t = b.make();
  ipc::Decision held = decide(t, i, b.ctx()).decision;
  held.clear_fields();
  EXPECT_FALSE(t.record_decision(i, held).ok());
  EXPECT_TRUE(t.pending_holds().empty());
  EXPECT_EQ(s.pending_holds().size(), 1u);
}

TEST(Hold, ReplayRebuildsTheSameStateWithoutRules) {
  Bench b;
  b.rule_set = compile_rules(kHoldRule + kHalveRule + "rule note v1 \"x\" {\n from core\n when true\n then warn \"n\"\n}\n");
  GateState live = b.make();
  Journal j;
  // Held then approved, held then expired, held then rejected, accepted.
  for (const char* id : {"h-1", "h-2", "h-3"}) j.record(live, entry(id, "0.04"), decide(live, entry(id, "0.04"), b.ctx()).decision);
  j.record(live, entry("small", "0.005"), decide(live, entry("small", "0.005"), b.ctx()).decision);
  b.now += kMinuteNs;
  auto a = approve_hold(live, "h-1", op(), b.ctx());
  ASSERT_TRUE(a.ok());
  j.record(live, a->intent, a->result.decision);
  auto r = reject_hold(live, "h-3", op("bob"), "no", b.now);
  ASSERT_TRUE(r.ok());
  j.record(live, r->intent, r->result.decision);
  for (const HoldDecision& e : expire_holds(live, b.now + kHourNs)) j.record(live, e.intent, e.result.decision);

  // The replay: the same records, no rule set anywhere.
  GateState replayed = b.make();
  for (const auto& [intent, decision] : j.records) {
    const Status st = replayed.record_decision(intent, decision);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  EXPECT_EQ(replayed.pending_holds().size(), live.pending_holds().size());
  EXPECT_TRUE(replayed.pending_holds().empty());
  EXPECT_EQ(replayed.rule_hits(), live.rule_hits());
  EXPECT_EQ(replayed.live_orders().size(), 2u);
  EXPECT_EQ(replayed.next_order_number(), live.next_order_number());
  EXPECT_EQ(replayed.recent_intent_times_ns(), live.recent_intent_times_ns());
  for (const char* id : {"h-1", "h-2", "h-3", "small"}) {
    ASSERT_TRUE(replayed.find_intent(id).has_value());
    EXPECT_EQ(replayed.find_intent(id)->decision.SerializeAsString(), live.find_intent(id)->decision.SerializeAsString())
        << id;
  }
  // Counts: note fired on all four intents and on the approval's re-decision.
  EXPECT_EQ(live.rule_hits().at("note"), 5u);
}

TEST(Hold, AHeldIntentForgottenByTheIdempotencyMemoryIsStillHeld) {
  Bench b;
  b.bounds.remembered_intents_max = 1;
  b.rule_set = compile_rules(kHoldRule);
  GateState s = b.make();
  const ipc::OrderIntent i = entry("big-1", "0.04");
  ASSERT_TRUE(s.record_decision(i, decide(s, i, b.ctx()).decision).ok());
  const ipc::OrderIntent other = entry("small-1", "0.001");
  ASSERT_TRUE(s.record_decision(other, decide(s, other, b.ctx()).decision).ok());
  ASSERT_FALSE(s.find_intent("big-1").has_value());  // forgotten
  // A retry is still the held decision, not a second hold.
  const ipc::Decision retry = decide(s, i, b.ctx()).decision;
  EXPECT_TRUE(retry.replayed());
  EXPECT_EQ(retry.reason(), ipc::DENY_REASON_HELD_FOR_APPROVAL);
  ipc::OrderIntent changed = i;
  changed.set_quantity("0.05");
  EXPECT_EQ(decide(s, changed, b.ctx()).decision.reason(), ipc::DENY_REASON_DUPLICATE_ID_CONFLICT);
  // Approval still works and the retry then gets the order.
  auto approved = approve_hold(s, "big-1", op(), b.ctx());
  ASSERT_TRUE(approved.ok());
  ASSERT_TRUE(s.record_decision(approved->intent, approved->result.decision).ok());
  EXPECT_TRUE(decide(s, i, b.ctx()).decision.accepted());
}

TEST(Hold, OperatorIdentity) {
  EXPECT_TRUE(OperatorId::make("alice").ok());
  EXPECT_TRUE(OperatorId::make("uid:1000").ok());
  EXPECT_TRUE(OperatorId::make(std::string(64, 'a')).ok());
  EXPECT_FALSE(OperatorId::make(std::string(65, 'a')).ok());
  EXPECT_FALSE(OperatorId::make("").ok());
  EXPECT_FALSE(OperatorId::make("bob smith").ok());
  EXPECT_FALSE(OperatorId::make("bob\n").ok());
  EXPECT_EQ(OperatorId::make("alice")->name(), "alice");
}

}  // namespace
}  // namespace ta::gate
