#include "gate/sim_venue.h"

#include <algorithm>
#include <utility>

#include "exposure.h"
#include "gate/time_units.h"

namespace ta::gate {
namespace {

using detail::saturate;

constexpr Int128 kScale = Decimal::kScale;
constexpr Int128 kBpsDenominator = 10'000 * kScale;

// SplitMix64: a tiny, fully specified generator, so the same seed gives the
// same jitter on every platform and standard library. Each draw is seeded
// from the venue's seed and the order id (FNV-1a), so it does not depend on
// the draws before it.
std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform in [0, bound], without modulo bias (rejection sampling).
std::uint64_t uniform(std::uint64_t& state, std::uint64_t bound) {
  if (bound == UINT64_MAX) return splitmix64(state);
  const std::uint64_t n = bound + 1;
  const std::uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
  std::uint64_t v = splitmix64(state);
  while (v >= limit) v = splitmix64(state);
  return v % n;
}

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

Result<Decimal> parse_price(const std::string& text, const char* name, bool required) {
  if (text.empty()) {
    if (required) return make_error(std::string("bar ") + name + " is missing");
    return Decimal();
  }
  auto v = Decimal::parse(text);
  if (!v) return make_error(std::string("bar ") + name + ": " + v.error().message);
  return *v;
}

bool is_buy(const SimOrder& o) { return o.side == ipc::SIDE_BUY; }

}  // namespace

std::string_view to_string(VenueEventKind kind) {
  switch (kind) {
    case VenueEventKind::kAck:
      return "ack";
    case VenueEventKind::kReject:
      return "reject";
    case VenueEventKind::kFill:
      return "fill";
    case VenueEventKind::kCancelled:
      return "cancelled";
    case VenueEventKind::kExpired:
      return "expired";
    case VenueEventKind::kTriggered:
      return "triggered";
  }
  return "?";
}

Result<Bar> parse_bar(const ipc::Bar& in) {
  Bar b;
  b.product = in.product();
  if (b.product.empty()) return make_error("bar without product");
  constexpr std::int64_t kSecondsMax = INT64_MAX / kNanosPerSecond;
  if (in.open_ts_s() < 0 || in.open_ts_s() > kSecondsMax) return make_error("bar open_ts_s out of range");
  b.open_ts_ns = in.open_ts_s() * kNanosPerSecond;
  auto open = parse_price(in.open(), "open", true);
  auto high = parse_price(in.high(), "high", true);
  auto low = parse_price(in.low(), "low", true);
  auto close = parse_price(in.close(), "close", true);
  auto volume = parse_price(in.volume(), "volume", true);
  auto bid = parse_price(in.bid(), "bid", false);
  auto ask = parse_price(in.ask(), "ask", false);
  for (const auto* r : {&open, &high, &low, &close, &volume, &bid, &ask}) {
    if (!*r) return make_error(r->error().message);
  }
  b.open = *open;
  b.high = *high;
  b.low = *low;
  b.close = *close;
  b.volume = *volume;
  b.bid = *bid;
  b.ask = *ask;
  if (auto st = check_bar(b); !st) return st.error();
  return b;
}

ipc::Bar to_proto(const Bar& b) {
  ipc::Bar out;
  out.set_product(b.product);
  out.set_open_ts_s(b.open_ts_ns / kNanosPerSecond);
  out.set_open(b.open.to_string());
  out.set_high(b.high.to_string());
  out.set_low(b.low.to_string());
  out.set_close(b.close.to_string());
  out.set_volume(b.volume.to_string());
  if (!b.bid.is_zero()) out.set_bid(b.bid.to_string());
  if (!b.ask.is_zero()) out.set_ask(b.ask.to_string());
  return out;
}

Status check_bar(const Bar& b) {
  if (!b.low.is_positive() || b.low > b.open || b.low > b.close || b.high < b.open || b.high < b.close) {
    return make_error("bar prices are inconsistent (need 0 < low <= open, close <= high)");
  }
  if (b.volume.is_negative()) return make_error("bar volume is negative");
  if (b.bid.is_zero() != b.ask.is_zero()) return make_error("bar has only one of bid and ask");
  if (!b.bid.is_zero() && (!b.bid.is_positive() || b.bid > b.ask)) {
    return make_error("bar bid/ask are inconsistent (need 0 < bid <= ask)");
  }
  return {};
}

SimOrder to_sim_order(const Order& o) {
  SimOrder s;
  s.order_id = o.order_id;
  s.product = o.product;
  s.side = o.side;
  s.type = o.type;
  s.time_in_force = o.time_in_force;
  s.quantity = o.quantity;
  s.limit_price = o.limit_price;
  s.stop_price = o.stop_price;
  s.expire_ts_ns = o.expire_ts_ns;
  s.stop_limit_from_ns = o.type == ipc::ORDER_TYPE_STOP_LIMIT ? o.stop_limit_from_ns : -1;
  return s;
}

SimVenue::SimVenue(SimVenueConfig config, std::vector<ProductSpec> products)
    : config_(config), products_(std::move(products)) {
  for (const auto& p : products_) books_.push_back(Book{p.product, -1, Price(), Price(), {}});
}

const ProductSpec* SimVenue::spec(std::string_view product) const {
  for (const auto& p : products_) {
    if (p.product == product) return &p;
  }
  return nullptr;
}

std::int64_t SimVenue::latency_ns(std::string_view order_id, std::uint64_t salt) const {
  std::int64_t ms = config_.ack_latency_ms;
  if (config_.ack_latency_jitter_ms > 0) {
    std::uint64_t state = config_.seed ^ fnv1a(order_id) ^ (salt * 0x9e3779b97f4a7c15ull);
    ms += static_cast<std::int64_t>(uniform(state, static_cast<std::uint64_t>(config_.ack_latency_jitter_ms)));
  }
  return ms * kNanosPerMs;
}

const SimVenue::Book* SimVenue::book_of(std::string_view product) const {
  auto it = std::find_if(books_.begin(), books_.end(), [&](const Book& b) { return b.product == product; });
  return it == books_.end() ? nullptr : &*it;
}

SimVenue::Book* SimVenue::book_of(std::string_view product) {
  return const_cast<Book*>(std::as_const(*this).book_of(product));
}

Status SimVenue::restore(const Bar& bar) {
  Book* book = book_of(bar.product);
  if (book == nullptr) return make_error("bar for unknown product " + bar.product);
  if (bar.open_ts_ns <= book->last_open_ts_ns) {
    return make_error("bar for " + bar.product + " at " + std::to_string(bar.open_ts_ns) +
                      " ns is not newer than the last one");
  }
  book->last_open_ts_ns = bar.open_ts_ns;
  if (bar.bid.is_positive() && bar.ask.is_positive()) {
    book->bid = bar.bid;
    book->ask = bar.ask;
  }
  now_ns_ = std::max(now_ns_, bar.open_ts_ns + config_.bar_period_ms * kNanosPerMs);
  return {};
}

Status SimVenue::restore_filled(std::string_view product, std::int64_t bar_open_ts_ns, Quantity quantity) {
  Book* book = book_of(product);
  if (book == nullptr) return make_error("fills for unknown product " + std::string(product));
  if (bar_open_ts_ns <= book->last_open_ts_ns) {
    return make_error("fills for " + std::string(product) + " bar at " + std::to_string(bar_open_ts_ns) +
                      " ns, which is not newer than the last bar seen");
  }
  if (quantity.is_negative()) return make_error("filled quantity is negative");
  for (auto& [open, filled] : book->filled_before) {
    if (open != bar_open_ts_ns) continue;
    filled = Decimal::from_units(filled.units() + quantity.units());
    return {};
  }
  book->filled_before.emplace_back(bar_open_ts_ns, quantity);
  return {};
}

Status SimVenue::submit(const SimOrder& order) { return submit_at(order, now_ns_); }

Status SimVenue::submit_at(const SimOrder& order, std::int64_t submitted_ns) {
  for (const auto& r : orders_) {
    if (r.order.order_id == order.order_id) return make_error("order " + order.order_id + " is already at the venue");
  }
  if (orders_.size() >= kSimOrdersMax) {
    return make_error("the simulated venue holds " + std::to_string(kSimOrdersMax) + " orders already");
  }
  Resting r;
  r.order = order;
  r.arrival_ns = submitted_ns + latency_ns(order.order_id, 0);
  const ProductSpec* p = spec(order.product);
  const bool limit = order.type == ipc::ORDER_TYPE_LIMIT || order.type == ipc::ORDER_TYPE_STOP_LIMIT;
  if (p == nullptr) {
    r.reject_reason = "unknown product " + order.product;
  } else if (order.side != ipc::SIDE_BUY && order.side != ipc::SIDE_SELL) {
    r.reject_reason = "invalid side";
  } else if (order.type != ipc::ORDER_TYPE_MARKET && !limit) {
    r.reject_reason = "invalid order type";
  } else if (!order.quantity.is_positive() || !order.quantity.is_multiple_of(p->base_increment)) {
    r.reject_reason = "quantity must be a positive multiple of " + p->base_increment.to_string();
  } else if (limit && (!order.limit_price.is_positive() || !order.limit_price.is_multiple_of(p->quote_increment))) {
    r.reject_reason = "limit price must be a positive multiple of " + p->quote_increment.to_string();
  } else if (order.type == ipc::ORDER_TYPE_STOP_LIMIT &&
             (!order.stop_price.is_positive() || !order.stop_price.is_multiple_of(p->quote_increment))) {
    r.reject_reason = "stop price must be a positive multiple of " + p->quote_increment.to_string();
  } else if (order.time_in_force == ipc::TIME_IN_FORCE_GTD && order.expire_ts_ns <= 0) {
    r.reject_reason = "GTD needs an expiry";
  }
  // Handed back after a restart: a stop-limit whose stop was reached acts
  // as a limit order from when it did.
  if (order.type == ipc::ORDER_TYPE_STOP_LIMIT && order.stop_limit_from_ns >= 0) {
    r.triggered = true;
    r.limit_from_ns = order.stop_limit_from_ns;
  }
  // A limit order (or a triggered stop-limit) that acted as one on a bar
  // the venue has seen was worked on it then, so it is not marketable at
  // the next open any more; it only rests.
  const std::int64_t limit_from = order.type == ipc::ORDER_TYPE_LIMIT ? r.arrival_ns
                                  : r.triggered                       ? std::max(r.arrival_ns, r.limit_from_ns)
                                                                      : -1;
  if (const Book* book = book_of(order.product);
      book != nullptr && limit_from >= 0 && limit_from <= book->last_open_ts_ns) {
    r.had_limit_bar = true;
  }
  orders_.push_back(std::move(r));
  return {};
}

Status SimVenue::cancel(std::string_view order_id) { return cancel_at(order_id, now_ns_); }

Status SimVenue::cancel_at(std::string_view order_id, std::int64_t requested_ns) {
  for (auto& r : orders_) {
    if (r.order.order_id != order_id) continue;
    if (r.cancel_arrival_ns < 0) r.cancel_arrival_ns = requested_ns + latency_ns(order_id, 1);
    return {};
  }
  return make_error("the venue holds no order " + std::string(order_id));
}

Quantity SimVenue::fill_cap(const Resting& r, const BarWork& w) const {
  const Quantity remaining = Decimal::from_units(r.order.quantity.units() - r.filled.units());
  return std::min(remaining, w.volume_left);
}

// open x (1 + slip) for buys, open x (1 - slip) for sells, rounded to the
// quote increment against the trader.
Price SimVenue::slipped_open(const Resting& r, const BarWork& w, Quantity qty) const {
  Int128 half_spread = 0;  // fraction, in units
  if (w.book.bid.is_positive() && w.book.ask.is_positive()) {
    half_spread = divide_rounded(Int128{w.book.ask.units() - w.book.bid.units()} * kScale,
                                 Int128{w.book.ask.units()} + w.book.bid.units(), Rounding::kCeiling);
  } else {
    half_spread = divide_rounded(Int128{config_.default_spread_bps.units()} * kScale, 2 * kBpsDenominator,
                                 Rounding::kCeiling);
  }
  const Int128 impact = divide_rounded(Int128{config_.impact_coefficient.units()} * qty.units(), w.bar.volume.units(),
                                       Rounding::kCeiling);
  const Int128 slip = half_spread + impact;
  const Int128 open = w.bar.open.units();
  const Int128 inc = w.spec.quote_increment.units();
  if (is_buy(r.order)) {
    const Int128 raw = divide_rounded(open * (kScale + slip), kScale, Rounding::kCeiling);
    return saturate(divide_rounded(raw, inc, Rounding::kCeiling) * inc);
  }
  const Int128 factor = std::max<Int128>(kScale - slip, 0);
  const Int128 raw = divide_rounded(open * factor, kScale, Rounding::kFloor);
  return saturate(std::max(divide_rounded(raw, inc, Rounding::kFloor), Int128{1}) * inc);
}

void SimVenue::emit_fill(Resting& r, BarWork& w, std::int64_t ts_ns, Quantity qty, Price price, bool maker) {
  const Decimal bps = maker ? config_.fee_maker_bps : config_.fee_taker_bps;
  const Int128 notional = detail::mul_units(qty, price, Rounding::kCeiling);
  const Int128 fee = divide_rounded(notional * bps.units(), kBpsDenominator, Rounding::kCeiling);
  VenueEvent e;
  e.kind = VenueEventKind::kFill;
  e.order_id = r.order.order_id;
  e.ts_ns = ts_ns;
  e.quantity = qty;
  e.price = price;
  e.fee = saturate(fee);
  e.liquidity = maker ? ipc::LIQUIDITY_MAKER : ipc::LIQUIDITY_TAKER;
  w.out.push_back(std::move(e));
  r.filled = Decimal::from_units(r.filled.units() + qty.units());
  w.volume_left = Decimal::from_units(w.volume_left.units() - qty.units());
}

namespace {

VenueEvent simple_event(VenueEventKind kind, const std::string& order_id, std::int64_t ts_ns, std::string detail) {
  VenueEvent e;
  e.kind = kind;
  e.order_id = order_id;
  e.ts_ns = ts_ns;
  e.detail = std::move(detail);
  return e;
}

bool immediate(const SimOrder& o) {
  return o.time_in_force == ipc::TIME_IN_FORCE_IOC || o.time_in_force == ipc::TIME_IN_FORCE_FOK;
}

}  // namespace

// Handles a LIMIT order, or a triggered STOP_LIMIT acting as one. Returns
// true when the order is finished.
bool SimVenue::fill_as_limit(Resting& r, BarWork& w, bool arrival_bar) {
  const SimOrder& o = r.order;
  const bool buy = is_buy(o);
  const Price limit = o.limit_price;
  const std::int64_t open_ts = w.bar.open_ts_ns;
  r.had_limit_bar = true;
  if (arrival_bar) {
    const bool marketable = buy ? w.bar.open <= limit : w.bar.open >= limit;
    if (marketable) {
      Quantity qty = fill_cap(r, w);
      if (o.time_in_force == ipc::TIME_IN_FORCE_FOK && qty != o.quantity) qty = Quantity();
      if (qty.is_positive()) {
        const Price p = slipped_open(r, w, qty);
        emit_fill(r, w, open_ts, qty, buy ? std::min(p, limit) : std::max(p, limit), false);
      }
    }
    if (r.filled == o.quantity) return true;
    if (immediate(o)) {
      w.out.push_back(simple_event(VenueEventKind::kCancelled, o.order_id, open_ts,
                                   marketable ? "IOC/FOK remainder cancelled" : "IOC/FOK not marketable"));
      return true;
    }
  }
  // Resting at the limit: a trade through it fills us at the limit, as maker.
  const bool through = buy ? w.bar.low < limit : w.bar.high > limit;
  if (through) {
    const Quantity qty = fill_cap(r, w);
    if (qty.is_positive()) emit_fill(r, w, open_ts + config_.bar_period_ms * kNanosPerMs, qty, limit, true);
  }
  return r.filled == o.quantity;
}

bool SimVenue::work(Resting& r, BarWork& w) {
  const SimOrder& o = r.order;
  const std::int64_t open_ts = w.bar.open_ts_ns;
  const std::int64_t end_ts = open_ts + config_.bar_period_ms * kNanosPerMs;
  if (r.arrival_ns > end_ts) return false;  // still on its way
  if (!r.acked) {
    if (!r.reject_reason.empty()) {
      w.out.push_back(simple_event(VenueEventKind::kReject, o.order_id, r.arrival_ns, r.reject_reason));
      return true;
    }
    w.out.push_back(simple_event(VenueEventKind::kAck, o.order_id, r.arrival_ns, ""));
    r.acked = true;
  }
  if (r.arrival_ns > open_ts) return false;  // arrived inside this bar: trades from the next
  if (r.cancel_arrival_ns >= 0 && r.cancel_arrival_ns <= open_ts) {
    w.out.push_back(simple_event(VenueEventKind::kCancelled, o.order_id, open_ts, "cancelled on request"));
    return true;
  }
  if (o.time_in_force == ipc::TIME_IN_FORCE_GTD && o.expire_ts_ns <= open_ts) {
    w.out.push_back(simple_event(VenueEventKind::kExpired, o.order_id, open_ts, "GTD expiry reached"));
    return true;
  }
  if (o.type == ipc::ORDER_TYPE_MARKET) {
    Quantity qty = fill_cap(r, w);
    if (o.time_in_force == ipc::TIME_IN_FORCE_FOK && qty != o.quantity) qty = Quantity();
    if (qty.is_positive()) emit_fill(r, w, open_ts, qty, slipped_open(r, w, qty), false);
    if (r.filled == o.quantity) return true;
    if (immediate(o)) {
      w.out.push_back(simple_event(VenueEventKind::kCancelled, o.order_id, open_ts, "IOC/FOK remainder cancelled"));
      return true;
    }
    return false;
  }
  if (o.type == ipc::ORDER_TYPE_STOP_LIMIT && !r.triggered) {
    const bool buy = is_buy(o);
    const bool at_open = buy ? w.bar.open >= o.stop_price : w.bar.open <= o.stop_price;
    const bool in_bar = buy ? w.bar.high >= o.stop_price : w.bar.low <= o.stop_price;
    if (!in_bar) return false;
    r.triggered = true;
    r.limit_from_ns = at_open ? open_ts : end_ts;
    w.out.push_back(simple_event(VenueEventKind::kTriggered, o.order_id, r.limit_from_ns, "stop reached"));
  }
  // LIMIT, or a triggered STOP_LIMIT (submit() rejected every other type).
  if (open_ts < r.limit_from_ns) return false;
  return fill_as_limit(r, w, !r.had_limit_bar);
}

Result<std::vector<VenueEvent>> SimVenue::on_bar(const Bar& bar) {
  const ProductSpec* s = spec(bar.product);
  if (s == nullptr) return make_error("bar for unknown product " + bar.product);
  Book* book = book_of(bar.product);  // there is one per product spec
  if (bar.open_ts_ns <= book->last_open_ts_ns) {
    return make_error("bar for " + bar.product + " at " + std::to_string(bar.open_ts_ns) +
                      " ns is not newer than the last one");
  }
  if (bar.volume.is_negative()) return make_error("bar volume is negative");
  now_ns_ = std::max(now_ns_, bar.open_ts_ns + config_.bar_period_ms * kNanosPerMs);

  std::vector<VenueEvent> out;
  const Int128 cap = detail::mul_units(bar.volume, config_.fill_volume_fraction_max, Rounding::kFloor);
  const Int128 inc = s->base_increment.units();
  Int128 left = cap / inc * inc;
  // What a restart found already filled on this bar (restore_filled).
  std::erase_if(book->filled_before, [&](const auto& f) {
    if (f.first == bar.open_ts_ns) left = std::max<Int128>(0, left - f.second.units());
    return f.first <= bar.open_ts_ns;
  });
  const Book before = *book;  // the spread known before this bar
  BarWork w{bar, *s, before, saturate(left), out};
  // Orders are worked in submission order (they share the bar's fill cap)
  // and finished ones leave the book in the same pass.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < orders_.size(); ++i) {
    if (orders_[i].order.product == bar.product && work(orders_[i], w)) continue;
    if (kept != i) orders_[kept] = std::move(orders_[i]);
    ++kept;
  }
  orders_.resize(kept);

  book->last_open_ts_ns = bar.open_ts_ns;
  if (bar.bid.is_positive() && bar.ask.is_positive()) {
    book->bid = bar.bid;
    book->ask = bar.ask;
  }
  if (out.size() > 1) {
    std::stable_sort(out.begin(), out.end(),
                     [](const VenueEvent& a, const VenueEvent& b) { return a.ts_ns < b.ts_ns; });
  }
  return out;
}

}  // namespace ta::gate
