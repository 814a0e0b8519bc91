#include "facts_table.h"

#include <algorithm>
#include <array>
#include <limits>

namespace ta::rules {
namespace {

constexpr std::array<FactDef, kFactCount> kFacts{{
    {"order.product", Type::kString, FactId::kOrderProduct},
    {"order.side", Type::kSide, FactId::kOrderSide},
    {"order.type", Type::kOrderType, FactId::kOrderType},
    {"order.quantity", Type::kQuantity, FactId::kOrderQuantity},
    {"order.price", Type::kPrice, FactId::kOrderPrice},
    {"order.notional", Type::kUsd, FactId::kOrderNotional},
    {"order.reduce_only", Type::kBool, FactId::kOrderReduceOnly},
    {"order.strategy", Type::kString, FactId::kOrderStrategy},
    {"position.quantity", Type::kQuantity, FactId::kPositionQuantity},
    {"position.notional", Type::kUsd, FactId::kPositionNotional},
    {"position.average_cost", Type::kPrice, FactId::kPositionAverageCost},
    {"position.unrealized_pnl", Type::kUsd, FactId::kPositionUnrealizedPnl},
    {"account.equity", Type::kUsd, FactId::kAccountEquity},
    {"account.cash", Type::kUsd, FactId::kAccountCash},
    {"account.gross_exposure", Type::kUsd, FactId::kAccountGrossExposure},
    {"account.daily_pnl", Type::kUsd, FactId::kAccountDailyPnl},
    {"account.drawdown", Type::kRatio, FactId::kAccountDrawdown},
    {"market.reference_price", Type::kPrice, FactId::kMarketReferencePrice},
    {"market.spread", Type::kRatio, FactId::kMarketSpread},
    {"market.realized_vol_1h", Type::kRatio, FactId::kMarketRealizedVol1h},
    {"market.realized_vol_24h", Type::kRatio, FactId::kMarketRealizedVol24h},
    {"market.volume_1h", Type::kQuantity, FactId::kMarketVolume1h},
    {"time.utc_hour", Type::kInteger, FactId::kTimeUtcHour},
    {"time.weekday", Type::kWeekday, FactId::kTimeWeekday},
    {"time.since_last_stop_out", Type::kDuration, FactId::kTimeSinceLastStopOut},
    {"stats.orders_last_minute", Type::kInteger, FactId::kStatsOrdersLastMinute},
    {"stats.consecutive_losses", Type::kInteger, FactId::kStatsConsecutiveLosses},
    {"stats.fills_today", Type::kInteger, FactId::kStatsFillsToday},
}};

// The table order must match FactId, which is the slot number.
constexpr bool table_in_slot_order() {
  for (std::size_t i = 0; i < kFacts.size(); ++i) {
    if (static_cast<std::size_t>(kFacts[i].id) != i) return false;
  }
  return true;
}
static_assert(table_in_slot_order());
static_assert(static_cast<std::size_t>(FactId::kStatsFillsToday) + 1 == kFactCount);

constexpr std::array<std::string_view, 2> kSides{"buy", "sell"};
constexpr std::array<std::string_view, 3> kOrderTypes{"market", "limit", "stop_limit"};
constexpr std::array<std::string_view, 7> kWeekdays{"monday", "tuesday", "wednesday", "thursday",
                                                    "friday", "saturday", "sunday"};
static_assert(static_cast<int>(Side::kSell) == 1 && static_cast<int>(OrderType::kStopLimit) == 2 &&
              static_cast<int>(Weekday::kSunday) == 6);

std::span<const std::string_view> names_of(Type t) {
  switch (t) {
    case Type::kSide: return kSides;
    case Type::kOrderType: return kOrderTypes;
    case Type::kWeekday: return kWeekdays;
    case Type::kError: case Type::kBool: case Type::kInteger: case Type::kNumber: case Type::kQuantity:
    case Type::kRatio: case Type::kUsd: case Type::kPrice: case Type::kDuration: case Type::kString:
      return {};
  }
  return {};
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Both are bounded by kIdentifierLengthMax * 2 + 1 characters.
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

constexpr std::int64_t kUnitsMax = std::numeric_limits<std::int64_t>::max();

std::int64_t scaled(std::int64_t whole, std::int64_t per_unit) {
  std::int64_t out = 0;
  if (__builtin_mul_overflow(whole, per_unit, &out)) return whole < 0 ? -kUnitsMax : kUnitsMax;
  return out == std::numeric_limits<std::int64_t>::min() ? -kUnitsMax : out;
}

std::int64_t intern(std::string_view s, std::span<const std::string> strings) {
  for (std::size_t i = 0; i < strings.size(); ++i) {
    if (strings[i] == s) return static_cast<std::int64_t>(i + 1);
  }
  return 0;
}

}  // namespace

std::span<const FactDef> fact_table() { return kFacts; }

const FactDef* find_fact(std::string_view name) {
  for (const FactDef& f : kFacts) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::optional<std::int64_t> enum_value(Type enum_type, std::string_view name) {
  const auto names = names_of(enum_type);
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<std::int64_t>(i);
  }
  return std::nullopt;
}

std::string enum_names(Type enum_type) {
  std::string out;
  for (auto n : names_of(enum_type)) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

std::vector<std::string_view> all_names() {
  std::vector<std::string_view> out;
  for (const FactDef& f : kFacts) out.push_back(f.name);
  for (Type t : {Type::kSide, Type::kOrderType, Type::kWeekday}) {
    for (auto n : names_of(t)) out.push_back(n);
  }
  return out;
}

std::string_view closest(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  std::size_t best_distance = 0;
  // Up to a third of the word may be wrong (at least two edits), so
  // 'market.sprad' finds 'market.spread' but 'x' suggests nothing.
  const std::size_t allowed = std::max<std::size_t>(2, word.size() / 3);
  for (auto c : candidates) {
    // A field name given without its category ('reduce_only') is a common
    // slip: suggest the full name.
    const auto dot = c.find('.');
    if (dot != std::string_view::npos && c.substr(dot + 1) == word) return c;
    const std::size_t d = edit_distance(word, c);
    if (d <= allowed && (best.empty() || d < best_distance)) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

void load_facts(const Facts& f, std::span<const std::string> strings, std::int64_t* s) {
  constexpr std::int64_t kScale = Decimal::kScale;
  auto at = [s](FactId id) -> std::int64_t& { return s[static_cast<std::size_t>(id)]; };
  at(FactId::kOrderProduct) = intern(f.order.product, strings);
  at(FactId::kOrderSide) = static_cast<std::int64_t>(f.order.side);
  at(FactId::kOrderType) = static_cast<std::int64_t>(f.order.type);
  at(FactId::kOrderQuantity) = f.order.quantity.units();
  at(FactId::kOrderPrice) = f.order.price.units();
  at(FactId::kOrderNotional) = f.order.notional.units();
  at(FactId::kOrderReduceOnly) = f.order.reduce_only ? 1 : 0;
  at(FactId::kOrderStrategy) = intern(f.order.strategy, strings);
  at(FactId::kPositionQuantity) = f.position.quantity.units();
  at(FactId::kPositionNotional) = f.position.notional.units();
  at(FactId::kPositionAverageCost) = f.position.average_cost.units();
  at(FactId::kPositionUnrealizedPnl) = f.position.unrealized_pnl.units();
  at(FactId::kAccountEquity) = f.account.equity.units();
  at(FactId::kAccountCash) = f.account.cash.units();
  at(FactId::kAccountGrossExposure) = f.account.gross_exposure.units();
  at(FactId::kAccountDailyPnl) = f.account.daily_pnl.units();
  at(FactId::kAccountDrawdown) = f.account.drawdown.units();
  at(FactId::kMarketReferencePrice) = f.market.reference_price.units();
  at(FactId::kMarketSpread) = f.market.spread.units();
  at(FactId::kMarketRealizedVol1h) = f.market.realized_vol_1h.units();
  at(FactId::kMarketRealizedVol24h) = f.market.realized_vol_24h.units();
  at(FactId::kMarketVolume1h) = f.market.volume_1h.units();
  at(FactId::kTimeUtcHour) = scaled(f.time.utc_hour, kScale);
  at(FactId::kTimeWeekday) = static_cast<std::int64_t>(f.time.weekday);
  at(FactId::kTimeSinceLastStopOut) = scaled(f.time.since_last_stop_out_s, kScale);
  at(FactId::kStatsOrdersLastMinute) = scaled(f.stats.orders_last_minute, kScale);
  at(FactId::kStatsConsecutiveLosses) = scaled(f.stats.consecutive_losses, kScale);
  at(FactId::kStatsFillsToday) = scaled(f.stats.fills_today, kScale);
}

}  // namespace ta::rules
