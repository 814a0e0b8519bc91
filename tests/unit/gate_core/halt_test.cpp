#include "gate/halt.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace ta::gate {
namespace {

constexpr std::array<HaltState, kHaltStateCount> kStates = {HaltState::kActive, HaltState::kReducing,
                                                            HaltState::kHalted, HaltState::kKilled};
constexpr std::array<HaltEvent, kHaltEventCount> kEvents = {
    HaltEvent::kOperatorHalt,      HaltEvent::kOperatorReduce,    HaltEvent::kOperatorResume,
    HaltEvent::kOperatorKill,      HaltEvent::kOperatorKillFlatten, HaltEvent::kHeartbeatTimeout,
    HaltEvent::kDailyLossLimit,    HaltEvent::kJournalUnwritable, HaltEvent::kVenueDisconnected,
    HaltEvent::kRuleHalt,          HaltEvent::kCooldownElapsed,   HaltEvent::kInternalError};

// Independent specification, one row per state, one column per event (in
// kEvents order). Each cell: target state letter (A R H K) followed by
// actions: c = cancel all, f = flatten, d = start the loss cooldown;
// "----" = illegal.
//            halt  reduce resume kill kill_f hb    loss  journal venue rule cooldown internal
const char* kGrid[kHaltStateCount] = {
    /* ACTIVE   */ "H--- R--- ---- Kc-- Kcf- Hc-- Hcfd Hc-- Hc-- H--- ---- Hc--",
    /* REDUCING */ "H--- R--- A--- Kc-- Kcf- Hc-- Hcfd Hc-- Hc-- H--- ---- Hc--",
    /* HALTED   */ "H--- R--- A--- Kc-- Kcf- Hc-- Hcfd Hc-- Hc-- H--- A--- Hc--",
    /* KILLED   */ "---- ---- A--- Kc-- Kcf- Kc-- Kcfd Kc-- Kc-- K--- ---- Kc--",
};

HaltState state_of(char c) {
  switch (c) {
    case 'A':
      return HaltState::kActive;
    case 'R':
      return HaltState::kReducing;
    case 'H':
      return HaltState::kHalted;
    default:
      return HaltState::kKilled;
  }
}

TEST(HaltStateMachine, EveryStateEventPairMatchesTheSpecification) {
  int legal = 0;
  for (std::size_t s = 0; s < kStates.size(); ++s) {
    for (std::size_t e = 0; e < kEvents.size(); ++e) {
      const std::string_view cell = std::string_view(kGrid[s]).substr(e * 5, 4);
      const auto t = find_halt_transition(kStates[s], kEvents[e]);
      const std::string where = std::string(to_string(kStates[s])) + " + " + std::string(to_string(kEvents[e]));
      if (cell == "----") {
        ASSERT_FALSE(t.ok()) << where;
        EXPECT_EQ(t.error().message, "illegal halt transition: " + where);
        continue;
      }
      ++legal;
      ASSERT_TRUE(t.ok()) << where << ": " << t.error().message;
      EXPECT_EQ(t->to, state_of(cell[0])) << where;
      EXPECT_EQ(t->cancel_all, cell[1] == 'c') << where;
      EXPECT_EQ(t->flatten, cell[2] == 'f') << where;
      EXPECT_EQ(t->starts_cooldown, cell[3] == 'd') << where;
    }
  }
  EXPECT_EQ(legal, static_cast<int>(std::size(kHaltTransitions)));
}

TEST(HaltStateMachine, ProtoMapping) {
  for (HaltState s : kStates) EXPECT_EQ(ipc::HaltState_Name(to_proto(s)), "HALT_STATE_" + std::string(to_string(s)));
}

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kCooldownMs = 60 * 60'000;
constexpr std::int64_t kDay = kNanosPerDay;

TEST(HaltMachine, DailyLossHaltsFlattensAndCoolsDownThenResumesItself) {
  HaltMachine m;
  const std::int64_t t0 = 20'000 * kDay + 5 * kMs;
  auto c = m.apply(HaltEvent::kDailyLossLimit, t0, kCooldownMs);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->from, HaltState::kActive);
  EXPECT_EQ(c->to, HaltState::kHalted);
  EXPECT_TRUE(c->cancel_all);
  EXPECT_TRUE(c->flatten);
  EXPECT_EQ(c->cooldown_until_ns, t0 + kCooldownMs * kMs);
  EXPECT_EQ(m.loss_halt_day(), 20'000);
  EXPECT_TRUE(m.in_cooldown(t0));

  // Resume and reduce are refused until the cooldown is over: one ns before
  // the end refused, at the end the cooldown is over.
  const std::int64_t end = t0 + kCooldownMs * kMs;
  const auto refused = m.apply(HaltEvent::kOperatorResume, end - 1, kCooldownMs);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("cooldown runs for another 1ms"), std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(m.apply(HaltEvent::kOperatorReduce, end - 1, kCooldownMs).ok());
  EXPECT_FALSE(m.tick(end - 1).has_value());
  EXPECT_FALSE(m.apply(HaltEvent::kCooldownElapsed, end - 1, kCooldownMs).ok());
  EXPECT_EQ(m.state(), HaltState::kHalted);

  const auto back = m.tick(end);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->event, HaltEvent::kCooldownElapsed);
  EXPECT_EQ(back->to, HaltState::kActive);
  EXPECT_EQ(m.state(), HaltState::kActive);
  EXPECT_EQ(m.cooldown_until_ns(), 0);
  EXPECT_FALSE(m.tick(end + 1).has_value());
}

