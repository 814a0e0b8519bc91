#include "text.h"

#include <charconv>
#include <cmath>
#include <string>

#include "coinbase/ws_message.h"
#include "market/bar.h"

namespace ta::agent::coinbase::detail {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// Reads exactly `n` digits at `pos` into `out`.
bool read_fixed(std::string_view s, std::size_t pos, std::size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (!is_digit(c)) return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  out = v;
  return true;
}

bool leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

struct DateTime {
  std::int64_t seconds = 0;  // Unix seconds of the wall time, before the offset
  std::int64_t micros = 0;   // fraction, truncated to microseconds
  std::size_t end = 0;       // position after the fraction
};

// "YYYY-MM-DD?hh:mm:ss[.f{1,9}]" with `sep` between date and time.
Result<DateTime> read_date_time(std::string_view s, char sep) {
  unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!read_fixed(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !read_fixed(s, 5, 2, mo) || s[7] != '-' ||
      !read_fixed(s, 8, 2, d) || s[10] != sep || !read_fixed(s, 11, 2, h) || s[13] != ':' ||
      !read_fixed(s, 14, 2, mi) || s[16] != ':' || !read_fixed(s, 17, 2, se)) {
    return make_error("not a date-time");
  }
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59) {
    return make_error("date-time field out of range");
  }
  DateTime out;
  out.seconds = days_from_civil(y, mo, d) * 86'400 + h * 3'600 + mi * 60 + se;
  std::size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    std::int64_t frac = 0;
    while (pos < s.size() && is_digit(s[pos])) {
      if (pos - start >= 9) return make_error("more than 9 fractional digits");
      frac = frac * 10 + (s[pos] - '0');
      ++pos;
    }
    const std::size_t digits = pos - start;
    if (digits == 0) return make_error("empty fraction");
    for (std::size_t i = digits; i < 9; ++i) frac *= 10;  // nanoseconds
    out.micros = frac / 1000;
  }
  out.end = pos;
  return out;
}

Result<std::int64_t> finish(std::int64_t seconds, std::int64_t micros) {
  if (seconds < 0 || seconds >= kTimestampMax_s) return make_error("time outside [1970, 2200)");
  return seconds * kMicrosPerSecond + micros;
}

}  // namespace

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's algorithm: era-based count of days since 1970-01-01.
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t mp = (m + 9) % 12;
  const std::int64_t doy = (153 * mp + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146'097 + doe - 719'468;
}

Result<double> parse_decimal(std::string_view text) {
  if (text.empty()) return make_error("empty number");
  if (text.size() > kDecimalTextMax) return make_error("number longer than 32 characters");
  std::size_t pos = text[0] == '-' ? 1 : 0;
  const std::size_t int_start = pos;
  while (pos < text.size() && is_digit(text[pos])) ++pos;
  if (pos == int_start) return make_error("not a decimal number");
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t frac_start = pos;
    while (pos < text.size() && is_digit(text[pos])) ++pos;
    if (pos == frac_start) return make_error("not a decimal number");
  }
  if (pos != text.size()) return make_error("not a decimal number");
  double value = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), value);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || !std::isfinite(value)) {
    return make_error("number out of range");
  }
  return value;
}

Result<std::uint64_t> parse_uint(std::string_view text) {
  if (!all_digits(text)) return make_error("not a decimal integer");
  std::uint64_t value = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), value);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return make_error("integer out of range");
  return value;
}

Result<std::int64_t> parse_int(std::string_view text) {
  const std::string_view digits = !text.empty() && text[0] == '-' ? text.substr(1) : text;
  if (!all_digits(digits)) return make_error("not a decimal integer");
  std::int64_t value = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), value);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return make_error("integer out of range");
  return value;
}

Result<std::int64_t> parse_rfc3339(std::string_view text) {
  auto dt = read_date_time(text, 'T');
  if (!dt) return dt.error();
  std::string_view rest = text.substr(dt->end);
  if (rest == "Z") return finish(dt->seconds, dt->micros);
  unsigned oh = 0, om = 0;
  if (rest.size() != 6 || (rest[0] != '+' && rest[0] != '-') || !read_fixed(rest, 1, 2, oh) || rest[3] != ':' ||
      !read_fixed(rest, 4, 2, om) || oh > 23 || om > 59) {
    return make_error("no Z or +HH:MM offset");
  }
  const std::int64_t offset = std::int64_t{oh * 3'600 + om * 60} * (rest[0] == '+' ? 1 : -1);
  return finish(dt->seconds - offset, dt->micros);
}

Result<std::int64_t> parse_go_time(std::string_view text) {
  // Go's time.String() output is under 80 characters; refuse longer junk.
  constexpr std::size_t kGoTimeTextMax = 96;
  if (text.size() > kGoTimeTextMax) return make_error("time text too long");
  if (text.size() > 10 && text[10] == 'T') return parse_rfc3339(text);
  auto dt = read_date_time(text, ' ');
  if (!dt) return dt.error();
  std::string_view rest = text.substr(dt->end);
  unsigned oh = 0, om = 0;
  if (rest.size() < 6 || rest[0] != ' ' || (rest[1] != '+' && rest[1] != '-') || !read_fixed(rest, 2, 2, oh) ||
      !read_fixed(rest, 4, 2, om) || oh > 23 || om > 59 || (rest.size() > 6 && rest[6] != ' ')) {
    return make_error("no +hhmm offset");
  }
  const std::int64_t offset = std::int64_t{oh * 3'600 + om * 60} * (rest[1] == '+' ? 1 : -1);
  return finish(dt->seconds - offset, dt->micros);
}

}  // namespace ta::agent::coinbase::detail
