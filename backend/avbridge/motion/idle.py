"""Idle motion: how the avatar looks while nothing is said. Breathing, a small head sway, blinks,
saccades and drift, the current emotion. No audio; generated on demand for any stretch of time.

Shapes: `next(frames)` -> Track of that many frames continuing the previous ones (frame n at
n / fps from the idle stream's start).

With `params.thinking` (set by the engine while it works out a reply, cleared by the next line)
the eyes turn away, up and to one side, the inner brows lift a little and the eyes narrow.

Breathing runs at about 15 breaths a minute: the jaw and lips part a little on the in-breath, the
nostrils flare and the head lifts a fraction of a degree. Sway is smaller than while speaking, and
the eyes hold the gaze target longer (no glance away at the start).
"""

from __future__ import annotations

import numpy as np

from avbridge.core.arkit import INDEX
from avbridge.core.rotation import yaw_pitch_roll_to_quaternion
from avbridge.core.signal import one_pole
from avbridge.core.track import Track
from avbridge.motion import MotionParams
from avbridge.motion.emotion import emotion_pose
from avbridge.motion.eyes import BlinkSchedule, Gaze, eye_look_shapes
from avbridge.motion.head import HeadMotion

_DEG = np.pi / 180.0
BREATHS_PER_MINUTE = 15.0


class IdleStream:
    def __init__(self, fps: float, params: MotionParams, seed: int | None = None) -> None:
        self.fps = float(fps)
        self.params = params
        blink_rng, head_rng, gaze_rng, breath_rng = np.random.default_rng(seed).spawn(4)
        self._blinks = BlinkSchedule(blink_rng, params.blink_rate_per_min)
        self._head = HeadMotion(head_rng, amplitudes_deg=(1.4, 0.8, 0.5))
        self._gaze = Gaze(gaze_rng, params.gaze_target, glance_at_start=False)
        self._breath_rate = BREATHS_PER_MINUTE / 60.0 * float(breath_rng.uniform(0.9, 1.1))
        self._breath_phase = float(breath_rng.uniform(0, 2 * np.pi))
        self._emotion = emotion_pose(params.emotion, params.emotion_intensity)
        self._frames_out = 0
        # While thinking, people look away (mostly up and to one side) and back when they speak.
        self._think_side = float(breath_rng.choice([-1.0, 1.0]))
        self._thinking = 0.0                   # 0..1, eased

    def next(self, frames: int) -> Track:
        first = self._frames_out
        self._frames_out += frames
        t = np.arange(first, first + frames) / self.fps
        shapes = np.zeros((frames, 52), np.float32)
        # In-breath: a slow rise and a quicker fall, 0..1.
        phase = 2 * np.pi * self._breath_rate * t + self._breath_phase
        breath = 0.5 * (1 + np.sin(phase + 0.3 * np.sin(phase)))
        shapes[:, INDEX["jawOpen"]] = 0.015 + 0.02 * breath
        shapes[:, INDEX["mouthClose"]] = 0.01
        shapes[:, INDEX["noseSneerLeft"]] = 0.03 * breath
        shapes[:, INDEX["noseSneerRight"]] = 0.03 * breath
        blink = self._blinks.weights(t)
        shapes[:, INDEX["eyeBlinkLeft"]] = blink
        shapes[:, INDEX["eyeBlinkRight"]] = np.clip(blink * 0.97, 0, 1)
        thinking = one_pole(np.full((frames, 1), 1.0 if self.params.thinking else 0.0), [self._thinking], 0.25 * self.fps)[:, 0]
        self._thinking = float(thinking[-1])
        base_yaw, base_pitch = self.params.gaze_target
        self._gaze.target = (base_yaw, base_pitch)
        gaze = self._gaze.angles(t)
        aside = np.stack([self._think_side * 12 * _DEG * thinking, -7 * _DEG * thinking], axis=1)
        # While thinking the look holds aside: the small glances around eye contact fade, or one
        # to the other side cancelled the look for a second or more (seen on the wire).
        glance = gaze - np.array([base_yaw, base_pitch, base_yaw, base_pitch], np.float32)
        gaze = gaze - glance * (0.7 * thinking)[:, None] + np.concatenate([aside, aside], axis=1)
        eye_look_shapes(shapes, gaze, INDEX)
        target = emotion_pose(self.params.emotion, self.params.emotion_intensity)
        emotion = one_pole(np.repeat(target[None, :], frames, axis=0), self._emotion, 0.5 * self.fps)
        self._emotion = emotion[-1].copy()
        shapes += emotion
        shapes[:, INDEX["browInnerUp"]] += 0.15 * thinking
        shapes[:, INDEX["eyeSquintLeft"]] += 0.1 * thinking
        shapes[:, INDEX["eyeSquintRight"]] += 0.1 * thinking
        np.clip(shapes, 0, 1, out=shapes)
        expressive = float(np.clip(self.params.expressiveness, 0.0, 2.0))
        yaw, pitch, roll = self._head.angles(t, expressive)
        pitch = pitch - 0.4 * _DEG * breath          # the head lifts a little on the in-breath
        head = np.zeros((frames, 7), np.float32)
        head[:, :4] = yaw_pitch_roll_to_quaternion(yaw, pitch, roll)
        head[:, 5] = 0.0015 * breath                 # and the chest rise carries it up a millimetre or two
        return Track(self.fps, shapes, head, gaze.astype(np.float32), first)
