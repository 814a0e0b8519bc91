// The type checker: annotates every expression with its static type and
// reports every type error of a rule (docs/rule-dsl.md, "Types and units").
#pragma once

#include "ast.h"
#include "diagnostics.h"

namespace ta::rules {

// Returns false when the rule has a type error (all of them are reported).
bool check_rule(Rule& rule, DiagnosticSink& sink);

// True for literals and operators over literals only (no facts, no lists).
bool is_constant(const Expr& e);

// Seconds of a duration literal as written (30m -> 1800), or nothing when it
// is not a whole number of seconds or out of range.
std::optional<std::int64_t> duration_seconds(const Decimal& value, LiteralUnit unit);

}  // namespace ta::rules
