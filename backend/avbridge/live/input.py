"""A session's live input: the user's voice and face in, events, listening cues and puppet lips out.

One `LiveInput` per live session. It is sans-IO and single-threaded (the service feeds it from one
worker at a time, in order):

    push_audio(int16 at 16 kHz)  -> LiveUpdate: turn events, backchannels, lips (telepresence)
    push_face(FaceObservation)   -> the latest face for puppeteering, smiles and concern
    transcript_job()             -> audio to transcribe now (partial or final), or None
    transcribed(job, Transcript) -> the transcript event, and concern from what was said

Times inside are seconds of user audio (sample / 16000); the service maps them onto the session
clock with one offset fixed at the first chunk.

Modes:
    telepresence  the user's own avatar: lips and head from the voice (motion/voice_lips.py,
                  voice_head.py), face and head
                  from the camera or engine-side tracking where it sees the face
    listen        a conversational NPC: turn-taking (turns.py) and listening (motion/listening.py)
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np

from avbridge.core.arkit import INDEX
from avbridge.core.audio import ANALYSIS_RATE
from avbridge.live.turns import TurnTaking
from avbridge.motion.listening import BackchannelPolicy, ListeningLayer
from avbridge.motion.voice_head import VoiceHead
from avbridge.motion.voice_lips import DEFAULT_DELAY_S, VoiceLips
from avbridge.perception.asr import Transcript
from avbridge.perception.face import Calibration, FaceObservation, OneEuroFilter
from avbridge.perception.vad import VoiceActivity

LIVE_MODES = ("telepresence", "listen")
PARTIAL_EVERY_S = 1.0
PREROLL_S = 0.5                   # audio kept from before the voice-activity detector's onset
ONSET_MARGIN_S = 0.1              # and this much before the onset it found
MAX_TURN_S = 30.0                 # a turn longer than this is transcribed from its last 30 s
FACE_STALE_S = 0.25               # a face older than this is lost: lips go back to the voice
_SMILE = [INDEX["mouthSmileLeft"], INDEX["mouthSmileRight"]]
_UPSET = [INDEX["browInnerUp"], INDEX["mouthFrownLeft"], INDEX["mouthFrownRight"]]


@dataclass
class LiveUpdate:
    events: list[tuple[str, float, dict]] = field(default_factory=list)   # (name, user time, fields)
    first_frame: int = 0
    mouth: np.ndarray = field(default_factory=lambda: np.zeros((0, 52), np.float32))
    head: np.ndarray = field(default_factory=lambda: np.zeros((0, 7), np.float32))   # the voice's head, with the mouth
    barge_in: bool = False


@dataclass
class TranscriptJob:
    audio: np.ndarray
    start: float                  # user time of audio[0]
    final: bool
    turn: int


class LiveInput:
    def __init__(self, mode: str, fps: float, turns: TurnTaking, listening: ListeningLayer,
                 transcripts: bool = True, lips_delay_s: float = DEFAULT_DELAY_S, seed: int | None = None) -> None:
        if mode not in LIVE_MODES:
            raise ValueError(f"live mode {mode!r}; expected one of {', '.join(LIVE_MODES)}")
        self.mode = mode
        self.fps = fps
        self.turns = turns
        self.listening = listening
        self.transcripts = transcripts
        self.vad = VoiceActivity()
        self.backchannels = BackchannelPolicy()
        self.lips = VoiceLips(fps, lips_delay_s) if mode == "telepresence" else None
        self.voice_head = VoiceHead(fps, seed) if mode == "telepresence" else None
        self.calibration = Calibration()
        self.calibrating_until: float | None = None
        self._face_filter = OneEuroFilter(min_cutoff=2.0, beta=2.0)
        self.face: FaceObservation | None = None
        self._turn_audio: list[np.ndarray] = []
        self._preroll: collections.deque = collections.deque()      # the last PREROLL_S of audio, for a turn's onset
        self._preroll_samples = 0
        self._turn_start = 0.0
        self._turn = 0
        self._partial_at = 0.0
        self.transcribing = False

    @property
    def time(self) -> float:
        return self.vad.time

    # -- voice ----------------------------------------------------------------------------------
    def push_audio(self, pcm: np.ndarray) -> LiveUpdate:
        pcm = np.asarray(pcm, np.int16)
        update = LiveUpdate()
        if self.lips is not None:
            update.first_frame, update.mouth = self.lips.push(pcm)
            if len(update.mouth) and self.voice_head is not None:
                update.head = self.voice_head.push(update.first_frame, *self.lips.features)
        if self.vad.speaking or self._turn_audio:
            self._turn_audio.append(pcm)
        self._preroll.append(pcm)
        self._preroll_samples += len(pcm)
        while self._preroll_samples - len(self._preroll[0]) >= PREROLL_S * ANALYSIS_RATE:
            self._preroll_samples -= len(self._preroll.popleft())
        for event in self.vad.push(pcm):
            if event.kind == "start":
                # Keep the speech from its onset, which the VAD decided on some pieces later (a
                # turn's first word lost its first 50 ms, and Whisper the word, without this).
                back = int((self.vad.time - event.time) * ANALYSIS_RATE) + int(ONSET_MARGIN_S * ANALYSIS_RATE)
                recent = np.concatenate(self._preroll)
                self._turn_audio = [recent[-back:]] if back > 0 else []
                self._turn_start, self._partial_at = event.time, event.time
                self._turn += 1
                self.backchannels.on_speech_start(event.time)
                self.listening.cancel_nods_after(event.time)
                update.events += [(name, event.time, f) for name, f in self.turns.user_start(event.time)]
            elif event.kind == "pause":
                nod = self._backchannel(event.time)
                if nod is not None:
                    update.events.append(("backchannel", event.detected, {"text": nod[0]}))
            elif event.kind == "end":
                update.events += [(name, event.time, f) for name, f in self.turns.user_end(event.time)]
        for name, fields in self.turns.tick(self.vad.time):
            update.events.append((name, self.vad.time, fields))
        update.barge_in = any(name == "barge_in" for name, _, _ in update.events)
        return update

    def _backchannel(self, t: float) -> tuple[str, float] | None:
        """A nod at a pause in the user's speech, only while the avatar listens (not while it speaks)."""
        if self.mode != "listen" or self.turns.state != "listening":
            return None
        f0 = np.array([w.f0 for w in self.vad.recent(0.6) if w.time < t])
        return self.backchannels.on_pause(t, f0, self.vad.pitch_level)

    # -- transcripts ----------------------------------------------------------------------------
    def transcript_job(self) -> TranscriptJob | None:
        if not self.transcripts or self.transcribing or not self._turn_audio:
            return None
        audio = np.concatenate(self._turn_audio)[-int(MAX_TURN_S * ANALYSIS_RATE):]
        final = not self.vad.speaking
        if not final and self.vad.time - self._partial_at < PARTIAL_EVERY_S:
            return None
        self._partial_at = self.vad.time
        job = TranscriptJob(audio, self.vad.time - len(audio) / ANALYSIS_RATE, final, self._turn)
        if final:
            self._turn_audio = []
        self.transcribing = True
        return job

    def transcribed(self, job: TranscriptJob, transcript: Transcript) -> tuple[str, float, dict] | None:
        self.transcribing = False
        if not transcript.text:
            return None
        if job.final:
            self.listening.concern = max(self.listening.concern * 0.5, _text_concern(transcript.text))
        return ("transcript", job.start + len(job.audio) / ANALYSIS_RATE,
                {"text": transcript.text, "final": job.final})

    # -- face -----------------------------------------------------------------------------------
    def calibrate(self, seconds: float) -> None:
        """Capture the user's neutral face over the next `seconds` of face frames."""
        self.calibrating_until = (self.face.time if self.face else 0.0) + seconds
        self.calibration = Calibration()

    def push_face(self, observation: FaceObservation) -> None:
        if self.calibrating_until is not None:
            self.calibration.add(observation)
            if observation.time >= self.calibrating_until:
                self.calibration.finish()
                self.calibrating_until = None
        if not observation.tracked:
            self.face = observation
            self._face_filter.reset()
            return
        observation = self.calibration.apply(observation)
        smoothed = self._face_filter(np.concatenate([observation.weights, observation.head]), observation.time)
        head = smoothed[52:].astype(np.float32)
        head[:4] /= max(float(np.linalg.norm(head[:4])), 1e-6)
        self.face = FaceObservation(observation.time, True, np.clip(smoothed[:52], 0, 1).astype(np.float32), head)
        if self.mode == "listen":
            self.listening.user_smile(observation.time, float(self.face.weights[_SMILE].mean()))
            upset = float(self.face.weights[_UPSET].mean())
            if upset > 0.35:
                self.listening.concern = max(self.listening.concern, min(1.0, upset * 1.5))

    def face_at(self, t: float) -> FaceObservation | None:
        """The latest face if it is fresh and tracked at user time t, else None (face lost)."""
        if self.face is None or not self.face.tracked or t - self.face.time > FACE_STALE_S:
            return None
        return self.face


def _text_concern(text: str) -> float:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    compound = SentimentIntensityAnalyzer().polarity_scores(text)["compound"]
    return float(np.clip(-compound, 0.0, 1.0)) if compound < -0.3 else 0.0
