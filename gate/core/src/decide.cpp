// decide(): the fixed sequence of checks described in gate/core.h. Each
// check is a short function from the Evaluation (the parsed intent plus the
// facts gathered once) to an optional Denial; decide() runs them in order
// and the first denial wins. Limits are compared exactly: amounts that are
// products of two decimals stay in 1e-16 units (128 bits, see exposure.h)
// and are compared without rounding; the rounded figures in a denial are for
// people (observed rounded up, allowed rounded down).
#include <algorithm>
#include <array>
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

std::optional<Denial> check_fields(Evaluation& ev) {
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
using Stage = std::optional<Denial> (*)(const Evaluation&);
constexpr Stage kStages[] = {
    check_halt,            // 5. halt state, REDUCING, reduce_only
    check_daily_loss,      // 6. hard limits (safety.yaml) ...
    check_product,
    check_size,
    check_price_increment,
    check_reference,
    check_price_band,
    check_notional,
    check_position,
    check_gross_exposure,
    check_risk,
    check_open_orders,
    check_funds,           // ... end of the hard limits
                           // 7. the rule DSL stage belongs here
    check_rate,            // 8. rate
};

ipc::Decision to_decision(const ipc::OrderIntent& intent, const DecisionContext& ctx, const Denial& d) {
  ipc::Decision out;
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
  return out;
}

// FNV-1a, 64 bit.
struct Hasher {
  std::uint64_t h = 14695981039346656037ull;
  void bytes(std::string_view s) {
    number(s.size());  // length first, so field boundaries count
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  }
  void number(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) h = (h ^ ((v >> (8 * i)) & 0xff)) * 1099511628211ull;
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
  // Denials from stages 1-3 and conflicts are not remembered: the intent id
  // may be unusable, and nothing was decided about the order itself.
  const ipc::DenyReason r = d.reason();
  return r != ipc::DENY_REASON_MALFORMED && r != ipc::DENY_REASON_FIELD_RANGE &&
         r != ipc::DENY_REASON_PEER_NOT_ALLOWED && r != ipc::DENY_REASON_NOT_READY &&
         r != ipc::DENY_REASON_DUPLICATE_ID_CONFLICT;
}

ipc::Decision decide(const GateState& state, const ipc::OrderIntent& intent, const DecisionContext& ctx) {
  Evaluation ev(state, intent, ctx);
  if (auto d = check_fields(ev)) return to_decision(intent, ctx, *d);  // 1
  if (auto d = check_peer(ev)) return to_decision(intent, ctx, *d);    // 2
  if (auto d = check_readiness(ev)) return to_decision(intent, ctx, *d);  // 3

  if (const RememberedIntent* seen = state.find_intent(intent.intent_id())) {  // 4
    if (seen->fingerprint != intent_fingerprint(intent)) {
      return to_decision(intent, ctx,
                         deny(ipc::DENY_REASON_DUPLICATE_ID_CONFLICT,
                              "intent_id was decided before with different content; use a new id"));
    }
    ipc::Decision replay = seen->decision;
    replay.set_replayed(true);
    return replay;
  }

  gather(ev);
  for (Stage stage : kStages) {  // 5..8
    if (auto d = stage(ev)) return to_decision(intent, ctx, *d);
  }

  ipc::Decision out;
  out.set_intent_id(intent.intent_id());
  out.set_accepted(true);
  out.set_order_id(state.next_order_id());
  out.set_quantity(ev.quantity.to_string());
  out.set_reduce_only(intent.reduce_only() || state.halt().state() == HaltState::kReducing);
  out.set_decided_ts_ns(ctx.now_ns);
  // The price the order was valued at; record_decision() keeps it on the
  // order (for market orders it is the reference price, known only now).
  ipc::DecisionField* f = out.add_fields();
  f->set_name("order_price");
  f->set_value(ev.price.to_string());
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
    const ReferencePrice* ref = nullptr;
    for (const ReferencePrice& r : ctx.reference_prices) {
      if (r.product == f.product) ref = &r;
    }
    Quantity quantity = f.quantity;
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
