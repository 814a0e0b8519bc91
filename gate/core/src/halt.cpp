#include "gate/halt.h"

#include "proto/yaml_config.h"

namespace ta::gate {
namespace {

constexpr bool halt_table_has_no_duplicates() {
  for (std::size_t i = 0; i < std::size(kHaltTransitions); ++i) {
    for (std::size_t j = i + 1; j < std::size(kHaltTransitions); ++j) {
      if (kHaltTransitions[i].from == kHaltTransitions[j].from &&
          kHaltTransitions[i].event == kHaltTransitions[j].event) {
        return false;
      }
    }
  }
  return true;
}
static_assert(halt_table_has_no_duplicates(), "a (state, event) pair appears twice in kHaltTransitions");

// KILLED is left only by an operator resume.
constexpr bool killed_is_sticky() {
  for (const auto& t : kHaltTransitions) {
    if (t.from == HaltState::kKilled && t.to != HaltState::kKilled && t.event != HaltEvent::kOperatorResume) {
      return false;
    }
  }
  return true;
}
static_assert(killed_is_sticky(), "only an operator resume may leave KILLED");

}  // namespace

std::string_view to_string(HaltState state) {
  switch (state) {
    case HaltState::kActive:
      return "ACTIVE";
    case HaltState::kReducing:
      return "REDUCING";
    case HaltState::kHalted:
      return "HALTED";
    case HaltState::kKilled:
      return "KILLED";
  }
  return "?";
}

std::string_view to_string(HaltEvent event) {
  switch (event) {
    case HaltEvent::kOperatorHalt:
      return "operator_halt";
    case HaltEvent::kOperatorReduce:
      return "operator_reduce";
    case HaltEvent::kOperatorResume:
      return "operator_resume";
    case HaltEvent::kOperatorKill:
      return "operator_kill";
    case HaltEvent::kOperatorKillFlatten:
      return "operator_kill_flatten";
    case HaltEvent::kHeartbeatTimeout:
      return "heartbeat_timeout";
    case HaltEvent::kDailyLossLimit:
      return "daily_loss_limit";
    case HaltEvent::kJournalUnwritable:
      return "journal_unwritable";
    case HaltEvent::kVenueDisconnected:
      return "venue_disconnected";
    case HaltEvent::kRuleHalt:
      return "rule_halt";
    case HaltEvent::kCooldownElapsed:
      return "cooldown_elapsed";
    case HaltEvent::kInternalError:
      return "internal_error";
  }
  return "?";
}

std::string_view actor_of(HaltEvent event) {
  switch (event) {
    case HaltEvent::kOperatorHalt:
    case HaltEvent::kOperatorReduce:
    case HaltEvent::kOperatorResume:
    case HaltEvent::kOperatorKill:
    case HaltEvent::kOperatorKillFlatten:
      return "operator";
    case HaltEvent::kHeartbeatTimeout:
      return "dead_mans_switch";
    case HaltEvent::kDailyLossLimit:
      return "daily_loss";
    case HaltEvent::kJournalUnwritable:
      return "journal";
    case HaltEvent::kVenueDisconnected:
      return "venue";
    case HaltEvent::kRuleHalt:
      return "rule";
    case HaltEvent::kCooldownElapsed:
      return "cooldown";
    case HaltEvent::kInternalError:
      return "gate";
  }
  return "?";
}

ipc::HaltState to_proto(HaltState state) {
  switch (state) {
    case HaltState::kActive:
      return ipc::HALT_STATE_ACTIVE;
    case HaltState::kReducing:
      return ipc::HALT_STATE_REDUCING;
    case HaltState::kHalted:
      return ipc::HALT_STATE_HALTED;
    case HaltState::kKilled:
      return ipc::HALT_STATE_KILLED;
  }
  return ipc::HALT_STATE_UNSPECIFIED;
}

Result<HaltTransition> find_halt_transition(HaltState from, HaltEvent event) {
  for (const auto& t : kHaltTransitions) {
    if (t.from == from && t.event == event) return t;
  }
  return make_error("illegal halt transition: " + std::string(to_string(from)) + " + " +
                    std::string(to_string(event)));
}

ipc::HaltStateChanged HaltChange::to_proto(std::string_view reason) const {
  ipc::HaltStateChanged m;
  m.set_from(gate::to_proto(from));
  m.set_to(gate::to_proto(to));
  m.set_reason(std::string(reason));
  m.set_actor(std::string(actor_of(event)));
  m.set_ts_ns(ts_ns);
  m.set_cooldown_until_ts_ns(cooldown_until_ns);
  return m;
}

Result<HaltChange> HaltMachine::apply(HaltEvent event, std::int64_t now_ns, std::int64_t loss_cooldown_ms) {
  auto t = find_halt_transition(state_, event);
  if (!t) return make_error(t.error().message);
  if ((event == HaltEvent::kOperatorResume || event == HaltEvent::kOperatorReduce) && in_cooldown(now_ns)) {
    return make_error(std::string(to_string(event)) + " refused: the daily loss cooldown runs for another " +
                      proto::format_duration_ms((cooldown_until_ns_ - now_ns + kNanosPerMs - 1) / kNanosPerMs));
  }
  if (event == HaltEvent::kCooldownElapsed &&
      (cause_ != HaltEvent::kDailyLossLimit || in_cooldown(now_ns) || cooldown_until_ns_ == 0)) {
    return make_error("cooldown_elapsed refused: no finished daily loss cooldown to end");
  }
  if (t->starts_cooldown) {
    cooldown_until_ns_ = now_ns + loss_cooldown_ms * kNanosPerMs;
    loss_halt_day_ = utc_day(now_ns);
  }
  if (event == HaltEvent::kCooldownElapsed) cooldown_until_ns_ = 0;
  const HaltChange change{state_, t->to, event, t->cancel_all, t->flatten, cooldown_until_ns_, now_ns};
  state_ = t->to;
  if (t->flatten) flatten_wanted_ = true;
  if (state_ == HaltState::kActive || state_ == HaltState::kReducing) flatten_wanted_ = false;
  // In KILLED the cause stays the kill, so a later automatic event cannot
  // make a cooldown end release it.
  if (!(change.from == HaltState::kKilled && change.to == HaltState::kKilled && event != HaltEvent::kOperatorKill &&
        event != HaltEvent::kOperatorKillFlatten)) {
    cause_ = event;
  }
  return change;
}

std::optional<HaltChange> HaltMachine::tick(std::int64_t now_ns) {
  if (state_ != HaltState::kHalted || cause_ != HaltEvent::kDailyLossLimit || cooldown_until_ns_ == 0 ||
      in_cooldown(now_ns)) {
    return std::nullopt;
  }
  auto change = apply(HaltEvent::kCooldownElapsed, now_ns, 0);
  if (!change) return std::nullopt;
  return *change;
}

void HaltMachine::restore(HaltState state, HaltEvent cause, std::int64_t cooldown_until_ns,
                          std::int64_t loss_halt_day, bool flatten_wanted) {
  state_ = state;
  flatten_wanted_ = flatten_wanted && (state == HaltState::kHalted || state == HaltState::kKilled);
  cause_ = cause;
  cooldown_until_ns_ = cooldown_until_ns;
  loss_halt_day_ = loss_halt_day;
}

}  // namespace ta::gate
