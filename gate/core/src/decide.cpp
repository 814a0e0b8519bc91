// decide(): the fixed sequence of checks described in gate/core.h. Each
// check is a short function from the Evaluation (the parsed intent plus the
// facts gathered once) to an optional Denial; decide() runs them in order
// and the first denial wins. The checks only read the Evaluation, except the
// rule stage, which may shrink the quantity and force reduce_only. Limits are compared exactly: amounts that are
// products of two decimals stay in 1e-16 units (128 bits, see exposure.h)
// and are compared without rounding; the rounded figures in a denial are for
// people (observed rounded up, allowed rounded down).
#include <algorithm>
#include <array>
#include <cstring>
#include <initializer_list>

#include "exposure.h"
#include "gate/core.h"

namespace ta::gate {
namespace {

using detail::abs128;
using detail::saturate;
using detail::wide;
using detail::wide_add;
using detail::wide_mul;

constexpr Int128 kScale = Decimal::kScale;
constexpr Int128 kBpsDenominator = 10'000 * kScale;  // 1 bp = 1/10000, in units
constexpr Decimal kFieldValueMax = Decimal::from_units(kFieldValueMaxWhole * Decimal::kScale);

struct Field {
  const char* name;
  Decimal value;
};

struct Denial {
  ipc::DenyReason reason = ipc::DENY_REASON_UNSPECIFIED;
  std::string detail;
  bool has_numbers = false;
  Decimal limit;
  Decimal observed;
  std::array<Field, 4> fields{};
  std::size_t field_count = 0;
};

// A count (open orders, orders per minute) as a Decimal for limit/observed.
Decimal count(std::size_t n) { return Decimal::from_units(static_cast<std::int64_t>(n) * Decimal::kScale); }
// Nanoseconds as a Decimal number of seconds: 1e-8 units of ns/10 are ns * 1e-9.
Decimal seconds(std::int64_t ns) { return Decimal::from_units(ns / 10); }

Denial deny(ipc::DenyReason reason, std::string detail) {
  Denial d;
  d.reason = reason;
  d.detail = std::move(detail);
  return d;
}

Denial deny(ipc::DenyReason reason, std::string detail, Decimal limit, Decimal observed,
            std::initializer_list<Field> fields) {
  Denial d = deny(reason, std::move(detail));
  d.has_numbers = true;
  d.limit = limit;
  d.observed = observed;
  for (const Field& f : fields) {
    if (d.field_count < d.fields.size()) d.fields[d.field_count++] = f;
  }
  return d;
}

// What stage 7 works with (see Evaluation::rule).
struct RuleStage {
  rules::Facts facts;
  rules::Outcome outcome;
  Quantity requested_quantity;   // the intent's quantity, before caps
  bool reduce_only_out = false;  // the final reduce_only flag
  bool rules_ran = false;        // outcome is meaningful
  bool rule_halt = false;
  bool held_now = false;         // the denial is HELD_FOR_APPROVAL
};

// The intent after field parsing plus every fact the checks look at.
struct Evaluation {
  Evaluation(const GateState& s, const ipc::OrderIntent& i, const DecisionContext& c) : state(s), intent(i), ctx(c) {}
  const GateState& state;
  const ipc::OrderIntent& intent;
  const DecisionContext& ctx;

  bool buy = false;
  Quantity quantity;
  Price limit_price;  // zero for market orders
  Price stop_price;   // zero unless stop-limit
  Price protective_stop;
  bool has_protective_stop = false;

  const ProductLimits* product = nullptr;
  const ReferencePrice* reference = nullptr;
  Quantity position;
  detail::OpenOrderTotals open;
  bool shrinks = false;
  Price price;               // limit price, else the reference price; zero if neither
  Int128 notional_wide = 0;  // quantity x price, exact (1e-16 units)

