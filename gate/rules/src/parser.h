// Lexer and recursive-descent parser for the rule DSL (grammar in
// docs/rule-dsl.md). Errors go to the sink; a rule with a syntax error is
// skipped up to the next 'rule' keyword so one file reports every broken
// rule, not only the first.
#pragma once

#include <string_view>

#include "ast.h"
#include "diagnostics.h"

namespace ta::rules {

// Precondition: text.size() <= kSourceSizeMax (the caller checks and
// reports it). The sink's source must already be set to `text`.
SourceFile parse_source(std::string_view text, DiagnosticSink& sink);

}  // namespace ta::rules
