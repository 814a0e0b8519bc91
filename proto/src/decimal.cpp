#include "proto/decimal.h"

#include <cmath>
#include <limits>

namespace ta {
namespace {

constexpr Int128 kInt64Max = std::numeric_limits<std::int64_t>::max();
constexpr Int128 kInt64Min = std::numeric_limits<std::int64_t>::min();

Result<Decimal> fit(Int128 units, const char* what) {
  // The minimum int64 is excluded so that abs() and negate() never overflow.
  if (units > kInt64Max || units <= kInt64Min) {
    return make_error(std::string("decimal overflow in ") + what);
  }
  return Decimal::from_units(static_cast<std::int64_t>(units));
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, Decimal::kTextLengthMax)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (text.size() > Decimal::kTextLengthMax) out += "...";
  out += '"';
  return out;
}

}  // namespace

namespace {

__extension__ typedef unsigned __int128 UInt128;

// Whether a quotient q with remainder r != 0 of a division by den rounds
// away from zero, for a result of the given sign.
template <class U>
bool rounds_away(U q, U r, U den, bool negative, Rounding mode) {
  switch (mode) {
    case Rounding::kTowardZero:
      return false;
    case Rounding::kAwayFromZero:
      return true;
    case Rounding::kFloor:
      return negative;
    case Rounding::kCeiling:
      return !negative;
    case Rounding::kHalfEven: {
      // 2r > den, or 2r == den and q odd; written without 2r, which could
      // overflow U.
      const U rest = den - r;
      return r > rest || (r == rest && (q & 1) != 0);
    }
  }
  return false;
}

// The rounded quotient of magnitudes, for a result of the given sign. One
// template for both widths, so the 64-bit fast path below cannot differ
// from the general one in anything but speed.
template <class U>
UInt128 rounded_magnitude(U abs_num, U abs_den, bool negative, Rounding mode) {
  const U q = abs_num / abs_den;
  const U r = abs_num % abs_den;
  if (r == 0) return q;
  return UInt128{q} + (rounds_away<U>(q, r, abs_den, negative, mode) ? 1 : 0);
}

UInt128 magnitude(Int128 v) { return v < 0 ? UInt128{0} - static_cast<UInt128>(v) : static_cast<UInt128>(v); }
Int128 with_sign(UInt128 m, bool negative) { return negative ? static_cast<Int128>(UInt128{0} - m) : static_cast<Int128>(m); }

// a / kScale and a % kScale for a < 2^127 without a 128-bit division: long
// division in 32-bit digits, where every step divides a 64-bit number by
// the constant (which the compiler turns into a multiplication).
void divide_by_scale(UInt128 a, UInt128& q, std::uint64_t& r) {
  constexpr std::uint64_t kDen = Decimal::kScale;
  static_assert(kDen < (std::uint64_t{1} << 32), "each step's remainder must fit in 32 bits");
  const std::uint64_t hi = static_cast<std::uint64_t>(a >> 64);
  const std::uint64_t lo = static_cast<std::uint64_t>(a);
  const std::uint64_t q_hi = hi / kDen;
  std::uint64_t rem = hi % kDen;
  const std::uint64_t d1 = (rem << 32) | (lo >> 32);
  const std::uint64_t q1 = d1 / kDen;
  rem = d1 % kDen;
  const std::uint64_t d0 = (rem << 32) | (lo & 0xffff'ffffu);
  const std::uint64_t q0 = d0 / kDen;
  r = d0 % kDen;
  q = (UInt128{q_hi} << 64) + (UInt128{q1} << 32) + q0;
}

// The text every Decimal prints as, and nearly all a gate reads:
// [-]D{1,10}[.D{1,8}]. Parsed in 64-bit arithmetic (ten whole digits times
// the scale stay far below 2^63); anything else - longer, rounded, or not a
// decimal at all - returns false and takes the general path, which gives
// the same value or the error.
bool parse_plain(std::string_view text, std::int64_t& units) {
  const char* p = text.data();
  const char* const end = p + text.size();
  const bool negative = p != end && *p == '-';
  if (negative) ++p;
  const char* const whole_begin = p;
  std::uint64_t whole = 0;
  while (p != end && static_cast<unsigned char>(*p - '0') < 10 && p - whole_begin < 10) {
    whole = whole * 10 + static_cast<unsigned>(*p - '0');
    ++p;
  }
  if (p == whole_begin) return false;
  std::uint64_t frac = 0;
  if (p != end) {
    if (*p != '.') return false;
    ++p;
    const char* const frac_begin = p;
    while (p != end && static_cast<unsigned char>(*p - '0') < 10 && p - frac_begin < Decimal::kFractionDigits) {
      frac = frac * 10 + static_cast<unsigned>(*p - '0');
      ++p;
    }
    if (p == frac_begin || p != end) return false;
    for (auto d = p - frac_begin; d < Decimal::kFractionDigits; ++d) frac *= 10;
  }
  const auto magnitude = static_cast<std::int64_t>(whole * Decimal::kScale + frac);
  units = negative ? -magnitude : magnitude;
  return true;
}

// Unsigned decimal digits of v, written backwards ending at `end`; returns
// the first digit.
char* digits_backwards(std::uint64_t v, char* end) {
  do {
    *--end = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return end;
}

}  // namespace

Int128 divide_rounded(Int128 num, Int128 den, Rounding mode) {
  const bool negative = (num < 0) != (den < 0);
  // Magnitudes as unsigned, so the most negative value needs no special case.
  const UInt128 abs_num = magnitude(num);
  const UInt128 abs_den = magnitude(den);
  // Most divisions in the gate (returns, fractions, prices) have both sides
  // within 64 bits: one hardware division instead of a 128-bit library call.
  constexpr UInt128 k64 = UInt128{1} << 64;
  const UInt128 q = abs_num < k64 && abs_den < k64
                        ? rounded_magnitude<std::uint64_t>(static_cast<std::uint64_t>(abs_num),
                                                           static_cast<std::uint64_t>(abs_den), negative, mode)
                        : rounded_magnitude<UInt128>(abs_num, abs_den, negative, mode);
  return with_sign(q, negative);
}

Int128 divide_by_scale_rounded(Int128 num, Rounding mode) {
  const bool negative = num < 0;
  const UInt128 abs_num = magnitude(num);
  if (abs_num >> 127 != 0) return divide_rounded(num, Decimal::kScale, mode);  // only -2^127
  UInt128 q = 0;
  std::uint64_t r = 0;
  divide_by_scale(abs_num, q, r);
  if (r != 0 && rounds_away<std::uint64_t>(static_cast<std::uint64_t>(q), r, Decimal::kScale, negative, mode)) ++q;
  return with_sign(q, negative);
}

Result<Decimal> Decimal::parse_rounded(std::string_view text, Rounding mode) {
  if (std::int64_t units = 0; parse_plain(text, units)) return Decimal(units);
  if (text.empty()) return make_error("empty decimal");
  if (text.size() > kTextLengthMax) {
    return make_error("decimal " + quote(text) + " is longer than " +
                      std::to_string(kTextLengthMax) + " characters");
  }
  std::size_t i = 0;
  bool negative = false;
  if (text[0] == '-') {
    negative = true;
    i = 1;
  }
  Int128 whole = 0;
  std::size_t whole_digits = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++whole_digits) {
    whole = whole * 10 + (text[i] - '0');
    if (whole > kInt64Max) return make_error("decimal " + quote(text) + " is out of range");
  }
  Int128 frac = 0;
  std::size_t frac_digits = 0;
  int extra_digits = 0;
  Int128 extra = 0;  // the digits past the eighth, as an integer
  if (i < text.size() && text[i] == '.') {
    ++i;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++frac_digits) {
      if (frac_digits < static_cast<std::size_t>(kFractionDigits)) {
        frac = frac * 10 + (text[i] - '0');
      } else {
        if (extra_digits < 18) {
          extra = extra * 10 + (text[i] - '0');
          ++extra_digits;
        } else if (text[i] != '0') {
          extra += 1;  // sticky digit: keeps "more than half" decisions right
        }
      }
    }
    if (frac_digits == 0) return make_error("decimal " + quote(text) + " has no digits after '.'");
  }
  if (i != text.size()) {
    return make_error("decimal " + quote(text) + " has an unexpected character at position " +
                      std::to_string(i + 1));
  }
  if (whole_digits == 0 && frac_digits == 0) return make_error("decimal " + quote(text) + " has no digits");
  if (whole_digits == 0) return make_error("decimal " + quote(text) + " needs a digit before '.'");
  for (std::size_t d = frac_digits; d < static_cast<std::size_t>(kFractionDigits); ++d) frac *= 10;
  Int128 units = whole * kScale + frac;
  if (extra_digits > 0) {
    Int128 den = 1;
    for (int d = 0; d < extra_digits; ++d) den *= 10;
    Int128 scaled = units * den + extra;
    if (negative) scaled = -scaled;
    units = divide_rounded(scaled, den, mode);
  } else if (negative) {
    units = -units;
  }
  auto r = fit(units, "parse");
  if (!r) return make_error("decimal " + quote(text) + " is out of range");
  return r;
}

