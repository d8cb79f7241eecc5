"""How evenly Live Link and VMC datagrams leave the server, against the frame times they carry
(docs/benchmarks.md "Outputs").

    .venv/bin/python tools/bench_outputs.py [--sessions 1,8] [--lines 3]

A receiver thread on loopback stamps each Live Link packet on arrival. A packet's error is its
arrival minus its frame time on the stage clock (frame number / fps), less the median of that
difference over the run (the clocks' offset, and the lead Unreal never sees). Reported: p50, p99
and max of |error| in ms, and the share of packets more than 2 ms off.

The sender process starts with the first output (about a second, reported); the speaking starts
once it is ready. "Reached the sender late": frames the server made or encoded after their time,
which no sender can send on time.

Baseline, measured in the same run on the same machine: a loop that sends one datagram a frame
with `time.sleep` until each frame's time (what a hand-written sender would do), with nothing
else running. The ratio says how much the server's load adds to what the machine's timers give.
"""

from __future__ import annotations

import argparse
import platform
import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "tests"))

from avbridge.adapters import livelink  # noqa: E402
from avbridge.client import Client  # noqa: E402

LINES = ("The gate stays shut until the captain says otherwise.",
         "Bring me three wolf pelts and I will see what I can do.",
         "Mind the bridge, it has not been repaired since the flood.")


class Receiver:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.arrivals: list[tuple[float, str, int, float]] = []   # (arrival, subject, frame, sub)
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            now = time.monotonic()
            p = livelink.decode(data)
            self.arrivals.append((now, p.subject, p.frame_number, p.sub_frame))

    def close(self) -> None:
        self._stop = True
        self.thread.join()
        self.sock.close()


def errors_ms(arrivals: list[tuple[float, str, int, float]], fps: float) -> np.ndarray:
    """|arrival - frame time| in ms after removing each subject's median offset."""
    out = []
    for subject in {a[1] for a in arrivals}:
        rows = np.array([(a[0], (a[2] + a[3]) / fps) for a in arrivals if a[1] == subject])
        diff = rows[:, 0] - rows[:, 1]
        out.append(np.abs(diff - np.median(diff)) * 1000)
    return np.concatenate(out) if out else np.zeros(0)


def baseline(fps: float, frames: int) -> np.ndarray:
    """A sleep-until-due sender alone on the machine."""
    rx = Receiver()
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.monotonic() + 0.05
    values = np.zeros(61, np.float32)
    for n in range(frames):
        wait = start + n / fps - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        tx.sendto(livelink.LiveLinkPacket("bench", "baseline", n, 0.0, (int(fps), 1), values).encode(),
                  ("127.0.0.1", rx.port))
    time.sleep(0.3)
    rx.close()
    tx.close()
    return errors_ms(rx.arrivals, fps)


def server_run(sessions: int, lines: int, vmc: bool) -> tuple[np.ndarray, int]:
    from conftest import make_server
    rx = Receiver()
    vmc_sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    vmc_sink.bind(("127.0.0.1", 0))
    server = make_server(voice="espeak")
    try:
        with Client(server.endpoint, timeout=60) as c:
            opened = [c.open() for _ in range(sessions)]
            for k, s in enumerate(opened):
                s.set(livelink=[f"127.0.0.1:{rx.port}"], livelink_subject=f"npc{k}",
                      **({"vmc": [f"127.0.0.1:{vmc_sink.getsockname()[1]}"]} if vmc else {}))
            started = time.monotonic()
            server.service.outputs.ready(10.0)
            startup = time.monotonic() - started
            for i in range(lines):
                ids = [s.say_async(LINES[(i + k) % len(LINES)]) for k, s in enumerate(opened)]
                for s, u in zip(opened, ids):
                    s.collect(u)
            time.sleep(0.8)
            stats = server.service.outputs.stats()
    finally:
        server.stop()
        rx.close()
        vmc_sink.close()
    return errors_ms(rx.arrivals, 60.0), len(rx.arrivals), startup, stats


def row(label: str, e: np.ndarray, base_p99: float, count: int) -> str:
    p50, p99 = np.percentile(e, 50), np.percentile(e, 99)
    return (f"| {label} | {count} | {p50:.2f} | {p99:.2f} ({p99 / base_p99:.1f}x) | {e.max():.2f} | "
            f"{100 * np.mean(e > 2.0):.2f} % |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", default="1,8")
    parser.add_argument("--lines", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores, "
          f"Python {platform.python_version()}")
    base = baseline(60.0, 600)
    base_p99 = max(np.percentile(base, 99), 1e-3)
    print("| sender | packets | p50 ms | p99 ms (x baseline) | max ms | over 2 ms | sender start s | reached the sender late |")
    print("|---|---|---|---|---|---|---|---|")
    print(row("baseline: sleep-until-due loop, alone", base, base_p99, len(base)) + " | |", flush=True)
    for n in (int(x) for x in args.sessions.split(",")):
        for vmc in (False, True):
            e, count, startup, stats = server_run(n, args.lines, vmc)
            label = f"server, {n} session{'s' if n > 1 else ''} speaking{' + VMC' if vmc else ''}"
            frames = max(stats[0] // (2 if vmc else 1), 1)
            print(row(label, e, base_p99, count) + f" {startup:.2f} | {100 * stats[3] / frames:.1f} % |", flush=True)


if __name__ == "__main__":
    main()
