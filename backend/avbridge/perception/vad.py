"""Voice activity with turn-taking hysteresis, plus the user's pitch and loudness.

Silero VAD (v6, ONNX, MIT licence, shipped in the `silero-vad` wheel) scores each 32 ms window
(512 samples at 16 kHz) with a speech probability. On top of it:
  - speech starts after ONSET_CHUNKS windows in a row above `onset` (2 windows: 64 ms, short enough
    for a 150 ms barge-in, long enough to ignore a cough or a click); its time is the first of them;
  - speech ends after `end_silence_s` of quiet (the turn-end pause; shorter pauses are reported
    as pauses, which the listener uses for backchannels). Quiet is a probability below `offset`,
    or a level PAUSE_DROP_DB under the speaker's recent speech level: Silero holds near 1.0
    through the breathy pauses between a speaker's phrases (measured on the BEAT recording, where
    it stays above 0.95 from 1.6 s to 48.8 s), and those pauses are where listeners nod;
  - per window: probability, loudness (dB relative to full scale) and F0 (0 when unvoiced), and the
    speaker's pitch level, so the listener can find pitch falls at phrase ends.

Shapes: push(int16 at 16 kHz, any length) -> list[VoiceEvent]; `windows` holds one `VoiceWindow`
per 32 ms analysed (the last few seconds).
"""

from __future__ import annotations

import collections
import copy
import functools
from dataclasses import dataclass

from typing import Any

import numpy as np

from avbridge.core.audio import ANALYSIS_RATE
from avbridge.core.signal import pitch

WINDOW = 512                 # samples: the window Silero v6 takes at 16 kHz
WINDOW_S = WINDOW / ANALYSIS_RATE
ONSET_CHUNKS = 2
PAUSE_DROP_DB = 20.0
LEVEL_DECAY_DB = 0.05        # per window: the speech level forgets a loud passage at 1.5 dB/s
PITCH_LEVEL_RATE = 0.02      # per voiced window: the pitch level follows about 1.6 s of voicing

@functools.cache
def _shared_model():
    """The ONNX session is loaded once (70 ms) and shared; each stream keeps its own RNN state.
    (functools.cache is thread-safe for this: a race loads it twice and keeps one.)"""
    from silero_vad import load_silero_vad
    return load_silero_vad(onnx=True)


@dataclass(frozen=True)
class VoiceEvent:
    kind: str          # "start" (speech began), "end" (the turn ended: a long pause), "pause" (a short one)
    time: float        # seconds from the stream's first sample, where it happened in the audio
    detected: float    # seconds from the first sample, when the audio that decided it had arrived


@dataclass(frozen=True)
class VoiceWindow:
    time: float        # start of the window, seconds
    probability: float
    level_db: float
    f0: float


class VoiceActivity:
    def __init__(self, onset: float = 0.5, offset: float = 0.35, end_silence_s: float = 0.6,
                 pause_s: float = 0.2, history_s: float = 5.0) -> None:
        # The model (and torch) is loaded on the first audio, not here: a live session is opened
        # on the server's I/O thread, and importing torch there the first time stalled every
        # other session's stream for about half a second.
        self._torch: Any = None
        self._model: Any = None
        self.onset, self.offset = onset, offset
        self.end_silence_s, self.pause_s = end_silence_s, pause_s
        self._pending = np.zeros(0, np.int16)
        self._consumed = 0                     # samples analysed
        self._above = 0                        # windows in a row above onset
        self._below_since: float | None = None
        self._paused = False
        self._speech_level_db = -60.0
        self.pitch_level = 0.0                 # Hz: the speaker's usual F0, a running mean over voiced windows
        self.speaking = False
        self.speech_started: float | None = None
        self.windows: collections.deque[VoiceWindow] = collections.deque(maxlen=int(history_s / WINDOW_S))

    def push(self, pcm: np.ndarray) -> list[VoiceEvent]:
        self._pending = np.concatenate([self._pending, np.asarray(pcm, np.int16)])
        events: list[VoiceEvent] = []
        while len(self._pending) >= WINDOW:
            window, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
            start = self._consumed / ANALYSIS_RATE
            self._consumed += WINDOW
            events.extend(self._step(window, start))
        return events

    @property
    def time(self) -> float:
        """Seconds of audio analysed so far."""
        return self._consumed / ANALYSIS_RATE

    def _load(self) -> None:
        import torch
        self._torch = torch
        self._model = copy.copy(_shared_model())     # shares the ONNX session, not the state
        self._model.reset_states()

    def _step(self, window: np.ndarray, start: float) -> list[VoiceEvent]:
        if self._model is None:
            self._load()
        x = window.astype(np.float32) / 32768.0
        with self._torch.no_grad():
            p = float(self._model(self._torch.from_numpy(x), ANALYSIS_RATE))
        rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-9)
        level_db = 20 * np.log10(rms)
        f0 = float(pitch(window, ANALYSIS_RATE, np.array([WINDOW]), np.array([1.0 if p > 0.5 else 0.0]))[0])
        self.windows.append(VoiceWindow(start, p, level_db, f0))
        if f0 > 0:
            self.pitch_level = f0 if self.pitch_level <= 0 else self.pitch_level + PITCH_LEVEL_RATE * (f0 - self.pitch_level)
        end = start + WINDOW_S
        events = []
        if not self.speaking:
            self._above = self._above + 1 if p >= self.onset else 0
            if self._above >= ONSET_CHUNKS:
                self.speaking = True
                self.speech_started = end - ONSET_CHUNKS * WINDOW_S
                self._below_since, self._paused = None, False
                events.append(VoiceEvent("start", self.speech_started, end))
            return events
        self._speech_level_db = max(self._speech_level_db - LEVEL_DECAY_DB, level_db if p >= self.onset else -60.0)
        if p >= self.offset and level_db > self._speech_level_db - PAUSE_DROP_DB:
            self._below_since, self._paused = None, False
            return events
        if self._below_since is None:
            self._below_since = start
        quiet = end - self._below_since
        if not self._paused and quiet >= self.pause_s:
            self._paused = True
            events.append(VoiceEvent("pause", self._below_since, end))
        if quiet >= self.end_silence_s:
            self.speaking = False
            self._above = 0
            events.append(VoiceEvent("end", self._below_since, end))
        return events

    def recent(self, seconds: float) -> list[VoiceWindow]:
        cutoff = self.time - seconds
        return [w for w in self.windows if w.time >= cutoff]
