// FactsSnapshot, the journal form of the rule facts (ipc::RuleFacts) and
// OperatorId: the small value types around the rule stage.
#include <algorithm>
#include <cstring>

#include "gate/core.h"

namespace ta::gate {
namespace {

bool operator_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '@' || c == ':' || c == '-';
}

constexpr std::size_t kOperatorNameLengthMax = 64;

std::string text(Decimal d) { return d.is_zero() ? std::string() : d.to_string(); }

// Empty text is zero, as proto3 leaves unset strings empty.
bool parse(const std::string& in, Decimal& out, const char* name, std::string& error) {
  if (in.empty()) {
    out = Decimal();
    return true;
  }
  auto v = Decimal::parse(in);
  if (!v) {
    if (error.empty()) error = std::string("rule facts: ") + name + ": " + v.error().message;
    return false;
  }
  out = *v;
  return true;
}

}  // namespace

Result<OperatorId> OperatorId::make(std::string_view name) {
  if (name.empty() || name.size() > kOperatorNameLengthMax || !std::all_of(name.begin(), name.end(), operator_char)) {
    return make_error("an operator name is 1 to 64 characters of [A-Za-z0-9._@:-]");
  }
  return OperatorId(std::string(name));
}

FactsSnapshot::FactsSnapshot(const rules::Facts& facts) : facts_(facts) {
  product_size_ = static_cast<std::uint8_t>(std::min(facts.order.product.size(), product_.size()));
  strategy_size_ = static_cast<std::uint8_t>(std::min(facts.order.strategy.size(), strategy_.size()));
  std::memcpy(product_.data(), facts.order.product.data(), product_size_);
  std::memcpy(strategy_.data(), facts.order.strategy.data(), strategy_size_);
  facts_.order.product = {};
  facts_.order.strategy = {};
}

rules::Facts FactsSnapshot::facts() const {
  rules::Facts f = facts_;
  f.order.product = std::string_view(product_.data(), product_size_);
  f.order.strategy = std::string_view(strategy_.data(), strategy_size_);
  return f;
}

ipc::RuleFacts to_proto(const rules::Facts& f) {
  ipc::RuleFacts p;
  p.set_order_product(std::string(f.order.product));
  p.set_order_side(f.order.side == rules::Side::kBuy ? ipc::SIDE_BUY : ipc::SIDE_SELL);
  switch (f.order.type) {
    case rules::OrderType::kMarket: p.set_order_type(ipc::ORDER_TYPE_MARKET); break;
    case rules::OrderType::kLimit: p.set_order_type(ipc::ORDER_TYPE_LIMIT); break;
    case rules::OrderType::kStopLimit: p.set_order_type(ipc::ORDER_TYPE_STOP_LIMIT); break;
  }
  p.set_order_quantity(text(f.order.quantity));
  p.set_order_price(text(f.order.price));
  p.set_order_notional(text(f.order.notional));
  p.set_order_reduce_only(f.order.reduce_only);
  p.set_order_strategy(std::string(f.order.strategy));
  p.set_position_quantity(text(f.position.quantity));
  p.set_position_notional(text(f.position.notional));
  p.set_position_average_cost(text(f.position.average_cost));
  p.set_position_unrealized_pnl(text(f.position.unrealized_pnl));
  p.set_account_equity(text(f.account.equity));
  p.set_account_cash(text(f.account.cash));
  p.set_account_gross_exposure(text(f.account.gross_exposure));
  p.set_account_daily_pnl(text(f.account.daily_pnl));
  p.set_account_drawdown(text(f.account.drawdown));
  p.set_market_reference_price(text(f.market.reference_price));
  p.set_market_spread(text(f.market.spread));
  p.set_market_realized_vol_1h(text(f.market.realized_vol_1h));
  p.set_market_realized_vol_24h(text(f.market.realized_vol_24h));
  p.set_market_volume_1h(text(f.market.volume_1h));
  p.set_time_utc_hour(f.time.utc_hour);
  p.set_time_weekday(static_cast<std::uint32_t>(f.time.weekday));
  p.set_time_since_last_stop_out_s(f.time.since_last_stop_out_s);
  p.set_stats_orders_last_minute(f.stats.orders_last_minute);
  p.set_stats_consecutive_losses(f.stats.consecutive_losses);
  p.set_stats_fills_today(f.stats.fills_today);
  return p;
}

