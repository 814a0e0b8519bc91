// The compiled form of a declarative strategy (private to the library).
//
// Slots are the evaluation's registers: 0..4 are the bar's open, high, low,
// close and volume; then every node output in dependency order (the
// "dynamic" slots, all rewritten on every bar, so the current and previous
// bar arrays simply swap); then constants (parameters and literal numbers,
// present in both arrays). Nodes run in dependency order
// reading and writing slots; conditions are postfix programs over them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "condition.h"

namespace ta::agent::detail {

inline constexpr std::uint16_t kSlotOpen = 0;
inline constexpr std::uint16_t kSlotHigh = 1;
inline constexpr std::uint16_t kSlotLow = 2;
inline constexpr std::uint16_t kSlotClose = 3;
inline constexpr std::uint16_t kSlotVolume = 4;
inline constexpr std::uint16_t kBarSlots = 5;

enum class NodeKind : std::uint8_t {
  kSma,
  kEma,
  kRsi,
  kAtr,
  kBollinger,
  kVwap,
  kSessionVwap,
  kZScore,
  kRealizedVol,
  kDonchian,
  kLag,
};
inline constexpr std::size_t kNodeKindCount = 11;

// A numeric argument: a literal, or a parameter (index into the
// definition's parameters) so that a tuned value needs no recompilation.
struct Arg {
  double literal = 0;
  int param = -1;
};

inline constexpr std::size_t kNodeOutputsMax = 4;

struct NodePlan {
  NodeKind kind = NodeKind::kSma;
  std::string name;
  std::uint16_t input = kSlotClose;      // series nodes; bar nodes ignore it
  std::uint16_t out[kNodeOutputsMax] = {};
  std::uint8_t outputs = 1;
  Arg period;  // the window; lag: the number of bars
  Arg k;       // bollinger: standard deviations
};

struct ConstantSlot {
  std::uint16_t slot = 0;
  Arg value;
  bool negate = false;  // holds minus the value ("-entry_z")
};

struct NamedProgram {
  std::string name;
  std::string text;
  Program program;
};

struct Plan {
  std::vector<NodePlan> nodes;  // dependency order
  std::uint16_t dynamic_slots = kBarSlots;
  std::uint16_t slot_count = kBarSlots;
  std::vector<ConstantSlot> constants;
  std::vector<std::uint16_t> node_output_slots;  // for the readiness check
  Program entry_long, entry_short, exit_long, exit_short;
  bool uses_prev = false;  // a cross somewhere: readiness needs two bars
  // Stops: at least one price stop.
  bool has_node_stop = false;
  std::uint16_t stop_slot = 0;
  Arg stop_multiple;
  bool has_percent_stop = false;
  Arg stop_percent;
  Arg max_holding_bars;
  Arg cooldown_bars;
  std::vector<NamedProgram> constraints;  // over constants only
};

}  // namespace ta::agent::detail
