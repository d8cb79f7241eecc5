"""Lip-closure scores of a track against its phoneme timeline (used by `avbridge say` and
tools/eval_speaking.py; defined in docs/quality.md).

  recall     bilabial phonemes (p, b, m) with at least one closed frame inside them (+- half a frame)
  precision  closure events during speech (maximal runs of closed frames touching a non-pause
             phoneme) that overlap a bilabial phoneme (+- one frame)
"Closed" is `lip_gap < LIPS_CLOSED_BELOW`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from avbridge.core.arkit import INDEX
from avbridge.core.phonemes import Phoneme
from avbridge.core.track import Track
from avbridge.motion.baselines import envelope
from avbridge.motion.visemes import LIPS_CLOSED_BELOW, is_bilabial, lip_gap
from avbridge.speech.timeline import PAUSE


@dataclass
class ClosureScore:
    closed_bilabials: int = 0
    bilabials: int = 0
    closures_on_bilabials: int = 0
    closures: int = 0

    def __add__(self, other: "ClosureScore") -> "ClosureScore":
        return ClosureScore(*(a + b for a, b in zip(self.__dict__.values(), other.__dict__.values())))

    @property
    def recall(self) -> float:
        return self.closed_bilabials / self.bilabials if self.bilabials else 1.0

    @property
    def precision(self) -> float:
        return self.closures_on_bilabials / self.closures if self.closures else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def lip_closure(track: Track, phonemes: Sequence[Phoneme]) -> ClosureScore:
    """Phoneme times are seconds from the track's frame 0."""
    fps = track.fps
    t = np.arange(len(track)) / fps
    closed = lip_gap(track.blendshapes) < LIPS_CLOSED_BELOW
    bilabials = [p for p in phonemes if is_bilabial(p.symbol)]
    hit = sum(bool(closed[(t >= p.start - 0.5 / fps) & (t <= p.end + 0.5 / fps)].any()) for p in bilabials)
    in_speech = np.zeros(len(t), bool)
    for p in phonemes:
        if p.symbol != PAUSE:
            in_speech |= (t >= p.start) & (t < p.end)
    on_bilabial = np.zeros(len(t), bool)
    for p in bilabials:
        on_bilabial |= (t >= p.start - 1 / fps) & (t <= p.end + 1 / fps)
    events = [(a, b) for a, b in closed_runs(closed) if in_speech[a:b].any()]
    good = sum(bool(on_bilabial[a:b].any()) for a, b in events)
    return ClosureScore(hit, len(bilabials), good, len(events))


def closed_runs(closed: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs [a, b) of True in a (T,) bool array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[False], closed, [False]]).astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[0::2], edges[1::2])]


# -- against a reference animation (a held-out take of real capture) ---------------------------
# Used by training validation and tools/eval_flow.py (docs/quality.md, "Learned motion").