Result<FactsSnapshot> facts_from_proto(const ipc::RuleFacts& p) {
  if (p.order_product().size() > kProductLengthMax || p.order_strategy().size() > kStrategyLengthMax) {
    return make_error("rule facts: product or strategy name too long");
  }
  rules::Facts f;
  f.order.product = p.order_product();
  f.order.strategy = p.order_strategy();
  switch (p.order_side()) {
    case ipc::SIDE_BUY: f.order.side = rules::Side::kBuy; break;
    case ipc::SIDE_SELL: f.order.side = rules::Side::kSell; break;
    default: return make_error("rule facts: order_side must be BUY or SELL");
  }
  switch (p.order_type()) {
    case ipc::ORDER_TYPE_MARKET: f.order.type = rules::OrderType::kMarket; break;
    case ipc::ORDER_TYPE_LIMIT: f.order.type = rules::OrderType::kLimit; break;
    case ipc::ORDER_TYPE_STOP_LIMIT: f.order.type = rules::OrderType::kStopLimit; break;
    default: return make_error("rule facts: order_type must be MARKET, LIMIT or STOP_LIMIT");
  }
  if (p.time_weekday() > static_cast<std::uint32_t>(rules::Weekday::kSunday)) {
    return make_error("rule facts: time_weekday must be 0 (Monday) to 6 (Sunday)");
  }
  f.order.reduce_only = p.order_reduce_only();
  std::string error;
  const bool ok = parse(p.order_quantity(), f.order.quantity, "order_quantity", error) &&
                  parse(p.order_price(), f.order.price, "order_price", error) &&
                  parse(p.order_notional(), f.order.notional, "order_notional", error) &&
                  parse(p.position_quantity(), f.position.quantity, "position_quantity", error) &&
                  parse(p.position_notional(), f.position.notional, "position_notional", error) &&
                  parse(p.position_average_cost(), f.position.average_cost, "position_average_cost", error) &&
                  parse(p.position_unrealized_pnl(), f.position.unrealized_pnl, "position_unrealized_pnl", error) &&
                  parse(p.account_equity(), f.account.equity, "account_equity", error) &&
                  parse(p.account_cash(), f.account.cash, "account_cash", error) &&
                  parse(p.account_gross_exposure(), f.account.gross_exposure, "account_gross_exposure", error) &&
                  parse(p.account_daily_pnl(), f.account.daily_pnl, "account_daily_pnl", error) &&
                  parse(p.account_drawdown(), f.account.drawdown, "account_drawdown", error) &&
                  parse(p.market_reference_price(), f.market.reference_price, "market_reference_price", error) &&
                  parse(p.market_spread(), f.market.spread, "market_spread", error) &&
                  parse(p.market_realized_vol_1h(), f.market.realized_vol_1h, "market_realized_vol_1h", error) &&
                  parse(p.market_realized_vol_24h(), f.market.realized_vol_24h, "market_realized_vol_24h", error) &&
                  parse(p.market_volume_1h(), f.market.volume_1h, "market_volume_1h", error);
  if (!ok) return make_error(error);
  f.time.utc_hour = p.time_utc_hour();
  f.time.weekday = static_cast<rules::Weekday>(p.time_weekday());
  f.time.since_last_stop_out_s = p.time_since_last_stop_out_s();
  f.stats.orders_last_minute = p.stats_orders_last_minute();
  f.stats.consecutive_losses = p.stats_consecutive_losses();
  f.stats.fills_today = p.stats_fills_today();
  return FactsSnapshot(f);
}

}  // namespace ta::gate
