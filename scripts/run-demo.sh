#!/usr/bin/env bash
# Runs the demo with already-built binaries: scripts/run-demo.sh BUILD_DIR [RUN_DIR]
# Imports the shipped demo bars into a fresh SQLite candle store, showing
# validation and gap reports (the Coinbase cut contains a real outage), then
# backtests the shipped strategies on the 2025 bars of that store.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:?usage: run-demo.sh BUILD_DIR [RUN_DIR]}"
run="${2:-run/demo-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$run"
agent="$build/agent/app/trading-agent"

echo "== demo run directory: $run"
for spec in BTC-USD:data/demo/BTC-USD_1m_demo.csv ETH-USD:data/demo/ETH-USD_1m_demo.csv \
            BTC-USD:data/demo/BTC-USD_1m_coinbase_outage.csv; do
  product="${spec%%:*}"
  file="${spec#*:}"
  echo "== import $file as $product"
  "$agent" data import "$file" --product "$product" --db "$run/candles.sqlite"
done
echo "== importing the same file again adds nothing (idempotent):"
"$agent" data import data/demo/BTC-USD_1m_demo.csv --product BTC-USD --db "$run/candles.sqlite"
echo "== candle store: $run/candles.sqlite (inspect with: sqlite3 $run/candles.sqlite)"
echo "== backtest: config/backtest.yaml (three strategies, each its own book) on the 2025 bars of the store"
"$build/agent/backtest/trading-backtest" --config config/backtest.yaml --data "$run/candles.sqlite" \
  --from 2025-07-10 --out "$run/backtest"
echo "== reports: $run/backtest/report.md, report.json, equity.svg"
