// The halt state machine (DESIGN.md section 6).
//
//   ACTIVE    normal trading
//   REDUCING  only orders that shrink exposure
//   HALTED    no new orders; cancels allowed
//   KILLED    everything cancelled (optionally flattened); persists across
//             restarts until an operator resumes
//
// kHaltTransitions is the only place that says which moves are legal and
// what each one makes the gate do (cancel all open orders, flatten
// positions, start the loss cooldown). Automatic protections (dead-man's
// switch, daily loss, journal, venue, rule halts) are legal in every state
// so they can never fail; in KILLED they leave KILLED in place. Operator
// commands that would change nothing meaningful are refused with a reason.
//
// Two guards sit beside the table, in HaltMachine::apply():
// * resume and reduce are refused while the loss cooldown runs;
// * cooldown_elapsed is legal only when the daily loss limit caused the
//   halt and the cooldown is over (tick() emits it then).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gate.pb.h"
#include "gate/time_units.h"
#include "proto/result.h"

namespace ta::gate {

enum class HaltState : std::uint8_t { kActive, kReducing, kHalted, kKilled };
inline constexpr std::size_t kHaltStateCount = 4;

enum class HaltEvent : std::uint8_t {
  kOperatorHalt,         // tradectl halt
  kOperatorReduce,       // operator allows only exposure-shrinking orders
  kOperatorResume,       // tradectl resume
  kOperatorKill,         // tradectl kill
  kOperatorKillFlatten,  // tradectl kill --flatten
  kHeartbeatTimeout,     // dead-man's switch: the agent went silent
  kDailyLossLimit,       // daily loss limit breached: flatten + cooldown
  kJournalUnwritable,    // never trade without an audit trail
  kVenueDisconnected,    // venue connection down too long
  kRuleHalt,             // a rule's "halt" action
  kCooldownElapsed,      // the loss cooldown ended (emitted by tick())
  kInternalError,        // a bug was caught (illegal order transition, venue event that fits no order)
};
inline constexpr std::size_t kHaltEventCount = 12;

struct HaltTransition {
  HaltState from;
  HaltEvent event;
  HaltState to;
  bool cancel_all;       // cancel every open order
  bool flatten;          // close every position with market orders
  bool starts_cooldown;  // cooldown_until = now + loss_cooldown
};

namespace halt_table {
constexpr HaltState A = HaltState::kActive;
constexpr HaltState R = HaltState::kReducing;
constexpr HaltState H = HaltState::kHalted;
constexpr HaltState K = HaltState::kKilled;
}  // namespace halt_table

// Columns: from, event, to, cancel_all, flatten, starts_cooldown.
inline constexpr HaltTransition kHaltTransitions[] = {
    // Operator halt: stop new orders, leave resting orders alone.
    {halt_table::A, HaltEvent::kOperatorHalt, halt_table::H, false, false, false},
    {halt_table::R, HaltEvent::kOperatorHalt, halt_table::H, false, false, false},
    {halt_table::H, HaltEvent::kOperatorHalt, halt_table::H, false, false, false},
    // Operator reduce.
    {halt_table::A, HaltEvent::kOperatorReduce, halt_table::R, false, false, false},
    {halt_table::R, HaltEvent::kOperatorReduce, halt_table::R, false, false, false},
    {halt_table::H, HaltEvent::kOperatorReduce, halt_table::R, false, false, false},
    // Operator resume: the only way out of KILLED.
    {halt_table::R, HaltEvent::kOperatorResume, halt_table::A, false, false, false},
    {halt_table::H, HaltEvent::kOperatorResume, halt_table::A, false, false, false},
    {halt_table::K, HaltEvent::kOperatorResume, halt_table::A, false, false, false},
    // Operator kill, from anywhere, also when already KILLED (repeat to be sure).
    {halt_table::A, HaltEvent::kOperatorKill, halt_table::K, true, false, false},
    {halt_table::R, HaltEvent::kOperatorKill, halt_table::K, true, false, false},
    {halt_table::H, HaltEvent::kOperatorKill, halt_table::K, true, false, false},
    {halt_table::K, HaltEvent::kOperatorKill, halt_table::K, true, false, false},
    {halt_table::A, HaltEvent::kOperatorKillFlatten, halt_table::K, true, true, false},
    {halt_table::R, HaltEvent::kOperatorKillFlatten, halt_table::K, true, true, false},
    {halt_table::H, HaltEvent::kOperatorKillFlatten, halt_table::K, true, true, false},
    {halt_table::K, HaltEvent::kOperatorKillFlatten, halt_table::K, true, true, false},
    // Dead-man's switch: cancel everything, HALTED.
    {halt_table::A, HaltEvent::kHeartbeatTimeout, halt_table::H, true, false, false},
    {halt_table::R, HaltEvent::kHeartbeatTimeout, halt_table::H, true, false, false},
    {halt_table::H, HaltEvent::kHeartbeatTimeout, halt_table::H, true, false, false},
    {halt_table::K, HaltEvent::kHeartbeatTimeout, halt_table::K, true, false, false},
    // Daily loss: cancel, flatten, HALTED, cooldown.
    {halt_table::A, HaltEvent::kDailyLossLimit, halt_table::H, true, true, true},
    {halt_table::R, HaltEvent::kDailyLossLimit, halt_table::H, true, true, true},
    {halt_table::H, HaltEvent::kDailyLossLimit, halt_table::H, true, true, true},
    {halt_table::K, HaltEvent::kDailyLossLimit, halt_table::K, true, true, true},
    // Journal not writable: no audit trail, no trading; cancels are still
    // attempted because resting orders are risk the operator cannot see.
    {halt_table::A, HaltEvent::kJournalUnwritable, halt_table::H, true, false, false},
    {halt_table::R, HaltEvent::kJournalUnwritable, halt_table::H, true, false, false},
    {halt_table::H, HaltEvent::kJournalUnwritable, halt_table::H, true, false, false},
    {halt_table::K, HaltEvent::kJournalUnwritable, halt_table::K, true, false, false},
    // Venue disconnected too long: cancel on reconnect, HALTED.
    {halt_table::A, HaltEvent::kVenueDisconnected, halt_table::H, true, false, false},
    {halt_table::R, HaltEvent::kVenueDisconnected, halt_table::H, true, false, false},
    {halt_table::H, HaltEvent::kVenueDisconnected, halt_table::H, true, false, false},
    {halt_table::K, HaltEvent::kVenueDisconnected, halt_table::K, true, false, false},
    // A rule's halt action: like an operator halt.
    {halt_table::A, HaltEvent::kRuleHalt, halt_table::H, false, false, false},
    {halt_table::R, HaltEvent::kRuleHalt, halt_table::H, false, false, false},
    {halt_table::H, HaltEvent::kRuleHalt, halt_table::H, false, false, false},
    {halt_table::K, HaltEvent::kRuleHalt, halt_table::K, false, false, false},
    // A caught bug: the gate no longer trusts its own view of the orders, so
    // it cancels what it can and waits for a person.
    {halt_table::A, HaltEvent::kInternalError, halt_table::H, true, false, false},
    {halt_table::R, HaltEvent::kInternalError, halt_table::H, true, false, false},
    {halt_table::H, HaltEvent::kInternalError, halt_table::H, true, false, false},
    {halt_table::K, HaltEvent::kInternalError, halt_table::K, true, false, false},
    // End of the loss cooldown (guarded: daily loss caused the halt).
    {halt_table::H, HaltEvent::kCooldownElapsed, halt_table::A, false, false, false},
};

std::string_view to_string(HaltState state);  // "REDUCING"
std::string_view to_string(HaltEvent event);  // "heartbeat_timeout"
// Who caused it, for HaltStateChanged.actor: "operator", "dead_mans_switch",
// "daily_loss", "journal", "venue", "rule", "cooldown".
std::string_view actor_of(HaltEvent event);
ipc::HaltState to_proto(HaltState state);

// The table lookup, without guards. Error names the state and the event.
Result<HaltTransition> find_halt_transition(HaltState from, HaltEvent event);

// What one applied event did.
struct HaltChange {
  HaltState from;
  HaltState to;
  HaltEvent event;
  bool cancel_all;
  bool flatten;
  std::int64_t cooldown_until_ns;  // 0 when no cooldown runs
  std::int64_t ts_ns;

