"""Head motion while speaking: sway, nods on stressed syllables, a tilt per phrase, settling at
phrase ends.

Shapes: T frames at utterance times t -> yaw, pitch, roll (T,) each, radians (yaw > 0 to the
avatar's left, pitch > 0 down, roll > 0 lowers the right ear).

  sway     three sines per axis, random incommensurate frequencies (0.07 to 0.45 Hz) and phases:
           smooth, and never periodic within an utterance
  nods     a 0.35 s dip of the head on each stressed vowel, deeper when louder
  tilt     a small roll that changes smoothly at each phrase boundary
  settle   during a pause the sway halves and the head sinks a little (phrase-final lowering)

Nods and pauses are added as their chunks arrive; each acts only around its own time, so the
result does not depend on how the audio is cut.
"""

from __future__ import annotations

import numpy as np

_DEG = np.pi / 180.0
NOD_RISE_S, NOD_FALL_S = 0.12, 0.23


class HeadMotion:
    def __init__(self, rng: np.random.Generator, amplitudes_deg: tuple[float, float, float] = (2.2, 1.3, 0.9)) -> None:
        self._freq = rng.uniform(0.07, 0.45, size=(3, 3))
        self._phase = rng.uniform(0, 2 * np.pi, size=(3, 3))
        weights = rng.uniform(0.5, 1.0, size=(3, 3))
        # Scale so each axis has the requested standard deviation.
        self._amp = weights / np.sqrt((weights ** 2).sum(axis=1, keepdims=True) / 2) \
            * (np.array(amplitudes_deg)[:, None] * _DEG)
        self._tilt_rng = np.random.default_rng(int(rng.integers(2**31)))
        self._nods: list[tuple[float, float]] = []          # (time, depth in radians)
        self._pauses: list[tuple[float, float]] = []        # (start, end)
        self._tilts: list[tuple[float, float]] = [(0.0, float(self._tilt_rng.normal(0, 1.0)) * _DEG)]

    def add_nod(self, at: float, strength: float) -> None:
        self._nods.append((at, float(np.clip(strength, 0, 1.2)) * 2.4 * _DEG))

    def add_pause(self, start: float, end: float = float("inf")) -> None:
        """A pause from `start` to `end`; live audio does not know the end yet: see end_pause."""
        self._pauses.append((start, end))
        if end != float("inf"):
            self._tilts.append((end, float(self._tilt_rng.normal(0, 1.2)) * _DEG))

    def end_pause(self, end: float) -> None:
        if self._pauses and self._pauses[-1][1] == float("inf"):
            self._pauses[-1] = (self._pauses[-1][0], end)
            self._tilts.append((end, float(self._tilt_rng.normal(0, 1.2)) * _DEG))

    def angles(self, t: np.ndarray, expressiveness: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        waves = self._amp[:, :, None] * np.sin(2 * np.pi * self._freq[:, :, None] * t[None, None, :]
                                               + self._phase[:, :, None])
        yaw, pitch, roll = waves.sum(axis=1)
        settle = np.zeros(len(t))
        for start, end in self._pauses:
            ramp = np.clip((t - start) / 0.25, 0, 1) * np.clip((end + 0.2 - t) / 0.2, 0, 1)
            settle = np.maximum(settle, ramp)
        yaw, pitch, roll = (a * (1 - 0.5 * settle) for a in (yaw, pitch, roll))
        pitch = pitch + 0.8 * _DEG * settle
        for at, depth in self._nods:
            u = t - at
            bump = np.where(u < NOD_RISE_S, np.sin(np.clip(u / NOD_RISE_S, 0, 1) * np.pi / 2),
                            np.cos(np.clip((u - NOD_RISE_S) / NOD_FALL_S, 0, 1) * np.pi / 2))
            pitch = pitch + depth * bump * ((u >= 0) & (u <= NOD_RISE_S + NOD_FALL_S))
        times = np.array([x[0] for x in self._tilts])
        values = np.array([x[1] for x in self._tilts])
        idx = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 1)
        prev = values[np.clip(idx - 1, 0, None)]
        progress = np.clip((t - times[idx]) / 0.6, 0, 1)
        tilt = prev + (values[idx] - prev) * (progress * progress * (3 - 2 * progress))
        tilt[idx == 0] = values[0]
        if len(t):
            horizon = t[0] - 1.0
            self._nods = [n for n in self._nods if n[0] >= horizon]
            self._pauses = [p for p in self._pauses if p[1] >= horizon]
        return yaw * expressiveness, pitch * expressiveness, (roll + tilt) * expressiveness
