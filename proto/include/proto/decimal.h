// Fixed-point decimal numbers for prices, quantities and notionals.
//
// A Decimal is an int64 count of 1e-8 units: eight fractional digits cover
// Coinbase's smallest base increment (0.00000001 BTC) and any USD price
// increment. The range is +-92,233,720,368.54775807, ample for one person's
// account; every operation that could leave it is checked and returns an
// error instead of wrapping.
//
// Parsing and formatting are exact: parse("0.00012345").to_string() gives
// back "0.00012345". No floating point is involved except in the explicitly
// named to_double()/from_double() used by the agent's indicators.
//
// Price, Quantity and Notional are names for Decimal that say what a value
// means; the arithmetic is the same.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "proto/result.h"

namespace ta {

// 128-bit intermediate for products and quotients (GCC/Clang extension;
// __extension__ keeps -Wpedantic quiet about it in this one place).
__extension__ typedef __int128 Int128;

// How to round when an exact result needs more than eight fractional
// digits, or when rounding to a product's increment.
enum class Rounding {
  kTowardZero,    // truncate: 1.239 -> 1.23, -1.239 -> -1.23
  kAwayFromZero,  // 1.231 -> 1.24, -1.231 -> -1.24
  kFloor,         // toward -infinity
  kCeiling,       // toward +infinity
  kHalfEven,      // nearest, ties to even (banker's rounding)
};

class Decimal {
 public:
  static constexpr int kFractionDigits = 8;
  static constexpr std::int64_t kScale = 100'000'000;  // 10^kFractionDigits
  // Longest text parse() accepts: sign, 11 integer digits, point, 8 digits.
  static constexpr std::size_t kTextLengthMax = 32;

  constexpr Decimal() = default;
  static constexpr Decimal from_units(std::int64_t units) { return Decimal(units); }
  static constexpr Decimal from_integer(std::int32_t whole) {
    return Decimal(static_cast<std::int64_t>(whole) * kScale);
  }
  static constexpr Decimal zero() { return Decimal(0); }

  // Parses "123", "-0.5", "0.00012345". Refuses empty text, whitespace, '+',
  // exponents, more than eight fractional digits (use parse_rounded), text
  // longer than kTextLengthMax and values out of range. The error names the
  // offending text and the reason.
  static Result<Decimal> parse(std::string_view text);
  // As parse(), but extra fractional digits are rounded with `mode`.
  static Result<Decimal> parse_rounded(std::string_view text, Rounding mode);
  // From a double (agent-side sizing only). Refuses NaN, infinities and
  // values out of range.
  static Result<Decimal> from_double(double value, Rounding mode);

  // Canonical text: no exponent, no trailing fractional zeros, "0" for zero.
  std::string to_string() const;
  // Fixed number of fractional digits (0..8), rounding with `mode`.
  std::string to_string_fixed(int fraction_digits, Rounding mode = Rounding::kHalfEven) const;
  double to_double() const { return static_cast<double>(units_) / static_cast<double>(kScale); }
  constexpr std::int64_t units() const { return units_; }

  constexpr bool is_zero() const { return units_ == 0; }
  constexpr bool is_negative() const { return units_ < 0; }
  constexpr bool is_positive() const { return units_ > 0; }

  // Checked arithmetic: an error on overflow or division by zero. (add and
  // sub are here, inline: the gate and the ledgers add on every bar.)
  Result<Decimal> add(Decimal other) const {
    std::int64_t r = 0;
    if (__builtin_add_overflow(units_, other.units_, &r) || r == kUnitsMin) return overflow("add");
    return Decimal(r);
  }
  Result<Decimal> sub(Decimal other) const {
    std::int64_t r = 0;
    if (__builtin_sub_overflow(units_, other.units_, &r) || r == kUnitsMin) return overflow("sub");
    return Decimal(r);
  }
  Result<Decimal> mul(Decimal other, Rounding mode) const;
  Result<Decimal> div(Decimal other, Rounding mode) const;
  Result<Decimal> negate() const;
  Decimal abs() const;  // precondition: not the minimum value (cannot be parsed)

  // Rounds to a multiple of `increment` (> 0), e.g. quantity 0.123456 with
  // increment 0.0001 and kTowardZero gives 0.1234.
  Result<Decimal> round_to_increment(Decimal increment, Rounding mode) const;
  // True when this is an exact multiple of `increment` (> 0).
  bool is_multiple_of(Decimal increment) const;

  friend constexpr auto operator<=>(Decimal, Decimal) = default;

 private:
  // The most negative int64 is never a Decimal, so abs() and negate()
  // cannot overflow.
  static constexpr std::int64_t kUnitsMin = INT64_MIN;
  // "decimal overflow in <what>"; out of line, off the fast path.
  [[gnu::cold]] static Error overflow(const char* what);

  explicit constexpr Decimal(std::int64_t units) : units_(units) {}
  std::int64_t units_ = 0;
};

using Price = Decimal;
using Quantity = Decimal;
using Notional = Decimal;

// Divides a 128-bit numerator by a positive or negative denominator with the
// given rounding. Exposed for tests; `den` must not be zero.
Int128 divide_rounded(Int128 num, Int128 den, Rounding mode);
// divide_rounded(num, Decimal::kScale, mode), the division of every
// product of two decimals, without a 128-bit division.
Int128 divide_by_scale_rounded(Int128 num, Rounding mode);

}  // namespace ta