  const ipc::Decision* held = nullptr;  // approve_hold(): the held decision being released
  // Stage 7's working state, made when an intent gets that far (so the
  // earlier stages and replays do not pay for it). `quantity` above becomes
  // the capped quantity.
  std::optional<RuleStage> rule;
};

// Wide (1e-16) values back to decimals for denial reports.
Decimal up(Int128 wide_units) { return saturate(divide_rounded(wide_units, kScale, Rounding::kCeiling)); }
Decimal down(Int128 wide_units) { return saturate(divide_rounded(wide_units, kScale, Rounding::kFloor)); }

// ------------------------------------------------------------- 1. fields

// The characters allowed in ids and names: [A-Za-z0-9._:-].
constexpr std::array<bool, 256> kIdChars = [] {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (char c : {'-', '_', '.', ':'}) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool id_text_ok(std::string_view s, std::size_t length_max) {
  if (s.size() > length_max) return false;
  for (char c : s) {
    if (!kIdChars[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// Parses one decimal field that must be in (0, kFieldValueMax].
std::optional<Denial> parse_positive(const char* name, const std::string& text, Decimal& out) {
  auto v = Decimal::parse(text);
  if (!v) return deny(ipc::DENY_REASON_MALFORMED, std::string(name) + ": " + v.error().message);
  if (!v->is_positive()) {
    return deny(ipc::DENY_REASON_FIELD_RANGE, std::string(name) + " must be positive, got " + v->to_string(),
                Decimal(), *v, {});
  }
  if (*v > kFieldValueMax) {
    return deny(ipc::DENY_REASON_FIELD_RANGE, std::string(name) + " " + v->to_string() + " is absurd (above " +
                                                  kFieldValueMax.to_string() + ")",
                kFieldValueMax, *v, {});
  }
  out = *v;
  return std::nullopt;
}

[[gnu::always_inline]] inline std::optional<Denial> check_fields(Evaluation& ev) {
  const ipc::OrderIntent& in = ev.intent;
  if (in.intent_id().empty() || !id_text_ok(in.intent_id(), kIntentIdLengthMax)) {
    return deny(ipc::DENY_REASON_MALFORMED, "intent_id must be 1 to 64 characters of [A-Za-z0-9._:-]");
  }
  if (!id_text_ok(in.strategy(), kStrategyLengthMax)) {
    return deny(ipc::DENY_REASON_MALFORMED, "strategy must be at most 64 characters of [A-Za-z0-9._:-]");
  }
  if (in.product().empty() || !id_text_ok(in.product(), kProductLengthMax)) {
    return deny(ipc::DENY_REASON_MALFORMED, "product must be 1 to 32 characters of [A-Za-z0-9._:-]");
  }
  if (in.side() != ipc::SIDE_BUY && in.side() != ipc::SIDE_SELL) {
    return deny(ipc::DENY_REASON_MALFORMED, "side must be BUY or SELL");
  }
  ev.buy = in.side() == ipc::SIDE_BUY;
  const ipc::OrderType type = in.type();
  if (type != ipc::ORDER_TYPE_MARKET && type != ipc::ORDER_TYPE_LIMIT && type != ipc::ORDER_TYPE_STOP_LIMIT) {
    return deny(ipc::DENY_REASON_MALFORMED, "type must be MARKET, LIMIT or STOP_LIMIT");
  }
  const ipc::TimeInForce tif = in.time_in_force();
  if (tif != ipc::TIME_IN_FORCE_GTC && tif != ipc::TIME_IN_FORCE_IOC && tif != ipc::TIME_IN_FORCE_FOK &&
      tif != ipc::TIME_IN_FORCE_GTD) {
    return deny(ipc::DENY_REASON_MALFORMED, "time_in_force must be GTC, IOC, FOK or GTD");
  }
  if (auto d = parse_positive("quantity", in.quantity(), ev.quantity)) return d;

  const bool wants_limit = type != ipc::ORDER_TYPE_MARKET;
  if (wants_limit == in.limit_price().empty()) {
    return deny(ipc::DENY_REASON_MALFORMED, wants_limit ? "limit_price is required for LIMIT and STOP_LIMIT"
                                                        : "limit_price must be empty for MARKET");
  }
  if (wants_limit) {
    if (auto d = parse_positive("limit_price", in.limit_price(), ev.limit_price)) return d;
  }
  const bool wants_stop = type == ipc::ORDER_TYPE_STOP_LIMIT;
  if (wants_stop == in.stop_price().empty()) {
    return deny(ipc::DENY_REASON_MALFORMED, wants_stop ? "stop_price is required for STOP_LIMIT"
                                                       : "stop_price is only for STOP_LIMIT");
  }
  if (wants_stop) {
    if (auto d = parse_positive("stop_price", in.stop_price(), ev.stop_price)) return d;
  }
  if (!in.protective_stop_price().empty()) {
    if (auto d = parse_positive("protective_stop_price", in.protective_stop_price(), ev.protective_stop)) return d;
    ev.has_protective_stop = true;
  }
  if (tif == ipc::TIME_IN_FORCE_GTD) {
    if (in.expire_ts_ns() <= ev.ctx.now_ns) {
      return deny(ipc::DENY_REASON_FIELD_RANGE, "GTD expire_ts_ns must be in the future");
    }
  } else if (in.expire_ts_ns() != 0) {
    return deny(ipc::DENY_REASON_MALFORMED, "expire_ts_ns is only for GTD");
  }
  return std::nullopt;
}

// --------------------------------------------------- 2. peer, 3. readiness

std::optional<Denial> check_peer(const Evaluation& ev) {
  if (ev.ctx.peer_allowed) return std::nullopt;
  return deny(ipc::DENY_REASON_PEER_NOT_ALLOWED, "peer is not in the gate socket's allow-list");
}

std::optional<Denial> check_readiness(const Evaluation& ev) {
  if (ev.state.ready()) return std::nullopt;
  return deny(ipc::DENY_REASON_NOT_READY, "the gate is still recovering");
}

// -------------------------------------------------------------- facts

void gather(Evaluation& ev) {
  const GateState& s = ev.state;
  ev.product = s.limits().find(ev.intent.product());
  for (const ReferencePrice& r : ev.ctx.reference_prices) {
    if (r.product == ev.intent.product()) {
      ev.reference = &r;
      break;
    }
  }
  ev.position = s.ledger().position_quantity(ev.intent.product());
  ev.open = detail::open_order_totals(s, ev.intent.product(), ev.intent.side());
  ev.shrinks = detail::order_shrinks(ev.position, ev.intent.side(), ev.quantity, ev.open.same_side);
  if (!ev.limit_price.is_zero()) {
    ev.price = ev.limit_price;
  } else if (ev.reference != nullptr) {
    ev.price = ev.reference->price;
  }
  ev.notional_wide = wide(ev.quantity, ev.price);
}

// ----------------------------------------------------------- 5. halt state

// The most an order on this side could shrink the position by: |position|
// less other open orders on the same side, or zero when the side does not
// oppose the position.
Decimal reducible(const Evaluation& ev) {
  const bool opposite = ev.buy ? ev.position.is_negative() : ev.position.is_positive();
  if (!opposite) return Decimal();
  return saturate(std::max<Int128>(abs128(ev.position.units()) - ev.open.same_side, 0));
}

std::optional<Denial> check_halt(const Evaluation& ev) {
  const HaltMachine& h = ev.state.halt();
  switch (h.state()) {
    case HaltState::kKilled:
      return deny(ipc::DENY_REASON_KILLED, "the gate is KILLED; an operator must resume it");
    case HaltState::kHalted:
      if (h.in_cooldown(ev.ctx.now_ns)) {
        return deny(ipc::DENY_REASON_COOLDOWN, "daily loss cooldown (limit: its end, observed: now; epoch seconds)",
                    seconds(h.cooldown_until_ns()), seconds(ev.ctx.now_ns), {});
      }
      return deny(ipc::DENY_REASON_HALTED, "the gate is HALTED (" + std::string(to_string(h.cause())) + ")");
    case HaltState::kReducing:
      if (!ev.shrinks) {
        return deny(ipc::DENY_REASON_REDUCING_ONLY, "the gate is REDUCING and this order does not shrink the position",
                    reducible(ev), ev.quantity, {{"position", ev.position}});
      }
      break;
    case HaltState::kActive:
      break;
  }
  if (ev.intent.reduce_only() && !ev.shrinks) {
    return deny(ipc::DENY_REASON_REDUCING_ONLY, "reduce_only order does not shrink the position", reducible(ev),
                ev.quantity, {{"position", ev.position}});
  }
  return std::nullopt;
}

// ---------------------------------------------------------- 6. hard limits

std::optional<Denial> check_daily_loss(const Evaluation& ev) {
  const Ledger& l = ev.state.ledger();
  // A ledger that has not seen today yet has lost nothing today.
  if (ev.shrinks || l.day() != utc_day(ev.ctx.now_ns)) return std::nullopt;
  const Decimal fraction = ev.state.limits().daily_loss_fraction_max;
  if (!l.daily_loss_breached(fraction)) return std::nullopt;
  const Int128 loss = Int128{l.day_peak_equity().units()} - l.equity().units();
  return deny(ipc::DENY_REASON_DAILY_LOSS_LIMIT, "today's loss is beyond the daily loss limit; only reducing orders",
              down(wide(l.day_peak_equity(), fraction)), saturate(loss),
              {{"day_peak_equity", l.day_peak_equity()}, {"equity", l.equity()}});
}

std::optional<Denial> check_product(const Evaluation& ev) {
  if (ev.product != nullptr) return std::nullopt;
  return deny(ipc::DENY_REASON_PRODUCT_NOT_ALLOWED, "product " + ev.intent.product() + " is not in safety.yaml");
}

std::optional<Denial> check_size(const Evaluation& ev) {
  const ProductLimits& p = *ev.product;
  if (ev.quantity < p.size_min) {
    return deny(ipc::DENY_REASON_SIZE_BELOW_MIN, "quantity below size_min", p.size_min, ev.quantity, {});
  }
  if (ev.quantity > p.size_max) {
    return deny(ipc::DENY_REASON_SIZE_ABOVE_MAX, "quantity above size_max", p.size_max, ev.quantity, {});
  }
  if (!ev.quantity.is_multiple_of(p.size_increment)) {
    return deny(ipc::DENY_REASON_SIZE_INCREMENT, "quantity is not a multiple of size_increment", p.size_increment,
                ev.quantity, {});
  }
  return std::nullopt;
}

std::optional<Denial> check_price_increment(const Evaluation& ev) {
  const Price inc = ev.product->price_increment;
  if (!ev.limit_price.is_zero() && !ev.limit_price.is_multiple_of(inc)) {
    return deny(ipc::DENY_REASON_PRICE_INCREMENT, "limit_price is not a multiple of price_increment", inc,
                ev.limit_price, {});
  }
  if (!ev.stop_price.is_zero() && !ev.stop_price.is_multiple_of(inc)) {
    return deny(ipc::DENY_REASON_PRICE_INCREMENT, "stop_price is not a multiple of price_increment", inc,
                ev.stop_price, {});
  }
  return std::nullopt;
}

std::optional<Denial> check_reference(const Evaluation& ev) {
  if (ev.reference == nullptr || !ev.reference->price.is_positive() || ev.reference->price > kFieldValueMax) {
    return deny(ipc::DENY_REASON_NO_REFERENCE_PRICE, "no usable reference price for " + ev.intent.product());
  }
  const std::int64_t age_ns = ev.ctx.now_ns - ev.reference->ts_ns;
  const std::int64_t age_max_ns = ev.state.limits().reference_price_age_max_ms * kNanosPerMs;
  if (age_ns > age_max_ns) {
    return deny(ipc::DENY_REASON_NO_REFERENCE_PRICE, "reference price is stale (age in seconds)", seconds(age_max_ns),
                seconds(age_ns), {});
  }
  return std::nullopt;
}

std::optional<Denial> check_price_band(const Evaluation& ev) {
  if (ev.limit_price.is_zero()) return std::nullopt;  // market orders trade at the reference
  const Price ref = ev.reference->price;
  const Decimal band = ev.state.limits().price_band_bps;
  // |limit - ref| / ref * 10000 > band  <=>  |limit - ref| * 10000 * scale > band * ref (all in units).
  const Int128 diff = abs128(Int128{ev.limit_price.units()} - ref.units());
  if (diff * 10'000 * kScale <= Int128{band.units()} * ref.units()) return std::nullopt;
  const Int128 observed_bps = divide_rounded(diff * 10'000 * kScale, ref.units(), Rounding::kCeiling);
  return deny(ipc::DENY_REASON_PRICE_BAND, "limit_price is too far from the reference price (bps)", band,
              saturate(observed_bps), {{"reference_price", ref}, {"limit_price", ev.limit_price}});
}

std::optional<Denial> check_notional(const Evaluation& ev) {
  const Notional max = ev.state.limits().order_notional_max;
  if (ev.notional_wide <= Int128{max.units()} * kScale) return std::nullopt;
  return deny(ipc::DENY_REASON_NOTIONAL_ABOVE_MAX, "order notional above order_notional_max", max,
              up(ev.notional_wide), {{"price", ev.price}});
}

// Position after this order and every open growing order of the product
// fill, valued at the reference price, against a fraction of equity.
std::optional<Denial> check_position(const Evaluation& ev) {
  if (ev.shrinks) return std::nullopt;
  const Price ref = ev.reference->price;
  const Int128 qty = abs128(ev.position.units()) + ev.open.growing_this_product + ev.quantity.units();
  const Int128 value = wide_mul(qty, ref.units());
  const Int128 allowed = wide(ev.state.ledger().equity(), ev.state.limits().position_fraction_max);
  if (value <= allowed) return std::nullopt;
  return deny(ipc::DENY_REASON_POSITION_ABOVE_MAX, "position value after this order above position_fraction_max of equity",
              down(allowed), up(value),
              {{"equity", ev.state.ledger().equity()}, {"reference_price", ref}, {"position_quantity_after", saturate(qty)}});
}

// Sum of every position's value plus every open growing order plus this one.
std::optional<Denial> check_gross_exposure(const Evaluation& ev) {
  if (ev.shrinks) return std::nullopt;
  const Price ref = ev.reference->price;
  Int128 gross = ev.open.growing_other_wide;
  for (const Position& p : ev.state.ledger().positions()) {
    const Price price = p.product == ev.intent.product() ? ref : p.mark_price;
    gross = wide_add(gross, wide(p.quantity.abs(), price));
  }
  gross = wide_add(gross, wide_mul(ev.open.growing_this_product + ev.quantity.units(), ref.units()));
  const Int128 allowed = wide(ev.state.ledger().equity(), ev.state.limits().gross_exposure_fraction_max);
  if (gross <= allowed) return std::nullopt;
  return deny(ipc::DENY_REASON_GROSS_EXPOSURE_ABOVE_MAX, "gross exposure after this order above gross_exposure_fraction_max of equity",
              down(allowed), up(gross), {{"equity", ev.state.ledger().equity()}});
}

// Loss if the protective stop is hit: |entry - stop| x quantity.
std::optional<Denial> check_risk(const Evaluation& ev) {
  if (ev.shrinks) return std::nullopt;
  if (!ev.has_protective_stop) {
    return deny(ipc::DENY_REASON_STOP_REQUIRED, "an order that opens or grows a position needs protective_stop_price");
  }
  if (ev.buy ? ev.protective_stop >= ev.price : ev.protective_stop <= ev.price) {
    return deny(ipc::DENY_REASON_FIELD_RANGE,
                ev.buy ? "protective_stop_price must be below the entry price for a buy"
                       : "protective_stop_price must be above the entry price for a sell",
                ev.price, ev.protective_stop, {});
  }
  const Int128 distance = abs128(Int128{ev.price.units()} - ev.protective_stop.units());
  const Int128 risk = wide_mul(distance, ev.quantity.units());
  const Int128 allowed = wide(ev.state.ledger().equity(), ev.state.limits().risk_per_trade_fraction_max);
  if (risk <= allowed) return std::nullopt;
  return deny(ipc::DENY_REASON_RISK_PER_TRADE_ABOVE_MAX, "risk to the protective stop above risk_per_trade_fraction_max of equity",
              down(allowed), up(risk),
              {{"equity", ev.state.ledger().equity()}, {"entry_price", ev.price}, {"protective_stop_price", ev.protective_stop}});
}

std::optional<Denial> check_open_orders(const Evaluation& ev) {
  const std::uint32_t max = ev.state.limits().open_orders_max;
  if (ev.open.count + 1 <= max) return std::nullopt;
  return deny(ipc::DENY_REASON_OPEN_ORDERS_ABOVE_MAX, "open orders would exceed open_orders_max", count(max),
              count(ev.open.count + 1), {});
}

// Spot: a buy needs cash for its notional plus the fee reserve, on top of
// what open buys already hold; a sell needs base not already promised to
// open sells.
std::optional<Denial> check_funds(const Evaluation& ev) {
  if (ev.buy) {
    // (this order + open buys) x (1 + fee_reserve_bps / 10000), rounded up
    // once. Sums that no cash can cover (beyond 2^80 units) stay huge.
    const Int128 total = divide_rounded(wide_add(ev.notional_wide, ev.open.buys_wide), kScale, Rounding::kCeiling);
    const Int128 factor = kBpsDenominator + ev.state.limits().fee_reserve_bps.units();
    const Int128 need = total > (Int128{1} << 80) ? detail::kWideCap
                                                   : divide_rounded(total * factor, kBpsDenominator, Rounding::kCeiling);
    const Notional cash = ev.state.ledger().cash();
    if (need <= cash.units()) return std::nullopt;
    return deny(ipc::DENY_REASON_INSUFFICIENT_FUNDS, "cash does not cover this buy and open buys plus the fee reserve",
                cash, saturate(need), {{"cash", cash}});
  }
  const Int128 available = Int128{ev.position.units()} - ev.open.sells;
  if (ev.quantity.units() <= available) return std::nullopt;
  return deny(ipc::DENY_REASON_INSUFFICIENT_FUNDS, "position (less open sells) does not cover the sell quantity",
              saturate(available), ev.quantity, {{"position", ev.position}});
}

// ------------------------------------------------------------------ 7. rules

rules::Side to_rules(ipc::Side side) { return side == ipc::SIDE_SELL ? rules::Side::kSell : rules::Side::kBuy; }

rules::OrderType to_rules(ipc::OrderType type) {
  switch (type) {
    case ipc::ORDER_TYPE_LIMIT: return rules::OrderType::kLimit;
    case ipc::ORDER_TYPE_STOP_LIMIT: return rules::OrderType::kStopLimit;
    default: return rules::OrderType::kMarket;  // stage 1 allows only the three
  }
}

// Floor modulo, for times before the epoch.
std::int64_t floor_mod(std::int64_t a, std::int64_t b) {
  const std::int64_t m = a % b;
  return m < 0 ? m + b : m;
}

std::int64_t count_since(const std::deque<std::int64_t>& times_ns, std::int64_t after_ns) {
  std::int64_t n = 0;
  for (auto it = times_ns.rbegin(); it != times_ns.rend() && *it > after_ns; ++it) ++n;
  return n;
}

// Every fact a rule may read (docs/rule-dsl.md, "Facts the gate supplies"),
// from the state, the parsed intent and the context.
void gather_rule_facts(Evaluation& ev) {
  rules::Facts& f = ev.rule.emplace().facts;
  const GateState& s = ev.state;
  const Ledger& l = s.ledger();
  const std::int64_t now = ev.ctx.now_ns;

  f.order.product = ev.intent.product();
  f.order.side = to_rules(ev.intent.side());
  f.order.type = to_rules(ev.intent.type());
  f.order.quantity = ev.quantity;
  f.order.price = ev.price;
  f.order.notional = saturate(divide_rounded(ev.notional_wide, kScale, Rounding::kHalfEven));
  f.order.reduce_only = ev.intent.reduce_only() || s.halt().state() == HaltState::kReducing;
  f.order.strategy = ev.intent.strategy();

  if (const Position* p = l.find(ev.intent.product())) {
    f.position.quantity = p->quantity;
    f.position.notional = p->market_value();
    f.position.average_cost = p->average_cost();
    f.position.unrealized_pnl = p->unrealized_pnl();
  }

  f.account.equity = l.equity();
  f.account.cash = l.cash();
  f.account.gross_exposure = l.gross_exposure();
  f.account.daily_pnl = l.day() == utc_day(now) ? l.daily_pnl() : Decimal();  // nothing happened today yet
  f.account.drawdown = l.drawdown_fraction();

  f.market.reference_price = ev.reference->price;
  if (const MarketStats* m = s.market_stats(ev.intent.product())) {
    const MarketSnapshot& snap = m->snapshot();
    f.market.spread = snap.spread;
    f.market.realized_vol_1h = snap.realized_vol_1h;
    f.market.realized_vol_24h = snap.realized_vol_24h;
    f.market.volume_1h = snap.volume_1h;
  }

  f.time.utc_hour = floor_mod(now, kNanosPerDay) / (3'600 * kNanosPerSecond);
  f.time.weekday = static_cast<rules::Weekday>(floor_mod(utc_day(now) + 3, 7));  // 1970-01-01 was a Thursday
  const TradeStats& t = s.trade_stats();
  f.time.since_last_stop_out_s =
      !t.stopped_out ? rules::kNeverStoppedOut_s
                     : std::min(std::max<std::int64_t>(now - t.last_stop_out_ts_ns, 0) / kNanosPerSecond,
                                rules::kNeverStoppedOut_s);

  f.stats.orders_last_minute = count_since(s.recent_intent_times_ns(), now - kRateWindowNs);
  f.stats.consecutive_losses = t.consecutive_losses;
  f.stats.fills_today = t.fills_day == utc_day(now) ? t.fills_in_day : 0;
}

// Applies the rules' caps: the smallest of the order, the quantity cap and
// the notional cap over the order's price, rounded down to the size
// increment. A result below size_min denies.
std::optional<Denial> apply_caps(Evaluation& ev) {
  const rules::Outcome& o = ev.rule->outcome;
  Int128 q = ev.quantity.units();
  if (o.quantity_cap && o.quantity_cap->units() < q) q = o.quantity_cap->units();
  if (o.notional_cap && ev.price.is_positive()) {
    const Int128 by_notional = divide_rounded(Int128{o.notional_cap->units()} * kScale, ev.price.units(), Rounding::kFloor);
    q = std::min(q, by_notional);
  }
  if (ev.held != nullptr) {  // a released hold never grows beyond what was approved
    auto held_quantity = Decimal::parse(ev.held->quantity());
    if (held_quantity && held_quantity->units() < q) q = held_quantity->units();
  }
  if (q >= ev.quantity.units()) return std::nullopt;
  const Int128 inc = ev.product->size_increment.units();
  q = q <= 0 ? 0 : q / inc * inc;  // q < quantity, so it fits in int64
  const Quantity capped = Decimal::from_units(static_cast<std::int64_t>(q));
  if (capped < ev.product->size_min) {
    return deny(ipc::DENY_REASON_RULE, "rule caps leave a quantity below size_min", ev.product->size_min, capped,
                {{"requested_quantity", ev.quantity},
                 {"quantity_cap", o.quantity_cap.value_or(Decimal())},
                 {"notional_cap", o.notional_cap.value_or(Decimal())},
                 {"order_price", ev.price}});
  }
  ev.quantity = capped;
  ev.notional_wide = wide(ev.quantity, ev.price);
  return std::nullopt;
}

std::optional<Denial> apply_rules(Evaluation& ev) {
  const rules::RuleSet* rs = ev.ctx.rules;
  if (rs == nullptr) return std::nullopt;  // no rule set: no stage 7 at all
  gather_rule_facts(ev);
  RuleStage& stage = *ev.rule;
  stage.requested_quantity = ev.quantity;
  stage.reduce_only_out = stage.facts.order.reduce_only;
  rs->evaluate(stage.facts, stage.outcome);
  stage.rules_ran = true;
  const rules::Outcome& o = stage.outcome;
  switch (o.verdict) {
    case rules::Verdict::kHalt:
      stage.rule_halt = true;
      return deny(ipc::DENY_REASON_RULE, rs->reason(o));
    case rules::Verdict::kDeny:
      return deny(ipc::DENY_REASON_RULE, rs->reason(o));
    case rules::Verdict::kHold:
    case rules::Verdict::kAllow:
      break;
  }
  if (auto d = apply_caps(ev)) return d;
  const bool forced = o.force_reduce_only || (ev.held != nullptr && ev.held->reduce_only());
  if (forced) {
    stage.reduce_only_out = true;
    // Checked as a reduce-only order, with the quantity after caps.
    ev.shrinks = detail::order_shrinks(ev.position, ev.intent.side(), ev.quantity, ev.open.same_side);
    if (!ev.shrinks) {
      return deny(ipc::DENY_REASON_RULE, "a rule forces reduce_only and this order does not shrink the position",
                  reducible(ev), ev.quantity, {{"position", ev.position}});
    }
  }
  if (o.verdict == rules::Verdict::kHold && ev.held == nullptr) {
    const std::size_t pending = ev.state.pending_holds().size();
    const std::size_t max = ev.state.bounds().pending_holds_max;
    if (pending >= max) {
      return deny(ipc::DENY_REASON_RULE, rs->reason(o) + "; but the holds are full, so it is denied", count(max),
                  count(pending + 1), {});
    }
    stage.held_now = true;
    return deny(ipc::DENY_REASON_HELD_FOR_APPROVAL, rs->reason(o));
  }
  return std::nullopt;
}

// ------------------------------------------------------------------ 8. rate

std::optional<Denial> check_rate(const Evaluation& ev) {
  const auto& times = ev.state.accepted_times_ns();
  std::size_t recent = 0;
  for (auto it = times.rbegin(); it != times.rend() && *it > ev.ctx.now_ns - kRateWindowNs; ++it) ++recent;
  const std::uint32_t max = ev.state.limits().order_rate_per_minute_max;
  if (recent + 1 <= max) return std::nullopt;
  return deny(ipc::DENY_REASON_ORDER_RATE_ABOVE_MAX, "accepted orders in the last 60 s would exceed order_rate_per_minute_max",
              count(max), count(recent + 1), {});
}

// The checks after idempotency, in order. Adding a stage is adding a line.
// A stage takes the Evaluation mutably; read<F> marks the checks that only
// read it (all but the rule stage).
using Stage = std::optional<Denial> (*)(Evaluation&);
template <std::optional<Denial> (*Check)(const Evaluation&)>
std::optional<Denial> read(Evaluation& ev) {
  return Check(ev);
}
constexpr Stage kStages[] = {
    read<check_halt>,             // 5. halt state, REDUCING, reduce_only
    read<check_daily_loss>,       // 6. hard limits (safety.yaml) ...
    read<check_product>,
    read<check_size>,
    read<check_price_increment>,
    read<check_reference>,
    read<check_price_band>,
    read<check_notional>,
    read<check_position>,
    read<check_gross_exposure>,
    read<check_risk>,
    read<check_open_orders>,
    read<check_funds>,            // ... end of the hard limits
    apply_rules,                  // 7. the rule DSL: may cap and force reduce_only
    read<check_rate>,             // 8. rate
};

// Fills `out` (fresh) in place: a protobuf message is cheaper to fill where
// it lives than to build elsewhere and copy or move.
void to_decision(const ipc::OrderIntent& intent, const DecisionContext& ctx, const Denial& d, ipc::Decision& out) {
  out.set_intent_id(intent.intent_id());
  out.set_accepted(false);
  out.set_reason(d.reason);
  out.set_detail(d.detail);
  if (d.has_numbers) {
    out.set_limit(d.limit.to_string());
    out.set_observed(d.observed.to_string());
  }
  for (std::size_t i = 0; i < d.field_count; ++i) {
    ipc::DecisionField* f = out.add_fields();
    f->set_name(d.fields[i].name);
    f->set_value(d.fields[i].value.to_string());
  }
  out.set_decided_ts_ns(ctx.now_ns);
}

// Eight bytes per step: h = mix(h ^ word), where mix (a multiplication by
// an odd constant, then an xor-shift) is a bijection. Two inputs that
// differ in one word therefore always hash differently, and the length
// goes first, so field boundaries count. (FNV-1a, one multiplication per
// byte, was most of the cost of remembering an intent.) Fingerprints live
// only in memory, never in the journal, so the function may change.
struct Hasher {
  std::uint64_t h = 0x9e3779b97f4a7c15ull;
  void number(std::uint64_t v) {
    h = (h ^ v) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  void bytes(std::string_view s) {
    number(s.size());
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      std::uint64_t w = 0;
      std::memcpy(&w, s.data() + i, 8);
      number(w);
    }
    if (i < s.size()) {
      std::uint64_t w = 0;
      std::memcpy(&w, s.data() + i, s.size() - i);
      number(w);
    }
  }
};

}  // namespace

std::uint64_t intent_fingerprint(const ipc::OrderIntent& in) {
  Hasher h;
  h.bytes(in.intent_id());
  h.bytes(in.strategy());
  h.bytes(in.product());
  h.number(static_cast<std::uint64_t>(in.side()));
  h.number(static_cast<std::uint64_t>(in.type()));
  h.bytes(in.quantity());
  h.bytes(in.limit_price());
  h.bytes(in.stop_price());
  h.number(static_cast<std::uint64_t>(in.time_in_force()));
  h.number(in.reduce_only() ? 1 : 0);
  h.bytes(in.protective_stop_price());
  h.number(static_cast<std::uint64_t>(in.expire_ts_ns()));
  h.number(static_cast<std::uint64_t>(in.created_ts_ns()));
  return h.h;
}

bool is_remembered(const ipc::Decision& d) {
  if (d.replayed()) return false;
  if (d.accepted()) return true;
  // Denials from stages 1-3, conflicts and too-old intents are not
  // remembered: the intent id may be unusable, and nothing was decided
  // about the order itself.
  const ipc::DenyReason r = d.reason();
  return r != ipc::DENY_REASON_MALFORMED && r != ipc::DENY_REASON_FIELD_RANGE &&
         r != ipc::DENY_REASON_PEER_NOT_ALLOWED && r != ipc::DENY_REASON_NOT_READY &&
         r != ipc::DENY_REASON_DUPLICATE_ID_CONFLICT && r != ipc::DENY_REASON_INTENT_TOO_OLD;
}

namespace {

void add_field(ipc::Decision& d, std::string_view name, const std::string& value) {
  ipc::DecisionField* f = d.add_fields();
  f->set_name(std::string(name));
  f->set_value(value);
}

void add_rules_fired(ipc::Decision& d, const Evaluation& ev) {
  if (!ev.rule || !ev.rule->rules_ran) return;
  for (const std::uint32_t i : ev.rule->outcome.fired) d.add_rules_fired(ev.ctx.rules->rule(i).id);
}

// "rule 'x' v1 warns: message (+2 more warnings)" for an accepted decision.
std::string warnings_text(const Evaluation& ev) {
  if (!ev.rule || !ev.rule->rules_ran || ev.rule->outcome.warnings.empty()) return "";
  const rules::Outcome& o = ev.rule->outcome;
  const rules::RuleInfo& r = ev.ctx.rules->rule(o.warnings.front());
  std::string out = "rule '" + r.id + "' v" + std::to_string(r.version) + " warns: " + r.message;
  const std::size_t more = o.warnings.size() - 1;
  if (more > 0) out += " (+" + std::to_string(more) + " more warning" + (more > 1 ? "s)" : ")");
  return out;
}

// The functions that finish a result fill `r`, which is fresh or cleared.
void finish_denial(const Evaluation& ev, const Denial& d, DecideResult& r) {
  to_decision(ev.intent, ev.ctx, d, r.decision);
  add_rules_fired(r.decision, ev);
  if (!ev.rule) return;
  const RuleStage& stage = *ev.rule;
  if (stage.held_now) {
    // What the approver sees and what a release may at most send.
    r.decision.set_quantity(ev.quantity.to_string());
    r.decision.set_reduce_only(stage.reduce_only_out);
    add_field(r.decision, kFieldHoldExpiry, std::to_string(stage.outcome.hold_expiry_s));
    if (ev.quantity != stage.requested_quantity) {
      add_field(r.decision, kFieldRequestedQuantity, stage.requested_quantity.to_string());
    }
  }
  r.rule_halt = stage.rule_halt;
  r.rule_facts.emplace(stage.facts);
}

// Only after stage 7, so ev.rule is there.
void finish_accepted(const Evaluation& ev, DecideResult& r) {
  ipc::Decision& out = r.decision;
  out.set_intent_id(ev.intent.intent_id());
  out.set_accepted(true);
  out.set_order_id(ev.state.next_order_id());
  out.set_quantity(ev.quantity.to_string());
  out.set_reduce_only(ev.rule ? ev.rule->reduce_only_out
                              : ev.intent.reduce_only() || ev.state.halt().state() == HaltState::kReducing);
  out.set_decided_ts_ns(ev.ctx.now_ns);
  // The price the order was valued at; record_decision() keeps it on the
  // order (for market orders it is the reference price, known only now).
  add_field(out, "order_price", ev.price.to_string());
  if (ev.rule) {
    const RuleStage& stage = *ev.rule;
    out.set_detail(warnings_text(ev));
    if (ev.quantity != stage.requested_quantity) {
      add_field(out, kFieldRequestedQuantity, stage.requested_quantity.to_string());
    }
    add_rules_fired(out, ev);
    r.rule_facts.emplace(stage.facts);
  }
}

// The remembered decision again, marked replayed.
void replay_of(const ipc::Decision& seen, DecideResult& r) {
  r.decision = seen;
  r.decision.set_replayed(true);
}

// Stages 5 to 8 on a parsed intent.
void run_stages(Evaluation& ev, DecideResult& r) {
  gather(ev);
  for (Stage stage : kStages) {
    if (auto d = stage(ev)) return finish_denial(ev, *d, r);
  }
  finish_accepted(ev, r);
}

}  // namespace

DecideResult decide(const GateState& state, const ipc::OrderIntent& intent, const DecisionContext& ctx) {
  DecideResult r;
  decide(state, intent, ctx, r);
  return r;
}

void decide(const GateState& state, const ipc::OrderIntent& intent, const DecisionContext& ctx, DecideResult& out) {
  // Cleared, not replaced: the message keeps its strings and field
  // objects for the next decision.
  out.decision.Clear();
  out.rule_facts.reset();
  out.rule_halt = false;
  Evaluation ev(state, intent, ctx);
  const auto denied = [&](const Denial& d) { to_decision(intent, ctx, d, out.decision); };
  if (auto d = check_fields(ev)) return denied(*d);     // 1
  if (auto d = check_peer(ev)) return denied(*d);       // 2
  if (auto d = check_readiness(ev)) return denied(*d);  // 3

  if (const auto seen = state.find_intent(intent.intent_id())) {  // 4
    if (seen->fingerprint != intent_fingerprint(intent)) {
      return denied(deny(ipc::DENY_REASON_DUPLICATE_ID_CONFLICT,
                         "intent_id was decided before with different content; use a new id"));
    }
    return replay_of(seen->decision, out);
  }
  if (const PendingHold* hold = state.find_hold(intent.intent_id())) {
    // Still held, though forgotten by the bounded idempotency memory.
    if (intent_fingerprint(hold->intent) != intent_fingerprint(intent)) {
      return denied(deny(ipc::DENY_REASON_DUPLICATE_ID_CONFLICT,
                         "intent_id is held for approval with different content; use a new id"));
    }
    return replay_of(hold->decision, out);
  }
  // Unknown id, but the memory has forgotten intents created as late as
  // this one: it may be a retry of one of them, and deciding it afresh
  // could create a second order.
  if (const auto horizon = state.intent_memory().forgotten_created_max_ns();
      horizon && intent.created_ts_ns() <= *horizon) {
    return denied(deny(ipc::DENY_REASON_INTENT_TOO_OLD,
                       "intent created no later than intents the idempotency memory has forgotten; it may be a "
                       "retry, so it is not decided again (limit: the latest forgotten creation time, observed: "
                       "this intent's; epoch seconds)",
                       seconds(*horizon), seconds(intent.created_ts_ns()), {}));
  }
  run_stages(ev, out);  // 5..8
}

std::optional<FactsSnapshot> rule_facts_for(const GateState& state, const ipc::OrderIntent& intent,
                                            const DecisionContext& ctx) {
  static const rules::RuleSet kNoRules;  // immutable and shared: evaluating it reads nothing
  DecisionContext empty_rules = ctx;
  empty_rules.rules = &kNoRules;
  return decide(state, intent, empty_rules).rule_facts;
}

// ------------------------------------------------------------------ holds

namespace {

HoldDecision settlement(const PendingHold& h, std::string_view marker, std::string detail, std::int64_t now_ns) {
  HoldDecision out;
  out.intent = h.intent;
  ipc::Decision& d = out.result.decision;
  d.set_intent_id(h.intent.intent_id());
  d.set_accepted(false);
  d.set_reason(ipc::DENY_REASON_RULE);
  d.set_detail(std::move(detail));
  d.set_decided_ts_ns(now_ns);
  *d.mutable_rules_fired() = h.decision.rules_fired();
  add_field(d, marker, "1");
  return out;
}

}  // namespace

Result<HoldDecision> approve_hold(const GateState& state, std::string_view intent_id, const OperatorId& who,
                                  const DecisionContext& ctx) {
  const PendingHold* h = state.find_hold(intent_id);
  if (h == nullptr) return make_error("no order held for approval with intent id " + std::string(intent_id));
  if (ctx.now_ns >= h->expires_ts_ns) return make_error("the hold of " + std::string(intent_id) + " has expired");
  HoldDecision out;
  out.intent = h->intent;
  // Stage 7 must run even without rules: it enforces the held quantity and
  // a forced reduce_only.
  static const rules::RuleSet kNoRules;
  DecisionContext with_rules = ctx;
  if (with_rules.rules == nullptr) with_rules.rules = &kNoRules;
  Evaluation ev(state, out.intent, with_rules);
  ev.held = &h->decision;
  // Stages 1-3 again (fields, peer, readiness): the intent passed them once,
  // but the gate may have left readiness since; peer is the operator's.
  if (auto d = check_fields(ev)) {
    to_decision(out.intent, with_rules, *d, out.result.decision);
  } else if (auto r = check_readiness(ev)) {
    to_decision(out.intent, with_rules, *r, out.result.decision);
  } else {
    run_stages(ev, out.result);
  }
  ipc::Decision& d = out.result.decision;
  add_field(d, kFieldHoldReleased, "1");
  const std::string approved = "approved by " + who.name();
  d.set_detail(d.detail().empty() ? approved : approved + "; " + d.detail());
  return out;
}

Result<HoldDecision> reject_hold(const GateState& state, std::string_view intent_id, const OperatorId& who,
                                 std::string_view reason, std::int64_t now_ns) {
  const PendingHold* h = state.find_hold(intent_id);
  if (h == nullptr) return make_error("no order held for approval with intent id " + std::string(intent_id));
  std::string detail = "held order rejected by " + who.name();
  if (!reason.empty()) detail += ": " + std::string(reason.substr(0, rules::kStringLengthMax));
  return settlement(*h, kFieldHoldRejected, std::move(detail), now_ns);
}

std::vector<HoldDecision> expire_holds(const GateState& state, std::int64_t now_ns) {
  std::vector<HoldDecision> out;
  for (const auto& [id, h] : state.pending_holds()) {
    if (h.expires_ts_ns <= now_ns) {
      out.push_back(settlement(h, kFieldHoldExpired, "held order expired without approval", now_ns));
    }
  }
  return out;
}

ipc::CancelResult decide_cancel(const GateState& state, const ipc::CancelIntent& cancel, const DecisionContext& ctx) {
  ipc::CancelResult r;
  r.set_cancel_id(cancel.cancel_id());
  r.set_intent_id(cancel.intent_id());
  const auto refuse = [&](std::string why) {
    r.set_accepted(false);
    r.set_detail(std::move(why));
    return r;
  };
  if (cancel.cancel_id().empty() || !id_text_ok(cancel.cancel_id(), kIntentIdLengthMax) ||
      !id_text_ok(cancel.intent_id(), kIntentIdLengthMax)) {
    return refuse("cancel_id and intent_id must be 1 to 64 characters of [A-Za-z0-9._:-]");
  }
  if (!ctx.peer_allowed) return refuse("peer is not in the gate socket's allow-list");
  if (!state.ready()) return refuse("the gate is still recovering");
  const Order* o = state.find_live_order_by_intent(cancel.intent_id());
  if (o == nullptr) return refuse("no open order for intent " + cancel.intent_id());
  auto next = next_order_state(o->state, OrderEvent::kCancelRequest);
  if (!next) return refuse("order " + o->order_id + " is " + std::string(to_string(o->state)) + "; cannot cancel");
  r.set_accepted(true);
  r.set_detail("cancel requested for order " + o->order_id);
  return r;
}

std::vector<GateOrder> plan_flatten(const GateState& state, const DecisionContext& ctx,
                                    std::vector<std::string>* skipped) {
  std::vector<GateOrder> out;
  std::uint64_t number = state.next_order_number();
  for (const FlattenOrder& f : flatten_orders(state.ledger())) {
    // What closing-side orders in flight do not cover already (they may
    // still fill, whatever their state).
    const Int128 in_flight = detail::open_order_totals(state, f.product, f.side).same_side;
    if (in_flight >= f.quantity.units()) continue;
    Quantity quantity = Decimal::from_units(static_cast<std::int64_t>(f.quantity.units() - in_flight));
    const ReferencePrice* ref = nullptr;
    for (const ReferencePrice& r : ctx.reference_prices) {
      if (r.product == f.product) ref = &r;
    }
    if (const ProductLimits* p = state.limits().find(f.product)) {
      auto rounded = quantity.round_to_increment(p->size_increment, Rounding::kTowardZero);
      quantity = rounded ? *rounded : Quantity();
    }
    if (ref == nullptr || !ref->price.is_positive() || quantity.is_zero()) {
      if (skipped != nullptr) skipped->push_back(f.product);
      continue;
    }
    GateOrder g;
    const std::string order_id = "o-" + std::to_string(number++);
    g.intent.set_intent_id("gate-flatten-" + order_id);
    g.intent.set_strategy(std::string(kGateStrategy));
    g.intent.set_product(f.product);
    g.intent.set_side(f.side);
    g.intent.set_type(ipc::ORDER_TYPE_MARKET);
    g.intent.set_quantity(quantity.to_string());
    g.intent.set_time_in_force(ipc::TIME_IN_FORCE_GTC);
    g.intent.set_reduce_only(true);
    g.intent.set_created_ts_ns(ctx.now_ns);
    g.decision.set_intent_id(g.intent.intent_id());
    g.decision.set_accepted(true);
    g.decision.set_order_id(order_id);
    g.decision.set_quantity(quantity.to_string());
    g.decision.set_reduce_only(true);
    g.decision.set_detail("flatten");
    g.decision.set_decided_ts_ns(ctx.now_ns);
    ipc::DecisionField* field = g.decision.add_fields();
    field->set_name("order_price");
    field->set_value(ref->price.to_string());
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace ta::gate
