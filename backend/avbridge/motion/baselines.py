"""The amplitude baseline that evaluations compare against: what many engines ship, jawOpen
following the loudness of the speech and nothing else moving."""

from __future__ import annotations

import numpy as np

from avbridge.core.track import Track


def envelope(pcm: np.ndarray, rate: int, frames: int, fps: float) -> np.ndarray:
    """RMS over each frame's span (centred on n / fps) -> (frames,)."""
    x = np.asarray(pcm, np.float64)
    hop = rate / fps
    out = np.zeros(frames)
    for n in range(frames):
        a, b = int(n * hop - hop / 2), int(n * hop + hop / 2)
        seg = x[max(a, 0):max(b, 1)]
        out[n] = np.sqrt(np.mean(seg ** 2)) if len(seg) else 0.0
    return out


def amplitude_baseline(pcm: np.ndarray, rate: int, frames: int, fps: float) -> Track:
    """jawOpen = 0.6 x the envelope over its 95th percentile, clipped to [0, 1]."""
    env = envelope(pcm, rate, frames, fps)
    track = Track.neutral(fps, frames)
    reference = np.percentile(env[env > 0], 95) if np.any(env > 0) else 1.0
    track.blendshapes[:, 17] = np.clip(env / reference * 0.6, 0, 1)
    return track
