// Trade -> 1-minute bar aggregation for one product.
//
// Time model. The aggregator keeps a watermark W: the latest time it has
// been told about, by a trade's match time, a quote's time or on_clock() (a
// heartbeat from the feed's clock). Minute m = [s, s + 60 s) is *closed* once
// W >= s + 60 s + grace; only then is its bar emitted. So a bar is never
// emitted before its minute is over (no look-ahead), and a trade that arrives
// late, but within the grace period, still lands in its own minute.
//
// Per trade, in this order:
//   1. wrong product, or price/size not finite and > 0, or time out of range
//      -> kInvalid / kWrongProduct (counted, skipped);
//   2. trade id equal to one already seen -> kDuplicate; lower than the
//      highest id seen but not seen -> kOutOfOrder (both counted, skipped;
//      ids are remembered for the last kTradeIdsRemembered trades, an older
//      replayed id counts as out of order);
//   3. its minute already closed -> kLateDropped (counted, skipped: an
//      emitted bar is never rewritten);
//   4. otherwise it is added to its minute's bar (kAccepted, or
//      kAcceptedLate when its minute is older than the watermark's minute).
// Open/close are the prices of the earliest/latest trade by match time (ties
// by arrival), so a late trade inside the grace period sets the open or
// close correctly. Minutes without trades produce no bar: gaps stay gaps.
//
// Quotes (top of book) attach to the bar of their minute, latest by time,
// when the minute also has trades; a quote alone makes no bar.
// The watermark trusts the venue's timestamps: one trade stamped far in the
// future would close every open minute early. Single-threaded.
#pragma once

#include <array>
#include <cstdint>
#include <functional>

#include "market/bar.h"

namespace ta::agent {

struct AggregatorConfig {
  // How long after a minute ends late trades are still accepted into it. It
  // delays every bar by this much, so keep it small. At most grace_ms_max:
  // beyond one minute the agent would act on bars older than the next bar.
  static constexpr std::int64_t grace_ms_max = 60'000;
  std::int64_t grace_ms = 2'000;
};

enum class TradeOutcome {
  kAccepted,
  kAcceptedLate,  // within the grace period of an earlier minute
  kDuplicate,
  kOutOfOrder,
  kLateDropped,
  kInvalid,
  kWrongProduct,
};

enum class QuoteOutcome {
  kAccepted,
  kLateDropped,  // its minute is closed
  kInvalid,      // not finite, not > 0, or bid > ask
};

struct AggregatorStats {
  std::uint64_t accepted = 0;  // includes accepted_late
  std::uint64_t accepted_late = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t late_dropped = 0;
  std::uint64_t invalid = 0;
  std::uint64_t wrong_product = 0;
  std::uint64_t quotes_dropped = 0;  // late or invalid
  std::uint64_t bars_emitted = 0;
};

class BarAggregator {
 public:
  // Trade ids remembered to tell duplicates from out-of-order trades: a
  // reconnect replays at most a few hundred recent trades; 4096 ids cost
  // 32 KiB per product.
  static constexpr std::size_t kTradeIdsRemembered = 4096;

  using BarSink = std::function<void(const Bar&)>;

  // Throws std::invalid_argument (start-up only) when product is empty,
  // grace_ms is outside [0, grace_ms_max] or sink is empty.
  BarAggregator(ProductId product, AggregatorConfig config, BarSink sink);

  // May emit bars of earlier minutes (through the sink) before returning.
  TradeOutcome on_trade(const Trade& trade);
  QuoteOutcome on_quote(std::int64_t time_us, Quote quote);
  // Heartbeat: the feed's clock says it is now `now_us`. Closes every minute
  // whose end + grace is <= now_us. A clock that goes backwards is ignored.
  void on_clock(std::int64_t now_us);

  const AggregatorStats& stats() const { return stats_; }
  ProductId product() const { return product_; }
  // The watermark in microseconds; INT64_MIN before the first event.
  std::int64_t watermark_us() const { return watermark_us_; }

 private:
  struct Slot {
    std::int64_t minute = -1;  // minute index (open_ts_s / 60); -1 = free
    bool has_trade = false;
    std::int64_t open_time_us = 0;
    std::int64_t close_time_us = 0;
    std::int64_t quote_time_us = 0;
    bool has_quote = false;
    Bar bar;
  };
  // Open minutes lie in [closed_before_minute_, watermark minute]; with
  // grace <= 60 s that is at most two minutes.
  static constexpr std::size_t kSlots = 2;

  enum class IdCheck { kNew, kDuplicate, kOutOfOrder };
  IdCheck check_id(std::uint64_t id) const;
  void remember_id(std::uint64_t id);
  void advance(std::int64_t now_us);
  Slot& slot_for(std::int64_t minute);
  void add_trade(Slot& slot, const Trade& trade, std::int64_t minute);

  ProductId product_;
  std::int64_t grace_us_;
  BarSink sink_;
  std::int64_t watermark_us_;
  std::int64_t closed_before_minute_;  // minutes below this are closed
  std::array<Slot, kSlots> slots_{};
  std::array<std::uint64_t, kTradeIdsRemembered> ids_{};  // ring, increasing
  std::size_t ids_count_ = 0;
  std::size_t ids_head_ = 0;  // next write position
  AggregatorStats stats_;
};

}  // namespace ta::agent