Result<Decimal> Decimal::parse(std::string_view text) {
  if (std::int64_t units = 0; parse_plain(text, units)) return Decimal(units);
  const auto point = text.find('.');
  if (point != std::string_view::npos && text.size() - point - 1 > static_cast<std::size_t>(kFractionDigits)) {
    return make_error("decimal " + quote(text) + " has more than " + std::to_string(kFractionDigits) +
                      " fractional digits");
  }
  return parse_rounded(text, Rounding::kTowardZero);
}

Result<Decimal> Decimal::from_double(double value, Rounding mode) {
  if (!std::isfinite(value)) return make_error("decimal from a non-finite double");
  const long double scaled = static_cast<long double>(value) * kScale;
  if (scaled >= 9.2e18L || scaled <= -9.2e18L) return make_error("decimal from a double out of range");
  long double rounded = 0;
  switch (mode) {
    case Rounding::kTowardZero:
      rounded = std::trunc(scaled);
      break;
    case Rounding::kAwayFromZero:
      rounded = scaled < 0 ? std::floor(scaled) : std::ceil(scaled);
      break;
    case Rounding::kFloor:
      rounded = std::floor(scaled);
      break;
    case Rounding::kCeiling:
      rounded = std::ceil(scaled);
      break;
    case Rounding::kHalfEven:
      // The default FE_TONEAREST is ties-to-even. rint gives the same value
      // as nearbyint; it may raise FE_INEXACT, which nothing here reads, and
      // skips the floating-point environment save and restore that made
      // nearbyint the larger part of a conversion.
      rounded = std::rint(scaled);
      break;
  }
  return Decimal(static_cast<std::int64_t>(rounded));
}

