"""Fair scheduling, measured over the wire: does one session's work hold up the others' streams?

    python tools/bench_scheduling.py [--sessions 20] [--markdown FILE] [--python PYTHON --pythonpath DIR]

The server runs as its own process (`python -m avbridge serve`, Piper voice); this process drives
it with one raw DEALER per session, speaking only the wire protocol, so the same tool measures any
commit (point --pythonpath at another checkout's backend/ to measure that one). Server and
client share the machine's monotonic clock, so a batch's lateness is exact: a frame batch is late
when it arrives after its first frame's time on the session clock (the client had nothing to show).

Two runs, each with a baseline phase measured in the same run:
1. speak_audio beside N streaming sessions: N sessions stream idle motion; phase "alone" for
   8 s, then phase "beside" while one more session sends a 40 s recorded line with `speak_audio`
   as fast as the socket takes it. Reported: the N sessions' batch jitter p99 (arrival minus the
   moment the pacer should send it, media time - lead) and late batches.
2. N sessions saying new lines at once: all N idle, then each says a different sentence in the
   same instant. Reported: idle batches after their frame time (all sessions, 12 s), and first
   audio (say sent -> first audio message) p50 / p95, beside the first audio of a cached line.
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.synchronize
import os
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import zmq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from avbridge.cli.bench import free_port, machine_description  # noqa: E402
from avbridge.protocol import Message, decode, encode  # noqa: E402

LEAD_S = 0.5
WORDS = ["amber", "river", "falcon", "lantern", "copper", "meadow", "harbour", "thistle", "ember", "willow",
         "granite", "orchid", "saddle", "marble", "cobalt", "juniper", "quarry", "velvet", "pebble", "tundra",
         "hollow", "beacon", "fennel", "garnet", "maple", "canyon", "otter", "summit", "barley", "cinder"]


class Peer:
    """One DEALER: one session's client, recording every message with its arrival time."""

    def __init__(self, ctx: zmq.Context, endpoint: str) -> None:
        self.socket = ctx.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.RCVHWM, 0)
        self.socket.connect(endpoint)
        self.seq = 0
        self.log: list[tuple[float, Message]] = []
        self.session = ""

    def send(self, type_name: str, bulk: list[bytes] | None = None, **fields) -> int:
        self.seq += 1
        self.socket.send_multipart(encode(Message(type_name, fields, bulk or [], seq=self.seq)))
        return self.seq

    def drain(self) -> None:
        while True:
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.log.append((time.monotonic(), decode(frames, max_bulk_bytes=1 << 30)))

    def wait(self, seq: int, timeout: float = 60.0) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _, m in self.log:
                if m.get("re") == seq and m.type in ("welcome", "opened", "ok", "error", "pong"):
                    return m
            if self.socket.poll(50):
                self.drain()
        raise TimeoutError(f"no reply to {seq}")


