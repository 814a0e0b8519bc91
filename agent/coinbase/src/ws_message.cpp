#include "coinbase/ws_message.h"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "text.h"

namespace ta::agent::coinbase {
namespace json = boost::json;

std::string_view channel_name(WsChannel channel) {
  switch (channel) {
    case WsChannel::kSubscriptions:
      return "subscriptions";
    case WsChannel::kHeartbeats:
      return "heartbeats";
    case WsChannel::kMarketTrades:
      return "market_trades";
    case WsChannel::kTicker:
      return "ticker";
    case WsChannel::kOther:
      return "other";
  }
  return "other";
}

namespace {

// Each reader returns an error that names the field path, e.g.
// "events[0].trades[3].price: not a decimal number (\"abc\")".
Error field_error(std::string_view path, std::string_view why) {
  return make_error(std::string(path) + ": " + std::string(why));
}

Result<const json::value*> member(const json::object& obj, std::string_view key, std::string_view path) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr) return field_error(path, "missing");
  return v;
}

Result<std::string_view> string_member(const json::object& obj, std::string_view key, std::string_view path) {
  auto v = member(obj, key, path);
  if (!v) return v.error();
  if (!(*v)->is_string()) return field_error(path, "not a string");
  const json::string& s = (*v)->get_string();
  return std::string_view(s.data(), s.size());
}

Result<const json::array*> array_member(const json::object& obj, std::string_view key, std::string_view path) {
  auto v = member(obj, key, path);
  if (!v) return v.error();
  if (!(*v)->is_array()) return field_error(path, "not an array");
  return &(*v)->get_array();
}

Result<std::uint64_t> uint_value(const json::value& v, std::string_view path) {
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64()) {
    if (v.get_int64() < 0) return field_error(path, "negative");
    return static_cast<std::uint64_t>(v.get_int64());
  }
  if (v.is_string()) {
    const json::string& s = v.get_string();
    auto r = parse_uint_text(std::string_view(s.data(), s.size()));
    if (!r) return field_error(path, r.error().message);
    return r.value();
  }
  return field_error(path, "not an integer");
}

std::string quoted(std::string_view text) {
  constexpr std::size_t kShown = 40;  // keep log lines short on junk input
  std::string out = "\"";
  out += text.substr(0, kShown);
  if (text.size() > kShown) out += "...";
  out += "\"";
  return out;
}

Result<double> positive_decimal_member(const json::object& obj, std::string_view key, const std::string& path) {
  const std::string p = path + "." + std::string(key);
  auto s = string_member(obj, key, p);
  if (!s) return s.error();
  auto d = parse_decimal_text(*s);
  if (!d) return field_error(p, d.error().message + " (" + quoted(*s) + ")");
  if (!(*d > 0)) return field_error(p, "not > 0 (" + quoted(*s) + ")");
  return *d;
}

Result<ProductId> product_member(const json::object& obj, const std::string& path) {
  const std::string p = path + ".product_id";
  auto s = string_member(obj, "product_id", p);
  if (!s) return s.error();
  auto id = ProductId::parse(*s);
  if (!id) return field_error(p, id.error().message);
  return *id;
}

Result<std::int64_t> time_member(const json::object& obj, std::string_view key, const std::string& path) {
  const std::string p = path + "." + std::string(key);
  auto s = string_member(obj, key, p);
  if (!s) return s.error();
  auto t = parse_rfc3339_us(*s);
  if (!t) return field_error(p, t.error().message + " (" + quoted(*s) + ")");
  return *t;
}

Result<EventType> event_type(const json::object& event, const std::string& path) {
  auto s = string_member(event, "type", path + ".type");
  if (!s) return s.error();
  if (*s == "snapshot") return EventType::kSnapshot;
  if (*s == "update") return EventType::kUpdate;
  return field_error(path + ".type", "neither snapshot nor update (" + quoted(*s) + ")");
}

Result<WsTrade> read_trade(const json::value& v, const std::string& path) {
  if (!v.is_object()) return field_error(path, "not an object");
  const json::object& o = v.get_object();
  WsTrade t;
  auto id_text = string_member(o, "trade_id", path + ".trade_id");
  if (!id_text) return id_text.error();
  auto id = parse_uint_text(*id_text);
  if (!id) return field_error(path + ".trade_id", id.error().message + " (" + quoted(*id_text) + ")");
  t.trade.trade_id = *id;
  auto product = product_member(o, path);
  if (!product) return product.error();
  t.trade.product = *product;
  auto price = positive_decimal_member(o, "price", path);
  if (!price) return price.error();
  t.trade.price = *price;
  auto size = positive_decimal_member(o, "size", path);
  if (!size) return size.error();
  t.trade.size = *size;
  auto side = string_member(o, "side", path + ".side");
  if (!side) return side.error();
  if (*side == "BUY") {
    t.maker_side = TradeSide::kBuy;
  } else if (*side == "SELL") {
    t.maker_side = TradeSide::kSell;
  } else {
    return field_error(path + ".side", "neither BUY nor SELL (" + quoted(*side) + ")");
  }
  auto time = time_member(o, "time", path);
  if (!time) return time.error();
  t.trade.time_us = *time;
  return t;
}

