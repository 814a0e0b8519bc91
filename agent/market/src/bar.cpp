#include <cmath>
#include <cstdio>
#include <ctime>

#include "market/bar.h"

namespace ta::agent {
namespace {

bool product_char(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'; }

// Shows untrusted text in an error message: printable ASCII only, bounded.
std::string printable(std::string_view text) {
  constexpr std::size_t kShownMax = 32;
  std::string out;
  for (char c : text.substr(0, kShownMax)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > kShownMax) out += "...";
  return out;
}

}  // namespace

Result<ProductId> ProductId::parse(std::string_view text) {
  const auto fail = [&](const char* why) {
    return make_error("product id \"" + printable(text) + "\": " + why);
  };
  if (text.empty()) return fail("empty");
  if (text.size() > kLengthMax) return fail("longer than 15 characters");
  for (char c : text) {
    if (!product_char(c)) return fail("only A-Z, 0-9 and '-' are allowed");
  }
  if (text.front() == '-' || text.back() == '-') return fail("must not start or end with '-'");
  ProductId id;
  for (std::size_t i = 0; i < text.size(); ++i) id.text_[i] = text[i];
  return id;
}

std::string_view ProductId::view() const {
  std::size_t n = 0;
  while (n < kLengthMax && text_[n] != '\0') ++n;
  return std::string_view(text_.data(), n);
}

BarDefect check_bar(const Bar& bar) {
  if (bar.open_ts_s < 0 || bar.open_ts_s > kTimestampMax_s) return BarDefect::kTimestampOutOfRange;
  if (bar.open_ts_s % kBarSeconds != 0) return BarDefect::kTimestampNotMinute;
  if (!(std::isfinite(bar.open) && std::isfinite(bar.high) && std::isfinite(bar.low) && std::isfinite(bar.close) &&
        std::isfinite(bar.volume))) {
    return BarDefect::kNotFinite;
  }
  if (!(bar.open > 0 && bar.high > 0 && bar.low > 0 && bar.close > 0)) {
    return BarDefect::kPriceNotPositive;
  }
  if (bar.volume < 0) return BarDefect::kVolumeNegative;
  if (bar.high < bar.low) return BarDefect::kHighBelowLow;
  if (bar.open < bar.low || bar.open > bar.high) return BarDefect::kOpenOutsideRange;
  if (bar.close < bar.low || bar.close > bar.high) return BarDefect::kCloseOutsideRange;
  if (bar.quote) {
    const Quote& q = *bar.quote;
    if (!std::isfinite(q.bid) || !std::isfinite(q.ask) || !(q.bid > 0) || q.bid > q.ask) {
      return BarDefect::kQuoteInvalid;
    }
  }
  return BarDefect::kNone;
}

std::string_view describe(BarDefect defect) {
  switch (defect) {
    case BarDefect::kNone:
      return "valid";
    case BarDefect::kTimestampNotMinute:
      return "timestamp is not a multiple of 60 s";
    case BarDefect::kTimestampOutOfRange:
      return "timestamp outside [1970, 2200)";
    case BarDefect::kNotFinite:
      return "value is not finite (nan or inf)";
    case BarDefect::kPriceNotPositive:
      return "price is not > 0";
    case BarDefect::kVolumeNegative:
      return "volume is negative";
    case BarDefect::kHighBelowLow:
      return "high is below low";
    case BarDefect::kOpenOutsideRange:
      return "open is outside [low, high]";
    case BarDefect::kCloseOutsideRange:
      return "close is outside [low, high]";
    case BarDefect::kQuoteInvalid:
      return "bid/ask not finite, not > 0, or bid > ask";
  }
  return "unknown defect";
}

GapReport find_gaps(std::span<const Bar> bars) {
  GapReport report;
  for (std::size_t i = 1; i < bars.size(); ++i) {
    const std::int64_t expected = bars[i - 1].open_ts_s + kBarSeconds;
    if (bars[i].open_ts_s == expected) continue;
    const Gap gap{expected, bars[i].open_ts_s};
    ++report.gap_count;
    report.missing_minutes += gap.minutes();
    if (report.gaps.size() < GapReport::kGapsListedMax) report.gaps.push_back(gap);
  }
  return report;
}

std::string format_utc(std::int64_t ts_s) {
  const std::time_t t = static_cast<std::time_t>(ts_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[80];  // ample for any int fields, so no truncation warning
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

}  // namespace ta::agent
