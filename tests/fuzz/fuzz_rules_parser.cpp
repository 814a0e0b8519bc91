// Fuzzes the rule compiler end to end: lexer, parser, type checker and code
// generator on arbitrary bytes, then evaluation of whatever compiled, and
// the canonical printer. Nothing may crash, and the canonical form of
// anything that parses must parse again to the same text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "rules/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto compiled = ta::rules::compile_source(text, "fuzz.rule", ta::rules::SourceOrigin::core());
  if (compiled.ok()) {
    ta::rules::Facts facts;
    facts.order.product = "BTC-USD";
    ta::rules::Outcome outcome;
    compiled.value().evaluate(facts, outcome);
    if (outcome.fired.size() > compiled.value().size()) std::abort();
    (void)compiled.value().reason(outcome);
  } else {
    for (const auto& d : compiled.errors()) (void)d.render();
    if (compiled.errors().size() > ta::rules::kDiagnosticCountMax + 1) std::abort();
  }
  auto formatted = ta::rules::format_source(text, "fuzz.rule");
  if (formatted.ok()) {
    auto again = ta::rules::format_source(formatted.value(), "fuzz.rule");
    if (!again.ok() || again.value() != formatted.value()) std::abort();
  }
  return 0;
}
