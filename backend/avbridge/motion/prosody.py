"""Accents of speech on the frame grid: where loudness and pitch rise above their recent level.
The features themselves (loudness, pitch) are in core/signal.py."""

from __future__ import annotations

import numpy as np

from avbridge.core.signal import one_pole


class Emphasis:
    """Accent strength per frame: loudness and pitch rising above their recent level (> 0 on
    stressed, louder, higher syllables). Carries its filter state across chunks."""

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self._fast = 0.0
        self._slow = 0.0
        self._pitch_median = 0.0
        self._pitch_accent = 0.0

    def __call__(self, loud: np.ndarray, f0: np.ndarray) -> np.ndarray:
        if len(loud) == 0:
            return np.zeros(0, np.float32)
        fast = one_pole(loud[:, None], [self._fast], 0.08 * self.fps)[:, 0]
        slow = one_pole(loud[:, None], [self._slow], 0.7 * self.fps)[:, 0]
        self._fast, self._slow = float(fast[-1]), float(slow[-1])
        energy_accent = fast - slow
        # The speaker's usual pitch: a running average over voiced frames only (about 1.5 s of
        # voicing), frame by frame, then carried over the unvoiced frames.
        voiced = f0 > 0
        level = np.full(len(f0), self._pitch_median)
        if voiced.any():
            start = self._pitch_median if self._pitch_median > 0 else float(f0[voiced][0])
            tracked = one_pole(f0[voiced][:, None], [start], 1.5 * self.fps)[:, 0]
            positions = np.flatnonzero(voiced)
            carried = np.searchsorted(positions, np.arange(len(f0)), side="right") - 1
            level = np.where(carried >= 0, tracked[np.maximum(carried, 0)], self._pitch_median)
            self._pitch_median = float(tracked[-1])
        semitones = np.where(voiced & (level > 0), 12 * np.log2(np.maximum(f0, 1) / np.maximum(level, 1)), 0.0)
        pitch_accent = one_pole(np.clip(semitones / 4.0, -1, 1.5)[:, None], [self._pitch_accent], 0.06 * self.fps)[:, 0]
        self._pitch_accent = float(pitch_accent[-1])
        return (energy_accent + 0.35 * np.maximum(pitch_accent, 0)).astype(np.float32)
