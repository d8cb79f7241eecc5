"""What a speech engine gives the motion: the PCM of one chunk of text and its phoneme and word
timeline. Engines live in speech/; everything that animates speech reads these types."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Phoneme:
    """One phoneme (IPA) on a chunk's own time axis, in seconds from the chunk's first sample.
    `stress` is 1 for a primary-stressed vowel, 2 for a secondary one, else 0."""
    symbol: str
    start: float
    end: float
    stress: int = 0


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float


@dataclass
class SpeechChunk:
    """Audio for one chunk of text: `pcm` is (N,) int16 mono at `sample_rate`."""
    text: str
    pcm: np.ndarray
    sample_rate: int
    phonemes: list[Phoneme] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.pcm) / self.sample_rate
