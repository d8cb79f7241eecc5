"""Procedural motion: phoneme timeline + audio -> Track, with no learned weights.

Per utterance stream (T = frames the pushed audio covers):
    mouth   (T, 52)  viseme poses box-filtered over each frame, smoothed forward and backward
                     (zero phase, so no lag against the audio), opening scaled by loudness; every
                     bilabial (p, b, m) is then forced shut for at least one frame
    blinks  (T, 2)   gamma-distributed intervals, fast close and slower open
    head    (T, 7)   slow multi-sine sway (never repeating: incommensurate random frequencies) plus
                     small nods when loudness rises, as quaternion + translation
    gaze    (T, 4)   fixations with short saccades, mostly eye contact, mirrored into eyeLook*

Without a phoneme timeline (engine-supplied speech), the mouth follows loudness and a crude
spectral shape (zero-crossing rate: sibilants spread, low voiced sounds round), smoothed causally.

Blink, head and gaze depend only on absolute utterance time and the stream's own random state, so
the output does not depend on how the audio is cut into chunks.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.signal import lfilter

from avbridge.arkit import INDEX
from avbridge.motion import MotionParams, frames_covering
from avbridge.motion.emotion import emotion_pose
from avbridge.motion.visemes import MOUTH_CHANNELS, VISEME_INDEX, VISEME_POSES, is_bilabial, viseme_of
from avbridge.speech import Phoneme
from avbridge.track import Track, yaw_pitch_roll_to_quaternion

_DEG = np.pi / 180.0
_SMOOTHING_S = 0.028         # mouth time constant: fast enough for 10-15 phonemes a second
_SUBSAMPLES = 4              # per frame, so phonemes shorter than a frame still count
_MIN_LOUDNESS_REF = 1500.0   # int16 RMS: the loudness reference never drops below this
_NOISE_GATE = 0.06           # audio-only path: loudness (relative to speech) treated as silence
_EYE_LOOK_FULL_YAW = 30 * _DEG
_EYE_LOOK_FULL_PITCH = 25 * _DEG

_JAW = INDEX["jawOpen"]
_CLOSE = INDEX["mouthClose"]
_BLINK = [INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]]
_BROW_UP = [INDEX["browInnerUp"], INDEX["browOuterUpLeft"], INDEX["browOuterUpRight"]]
_PP_POSE = VISEME_POSES[VISEME_INDEX["PP"]]
_SIL_POSE = VISEME_POSES[VISEME_INDEX["sil"]]


class ProceduralGenerator:
    name = "procedural"

    def start(self, fps: float, sample_rate: int, params: MotionParams | None = None,
              seed: int | None = None) -> "ProceduralStream":
        return ProceduralStream(fps, sample_rate, params or MotionParams(), seed)


class ProceduralStream:
    def __init__(self, fps: float, sample_rate: int, params: MotionParams, seed: int | None) -> None:
        self.fps = float(fps)
        self.sample_rate = int(sample_rate)
        self.params = params
        # One generator each, so that how the audio is cut into chunks cannot change the draws.
        blink_rng, head_rng, gaze_rng = np.random.default_rng(seed).spawn(3)
        self._samples_in = 0
        self._frames_out = 0
        self._mouth = _SIL_POSE.copy()                 # last emitted mouth pose
        self._loudness_ref = _MIN_LOUDNESS_REF
        self._emphasis_fast = 0.0
        self._emphasis_slow = 0.0
        self._blinks = _BlinkSchedule(blink_rng, params.blink_rate_per_min)
        self._head = _Sway(head_rng, amplitudes_deg=(2.2, 1.3, 0.9))
        self._gaze = _Fixations(gaze_rng)

    # -- public -----------------------------------------------------------------------------
    def push(self, pcm: np.ndarray, phonemes: Sequence[Phoneme] | None = None) -> Track:
        pcm = np.asarray(pcm, np.int16).reshape(-1)
        first_sample = self._samples_in
        self._samples_in += len(pcm)
        first_frame = self._frames_out
        end_frame = frames_covering(self._samples_in, self.fps, self.sample_rate)
        self._frames_out = end_frame
        n = end_frame - first_frame
        if n <= 0:
            return Track.empty(self.fps, first_frame)
        t_utt = np.arange(first_frame, end_frame) / self.fps            # utterance time
        t_local = t_utt - first_sample / self.sample_rate                # time within this pcm
        loudness = self._loudness(pcm, t_local)
        if phonemes:
            mouth = self._mouth_from_phonemes(phonemes, t_local, loudness)
        else:
            mouth = self._mouth_from_audio(pcm, t_local, loudness)
        return self._compose(mouth, loudness, t_utt, first_frame)

    def finish(self) -> Track:
        return Track.empty(self.fps, self._frames_out)

    # -- mouth ------------------------------------------------------------------------------
    def _loudness(self, pcm: np.ndarray, t_local: np.ndarray) -> np.ndarray:
        """(T,) RMS over one frame around each frame time, relative to the loud speech level."""
        x = pcm.astype(np.float32)
        half = max(1, int(self.sample_rate / self.fps))
        centres = np.clip((t_local * self.sample_rate).astype(np.int64), 0, max(len(x) - 1, 0))
        if len(x) == 0:
            return np.zeros(len(t_local), np.float32)
        csum = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
        lo = np.clip(centres - half, 0, len(x))
        hi = np.clip(centres + half, 0, len(x))
        rms = np.sqrt((csum[hi] - csum[lo]) / np.maximum(hi - lo, 1))
        voiced = rms[rms > _MIN_LOUDNESS_REF * 0.3]
        if len(voiced):
            self._loudness_ref = max(self._loudness_ref, float(np.percentile(voiced, 90)))
        return np.clip(rms / self._loudness_ref, 0.0, 1.5).astype(np.float32)

    def _mouth_from_phonemes(self, phonemes: Sequence[Phoneme], t_local: np.ndarray,
                             loudness: np.ndarray) -> np.ndarray:
        starts = np.array([p.start for p in phonemes])
        visemes = np.array([VISEME_INDEX[viseme_of(p.symbol)] for p in phonemes])
        offsets = (np.arange(_SUBSAMPLES) + 0.5) / _SUBSAMPLES - 0.5
        sub_t = t_local[:, None] + offsets[None, :] / self.fps
        which = np.clip(np.searchsorted(starts, sub_t, side="right") - 1, 0, len(phonemes) - 1)
        targets = VISEME_POSES[visemes[which]].mean(axis=1)              # (T, 52)
        gain = np.clip(0.55 + 0.6 * np.sqrt(loudness), 0.4, 1.25) * self.params.articulation
        opening = np.ones(52, np.float32)
        opening[[INDEX["mouthPressLeft"], INDEX["mouthPressRight"]]] = 0.0
        targets = targets * (1 + (gain[:, None] - 1) * opening[None, :])
        mouth = _zero_phase_smooth(targets, self._mouth, _SMOOTHING_S * self.fps)
        _close_bilabials(mouth, phonemes, t_local, self.fps)
        return mouth

    def _mouth_from_audio(self, pcm: np.ndarray, t_local: np.ndarray, loudness: np.ndarray) -> np.ndarray:
        x = pcm.astype(np.float32)
        half = max(1, int(self.sample_rate / self.fps))
        centres = np.clip((t_local * self.sample_rate).astype(np.int64), 0, max(len(x) - 1, 0))
        crossings = np.concatenate([[0], np.cumsum(np.abs(np.diff(np.sign(x))) > 0)]) if len(x) else np.zeros(1)
        lo = np.clip(centres - half, 0, len(crossings) - 1)
        hi = np.clip(centres + half, 0, len(crossings) - 1)
        zcr = (crossings[hi] - crossings[lo]) / np.maximum(hi - lo, 1)   # crossings per sample
        # Room noise and breath sit below a few percent of the speech level: gate them out, or the
        # mouth hangs open in the pauses of real recordings.
        loudness = np.clip((loudness - _NOISE_GATE) / (1 - _NOISE_GATE), 0, None)
        voiced = loudness > 0
        sibilance = np.clip((zcr - 0.12) / 0.2, 0, 1) * voiced
        rounding = np.clip((0.06 - zcr) / 0.06, 0, 1) * np.clip(loudness, 0, 1)
        open_amount = np.clip(loudness, 0, 1.2) ** 0.8 * (1 - 0.6 * sibilance)
        targets = (_SIL_POSE[None, :]
                   + open_amount[:, None] * (VISEME_POSES[VISEME_INDEX["aa"]] - _SIL_POSE)[None, :] * 0.8
                   + sibilance[:, None] * VISEME_POSES[VISEME_INDEX["SS"]][None, :] * 0.6
                   + rounding[:, None] * VISEME_POSES[VISEME_INDEX["O"]][None, :] * 0.3)
        targets *= self.params.articulation
        # Causal: this path runs on live audio, where the future is not known yet.
        return _one_pole(targets, self._mouth, _SMOOTHING_S * 1.5 * self.fps)

    # -- the rest of the face -----------------------------------------------------------------
    def _compose(self, mouth: np.ndarray, loudness: np.ndarray, t_utt: np.ndarray, first_frame: int) -> Track:
        n = len(t_utt)
        self._mouth = mouth[-1].copy()
        shapes = np.zeros((n, 52), np.float32)
        shapes[:, MOUTH_CHANNELS] = mouth[:, MOUTH_CHANNELS]
        shapes[:, INDEX["mouthPressLeft"]] = mouth[:, INDEX["mouthPressLeft"]]
        shapes[:, INDEX["mouthPressRight"]] = mouth[:, INDEX["mouthPressRight"]]
        expressive = float(np.clip(self.params.expressiveness, 0.0, 2.0))
        emphasis = self._emphasis(loudness)
        brow = np.clip(emphasis * 0.9, 0, 1) * 0.25 * expressive
        shapes[:, _BROW_UP[0]] += brow
        shapes[:, _BROW_UP[1]] += brow * 0.6
        shapes[:, _BROW_UP[2]] += brow * 0.6
        blink = self._blinks.weights(t_utt)
        shapes[:, _BLINK[0]] = blink
        shapes[:, _BLINK[1]] = np.clip(blink * 0.97, 0, 1)
        gaze = self._gaze.angles(t_utt)
        _eye_look_shapes(shapes, gaze)
        pose = emotion_pose(self.params.emotion, self.params.emotion_intensity)
        shapes += pose[None, :]
        # Keep bilabials shut even when an emotion widens the mouth.
        closed = mouth[:, _CLOSE] > 0.5 * mouth[:, _JAW] + 1e-3
        shapes[closed, _CLOSE] = shapes[closed, _JAW]
        np.clip(shapes, 0.0, 1.0, out=shapes)
        yaw, pitch, roll = self._head.angles(t_utt, expressive)
        pitch = pitch + np.clip(emphasis, -0.5, 1.0) * 2.5 * _DEG * expressive
        head = np.zeros((n, 7), np.float32)
        head[:, :4] = yaw_pitch_roll_to_quaternion(yaw, pitch, roll)
        head[:, 4] = -0.01 * np.sin(yaw)                      # the head turns about the neck, not its centre
        head[:, 5] = -0.004 * np.sin(pitch)
        head[:, 6] = 0.004 * np.clip(emphasis, 0, 1) * expressive
        return Track(self.fps, shapes, head, gaze.astype(np.float32), first_frame)

    def _emphasis(self, loudness: np.ndarray) -> np.ndarray:
        """(T,) rise of loudness above its recent level: > 0 on stressed, louder syllables."""
        x = loudness[:, None].astype(np.float64)
        fast = _one_pole(x, np.array([self._emphasis_fast]), 0.08 * self.fps)[:, 0]
        slow = _one_pole(x, np.array([self._emphasis_slow]), 0.7 * self.fps)[:, 0]
        self._emphasis_fast, self._emphasis_slow = float(fast[-1]), float(slow[-1])
        return (fast - slow).astype(np.float32)


def _zero_phase_smooth(targets: np.ndarray, initial: np.ndarray, tau_frames: float) -> np.ndarray:
    """First-order low-pass run forward then backward: no lag. Starts from `initial` (the last
    frame already sent) so consecutive chunks join without a step."""
    forward = _one_pole(targets, initial, tau_frames)
    backward = _one_pole(forward[::-1], forward[-1], tau_frames)[::-1]
    # The first frame must continue from `initial`, so blend the backward pass in over a few frames.
    ramp = np.clip(np.arange(len(targets)) / 3.0, 0, 1)[:, None]
    return forward * (1 - ramp) + backward * ramp


def _one_pole(x: np.ndarray, initial: np.ndarray, tau_frames: float) -> np.ndarray:
    """y[n] = y[n-1] + a (x[n] - y[n-1]) along axis 0, starting from y[-1] = `initial`; as an
    IIR filter in scipy (a Python loop here held the interpreter lock for milliseconds, which
    delayed the server's sends)."""
    alpha = 1 - np.exp(-1.0 / max(tau_frames, 1e-6))
    initial = np.broadcast_to(np.asarray(initial, np.float64), x.shape[1:])
    zi = ((1 - alpha) * initial)[None, ...]
    y, _ = lfilter([alpha], [1.0, -(1 - alpha)], np.asarray(x, np.float64), axis=0, zi=zi)
    return y.astype(np.float32)


def _close_bilabials(mouth: np.ndarray, phonemes: Sequence[Phoneme], t_local: np.ndarray, fps: float) -> None:
    """Shut the lips on every p, b, m: fully in the middle of the phoneme (always at least the
    frame nearest its centre), easing over one frame on each side."""
    if len(t_local) == 0:
        return
    frame = 1.0 / fps
    for p in phonemes:
        if not is_bilabial(p.symbol):
            continue
        margin = 0.2 * (p.end - p.start)
        lo, hi = p.start + margin, p.end - margin
        centre = 0.5 * (p.start + p.end)
        weight = np.clip(1.0 - np.maximum(lo - t_local, t_local - hi).clip(0) / frame, 0, 1)
        nearest = int(np.argmin(np.abs(t_local - centre)))
        if abs(t_local[nearest] - centre) <= frame:
            weight[nearest] = 1.0
        for i in np.flatnonzero(weight > 0):
            w = weight[i]
            closed = mouth[i] * (1 - w) + _PP_POSE * w
            jaw = min(mouth[i, _JAW], _PP_POSE[_JAW] + 0.03) if w >= 1 else closed[_JAW]
            closed[_JAW] = jaw
            if w >= 1:
                closed[_CLOSE] = jaw
            mouth[i, MOUTH_CHANNELS] = closed[MOUTH_CHANNELS]


def _eye_look_shapes(shapes: np.ndarray, gaze: np.ndarray) -> None:
    """eyeLook* weights from (T, 4) gaze angles (yaw > 0: to the avatar's left; pitch > 0: down)."""
    for side, yaw_col, pitch_col in (("Left", 0, 1), ("Right", 2, 3)):
        yaw = gaze[:, yaw_col] / _EYE_LOOK_FULL_YAW
        pitch = gaze[:, pitch_col] / _EYE_LOOK_FULL_PITCH
        # Looking to the avatar's left turns the left eye outward and the right eye inward.
        toward_left_channel = "eyeLookOut" if side == "Left" else "eyeLookIn"
        toward_right_channel = "eyeLookIn" if side == "Left" else "eyeLookOut"
        shapes[:, INDEX[toward_left_channel + side]] = np.clip(yaw, 0, 1)
        shapes[:, INDEX[toward_right_channel + side]] = np.clip(-yaw, 0, 1)
        shapes[:, INDEX["eyeLookDown" + side]] = np.clip(pitch, 0, 1)
        shapes[:, INDEX["eyeLookUp" + side]] = np.clip(-pitch, 0, 1)


class _BlinkSchedule:
    """Blinks at a human rate (about 17 a minute at rest), gamma-distributed intervals, closing in
    about a third of the blink and opening in the rest."""

    def __init__(self, rng: np.random.Generator, rate_per_min: float) -> None:
        self._rng = rng
        self._mean_interval = 60.0 / max(rate_per_min, 1.0)
        self._blinks: list[tuple[float, float]] = []     # (start, duration)
        self._next = float(rng.uniform(0.4, min(2.5, self._mean_interval)))

    def weights(self, t: np.ndarray) -> np.ndarray:
        if len(t) == 0:
            return np.zeros(0, np.float32)
        while self._next <= t[-1] + 1.0:
            duration = float(self._rng.uniform(0.12, 0.22))
            self._blinks.append((self._next, duration))
            self._next += max(1.0, duration + float(self._rng.gamma(3.0, self._mean_interval / 3.0)))
        out = np.zeros(len(t), np.float32)
        for start, duration in self._blinks:
            if start > t[-1] or start + duration < t[0]:
                continue
            close, hold = 0.35 * duration, 0.08 * duration
            u = t - start
            closing = np.clip(u / close, 0, 1)
            opening = np.clip(1 - (u - close - hold) / (duration - close - hold), 0, 1)
            w = np.where(u < close + hold, closing, opening) * ((u >= 0) & (u <= duration))
            out = np.maximum(out, np.sin(w * np.pi / 2) ** 2)
        self._blinks = [b for b in self._blinks if b[0] + b[1] >= t[-1] - 1.0]
        return out


class _Sway:
    """Yaw, pitch, roll as sums of three sines each, with random incommensurate frequencies
    (0.07 to 0.45 Hz) and phases: smooth and never periodic within an utterance."""

    def __init__(self, rng: np.random.Generator, amplitudes_deg: tuple[float, float, float]) -> None:
        self._freq = rng.uniform(0.07, 0.45, size=(3, 3))
        self._phase = rng.uniform(0, 2 * np.pi, size=(3, 3))
        weights = rng.uniform(0.5, 1.0, size=(3, 3))
        # Scale so each axis has the requested standard deviation.
        self._amp = weights / np.sqrt((weights ** 2).sum(axis=1, keepdims=True) / 2) \
            * (np.array(amplitudes_deg)[:, None] * _DEG)

    def angles(self, t: np.ndarray, expressiveness: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        waves = self._amp[:, :, None] * np.sin(2 * np.pi * self._freq[:, :, None] * t[None, None, :]
                                               + self._phase[:, :, None])
        yaw, pitch, roll = waves.sum(axis=1) * expressiveness
        return yaw, pitch, roll


class _Fixations:
    """Gaze as fixations joined by quick saccades: mostly eye contact within a couple of degrees,
    now and then a short look away."""

    SACCADE_S = 0.045

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._targets: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)]   # (time, yaw, pitch)
        self._next = float(rng.uniform(0.6, 2.0))

    def angles(self, t: np.ndarray) -> np.ndarray:
        if len(t) == 0:
            return np.zeros((0, 4), np.float32)
        while self._next <= t[-1]:
            if self._rng.random() < 0.75:
                yaw, pitch = self._rng.normal(0, 1.5 * _DEG, size=2)
            else:
                yaw = self._rng.choice([-1, 1]) * self._rng.uniform(5, 10) * _DEG
                pitch = self._rng.uniform(-2, 5) * _DEG
            self._targets.append((self._next, float(yaw), float(pitch)))
            self._next += float(self._rng.uniform(0.8, 3.0))
        times = np.array([x[0] for x in self._targets])
        values = np.array([[x[1], x[2]] for x in self._targets])
        idx = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 1)
        prev = values[np.clip(idx - 1, 0, None)]
        progress = np.clip((t - times[idx]) / self.SACCADE_S, 0, 1)
        progress = progress * progress * (3 - 2 * progress)
        current = prev + (values[idx] - prev) * progress[:, None]
        current[idx == 0] = values[0]
        keep = max(0, int(np.searchsorted(times, t[0], side="right")) - 2)
        self._targets = self._targets[keep:]
        return np.concatenate([current, current], axis=1)   # both eyes on one far target
