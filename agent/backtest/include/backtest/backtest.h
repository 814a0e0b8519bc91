// ta_backtest: the offline backtester behind trading-backtest. Include
// this, or one of:
//   backtest/config.h  the backtest YAML: gate config, strategies, books
//   backtest/data.h    bars from CSV files or the candle store, merged
//   backtest/run.h     run_backtest() and the exact SIM event order
//   backtest/report.h  metrics, report.json, report.md, equity.svg
//   backtest/jobs.h    many runs on a thread pool (Loop 2)
// docs/backtest.md describes all of it in prose.
#pragma once

#include "backtest/config.h"
#include "backtest/data.h"
#include "backtest/jobs.h"
#include "backtest/report.h"
#include "backtest/run.h"
