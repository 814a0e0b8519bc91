// Coinbase Advanced Trade WebSocket messages: a strict parser for what the
// market-data feed receives, and the subscribe/unsubscribe messages it sends.
//
// Received messages (docs/coinbase-market-data.md has examples):
//   envelope  {"channel":C,"client_id":"","timestamp":RFC3339,
//              "sequence_num":N,"events":[...]}
//   error     {"type":"error","message":"..."} (no envelope)
// Channels parsed: "subscriptions" (the ack), "heartbeats", "market_trades"
// and "ticker". Every other channel (l2_data, candles, status, user, ...)
// is kOther: its envelope is checked, its events are not read, because
// clients must ignore channels they do not know.
//
// Strictness. A message is accepted whole or refused whole: one bad trade
// in a batch refuses the batch, so no trade is ever built from a message
// that is partly wrong. Refused are: text that is not JSON, nesting deeper
// than kDepthMax, text longer than frame_bytes_max, a missing or mistyped
// field, a number that is not a plain decimal string ("1e5", " 1", "+1",
// "nan", "" are refused), a price or size that is not > 0, a time that is
// not RFC 3339 or lies outside [1970, 2200), a product id that
// ProductId::parse refuses, a trade id that is not a decimal uint64, a side
// other than "BUY"/"SELL", more than events_max events or trades_max
// trades. Unknown extra fields are ignored (the venue may add fields).
// Numbers travel as JSON strings except sequence_num (a JSON integer) and
// heartbeat_counter (a string in the prose docs, an integer on the
// production feed: both are accepted).
//
// The parser is pure (no I/O, no clock, no global state) and total: any
// byte string gives a value or an error, never a crash. It is fuzzed
// (tests/fuzz/fuzz_coinbase_ws_message.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "market/bar.h"
#include "proto/result.h"

namespace ta::agent::coinbase {

struct WsParseLimits {
  // The longest message on the three channels we subscribe to is a
  // market_trades batch (250 ms of trades) or the subscribe-time snapshot;
  // a 10,000-trades-per-second cascade is about 400 KB per batch. 4 MiB
  // leaves ten times that; the Python SDK allows 10 MiB for all channels
  // including level2 snapshots, which we do not use.
  std::size_t frame_bytes_max = 4u << 20;
  // A batch of more trades than this is refused: at 150 bytes per trade
  // it would exceed frame_bytes_max anyway.
  std::size_t trades_max = 30'000;
  // Events per message. Coinbase sends one event per message on these
  // channels (the ticker snapshot one per product).
  std::size_t events_max = 256;
  // Tickers per message (one per subscribed product in a snapshot).
  std::size_t tickers_max = 1'024;
  // Channels listed in one subscriptions ack.
  std::size_t subscription_channels_max = 64;
};

// Nesting of our messages: envelope > events > event > trades > trade is 5
// levels; 16 refuses pathological nesting early.
inline constexpr std::size_t kDepthMax = 16;
// Longest numeric string accepted for a price or size: 32 characters hold
// 20 integer and 11 fractional digits.
inline constexpr std::size_t kDecimalTextMax = 32;

enum class WsChannel {
  kSubscriptions,
  kHeartbeats,
  kMarketTrades,
  kTicker,
  kOther,  // envelope checked, events ignored
};
std::string_view channel_name(WsChannel channel);

enum class TradeSide { kBuy, kSell };

// One trade of a market_trades event. `maker_side` is the side of the
// resting (maker) order, as Coinbase documents: "BUY" means the taker sold.
struct WsTrade {
  Trade trade;  // product, trade_id, time_us, price, size
  TradeSide maker_side = TradeSide::kBuy;
};

// One entry of a ticker event. best_bid/best_ask are the top of book after
// the match that produced the tick.
struct WsTicker {
  ProductId product;
  double price = 0;
  double best_bid = 0;
  double best_ask = 0;
};

struct WsHeartbeat {
  std::int64_t current_time_us = 0;  // the venue's clock, Unix microseconds
  std::uint64_t counter = 0;
};

// One channel and its product ids from a subscriptions ack.
struct WsSubscription {
  std::string channel;
  std::vector<std::string> product_ids;
};

enum class EventType { kSnapshot, kUpdate };

// A data message (anything with the envelope).
struct WsEnvelope {
  WsChannel channel = WsChannel::kOther;
  std::string channel_text;  // as received, e.g. "l2_data"
  std::uint64_t sequence_num = 0;
  std::int64_t timestamp_us = 0;
  // Filled according to `channel`; trades are in message order.
  std::vector<WsTrade> trades;
  std::vector<WsTicker> tickers;
  std::vector<WsHeartbeat> heartbeats;
  std::vector<WsSubscription> subscriptions;
  // kSnapshot when any event of the message is a snapshot.
  EventType event_type = EventType::kUpdate;
};

// {"type":"error","message":...}
struct WsError {
  std::string message;
};

using WsMessage = std::variant<WsEnvelope, WsError>;

struct ParsedWsMessage {
  // The envelope's sequence_num when it could be read, even if the rest of
  // the message is refused: the message did arrive and counts for
  // sequence-gap detection.
  std::optional<std::uint64_t> sequence_num;
  // The message, or why it was refused.
  Result<WsMessage> message = Error{"not parsed"};
};

ParsedWsMessage parse_ws_message(std::string_view text, const WsParseLimits& limits = {});

// Field parsers, exposed for tests and the REST client.
//
// A plain decimal: optional '-', digits, optional '.' and digits, at most
// kDecimalTextMax characters; the nearest double.
Result<double> parse_decimal_text(std::string_view text);
// A decimal uint64 ("000000123" is 123); no sign, no spaces.
Result<std::uint64_t> parse_uint_text(std::string_view text);
// RFC 3339 UTC time: "2023-02-09T20:32:50.714964855Z", 0 to 9 fractional
// digits, "Z" or a "+HH:MM"/"-HH:MM" offset. Microseconds since the Unix
// epoch (fraction truncated), within [0, kTimestampMax_s).
Result<std::int64_t> parse_rfc3339_us(std::string_view text);
// The heartbeat's current_time in Go's time.String() form,
// "2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105" (zone name
// and monotonic reading ignored); RFC 3339 is accepted too.
Result<std::int64_t> parse_heartbeat_time_us(std::string_view text);

// Subscribe or unsubscribe message for one channel (Coinbase takes one
// channel per message). Empty `products` omits product_ids (heartbeats).
// No jwt: public channels do not need one.
std::string make_subscribe_message(std::string_view channel, const std::vector<ProductId>& products);
std::string make_unsubscribe_message(std::string_view channel, const std::vector<ProductId>& products);

}  // namespace ta::agent::coinbase
