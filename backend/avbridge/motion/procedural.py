"""Procedural motion: phoneme timeline + audio -> Track, with no learned weights.

Per utterance stream (T = frames the pushed audio covers):
    mouth   (T, 52)  motion/mouth.py: anticipated, coarticulated visemes scaled by loudness and
                     speaking rate, smoothed without lag, every p/b/m shut
    brows   (T,)     raised on pitch and loudness accents (motion/prosody.py)
    eyes    (T, 4)   motion/eyes.py: blinks (more at phrase boundaries), fixations, saccades, drift,
                     eyeLook* shapes that match the gaze
    head    (T, 7)   motion/head.py: sway, nods on stressed vowels, tilt per phrase, settling at
                     phrase ends; as quaternion + translation
    emotion (52,)    an expression pose (motion/emotion.py), blended in over 0.3 s when it changes

Without a phoneme timeline (engine-supplied speech) the mouth follows the audio alone, nods come
from loudness accents and phrase boundaries from silences.

Blinks, gaze and sway depend only on utterance time and the stream's own random state, and the
accents behind nods and brows only on audio up to each frame (the stream keeps the end of the
previous chunk for its analysis windows, and indexes frames by whole samples), so none of them
depends on how the audio is cut.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from avbridge.core.arkit import INDEX
from avbridge.core.phonemes import Phoneme
from avbridge.core.signal import loudness, one_pole, pitch
from avbridge.core.track import Track
from avbridge.motion import MotionParams, frames_covering
from avbridge.motion.emotion import emotion_pose
from avbridge.motion.eyes import BlinkSchedule, Gaze, eye_look_shapes
from avbridge.motion.head import PHRASE_PAUSE_S, HeadMotion, SpeechBeats, head_pose
from avbridge.motion.mouth import SIL_POSE, mouth_from_audio, mouth_from_phonemes
from avbridge.motion.prosody import Emphasis
from avbridge.motion.visemes import MOUTH_CHANNELS, viseme_of
from avbridge.perception import viseme_net
from avbridge.speech.timeline import PAUSE

if TYPE_CHECKING:
    from avbridge.motion.heard import HeardSpeechStream

_HISTORY_SAMPLES = 2048
_JAW, _CLOSE = INDEX["jawOpen"], INDEX["mouthClose"]
_BLINK = [INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]]
_SMILE = [INDEX["mouthSmileLeft"], INDEX["mouthSmileRight"]]
_CHEEK = [INDEX["cheekSquintLeft"], INDEX["cheekSquintRight"]]


class ProceduralGenerator:
    name = "procedural"

    def start(self, fps: float, sample_rate: int, params: MotionParams | None = None,
              seed: int | None = None) -> "ProceduralStream":
        return ProceduralStream(fps, sample_rate, params or MotionParams(), seed)

    def start_heard(self, fps: float, sample_rate: int, params: MotionParams | None = None,
                    seed: int | None = None, text: str | None = None) -> "HeardSpeechStream":
        """A stream for speech without a timeline: phones heard in it, or aligned to `text`."""
        from avbridge.motion.heard import HeardSpeechStream
        return HeardSpeechStream(self.start(fps, sample_rate, params, seed), sample_rate, text=text)


class ProceduralStream:
    def __init__(self, fps: float, sample_rate: int, params: MotionParams, seed: int | None) -> None:
        self.fps = float(fps)
        self.sample_rate = int(sample_rate)
        self.params = params
        # One generator each, so that how the audio is cut into chunks cannot change the draws.
        blink_rng, head_rng, gaze_rng = np.random.default_rng(seed).spawn(3)
        self._blinks = BlinkSchedule(blink_rng, params.blink_rate_per_min)
        self._head = HeadMotion(head_rng)
        self._gaze = Gaze(gaze_rng, params.gaze_target)
        self._emphasis = Emphasis(self.fps)
        self._samples_in = 0
        self._frames_out = 0
        self._mouth = SIL_POSE.copy()                 # last emitted mouth pose
        self._loudness_peak = 0.0
        # The end of the previous chunk: analysis windows (40 ms for pitch) reach back into it, so a
        # live stream in 20 ms pieces is analysed as well as a whole file.
        self._history = np.zeros(0, np.int16)
        self._emotion = emotion_pose(params.emotion, params.emotion_intensity)
        self._beats = SpeechBeats()                   # nods and pauses from the audio (no timeline)

    @property
    def frames_out(self) -> int:
        """Frames given out so far (the next track starts here)."""
        return self._frames_out

    def push(self, pcm: np.ndarray, phonemes: Sequence[Phoneme] | None = None) -> Track:
        return self._push(pcm, phonemes, heard=False)

    def push_heard(self, pcm: np.ndarray, phonemes: Sequence[Phoneme], posteriors: np.ndarray | None = None,
                   posteriors_start_s: float = 0.0) -> Track:
        """Like push, with phones heard in the audio (motion/heard.py) rather than given by a
        speech engine: the mouth follows them, the head and brows the audio (heard phones carry
        no stress to nod on, and their pauses are less sure than the audio's). `posteriors`
        (R, 15), the viseme recogniser's rows every 10 ms from `posteriors_start_s` (seconds
        from this pcm's first sample), shape the mouth with the phones (motion/mouth.py)."""
        heard_visemes = None if posteriors is None else (posteriors, posteriors_start_s)
        return self._push(pcm, phonemes, heard=True, heard_visemes=heard_visemes)

    def _push(self, pcm: np.ndarray, phonemes: Sequence[Phoneme] | None, heard: bool,
              heard_visemes: tuple[np.ndarray, float] | None = None) -> Track:
        pcm = np.asarray(pcm, np.int16).reshape(-1)
        first_sample = self._samples_in
        self._samples_in += len(pcm)
        first_frame = self._frames_out
        end_frame = frames_covering(self._samples_in, self.fps, self.sample_rate)
        self._frames_out = end_frame
        if end_frame <= first_frame:
            return Track.empty(self.fps, first_frame)
        t_utt = np.arange(first_frame, end_frame) / self.fps              # utterance time
        chunk_start = first_sample / self.sample_rate
        t_local = t_utt - chunk_start                                     # time within this pcm
        analysed = np.concatenate([self._history, pcm])
        # Each frame's sample index in `analysed`, in integers: the same window however it is cut.
        frame_samples = np.round(np.arange(first_frame, end_frame) * self.sample_rate / self.fps).astype(np.int64)
        centres = frame_samples - first_sample + len(self._history)
        self._history = analysed[-_HISTORY_SAMPLES:]
        # The mouth uses loudness centred on each frame (for sync); accents, which decide nods and
        # brows, use only audio up to each frame, so they come out the same however it is cut.
        peak = self._loudness_peak
        loud, _ = loudness(analysed, self.sample_rate, centres, self.fps, peak)
        loud_so_far, self._loudness_peak = loudness(analysed, self.sample_rate, centres, self.fps, peak, causal=True)
        f0 = pitch(analysed, self.sample_rate, centres, loud_so_far)
        accent = self._emphasis(loud_so_far, f0)
        articulation = float(np.clip(self.params.articulation, 0.2, 2.0))
        if phonemes:
            at_frames = None
            if heard_visemes is not None:
                rows, start_s = heard_visemes
                at_frames = viseme_net.at_frames(rows, 0, (t_local - start_s) * viseme_net.SAMPLE_RATE, self.fps)
            mouth = mouth_from_phonemes(phonemes, t_local, loud, self._mouth, self.fps, articulation, heard,
                                        posteriors=at_frames)
            if heard:
                self._events_from_audio(t_utt, loud_so_far, accent)
            else:
                self._events_from_phonemes(phonemes, chunk_start, loud, t_local)
        else:
            mouth = mouth_from_audio(analysed, self.sample_rate, centres, loud, self._mouth, self.fps, articulation)
            self._events_from_audio(t_utt, loud_so_far, accent)
        return self._compose(mouth, accent, t_utt, first_frame)

    def finish(self) -> Track:
        return Track.empty(self.fps, self._frames_out)

    # -- events for eyes and head --------------------------------------------------------------
    def _events_from_phonemes(self, phonemes: Sequence[Phoneme], chunk_start: float, loud: np.ndarray,
                              t_local: np.ndarray) -> None:
        for i, p in enumerate(phonemes):
            if p.symbol == PAUSE and p.end - p.start >= PHRASE_PAUSE_S and i > 0:
                self._blinks.add_boundary(chunk_start + p.start)
                self._head.add_pause(chunk_start + p.start, chunk_start + p.end)
            elif p.stress == 1 and viseme_of(p.symbol) in ("aa", "E", "I", "O", "U", "RR"):
                near = (t_local >= p.start) & (t_local < p.end + 0.05)
                strength = float(loud[near].max()) if near.any() else 0.5
                self._head.add_nod(chunk_start + p.start - 0.05, strength)

    def _events_from_audio(self, t_utt: np.ndarray, loud: np.ndarray, accent: np.ndarray) -> None:
        for boundary in self._beats.feed(self._head, t_utt, loud, accent):
            self._blinks.add_boundary(boundary)

    # -- the whole face -----------------------------------------------------------------------
    def _compose(self, mouth: np.ndarray, accent: np.ndarray, t_utt: np.ndarray, first_frame: int) -> Track:
        n = len(t_utt)
        self._mouth = mouth[-1].copy()
        shapes = np.zeros((n, 52), np.float32)
        shapes[:, MOUTH_CHANNELS] = mouth[:, MOUTH_CHANNELS]
        expressive = float(np.clip(self.params.expressiveness, 0.0, 2.0))
        brow = np.clip(accent * 0.9, 0, 1) * 0.3 * expressive
        shapes[:, INDEX["browInnerUp"]] += brow
        shapes[:, INDEX["browOuterUpLeft"]] += brow * 0.6
        shapes[:, INDEX["browOuterUpRight"]] += brow * 0.6
        blink = self._blinks.weights(t_utt)
        shapes[:, _BLINK[0]] = blink
        shapes[:, _BLINK[1]] = np.clip(blink * 0.97, 0, 1)
        self._gaze.target = self.params.gaze_target
        gaze = self._gaze.angles(t_utt)
        eye_look_shapes(shapes, gaze, INDEX)
        target = emotion_pose(self.params.emotion, self.params.emotion_intensity)
        emotion = one_pole(np.repeat(target[None, :], n, axis=0), self._emotion, 0.3 * self.fps)
        self._emotion = emotion[-1].copy()
        shapes += emotion
        shapes[:, _CHEEK] += 0.4 * shapes[:, _SMILE]          # a smile lifts the cheeks
        # Keep bilabials shut even when an emotion widens the mouth.
        closed = mouth[:, _CLOSE] > 0.5 * mouth[:, _JAW] + 1e-3
        shapes[closed, _CLOSE] = shapes[closed, _JAW]
        np.clip(shapes, 0.0, 1.0, out=shapes)
        head = head_pose(*self._head.angles(t_utt, expressive), accent, expressive)
        return Track(self.fps, shapes, head, gaze.astype(np.float32), first_frame)
