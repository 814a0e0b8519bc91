#!/usr/bin/env bash
# Parity: the same data and set-up through trading-backtest and through the
# daemon pair in SIM must give identical fills, fees, positions and equity,
# compared exactly (fixed-point text).
# Usage: sim_parity.sh SOURCE_DIR BUILD_DIR [ACK_LATENCY ACK_LATENCY_JITTER]
# The optional pair replaces venue.sim.ack_latency and ack_latency_jitter of
# the shipped gate.yaml (both sides read it), e.g. "45s 30s": orders then
# reach the venue one or two bars after their decision.
set -euo pipefail
src="$1"
build="$2"
latency="${3:-}"
jitter="${4:-}"
work="$(mktemp -d)"
gate_pid=""
cleanup() {
  [ -n "$gate_pid" ] && kill "$gate_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/data" "$work/run"
cp -r "$src/config" "$src/rules" "$work/"
cp -r "$src/data/demo" "$work/data/"
if [ -n "$latency" ]; then
  sed -i -E "s/^(    ack_latency: )[0-9a-z]+/\1$latency/; s/^(    ack_latency_jitter: )[0-9a-z]+/\1$jitter/" "$work/config/gate.yaml"
  grep -q "ack_latency: $latency" "$work/config/gate.yaml" || { echo "could not set ack_latency"; exit 1; }
  grep -q "ack_latency_jitter: $jitter" "$work/config/gate.yaml" || { echo "could not set ack_latency_jitter"; exit 1; }
  echo "venue.sim.ack_latency=$latency ack_latency_jitter=$jitter"
fi

"$build/gate/app/trading-gate" --config "$work/config/gate.yaml" >"$work/run/gate.log" 2>&1 &
gate_pid=$!
for _ in $(seq 1 200); do
  [ -S "$work/run/admin.sock" ] && break
  sleep 0.1
done
[ -S "$work/run/admin.sock" ] || { echo "trading-gate did not start"; tail "$work/run/gate.log"; exit 1; }
"$build/agent/app/trading-agent" --config "$work/config/agent.yaml" >"$work/run/agent.log" 2>&1
"$build/gate/tradectl/tradectl" --socket "$work/run/admin.sock" positions --json >"$work/sim_positions.json"
kill -TERM "$gate_pid"
wait "$gate_pid" || true
gate_pid=""
"$build/journal/trading-journal" stats "$work/run/journal" >"$work/sim_stats.txt"

"$build/agent/backtest/trading-backtest" --config "$work/config/parity.yaml" \
  --data "BTC-USD=$work/data/demo/BTC-USD_1m_demo.csv" --data "ETH-USD=$work/data/demo/ETH-USD_1m_demo.csv" \
  --out "$work/backtest" >/dev/null

python3 - "$work" <<'PY'
import json, re, sys
work = sys.argv[1]
report = json.load(open(f"{work}/backtest/report.json"))
sim = json.load(open(f"{work}/sim_positions.json"))
stats = open(f"{work}/sim_stats.txt").read()
agent_log = open(f"{work}/run/agent.log").read()

def find(obj, key):
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for v in obj.values():
            r = find(v, key)
            if r is not None:
                return r
    if isinstance(obj, list):
        for v in obj:
            r = find(v, key)
            if r is not None:
                return r
    return None

problems = []
def same(what, a, b):
    print(f"{what}: backtest={a} sim={b}")
    if str(a) != str(b):
        problems.append(what)

sim_equity = re.findall(r"final_equity=([-0-9.]+)", agent_log)[-1]
same("final equity", report["account"]["end_equity"], sim_equity)
same("fees", report["account"]["fees"], find(sim, "fees_paid"))
fills = re.search(r"gate body fill: (\d+)", stats)
same("fills", sum(p["fills"] for p in report["products"]), int(fills.group(1)) if fills else 0)
positions = {p["product"]: p["quantity"] for p in find(sim, "positions") or []}
for p in report["products"]:
    same(f"{p['product']} position", p["final_position"], positions.get(p["product"], "0"))
if problems:
    print("PARITY BROKEN:", ", ".join(problems))
    sys.exit(1)
print("parity: identical")
PY
