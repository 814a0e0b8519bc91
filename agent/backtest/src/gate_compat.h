// The seam between the backtester and the gate core's rule stage.
//
// The rule stage of decide() is being built beside the backtester: it adds
// DecisionContext::rules, makes decide() return a DecideResult (the
// Decision plus the rule facts and a rule-halt flag), adds
// GateState::apply_bar() for the market facts and orders held for approval
// that expire (expire_holds()). These helpers compile against the gate core
// with or without those additions, so the backtester passes the rule set,
// honours rule halts, feeds market facts and expires holds as soon as the
// gate core offers them, with no other change here.
#pragma once

#include <cstdint>
#include <type_traits>

#include "gate.pb.h"
#include "gate/core.h"
#include "gate/sim_venue.h"
#include "proto/result.h"
#include "rules/rules.h"

namespace ta::backtest::compat {

template <class Result>
const ipc::Decision& decision_of(const Result& r) {
  if constexpr (std::is_same_v<Result, ipc::Decision>) {
    return r;
  } else {
    return r.decision;
  }
}

template <class Result>
bool rule_halt_of(const Result& r) {
  if constexpr (requires { r.rule_halt; }) {
    return r.rule_halt;
  } else {
    (void)r;
    return false;
  }
}

template <class Context>
void set_rules(Context& ctx, const rules::RuleSet* rules) {
  if constexpr (requires { ctx.rules = rules; }) {
    ctx.rules = rules;
  } else {
    (void)ctx;
    (void)rules;
  }
}

template <class Context>
inline constexpr bool kHasRules = requires(Context ctx) { ctx.rules; };
// True when decide() can evaluate rules (the context has a rule set).
inline constexpr bool kDecideHasRules = kHasRules<gate::DecisionContext>;

template <class State>
Status apply_bar(State& state, const gate::Bar& bar) {
  if constexpr (requires { state.apply_bar(bar); }) {
    return state.apply_bar(bar);
  } else {
    (void)state;
    (void)bar;
    return {};
  }
}

// Orders held for approval: no operator approves them in a backtest, so
// they expire. Calls fn(intent, decision) for every hold expired at now_ns
// (expire_holds(), found by argument-dependent lookup when it exists).
template <class State, class Fn>
Status for_each_expired_hold(const State& state, std::int64_t now_ns, Fn&& fn) {
  if constexpr (requires { expire_holds(state, now_ns); }) {
    for (const auto& hold : expire_holds(state, now_ns)) {
      if (auto st = fn(hold.intent, decision_of(hold.result)); !st) return st;
    }
  } else {
    (void)state;
    (void)now_ns;
    (void)fn;
  }
  return {};
}

template <class State>
bool has_pending_holds(const State& state) {
  if constexpr (requires { state.pending_holds(); }) {
    return !state.pending_holds().empty();
  } else {
    (void)state;
    return false;
  }
}

}  // namespace ta::backtest::compat
