"""`avbridge bench`: the server measured over real loopback sockets, from a separate process.

The server runs as a child process (`avbridge serve`), so its CPU time can be read from /proc
without the client's own work mixed in. Four tables:

1. latency: `say` sent -> first audio chunk and first frame batch at the client (short sentences,
   each new so the speech cache cannot help; then the same with a warm cache);
2. real-time factor: wall time / audio time for a paragraph sent unpaced (realtime false), for
   speech synthesis alone, motion alone, and the whole pipeline through the socket;
3. streaming at 60 fps with 1, 10 and 50 concurrent sessions talking continuously (realtime
   pacing): server CPU, frame-batch inter-arrival jitter, and batches that reached the client
   after their frames were due;
4. the motion generator's speed in frames per second on one core.
"""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from avbridge.client import Client

SHORT_LINES = [
    "Take the {} door on your left.", "I have {} arrows left.", "The gate opens in {} minutes.",
    "Bring me {} wolf pelts.", "We leave at dawn with {} riders.",
]
PARAGRAPH = (
    "The northern pass has been closed since the storm, so the caravan will take the river road. "
    "It is longer, and the bridges are old, but the water is low this time of year. "
    "If you want to ride with us, be at the stables before sunrise, and bring your own food. "
    "Nobody waits for latecomers, not even for the captain's favourite."
)
STREAM_LINE = ("Welcome, traveller. The market opens at dawn, the tavern never closes, "
               "and the blacksmith will mend your sword for a fair price.")
NUMBER_WORDS = ["seven", "twelve", "three", "forty", "nine", "sixteen", "two", "eighty", "five", "thirty",
                "eleven", "four", "sixty", "one", "twenty", "eight", "fifty", "six", "ninety", "ten"]


def free_port() -> int:
    """A loopback TCP port that is free now (for servers started as separate processes)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (a cluster front door's Ray processes and workers), from /proc."""
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            children = [int(c) for c in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]
        except OSError:
            children = []
        out += children
        todo += children
    return out


def machine_description() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{model}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


class ServerProcess:
    """`avbridge serve` as a child process on a free loopback port. `extra`: more serve options;
    `log`: a file for its log (default: discarded, errors kept for the start-up message)."""

    def __init__(self, voice: str, fps: float, extra: list[str] | None = None, log: Path | None = None) -> None:
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.command = [sys.executable, "-m", "avbridge", "serve", "--bind", self.endpoint, "--mirror", "off",
                        "--voice", voice, "--fps", str(fps), "--log-level", "warning", *(extra or [])]
        self.log = log
        self._start()

    def _start(self) -> None:
        stderr = open(self.log, "a") if self.log else subprocess.PIPE
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 120
        while True:
            try:
                Client(self.endpoint, timeout=2).close()
                return
            except TimeoutError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    if self.log:
                        text = Path(self.log).read_text(errors="replace")[-4000:]
                    else:
                        text = (self.process.stderr.read() if self.process.stderr else b"").decode(errors="replace")
                    raise RuntimeError("the benchmark server did not start: " + text)

    def restart(self) -> None:
        """Start the server again on the same endpoint (after it was killed)."""
        self._start()

    def descendants(self) -> list[int]:
        return descendants(self.process.pid)

    def kill_cluster_worker(self) -> int:
        """SIGKILL one Ray session worker of a `--cluster local` server; return its pid."""
        for pid in sorted(self.descendants()):
            try:
                name = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if name.startswith(b"ray::SessionWorker"):
                os.kill(pid, signal.SIGKILL)
                return pid
        raise RuntimeError("no Ray session worker process found under the server")

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _percentiles(values: list[float], *ps: float) -> list[float]:
    return [float(np.percentile(values, p)) if values else float("nan") for p in ps]


