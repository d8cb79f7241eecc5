"""Eyes: blinks, and gaze as fixations with saccades, drift and microsaccades.

Shapes (T frames at utterance times t):
    blink  (T,)    eyelid closure in [0, 1]
    gaze   (T, 4)  left yaw, left pitch, right yaw, right pitch (radians; yaw > 0 to the avatar's
                   left, pitch > 0 down), both eyes on one far target

Everything depends only on absolute utterance time and the component's own random generator, so
the output does not change with how the audio is cut into chunks. Events (phrase boundaries) are
added as their chunks arrive and only affect times after them.
"""

from __future__ import annotations

import numpy as np

_DEG = np.pi / 180.0


class BlinkSchedule:
    """Blinks at a human rate, gamma-distributed intervals, closing in about a third of the blink
    and opening in the rest; a phrase boundary often brings one on (people blink at pauses)."""

    def __init__(self, rng: np.random.Generator, rate_per_min: float) -> None:
        self._rng = rng
        self._mean_interval = 60.0 / max(rate_per_min, 1.0)
        self._blinks: list[tuple[float, float]] = []     # (start, duration), sorted
        self._next = float(rng.uniform(0.8, max(1.0, self._mean_interval)))
        self._boundary_draws = np.random.default_rng(int(rng.integers(2**31)))

    def _duration(self) -> float:
        return float(self._rng.uniform(0.18, 0.32))

    def add_boundary(self, at: float) -> None:
        """A pause in speech starts at `at`: blink there, unless a blink is already near."""
        if self._boundary_draws.random() > 0.6:
            return
        if any(abs(start - at) < 0.9 for start, _ in self._blinks) or abs(self._next - at) < 0.9:
            return
        self._blinks.append((at + 0.05, float(self._boundary_draws.uniform(0.18, 0.3))))
        self._blinks.sort()

    def weights(self, t: np.ndarray) -> np.ndarray:
        if len(t) == 0:
            return np.zeros(0, np.float32)
        while self._next <= t[-1] + 1.0:
            duration = self._duration()
            self._blinks.append((self._next, duration))
            self._next += max(1.0, duration + float(self._rng.gamma(3.0, self._mean_interval / 3.0)))
        self._blinks.sort()
        out = np.zeros(len(t), np.float32)
        for start, duration in self._blinks:
            if start > t[-1] or start + duration < t[0]:
                continue
            close, hold = 0.3 * duration, 0.1 * duration
            u = t - start
            closing = np.clip(u / close, 0, 1)
            opening = np.clip(1 - (u - close - hold) / (duration - close - hold), 0, 1)
            w = np.where(u < close + hold, closing, opening) * ((u >= 0) & (u <= duration))
            out = np.maximum(out, np.sin(w * np.pi / 2) ** 2)
        self._blinks = [b for b in self._blinks if b[0] + b[1] >= t[-1] - 1.0]
        return out


class Gaze:
    """Mostly eye contact (the gaze target), a glance away as speech starts (people look aside
    while they plan what to say), now and then a look away mid-speech; two to three saccades a
    second, each as long as its amplitude asks; between them the eyes drift slowly, as real eyes
    never hold still."""

    def __init__(self, rng: np.random.Generator, target: tuple[float, float] = (0.0, 0.0),
                 glance_at_start: bool = True) -> None:
        self._rng = rng
        self.target = target
        self._fixations: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)]   # (time, yaw, pitch) offsets
        if glance_at_start and rng.random() < 0.7:
            side = rng.choice([-1.0, 1.0])
            self._fixations = [(0.0, side * rng.uniform(5, 10) * _DEG, -rng.uniform(1, 4) * _DEG),
                               (float(rng.uniform(0.4, 0.9)), 0.0, 0.0)]
        self._next = self._fixations[-1][0] + float(rng.uniform(0.25, 1.1))
        self._drift_freq = rng.uniform(0.3, 1.2, size=(2, 3))
        self._drift_phase = rng.uniform(0, 2 * np.pi, size=(2, 3))

    def angles(self, t: np.ndarray) -> np.ndarray:
        if len(t) == 0:
            return np.zeros((0, 4), np.float32)
        while self._next <= t[-1]:
            kind = self._rng.random()
            if kind < 0.55:
                yaw, pitch = self._rng.normal(0, 1.2 * _DEG, size=2)          # around the target (eyes, mouth)
            elif kind < 0.85:
                last = self._fixations[-1]
                yaw, pitch = np.array(last[1:]) + self._rng.normal(0, 0.4 * _DEG, size=2)   # a microsaccade
            else:
                yaw = self._rng.choice([-1, 1]) * self._rng.uniform(5, 10) * _DEG
                pitch = self._rng.uniform(-3, 4) * _DEG
            self._fixations.append((self._next, float(yaw), float(pitch)))
            # Conversational gaze makes two to three saccades a second.
            self._next += float(self._rng.uniform(0.25, 1.1))
        times = np.array([f[0] for f in self._fixations])
        values = np.array([[f[1], f[2]] for f in self._fixations])
        idx = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 1)
        prev = values[np.clip(idx - 1, 0, None)]
        # Saccade duration grows with its amplitude (the "main sequence": about 20 ms + 2.5 ms/deg).
        amplitude_deg = np.degrees(np.linalg.norm(values[idx] - prev, axis=1))
        duration = 0.02 + 0.0025 * amplitude_deg
        progress = np.clip((t - times[idx]) / duration, 0, 1)
        progress = progress * progress * (3 - 2 * progress)
        current = prev + (values[idx] - prev) * progress[:, None]
        current[idx == 0] = values[0]
        drift = (0.25 * _DEG * np.sin(2 * np.pi * self._drift_freq[:, :, None] * t[None, None, :]
                                      + self._drift_phase[:, :, None])).sum(axis=1).T
        angles = current + drift + np.array(self.target)[None, :]
        keep = max(0, int(np.searchsorted(times, t[0], side="right")) - 2)
        self._fixations = self._fixations[keep:]
        return np.concatenate([angles, angles], axis=1)


def eye_look_shapes(shapes: np.ndarray, gaze: np.ndarray, index: dict) -> None:
    """eyeLook* weights from gaze angles: full weight at 30 degrees of yaw or 25 of pitch."""
    for side, yaw_col, pitch_col in (("Left", 0, 1), ("Right", 2, 3)):
        yaw = gaze[:, yaw_col] / (30 * _DEG)
        pitch = gaze[:, pitch_col] / (25 * _DEG)
        # Looking to the avatar's left turns the left eye outward and the right eye inward.
        toward_left = "eyeLookOut" if side == "Left" else "eyeLookIn"
        toward_right = "eyeLookIn" if side == "Left" else "eyeLookOut"
        shapes[:, index[toward_left + side]] = np.clip(yaw, 0, 1)
        shapes[:, index[toward_right + side]] = np.clip(-yaw, 0, 1)
        shapes[:, index["eyeLookDown" + side]] = np.clip(pitch, 0, 1)
        shapes[:, index["eyeLookUp" + side]] = np.clip(-pitch, 0, 1)
