"""Motion: phoneme timelines, audio and features -> Track.

A generator is chosen by name (`load_generator`), and makes one `MotionStream` per utterance. The
stream is fed the utterance's audio in order, chunk by chunk (with the chunk's phoneme timeline when
there is one), and returns the frames that the new audio covers: frame n lies at n / fps seconds
from the first sample, and once `finish` has returned, pushes totalling S samples have given out
exactly ceil(S * fps / sample_rate) frames. So audio and frames can never drift apart, however the
audio is cut. The procedural generator gives every covered frame at once; the learned one (flow)
holds back up to `delay_frames` of them until the audio after them has arrived (each returned
Track says where it starts with `start_frame`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from avbridge.core.phonemes import Phoneme
from avbridge.core.track import Track


@dataclass
class MotionParams:
    """Controls a session can set. Values outside their range are clipped by the session."""
    expressiveness: float = 1.0      # 0 (still) .. 2 (lively): scales head motion and brows
    articulation: float = 1.0        # 0.2 .. 2: scales mouth opening
    blink_rate_per_min: float = 17.0
    emotion: str = "neutral"
    emotion_intensity: float = 0.0   # 0 .. 1
    infer_emotion: bool = False      # choose emotion and intensity from each sentence's text
    gaze_target: tuple[float, float] = (0.0, 0.0)   # yaw, pitch in radians from looking straight ahead
    thinking: bool = False           # between lines: look away, up and aside, as people do while they think
    extra: dict = field(default_factory=dict)


class MotionStream(Protocol):
    def push(self, pcm: np.ndarray, phonemes: Sequence[Phoneme] | None = None) -> Track:
        """Frames for the samples `pcm` adds. Phoneme times are relative to pcm[0]."""

    def finish(self) -> Track:
        """Frames still owed after the last push (usually none)."""


class MotionGenerator(Protocol):
    name: str

    def start(self, fps: float, sample_rate: int, params: MotionParams | None = None,
              seed: int | None = None) -> MotionStream: ...


def frames_covering(samples: int, fps: float, sample_rate: int) -> int:
    """How many frames (at n / fps, n = 0, 1, ...) start before `samples` samples have played."""
    return int(np.ceil(samples * fps / sample_rate - 1e-9))


def load_generator(spec: str = "procedural") -> MotionGenerator:
    """'procedural' (no weights), or 'flow:PATH' (a checkpoint from `avbridge train`)."""
    if spec == "procedural":
        from avbridge.motion.procedural import ProceduralGenerator
        return ProceduralGenerator()
    if spec.startswith("flow:"):
        from avbridge.motion.flow.generator import FlowGenerator
        return FlowGenerator(spec[len("flow:"):])
    raise ValueError(f"unknown motion generator {spec!r}; available: procedural, flow:CHECKPOINT")