def bench_latency(endpoint: str, repeats: int) -> list[tuple]:
    """(case, audio p50, audio p95, frame p50, frame p95) in milliseconds."""
    rows = []
    with Client(endpoint, timeout=30) as client:
        session = client.open()
        for label, unique in (("new line (cold)", True), ("repeated line (cached)", False)):
            if not unique:   # say each repeated line once so the measured ones hit the cache
                for line in SHORT_LINES:
                    session.interrupt(session.say_async(line.format("three")))
                    session.collect(session.say_async("Okay."))
            audio_ms, frame_ms = [], []
            for i in range(repeats):
                word = NUMBER_WORDS[i % len(NUMBER_WORDS)] + (f" {i // len(NUMBER_WORDS)}" if unique and i >= 20 else "")
                text = SHORT_LINES[i % len(SHORT_LINES)].format(word if unique else "three")
                t0 = time.monotonic()
                utterance = session.say_async(text)
                first_audio = first_frame = None
                for message, arrived in session.stream(utterance):
                    if message.type == "audio" and first_audio is None:
                        first_audio = arrived
                    if message.type == "frames" and first_frame is None:
                        first_frame = arrived
                    if first_audio and first_frame:
                        break
                session.interrupt()
                for message, _ in session.stream(utterance):
                    pass
                assert first_audio is not None and first_frame is not None
                audio_ms.append((first_audio - t0) * 1000)
                frame_ms.append((first_frame - t0) * 1000)
            rows.append((label, *_percentiles(audio_ms, 50, 95), *_percentiles(frame_ms, 50, 95)))
    return rows


def bench_rtf(endpoint: str, voice: str, fps: float) -> list[tuple[str, float, float]]:
    """(stage, seconds of compute, audio seconds) for a paragraph."""
    from avbridge.motion import load_generator
    from avbridge.speech import load_engine
    from avbridge.speech.text import chunk, normalize

    engine = load_engine(voice)
    engine.synthesize("Warm up.")
    pieces = chunk(normalize(PARAGRAPH))
    t0 = time.perf_counter()
    speech = [engine.synthesize(p) for p in pieces]
    synth_s = time.perf_counter() - t0
    audio_s = sum(s.duration for s in speech)
    stream = load_generator().start(fps, speech[0].sample_rate, seed=0)
    t0 = time.perf_counter()
    for s in speech:
        stream.push(s.pcm, s.phonemes)
    motion_s = time.perf_counter() - t0
    with Client(endpoint, timeout=60) as client:
        session = client.open(realtime=False)
        t0 = time.monotonic()
        result = session.say(PARAGRAPH + " Again, with feeling.")
        total_s = time.monotonic() - t0
    return [("speech synthesis", synth_s, audio_s), ("motion generation", motion_s, audio_s),
            ("whole pipeline over the socket", total_s, result.duration)]


