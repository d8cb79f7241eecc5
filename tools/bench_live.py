"""Benchmark the live path: audio-to-lips latency, camera-to-frame latency, CPU per live session,
and (for docs/quality.md) voice-lip closure on the real recordings against a forced alignment.

    .venv/bin/python tools/bench_live.py [--sessions 4] [--seconds 8]

audio-to-lips: a live telepresence session over a real socket is fed the BEAT recording at the
microphone's pace in 20 ms pieces; for each batch of frames, the delay from the arrival of the
audio piece holding the newest frame's moment to the frame's being queued to send (it is due at
once). It includes the 80 ms the lips wait for the audio after a frame.
camera-to-frame: FaceLandmarker plus smoothing on the astronaut portrait, moved each frame.
CPU per live session: process CPU time over wall time with N listen (or telepresence) sessions
fed at real time.
engine audio: CPU seconds per second of a recorded line for `speak_audio`, hearing its phones
(without and with its text) beside animating it from loudness alone (the path before phones were
heard), in the same run.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "tests"))

from avbridge.client import Client  # noqa: E402
from avbridge.core.audio import read_wav_mono  # noqa: E402
from conftest import make_server  # noqa: E402


def recording() -> np.ndarray:
    return read_wav_mono(ROOT / "tests" / "data" / "beat_scott_turn.wav")[0]


def audio_to_lips(server, seconds: float) -> np.ndarray:
    pcm = recording()[: int(seconds * 16000)]
    with Client(server.endpoint, timeout=20) as client:
        session = client.open(live="telepresence")
        t0 = time.monotonic()
        for i in range(0, len(pcm), 320):
            session.user_audio(pcm[i:i + 320], 16000)
            time.sleep(max(0.0, t0 + (i + 320) / 16000 - time.monotonic()))
        session.received(0.5)
        # Measured in the server, from the arrival of the audio piece holding a frame's moment to
        # that frame being queued, due at once (the client here reads only after sending).
        return np.array(server.service.sessions[session.id].live.lips_delays)


def camera_to_frame(frames: int) -> np.ndarray:
    from avbridge.live.input import LiveInput
    from avbridge.live.turns import TurnTaking
    from avbridge.motion.listening import ListeningLayer
    from avbridge.perception.face import FaceTracker
    from scipy import ndimage
    from skimage import data
    image = data.astronaut()
    shifted = [ndimage.shift(image, (0, dx, 0), order=1, mode="nearest") for dx in range(0, 20, 2)]
    tracker = FaceTracker()
    live = LiveInput("telepresence", 60, TurnTaking(), ListeningLayer(), transcripts=False)
    out = []
    for k in range(frames):
        t0 = time.perf_counter()
        live.push_face(tracker.track(shifted[k % len(shifted)], k / 30))
        out.append(time.perf_counter() - t0)
    tracker.close()
    return np.array(out)


def cpu_per_session(server, sessions: int, seconds: float, mode: str = "listen") -> float:
    pcm = recording()
    clients = [Client(server.endpoint, timeout=20) for _ in range(sessions)]
    opened = [c.open(live=mode, transcripts=False) for c in clients]
    c0, w0 = time.process_time(), time.monotonic()

    def feed(session) -> None:
        t0 = time.monotonic()
        for i in range(0, int(seconds * 16000), 320):
            session.user_audio(pcm[i % (len(pcm) - 320):i % (len(pcm) - 320) + 320], 16000)
            time.sleep(max(0.0, t0 + (i + 320) / 16000 - time.monotonic()))
    threads = [threading.Thread(target=feed, args=(s,)) for s in opened]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu = time.process_time() - c0
    wall = time.monotonic() - w0
    for s in opened:
        s.received(0.2)
    for c in clients:
        c.close()
    return cpu / wall / sessions


def engine_audio_cpu() -> dict[str, float]:
    """CPU seconds per audio second of the BEAT line through each engine-audio stream, 100 ms pieces."""
    from avbridge.motion import MotionParams
    from avbridge.motion.procedural import ProceduralGenerator
    pcm = recording()
    text = (ROOT / "tests" / "data" / "beat_scott_turn.txt").read_text()
    generator = ProceduralGenerator()
    out = {}
    for name, start in (("loudness only (before)", lambda: generator.start(30.0, 16000, MotionParams(), 1)),
                        ("phones heard", lambda: generator.start_heard(30.0, 16000, MotionParams(), 1)),
                        ("phones aligned to the text", lambda: generator.start_heard(30.0, 16000, MotionParams(), 1, text=text))):
        stream = start()
        c0 = time.process_time()
        for i in range(0, len(pcm), 1600):
            stream.push(pcm[i:i + 1600])
        stream.finish()
        out[name] = (time.process_time() - c0) / (len(pcm) / 16000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    server = make_server(voice="espeak")
    try:
        lips = audio_to_lips(server, args.seconds)
        camera = camera_to_frame(150)
        cpu = cpu_per_session(server, args.sessions, args.seconds)
        cpu_tele = cpu_per_session(server, args.sessions, args.seconds, "telepresence")
        engine = engine_audio_cpu()
    finally:
        server.stop()
    rows = [
        ("audio-to-lips (user sample in -> frame out), ms", np.percentile(lips, 50) * 1000, np.percentile(lips, 95) * 1000, "<= 100"),
        ("camera-to-frame (track + smooth), ms", np.percentile(camera, 50) * 1000, np.percentile(camera, 95) * 1000, f"33 (30 fps), {1 / np.mean(camera):.0f} fps on one core"),
    ]
    print(f"{'measure':50s} {'p50':>8s} {'p95':>8s}  goal")
    for name, p50, p95, goal in rows:
        print(f"{name:50s} {p50:8.1f} {p95:8.1f}  {goal}")
    print(f"{'CPU per live listen session (share of one core)':50s} {cpu * 100:7.1f}%  ({args.sessions} sessions, {args.seconds:g} s of voice each)")
    print(f"{'CPU per live telepresence session':50s} {cpu_tele * 100:7.1f}%  ({cpu_tele / cpu:.2f} x a listen session)")
    base = engine["loudness only (before)"]
    for name, share in engine.items():
        print(f"{'speak_audio CPU per audio second, ' + name:50s} {share * 100:7.1f}%  ({share / base:.1f} x loudness only)")


if __name__ == "__main__":
    main()