Result<WsTicker> read_ticker(const json::value& v, const std::string& path) {
  if (!v.is_object()) return field_error(path, "not an object");
  const json::object& o = v.get_object();
  WsTicker t;
  auto product = product_member(o, path);
  if (!product) return product.error();
  t.product = *product;
  auto price = positive_decimal_member(o, "price", path);
  if (!price) return price.error();
  t.price = *price;
  auto bid = positive_decimal_member(o, "best_bid", path);
  if (!bid) return bid.error();
  t.best_bid = *bid;
  auto ask = positive_decimal_member(o, "best_ask", path);
  if (!ask) return ask.error();
  t.best_ask = *ask;
  return t;
}

Status read_trades_event(const json::object& event, const std::string& path, const WsParseLimits& limits,
                         WsEnvelope& out) {
  auto trades = array_member(event, "trades", path + ".trades");
  if (!trades) return trades.error();
  if (out.trades.size() + (*trades)->size() > limits.trades_max) {
    return field_error(path + ".trades", "more than " + std::to_string(limits.trades_max) + " trades");
  }
  for (std::size_t i = 0; i < (*trades)->size(); ++i) {
    auto t = read_trade((**trades)[i], path + ".trades[" + std::to_string(i) + "]");
    if (!t) return t.error();
    out.trades.push_back(*t);
  }
  return {};
}

Status read_ticker_event(const json::object& event, const std::string& path, const WsParseLimits& limits,
                         WsEnvelope& out) {
  auto tickers = array_member(event, "tickers", path + ".tickers");
  if (!tickers) return tickers.error();
  if (out.tickers.size() + (*tickers)->size() > limits.tickers_max) {
    return field_error(path + ".tickers", "more than " + std::to_string(limits.tickers_max) + " tickers");
  }
  for (std::size_t i = 0; i < (*tickers)->size(); ++i) {
    auto t = read_ticker((**tickers)[i], path + ".tickers[" + std::to_string(i) + "]");
    if (!t) return t.error();
    out.tickers.push_back(*t);
  }
  return {};
}

Status read_heartbeat_event(const json::object& event, const std::string& path, WsEnvelope& out) {
  WsHeartbeat hb;
  auto time_text = string_member(event, "current_time", path + ".current_time");
  if (!time_text) return time_text.error();
  auto time = parse_heartbeat_time_us(*time_text);
  if (!time) return field_error(path + ".current_time", time.error().message + " (" + quoted(*time_text) + ")");
  hb.current_time_us = *time;
  auto counter = member(event, "heartbeat_counter", path + ".heartbeat_counter");
  if (!counter) return counter.error();
  auto n = uint_value(**counter, path + ".heartbeat_counter");
  if (!n) return n.error();
  hb.counter = *n;
  out.heartbeats.push_back(hb);
  return {};
}

Status read_subscriptions_event(const json::object& event, const std::string& path, const WsParseLimits& limits,
                                WsEnvelope& out) {
  auto subs = member(event, "subscriptions", path + ".subscriptions");
  if (!subs) return subs.error();
  if (!(*subs)->is_object()) return field_error(path + ".subscriptions", "not an object");
  const json::object& o = (*subs)->get_object();
  if (o.size() > limits.subscription_channels_max) {
    return field_error(path + ".subscriptions",
                       "more than " + std::to_string(limits.subscription_channels_max) + " channels");
  }
  for (const auto& kv : o) {
    const std::string p = path + ".subscriptions." + std::string(kv.key());
    if (!kv.value().is_array()) return field_error(p, "not an array");
    WsSubscription sub;
    sub.channel = std::string(kv.key());
    const json::array& ids = kv.value().get_array();
    if (ids.size() > limits.tickers_max) {
      return field_error(p, "more than " + std::to_string(limits.tickers_max) + " product ids");
    }
    for (const json::value& id : ids) {
      if (!id.is_string()) return field_error(p, "product id not a string");
      sub.product_ids.emplace_back(id.get_string().data(), id.get_string().size());
    }
    out.subscriptions.push_back(std::move(sub));
  }
  return {};
}

WsChannel classify(std::string_view channel) {
  if (channel == "subscriptions") return WsChannel::kSubscriptions;
  if (channel == "heartbeats") return WsChannel::kHeartbeats;
  if (channel == "market_trades") return WsChannel::kMarketTrades;
  if (channel == "ticker") return WsChannel::kTicker;
  return WsChannel::kOther;
}