TEST(HaltMachine, OperatorHaltDuringCooldownKeepsTheGateHaltedAfterIt) {
  HaltMachine m;
  ASSERT_TRUE(m.apply(HaltEvent::kDailyLossLimit, 0, kCooldownMs).ok());
  ASSERT_TRUE(m.apply(HaltEvent::kOperatorHalt, 10 * kMs, kCooldownMs).ok());
  EXPECT_FALSE(m.tick(kCooldownMs * kMs).has_value());
  EXPECT_EQ(m.state(), HaltState::kHalted);
  EXPECT_TRUE(m.apply(HaltEvent::kOperatorResume, kCooldownMs * kMs, kCooldownMs).ok());
  EXPECT_EQ(m.state(), HaltState::kActive);
}

TEST(HaltMachine, KilledStaysUntilOperatorResume) {
  HaltMachine m;
  auto c = m.apply(HaltEvent::kOperatorKillFlatten, 1, kCooldownMs);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->flatten);
  for (HaltEvent e : {HaltEvent::kHeartbeatTimeout, HaltEvent::kJournalUnwritable, HaltEvent::kVenueDisconnected,
                      HaltEvent::kRuleHalt, HaltEvent::kDailyLossLimit}) {
    ASSERT_TRUE(m.apply(e, 2, kCooldownMs).ok()) << to_string(e);
    EXPECT_EQ(m.state(), HaltState::kKilled) << to_string(e);
  }
  EXPECT_FALSE(m.apply(HaltEvent::kOperatorHalt, 3, kCooldownMs).ok());
  EXPECT_FALSE(m.apply(HaltEvent::kOperatorReduce, 3, kCooldownMs).ok());
  // The loss cooldown that started while KILLED still applies, and its end
  // does not release KILLED.
  EXPECT_FALSE(m.tick(2 + kCooldownMs * kMs).has_value());
  EXPECT_EQ(m.state(), HaltState::kKilled);
  EXPECT_FALSE(m.apply(HaltEvent::kOperatorResume, 2 + kCooldownMs * kMs - 1, kCooldownMs).ok());
  ASSERT_TRUE(m.apply(HaltEvent::kOperatorResume, 2 + kCooldownMs * kMs, kCooldownMs).ok());
  EXPECT_EQ(m.state(), HaltState::kActive);
}

TEST(HaltMachine, DeadMansSwitchNeedsAnOperatorToResume) {
  HaltMachine m;
  auto c = m.apply(HaltEvent::kHeartbeatTimeout, 1, kCooldownMs);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->cancel_all);
  EXPECT_FALSE(c->flatten);
  EXPECT_EQ(c->cooldown_until_ns, 0);
  EXPECT_FALSE(m.tick(kDay).has_value());
  EXPECT_EQ(m.state(), HaltState::kHalted);
  const auto msg = c->to_proto("no heartbeat for 5s");
  EXPECT_EQ(msg.from(), ipc::HALT_STATE_ACTIVE);
  EXPECT_EQ(msg.to(), ipc::HALT_STATE_HALTED);
  EXPECT_EQ(msg.actor(), "dead_mans_switch");
  EXPECT_EQ(msg.reason(), "no heartbeat for 5s");
  EXPECT_TRUE(m.apply(HaltEvent::kOperatorResume, 2, kCooldownMs).ok());
  EXPECT_EQ(m.state(), HaltState::kActive);
}

TEST(HaltMachine, ErrorsLeaveTheMachineUnchanged) {
  HaltMachine m;
  const auto r = m.apply(HaltEvent::kOperatorResume, 1, kCooldownMs);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "illegal halt transition: ACTIVE + operator_resume");
  EXPECT_EQ(m.state(), HaltState::kActive);
  EXPECT_EQ(m.cause(), HaltEvent::kOperatorResume);
}

TEST(HaltMachine, FlattenIsWantedFromAFlatteningMoveUntilTradingResumes) {
  HaltMachine m;
  EXPECT_FALSE(m.flatten_wanted());
  ASSERT_TRUE(m.apply(HaltEvent::kOperatorKillFlatten, 1, kCooldownMs).ok());
  EXPECT_TRUE(m.flatten_wanted());
  ASSERT_TRUE(m.apply(HaltEvent::kOperatorKill, 2, kCooldownMs).ok());
  EXPECT_TRUE(m.flatten_wanted()) << "a repeated kill does not call the flattening off";
  ASSERT_TRUE(m.apply(HaltEvent::kOperatorResume, 3, kCooldownMs).ok());
  EXPECT_FALSE(m.flatten_wanted());
  ASSERT_TRUE(m.apply(HaltEvent::kDailyLossLimit, 4, kCooldownMs).ok());
  EXPECT_TRUE(m.flatten_wanted());
  ASSERT_TRUE(m.apply(HaltEvent::kOperatorHalt, 5, kCooldownMs).ok());
  EXPECT_TRUE(m.flatten_wanted()) << "still halted: positions should still close";
  ASSERT_TRUE(m.apply(HaltEvent::kOperatorReduce, 4 + kCooldownMs * kMs, kCooldownMs).ok());
  EXPECT_FALSE(m.flatten_wanted());
  m.restore(HaltState::kKilled, HaltEvent::kOperatorKillFlatten, 0, -1, true);
  EXPECT_TRUE(m.flatten_wanted());
  m.restore(HaltState::kActive, HaltEvent::kOperatorResume, 0, -1, true);
  EXPECT_FALSE(m.flatten_wanted()) << "an ACTIVE gate never flattens";
}

TEST(HaltMachine, RestoreForRecovery) {
  HaltMachine m;
  m.restore(HaltState::kHalted, HaltEvent::kDailyLossLimit, 100, 3);
  EXPECT_EQ(m.state(), HaltState::kHalted);
  EXPECT_EQ(m.loss_halt_day(), 3);
  EXPECT_FALSE(m.tick(99).has_value());
  EXPECT_TRUE(m.tick(100).has_value());
}

}  // namespace
}  // namespace ta::gate
