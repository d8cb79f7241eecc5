"""Score a flow-motion checkpoint on held-out real capture against the procedural generator and
the amplitude baseline, all from the same held-out audio; print Markdown tables and draw the
learning curve from the checkpoint's sidecar.

    .venv/bin/python tools/eval_flow.py runs/facegood/best.pt --data facegood:../shared/data/facegood \
        --val 1114_3_16 [--seeds 5] [--markdown docs/quality.md] [--plot docs/flow_learning_curve.png]

Metrics (at the model's 30 fps, over the held-out clips; definitions in avbridge/motion/metrics.py):
  lip F1      closure events (runs of frames with lip_gap < 0.06 during speech) of the generated
              animation against those of the real one, within 2 frames
  jaw r       Pearson correlation of jawOpen with the real jawOpen
  FD          Fréchet distance between the generated and real blendshape distributions, over the
              channels the capture measured and moves (lower is better)
  diversity   std across seeds, averaged over frames and those channels (0 for a deterministic method)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from avbridge.core.track import Track  # noqa: E402
from avbridge.datasets.sources import load_sources, split  # noqa: E402
from avbridge.motion import MotionParams, load_generator  # noqa: E402
from avbridge.motion.baselines import amplitude_baseline  # noqa: E402
from avbridge.motion.flow.features import resample_frames  # noqa: E402
from avbridge.motion.flow.model import FlowMotionModel, sidecar_path  # noqa: E402
from avbridge.motion.metrics import (  # noqa: E402
    closure_f1_against,
    correlation,
    frechet_distance,
    speech_frames,
)
from avbridge.training.train import generate_clip  # noqa: E402

JAW = 17


def procedural(clip, fps: float, frames: int, seed: int) -> np.ndarray:
    stream = load_generator("procedural").start(fps, 16000, MotionParams(), seed)
    track = Track.concatenate([stream.push(clip.pcm), stream.finish()], fps)
    return track.blendshapes[:frames]


def score(name: str, runs: list[list[np.ndarray]], real: list[np.ndarray], speech: list[np.ndarray],
          channels: list[int], seconds: float) -> dict:
    """runs[seed][clip] (T, 52) -> metrics averaged over seeds, and diversity across them."""
    reference, talking = np.concatenate(real), np.concatenate(speech)
    f1s, precisions, recalls, jaws, fds = [], [], [], [], []
    for run in runs:
        generated = np.concatenate(run)
        s = closure_f1_against(generated, reference, talking)
        f1s.append(s.f1), precisions.append(s.precision), recalls.append(s.recall)
        jaws.append(correlation(generated[:, JAW], reference[:, JAW]))
        fds.append(frechet_distance(generated[:, channels], reference[:, channels]))
    stacked = np.stack([np.concatenate(run)[:, channels] for run in runs])
    diversity = float(stacked.std(axis=0).mean()) if len(runs) > 1 else None
    return {"method": name, "lip_f1": np.mean(f1s), "precision": np.mean(precisions), "recall": np.mean(recalls),
            "jaw_r": np.mean(jaws), "fd": np.mean(fds), "diversity": diversity, "seconds": seconds}


def table(rows: list[dict]) -> list[str]:
    out = ["| method | lip F1 | precision | recall | jaw r | FD (lower better) | diversity | compute (s) |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        diversity = f"{r['diversity']:.4f}" if r["diversity"] is not None else "(1 seed)"
        out.append(f"| {r['method']} | {r['lip_f1']:.2f} | {r['precision']:.2f} | {r['recall']:.2f} | {r['jaw_r']:.2f} "
                   f"| {r['fd']:.4f} | {diversity} | {r['seconds']:.0f} |")
    return out


def curve(history: list[dict], plot: Path | None) -> list[str]:
    out = ["| epoch | step | train loss | val loss | lip F1 | jaw r | FD | minutes |", "|---|---|---|---|---|---|---|---|"]
    minutes = 0.0
    for h in history:
        minutes += h["seconds"] / 60
        out.append(f"| {h['epoch']} | {h['step']} | {h['train_loss']:.3f} | {h['val_loss']:.3f} | {h['lip_f1']:.2f} "
                   f"| {h['jaw_r']:.2f} | {h['frechet']:.4f} | {minutes:.0f} |")
    if plot is not None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        epochs = [h["epoch"] for h in history]
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
        axes[0].plot(epochs, [h["train_loss"] for h in history], label="train")
        axes[0].plot(epochs, [h["val_loss"] for h in history], label="held out")
        axes[0].set_title("flow-matching L1 loss")
        axes[0].legend()
        axes[1].plot(epochs, [h["lip_f1"] for h in history], label="lip-closure F1")
        axes[1].plot(epochs, [h["jaw_r"] for h in history], label="jaw r")
        axes[1].set_title("held-out take, 8 Euler steps")
        axes[1].legend()
        axes[2].plot(epochs, [h["frechet"] for h in history])
        axes[2].set_title("Fréchet distance (held out)")
        for ax in axes:
            ax.set_xlabel("epoch")
        fig.tight_layout()
        fig.savefig(plot, dpi=100)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("--data", action="append", required=True)
    parser.add_argument("--val", action="append", required=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--markdown")
    parser.add_argument("--plot")
    args = parser.parse_args()

    model, _ = FlowMotionModel.load(args.checkpoint)
    fps = model.config.fps
    train_clips, clips = split(load_sources(args.data), args.val)
    channels = [i for i in model.config.learned if i < 52]
    real = [resample_frames(c.motion, c.fps, fps)[:, :52] for c in clips]
    speech = [speech_frames(c.pcm, len(r), fps) for c, r in zip(clips, real)]
    seconds = sum(len(r) for r in real) / fps
    rows = []

    def timed(name, make, seeds):
        started = time.perf_counter()
        runs = [[make(c, len(r), seed)[:len(r)] for c, r in zip(clips, real)] for seed in seeds]
        rows.append(score(name, runs, real, speech, channels, time.perf_counter() - started))
        print(table(rows)[-1], flush=True)

    seeds = list(range(args.seeds))
    timed("flow, 8 Euler steps", lambda c, n, s: generate_clip(model, c, s, 8)[:, :52], seeds)
    timed("flow, 16 Euler steps", lambda c, n, s: generate_clip(model, c, s, 16)[:, :52], seeds[:1])
    timed("flow, 8 steps, guidance 2", lambda c, n, s: generate_clip(model, c, s, 8, 2.0)[:, :52], seeds[:1])
    timed("procedural (audio only)", lambda c, n, s: procedural(c, fps, n, s), seeds)
    timed("amplitude baseline", lambda c, n, s: amplitude_baseline(c.pcm, 16000, n, fps).blendshapes, [0])
    # How far real takes of the same actor lie from the held-out one: a floor for FD.
    other = np.concatenate([resample_frames(c.motion, c.fps, fps)[:, :52] for c in train_clips])
    floor = frechet_distance(other[:, channels], np.concatenate(real)[:, channels])

    sidecar = json.loads(sidecar_path(args.checkpoint).read_text())
    # best.pt's history stops at its epoch; last.pt beside it holds the whole run.
    last = sidecar_path(Path(args.checkpoint).with_name("last.pt"))
    history = json.loads(last.read_text()).get("history", []) if last.is_file() else sidecar.get("history", [])
    lines = [f"Held out: {', '.join(c.name for c in clips)} ({seconds:.0f} s). Checkpoint {args.checkpoint} "
             f"(epoch {sidecar.get('epoch')}, {sidecar.get('parameters', 0) / 1e6:.1f} M parameters); "
             f"{len(channels)} learned channels; seeds: {args.seeds}.", "", *table(rows), "",
             f"FD between the training takes and the held-out take (real against real): {floor:.4f}.", "",
             "Learning curve:", "", *curve(history, Path(args.plot) if args.plot else None), ""]
    print("\n".join(lines))
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
