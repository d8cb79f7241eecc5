"""The head of a person's own avatar from their live voice, when no camera sees the face
(telepresence in a headset, or voice only): the speaking head of the text path (motion/head.py:
sway, nods and turns on the voice's accents, settling in its pauses), driven by the microphone.

Shapes: push(first frame, loudness (T,), f0 (T,) Hz) -> (T, 7) head rotation (x, y, z, w) and
translation, frame n at n / fps seconds of user audio. Loudness and pitch come from the lips'
analysis (motion/voice_lips.py) of the same frames, so the head costs no audio work of its own.
"""

from __future__ import annotations

import numpy as np

from avbridge.motion.head import HeadMotion, SpeechBeats, head_pose
from avbridge.motion.prosody import Emphasis


class VoiceHead:
    def __init__(self, fps: float, seed: int | None = None, expressiveness: float = 1.0) -> None:
        self.fps = float(fps)
        self.expressiveness = expressiveness
        self._head = HeadMotion(np.random.default_rng(seed))
        self._emphasis = Emphasis(self.fps)
        self._beats = SpeechBeats()

    def push(self, first_frame: int, loud: np.ndarray, f0: np.ndarray) -> np.ndarray:
        t = (first_frame + np.arange(len(loud))) / self.fps
        accent = self._emphasis(np.asarray(loud, np.float64), np.asarray(f0, np.float64))
        self._beats.feed(self._head, t, loud, accent)
        expressive = float(np.clip(self.expressiveness, 0.0, 2.0))
        return head_pose(*self._head.angles(t, expressive), accent, expressive)