Status read_events(const json::array& events, const WsParseLimits& limits, WsEnvelope& out) {
  if (events.size() > limits.events_max) {
    return field_error("events", "more than " + std::to_string(limits.events_max) + " events");
  }
  for (std::size_t i = 0; i < events.size(); ++i) {
    const std::string path = "events[" + std::to_string(i) + "]";
    if (!events[i].is_object()) return field_error(path, "not an object");
    const json::object& event = events[i].get_object();
    Status st;
    switch (out.channel) {
      case WsChannel::kSubscriptions:
        st = read_subscriptions_event(event, path, limits, out);
        break;
      case WsChannel::kHeartbeats:
        st = read_heartbeat_event(event, path, out);
        break;
      case WsChannel::kMarketTrades:
      case WsChannel::kTicker: {
        auto type = event_type(event, path);
        if (!type) return type.error();
        if (*type == EventType::kSnapshot) out.event_type = EventType::kSnapshot;
        st = out.channel == WsChannel::kMarketTrades ? read_trades_event(event, path, limits, out)
                                                      : read_ticker_event(event, path, limits, out);
        break;
      }
      case WsChannel::kOther:
        return {};
    }
    if (!st) return st;
  }
  return {};
}

}  // namespace

ParsedWsMessage parse_ws_message(std::string_view text, const WsParseLimits& limits) {
  ParsedWsMessage out;
  if (text.size() > limits.frame_bytes_max) {
    out.message = make_error("message of " + std::to_string(text.size()) + " bytes exceeds " +
                             std::to_string(limits.frame_bytes_max));
    return out;
  }
  json::parse_options options;
  options.max_depth = kDepthMax;
  boost::system::error_code ec;
  json::monotonic_resource arena;
  const json::value root = json::parse(json::string_view(text.data(), text.size()), ec, &arena, options);
  if (ec) {
    out.message = make_error("not JSON: " + ec.message());
    return out;
  }
  if (!root.is_object()) {
    out.message = make_error("not a JSON object");
    return out;
  }
  const json::object& obj = root.get_object();

  // The error message has no envelope.
  if (const json::value* type = obj.if_contains("type"); type != nullptr && !obj.contains("channel")) {
    if (!type->is_string() || type->get_string() != "error") {
      out.message = make_error("type: unknown message type without channel");
      return out;
    }
    auto msg = string_member(obj, "message", "message");
    if (!msg) {
      out.message = msg.error();
      return out;
    }
    out.message = WsMessage(WsError{std::string(*msg)});
    return out;
  }

  if (const json::value* seq = obj.if_contains("sequence_num"); seq != nullptr) {
    if (seq->is_uint64()) {
      out.sequence_num = seq->get_uint64();
    } else if (seq->is_int64() && seq->get_int64() >= 0) {
      out.sequence_num = static_cast<std::uint64_t>(seq->get_int64());
    }
  }
  WsEnvelope env;
  auto channel = string_member(obj, "channel", "channel");
  if (!channel) {
    out.message = channel.error();
    return out;
  }
  env.channel_text = std::string(*channel);
  env.channel = classify(*channel);
  if (!out.sequence_num) {
    out.message = make_error(obj.contains("sequence_num") ? "sequence_num: not a non-negative integer"
                                                           : "sequence_num: missing");
    return out;
  }
  env.sequence_num = *out.sequence_num;
  auto ts = time_member(obj, "timestamp", "envelope");
  if (!ts) {
    out.message = ts.error();
    return out;
  }
  env.timestamp_us = *ts;
  auto events = array_member(obj, "events", "events");
  if (!events) {
    out.message = events.error();
    return out;
  }
  if (Status st = read_events(**events, limits, env); !st) {
    out.message = st.error();
    return out;
  }
  out.message = WsMessage(std::move(env));
  return out;
}

Result<double> parse_decimal_text(std::string_view text) { return detail::parse_decimal(text); }
Result<std::uint64_t> parse_uint_text(std::string_view text) { return detail::parse_uint(text); }
Result<std::int64_t> parse_rfc3339_us(std::string_view text) { return detail::parse_rfc3339(text); }
Result<std::int64_t> parse_heartbeat_time_us(std::string_view text) { return detail::parse_go_time(text); }

namespace {

std::string make_channel_message(std::string_view type, std::string_view channel,
                                 const std::vector<ProductId>& products) {
  json::object o;
  o["type"] = json::string_view(type.data(), type.size());
  o["channel"] = json::string_view(channel.data(), channel.size());
  if (!products.empty()) {
    json::array ids;
    for (const ProductId& p : products) ids.emplace_back(json::string_view(p.view().data(), p.view().size()));
    o["product_ids"] = std::move(ids);
  }
  return json::serialize(o);
}

}  // namespace

std::string make_subscribe_message(std::string_view channel, const std::vector<ProductId>& products) {
  return make_channel_message("subscribe", channel, products);
}

std::string make_unsubscribe_message(std::string_view channel, const std::vector<ProductId>& products) {
  return make_channel_message("unsubscribe", channel, products);
}

}  // namespace ta::agent::coinbase
