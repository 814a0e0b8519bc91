#!/usr/bin/env python3
"""SIM end to end: trading-gate and trading-agent, both real binaries, in SIM
mode on a temporary copy of config/ and rules/, measured from outside
(docs/performance-sim.md).

Each repetition starts trading-gate, waits for its sockets, runs
trading-agent to the end of the data, reads both daemons' CPU time, stops
the gate with SIGTERM, and prints one line:

  bars, wall time of the agent process (start to exit), bars/s over that
  time, the SIM phase alone (first bar sent to summary, from the agent's
  log), user and system CPU seconds of each daemon, fdatasync calls of each
  (with --strace), and the load average before the run.

Afterwards it prints the median of the repetitions and checks that every
repetition ended with the same equity, fills and fees, and (unless
--no-backtest) that trading-backtest with config/parity.yaml on the same
bars agrees exactly. A benchmark, not a test: it asserts nothing about
speed and exits 1 only when the daemons fail or the results differ.

  bench_sim.py [--build DIR] [--data demo|binance] [--minutes N]
               [--repeat N] [--dir DIR] [--keep] [--no-backtest] [--strace]
               [--agent-set KEY=VALUE ...]

--data demo     data/demo: 2 x 4,320 one-minute bars (8,640 bars)
--data binance  $TA_SHARED_DATA (default ../shared/data): the 90-day Binance
                BTCUSDT and ETHUSDT files as BTC-USD and ETH-USD
                (2 x 129,600 = 259,200 bars)
--minutes N     only the first N rows of each file (2N bars)
--agent-set     overrides one top-level or dotted key of agent.yaml, e.g.
                --agent-set gate.bars_in_flight_max=0 (YAML value text)
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2]
TICKS = os.sysconf("SC_CLK_TCK")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=str(SOURCE / "build" / "release"))
    p.add_argument("--data", default="binance", choices=["demo", "binance"])
    p.add_argument("--minutes", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--dir", default=os.environ.get("TA_BENCH_DIR", tempfile.gettempdir()))
    p.add_argument("--keep", action="store_true", help="keep the run directories")
    p.add_argument("--no-backtest", action="store_true")
    p.add_argument("--strace", action="store_true", help="count fdatasync calls with strace -f (slower)")
    p.add_argument("--agent-set", action="append", default=[])
    return p.parse_args()


def data_files(kind):
    if kind == "demo":
        d = SOURCE / "data" / "demo"
        return {"BTC-USD": d / "BTC-USD_1m_demo.csv", "ETH-USD": d / "ETH-USD_1m_demo.csv"}
    shared = Path(os.environ.get("TA_SHARED_DATA", SOURCE.parent / "shared" / "data"))
    if not shared.exists():
        shared = Path("/work/shared/data")
    return {
        "BTC-USD": shared / "binance_BTCUSDT_1m_2025-05-20_2025-08-17.csv",
        "ETH-USD": shared / "binance_ETHUSDT_1m_2025-05-20_2025-08-17.csv",
    }


def copy_data(files, dest, minutes):
    """Copies (or truncates to `minutes` data rows) each CSV into dest."""
    dest.mkdir(parents=True, exist_ok=True)
    out = {}
    for product, src in files.items():
        target = dest / f"{product}.csv"
        with open(src) as f, open(target, "w") as g:
            header = f.readline()
            g.write(header)
            for i, line in enumerate(f):
                if minutes and i >= minutes:
                    break
                g.write(line)
        out[product] = target
    return out


def set_key(text, dotted, value):
    """Replaces or adds `dotted` (a.b) in a simple block-style YAML text."""
    parts = dotted.split(".")
    lines = text.split("\n")
    start, end, indent = 0, len(lines), 0
    for depth, key in enumerate(parts):
        found = None
        for i in range(start, end):
            line = lines[i]
            if re.match(rf"^{' ' * indent}{re.escape(key)}:", line):
                found = i
                break
        last = depth == len(parts) - 1
        if found is None:
            lines.insert(start if depth else len(lines), " " * indent + key + ":" + (" " + value if last else ""))
            if last:
                return "\n".join(lines)
            found = start if depth else len(lines) - 1
        if last:
            lines[found] = " " * indent + key + ": " + value
            return "\n".join(lines)
        # The block of this key: following lines indented deeper.
        start = found + 1
        end = start
        while end < len(lines) and (lines[end].startswith(" " * (indent + 1)) or not lines[end].strip()):
            end += 1
        indent += 2
    return "\n".join(lines)


def cpu_seconds(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) / TICKS, int(fields[12]) / TICKS
    except OSError:
        return float("nan"), float("nan")


def log_time(line):
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)", line)
    if not m:
        return None
    t = m.group(1)
    return time.mktime(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S")) + float("0" + t[19:])


def count_syscalls(path):
    counts = {}
    if not path.exists():
        return counts
    for line in path.read_text().splitlines():
        m = re.search(r"\b(fdatasync|fsync)\(", line)
        if m:
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


def run_once(args, files, work):
    run = work / "run"
    run.mkdir(parents=True)
    shutil.copytree(SOURCE / "config", work / "config")
    shutil.copytree(SOURCE / "rules", work / "rules")
    data = copy_data(files, work / "data", args.minutes)
    agent_yaml = work / "config" / "agent.yaml"
    text = agent_yaml.read_text()
    for product, path in data.items():
        text = set_key(text, f"feed.csv.{product}", "{file: " + str(path) + "}")
    for item in args.agent_set:
        key, value = item.split("=", 1)
        text = set_key(text, key, value)
    agent_yaml.write_text(text)

    build = Path(args.build)
    gate_cmd = [str(build / "gate/app/trading-gate"), "--config", str(work / "config/gate.yaml")]
    agent_cmd = [str(build / "agent/app/trading-agent"), "--config", str(agent_yaml)]
    if args.strace:
        gate_cmd = ["strace", "-f", "-qq", "-e", "trace=fdatasync,fsync", "-o", str(run / "gate.strace")] + gate_cmd
        agent_cmd = ["strace", "-f", "-qq", "-e", "trace=fdatasync,fsync", "-o", str(run / "agent.strace")] + agent_cmd
    gate_log = open(run / "gate.log", "w")
    gate = subprocess.Popen(gate_cmd, stdout=gate_log, stderr=subprocess.STDOUT)
    try:
        for _ in range(400):
            if (run / "admin.sock").exists():
                break
            if gate.poll() is not None:
                raise RuntimeError("trading-gate exited: " + (run / "gate.log").read_text()[-2000:])
            time.sleep(0.025)
        else:
            raise RuntimeError("trading-gate did not start")
        gate_pid = gate.pid
        if args.strace:
            # strace's child is the gate.
            kids = Path(f"/proc/{gate.pid}/task/{gate.pid}/children").read_text().split()
            gate_pid = int(kids[0]) if kids else gate.pid
        gate_cpu0 = cpu_seconds(gate_pid)
        load = Path("/proc/loadavg").read_text().split()[:3]
        agent_log = open(run / "agent.out", "w")
        t0 = time.monotonic()
        agent = subprocess.Popen(agent_cmd, stdout=agent_log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(agent.pid, 0)
        wall = time.monotonic() - t0
        agent.returncode = os.waitstatus_to_exitcode(status)
        gate_cpu1 = cpu_seconds(gate_pid)
        load_after = Path("/proc/loadavg").read_text().split()[:3]
        if agent.returncode != 0:
            raise RuntimeError("trading-agent exited %d: %s" % (agent.returncode, (run / "agent.out").read_text()[-3000:]))
    finally:
        gate.send_signal(signal.SIGTERM)
        try:
            gate.wait(30)
        except subprocess.TimeoutExpired:
            gate.kill()
            gate.wait()
        gate_log.close()

    out = (run / "agent.out").read_text()
    summary = re.findall(r"^summary (.*)$", out, re.M)[-1]
    fields = dict(kv.split("=", 1) for kv in summary.split() if "=" in kv)
    start = finish = None
    for line in out.splitlines():
        if start is None and " sim start " in line:
            start = log_time(line)
        if " sim finished " in line:
            finish = log_time(line)
    bars = int(fields["bars"])
    result = {
        "bars": bars,
        "wall_s": wall,
        "bars_per_s": bars / wall,
        "sim_s": (finish - start) if start and finish else float("nan"),
        "agent_user_s": usage.ru_utime,
        "agent_sys_s": usage.ru_stime,
        "gate_user_s": gate_cpu1[0] - gate_cpu0[0],
        "gate_sys_s": gate_cpu1[1] - gate_cpu0[1],
        "load_before": " ".join(load),
        "load_after": " ".join(load_after),
        "final_equity": fields.get("final_equity"),
        "fills": fields.get("fills"),
        "intents": fields.get("intents"),
        "accepted": fields.get("accepted"),
        "denied": fields.get("denied"),
        "summary": summary,
    }
    result["sim_bars_per_s"] = bars / result["sim_s"] if result["sim_s"] == result["sim_s"] and result["sim_s"] > 0 else float("nan")
    if args.strace:
        result["agent_syncs"] = count_syscalls(run / "agent.strace")
        result["gate_syncs"] = count_syscalls(run / "gate.strace")
    stats = subprocess.run([str(build / "journal/trading-journal"), "stats", str(run / "journal")],
                           capture_output=True, text=True)
    result["gate_journal_stats"] = stats.stdout
    return result, data


def backtest(args, data, work):
    cmd = [str(Path(args.build) / "agent/backtest/trading-backtest"), "--config", str(work / "config/parity.yaml"),
           "--out", str(work / "backtest"), "--quiet"]
    for product, path in data.items():
        cmd += ["--data", f"{product}={path}"]
    subprocess.run(cmd, check=True, capture_output=True)
    return json.loads((work / "backtest" / "report.json").read_text())


def main():
    args = parse_args()
    files = data_files(args.data)
    base = Path(tempfile.mkdtemp(prefix="bench-sim-", dir=args.dir))
    results = []
    data = None
    print(f"# bench_sim data={args.data} minutes={args.minutes or 'all'} repeat={args.repeat} build={args.build}")
    print(f"# {'bars':>7} {'wall_s':>8} {'bars/s':>9} {'sim_s':>7} {'sim bars/s':>10} "
          f"{'agent u+s':>11} {'gate u+s':>11}  load before / after")
    ok = True
    try:
        for i in range(args.repeat):
            work = base / f"run{i}"
            r, data = run_once(args, files, work)
            results.append(r)
            syncs = ""
            if args.strace:
                syncs = f"  syncs agent={r['agent_syncs']} gate={r['gate_syncs']}"
            print(f"  {r['bars']:>7} {r['wall_s']:>8.3f} {r['bars_per_s']:>9.0f} {r['sim_s']:>7.3f} "
                  f"{r['sim_bars_per_s']:>10.0f} {r['agent_user_s']:>5.2f}+{r['agent_sys_s']:<5.2f} "
                  f"{r['gate_user_s']:>5.2f}+{r['gate_sys_s']:<5.2f}  {r['load_before']} / {r['load_after']}{syncs}",
                  flush=True)
        med = lambda k: statistics.median(r[k] for r in results)
        print(f"median: bars={results[0]['bars']} wall_s={med('wall_s'):.3f} bars/s={med('bars_per_s'):.0f} "
              f"sim bars/s={med('sim_bars_per_s'):.0f} agent cpu={med('agent_user_s') + med('agent_sys_s'):.2f}s "
              f"gate cpu={med('gate_user_s') + med('gate_sys_s'):.2f}s")
        print("summary:", results[0]["summary"])
        for r in results[1:]:
            for k in ("final_equity", "fills", "intents", "accepted", "denied"):
                if r[k] != results[0][k]:
                    print(f"DIFFERENT {k}: {results[0][k]} vs {r[k]}")
                    ok = False
        if not args.no_backtest:
            report = backtest(args, data, base / "run0")
            end_equity = report["account"]["end_equity"]
            fills = sum(p["fills"] for p in report["products"])
            same = end_equity == results[0]["final_equity"] and str(fills) == results[0]["fills"]
            print(f"backtest: end_equity={end_equity} fills={fills} -> {'identical' if same else 'DIFFERENT'}")
            ok = ok and same
    finally:
        if args.keep:
            print("kept:", base)
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
