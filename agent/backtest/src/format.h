// Deterministic text for reports: numbers through std::to_chars (no
// locale), JSON string escaping, exact decimals from 128-bit units.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/decimal.h"

namespace ta::backtest::fmt {

// Fixed-point text with `digits` fractional digits; "-0.00" becomes "0.00".
std::string fixed(double value, int digits);
// As fixed(), or "null" (JSON) / `absent` when empty or not finite.
std::string fixed_or(const std::optional<double>& value, int digits, std::string_view absent);
// A JSON string literal with quotes and escapes.
std::string json_string(std::string_view text);
// 1e-16 units (a product of two decimals) rounded half-even to a Decimal.
Decimal from_wide(Int128 wide_units);
// Money for people: two fractional digits, half-even, thousands separated.
std::string money(Decimal value);
// A ratio as a percentage with two fractional digits ("12.34%").
std::string percent(double fraction);
// "3d 04:05" / "04:05:00" for a duration in seconds.
std::string duration(std::int64_t seconds);

}  // namespace ta::backtest::fmt
