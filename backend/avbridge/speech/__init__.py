"""Speech: text (or engine-supplied audio) -> PCM and a phoneme timeline.

Every engine implements `SpeechEngine.synthesize(text) -> SpeechChunk` for one chunk of text
(a sentence or a clause); `avbridge.speech.text` normalises a paragraph and cuts it into chunks so
the first audio can leave before the rest is synthesised.
"""

from __future__ import annotations

import logging
from typing import Protocol

from avbridge.core.phonemes import Phoneme, SpeechChunk, Word

__all__ = ["ENGINES", "Phoneme", "SpeechChunk", "SpeechEngine", "SpeechUnavailable", "Word",
           "load_best_engine", "load_engine"]

log = logging.getLogger(__name__)


class SpeechEngine(Protocol):
    name: str
    sample_rate: int

    def synthesize(self, text: str) -> SpeechChunk:
        """Speak one normalised chunk of text. Thread-safe."""


class SpeechUnavailable(RuntimeError):
    """The engine's library or voice is not installed here."""


ENGINES = ("piper", "espeak")


def load_engine(name: str = "piper") -> SpeechEngine:
    """Load an engine by name: 'piper' (default, neural) or 'espeak' (formant, instant)."""
    if name == "piper":
        from avbridge.speech.piper_engine import PiperEngine
        return PiperEngine()
    if name == "espeak":
        from avbridge.speech.espeak_engine import EspeakEngine
        return EspeakEngine()
    raise ValueError(f"unknown speech engine {name!r}; choose one of {', '.join(ENGINES)}")


def load_best_engine(preferred: str = "piper") -> SpeechEngine:
    """The preferred engine, or espeak-ng when the preferred one cannot load here."""
    try:
        return load_engine(preferred)
    except SpeechUnavailable as exc:
        log.warning("speech engine %s unavailable (%s); falling back to espeak-ng", preferred, exc)
        return load_engine("espeak")
