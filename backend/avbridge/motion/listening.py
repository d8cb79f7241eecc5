"""Listening: how the avatar attends while the user talks, layered over the idle stream.

Backchannels follow what conversation studies find listeners do: small nods at the speaker's
pauses and at falling pitch at a phrase end, not while the words are coming; smiles returned a
moment (0.4 to 0.8 s) after the speaker smiles; a concerned brow when the speaker sounds or looks
upset. All of it scales with `expressiveness` (0 for reduced motion).

    BackchannelPolicy   user voice events and windows -> when to nod (never while the user talks)
    ListeningLayer      (T, 52) shapes and (T, 7) head of idle frames -> the same, listening

Times are seconds on the session clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from avbridge.core.arkit import INDEX
from avbridge.core.rotation import (
    quaternion_to_yaw_pitch_roll,
    yaw_pitch_roll_to_quaternion,
)
from avbridge.core.track import Track

_DEG = np.pi / 180.0
NOD_S = 0.55
MIRROR_DELAY_S = 0.6
_SMILE = [INDEX["mouthSmileLeft"], INDEX["mouthSmileRight"]]
_CHEEK = [INDEX["cheekSquintLeft"], INDEX["cheekSquintRight"]]
_FROWN = [INDEX["mouthFrownLeft"], INDEX["mouthFrownRight"]]
_BROW_DOWN = [INDEX["browDownLeft"], INDEX["browDownRight"]]


@dataclass
class BackchannelPolicy:
    """Decides nods from the user's voice. A nod is due at a pause (VoiceEvent "pause") or a turn end
    after at least `min_speech_s` of speech since the last nod, and at most one per `min_gap_s`;
    a pause after a pitch fall (the last voiced stretch ending `fall_semitones` below the speaker's
    level) gives a stronger, double nod."""
    min_speech_s: float = 1.0
    min_gap_s: float = 2.0
    fall_semitones: float = 2.0
    last_nod: float = -1e9
    speech_since: float | None = None

    def on_speech_start(self, t: float) -> None:
        if self.speech_since is None:
            self.speech_since = t

    def on_pause(self, t: float, f0_recent: np.ndarray, f0_level: float) -> tuple[str, float] | None:
        """At a pause starting at `t`: a nod (kind, strength) or None."""
        if self.speech_since is None or t - self.speech_since < self.min_speech_s or t - self.last_nod < self.min_gap_s:
            return None
        self.last_nod = t
        self.speech_since = None
        voiced = f0_recent[f0_recent > 0]
        fall = len(voiced) >= 3 and f0_level > 0 and 12 * np.log2(np.median(voiced[-3:]) / f0_level) <= -self.fall_semitones
        return ("double_nod", 1.0) if fall else ("nod", 0.7)


@dataclass
class ListeningLayer:
    expressiveness: float = 1.0
    attending: float = 0.0                       # eased 0..1: listening posture
    target_attending: float = 0.0
    nods: list[tuple[float, str, float]] = field(default_factory=list)   # (start, kind, strength)
    smile_cues: list[tuple[float, float]] = field(default_factory=list)  # (time, user smile 0..1)
    concern: float = 0.0                         # target 0..1
    _concern_now: float = 0.0
    _smile_now: float = 0.0

    def nod(self, at: float, kind: str, strength: float) -> None:
        self.nods.append((at, kind, strength))

    def cancel_nods_after(self, t: float) -> None:
        """The user started talking again: a nod not yet begun would land on their words."""
        self.nods = [n for n in self.nods if n[0] < t]

    def user_smile(self, t: float, smile: float) -> None:
        self.smile_cues.append((t + MIRROR_DELAY_S, float(np.clip(smile, 0, 1))))
        self.smile_cues = self.smile_cues[-200:]

    def apply(self, track: Track, t: np.ndarray) -> Track:
        """Listening on top of `track` (frames at session times t)."""
        n = len(t)
        if n == 0:
            return track
        fps = track.fps
        k = 1 - np.exp(-1 / (0.3 * fps))
        expressive = float(np.clip(self.expressiveness, 0, 2))
        attending = np.empty(n)
        smile = np.empty(n)
        concern = np.empty(n)
        for i, ti in enumerate(t):
            self.attending += k * (self.target_attending - self.attending)
            due = [s for when, s in self.smile_cues if when <= ti]
            target_smile = due[-1] if due else 0.0
            self._smile_now += k * (target_smile - self._smile_now)
            self._concern_now += k * 0.5 * (self.concern - self._concern_now)
            attending[i], smile[i], concern[i] = self.attending, self._smile_now, self._concern_now
        self.smile_cues = [c for c in self.smile_cues if c[0] > t[-1] - 1.0] or self.smile_cues[-1:]
        shapes = track.blendshapes.copy()
        mirrored = 0.7 * smile * min(expressive, 1.0) * attending
        shapes[:, _SMILE] += mirrored[:, None]
        shapes[:, _CHEEK] += 0.4 * mirrored[:, None]
        worried = concern * attending
        shapes[:, INDEX["browInnerUp"]] += 0.45 * worried
        shapes[:, _BROW_DOWN] += 0.15 * worried[:, None]
        shapes[:, _FROWN] += 0.2 * worried[:, None]
        shapes[:, _SMILE] *= (1 - 0.8 * worried)[:, None]
        np.clip(shapes, 0, 1, out=shapes)
        yaw, pitch, roll = quaternion_to_yaw_pitch_roll(track.head[:, :4]).T
        pitch = pitch + self._nod_pitch(t) * expressive
        roll = roll + 3 * _DEG * attending * min(expressive, 1.0)       # a slight, interested tilt
        pitch = pitch + 2 * _DEG * attending * min(expressive, 1.0)     # and a lean toward the speaker
        head = track.head.copy()
        head[:, :4] = yaw_pitch_roll_to_quaternion(yaw, pitch, roll)
        head[:, 6] += 0.01 * attending
        self.nods = [x for x in self.nods if x[0] + 2 * NOD_S > t[-1]]
        return Track(fps, shapes, head, track.gaze, track.start_frame)

    def _nod_pitch(self, t: np.ndarray) -> np.ndarray:
        out = np.zeros(len(t))
        for start, kind, strength in self.nods:
            for repeat in range(2 if kind == "double_nod" else 1):
                s = start + repeat * NOD_S * 0.8
                phase = (t - s) / NOD_S
                inside = (phase >= 0) & (phase < 1)
                out[inside] += strength * 5 * _DEG * (1 - repeat * 0.4) * np.sin(np.pi * phase[inside]) ** 2
        return out

    def nodding(self, t: np.ndarray) -> np.ndarray:
        """(T,) whether a nod is under way at each time (for tests and events)."""
        return self._nod_pitch(t) > 0.1 * _DEG
