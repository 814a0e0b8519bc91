// Fuzzes the Coinbase WebSocket message parser and its field parsers.
// Nothing may crash; an accepted message must hold only valid values
// (positive finite prices and sizes, times in range, valid product ids,
// limits respected); a refused one must say why.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "coinbase/ws_message.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool valid_time(std::int64_t us) {
  return us >= 0 && us < ta::agent::kTimestampMax_s * ta::agent::kMicrosPerSecond;
}

void check_parsed(const ta::agent::coinbase::ParsedWsMessage& p, const ta::agent::coinbase::WsParseLimits& limits) {
  using namespace ta::agent::coinbase;
  if (!p.message.ok()) {
    check(!p.message.error().message.empty());
    return;
  }
  const auto* env = std::get_if<WsEnvelope>(&p.message.value());
  if (env == nullptr) return;  // WsError: any text
  check(p.sequence_num.has_value() && *p.sequence_num == env->sequence_num);
  check(valid_time(env->timestamp_us));
  check(env->trades.size() <= limits.trades_max);
  check(env->tickers.size() <= limits.tickers_max);
  for (const WsTrade& t : env->trades) {
    check(env->channel == WsChannel::kMarketTrades);
    check(!t.trade.product.empty());
    check(std::isfinite(t.trade.price) && t.trade.price > 0);
    check(std::isfinite(t.trade.size) && t.trade.size > 0);
    check(valid_time(t.trade.time_us));
  }
  for (const WsTicker& t : env->tickers) {
    check(env->channel == WsChannel::kTicker);
    check(!t.product.empty());
    check(t.price > 0 && t.best_bid > 0 && t.best_ask > 0);
    check(std::isfinite(t.price) && std::isfinite(t.best_bid) && std::isfinite(t.best_ask));
  }
  for (const WsHeartbeat& h : env->heartbeats) {
    check(env->channel == WsChannel::kHeartbeats);
    check(valid_time(h.current_time_us));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ta::agent::coinbase;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const WsParseLimits defaults;
  check_parsed(parse_ws_message(text, defaults), defaults);
  WsParseLimits small;
  small.frame_bytes_max = 4096;
  small.trades_max = 3;
  small.events_max = 2;
  small.tickers_max = 2;
  small.subscription_channels_max = 2;
  check_parsed(parse_ws_message(text, small), small);

  if (auto d = parse_decimal_text(text); d.ok()) check(std::isfinite(*d));
  if (auto t = parse_rfc3339_us(text); t.ok()) check(valid_time(*t));
  if (auto t = parse_heartbeat_time_us(text); t.ok()) check(valid_time(*t));
  (void)parse_uint_text(text);
  return 0;
}
