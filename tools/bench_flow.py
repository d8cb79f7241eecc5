"""Streaming inference speed of the flow motion model on this machine's CPU (or GPU).

    .venv/bin/python tools/bench_flow.py [--checkpoint runs/facegood/best.pt] [--markdown docs/benchmarks.md]

Audio (tests/data/beat_scott_turn.wav, 14.5 s of real speech) is pushed in 20 ms pieces, as a
microphone or an engine delivers it, into a FlowStream at 60 fps output. Per configuration:
  window ms     compute of one window (p50 / p95 / max)
  x real time   seconds of speech per second of compute (above 1: faster than real time)
  first frame   audio that must arrive before frame 0 leaves (window + look-ahead + the feature
                window's reach), plus the compute of that first window
Speed does not depend on the weights: without --checkpoint a freshly initialised model of each
size is timed.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from avbridge.core.audio import read_wav_mono  # noqa: E402
from avbridge.motion import MotionParams  # noqa: E402
from avbridge.motion.flow.dit import DiTConfig  # noqa: E402
from avbridge.motion.flow.generator import FlowGenerator  # noqa: E402
from avbridge.motion.flow.model import FlowConfig, FlowMotionModel  # noqa: E402

AUDIO = ROOT / "tests" / "data" / "beat_scott_turn.wav"
PIECE = 320                     # 20 ms at 16 kHz


def run(generator: FlowGenerator, pcm: np.ndarray) -> dict:
    stream = generator.start(60.0, 16000, MotionParams(), seed=0)
    sampler = stream._sampler
    window_ms, pushed, first_frame_at, first_compute = [], 0, None, None
    started = time.perf_counter()
    for i in range(0, len(pcm), PIECE):
        before = sampler.windows
        t0 = time.perf_counter()
        track = stream.push(pcm[i:i + PIECE])
        spent = (time.perf_counter() - t0) * 1000
        pushed = min(i + PIECE, len(pcm))
        if sampler.windows > before:
            window_ms.extend([spent / (sampler.windows - before)] * (sampler.windows - before))
        if first_frame_at is None and len(track):
            first_frame_at, first_compute = pushed / 16, spent
    stream.finish()
    total = time.perf_counter() - started
    w = np.array(window_ms)
    return {"p50": np.percentile(w, 50), "p95": np.percentile(w, 95), "max": w.max(),
            "rtf": len(pcm) / 16000 / total, "first_audio_ms": first_frame_at, "first_compute_ms": first_compute}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--markdown")
    args = parser.parse_args()
    pcm = read_wav_mono(AUDIO)[0]
    with tempfile.TemporaryDirectory() as tmp:
        models = {}
        if args.checkpoint:
            models["trained (default size)"] = Path(args.checkpoint)
        for name, dit in [("default size, 256-d", DiTConfig()), ("paper size, 512-d", DiTConfig.paper())]:
            if args.checkpoint and name.startswith("default"):
                continue
            models[name] = FlowMotionModel(FlowConfig(dit=dit)).save(Path(tmp) / f"{name[:5]}.pt")
        device = "cuda" if torch.cuda.is_available() else "cpu"
        lines = [f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads "
                 f"available, torch {torch.__version__}, device {device}. Audio: {len(pcm) / 16000:.1f} s of real "
                 "speech in 20 ms pieces, output 60 fps.", "",
                 "| model | parameters | window (frames) | Euler steps | threads | window ms p50 / p95 / max "
                 "| x real time | first frame: audio ms + compute ms |", "|---|---|---|---|---|---|---|---|"]
        print("\n".join(lines), flush=True)
        for name, path in models.items():
            for window in (10, 4):
                for steps in (8, 4):
                    for threads in [int(t) for t in args.threads.split(",")]:
                        generator = FlowGenerator(path, device=device, steps=steps, window=window)
                        torch.set_num_threads(threads)      # after: the generator sets one thread
                        r = run(generator, pcm)
                        params = generator.model.net.parameter_count() / 1e6
                        line = (f"| {name} | {params:.1f} M | {window} | {steps} | {threads} | {r['p50']:.1f} / "
                                f"{r['p95']:.1f} / {r['max']:.1f} | {r['rtf']:.1f} | {r['first_audio_ms']:.0f} + "
                                f"{r['first_compute_ms']:.0f} |")
                        lines.append(line)
                        print(line, flush=True)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
