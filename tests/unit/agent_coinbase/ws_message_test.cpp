// The strict WebSocket message parser: the documented message shapes, and
// every kind of bad input refused with a reason.
#include <gtest/gtest.h>

#include <string>

#include "coinbase/ws_message.h"

namespace ta::agent::coinbase {
namespace {

ProductId pid(const char* s) { return ProductId::parse(s).value(); }

const WsEnvelope& envelope(const ParsedWsMessage& p) {
  EXPECT_TRUE(p.message.ok()) << (p.message.ok() ? "" : p.message.error().message);
  return std::get<WsEnvelope>(p.message.value());
}

std::string trades_message(const std::string& trade_fields, int seq = 7) {
  return R"({"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":)" +
         std::to_string(seq) + R"(,"events":[{"type":"update","trades":[{)" + trade_fields + "}]}]}";
}

const std::string kGoodTrade =
    R"("trade_id":"000000123","product_id":"ETH-USD","price":"1260.01","size":"0.3","side":"BUY","time":"2019-08-14T20:42:27.265Z")";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return s.replace(pos, from.size(), to);
}

TEST(WsMessage, MarketTradesUpdate) {
  const auto p = parse_ws_message(trades_message(kGoodTrade));
  ASSERT_TRUE(p.sequence_num.has_value());
  EXPECT_EQ(*p.sequence_num, 7u);
  const WsEnvelope& env = envelope(p);
  EXPECT_EQ(env.channel, WsChannel::kMarketTrades);
  EXPECT_EQ(env.event_type, EventType::kUpdate);
  ASSERT_EQ(env.trades.size(), 1u);
  const WsTrade& t = env.trades[0];
  EXPECT_EQ(t.trade.product, pid("ETH-USD"));
  EXPECT_EQ(t.trade.trade_id, 123u);
  EXPECT_DOUBLE_EQ(t.trade.price, 1260.01);
  EXPECT_DOUBLE_EQ(t.trade.size, 0.3);
  EXPECT_EQ(t.maker_side, TradeSide::kBuy);
  EXPECT_EQ(t.trade.time_us, 1'565'815'347'265'000);
  EXPECT_EQ(env.timestamp_us, 1'675'973'975'396'251);
}

TEST(WsMessage, SnapshotWithSeveralTradesKeepsMessageOrder) {
  const std::string text =
      R"({"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35Z","sequence_num":0,"events":[{"type":"snapshot","trades":[)"
      R"({"trade_id":"12","product_id":"BTC-USD","price":"2","size":"1","side":"SELL","time":"2023-02-09T20:19:34Z"},)"
      R"({"trade_id":"11","product_id":"BTC-USD","price":"1","size":"1","side":"BUY","time":"2023-02-09T20:19:33Z"}]}]})";
  const auto p = parse_ws_message(text);
  const WsEnvelope& env = envelope(p);
  EXPECT_EQ(env.event_type, EventType::kSnapshot);
  ASSERT_EQ(env.trades.size(), 2u);
  EXPECT_EQ(env.trades[0].trade.trade_id, 12u);
  EXPECT_EQ(env.trades[0].maker_side, TradeSide::kSell);
  EXPECT_EQ(env.trades[1].trade.trade_id, 11u);
}

TEST(WsMessage, HeartbeatCounterAsStringOrInteger) {
  for (const std::string counter : {R"("3049")", "3049"}) {
    const std::string text =
        R"({"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26.122969572Z","sequence_num":0,)"
        R"("events":[{"current_time":"2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105","heartbeat_counter":)" +
        counter + "}]}";
    const auto p = parse_ws_message(text);
    const WsEnvelope& env = envelope(p);
    ASSERT_EQ(env.heartbeats.size(), 1u);
    EXPECT_EQ(env.heartbeats[0].counter, 3049u);
    EXPECT_EQ(env.heartbeats[0].current_time_us, 1'687'552'316'121'961);
  }
}

TEST(WsMessage, TickerSnapshot) {
  const std::string text =
      R"({"channel":"ticker","client_id":"","timestamp":"2023-02-09T20:30:37.167359596Z","sequence_num":0,"events":[{"type":"snapshot","tickers":[)"
      R"({"type":"ticker","product_id":"BTC-USD","price":"21932.98","volume_24_h":"16038.28770938","low_24_h":"21835.29",)"
      R"("high_24_h":"23011.18","low_52_w":"15460","high_52_w":"48240","price_percent_chg_24_h":"-4.15775596190603",)"
      R"("best_bid":"21931.98","best_bid_quantity":"8000.21","best_ask":"21933.98","best_ask_quantity":"8038.07770938"}]}]})";
  const auto p = parse_ws_message(text);
  const WsEnvelope& env = envelope(p);
  EXPECT_EQ(env.channel, WsChannel::kTicker);
  ASSERT_EQ(env.tickers.size(), 1u);
  EXPECT_EQ(env.tickers[0].product, pid("BTC-USD"));
  EXPECT_DOUBLE_EQ(env.tickers[0].best_bid, 21931.98);
  EXPECT_DOUBLE_EQ(env.tickers[0].best_ask, 21933.98);
  EXPECT_DOUBLE_EQ(env.tickers[0].price, 21932.98);
}

TEST(WsMessage, SubscriptionsAck) {
  const std::string text =
      R"({"channel":"subscriptions","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":2,)"
      R"("events":[{"subscriptions":{"market_trades":["BTC-USD","ETH-USD"],"heartbeats":["heartbeats"]}}]})";
  const auto p = parse_ws_message(text);
  const WsEnvelope& env = envelope(p);
  EXPECT_EQ(env.channel, WsChannel::kSubscriptions);
  ASSERT_EQ(env.subscriptions.size(), 2u);
  EXPECT_EQ(env.subscriptions[0].channel, "market_trades");
  EXPECT_EQ(env.subscriptions[0].product_ids, (std::vector<std::string>{"BTC-USD", "ETH-USD"}));
}

TEST(WsMessage, ErrorMessage) {
  const auto p = parse_ws_message(R"({"type":"error","message":"authentication failure"})");
  ASSERT_TRUE(p.message.ok());
  EXPECT_EQ(std::get<WsError>(p.message.value()).message, "authentication failure");
  EXPECT_FALSE(p.sequence_num.has_value());
}

TEST(WsMessage, UnknownChannelIsOtherAndNotRead) {
  const auto p = parse_ws_message(
      R"({"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50Z","sequence_num":5,"events":[{"type":"snapshot","updates":"anything"}]})");
  const WsEnvelope& env = envelope(p);
  EXPECT_EQ(env.channel, WsChannel::kOther);
  EXPECT_EQ(env.channel_text, "l2_data");
}

TEST(WsMessage, UnknownExtraFieldsIgnored) {
  const auto p = parse_ws_message(trades_message(kGoodTrade + R"(,"new_field":{"x":[1,2]})"));
  EXPECT_TRUE(p.message.ok());
}

void expect_refused(const std::string& text, const std::string& reason_part, bool seq_known) {
  const auto p = parse_ws_message(text);
  ASSERT_FALSE(p.message.ok()) << text;
  EXPECT_NE(p.message.error().message.find(reason_part), std::string::npos)
      << "reason: " << p.message.error().message << "\nexpected: " << reason_part;
  EXPECT_EQ(p.sequence_num.has_value(), seq_known) << text;
}

TEST(WsMessage, RefusesJunk) {
  expect_refused("", "not JSON", false);
  expect_refused("{\"channel\":", "not JSON", false);
  expect_refused("[1,2]", "not a JSON object", false);
  expect_refused(R"({"type":"subscribe"})", "unknown message type", false);
  expect_refused(R"({"type":"error"})", "message: missing", false);
  expect_refused(R"({"sequence_num":1,"events":[]})", "channel: missing", true);
  expect_refused(R"({"channel":"ticker","timestamp":"2023-02-09T20:32:50Z","events":[]})", "sequence_num: missing",
                 false);
  expect_refused(R"({"channel":"ticker","sequence_num":-1,"timestamp":"2023-02-09T20:32:50Z","events":[]})",
                 "sequence_num: not a non-negative integer", false);
  expect_refused(R"({"channel":"ticker","sequence_num":"1","timestamp":"2023-02-09T20:32:50Z","events":[]})",
                 "sequence_num: not a non-negative integer", false);
  expect_refused(R"({"channel":"ticker","sequence_num":1.5,"timestamp":"2023-02-09T20:32:50Z","events":[]})",
                 "sequence_num", false);
  expect_refused(R"({"channel":"ticker","sequence_num":1,"events":[]})", "timestamp: missing", true);
  expect_refused(R"({"channel":"ticker","sequence_num":1,"timestamp":"yesterday","events":[]})", "timestamp", true);
  expect_refused(R"({"channel":"ticker","sequence_num":1,"timestamp":"2023-02-09T20:32:50Z","events":{}})",
                 "events: not an array", true);
  expect_refused(R"({"channel":"ticker","sequence_num":1,"timestamp":"2023-02-09T20:32:50Z","events":[1]})",
                 "events[0]: not an object", true);
}

TEST(WsMessage, RefusesBadTrades) {
  expect_refused(trades_message(replace(kGoodTrade, R"("price":"1260.01",)", "")), "price: missing", true);
  expect_refused(trades_message(replace(kGoodTrade, "\"1260.01\"", "1260.01")), "price: not a string", true);
  for (const char* bad : {"\"1e5\"", "\"abc\"", "\" 1\"", "\"+1\"", "\"nan\"", "\"inf\"", "\"1.\"",
                          "\".5\"", "\"0x10\"", "\"1,5\""}) {
    expect_refused(trades_message(replace(kGoodTrade, "\"1260.01\"", bad)), "not a decimal number", true);
  }
  expect_refused(trades_message(replace(kGoodTrade, "\"1260.01\"", "\"\"")), "empty number", true);
  expect_refused(trades_message(replace(kGoodTrade, "\"1260.01\"", "\"0\"")), "not > 0", true);
  expect_refused(trades_message(replace(kGoodTrade, "\"1260.01\"", "\"-1\"")), "not > 0", true);
  expect_refused(trades_message(replace(kGoodTrade, "\"0.3\"", "\"0.000\"")), "size: not > 0", true);
  expect_refused(trades_message(replace(kGoodTrade, "\"BUY\"", "\"buy\"")), "side", true);
  expect_refused(trades_message(replace(kGoodTrade, "\"000000123\"", "\"12a\"")), "trade_id", true);
  expect_refused(trades_message(replace(kGoodTrade, "\"000000123\"", "\"-5\"")), "trade_id", true);
  expect_refused(trades_message(replace(kGoodTrade, "\"000000123\"", "\"18446744073709551616\"")), "trade_id",
                 true);
  expect_refused(trades_message(replace(kGoodTrade, "\"ETH-USD\"", "\"eth-usd\"")), "product_id", true);
  expect_refused(trades_message(replace(kGoodTrade, ".265Z", ".265")), "time", true);
  expect_refused(trades_message(replace(kGoodTrade, "2019-08-14", "1969-12-31")), "time", true);
  expect_refused(trades_message(replace(kGoodTrade, "2019-08-14", "2019-02-29")), "time", true);
}

TEST(WsMessage, OneBadTradeRefusesTheBatch) {
  const std::string text = trades_message(kGoodTrade + "},{" + replace(kGoodTrade, "\"0.3\"", "\"x\""));
  expect_refused(text, "events[0].trades[1].size", true);
}

TEST(WsMessage, RefusesBadTickerAndHeartbeat) {
  const std::string ticker =
      R"({"channel":"ticker","client_id":"","timestamp":"2023-02-09T20:30:37Z","sequence_num":3,"events":[{"type":"update","tickers":[{"type":"ticker","product_id":"BTC-USD","price":"1","best_bid":"1","best_ask":"2"}]}]})";
  EXPECT_TRUE(parse_ws_message(ticker).message.ok());
  expect_refused(replace(ticker, R"("best_ask":"2")", R"("best_ask":"")"), "best_ask", true);
  expect_refused(replace(ticker, R"("type":"update")", R"("type":"delta")"), "neither snapshot nor update", true);
  const std::string hb =
      R"({"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26Z","sequence_num":4,"events":[{"current_time":"2023-06-23 20:31:56 +0000 UTC","heartbeat_counter":1}]})";
  EXPECT_TRUE(parse_ws_message(hb).message.ok());
  expect_refused(replace(hb, "\"heartbeat_counter\":1", "\"heartbeat_counter\":-1"), "heartbeat_counter", true);
  expect_refused(replace(hb, "\"heartbeat_counter\":1", "\"heartbeat_counter\":\"x\""), "heartbeat_counter", true);
  expect_refused(replace(hb, "+0000 UTC", "UTC"), "current_time", true);
}

TEST(WsMessage, DepthLimit) {
  // kDepthMax levels are fine inside an ignored field; one more is refused.
  const auto nested = [](std::size_t depth) {
    // The envelope object is level 1, so depth-1 arrays inside it.
    std::string inner(depth - 1, '[');
    inner += std::string(depth - 1, ']');
    return R"({"channel":"x","sequence_num":1,"timestamp":"2023-06-23T20:31:26Z","events":[],"pad":)" + inner + "}";
  };
  EXPECT_TRUE(parse_ws_message(nested(kDepthMax)).message.ok());
  expect_refused(nested(kDepthMax + 1), "not JSON", false);
}

TEST(WsMessage, FrameSizeLimit) {
  const std::string base = trades_message(kGoodTrade);
  WsParseLimits limits;
  limits.frame_bytes_max = base.size();
  EXPECT_TRUE(parse_ws_message(base, limits).message.ok());
  limits.frame_bytes_max = base.size() - 1;
  const auto p = parse_ws_message(base, limits);
  ASSERT_FALSE(p.message.ok());
  EXPECT_NE(p.message.error().message.find("exceeds"), std::string::npos);
}

TEST(WsMessage, TradesLimit) {
  std::string trades = kGoodTrade;
  for (int i = 0; i < 3; ++i) trades += "},{" + kGoodTrade;  // 4 trades
  WsParseLimits limits;
  limits.trades_max = 4;
  EXPECT_TRUE(parse_ws_message(trades_message(trades), limits).message.ok());
  limits.trades_max = 5;
  EXPECT_TRUE(parse_ws_message(trades_message(trades), limits).message.ok());
  limits.trades_max = 3;
  const auto p = parse_ws_message(trades_message(trades), limits);
  ASSERT_FALSE(p.message.ok());
  EXPECT_NE(p.message.error().message.find("more than 3 trades"), std::string::npos);
}

TEST(WsMessage, EventsLimit) {
  const std::string event = R"({"type":"update","trades":[]})";
  const std::string text =
      R"({"channel":"market_trades","timestamp":"2023-02-09T20:19:35Z","sequence_num":1,"events":[)" + event + "," +
      event + "]}";
  WsParseLimits limits;
  limits.events_max = 2;
  EXPECT_TRUE(parse_ws_message(text, limits).message.ok());
  limits.events_max = 1;
  EXPECT_FALSE(parse_ws_message(text, limits).message.ok());
}

TEST(WsMessage, TickersLimit) {
  const std::string ticker = R"({"type":"ticker","product_id":"BTC-USD","price":"1","best_bid":"1","best_ask":"2"})";
  const std::string text =
      R"({"channel":"ticker","timestamp":"2023-02-09T20:19:35Z","sequence_num":1,"events":[{"type":"snapshot","tickers":[)" +
      ticker + "," + ticker + "]}]}";
  WsParseLimits limits;
  limits.tickers_max = 3;
  EXPECT_TRUE(parse_ws_message(text, limits).message.ok());
  limits.tickers_max = 2;
  EXPECT_TRUE(parse_ws_message(text, limits).message.ok());
  limits.tickers_max = 1;
  EXPECT_FALSE(parse_ws_message(text, limits).message.ok());
}

TEST(WsMessage, SubscriptionChannelsLimit) {
  const std::string text =
      R"({"channel":"subscriptions","timestamp":"2023-02-09T20:19:35Z","sequence_num":0,"events":[{"subscriptions":{"a":[],"b":[]}}]})";
  WsParseLimits limits;
  limits.subscription_channels_max = 3;
  EXPECT_TRUE(parse_ws_message(text, limits).message.ok());
  limits.subscription_channels_max = 2;
  EXPECT_TRUE(parse_ws_message(text, limits).message.ok());
  limits.subscription_channels_max = 1;
  EXPECT_FALSE(parse_ws_message(text, limits).message.ok());
}

TEST(FieldParsers, Decimal) {
  EXPECT_DOUBLE_EQ(parse_decimal_text("1").value(), 1.0);
  EXPECT_DOUBLE_EQ(parse_decimal_text("-0.5").value(), -0.5);
  EXPECT_DOUBLE_EQ(parse_decimal_text("007.25").value(), 7.25);
  const std::string at_limit(kDecimalTextMax, '1');
  EXPECT_TRUE(parse_decimal_text(at_limit).ok());
  EXPECT_TRUE(parse_decimal_text(at_limit.substr(1)).ok());
  EXPECT_FALSE(parse_decimal_text(at_limit + "1").ok());
  for (const char* bad : {"", "-", ".", "1.", ".1", "1e3", "1E3", "+1", " 1", "1 ", "inf", "nan", "0x1", "1..2"}) {
    EXPECT_FALSE(parse_decimal_text(bad).ok()) << bad;
  }
}

TEST(FieldParsers, UnsignedInteger) {
  EXPECT_EQ(parse_uint_text("0").value(), 0u);
  EXPECT_EQ(parse_uint_text("18446744073709551615").value(), UINT64_MAX);
  EXPECT_FALSE(parse_uint_text("18446744073709551616").ok());
  for (const char* bad : {"", "-1", "+1", "1.0", " 1", "a"}) EXPECT_FALSE(parse_uint_text(bad).ok()) << bad;
}

TEST(FieldParsers, Rfc3339) {
  EXPECT_EQ(parse_rfc3339_us("1970-01-01T00:00:00Z").value(), 0);
  EXPECT_EQ(parse_rfc3339_us("2018-04-04T16:48:00Z").value(), 1'522'860'480'000'000);
  EXPECT_EQ(parse_rfc3339_us("2018-04-04T16:48:00.5Z").value(), 1'522'860'480'500'000);
  EXPECT_EQ(parse_rfc3339_us("2018-04-04T16:48:00.123456789Z").value(), 1'522'860'480'123'456);
  EXPECT_FALSE(parse_rfc3339_us("2018-04-04T16:48:00.1234567891Z").ok());  // 10 digits
  EXPECT_EQ(parse_rfc3339_us("2018-04-04T18:48:00+02:00").value(), 1'522'860'480'000'000);
  EXPECT_EQ(parse_rfc3339_us("2018-04-04T15:48:00-01:00").value(), 1'522'860'480'000'000);
  EXPECT_EQ(parse_rfc3339_us("2024-02-29T00:00:00Z").value(), 1'709'164'800'000'000);
  EXPECT_EQ(parse_rfc3339_us("2199-12-31T23:59:59Z").value(), (kTimestampMax_s - 1) * kMicrosPerSecond);
  for (const char* bad :
       {"2200-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2023-02-29T00:00:00Z", "2023-13-01T00:00:00Z",
        "2023-01-01T24:00:00Z", "2023-01-01T00:60:00Z", "2023-01-01T00:00:60Z", "2023-01-01 00:00:00Z",
        "2023-01-01T00:00:00", "2023-01-01T00:00:00.Z", "2023-01-01T00:00:00+0100", "2023-1-01T00:00:00Z", ""}) {
    EXPECT_FALSE(parse_rfc3339_us(bad).ok()) << bad;
  }
}

TEST(FieldParsers, GoTime) {
  EXPECT_EQ(parse_heartbeat_time_us("2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105").value(),
            1'687'552'316'121'961);
  EXPECT_EQ(parse_heartbeat_time_us("2023-06-23 22:31:56 +0200 CEST").value(), 1'687'552'316'000'000);
  EXPECT_EQ(parse_heartbeat_time_us("2023-06-23 20:31:56 +0000").value(), 1'687'552'316'000'000);
  EXPECT_EQ(parse_heartbeat_time_us("2023-06-23T20:31:56Z").value(), 1'687'552'316'000'000);
  EXPECT_FALSE(parse_heartbeat_time_us("2023-06-23 20:31:56 UTC").ok());
  EXPECT_FALSE(parse_heartbeat_time_us("2023-06-23 20:31:56 +0000UTC").ok());
  EXPECT_FALSE(parse_heartbeat_time_us("2023-06-23 20:31:56 +0000 " + std::string(100, 'x')).ok());
}

TEST(SubscribeMessage, OneChannelPerMessage) {
  EXPECT_EQ(make_subscribe_message("heartbeats", {}), R"({"type":"subscribe","channel":"heartbeats"})");
  EXPECT_EQ(make_subscribe_message("market_trades", {pid("BTC-USD"), pid("ETH-USD")}),
            R"({"type":"subscribe","channel":"market_trades","product_ids":["BTC-USD","ETH-USD"]})");
  EXPECT_EQ(make_unsubscribe_message("ticker", {pid("BTC-USD")}),
            R"({"type":"unsubscribe","channel":"ticker","product_ids":["BTC-USD"]})");
}

}  // namespace
}  // namespace ta::agent::coinbase
