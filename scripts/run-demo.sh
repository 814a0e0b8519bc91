#!/usr/bin/env bash
# Runs the demo with already-built binaries: scripts/run-demo.sh BUILD_DIR [RUN_DIR]
# Imports the shipped demo bars into a fresh SQLite candle store, showing
# validation and gap reports (the Coinbase cut contains a real outage), then
# backtests the shipped strategies on the 2025 bars of that store, and
# finally runs both daemons in SIM mode on the same demo bars: trading-gate
# with its SimVenue and journal, trading-agent replaying the CSVs in
# lockstep, then inspects the result with tradectl and trading-journal.
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

echo
echo "== SIM: trading-gate + trading-agent on data/demo (copied config in $run/sim)"
sim="$run/sim"
mkdir -p "$sim/data" "$sim/run"
cp -r config rules "$sim/"
cp -r data/demo "$sim/data/"
gate_log="$sim/run/gate.log"
"$build/gate/app/trading-gate" --config "$sim/config/gate.yaml" >"$gate_log" 2>&1 &
gate_pid=$!
trap 'kill "$gate_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  [ -S "$sim/run/admin.sock" ] && break
  sleep 0.1
done
if ! [ -S "$sim/run/admin.sock" ]; then
  echo "trading-gate did not start; its log:" >&2
  tail -20 "$gate_log" >&2
  exit 1
fi
"$build/agent/app/trading-agent" --config "$sim/config/agent.yaml" >"$sim/run/agent.log" 2>&1
grep 'sim finished' "$sim/run/agent.log" | tail -1 | sed 's/.*summary /agent: /'
tradectl="$build/gate/tradectl/tradectl"
"$tradectl" --socket "$sim/run/admin.sock" status
"$tradectl" --socket "$sim/run/admin.sock" positions
kill -TERM "$gate_pid"
wait "$gate_pid" || true
trap - EXIT
"$build/journal/trading-journal" verify "$sim/run/journal"
"$build/journal/trading-journal" stats "$sim/run/journal"
cat <<EOF

== Left behind in $run:
  candles.sqlite            the candle store       (sqlite3 $run/candles.sqlite)
  backtest/                 report.md, report.json, equity.svg
  sim/run/journal           the gate's journal     ($build/journal/trading-journal dump --jsonl $sim/run/journal)
  sim/run/agent/journal     the agent's journal    ($build/journal/trading-journal stats $sim/run/agent/journal)
  sim/run/*.log             both daemons' logs
  Restart the gate on the same directory and ask it:
    $build/gate/app/trading-gate --config $sim/config/gate.yaml &
    $tradectl --socket $sim/run/admin.sock orders --all
EOF