def start_server(python: str, pythonpath: str, workers: int | None, motion: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": pythonpath}
    cmd = [python, "-m", "avbridge", "serve", "--voice", "piper", "--motion", motion, "--bind", f"tcp://127.0.0.1:{port}",
           "--mirror", "off"]
    if workers:
        cmd += ["--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if "serving" in line:
            break
    else:
        raise RuntimeError("server did not start")
    return proc, f"tcp://127.0.0.1:{port}"


def open_peers(ctx: zmq.Context, endpoint: str, n: int) -> list[Peer]:
    peers = []
    for i in range(n):
        p = Peer(ctx, endpoint)
        p.wait(p.send("hello", versions=[1], client=f"bench-{i}"))
        opened = p.wait(p.send("open"))
        p.session = opened["session"]
        ping = p.wait(p.send("ping", client_time=time.monotonic(), session=p.session))
        # The same monotonic clock on both sides: session time 0 is at this local time.
        p.created = time.monotonic() - ping["session_time"]
        peers.append(p)
    return peers


def pump(peers: list[Peer], seconds: float, poller: zmq.Poller) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for socket, _ in poller.poll(20):
            for p in peers:
                if p.socket is socket:
                    p.drain()


def batch_stats(peers: list[Peer], t0: float, t1: float, idle_only: bool = False) -> tuple[float, int, int]:
    """(jitter p99 ms, late batches, batches) of frame batches that arrived in [t0, t1)."""
    jitter, late, count = [], 0, 0
    for p in peers:
        idle_ids = {m["utterance"] for _, m in p.log if m.type == "stream" and m.get("idle")}
        for at, m in p.log:
            if m.type != "frames" or not t0 <= at < t1 or (idle_only and m["utterance"] not in idle_ids):
                continue
            due = p.created + m["time"]
            count += 1
            late += at > due
            jitter.append(max(0.0, at - (due - LEAD_S)))
    return (float(np.percentile(jitter, 99) * 1000) if jitter else float("nan")), late, count


def recording(seconds: float) -> np.ndarray:
    with wave.open(str(ROOT / "tests" / "data" / "beat_scott_turn.wav")) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    return np.tile(pcm, int(np.ceil(seconds * 16000 / len(pcm))))[: int(seconds * 16000)]


def talk(endpoint: str, seconds: float, started: "multiprocessing.synchronize.Event") -> None:
    """The engine that sends a recorded line whole: its own process, so that its sending does not
    delay this process's reading (which would show as the others' jitter)."""
    ctx = zmq.Context()
    talker = open_peers(ctx, endpoint, 1)[0]
    started.wait()
    pcm = recording(seconds)
    step = 1600
    for offset in range(0, len(pcm), step):
        piece = pcm[offset:offset + step]
        talker.send("speak_audio", [piece.tobytes()], session=talker.session, utterance="line", sample_rate=16000,
                    offset=offset, final=offset + step >= len(pcm))
    deadline = time.monotonic() + seconds + 30
    while time.monotonic() < deadline and not any(m.type == "end" and m.get("utterance") == "line" for _, m in talker.log):
        if talker.socket.poll(100):
            talker.drain()
    ctx.destroy(linger=0)


def settled_peers(endpoint: str, n: int) -> tuple[zmq.Context, list[Peer], zmq.Poller]:
    """N sessions, one socket each, polled together, their idle streams running for 3 s."""
    ctx = zmq.Context()
    peers = open_peers(ctx, endpoint, n)
    poller = zmq.Poller()
    for p in peers:
        poller.register(p.socket, zmq.POLLIN)
    pump(peers, 3.0, poller)
    return ctx, peers, poller


def run_speak_audio(endpoint: str, n: int) -> dict:
    started = multiprocessing.get_context("spawn").Event()
    engine = multiprocessing.get_context("spawn").Process(target=talk, args=(endpoint, 40.0, started))
    engine.start()                                 # it starts up while the idle streams settle
    ctx, streaming, poller = settled_peers(endpoint, n)
    a0 = time.monotonic()
    pump(streaming, 8.0, poller)
    a1 = time.monotonic()
    started.set()                                  # the line goes out, all 40 s of it
    pump(streaming, 8.0, poller)
    b1 = time.monotonic()
    engine.join(60)
    alone, beside = batch_stats(streaming, a0, a1), batch_stats(streaming, a1, b1)
    ctx.destroy(linger=0)
    return {"alone": alone, "beside": beside}


def run_new_lines(endpoint: str, n: int) -> dict:
    ctx, peers, poller = settled_peers(endpoint, n)
    # The cached baseline: one line said twice, on the first session; the second is served from cache.
    first = peers[0]
    for _ in range(2):
        sent = time.monotonic()
        uid = first.wait(first.send("say", session=first.session, text="The gate is open."))["utterance"]
        while not any(m.type == "audio" and m["utterance"] == uid for _, m in first.log):
            pump(peers, 0.01, poller)
        cached = next(at for at, m in first.log if m.type == "audio" and m["utterance"] == uid) - sent
        pump(peers, 2.5, poller)
    t0 = time.monotonic()
    sent_at = {}
    for i, p in enumerate(peers):
        a, b, c = WORDS[i % len(WORDS)], WORDS[(3 * i + 7) % len(WORDS)], WORDS[(7 * i + 11) % len(WORDS)]
        text = f"The {a} and the {b} wait by the {c}, number {i + 2}. Then we ride on past the {b} before dark."
        sent_at[p.send("say", session=p.session, text=text)] = (p, time.monotonic())
    pump(peers, 12.0, poller)
    t1 = time.monotonic()
    first_audio = []
    for seq, (p, sent) in sent_at.items():
        uid = next(m["utterance"] for _, m in p.log if m.type == "ok" and m.get("re") == seq)
        arrivals = [at for at, m in p.log if m.type == "audio" and m["utterance"] == uid]
        first_audio.append((arrivals[0] - sent) if arrivals else float("nan"))
    _, late, count = batch_stats(peers, t0, t1, idle_only=True)
    ctx.destroy(linger=0)
    return {"late": late, "count": count, "first_audio": np.array(first_audio), "cached": cached}


def with_server(args: argparse.Namespace, run) -> dict:
    """`run(endpoint, sessions)` against a fresh server process, stopped afterwards."""
    proc, endpoint = start_server(args.python, args.pythonpath, args.workers, args.motion)
    try:
        return run(endpoint, args.sessions)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--pythonpath", default=str(ROOT / "backend"))
    parser.add_argument("--label", default="this checkout")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--motion", default="procedural", help="the server's generator: procedural or flow:CHECKPOINT")
    parser.add_argument("--only", choices=["speak_audio", "new_lines"], help="run one of the two")
    parser.add_argument("--markdown")
    args = parser.parse_args()
    cells = [args.label, args.motion]
    if args.only != "new_lines":
        sa = with_server(args, run_speak_audio)
        (aj, al, ac), (bj, bl, bc) = sa["alone"], sa["beside"]
        cells += [f"{aj:.1f} / {al} of {ac}", f"{bj:.1f} / {bl} of {bc}", f"{bj / aj:.2f}"]
    else:
        cells += ["", "", ""]
    if args.only != "speak_audio":
        nl = with_server(args, run_new_lines)
        fa = nl["first_audio"]
        cells += [f"{nl['late']} of {nl['count']} ({100 * nl['late'] / max(nl['count'], 1):.1f} %)",
                  f"{np.nanpercentile(fa, 50) * 1000:.0f} / {np.nanpercentile(fa, 95) * 1000:.0f}",
                  f"{nl['cached'] * 1000:.0f}", f"{np.nanpercentile(fa, 50) / nl['cached']:.0f}"]
    else:
        cells += ["", "", "", ""]
    header = (f"| code | motion | {args.sessions} streaming alone: jitter p99 (ms) / late | beside a 40 s speak_audio: "
              "jitter p99 (ms) / late | jitter ratio beside / alone | idle batches late while all say new lines "
              "| first audio p50 / p95 (ms) | cached line first audio (ms) | p50 ratio to cached |\n"
              "|---|---|---|---|---|---|---|---|---|")
    rows = ["| " + " | ".join(cells) + " |"]
    text = f"{machine_description()}\n\n{header}\n" + "\n".join(rows)
    print(text)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
