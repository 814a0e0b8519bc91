// Market-data vocabulary of the agent: products, 1-minute bars, trades,
// quotes and gaps.
//
// Prices and volumes are doubles. The agent's analytics (indicators,
// strategies, the backtester's inner loop) are floating-point by nature and
// must run at more than 10 million bars per second; checked fixed-point
// arithmetic would cost several times that and buy nothing, because no money
// is accounted here. Quantities become ta::Decimal at the boundary, when an
// intent is built for the gate, which alone accounts money (DESIGN.md 4).
// A price parsed from text is the nearest double to the decimal text and
// survives a round trip through SQLite REAL columns unchanged.
//
// All types here are plain values: trivially copyable, no allocation.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/result.h"

namespace ta::agent {

// Length of a bar. Every bar covers [open_ts_s, open_ts_s + kBarSeconds).
inline constexpr std::int64_t kBarSeconds = 60;
inline constexpr std::int64_t kMicrosPerSecond = 1'000'000;
inline constexpr std::int64_t kBarMicros = kBarSeconds * kMicrosPerSecond;

// Timestamps outside [0, kTimestampMax_s] are refused as corrupt: nothing we
// trade predates 1970, and the upper bound (2200-01-01T00:00:00Z) keeps
// every microsecond sum far from int64 overflow.
inline constexpr std::int64_t kTimestampMax_s = 7'258'118'400;
static_assert(kTimestampMax_s % kBarSeconds == 0);
static_assert(kTimestampMax_s < INT64_MAX / kMicrosPerSecond / 4);

// Start of the minute that contains `ts_s` (floor, also for negative input).
constexpr std::int64_t minute_floor_s(std::int64_t ts_s) {
  const std::int64_t r = ts_s % kBarSeconds;
  return r < 0 ? ts_s - r - kBarSeconds : ts_s - r;
}

// A product id as the venue spells it ("BTC-USD"), stored inline so that a
// Bar stays a plain value. Accepted text: 1..kLengthMax characters from
// A-Z, 0-9 and '-', not starting or ending with '-'. Ordering is
// lexicographic by text; it is the deterministic tie order of merged feeds.
class ProductId {
 public:
  // Coinbase product ids are short ("BTC-USD", "MATIC-USDC"); 15 characters
  // leave room and keep the type at 16 bytes.
  static constexpr std::size_t kLengthMax = 15;

  constexpr ProductId() = default;
  // The error names the text and the reason.
  static Result<ProductId> parse(std::string_view text);

  std::string_view view() const;
  std::string str() const { return std::string(view()); }
  bool empty() const { return text_[0] == '\0'; }

  // Two word compares instead of a memcmp call: products are compared on
  // every bar (the backtester's product lookup, the engine's).
  friend bool operator==(const ProductId& a, const ProductId& b) {
    static_assert(sizeof(a.text_) == 2 * sizeof(std::uint64_t));
    std::uint64_t x[2];
    std::uint64_t y[2];
    std::memcpy(x, a.text_.data(), sizeof x);
    std::memcpy(y, b.text_.data(), sizeof y);
    return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
  }
  friend auto operator<=>(const ProductId&, const ProductId&) = default;

 private:
  // NUL-padded; the padding makes array comparison equal text comparison.
  std::array<char, kLengthMax + 1> text_{};
};

// Top of book at the end of a bar.
struct Quote {
  double bid = 0;
  double ask = 0;
  friend bool operator==(const Quote&, const Quote&) = default;
};

// One 1-minute OHLCV bar. Invariants (see check_bar): open_ts_s is a
// multiple of 60 in [0, kTimestampMax_s]; prices finite and > 0;
// low <= open, close <= high; volume finite and >= 0 (base-asset units).
// A bar is only ever published after its minute is over: its content is
// known at close_ts_s(), never earlier.
struct Bar {
  ProductId product;
  std::int64_t open_ts_s = 0;  // bar open time, Unix seconds UTC
  double open = 0;
  double high = 0;
  double low = 0;
  double close = 0;
  double volume = 0;
  std::optional<Quote> quote;  // when the source provides bid/ask

  std::int64_t close_ts_s() const { return open_ts_s + kBarSeconds; }
  friend bool operator==(const Bar&, const Bar&) = default;
};

// A public trade (venue "match") as received from a feed.
struct Trade {
  ProductId product;
  std::uint64_t trade_id = 0;  // the venue's per-product id, increasing
  std::int64_t time_us = 0;    // match time, Unix microseconds UTC
  double price = 0;
  double size = 0;  // base-asset units
};

// What is wrong with a bar. kNone means it is valid.
enum class BarDefect {
  kNone,
  kTimestampNotMinute,
  kTimestampOutOfRange,
  kNotFinite,
  kPriceNotPositive,
  kVolumeNegative,
  kHighBelowLow,
  kOpenOutsideRange,
  kCloseOutsideRange,
  kQuoteInvalid,  // bid/ask not finite, not > 0, or bid > ask
};
inline constexpr std::size_t kBarDefectCount = 10;

// Checks the invariants listed on Bar (not the product id).
BarDefect check_bar(const Bar& bar);
std::string_view describe(BarDefect defect);

// A run of missing bars: open times start_ts_s, start_ts_s + 60, ...,
// end_ts_s - 60 have no bar ([start, end), both multiples of 60).
struct Gap {
  std::int64_t start_ts_s = 0;
  std::int64_t end_ts_s = 0;
  std::int64_t minutes() const { return (end_ts_s - start_ts_s) / kBarSeconds; }
  friend bool operator==(const Gap&, const Gap&) = default;
};

struct GapReport {
  // Only the first kGapsListedMax gaps are listed (a pathological file could
  // have millions); gap_count and missing_minutes always count all of them.
  static constexpr std::size_t kGapsListedMax = 1000;
  std::vector<Gap> gaps;
  std::int64_t gap_count = 0;
  std::int64_t missing_minutes = 0;
};

// Gaps between consecutive bars of one product. Precondition: `bars` are of
// one product and strictly increasing in open_ts_s. Gaps before the first and
// after the last bar are not reported (the range is the data's own).
GapReport find_gaps(std::span<const Bar> bars);

// "2018-04-04T16:48:00Z". Precondition: 0 <= ts_s <= kTimestampMax_s.
std::string format_utc(std::int64_t ts_s);

}  // namespace ta::agent
