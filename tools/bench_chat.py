"""Benchmark a conversation's latency: from the end of the user's words to the avatar's first
reply audio, stage by stage, over real turns with the bundled model (docs/benchmarks.md).

    .venv/bin/python tools/bench_chat.py [--turns 12] [--llm local|URL] [--voice piper]

A chat session on an in-process server (loopback socket) is fed a recorded spoken question
(tests/data/speechocean_question.wav) in 20 ms pieces at the microphone's pace, and silence after
it, as a microphone keeps sending. Times are measured from the moment the last voiced piece of the
question was sent (the user's end of turn) to the arrival, at the client, of:
    user_speech_end   the voice-activity detector decides the turn is over
    final transcript  Whisper's transcript of the whole turn
    first token       the first `reply` event (the model's first text)
    first audio       the first `audio` message of the reply's first line
and to when that audio is heard: its line's start on the session clock, where a client plays it.
Typed turns (user_text) are timed from the request. The baseline in the same run is a plain
`say` of a sentence of the same length as the first reply piece: request to first audio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from avbridge.cli.bench import machine_description  # noqa: E402
from avbridge.client import Client  # noqa: E402
from avbridge.core.audio import read_wav_mono  # noqa: E402
from avbridge.server.config import ServerConfig  # noqa: E402
from avbridge.server.transport import Server  # noqa: E402

PIECE = 320          # 20 ms at 16 kHz
STAGES = ("user_speech_end", "final transcript", "first token", "first audio", "first audio heard")


def speech_end_sample(pcm: np.ndarray) -> int:
    """The end of the last 20 ms piece within 35 dB of the loudest (the question's last word)."""
    frames = pcm[: len(pcm) // PIECE * PIECE].astype(np.float64).reshape(-1, PIECE)
    level = 20 * np.log10(np.sqrt((frames ** 2).mean(axis=1)) + 1e-9)
    voiced = np.flatnonzero(level > level.max() - 35)
    return int((voiced[-1] + 1) * PIECE)


class Turns:
    def __init__(self, session, clock_offset: float) -> None:
        self.session = session
        self.offset = clock_offset           # local monotonic - session time
        self.sent = 0

    def feed(self, pcm: np.ndarray, t0: float) -> None:
        """Send pcm in pieces, each when a microphone would have it (t0: when sample 0 was spoken)."""
        for i in range(0, len(pcm), PIECE):
            time.sleep(max(0.0, t0 + (i + PIECE) / 16000 - time.monotonic()))
            self.session.user_audio(pcm[i:i + PIECE], 16000)

    def spoken_turn(self, question: np.ndarray, end_sample: int, timeout: float = 60.0) -> dict:
        got: dict = {}
        t0 = time.monotonic()
        self.feed(question[:end_sample], t0)
        ended = time.monotonic()
        rest, silence = question[end_sample:], np.zeros(PIECE, np.int16)
        spoken_pieces = 0
        deadline = ended + timeout
        first_line = None
        while time.monotonic() < deadline:
            # Keep the microphone going: what is left of the recording, then silence.
            piece = rest[spoken_pieces * PIECE:(spoken_pieces + 1) * PIECE]
            spoken_pieces += 1
            self.session.user_audio(piece if len(piece) else silence, 16000)
            for m, at in self.session.received(0.002):
                first_line = self._note(m, at, got, first_line)
            if "first audio" in got and self._reply_over(got):
                break
            time.sleep(max(0.0, ended + spoken_pieces * PIECE / 16000 - time.monotonic()))
        return {k: (v - ended if k != "first audio heard" else v - (ended - self.offset)) for k, v in got.items()
                if k in STAGES} | {"reply": got.get("reply", ""), "transcript": got.get("transcript", "")}

    def typed_turn(self, text: str, timeout: float = 60.0) -> dict:
        got: dict = {}
        t0 = time.monotonic()
        self.session.user_text(text)
        first_line = None
        silence = np.zeros(PIECE, np.int16)
        n = 0
        while time.monotonic() < t0 + timeout:
            n += 1
            self.session.user_audio(silence, 16000)
            for m, at in self.session.received(0.002):
                first_line = self._note(m, at, got, first_line)
            if "first audio" in got and self._reply_over(got):
                break
            time.sleep(max(0.0, t0 + n * PIECE / 16000 - time.monotonic()))
        return {k: (v - t0 if k != "first audio heard" else v - (t0 - self.offset)) for k, v in got.items() if k in STAGES}

    def _note(self, m, at: float, got: dict, first_line):
        if m.type == "event":
            name = m["name"]
            if name == "user_speech_end":
                got.setdefault("user_speech_end", at)
            elif name == "transcript" and m.get("final"):
                got.setdefault("final transcript", at)
                got["transcript"] = m["text"]
            elif name == "reply" and not m.get("final"):
                got.setdefault("first token", at)
            elif name == "reply" and m.get("final"):
                got["reply"] = m["text"]
                got["reply done"] = True
            elif name == "reply_error":
                got["reply"] = f"ERROR {m['text']}"
                got["reply done"] = True
        elif m.type == "stream" and m.get("text") and first_line is None and "first token" in got:
            first_line = m["utterance"]
            got["first audio heard"] = m["time"]
            got["lines"] = {first_line}
        elif m.type == "stream" and m.get("text"):
            got.setdefault("lines", set()).add(m["utterance"])
        elif m.type == "audio" and m["utterance"] == first_line:
            got.setdefault("first audio", at)
        elif m.type == "end" and m["utterance"] in got.get("lines", ()):
            got.setdefault("ended", set()).add(m["utterance"])
        return first_line

    @staticmethod
    def _reply_over(got: dict) -> bool:
        return bool(got.get("reply done")) and got.get("lines", set()) <= got.get("ended", set())


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p)) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--typed", type=int, default=6, help="typed turns after the spoken ones")
    parser.add_argument("--llm", default="local")
    parser.add_argument("--voice", default="piper")
    args = parser.parse_args()

    question = read_wav_mono(ROOT / "tests" / "data" / "speechocean_question.wav")[0]
    end = speech_end_sample(question)
    question = np.concatenate([np.zeros(8000, np.int16), question])
    end += 8000
    server = Server(ServerConfig(endpoint="tcp://127.0.0.1:0", mirror_endpoint=None, voice=args.voice, llm=args.llm)).start()
    try:
        with Client(server.endpoint, timeout=30) as client:
            server.service.chat.prewarm()        # as `avbridge web` does at start
            time.sleep(3.0)
            session = client.open(live="chat")
            rtt, pong = client.ping(session.id)
            turns = Turns(session, time.monotonic() - rtt / 2 - pong["session_time"])
            turns.feed(np.zeros(16000, np.int16), time.monotonic())
            spoken = []
            for i in range(args.turns):
                result = turns.spoken_turn(question, end)
                spoken.append(result)
                print(f"  turn {i + 1:2d}: " + "  ".join(f"{k} {result[k] * 1000:5.0f}" for k in STAGES if k in result)
                      + f"  | {result['transcript']!r} -> {result['reply'][:60]!r}", flush=True)
                turns.feed(np.zeros(8000, np.int16), time.monotonic())
            typed = []
            for _ in range(args.typed):
                typed.append(turns.typed_turn("What is the best month of the year?"))
                # An `end` arrives up to the lead (0.5 s) before its line has played out.
                turns.feed(np.zeros(9600, np.int16), time.monotonic())
            # Baseline: the same server saying a sentence (no model, no transcript).
            baseline = []
            plain = client.open()
            for i in range(args.typed):
                t0 = time.monotonic()     # a new sentence each time: none comes from the speech cache
                uid = plain.say_async(f"That is question number {i + 3}, and I have an answer.")
                for m, at in plain.stream(uid):
                    if m.type == "audio":
                        baseline.append(at - t0)
                        break
                plain.interrupt()
                plain.received(0.3)
    finally:
        server.stop()

    print()
    print(f"Machine: {machine_description()}")
    print(f"Model: {args.llm}; voice: {args.voice}; {len(spoken)} spoken turns, {len(typed)} typed; "
          "times in ms from the end of the user's words (typed: from the request)")
    print()
    print("| stage | spoken p50 | spoken p95 | typed p50 | typed p95 |")
    print("|---|---|---|---|---|")
    for stage in STAGES:
        s = [r[stage] * 1000 for r in spoken if stage in r]
        t = [r[stage] * 1000 for r in typed if stage in r]
        print(f"| {stage} | {pct(s, 50):.0f} | {pct(s, 95):.0f} | " + (f"{pct(t, 50):.0f} | {pct(t, 95):.0f} |" if t else "- | - |"))
    b = [x * 1000 for x in baseline]
    first_audio = [r["first audio"] * 1000 for r in typed if "first audio" in r]
    print(f"| baseline: `say` to first audio | | | {pct(b, 50):.0f} | {pct(b, 95):.0f} |")
    if b and first_audio:
        print(f"\ntyped turn to first audio / say to first audio (p50): {statistics.median(first_audio) / statistics.median(b):.2f}x")
    components = {
        "transcription (user_speech_end -> final transcript)": ("user_speech_end", "final transcript"),
        "model (final transcript -> first token)": ("final transcript", "first token"),
        "first piece + speech (first token -> first audio)": ("first token", "first audio"),
    }
    print()
    for label, (a, z) in components.items():
        d = [(r[z] - r[a]) * 1000 for r in spoken if a in r and z in r]
        print(f"  {label}: p50 {pct(d, 50):.0f} ms, p95 {pct(d, 95):.0f} ms")
    failed = [r for r in spoken if "first audio" not in r]
    if failed:
        print(f"\n{len(failed)} turn(s) got no reply audio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
