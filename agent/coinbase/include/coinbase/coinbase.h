// ta_agent_coinbase: the agent's Coinbase Advanced Trade market data.
// Include this, or one of:
//   coinbase/ws_message.h  strict parser of WebSocket messages, subscribe text
//   coinbase/ws_feed.h     CoinbaseWsFeed: live trades -> 1-minute bars (a Feed)
//   coinbase/candles.h     REST candle backfill, paged, validated, into the store
//   coinbase/backoff.h     exponential backoff with seeded jitter
// docs/coinbase-market-data.md describes the behaviour in prose. Order
// placement and the authenticated user channel are not here.
#pragma once

#include "coinbase/backoff.h"
#include "coinbase/candles.h"
#include "coinbase/ws_feed.h"
#include "coinbase/ws_message.h"
