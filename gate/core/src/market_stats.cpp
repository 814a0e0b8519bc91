// MarketStats: the sliding windows behind the market.* rule facts. The
// sums are exact integers, so adding a bar and later evicting it restores
// them exactly; the derived figures are computed from the sums when the
// snapshot is read (see market_stats.h for why).
#include "gate/market_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace ta::gate {
namespace {

constexpr Int128 kScale = Decimal::kScale;

Decimal saturate_units(Int128 v) {
  if (v > INT64_MAX) return Decimal::from_units(INT64_MAX);
  if (v < -INT64_MAX) return Decimal::from_units(-INT64_MAX);
  return Decimal::from_units(static_cast<std::int64_t>(v));
}

}  // namespace

std::int64_t integer_sqrt(Int128 v) {
  if (v <= 0) return 0;
  __extension__ typedef unsigned __int128 U;
  const U x = static_cast<U>(v);
  // An estimate from the floating-point square root, then corrected to the
  // exact floor in integers: the result never depends on the estimate's
  // accuracy, only the number of correction steps does. With x87 long
  // double (64-bit mantissa) the estimate is within one of the answer.
  U s = static_cast<U>(std::sqrt(static_cast<long double>(x)));
  if constexpr (std::numeric_limits<long double>::digits < 64) {
    if (s > 0) s = (s + x / s) / 2;  // one Newton step: close enough for the loops below
  }
  // floor(sqrt(2^127 - 1)) < 2^64, so (s + 1)^2 cannot overflow 128 bits
  // while s stays below 2^64.
  constexpr U kRootMax = (U{1} << 64) - 1;
  if (s > kRootMax) s = kRootMax;
  while (s * s > x) --s;
  while (s < kRootMax && (s + 1) * (s + 1) <= x) ++s;
  return s > static_cast<U>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(s);
}

void MarketStats::Window::add(const Entry& e) {
  volume += e.volume_units;
  if (!e.has_return) return;
  ++returns;
  sum += e.return_units;
  sum_squares += Int128{e.return_units} * e.return_units;
}

void MarketStats::Window::remove(const Entry& e) {
  volume -= e.volume_units;
  if (!e.has_return) return;
  --returns;
  sum -= e.return_units;
  sum_squares -= Int128{e.return_units} * e.return_units;
}

Decimal MarketStats::Window::volatility() const {
  if (returns < 2) return Decimal();
  const Int128 n = returns;
  // n * S2 - S1^2 >= 0 exactly (Cauchy-Schwarz), in 1e-16 units times n.
  const Int128 numerator = n * sum_squares - sum * sum;
  const Int128 variance = numerator / (n * (n - 1));  // 1e-16 units, rounded down
  return Decimal::from_units(integer_sqrt(variance));
}

void MarketStats::evict(std::int64_t latest_open_ts_ns) {
  while (count_ > 0 && (at(0).open_ts_ns <= latest_open_ts_ns - kMarketWindowLongNs || count_ > kMarketBarsMax)) {
    long_.remove(at(0));
    if (short_begin_ == 0) {
      short_.remove(at(0));
    } else {
      --short_begin_;
    }
    head_ = head_ + 1 == ring_.size() ? 0 : head_ + 1;
    --count_;
  }
  while (short_begin_ < count_ && at(short_begin_).open_ts_ns <= latest_open_ts_ns - kMarketWindowShortNs) {
    short_.remove(at(short_begin_));
    ++short_begin_;
  }
}

Status MarketStats::add_bar(const Bar& bar) {
  if (count_ > 0 && bar.open_ts_ns <= last_bar_open_ts_ns_) {
    return make_error("bar for " + bar.product + " at " + std::to_string(bar.open_ts_ns) +
                      " ns does not follow the previous bar at " + std::to_string(last_bar_open_ts_ns_) + " ns");
  }
  if (!bar.close.is_positive() || bar.volume.is_negative()) {
    return make_error("bar for " + bar.product + " has a non-positive close or a negative volume");
  }
  if (!bar.bid.is_zero() || !bar.ask.is_zero()) {
    Status q = set_quote(bar.bid, bar.ask, bar.open_ts_ns);
    if (!q) return q;
  }
  Entry e{bar.open_ts_ns, 0, false, bar.volume.units()};
  if (last_close_.is_positive()) {
    // r = (close - previous) / previous, half-even at 1e-8.
    const Int128 r = divide_rounded((Int128{bar.close.units()} - last_close_.units()) * kScale, last_close_.units(),
                                    Rounding::kHalfEven);
    e.return_units = static_cast<std::int64_t>(std::clamp<Int128>(r, -kReturnMaxUnits, kReturnMaxUnits));
    e.has_return = true;
  }
  last_close_ = bar.close;
  if (ring_.empty()) ring_.resize(kMarketBarsMax + 1);
  const std::size_t tail = head_ + count_;
  ring_[tail < ring_.size() ? tail : tail - ring_.size()] = e;
  ++count_;
  short_.add(e);
  long_.add(e);
  evict(bar.open_ts_ns);
  last_bar_open_ts_ns_ = bar.open_ts_ns;
  return {};
}

MarketSnapshot MarketStats::snapshot() const {
  MarketSnapshot s;
  s.spread = spread_;
  s.realized_vol_1h = short_.volatility();
  s.realized_vol_24h = long_.volatility();
  s.volume_1h = saturate_units(short_.volume);
  s.returns_1h = static_cast<std::size_t>(short_.returns);
  s.returns_24h = static_cast<std::size_t>(long_.returns);
  s.last_bar_open_ts_ns = last_bar_open_ts_ns_;
  s.quote_ts_ns = quote_ts_ns_;
  return s;
}

Status MarketStats::set_quote(Price bid, Price ask, std::int64_t ts_ns) {
  if (!bid.is_positive() || ask < bid) return make_error("quote needs 0 < bid <= ask");
  if (quote_ts_ns_ != 0 && ts_ns < quote_ts_ns_) return {};
  // (ask - bid) / ((ask + bid) / 2), rounded up: a rule never sees a spread
  // narrower than the real one.
  const Int128 numerator = (Int128{ask.units()} - bid.units()) * 2 * kScale;
  const Int128 denominator = Int128{ask.units()} + bid.units();
  spread_ = saturate_units(divide_rounded(numerator, denominator, Rounding::kCeiling));
  quote_ts_ns_ = ts_ns;
  quoted_ = true;
  return {};
}

}  // namespace ta::gate
