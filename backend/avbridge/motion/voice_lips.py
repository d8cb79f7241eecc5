"""Lips from a live voice alone: streaming, `delay_s` (80 ms) behind the microphone.

A person's own avatar has to move its mouth when the camera cannot see it (a VR headset covers
the face, the face is lost, there is no camera). This follows the voice:

  1. visemes heard: the streaming viseme recogniser (perception/viseme_net.py, 52.5 ms of audio
     ahead, inside the delay) gives each frame's posteriors over the 15 mouth classes; the targets
     are their blend of viseme poses, opened with loudness (motion/mouth.py `posterior_targets`);
  2. closures: the lips meet where the recogniser is fairly sure of p, b or m (posterior above
     CLOSURE_POSTERIOR), and where a band dip says so and the recogniser does not rule it out:
     the 1-5 kHz band drops far below the speech around it for at least 30 ms (the hold of a stop
     and the murmur of a nasal, when only the voice bar or the nose sounds). The dip alone also
     shut on every t, d, k, g and n;
  3. zero-phase smoothing over the frames drawn plus the `delay_s` of audio that has arrived after
     them, so the mouth leads nothing and lags nothing.

Before the recogniser the targets came from loudness and zero crossings alone (openness r 0.38 /
0.35 against real speakers, closure F1 0.28 / 0.29; with it 0.56 / 0.46 and 0.40 / 0.39:
docs/quality.md "Real speech").

Shapes: push(int16 at 16 kHz, any length) -> (first frame index, (T, 52) mouth weights); frame n
lies at n / fps seconds from the first sample. After S samples, the frames before
(S / 16000 - delay_s) * fps have come out.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt, sosfilt_zi

from avbridge.core.arkit import INDEX
from avbridge.core.audio import ANALYSIS_RATE
from avbridge.core.signal import MIN_LOUDNESS_REF, REFERENCE_SHARE, loudness, pitch
from avbridge.motion import frames_covering
from avbridge.motion.mouth import SIL_POSE, SMOOTHING_S, posterior_targets, zero_phase_smooth
from avbridge.motion.visemes import MOUTH_CHANNELS, VISEME_INDEX, VISEME_POSES, VISEMES, viseme_recogniser
from avbridge.perception import viseme_net

DEFAULT_DELAY_S = 0.08
CLOSURE_BAND_HZ = (1000.0, 5000.0)
CLOSURE_RATIO = 0.12         # band level, relative to the speech around it, below which the lips meet
CLOSURE_MIN_S = 0.03
CONTEXT_S = 0.15             # how far back (and, within the delay, ahead) "the speech around it" reaches
# A p/b/m posterior above this shuts the lips; a band dip shuts them where it is above a third of
# it (chosen on BEAT2 with the neurosync take as a check, docs/quality.md "Real speech").
CLOSURE_POSTERIOR = 0.3
_HISTORY_S = 1.0
_PP_POSE = VISEME_POSES[VISEME_INDEX["PP"]]
_JAW, _CLOSE = INDEX["jawOpen"], INDEX["mouthClose"]


class VoiceLips:
    def __init__(self, fps: float, delay_s: float = DEFAULT_DELAY_S, articulation: float = 1.0) -> None:
        self.fps = float(fps)
        self.delay_s = float(delay_s)
        self.articulation = articulation
        self._sos = butter(4, CLOSURE_BAND_HZ, btype="bandpass", fs=ANALYSIS_RATE, output="sos")
        self._band_state = sosfilt_zi(self._sos) * 0.0
        self._audio = np.zeros(0, np.int16)        # the last _HISTORY_S of audio
        self._band = np.zeros(0, np.float64)       # the same span, band-passed
        self._audio_start = 0                      # sample index of _audio[0]
        self._received = 0
        self._next_frame = 0
        self._peak = 0.0
        self._band_level = 0.0                     # running speech level of the band (rms)
        self._previous = SIL_POSE.copy()
        self.features = (np.zeros(0), np.zeros(0))  # loudness and F0 of the frames last given out
        self._visemes = viseme_net.StreamingVisemes(viseme_recogniser())
        self._posteriors = np.zeros((0, len(VISEMES)), np.float32)  # 100 Hz, from _posteriors_first
        self._posteriors_first = 0

    def push(self, pcm: np.ndarray) -> tuple[int, np.ndarray]:
        pcm = np.asarray(pcm, np.int16).reshape(-1)
        if len(pcm) == 0:
            return self._next_frame, np.zeros((0, 52), np.float32)
        band, self._band_state = sosfilt(self._sos, pcm.astype(np.float64), zi=self._band_state)
        self._audio = np.concatenate([self._audio, pcm])
        self._band = np.concatenate([self._band, band])
        _, heard = self._visemes.push(pcm)
        self._posteriors = np.concatenate([self._posteriors, heard])
        self._received += len(pcm)
        ready = max(0, frames_covering(self._received - int(self.delay_s * ANALYSIS_RATE), self.fps, ANALYSIS_RATE))
        first = self._next_frame
        if ready <= first:
            return first, np.zeros((0, 52), np.float32)
        self._next_frame = ready
        mouth = self._draw(first, ready)
        drop = len(self._audio) - int(_HISTORY_S * ANALYSIS_RATE)
        if drop > 0:
            self._audio, self._band = self._audio[drop:], self._band[drop:]
            self._audio_start += drop
            stale = self._audio_start // viseme_net.HOP - self._posteriors_first
            if stale > 0:
                self._posteriors = self._posteriors[stale:]
                self._posteriors_first += stale
        return first, mouth

    def _draw(self, first: int, ready: int) -> np.ndarray:
        # Draw up to the newest audio (the frames after `ready` are the look-ahead), smooth, keep
        # the frames before `ready`.
        newest = frames_covering(self._received, self.fps, ANALYSIS_RATE)
        frames = np.arange(first, max(newest, ready))
        centres = np.round(frames * ANALYSIS_RATE / self.fps).astype(np.int64) - self._audio_start
        # The speech level carries over to the next push only as far as the frames given out: the
        # look-ahead frames will be drawn again then.
        emitted = ready - first
        loud, self._peak = loudness(self._audio, ANALYSIS_RATE, centres[:emitted], self.fps, self._peak)
        ahead, _ = loudness(self._audio, ANALYSIS_RATE, centres[emitted:], self.fps, self._peak)
        # What the head (motion/voice_head.py) needs of the frames given out: their loudness and pitch.
        self.features = (loud.copy(), pitch(self._audio, ANALYSIS_RATE, centres[:emitted], loud))
        loud = np.concatenate([loud, ahead])
        heard = viseme_net.at_frames(self._posteriors, self._posteriors_first, centres + self._audio_start, self.fps)
        targets = posterior_targets(heard, loud) * self.articulation
        bilabial = heard[:, VISEME_INDEX["PP"]]
        closed = (bilabial > CLOSURE_POSTERIOR) | (self._closures(centres) & (bilabial > CLOSURE_POSTERIOR / 3))
        targets[closed] = _PP_POSE
        mouth = zero_phase_smooth(targets, self._previous, SMOOTHING_S * self.fps)
        # Shut frames stay shut after smoothing (lip contact is what the eye checks).
        for i in np.flatnonzero(closed):
            jaw = min(mouth[i, _JAW], _PP_POSE[_JAW] + 0.03)
            mouth[i, MOUTH_CHANNELS] = _PP_POSE[MOUTH_CHANNELS]
            mouth[i, _JAW] = mouth[i, _CLOSE] = jaw
        mouth = mouth[:emitted]
        self._previous = mouth[-1].copy()
        return mouth

    def _closures(self, centres: np.ndarray) -> np.ndarray:
        """(T,) frames inside a band dip of at least CLOSURE_MIN_S with speech around it."""
        hop = ANALYSIS_RATE // 200                       # 5 ms steps
        energy = np.concatenate([[0.0], np.cumsum(self._band ** 2)])

        def level(at: np.ndarray) -> np.ndarray:
            lo = np.clip(at - hop, 0, len(self._band))
            hi = np.clip(at + hop, 0, len(self._band))
            return np.sqrt((energy[hi] - energy[lo]) / np.maximum(hi - lo, 1))

        span = int(CONTEXT_S * ANALYSIS_RATE)
        dip = int(CLOSURE_MIN_S * ANALYSIS_RATE)
        steps = np.arange(-span, span + 1, hop)
        around = level(np.clip(centres[:, None] + steps[None, :], 0, len(self._band)))   # (T, steps)
        reachable = centres[:, None] + steps[None, :] < len(self._band)
        context = np.where(reachable, around, 0.0).max(axis=1)
        self._band_level = max(self._band_level * 0.995, float(context.max(initial=0.0)) * 0.5)
        floor = MIN_LOUDNESS_REF * 0.3 / REFERENCE_SHARE
        near = np.abs(steps) <= dip // 2
        quiet_here = (around[:, near] < CLOSURE_RATIO * np.maximum(context, floor)[:, None]).all(axis=1)
        speech_around = context > max(floor, 0.25 * self._band_level)
        return quiet_here & speech_around
