#include "format.h"

#include <charconv>
#include <cmath>

namespace ta::backtest::fmt {

std::string fixed(double value, int digits) {
  if (!std::isfinite(value)) return "0";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed, digits);
  std::string out(buf, r.ec == std::errc() ? r.ptr : buf);
  // A negative value that rounds to zero prints as "-0.00..."; drop the sign.
  if (!out.empty() && out[0] == '-' && out.find_first_not_of("-0.") == std::string::npos) out.erase(0, 1);
  return out;
}

std::string fixed_or(const std::optional<double>& value, int digits, std::string_view absent) {
  if (!value || !std::isfinite(*value)) return std::string(absent);
  return fixed(*value, digits);
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

Decimal from_wide(Int128 wide_units) {
  const Int128 units = divide_rounded(wide_units, Decimal::kScale, Rounding::kHalfEven);
  constexpr Int128 kMax = INT64_MAX;
  if (units > kMax) return Decimal::from_units(INT64_MAX);
  if (units < -kMax) return Decimal::from_units(-INT64_MAX);
  return Decimal::from_units(static_cast<std::int64_t>(units));
}

std::string money(Decimal value) {
  std::string text = value.to_string_fixed(2, Rounding::kHalfEven);
  const bool negative = !text.empty() && text[0] == '-';
  if (negative) text.erase(0, 1);
  const auto point = text.find('.');
  std::string whole = text.substr(0, point);
  const std::string frac = point == std::string::npos ? std::string() : text.substr(point);
  std::string grouped;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    if (i > 0 && (whole.size() - i) % 3 == 0) grouped += ',';
    grouped += whole[i];
  }
  const bool zero = text.find_first_not_of("0.") == std::string::npos;
  return (negative && !zero ? "-" : "") + grouped + frac;
}

std::string percent(double fraction) { return fixed(fraction * 100.0, 2) + "%"; }

std::string duration(std::int64_t seconds) {
  if (seconds < 0) seconds = 0;
  const std::int64_t days = seconds / 86400;
  const std::int64_t h = seconds % 86400 / 3600;
  const std::int64_t m = seconds % 3600 / 60;
  const std::int64_t s = seconds % 60;
  const auto two = [](std::int64_t v) { return std::string(v < 10 ? "0" : "") + std::to_string(v); };
  std::string hms = two(h) + ":" + two(m) + ":" + two(s);
  return days > 0 ? std::to_string(days) + "d " + hms : hms;
}

}  // namespace ta::backtest::fmt