  ipc::HaltStateChanged to_proto(std::string_view reason) const;
};

class HaltMachine {
 public:
  HaltState state() const { return state_; }
  // The event that led to the current state; kOperatorResume initially.
  HaltEvent cause() const { return cause_; }
  std::int64_t cooldown_until_ns() const { return cooldown_until_ns_; }
  bool in_cooldown(std::int64_t now_ns) const { return now_ns < cooldown_until_ns_; }
  // The UTC day (days since the epoch) of the last daily-loss halt, -1 if
  // none; the limit fires at most once per UTC day.
  std::int64_t loss_halt_day() const { return loss_halt_day_; }
  // Positions should be flat: a move that flattens (kill --flatten, the
  // daily loss limit) was applied and the gate has not been ACTIVE or
  // REDUCING since. While it holds, the caller closes again whatever
  // in-flight orders stop covering (GateState::flatten_in_force()).
  bool flatten_wanted() const { return flatten_wanted_; }

  // Applies `event` at now_ns. loss_cooldown_ms is used only by events that
  // start the cooldown. On error nothing changes.
  Result<HaltChange> apply(HaltEvent event, std::int64_t now_ns, std::int64_t loss_cooldown_ms);
  // Emits cooldown_elapsed when it is due; nothing otherwise.
  std::optional<HaltChange> tick(std::int64_t now_ns);

  // Recovery: sets the state read back from a snapshot or the journal.
  void restore(HaltState state, HaltEvent cause, std::int64_t cooldown_until_ns, std::int64_t loss_halt_day,
               bool flatten_wanted = false);

 private:
  HaltState state_ = HaltState::kActive;
  HaltEvent cause_ = HaltEvent::kOperatorResume;
  std::int64_t cooldown_until_ns_ = 0;
  std::int64_t loss_halt_day_ = -1;
  bool flatten_wanted_ = false;
};

}  // namespace ta::gate
