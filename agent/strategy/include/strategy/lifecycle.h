// The lifecycle of one strategy on one product, as a transition table.
//
//   IDLE --warmed up--> LOOKING --entry signal--> ENTERED --entry filled--> MANAGING
//     MANAGING --exit signal--> EXITING --exit filled--> EXITED --cooldown over--> LOOKING
//   ENTERED --entry denied--> LOOKING          EXITING --exit denied--> MANAGING
//
// IDLE      indicators are warming up; nothing is evaluated.
// LOOKING   flat; entry conditions are evaluated on every closed bar.
// ENTERED   an entry intent was emitted; waiting for the gate's decision
//           and the fill. Nothing is evaluated (no second intent).
// MANAGING  a position is open; the protective stop, the holding-time limit
//           and the exit conditions are checked on every closed bar.
// EXITING   an exit intent was emitted; waiting for its fill.
// EXITED    the position is closed; after the cooldown the strategy looks
//           again.
//
// EXITING is a refinement of the five-state outline in the issue: an exit in
// flight must neither emit a second exit nor be forgotten when the gate
// denies it (it returns to MANAGING and exits again on the next bar).
//
// The gate is the source of truth for positions: a fill that opens a
// position moves the strategy to MANAGING from any state but MANAGING and
// EXITING (a late fill after a denial or cancel is still a position), and a
// fill or a gate snapshot that closes the position moves it to EXITED. Every
// other (state, event) pair is illegal: the engine leaves the state as it is
// and counts the event (SlotCounters::lifecycle_refused).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ta::agent {

enum class Lifecycle : std::uint8_t { kIdle, kLooking, kEntered, kManaging, kExiting, kExited };
inline constexpr std::size_t kLifecycleCount = 6;

enum class LifecycleEvent : std::uint8_t {
  kWarmedUp,      // every indicator of the strategy is ready
  kEntrySignal,   // an entry intent was emitted
  kEntryDenied,   // the gate denied the entry, or its order ended without a fill
  kEntryFilled,   // a fill took the position from zero to non-zero
  kExitSignal,    // an exit intent was emitted
  kExitDenied,    // the gate denied the exit, or its order ended with the position open
  kExitFilled,    // a fill took the position from non-zero to zero
  kFlattened,     // a gate snapshot shows the product flat while the strategy held it
  kCooldownOver,  // the cooldown after an exit has elapsed
};
inline constexpr std::size_t kLifecycleEventCount = 9;

std::string_view to_string(Lifecycle state);
std::string_view to_string(LifecycleEvent event);

// The table: the next state, or nullopt when `event` is illegal in `state`.
std::optional<Lifecycle> next_lifecycle(Lifecycle state, LifecycleEvent event);

}  // namespace ta::agent
