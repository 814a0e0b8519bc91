// Per-product market statistics that the gate computes itself from the
// bars of its own feed (in SIM, the replay bars the agent relays), for the
// rule facts market.spread, market.realized_vol_1h, market.realized_vol_24h
// and market.volume_1h (docs/rule-dsl.md, "Facts the gate supplies").
//
// Everything is integer arithmetic on Decimal units, so the same bars give
// the same figures in the backtester, SIM, PAPER and LIVE, on any machine:
//
// * Each bar after the first contributes one return
//     r = close / previous close - 1
//   rounded half-even to 1e-8 and clamped to +-kReturnMax (a bar that
//   multiplies the price by 100 is a broken feed, not a market move). A
//   gap between bars is not filled in: the next bar's return spans it.
// * The windows end at the latest bar: the 1 h window holds the bars that
//   opened less than one hour before the latest bar's open (60 one-minute
//   bars, the latest included), the 24 h window likewise (1440 bars), and
//   neither holds more than kMarketBarsMax entries.
// * Realized volatility over a window of n returns is their sample standard
//   deviation, sqrt((n * S2 - S1^2) / (n * (n - 1))) with S1 = sum of r and
//   S2 = sum of r^2, evaluated exactly in 128-bit integers (1e-16 units)
//   and rounded down to 1e-8 by an integer square root. Zero with fewer
//   than two returns. The sums are kept as exact integers, so sliding the
//   window never accumulates rounding drift.
// * Volume over a window is the sum of the bars' volumes (saturating).
// * Spread is (ask - bid) / mid of the latest quote, from a bar that
//   carries bid and ask or from set_quote(), rounded up to 1e-8; zero when
//   no quote has been seen (bars from candles without a book).
//
// Not thread-safe; one thread owns it (with its GateState).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gate/sim_venue.h"
#include "gate/time_units.h"
#include "proto/decimal.h"
#include "proto/result.h"

namespace ta::gate {

inline constexpr std::int64_t kMarketWindowShortNs = 3'600 * kNanosPerSecond;   // market.*_1h
inline constexpr std::int64_t kMarketWindowLongNs = 86'400 * kNanosPerSecond;   // market.*_24h
// Bars kept per product: one day of one-minute bars. Shorter bars fill it
// sooner; the 24 h window then covers the latest kMarketBarsMax bars only.
inline constexpr std::size_t kMarketBarsMax = 1'440;
// Largest |return| of one bar: 100 (10,000%). Keeps S2 far inside 128 bits
// (1440 x (1e10)^2 x 1440 < 2^127).
inline constexpr std::int64_t kReturnMaxUnits = 100 * Decimal::kScale;

struct MarketSnapshot {
  Decimal spread;            // ratio, rounded up; zero without a quote
  Decimal realized_vol_1h;   // ratio per bar, sample standard deviation
  Decimal realized_vol_24h;
  Quantity volume_1h;        // base units
  std::size_t returns_1h = 0;   // returns inside each window
  std::size_t returns_24h = 0;
  std::int64_t last_bar_open_ts_ns = 0;  // zero before the first bar
  std::int64_t quote_ts_ns = 0;          // zero before the first quote
};

class MarketStats {
 public:
  // Adds the next bar of this product. Refuses a bar that does not open
  // strictly after the previous one (duplicates, replays out of order) and
  // non-positive closes; on error nothing changes. A bar carrying bid and
  // ask also sets the quote (stamped with the bar's open time).
  Status add_bar(const Bar& bar);
  // A top-of-book quote from the gate's feed: 0 < bid <= ask. Quotes older
  // than the current one are ignored.
  Status set_quote(Price bid, Price ask, std::int64_t ts_ns);

  // The figures as of the latest bar and quote. The windows' sums are kept
  // up to date by add_bar(); the derived figures (the two volatilities: a
  // 128-bit division and square root each) are computed here, when read,
  // because a gate reads them only for intents that reach the rule stage
  // while it adds a bar every minute per product (and the backtester adds
  // hundreds of thousands). Pure: the same bars and quotes give the same
  // snapshot whenever it is read.
  MarketSnapshot snapshot() const;
  // Nothing added yet: no bar and no quote.
  bool empty() const { return count_ == 0 && !quoted_; }

 private:
  struct Entry {
    std::int64_t open_ts_ns;
    std::int64_t return_units;  // meaningful when has_return
    bool has_return;
    std::int64_t volume_units;
  };
  struct Window {
    std::int64_t returns = 0;
    Int128 sum = 0;         // S1, 1e-8 units
    Int128 sum_squares = 0; // S2, 1e-16 units
    Int128 volume = 0;      // 1e-8 units
    void add(const Entry& e);
    void remove(const Entry& e);
    Decimal volatility() const;
  };
  void evict(std::int64_t latest_open_ts_ns);
  // The i-th entry of the ring, oldest first (i < count_).
  const Entry& at(std::size_t i) const {
    const std::size_t k = head_ + i;
    return ring_[k < ring_.size() ? k : k - ring_.size()];
  }

  // The bars inside the 24 h window, oldest first, in a ring of
  // kMarketBarsMax + 1 entries (a bar is added before the oldest leaves),
  // allocated with the first bar.
  std::vector<Entry> ring_;
  std::size_t head_ = 0;         // index in ring_ of the oldest entry
  std::size_t count_ = 0;        // entries in the ring
  std::size_t short_begin_ = 0;  // first entry (0..count_) inside the 1 h window
  Window short_;
  Window long_;
  Price last_close_;
  std::int64_t last_bar_open_ts_ns_ = 0;  // zero before the first bar
  Decimal spread_;                        // of the latest quote
  std::int64_t quote_ts_ns_ = 0;          // zero before the first quote
  bool quoted_ = false;                   // a quote was set
};

// floor(sqrt(v)) for v >= 0 (negative v gives 0), exact; saturates at
// INT64_MAX.
std::int64_t integer_sqrt(Int128 v);

}  // namespace ta::gate
