// The facts a rule may read: their DSL names, static types and slots in the
// evaluator's register file, and the enum value names.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ast.h"
#include "rules/rules.h"

namespace ta::rules {

// Slot numbers of the facts in the register file; the order is the order
// of the table in facts_table.cpp.
enum class FactId : std::uint8_t {
  kOrderProduct, kOrderSide, kOrderType, kOrderQuantity, kOrderPrice, kOrderNotional, kOrderReduceOnly,
  kOrderStrategy,
  kPositionQuantity, kPositionNotional, kPositionAverageCost, kPositionUnrealizedPnl,
  kAccountEquity, kAccountCash, kAccountGrossExposure, kAccountDailyPnl, kAccountDrawdown,
  kMarketReferencePrice, kMarketSpread, kMarketRealizedVol1h, kMarketRealizedVol24h, kMarketVolume1h,
  kTimeUtcHour, kTimeWeekday, kTimeSinceLastStopOut,
  kStatsOrdersLastMinute, kStatsConsecutiveLosses, kStatsFillsToday,
};
inline constexpr std::size_t kFactCount = 28;

struct FactDef {
  std::string_view name;  // "market.spread"
  Type type;
  FactId id;
};

std::span<const FactDef> fact_table();
const FactDef* find_fact(std::string_view name);

// The value (ordinal) of an enum value name for an enum type, if it names one.
std::optional<std::int64_t> enum_value(Type enum_type, std::string_view name);
// "buy, sell" for error messages.
std::string enum_names(Type enum_type);
// Every fact name and enum value name, for "did you mean" suggestions.
std::vector<std::string_view> all_names();

// The closest candidate within a small edit distance, or empty.
std::string_view closest(std::string_view word, const std::vector<std::string_view>& candidates);

// Fills slots[0, kFactCount) from `facts`: decimals as their units,
// integers and durations scaled to Decimal units (saturating at the
// Decimal range), bools as 0/1, enums as their ordinal, strings as the
// 1-based index of the equal entry in `strings` or 0 when none matches.
void load_facts(const Facts& facts, std::span<const std::string> strings, std::int64_t* slots);

}  // namespace ta::rules
