"""Measure speaking animation: lip closure, A/V offset, value distributions against real Live Link
Face takes, and speed, for the procedural generator and an amplitude -> jawOpen baseline.

    .venv/bin/python tools/eval_speaking.py [--sentences 120] [--markdown docs/quality.md]

Lip closure is scored per event, because what a viewer sees is whether the lips meet on each
p, b and m, and whether they snap shut where nothing calls for it:
  recall     share of bilabial phonemes with at least one closed frame inside them (+- half a frame)
  precision  share of closure events during speech (maximal runs of closed frames that touch a
             non-pause phoneme) that overlap a bilabial phoneme (+- one frame)
"Closed" is `lip_gap < 0.06` (avbridge.motion.visemes.lip_gap: jawOpen - mouthClose plus half the
lip-parting shapes), the same test for every generator.

A/V offset: the lag that maximises the correlation between jawOpen and the speech RMS envelope,
both at 60 fps, over all sentences; positive means the jaw moves after the sound.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from avbridge.core.track import Track  # noqa: E402
from avbridge.datasets.synthetic import sentences  # noqa: E402
from avbridge.motion import MotionParams, load_generator  # noqa: E402
from avbridge.motion.baselines import amplitude_baseline, envelope  # noqa: E402
from avbridge.motion.metrics import ClosureScore, lip_closure  # noqa: E402
from avbridge.speech import load_engine  # noqa: E402
from avbridge.speech.text import normalize  # noqa: E402
from avbridge.takes.livelink_csv import read_csv  # noqa: E402

FPS = 60
TAKES = ROOT.parent / "shared" / "data" / "livelinkface"

def best_lag_ms(jaw: np.ndarray, env: np.ndarray, max_frames: int = 12) -> float:
    """Lag (ms) of jaw behind the envelope that maximises their correlation, with sub-frame
    precision from a parabola through the peak."""
    jaw = (jaw - jaw.mean()) / (jaw.std() + 1e-9)
    env = (env - env.mean()) / (env.std() + 1e-9)
    lags = np.arange(-max_frames, max_frames + 1)
    corr = np.array([np.mean(jaw[max(k, 0):len(jaw) + min(k, 0)] * env[max(-k, 0):len(env) + min(-k, 0)]) for k in lags])
    i = int(np.argmax(corr))
    shift = 0.0
    if 0 < i < len(lags) - 1:
        a, b, c = corr[i - 1], corr[i], corr[i + 1]
        shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return float((lags[i] + shift) * 1000 / FPS), float(corr[i])


CHANNELS = ["jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthSmileLeft", "mouthStretchLeft",
            "mouthRollLower", "mouthPressLeft", "mouthLowerDownLeft", "mouthUpperUpLeft", "browInnerUp",
            "browOuterUpLeft", "cheekSquintLeft", "eyeBlinkLeft", "eyeLookOutLeft", "eyeLookDownLeft"]


def blink_stats(track: Track) -> tuple[float, float]:
    """Blinks per minute and mean duration (ms), a blink being eyeBlinkLeft above 0.5."""
    shut = track.channel("eyeBlinkLeft") > 0.5
    starts = np.flatnonzero(shut[1:] & ~shut[:-1]) + 1
    ends = np.flatnonzero(~shut[1:] & shut[:-1]) + 1
    durations = [(e - s) / track.fps * 1000 for s in starts for e in ends[ends > s][:1]]
    minutes = len(track) / track.fps / 60
    return len(starts) / minutes, float(np.mean(durations)) if durations else float("nan")


def eye_speed(track: Track, valid: np.ndarray | None = None) -> tuple[float, float]:
    """p50 and p95 of the left eye's angular speed in degrees per second."""
    g = np.degrees(track.gaze[:, :2].astype(np.float64))
    speed = np.linalg.norm(np.diff(g, axis=0), axis=1) * track.fps
    if valid is not None:
        speed = speed[valid[1:] & valid[:-1]]
    return float(np.percentile(speed, 50)), float(np.percentile(speed, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=120)
    parser.add_argument("--markdown", help="write the report to this file")
    args = parser.parse_args()

    engine = load_engine("piper")
    generator = load_generator("procedural")
    results = {"procedural": [], "amplitude baseline": []}
    concatenated = {name: [] for name in results}
    envelopes = []
    generate_seconds = frames_total = 0
    for i, text in enumerate(sentences(args.sentences)):
        speech = engine.synthesize(normalize(text))
        t0 = time.perf_counter()
        ours = generator.start(FPS, speech.sample_rate, MotionParams(), seed=i).push(speech.pcm, speech.phonemes)
        generate_seconds += time.perf_counter() - t0
        frames_total += len(ours)
        baseline = amplitude_baseline(speech.pcm, speech.sample_rate, len(ours), FPS)
        for name, track in (("procedural", ours), ("amplitude baseline", baseline)):
            results[name].append(lip_closure(track, speech.phonemes))
            concatenated[name].append(track)
        envelopes.append(envelope(speech.pcm, speech.sample_rate, len(ours), FPS))

    lines = [f"Corpus: {args.sentences} sentences from `tools/eval_speaking.py` (word lists dense in p, b, m), "
             f"voice Piper en_US-joe-medium, {FPS} fps.", "",
             "| generator | bilabials closed (recall) | closures on a bilabial (precision) | F1 | A/V offset (ms) | jaw-envelope correlation |",
             "|---|---|---|---|---|---|"]
    env_all = np.concatenate(envelopes)
    for name, scores in results.items():
        s = sum(scores, ClosureScore())
        jaw = np.concatenate([t.channel("jawOpen") for t in concatenated[name]])
        lag, corr = best_lag_ms(jaw, env_all)
        lines.append(f"| {name} | {s.recall:.3f} ({s.closed_bilabials}/{s.bilabials}) | {s.precision:.3f} "
                     f"({s.closures_on_bilabials}/{s.closures}) | {s.f1:.3f} | {lag:+.1f} | {corr:.2f} |")

    takes = {}
    for name in ("MySlate_3_Jason_Millers_iPhone.csv", "apfel_tracking_loss.csv", "alex_rom_3.csv"):
        path = TAKES / name
        if path.exists():
            takes[name.split("_")[0]] = read_csv(path)
    ours_all = Track.concatenate(concatenated["procedural"], FPS)
    base_all = Track.concatenate(concatenated["amplitude baseline"], FPS)
    columns = ["procedural", "amplitude baseline", *takes]
    tracks = [ours_all, base_all, *(t.track for t in takes.values())]
    lines += ["", "Per-channel value ranges, p5 / p50 / p95 (real takes: " + ", ".join(takes) + "; `alex` is a "
              "range-of-motion take, so its p95 shows how far a face can go, not how far it goes in speech):", "",
              "| channel | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for channel in CHANNELS:
        cells = []
        for track in tracks:
            v = track.channel(channel)
            cells.append("{:.2f} / {:.2f} / {:.2f}".format(*np.percentile(v, [5, 50, 95])))
        lines.append(f"| {channel} | " + " | ".join(cells) + " |")
    lines += ["", "| measure | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    blink = [blink_stats(t) for t in tracks]
    lines.append("| blinks per minute | " + " | ".join(f"{b[0]:.1f}" for b in blink) + " |")
    lines.append("| blink duration, mean (ms) | " + " | ".join(f"{b[1]:.0f}" for b in blink) + " |")
    valid = [None, None, *(t.valid for t in takes.values())]
    speeds = [eye_speed(t, v) for t, v in zip(tracks, valid)]
    lines.append("| eye speed p50 / p95 (deg/s) | " + " | ".join(f"{s[0]:.1f} / {s[1]:.1f}" for s in speeds) + " |")
    lines += ["", f"Speed: the procedural generator made {frames_total} frames in {generate_seconds:.3f} s: "
              f"{frames_total / generate_seconds:,.0f} frames per second on one core."]
    report = "\n".join(lines)
    print(report)
    if args.markdown:
        Path(args.markdown).write_text(report + "\n")


if __name__ == "__main__":
    main()
