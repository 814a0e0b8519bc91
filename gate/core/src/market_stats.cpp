// MarketStats: the sliding windows behind the market.* rule facts. The
// sums are exact integers, so adding a bar and later evicting it restores
// them exactly; the derived figures are recomputed on every change, which
// keeps decide() free of any arithmetic on the windows.
#include "gate/market_stats.h"

#include <algorithm>
#include <cstdint>

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
  U x = static_cast<U>(v);
  U result = 0;
  U bit = U{1} << 126;
  while (bit > x) bit >>= 2;
  // Digit-by-digit (base 4) square root: exact, no division, no floating point.
  while (bit != 0) {
    if (x >= result + bit) {
      x -= result + bit;
      result = (result >> 1) + bit;
    } else {
      result >>= 1;
    }
    bit >>= 2;
  }
  return result > static_cast<U>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(result);
}

void MarketStats::Window::add(const Entry& e, int sign) {
  volume += sign * Int128{e.volume_units};
  if (!e.has_return) return;
  returns += sign;
  sum += sign * Int128{e.return_units};
  sum_squares += sign * Int128{e.return_units} * e.return_units;
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
  while (!bars_.empty() &&
         (bars_.front().open_ts_ns <= latest_open_ts_ns - kMarketWindowLongNs || bars_.size() > kMarketBarsMax)) {
    long_.add(bars_.front(), -1);
    if (short_begin_ == 0) {
      short_.add(bars_.front(), -1);
    } else {
      --short_begin_;
    }
    bars_.pop_front();
  }
  while (short_begin_ < bars_.size() && bars_[short_begin_].open_ts_ns <= latest_open_ts_ns - kMarketWindowShortNs) {
    short_.add(bars_[short_begin_], -1);
    ++short_begin_;
  }
}

Status MarketStats::add_bar(const Bar& bar) {
  if (!bars_.empty() && bar.open_ts_ns <= bars_.back().open_ts_ns) {
    return make_error("bar for " + bar.product + " at " + std::to_string(bar.open_ts_ns) +
                      " ns does not follow the previous bar at " + std::to_string(bars_.back().open_ts_ns) + " ns");
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
  bars_.push_back(e);
  short_.add(e, 1);
  long_.add(e, 1);
  evict(bar.open_ts_ns);

  snapshot_.realized_vol_1h = short_.volatility();
  snapshot_.realized_vol_24h = long_.volatility();
  snapshot_.volume_1h = saturate_units(short_.volume);
  snapshot_.returns_1h = static_cast<std::size_t>(short_.returns);
  snapshot_.returns_24h = static_cast<std::size_t>(long_.returns);
  snapshot_.last_bar_open_ts_ns = bar.open_ts_ns;
  return {};
}

Status MarketStats::set_quote(Price bid, Price ask, std::int64_t ts_ns) {
  if (!bid.is_positive() || ask < bid) return make_error("quote needs 0 < bid <= ask");
  if (snapshot_.quote_ts_ns != 0 && ts_ns < snapshot_.quote_ts_ns) return {};
  // (ask - bid) / ((ask + bid) / 2), rounded up: a rule never sees a spread
  // narrower than the real one.
  const Int128 numerator = (Int128{ask.units()} - bid.units()) * 2 * kScale;
  const Int128 denominator = Int128{ask.units()} + bid.units();
  snapshot_.spread = saturate_units(divide_rounded(numerator, denominator, Rounding::kCeiling));
  snapshot_.quote_ts_ns = ts_ns;
  return {};
}

}  // namespace ta::gate
