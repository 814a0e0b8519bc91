// The lifecycle table, every (state, event) pair, written out here
// independently of the table in lifecycle.cpp.
#include <gtest/gtest.h>

#include <set>

#include "strategy/lifecycle.h"

namespace ta::agent {
namespace {

using L = Lifecycle;
using E = LifecycleEvent;

constexpr L kStates[] = {L::kIdle, L::kLooking, L::kEntered, L::kManaging, L::kExiting, L::kExited};
constexpr E kEvents[] = {E::kWarmedUp,   E::kEntrySignal, E::kEntryDenied, E::kEntryFilled, E::kExitSignal,
                         E::kExitDenied, E::kExitFilled,  E::kFlattened,   E::kCooldownOver};

struct Move {
  L from;
  E event;
  L to;
};

// Every legal move; everything else must be refused.
const Move kLegal[] = {
    {L::kIdle, E::kWarmedUp, L::kLooking},
    {L::kLooking, E::kEntrySignal, L::kEntered},
    {L::kEntered, E::kEntryDenied, L::kLooking},
    {L::kEntered, E::kEntryFilled, L::kManaging},
    {L::kManaging, E::kExitSignal, L::kExiting},
    {L::kExiting, E::kExitDenied, L::kManaging},
    {L::kExiting, E::kExitFilled, L::kExited},
    {L::kExited, E::kCooldownOver, L::kLooking},
    // The gate is the source of truth: a fill that opens a position is
    // managed whatever the strategy expected...
    {L::kIdle, E::kEntryFilled, L::kManaging},
    {L::kLooking, E::kEntryFilled, L::kManaging},
    {L::kExited, E::kEntryFilled, L::kManaging},
    // ...and a position closed by a fill or by the gate is closed.
    {L::kManaging, E::kExitFilled, L::kExited},
    {L::kManaging, E::kFlattened, L::kExited},
    {L::kExiting, E::kFlattened, L::kExited},
};

TEST(Lifecycle, EveryStateEventPair) {
  static_assert(std::size(kStates) == kLifecycleCount);
  static_assert(std::size(kEvents) == kLifecycleEventCount);
  int legal = 0;
  for (L s : kStates) {
    for (E e : kEvents) {
      const Move* expected = nullptr;
      for (const Move& m : kLegal) {
        if (m.from == s && m.event == e) expected = &m;
      }
      const auto got = next_lifecycle(s, e);
      if (expected != nullptr) {
        ++legal;
        ASSERT_TRUE(got.has_value()) << to_string(s) << " + " << to_string(e) << " should be legal";
        EXPECT_EQ(*got, expected->to) << to_string(s) << " + " << to_string(e);
      } else {
        EXPECT_FALSE(got.has_value()) << to_string(s) << " + " << to_string(e) << " should be refused, got "
                                      << to_string(*got);
      }
    }
  }
  EXPECT_EQ(legal, static_cast<int>(std::size(kLegal)));
}

TEST(Lifecycle, HappyPathIsACycle) {
  L s = L::kIdle;
  for (E e : {E::kWarmedUp, E::kEntrySignal, E::kEntryFilled, E::kExitSignal, E::kExitFilled, E::kCooldownOver}) {
    const auto next = next_lifecycle(s, e);
    ASSERT_TRUE(next.has_value()) << to_string(s) << " + " << to_string(e);
    s = *next;
  }
  EXPECT_EQ(s, L::kLooking);
}

TEST(Lifecycle, NamesAreDistinct) {
  std::set<std::string_view> states;
  for (L s : kStates) states.insert(to_string(s));
  EXPECT_EQ(states.size(), kLifecycleCount);
  std::set<std::string_view> events;
  for (E e : kEvents) events.insert(to_string(e));
  EXPECT_EQ(events.size(), kLifecycleEventCount);
  EXPECT_EQ(to_string(L::kManaging), "MANAGING");
}

}  // namespace
}  // namespace ta::agent