def bench_streaming(server: ServerProcess, sessions: int, seconds: float) -> dict:
    clients = [Client(server.endpoint, timeout=30) for _ in range(max(1, sessions // 10))]
    opened = [clients[i % len(clients)].open() for i in range(sessions)]
    # One unpaced say first so the line is synthesised once and cached for every session.
    warm = clients[0].open(realtime=False)
    warm.say(STREAM_LINE)
    offsets = {}
    for s in opened:
        rtt, pong = s.client.ping(s.id)
        offsets[s.id] = time.monotonic() - rtt / 2 - pong["session_time"]   # local = session + offset
    active = {s.id: s.say_async(STREAM_LINE) for s in opened}
    by_id = {s.id: s for s in opened}
    # Jitter: how far the gap between two frame batches of a session strays from the gap between
    # their frame times, once the stream is in its steady state (the lead is sent in one burst
    # when a line starts; that burst is by design, not jitter).
    last: dict[str, tuple[float, float]] = {}        # session -> (arrival, frame time) of its last batch
    burst_until: dict[str, float] = {}               # session -> local time its current line's burst ends
    deviations: list[float] = []
    late = batches = 0
    t_start = time.monotonic()
    cpu_start = server.cpu_seconds()
    lead = 0.5
    while time.monotonic() - t_start < seconds:
        for client in clients:
            got = client.next_any_stream_message(timeout=0.002)
            while got is not None:
                message, arrived = got
                sid = message["session"]
                if message.type == "stream":
                    burst_until[sid] = arrived + 0.02
                    last.pop(sid, None)
                elif message.type == "frames":
                    batches += 1
                    due_local = message["time"] + offsets[sid]
                    if arrived > due_local:
                        late += 1
                    steady = due_local - lead > burst_until.get(sid, 0.0)
                    if steady and sid in last:
                        prev_arrival, prev_time = last[sid]
                        deviations.append(abs((arrived - prev_arrival) - (message["time"] - prev_time)) * 1000)
                    last[sid] = (arrived, message["time"])
                elif message.type == "end" and time.monotonic() - t_start < seconds:
                    active[sid] = by_id[sid].say_async(STREAM_LINE)
                got = client.next_any_stream_message(timeout=0)
    wall = time.monotonic() - t_start
    cpu = server.cpu_seconds() - cpu_start
    for client in clients:
        client.close()
    p50, p95, p99 = _percentiles(deviations, 50, 95, 99)
    return {"sessions": sessions, "cpu_percent": 100 * cpu / wall, "batches": batches,
            "frames_per_s": batches * 6 / wall, "late": late, "jitter_p50": p50, "jitter_p95": p95,
            "jitter_p99": p99, "lead_ms": lead * 1000}


def bench_generator(fps: float) -> float:
    from avbridge.motion import load_generator
    from avbridge.speech import load_engine

    speech = load_engine("espeak").synthesize(PARAGRAPH)
    best = 0.0
    for _ in range(3):
        stream = load_generator().start(fps, speech.sample_rate, seed=0)
        t0 = time.perf_counter()
        track = stream.push(speech.pcm, speech.phonemes)
        best = max(best, len(track) / (time.perf_counter() - t0))
    return best


def run_bench(args) -> int:
    counts = [int(n) for n in str(args.sessions).split(",") if n]
    lines = [f"Machine: {machine_description()}", f"Voice: {args.voice}, {args.fps:g} fps", ""]
    server = ServerProcess(args.voice, args.fps)
    try:
        lines += ["| say -> first at the client | audio p50 (ms) | audio p95 (ms) | frames p50 (ms) | frames p95 (ms) |",
                  "|---|---|---|---|---|"]
        for label, a50, a95, f50, f95 in bench_latency(server.endpoint, args.repeats):
            lines.append(f"| {label}, {args.repeats} short sentences | {a50:.0f} | {a95:.0f} | {f50:.0f} | {f95:.0f} |")
        print("\n".join(lines), flush=True)
        rtf_lines = ["", "| stage | compute (s) | audio (s) | real-time factor | x real time |", "|---|---|---|---|---|"]
        for stage, compute_s, audio_s in bench_rtf(server.endpoint, args.voice, args.fps):
            rtf_lines.append(f"| {stage} | {compute_s:.3f} | {audio_s:.2f} | {compute_s / audio_s:.4f} | {audio_s / compute_s:.0f} |")
        print("\n".join(rtf_lines), flush=True)
        lines += rtf_lines
        stream_lines = ["", f"| concurrent sessions at {args.fps:g} fps ({args.seconds:g} s, speech cached) | server CPU (% of one core) "
                        "| frames/s delivered | batch jitter p50 / p95 / p99 (ms) | batches after their frame time |",
                        "|---|---|---|---|---|"]
        for n in counts:
            r = bench_streaming(server, n, args.seconds)
            stream_lines.append(f"| {n} | {r['cpu_percent']:.1f} | {r['frames_per_s']:.0f} | "
                                f"{r['jitter_p50']:.1f} / {r['jitter_p95']:.1f} / {r['jitter_p99']:.1f} | "
                                f"{r['late']} of {r['batches']} |")
            print(stream_lines[-1], flush=True)
        lines += stream_lines
    finally:
        server.stop()
    fps_core = bench_generator(args.fps)
    lines += ["", f"Procedural generator: {fps_core:,.0f} frames/s on one core."]
    text = "\n".join(lines)
    print("\n" + text)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(f"\n### {time.strftime('%Y-%m-%d')}\n\n{text}\n")
    return 0
