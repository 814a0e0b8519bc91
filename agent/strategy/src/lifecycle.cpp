#include "strategy/lifecycle.h"

#include <array>

namespace ta::agent {
namespace {

// kNo marks an illegal (state, event) pair.
constexpr std::int8_t kNo = -1;
constexpr std::int8_t s(Lifecycle state) { return static_cast<std::int8_t>(state); }

using L = Lifecycle;
// Rows: states in enum order. Columns: events in enum order
//   WarmedUp  EntrySignal  EntryDenied  EntryFilled  ExitSignal  ExitDenied  ExitFilled  Flattened  CooldownOver
constexpr std::array<std::array<std::int8_t, kLifecycleEventCount>, kLifecycleCount> kTable = {{
    /* IDLE     */ {s(L::kLooking), kNo, kNo, s(L::kManaging), kNo, kNo, kNo, kNo, kNo},
    /* LOOKING  */ {kNo, s(L::kEntered), kNo, s(L::kManaging), kNo, kNo, kNo, kNo, kNo},
    /* ENTERED  */ {kNo, kNo, s(L::kLooking), s(L::kManaging), kNo, kNo, kNo, kNo, kNo},
    /* MANAGING */ {kNo, kNo, kNo, kNo, s(L::kExiting), kNo, s(L::kExited), s(L::kExited), kNo},
    /* EXITING  */ {kNo, kNo, kNo, kNo, kNo, s(L::kManaging), s(L::kExited), s(L::kExited), kNo},
    /* EXITED   */ {kNo, kNo, kNo, s(L::kManaging), kNo, kNo, kNo, kNo, s(L::kLooking)},
}};

}  // namespace

std::optional<Lifecycle> next_lifecycle(Lifecycle state, LifecycleEvent event) {
  const std::int8_t next = kTable[static_cast<std::size_t>(state)][static_cast<std::size_t>(event)];
  if (next == kNo) return std::nullopt;
  return static_cast<Lifecycle>(next);
}

std::string_view to_string(Lifecycle state) {
  switch (state) {
    case Lifecycle::kIdle: return "IDLE";
    case Lifecycle::kLooking: return "LOOKING";
    case Lifecycle::kEntered: return "ENTERED";
    case Lifecycle::kManaging: return "MANAGING";
    case Lifecycle::kExiting: return "EXITING";
    case Lifecycle::kExited: return "EXITED";
  }
  return "?";
}

std::string_view to_string(LifecycleEvent event) {
  switch (event) {
    case LifecycleEvent::kWarmedUp: return "warmed_up";
    case LifecycleEvent::kEntrySignal: return "entry_signal";
    case LifecycleEvent::kEntryDenied: return "entry_denied";
    case LifecycleEvent::kEntryFilled: return "entry_filled";
    case LifecycleEvent::kExitSignal: return "exit_signal";
    case LifecycleEvent::kExitDenied: return "exit_denied";
    case LifecycleEvent::kExitFilled: return "exit_filled";
    case LifecycleEvent::kFlattened: return "flattened";
    case LifecycleEvent::kCooldownOver: return "cooldown_over";
  }
  return "?";
}

}  // namespace ta::agent
