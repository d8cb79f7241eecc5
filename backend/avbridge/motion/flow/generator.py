"""The learned motion generator (`--motion flow:PATH`): windowed streaming inference of a flow
checkpoint, on the same MotionStream interface as the procedural generator.

Audio arrives in pieces of any size. A window of `window` new model frames is sampled as soon as
the audio covers them and their `lookahead` frames; it reads the `context` frames before it as a
known prefix, so the motion runs on across windows without a seam. The noise of window k is drawn
from (seed, k) alone, so how the audio is cut cannot change the output: streaming and offline
generation (`FlowGenerator.generate`) give the same frames.

What the checkpoint did not learn (a corpus without head tracking, say) comes from the procedural
generator run alongside: head motion, gaze and blinks, and the session's emotion pose is added on
top of the learned channels. Model frames (30 fps) are interpolated to the session's rate.

Latency: a frame leaves once `lookahead` model frames (67 ms at 30 fps) of audio after it have
arrived and its window is complete (up to `window` frames, 333 ms), so a stream owes up to
`delay_frames` frames after a push; `finish` gives the rest. A push samples at most
`WINDOWS_PER_PUSH` windows, so a whole sentence pushed at once does not hold its first frames
(and the audio sent with them) until its last window is done: while `backlog` is true, the caller
pushes nothing (an empty piece) to get the next frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from avbridge.core.audio import ANALYSIS_RATE, Resampler
from avbridge.core.phonemes import Phoneme
from avbridge.core.rotation import yaw_pitch_roll_to_quaternion
from avbridge.core.track import Track
from avbridge.motion import MotionParams, frames_covering
from avbridge.motion.emotion import emotion_pose
from avbridge.motion.flow.features import (
    HEAD,
    MOTION_DIM,
    USER_DIM,
    WINDOW,
    audio_features,
    interpolate_rows,
    samples_needed,
    viseme_tokens,
)
from avbridge.motion.flow.model import FlowMotionModel
from avbridge.motion.procedural import ProceduralStream

WINDOWS_PER_PUSH = 1


class WindowedSampler:
    """Model frames for one utterance, window by window, from 16 kHz audio as it arrives.

    Only what is still to be read is kept: audio from `context` frames before the first frame not
    yet made, and model frames (`motion`, natural units, from model frame `motion_start`) from the
    earlier of the next window's context and the first frame the reader has not `released`; so a
    stream of any length runs in fixed memory.
    """

    def __init__(self, model: FlowMotionModel, seed: int | None, steps: int | None = None,
                 window: int | None = None, guidance: float | None = None, user=None) -> None:
        self.model = model
        # The listener's side, for a checkpoint trained with one: user(first_frame, span) ->
        # (span, USER_DIM) features (features.user_features); None reads as nobody there.
        self.user = user
        self.config = model.config
        self.seed = 0 if seed is None else int(seed)
        self.steps = steps
        self.guidance = guidance
        self.window = window or model.config.window
        self.pcm = np.zeros(0, np.int16)
        self.pcm_start = 0                      # utterance sample index of pcm[0]
        self.phonemes: list[Phoneme] = []       # seconds from the utterance's first sample
        self.motion = np.zeros((0, MOTION_DIM), np.float32)
        self.motion_start = 0
        self.released = 0                       # model frames the reader no longer needs
        self.windows = 0

    @property
    def made(self) -> int:
        """Model frames made so far."""
        return self.motion_start + len(self.motion)

    @property
    def received(self) -> int:
        return self.pcm_start + len(self.pcm)

    def add(self, pcm16k: np.ndarray, phonemes: Sequence[Phoneme] = (), offset_s: float = 0.0) -> None:
        self.pcm = np.concatenate([self.pcm, np.asarray(pcm16k, np.int16)])
        self.phonemes.extend(Phoneme(p.symbol, p.start + offset_s, p.end + offset_s, p.stress) for p in phonemes)

    def next_window(self, final: bool) -> int:
        """New frames in the next window the audio allows now (0: none until more audio, or,
        when `final`, none left)."""
        c = self.config
        total = frames_covering(self.received, c.fps, ANALYSIS_RATE)
        new = min(self.window, total - self.made)
        if new <= 0 or (not final and (new < self.window or
                                       samples_needed(self.made + new + c.lookahead, c.fps) > self.received)):
            return 0
        return new

    def run(self, final: bool, limit: int | None = None) -> int:
        """Sample the windows the audio allows (all remaining ones when `final`), at most `limit`
        of them; -> frames made."""
        made = windows = 0
        while (limit is None or windows < limit) and (new := self.next_window(final)):
            self._window(self.made, new)
            made += new
            windows += 1
        return made

    def _window(self, first: int, new: int) -> None:
        c = self.config
        start = max(0, first - c.context)
        span = (first - start) + new + c.lookahead
        audio = audio_features(self.pcm, start, span, c.fps, pcm_offset=self.pcm_start)
        tokens = viseme_tokens(self.phonemes, span, c.fps, offset_s=-start / c.fps)
        prefix = np.zeros((span, MOTION_DIM), np.float32)
        prefix[:first - start] = self.motion[start - self.motion_start:first - self.motion_start]
        known = np.arange(span) < first - start
        user = self.user(start, span) if self.user is not None else np.zeros((span, USER_DIM), np.float32)
        rng = np.random.default_rng([self.seed, self.windows])
        noise = rng.standard_normal((span, MOTION_DIM)).astype(np.float32)
        out = self.model.sample_window(audio, tokens, prefix, known, user, noise, self.steps, self.guidance)
        self.motion = np.concatenate([self.motion, out[first - start:first - start + new]])
        self.windows += 1
        self._forget(first + new - c.context)

    def _forget(self, keep_from: int) -> None:
        """Drop model frames before `keep_from`, and audio and phonemes that no window reads again."""
        c = self.config
        keep_from = max(keep_from, 0)
        kept_motion = min(keep_from, self.released)
        if kept_motion > self.motion_start:
            self.motion = self.motion[kept_motion - self.motion_start:]
            self.motion_start = kept_motion
        # The earliest sample a later window reads: its first subframe centre less half a window.
        first_sample = int(np.floor((keep_from - 0.5) / c.fps * ANALYSIS_RATE)) - WINDOW // 2 - 1
        if first_sample > self.pcm_start:
            self.pcm = self.pcm[first_sample - self.pcm_start:]
            self.pcm_start = first_sample
        horizon = keep_from / c.fps
        self.phonemes = [p for p in self.phonemes if p.end >= horizon]


class FlowGenerator:
    """MotionGenerator backed by a checkpoint. The model is shared by every stream (read-only)."""

    def __init__(self, path: str | Path, device: str | None = None, steps: int | None = None,
                 window: int | None = None) -> None:
        # Torch's thread count is the process's: the server (ServerConfig.torch_threads) or the
        # program embedding this sets it, not a generator (tools/bench_flow.py: one thread gives
        # 67 ms a window, two 118 ms, as the server runs sessions on its own workers).
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model, _ = FlowMotionModel.load(path, device)
        self.path = Path(path)
        self.name = f"flow:{self.path}"
        self.steps = steps
        # Training drew windows of 4 to `window` new frames, so any of those sizes may serve:
        # fewer frames a window is less latency for more compute per second of speech.
        self.window = window or self.model.config.window
        if not 4 <= self.window <= self.model.config.window:
            raise ValueError(f"window {self.window}: this checkpoint was trained on windows of 4 to "
                             f"{self.model.config.window} frames")

    @property
    def delay_frames(self) -> int:
        return self.window + self.model.config.lookahead

    def start(self, fps: float, sample_rate: int, params: MotionParams | None = None,
              seed: int | None = None) -> "FlowStream":
        return FlowStream(self.model, fps, sample_rate, params or MotionParams(), seed, self.steps, self.window)

    def generate(self, pcm: np.ndarray, sample_rate: int, fps: float, phonemes: Sequence[Phoneme] | None = None,
                 params: MotionParams | None = None, seed: int | None = None) -> Track:
        """A whole utterance offline: the same frames a stream gives for the same audio and seed."""
        stream = self.start(fps, sample_rate, params, seed)
        first = stream.push(pcm, phonemes)
        return Track.concatenate([first, stream.finish()], fps)


class FlowStream:
    def __init__(self, model: FlowMotionModel, fps: float, sample_rate: int, params: MotionParams,
                 seed: int | None, steps: int | None = None, window: int | None = None) -> None:
        self.fps = float(fps)
        self.sample_rate = int(sample_rate)
        self.params = params
        self.model = model
        self._sampler = WindowedSampler(model, seed, steps, window)
        self._resampler = Resampler(sample_rate)
        self._procedural = ProceduralStream(fps, sample_rate, params, seed)
        self._pending: list[Track] = []          # procedural frames not yet given out
        self._samples_in = 0
        self._frames_out = 0
        learned = np.zeros(MOTION_DIM, bool)
        learned[model.config.learned] = True
        self._learned_shapes = np.flatnonzero(learned[:52])
        self._learned_head = bool(learned[HEAD].any())

    def push(self, pcm: np.ndarray, phonemes: Sequence[Phoneme] | None = None) -> Track:
        pcm = np.asarray(pcm, np.int16).reshape(-1)
        offset_s = self._samples_in / self.sample_rate
        self._samples_in += len(pcm)
        self._pending.append(self._procedural.push(pcm, phonemes))
        self._sampler.add(self._resampler.push(pcm), phonemes or (), offset_s)
        self._sampler.run(final=False, limit=WINDOWS_PER_PUSH)
        return self._emit(final=False)

    @property
    def backlog(self) -> bool:
        """Windows the audio already allows are waiting: push an empty piece for their frames."""
        return self._sampler.next_window(final=False) > 0

    def finish(self) -> Track:
        self._sampler.add(self._resampler.flush())
        self._pending.append(self._procedural.finish())
        self._sampler.run(final=True)
        return self._emit(final=True)

    def _emit(self, final: bool) -> Track:
        """Procedural frames that the model frames now cover, with the learned channels replaced."""
        base = Track.concatenate(self._pending, self.fps) if self._pending else Track.empty(self.fps, self._frames_out)
        model_fps = self.model.config.fps
        made = self._sampler.made
        owed = frames_covering(self._samples_in, self.fps, self.sample_rate)
        # Output frame n (at n / fps) is ready once model frames on both sides of it exist.
        ready = owed if final else min(owed, int(np.floor((made - 1) * self.fps / model_fps + 1e-9)) + 1 if made else 0)
        count = max(0, ready - self._frames_out)
        first = self._frames_out
        shapes, head, gaze = base.blendshapes[:count].copy(), base.head[:count].copy(), base.gaze[:count]
        rest = Track(self.fps, base.blendshapes[count:], base.head[count:], base.gaze[count:], first + count)
        self._pending = [rest] if len(rest) else []
        self._frames_out += count
        if count:
            learned = self._interpolate(np.arange(first, first + count) / self.fps)
            emotion = emotion_pose(self.params.emotion, self.params.emotion_intensity)
            shapes[:, self._learned_shapes] = np.clip(learned[:, self._learned_shapes]
                                                      + emotion[self._learned_shapes], 0.0, 1.0)
            if self._learned_head:
                head[:, :4] = yaw_pitch_roll_to_quaternion(learned[:, 52], learned[:, 53], learned[:, 54])
        # Later output frames interpolate from the model frame just before them onwards.
        self._sampler.released = max(0, int(np.floor(self._frames_out * model_fps / self.fps)) - 1)
        return Track(self.fps, shapes, head, gaze, first)

    def _interpolate(self, t: np.ndarray) -> np.ndarray:
        """Model frames at times `t` (seconds) -> (len(t), MOTION_DIM), linear, held at the ends."""
        sampler = self._sampler
        motion_t = (sampler.motion_start + np.arange(len(sampler.motion))) / self.model.config.fps
        return interpolate_rows(t, motion_t, sampler.motion)