def closure_events(blendshapes: np.ndarray, speech: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs [a, b) of closed-lip frames that touch speech frames."""
    return [(a, b) for a, b in closed_runs(lip_gap(blendshapes) < LIPS_CLOSED_BELOW) if speech[a:b].any()]


def closure_f1_against(predicted: np.ndarray, reference: np.ndarray, speech: np.ndarray,
                       tolerance: int = 2) -> ClosureScore:
    """Lip closures of `predicted` (T, 52) scored against those of `reference` (T, 52), both at
    the same fps, during `speech` (T,) bool: a reference closure is found when a predicted one
    overlaps it within `tolerance` frames, and a predicted closure is right when it overlaps a
    reference one within the same tolerance."""
    ref, pred = closure_events(reference, speech), closure_events(predicted, speech)

    def overlaps(a, b):
        return a[0] - tolerance < b[1] and b[0] - tolerance < a[1]

    found = sum(any(overlaps(r, p) for p in pred) for r in ref)
    right = sum(any(overlaps(p, r) for r in ref) for p in pred)
    return ClosureScore(found, len(ref), right, len(pred))


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r of two (T,) curves; 0 when either is flat."""
    if a.std() < 1e-8 or b.std() < 1e-8:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of a (N, D) and b (M, D):
    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))."""
    import scipy.linalg
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    # A channel that never moves in one of the sets makes its covariance singular; a tiny ridge
    # keeps the square root defined without changing the distance measurably.
    ridge = 1e-6 * np.eye(a.shape[1])
    s_a, s_b = np.cov(a, rowvar=False) + ridge, np.cov(b, rowvar=False) + ridge
    root = scipy.linalg.sqrtm(s_a @ s_b)
    if np.iscomplexobj(root):
        root = root.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * root))


def speech_frames(pcm16k: np.ndarray, frames: int, fps: float, below_peak_db: float = 35.0) -> np.ndarray:
    """(frames,) bool: frames whose RMS (over the frame's span) is within `below_peak_db` of the
    clip's loud level (its 95th percentile)."""
    rms = envelope(pcm16k, 16000, frames, fps) + 1e-9
    loud = np.percentile(rms, 95)
    return 20 * np.log10(rms / loud) > -below_peak_db


# -- against real speakers (tools/eval_real_speech.py, docs/quality.md "Real speech") -------------
_OPENNESS = [(INDEX["jawOpen"], 1.0), (INDEX["mouthClose"], -1.0),
             (INDEX["mouthLowerDownLeft"], 0.5), (INDEX["mouthLowerDownRight"], 0.5),
             (INDEX["mouthUpperUpLeft"], 0.5), (INDEX["mouthUpperUpRight"], 0.5)]


def mouth_openness(blendshapes: np.ndarray) -> np.ndarray:
    """(T, 52) -> (T,): (jawOpen - mouthClose + mouthLowerDown + mouthUpperUp) / 3, left and
    right averaged: the opening a face tracker sees, whichever shapes make it."""
    b = np.asarray(blendshapes, np.float64)
    out = np.zeros(len(b))
    for i, w in _OPENNESS:
        out += w * b[:, i]
    return out / 3.0


def lagged_correlation(predicted: np.ndarray, reference: np.ndarray, mask: np.ndarray,
                       max_lag: int) -> tuple[float, int]:
    """(best r, its lag in frames) over lags -max_lag..max_lag; a positive lag means the
    prediction comes late (predicted[t + lag] matches reference[t])."""
    best, best_lag = -2.0, 0
    n = len(reference)
    for lag in range(-max_lag, max_lag + 1):
        idx = np.arange(max(0, -lag), min(n, n - lag))
        keep = mask[idx]
        r = correlation(predicted[idx + lag][keep], reference[idx][keep])
        if r > best:
            best, best_lag = r, lag
    return best, best_lag


def closure_overlap_f1(predicted: np.ndarray, reference: np.ndarray, mask: np.ndarray,
                       share: float = 0.15) -> float:
    """Frame-level F1 of the frames at or below each curve's own `share` quantile of openness,
    counted over the `mask` (speech) frames. Chance is about `share`."""
    p, r = predicted[mask], reference[mask]
    if len(p) == 0:
        return 0.0
    shut_p = p <= np.quantile(p, share)
    shut_r = r <= np.quantile(r, share)
    both = int((shut_p & shut_r).sum())
    return 2.0 * both / max(int(shut_p.sum() + shut_r.sum()), 1)


@dataclass
class HeadStats:
    std_deg: tuple[float, float, float]      # yaw, pitch, roll
    speed_p50: float                         # deg/s of the head's angular speed
    speed_p90: float
    speed_variation: float                   # std / mean of the speed over 1 s windows: 0 when constant


def head_stats(angles_deg: np.ndarray, fps: float) -> HeadStats:
    """(T, 3) yaw, pitch, roll in degrees -> spread and speed. Speed is over a 100 ms difference
    (tracker jitter at 60 fps would otherwise dominate it)."""
    a = np.asarray(angles_deg, np.float64)
    step = max(1, int(round(0.1 * fps)))
    if len(a) <= step:
        return HeadStats((0.0, 0.0, 0.0), 0.0, 0.0, 0.0)
    speed = np.linalg.norm(a[step:] - a[:-step], axis=1) * fps / step
    window = max(1, int(fps))
    means = np.array([speed[i:i + window].mean() for i in range(0, len(speed) - window + 1, window)])
    variation = float(means.std() / means.mean()) if len(means) > 1 and means.mean() > 1e-9 else 0.0
    std = a.std(axis=0)
    return HeadStats((float(std[0]), float(std[1]), float(std[2])), float(np.percentile(speed, 50)),
                     float(np.percentile(speed, 90)), variation)
