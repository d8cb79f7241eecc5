"""The same streaming load on a single server process and on `serve --cluster` with one and with two
Ray worker processes, all started in the same run, over loopback.

    python tools/bench_cluster.py [--sessions 20,40] [--seconds 15] [--markdown FILE]

Each session talks continuously at 60 fps (the line is cached after its first synthesis, so the
load is motion and streaming, as in `avbridge bench`). Measured at the client for every frame
batch: its latency, from the moment the server was due to send it (its frame time minus the lead,
mapped to the client's clock by ping) to its arrival, and whether it came after its frame time
(late). Also the CPU of the whole process tree (front door, Ray's own processes, workers) as a
share of the machine, and its RSS.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from avbridge.cli.bench import (
    STREAM_LINE,
    ServerProcess,
    _cpu_seconds,
    machine_description,
)
from avbridge.client import Client
from soak import tree_rss_mb

LEAD_S = 0.5


def tree_cpu_seconds(server: ServerProcess) -> float:
    total = 0.0
    for pid in [server.process.pid, *server.descendants()]:
        try:
            total += _cpu_seconds(pid)
        except OSError:
            pass
    return total


def measure(server: ServerProcess, sessions: int, seconds: float) -> dict:
    clients = [Client(server.endpoint, timeout=60) for _ in range(max(1, sessions // 10))]
    opened = [clients[i % len(clients)].open() for i in range(sessions)]
    # Every session says the line once, all at the same time, so every worker has it cached.
    waiting = {s.id for s in opened}
    for s in opened:
        s.say_async(STREAM_LINE)
    deadline = time.monotonic() + 120
    while waiting and time.monotonic() < deadline:
        for client in clients:
            got = client.next_any_stream_message(timeout=0.01)
            if got is not None and got[0].type == "end":
                waiting.discard(got[0]["session"])
    offsets = {}
    for s in opened:
        best = None
        for _ in range(5):
            rtt, pong = s.client.ping(s.id)
            if best is None or rtt < best[0]:
                best = (rtt, time.monotonic() - rtt / 2 - pong["session_time"])
        offsets[s.id] = best[1]
    by_id = {s.id: s for s in opened}
    for s in opened:
        s.say_async(STREAM_LINE)
    latencies: list[float] = []
    late = 0
    started = time.monotonic()
    measure_from = started + 2.0                   # the first burst of every line starting at once
    cpu0, front0, t0 = None, 0.0, None
    while time.monotonic() - started < seconds + 2.0:
        if cpu0 is None and time.monotonic() >= measure_from:
            cpu0, front0, t0 = tree_cpu_seconds(server), server.cpu_seconds(), time.monotonic()
        for client in clients:
            got = client.next_any_stream_message(timeout=0.002)
            while got is not None:
                message, arrived = got
                sid = message["session"]
                if message.type == "frames" and arrived >= measure_from:
                    due = message["time"] + offsets[sid]
                    latencies.append((arrived - (due - LEAD_S)) * 1000)
                    late += arrived > due
                elif message.type == "end":
                    by_id[sid].say_async(STREAM_LINE)
                got = client.next_any_stream_message(timeout=0)
    wall = time.monotonic() - (t0 or started)
    cpu = tree_cpu_seconds(server) - (cpu0 or 0.0)
    front = server.cpu_seconds() - front0
    rss = tree_rss_mb(server.process.pid)
    for client in clients:
        client.close()
    p50, p95, p99 = (float(np.percentile(latencies, p)) for p in (50, 95, 99))
    return {"batches": len(latencies), "late": late, "p50": p50, "p95": p95, "p99": p99,
            "max": float(max(latencies)), "cpu": 100 * cpu / wall, "front": 100 * front / wall, "rss": rss}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", default="20,40")
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--voice", default="piper")
    p.add_argument("--markdown", help="also append the table to this file")
    args = p.parse_args()
    setups = [("single server process", []),
              ("cluster, 1 worker", ["--cluster", "local", "--cluster-workers", "1", "--cluster-worker-cpus", "1"]),
              ("cluster, 2 workers", ["--cluster", "local", "--cluster-workers", "2", "--cluster-worker-cpus", "1"])]
    rows = []
    for count in [int(n) for n in args.sessions.split(",")]:
        for name, extra in setups:
            server = ServerProcess(args.voice, 60.0, extra=extra)
            try:
                r = measure(server, count, args.seconds)
            finally:
                server.stop()
            rows.append((count, name, r))
            print(f"{count} sessions, {name}: p99 {r['p99']:.2f} ms, late {r['late']}", file=sys.stderr, flush=True)
    baseline = {count: r for count, name, r in rows if name == "single server process"}
    lines = [f"Machine: {machine_description()}. {args.seconds:g} s per row after a 2 s start, 60 fps, lead {LEAD_S} s.", "",
             ("| sessions | server | frame batches | latency p50 (ms) | p95 | p99 | max | p99 / single | late batches "
             "| CPU (% of one core, all processes) | of which the front process | RSS (MB, all processes) |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for count, name, r in rows:
        ratio = r["p99"] / baseline[count]["p99"] if baseline[count]["p99"] > 0 else float("nan")
        lines.append(f"| {count} | {name} | {r['batches']} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} "
                     f"| {r['max']:.1f} | {ratio:.2f} | {r['late']} | {r['cpu']:.0f} | {r['front']:.0f} | {r['rss']:.0f} |")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
