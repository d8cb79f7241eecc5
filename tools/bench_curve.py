"""What CurveZMQ costs per message: ping round trips and a line's stream over loopback, plaintext
beside CURVE, to in-process servers started in the same run.

    python tools/bench_curve.py [PINGS]
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zmq
from avbridge.client import Client
from avbridge.core.keys import make_keys
from avbridge.server.config import ServerConfig
from avbridge.server.transport import Server


def measure(server: Server, pings: int, **keys) -> tuple[np.ndarray, float]:
    with Client(server.endpoint, timeout=30, **keys) as client:
        for _ in range(200):
            client.ping()
        rtts = []
        for _ in range(pings):
            t = time.perf_counter()
            client.ping()
            rtts.append((time.perf_counter() - t) * 1e6)
        session = client.open(realtime=False, idle=False)
        session.say("Warm up.", timeout=60)
        t = time.perf_counter()
        session.say("The market opens at dawn, and the blacksmith will mend your sword for a fair price.", timeout=60)
        return np.array(rtts), time.perf_counter() - t


def main() -> None:
    pings = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    root = Path(tempfile.mkdtemp())
    make_keys(root, "server")
    make_keys(root, "client")
    (root / "allowed").mkdir()
    (root / "allowed" / "client.key").write_bytes((root / "client.key").read_bytes())
    plain = Server(ServerConfig(endpoint="tcp://127.0.0.1:0", mirror_endpoint=None, voice="espeak"), context=zmq.Context()).start()
    curve = Server(ServerConfig(endpoint="tcp://127.0.0.1:0", mirror_endpoint=None, voice="espeak",
                                curve_secret=str(root / "server.key_secret"), curve_clients=str(root / "allowed")),
                   context=zmq.Context()).start()
    try:
        rows = []
        for label, server, keys in (("plaintext (baseline)", plain, {}),
                                    ("CURVE", curve, {"server_key": str(root / "server.key"), "client_keys": str(root / "client.key_secret")})):
            rtts, line = measure(server, pings, **keys)
            rows.append((label, rtts, line))
    finally:
        plain.stop()
        curve.stop()
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; libzmq {zmq.zmq_version()}; {pings} pings each")
    print("\n| link | ping round trip p50 (µs) | p99 (µs) | x baseline (p50) | a 5 s line's whole stream, offline (ms) |")
    print("|---|---|---|---|---|")
    base = np.median(rows[0][1])
    for label, rtts, line in rows:
        print(f"| {label} | {np.median(rtts):.0f} | {np.percentile(rtts, 99):.0f} | {np.median(rtts) / base:.2f} | {line * 1000:.0f} |")


if __name__ == "__main__":
    main()
