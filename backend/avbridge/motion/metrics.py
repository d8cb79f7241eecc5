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

from avbridge.motion.visemes import LIPS_CLOSED_BELOW, is_bilabial, lip_gap
from avbridge.speech import Phoneme
from avbridge.speech.timeline import PAUSE
from avbridge.track import Track


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
    events = good = 0
    n = 0
    while n < len(t):
        if not closed[n]:
            n += 1
            continue
        m = n
        while m < len(t) and closed[m]:
            m += 1
        if in_speech[n:m].any():
            events += 1
            good += bool(on_bilabial[n:m].any())
        n = m
    return ClosureScore(hit, len(bilabials), good, events)