std::string Decimal::to_string() const {
  // Built in a buffer and copied once: "-", at most 11 whole digits, ".",
  // at most 8 fractional digits.
  char buf[kTextLengthMax];
  char* const end = buf + sizeof buf;
  const bool negative = units_ < 0;
  const std::uint64_t magnitude =
      negative ? static_cast<std::uint64_t>(-(units_ + 1)) + 1 : static_cast<std::uint64_t>(units_);
  std::uint64_t frac = magnitude % kScale;
  char* first = end;
  if (frac != 0) {
    int len = kFractionDigits;
    while (frac % 10 == 0) {
      frac /= 10;
      --len;
    }
    for (int d = 0; d < len; ++d) {
      *--first = static_cast<char>('0' + frac % 10);
      frac /= 10;
    }
    *--first = '.';
  }
  first = digits_backwards(magnitude / kScale, first);
  if (negative) *--first = '-';
  return std::string(first, end);
}

std::string Decimal::to_string_fixed(int fraction_digits, Rounding mode) const {
  if (fraction_digits < 0) fraction_digits = 0;
  if (fraction_digits > kFractionDigits) fraction_digits = kFractionDigits;
  Int128 step = 1;
  for (int d = fraction_digits; d < kFractionDigits; ++d) step *= 10;
  const Int128 q = divide_rounded(units_, step, mode);  // in units of 10^-fraction_digits
  const bool negative = q < 0;
  const Int128 mag = negative ? -q : q;
  Int128 div = 1;
  for (int d = 0; d < fraction_digits; ++d) div *= 10;
  std::string out = negative ? "-" : "";
  out += std::to_string(static_cast<unsigned long long>(mag / div));
  if (fraction_digits > 0) {
    std::string frac = std::to_string(static_cast<unsigned long long>(mag % div));
    out += '.';
    out.append(static_cast<std::size_t>(fraction_digits) - frac.size(), '0');
    out += frac;
  }
  return out;
}

Error Decimal::overflow(const char* what) { return make_error(std::string("decimal overflow in ") + what); }

Result<Decimal> Decimal::mul(Decimal other, Rounding mode) const {
  const Int128 product = static_cast<Int128>(units_) * other.units_;
  return fit(divide_by_scale_rounded(product, mode), "mul");
}

Result<Decimal> Decimal::div(Decimal other, Rounding mode) const {
  if (other.units_ == 0) return make_error("decimal division by zero");
  const Int128 num = static_cast<Int128>(units_) * kScale;
  return fit(divide_rounded(num, other.units_, mode), "div");
}

Result<Decimal> Decimal::negate() const { return fit(-static_cast<Int128>(units_), "negate"); }

Decimal Decimal::abs() const { return Decimal(units_ < 0 ? -units_ : units_); }

Result<Decimal> Decimal::round_to_increment(Decimal increment, Rounding mode) const {
  if (increment.units_ <= 0) return make_error("rounding increment must be positive");
  const Int128 steps = divide_rounded(units_, increment.units_, mode);
  return fit(steps * increment.units_, "round_to_increment");
}

bool Decimal::is_multiple_of(Decimal increment) const {
  return increment.units_ > 0 && units_ % increment.units_ == 0;
}

}  // namespace ta
