// The compile pipeline shared by compile_source() and load_rules().
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "rules/rules.h"

namespace ta::rules {

struct SourceUnit {
  std::string name;       // for diagnostics
  std::string_view text;  // must outlive the call
  SourceOrigin origin;
};

// Compiles the units into one RuleSet, in order. All or nothing.
Compiled<RuleSet> compile_units(const std::vector<SourceUnit>& units);

}  // namespace ta::rules
