"""Does a mouth opening learned from real faces beat the hand-set one? A measurement, not a
shipped model (docs/quality.md "A learned opening").

The mouth the audio paths make is the viseme recogniser's posteriors blended into poses, opened
with loudness (motion/mouth.py `posterior_targets`). This fits the alternative: a ridge regression
from a window of posteriors, posteriors x sqrt(loudness), loudness, voicing, log F0 and the
hand-set opening itself (100 Hz, `--past` / `--future` frames of 10 ms) to the captured opening,
on the licence-clean paired takes only, and scores it beside the hand-set opening on takes it
never saw:

  train  BEAT2 2_scott_0_1_1, its first two thirds (jaw angle; Apache-2.0), and/or the FACEGOOD
         takes but 1114_3_15 (Mandarin, hand-animated; MIT)
  test   BEAT2's last third, FACEGOOD 1114_3_15, and the neurosync take (evaluation only: its
         licence is revenue-gated, so it is never trained on)

    .venv/bin/python tools/fit_openness_mapping.py --beat2 DIR --neurosync DIR --facegood ../shared/data/facegood

Scores: openness r and closure F1 over speech frames, as tools/eval_real_speech.py defines them.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from avbridge.core.signal import loudness, pitch  # noqa: E402
from avbridge.datasets.real_speech import RealTake, load_beat2, load_facegood, load_live_link  # noqa: E402
from avbridge.motion.metrics import closure_overlap_f1, correlation, mouth_openness, speech_frames  # noqa: E402
from avbridge.motion.mouth import posterior_targets  # noqa: E402
from avbridge.perception import viseme_net  # noqa: E402

RATE = 100.0                                    # the recogniser's frame rate
FACEGOOD_TRAIN = ("1114_2_01", "1114_2_02", "1114_2_03", "1114_2_04", "1114_2_05", "1114_3_16")
FACEGOOD_TEST = "1114_3_15"


def features(pcm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 36) per-frame inputs at 100 Hz, and (T,) the hand-set opening."""
    post = viseme_net.posteriors(pcm)
    centres = np.arange(len(post)) * viseme_net.HOP
    loud, _ = loudness(pcm, 16000, centres, RATE, 0.0)
    f0 = pitch(pcm, 16000, centres, loud)
    hand = mouth_openness(posterior_targets(post, loud))
    root = np.sqrt(loud)[:, None]
    log_f0 = np.where(f0 > 0, np.log(np.maximum(f0, 1.0) / 150.0), 0.0)
    return np.column_stack([post * root, post, root, f0 > 0, log_f0, hand]), hand


def windowed(rows: np.ndarray, past: int, future: int, step: int) -> np.ndarray:
    taps = np.arange(-past, future + 1, step)
    at = np.clip(np.arange(len(rows))[:, None] + taps[None, :], 0, len(rows) - 1)
    return rows[at].reshape(len(rows), -1)


def part(take: RealTake, a: float, b: float) -> RealTake:
    """The take's share [a, b) of its length."""
    out = copy.copy(take)
    i, j = int(a * len(take.openness)), int(b * len(take.openness))
    out.openness, out.jaw = take.openness[i:j], take.jaw[i:j]
    out.pcm = take.pcm[int(i / take.fps * 16000):int(j / take.fps * 16000)]
    out.name = f"{take.name} [{a:.2f}, {b:.2f})"
    return out


def at_take_frames(values: np.ndarray, take: RealTake) -> np.ndarray:
    return np.interp(np.arange(len(take.openness)) / take.fps, np.arange(len(values)) / RATE, values)


def scores(values: np.ndarray, take: RealTake) -> tuple[float, float]:
    ours = at_take_frames(values, take)
    speech = speech_frames(take.pcm, len(ours), take.fps)
    return correlation(ours[speech], take.openness[speech]), closure_overlap_f1(ours, take.openness, speech)


def fit(train: list[RealTake], cached, past: int, future: int, step: int, ridge: float):
    """Each take weighs the same in the fit, however long; targets scaled to the take's own
    5th-95th percentile (the rigs' units differ)."""
    xs, ys, ws = [], [], []
    for take in train:
        rows, _ = cached(take)
        lo, hi = np.percentile(take.openness, [5, 95])
        target = np.interp(np.arange(len(rows)) / RATE, np.arange(len(take.openness)) / take.fps, take.openness)
        xs.append(windowed(rows, past, future, step))
        ys.append((target - lo) / max(hi - lo, 1e-9))
        ws.append(np.full(len(rows), 1.0 / len(rows)))
    x, y, w = np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)
    w = w / w.mean()
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    design = np.column_stack([(x - mean) / std, np.ones(len(x))])
    weighted = design * w[:, None]
    coef = np.linalg.solve(weighted.T @ design + ridge * np.eye(design.shape[1]), weighted.T @ y)
    return lambda rows: np.column_stack([(windowed(rows, past, future, step) - mean) / std, np.ones(len(rows))]) @ coef


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--beat2", required=True)
    parser.add_argument("--facegood", required=True)
    parser.add_argument("--neurosync", required=True)
    args = parser.parse_args()
    beat = load_beat2(Path(args.beat2) / "2_scott_0_1_1.npz", Path(args.beat2) / "2_scott_0_1_1.wav", "BEAT2")
    neurosync = load_live_link(Path(args.neurosync) / "testset.csv", Path(args.neurosync) / "audio.wav", "neurosync")
    facegood = [load_facegood(args.facegood, name) for name in FACEGOOD_TRAIN]
    tests = [part(beat, 0.67, 1.0), load_facegood(args.facegood, FACEGOOD_TEST), neurosync]
    memo: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def cached(take: RealTake) -> tuple[np.ndarray, np.ndarray]:
        if take.name not in memo:
            memo[take.name] = features(take.pcm)
        return memo[take.name]

    print("| opening | trained on | window (ms past / ahead) | " + " | ".join(t.name for t in tests) + " |")
    print("|---|---|---|" + "---|" * len(tests))
    print("| hand-set (shipped) | | | " + " | ".join("%.2f / %.2f" % scores(cached(t)[1], t) for t in tests) + " |")
    sets = {"BEAT2 first 2/3": [part(beat, 0.0, 0.67)], "FACEGOOD 6 takes": facegood,
            "both": [part(beat, 0.0, 0.67)] + facegood}
    for label, train in sets.items():
        for past, future, step, ridge in ((10, 2, 2, 1000.0), (20, 10, 5, 1000.0), (30, 25, 5, 1000.0)):
            predict = fit(train, cached, past, future, step, ridge)
            cells = ["%.2f / %.2f" % scores(predict(cached(t)[0]), t) for t in tests]
            print(f"| ridge | {label} | {past * 10} / {future * 10} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
