"""Head motion while speaking: sway, nods on stressed syllables, a tilt per phrase, settling at
phrase ends.

Shapes: T frames at utterance times t -> yaw, pitch, roll (T,) each, radians (yaw > 0 to the
avatar's left, pitch > 0 down, roll > 0 lowers the right ear).

  sway     three sines per axis, random incommensurate frequencies (0.07 to 0.45 Hz) and phases:
           smooth, and never periodic within an utterance
  nods     a 0.35 s dip of the head on each stressed vowel, deeper when louder, with a turn and
           a tilt of random side and size: speakers move their heads on the beats of their speech,
           so the head's speed rises and falls with the speech rather than staying constant
  tilt     a small roll that changes smoothly at each phrase boundary
  settle   during a pause the sway halves and the head sinks a little (phrase-final lowering)

Nods and pauses are added as their chunks arrive; each acts only around its own time, so the
result does not depend on how the audio is cut.
"""

from __future__ import annotations

import numpy as np

from avbridge.core.rotation import yaw_pitch_roll_to_quaternion

_DEG = np.pi / 180.0
NOD_RISE_S, NOD_FALL_S = 0.12, 0.23
# Spread of the sway (yaw, pitch, roll std in degrees) and of the turn and tilt on each beat, set
# so that speaking heads fall inside what real speakers do (docs/quality.md "Real speech": std
# 1.4 to 7.1 degrees a axis, speed p50 7 to 21 deg/s across the takes measured).
SPEAKING_SWAY_DEG = (2.8, 2.6, 1.8)
SPEAKING_BEAT_DEG = (2.5, 1.8)


class HeadMotion:
    def __init__(self, rng: np.random.Generator, amplitudes_deg: tuple[float, float, float] = SPEAKING_SWAY_DEG,
                 beat_deg: tuple[float, float] = SPEAKING_BEAT_DEG) -> None:
        self._freq = rng.uniform(0.07, 0.45, size=(3, 3))
        self._phase = rng.uniform(0, 2 * np.pi, size=(3, 3))
        weights = rng.uniform(0.5, 1.0, size=(3, 3))
        # Scale so each axis has the requested standard deviation.
        self._amp = weights / np.sqrt((weights ** 2).sum(axis=1, keepdims=True) / 2) \
            * (np.array(amplitudes_deg)[:, None] * _DEG)
        self._tilt_rng = np.random.default_rng(int(rng.integers(2**31)))
        self._beat_rng = np.random.default_rng(int(rng.integers(2**31)))
        self._beat = np.array(beat_deg) * _DEG
        self._nods: list[tuple[float, float, float, float]] = []   # (time, depth, turn, tilt) in radians
        self._pauses: list[tuple[float, float]] = []        # (start, end)
        self._tilts: list[tuple[float, float]] = [(0.0, float(self._tilt_rng.normal(0, 1.0)) * _DEG)]

    def add_nod(self, at: float, strength: float) -> None:
        strength = float(np.clip(strength, 0, 1.2))
        turn, tilt = self._beat_rng.normal(0, 1, 2) * self._beat * strength
        self._nods.append((at, strength * 2.4 * _DEG, float(turn), float(tilt)))

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
        for at, depth, turn, tilt in self._nods:
            u = t - at
            bump = np.where(u < NOD_RISE_S, np.sin(np.clip(u / NOD_RISE_S, 0, 1) * np.pi / 2),
                            np.cos(np.clip((u - NOD_RISE_S) / NOD_FALL_S, 0, 1) * np.pi / 2))
            bump = bump * ((u >= 0) & (u <= NOD_RISE_S + NOD_FALL_S))
            pitch = pitch + depth * bump
            yaw = yaw + turn * bump
            roll = roll + tilt * bump
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


PHRASE_PAUSE_S = 0.15


class SpeechBeats:
    """Nods and phrase pauses found in audio as it arrives (speech without a timeline).

    Causal, as live audio is: a silence becomes a phrase boundary once it has lasted
    PHRASE_PAUSE_S, and an event never starts before the first frame not yet sent, so the result
    does not depend on how the audio is cut."""

    def __init__(self) -> None:
        self._silent_since: float | None = None
        self._in_pause = False
        self._accent_tail: list[tuple[float, float, float]] = []   # last two (time, accent, loudness) of the previous chunk

    def feed(self, head: HeadMotion, t: np.ndarray, loud: np.ndarray, accent: np.ndarray) -> list[float]:
        """Add the nods and pauses of frames at times t (loudness and accent from audio up to each
        frame) to `head`; returns the times where phrase pauses began (for blinks)."""
        boundaries = []
        quiet = loud < 0.1
        for i, at in enumerate(t):
            if quiet[i]:
                if self._silent_since is None:
                    self._silent_since = float(at)
                elif not self._in_pause and at - self._silent_since >= PHRASE_PAUSE_S:
                    self._in_pause = True
                    boundaries.append(float(at))
                    head.add_pause(float(at))
            else:
                if self._in_pause:
                    head.end_pause(float(at))
                self._in_pause = False
                self._silent_since = None
        # Accent peaks, with two frames of the previous chunk so a peak on the seam is not lost.
        # A nod's bump is 0 at its own start, so one found on the previous chunk's last frame can
        # start there without changing frames already sent.
        times = np.concatenate([[x[0] for x in self._accent_tail], t])
        values = np.concatenate([[x[1] for x in self._accent_tail], accent])
        levels = np.concatenate([[x[2] for x in self._accent_tail], loud])
        middle = values[1:-1]
        peaks = np.flatnonzero((middle > 0.25) & (middle >= values[:-2]) & (middle > values[2:])) + 1
        for k in peaks:
            if k >= len(self._accent_tail) - 1:   # peaks inside the tail were handled with the last chunk
                head.add_nod(float(times[k]), float(max(levels[k], 0.3)))
        self._accent_tail = list(zip(times[-2:].tolist(), values[-2:].tolist(), levels[-2:].tolist()))
        return boundaries


def head_pose(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray, accent: np.ndarray,
              expressiveness: float) -> np.ndarray:
    """(T,) angles in radians and the speech accent -> (T, 7) head rotation (x, y, z, w) and
    translation: the head lifts a little on accents and turns about the neck, not its centre."""
    pitch = pitch + np.clip(accent, -0.5, 1.0) * 1.2 * _DEG * expressiveness
    head = np.zeros((len(yaw), 7), np.float32)
    head[:, :4] = yaw_pitch_roll_to_quaternion(yaw, pitch, roll)
    head[:, 4] = -0.01 * np.sin(yaw)
    head[:, 5] = -0.004 * np.sin(pitch)
    head[:, 6] = 0.004 * np.clip(accent, 0, 1) * expressiveness
    return head
