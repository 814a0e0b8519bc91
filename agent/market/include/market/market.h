// ta_agent_market: the agent's market data. Include this, or one of:
//   market/bar.h         products, bars, trades, quotes, gaps
//   market/aggregator.h  trades -> 1-minute bars
//   market/csv.h         bar CSV files: strict reading and validation
//   market/store.h       SQLite candle store and the import pipeline
//   market/feed.h        push-style feeds, schedulers, the replay feed
// docs/market-data.md describes the semantics in prose.
#pragma once

#include "market/aggregator.h"
#include "market/bar.h"
#include "market/csv.h"
#include "market/feed.h"
#include "market/store.h"
