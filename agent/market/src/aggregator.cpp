#include "market/aggregator.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>

namespace ta::agent {
namespace {

constexpr std::int64_t kTimeMax_us = kTimestampMax_s * kMicrosPerSecond;
constexpr std::int64_t kNoTime = std::numeric_limits<std::int64_t>::min();

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

bool positive_finite(double v) { return std::isfinite(v) && v > 0; }

// A broken internal invariant is a bug: stop instead of emitting wrong bars.
void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

BarAggregator::BarAggregator(ProductId product, AggregatorConfig config, BarSink sink)
    : product_(product),
      grace_us_(config.grace_ms * 1000),
      sink_(std::move(sink)),
      watermark_us_(kNoTime),
      closed_before_minute_(kNoTime) {
  if (product.empty()) throw std::invalid_argument("BarAggregator: empty product id");
  if (config.grace_ms < 0 || config.grace_ms > AggregatorConfig::grace_ms_max) {
    throw std::invalid_argument("BarAggregator: grace_ms must be in [0, 60000]");
  }
  if (!sink_) throw std::invalid_argument("BarAggregator: empty bar sink");
}

BarAggregator::IdCheck BarAggregator::check_id(std::uint64_t id) const {
  if (ids_count_ == 0) return IdCheck::kNew;
  const auto at = [&](std::size_t i) {  // i-th oldest remembered id
    return ids_[(ids_head_ + kTradeIdsRemembered - ids_count_ + i) % kTradeIdsRemembered];
  };
  const std::uint64_t newest = at(ids_count_ - 1);
  if (id > newest) return IdCheck::kNew;
  if (id == newest) return IdCheck::kDuplicate;
  // Remembered ids increase, so binary search the ring by logical index.
  std::size_t lo = 0;
  std::size_t hi = ids_count_;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (at(mid) < id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return (lo < ids_count_ && at(lo) == id) ? IdCheck::kDuplicate : IdCheck::kOutOfOrder;
}

void BarAggregator::remember_id(std::uint64_t id) {
  ids_[ids_head_] = id;
  ids_head_ = (ids_head_ + 1) % kTradeIdsRemembered;
  if (ids_count_ < kTradeIdsRemembered) ++ids_count_;
}

BarAggregator::Slot& BarAggregator::slot_for(std::int64_t minute) {
  Slot& slot = slots_[static_cast<std::size_t>(minute) % kSlots];
  // Open minutes are consecutive and at most kSlots, so a slot is either
  // free or already holds this minute.
  require(slot.minute == -1 || slot.minute == minute);
  if (slot.minute == -1) {
    slot = Slot{};
    slot.minute = minute;
  }
  return slot;
}

void BarAggregator::advance(std::int64_t now_us) {
  if (now_us <= watermark_us_) return;
  watermark_us_ = now_us;
  const std::int64_t closed_before = floor_div(now_us - grace_us_, kBarMicros);
  if (closed_before <= closed_before_minute_) return;
  closed_before_minute_ = closed_before;
  // Emit closed minutes oldest first.
  std::array<Slot*, kSlots> closing{};
  std::size_t n = 0;
  for (Slot& slot : slots_) {
    if (slot.minute != -1 && slot.minute < closed_before) closing[n++] = &slot;
  }
  std::sort(closing.begin(), closing.begin() + static_cast<std::ptrdiff_t>(n),
            [](const Slot* a, const Slot* b) { return a->minute < b->minute; });
  for (std::size_t i = 0; i < n; ++i) {
    Slot& slot = *closing[i];
    // A minute with only quotes makes no bar.
    const bool emit = slot.has_trade;
    const Bar bar = slot.bar;
    slot = Slot{};
    if (emit) {
      ++stats_.bars_emitted;
      sink_(bar);
    }
  }
}

void BarAggregator::add_trade(Slot& slot, const Trade& trade, std::int64_t minute) {
  Bar& bar = slot.bar;
  if (!slot.has_trade) {
    bar.product = product_;
    bar.open_ts_s = minute * kBarSeconds;
    bar.open = bar.high = bar.low = bar.close = trade.price;
    bar.volume = trade.size;
    slot.open_time_us = slot.close_time_us = trade.time_us;
    slot.has_trade = true;
    return;
  }
  bar.high = std::max(bar.high, trade.price);
  bar.low = std::min(bar.low, trade.price);
  bar.volume += trade.size;
  // Ties in match time keep arrival order: the earlier arrival stays the
  // open, the later one becomes the close.
  if (trade.time_us < slot.open_time_us) {
    slot.open_time_us = trade.time_us;
    bar.open = trade.price;
  }
  if (trade.time_us >= slot.close_time_us) {
    slot.close_time_us = trade.time_us;
    bar.close = trade.price;
  }
}

TradeOutcome BarAggregator::on_trade(const Trade& trade) {
  if (trade.product != product_) {
    ++stats_.wrong_product;
    return TradeOutcome::kWrongProduct;
  }
  if (!positive_finite(trade.price) || !positive_finite(trade.size) || trade.time_us < 0 ||
      trade.time_us > kTimeMax_us) {
    ++stats_.invalid;
    return TradeOutcome::kInvalid;
  }
  switch (check_id(trade.trade_id)) {
    case IdCheck::kNew:
      break;
    case IdCheck::kDuplicate:
      ++stats_.duplicates;
      return TradeOutcome::kDuplicate;
    case IdCheck::kOutOfOrder:
      ++stats_.out_of_order;
      return TradeOutcome::kOutOfOrder;
  }
  remember_id(trade.trade_id);
  const std::int64_t minute = trade.time_us / kBarMicros;
  if (closed_before_minute_ != kNoTime && minute < closed_before_minute_) {
    ++stats_.late_dropped;
    return TradeOutcome::kLateDropped;
  }
  const bool late = watermark_us_ != kNoTime && minute < watermark_us_ / kBarMicros;
  advance(trade.time_us);
  add_trade(slot_for(minute), trade, minute);
  ++stats_.accepted;
  if (late) {
    ++stats_.accepted_late;
    return TradeOutcome::kAcceptedLate;
  }
  return TradeOutcome::kAccepted;
}

QuoteOutcome BarAggregator::on_quote(std::int64_t time_us, Quote quote) {
  if (!positive_finite(quote.bid) || !positive_finite(quote.ask) || quote.bid > quote.ask ||
      time_us < 0 || time_us > kTimeMax_us) {
    ++stats_.quotes_dropped;
    return QuoteOutcome::kInvalid;
  }
  const std::int64_t minute = time_us / kBarMicros;
  if (closed_before_minute_ != kNoTime && minute < closed_before_minute_) {
    ++stats_.quotes_dropped;
    return QuoteOutcome::kLateDropped;
  }
  advance(time_us);
  Slot& slot = slot_for(minute);
  if (!slot.has_quote || time_us >= slot.quote_time_us) {
    slot.has_quote = true;
    slot.quote_time_us = time_us;
    slot.bar.quote = quote;
  }
  return QuoteOutcome::kAccepted;
}

void BarAggregator::on_clock(std::int64_t now_us) {
  if (now_us < 0 || now_us > kTimeMax_us) return;
  advance(now_us);
}

}  // namespace ta::agent
