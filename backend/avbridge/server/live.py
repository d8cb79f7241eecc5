"""Live sessions in the server: user audio and faces in, turn events, listening and puppet frames out.

The service's I/O thread only validates and queues; `LiveRunner` processes each session's input as
the session's own light tasks (server/scheduler.py: one at a time, in order, never behind another
session's synthesis), and puts what comes out on the session's outbox like any other stream
message. Every change to the live state (turn-taking, listening, calibration) happens in those
tasks; transcription runs as keyless heavy work and hands its result back as a session task:
  - events (`state`, `user_speech_start`, `user_speech_end`, `transcript`, `barge_in`,
    `backchannel`) go on the stream playing at the time: the line being said, else the idle (listen)
    or live (telepresence) stream;
  - barge-in interrupts the line as `interrupt` does, with the `end`'s reason saying why;
  - telepresence frames go on the session's live stream (audio-less, like idle) as soon as the
    lips are drawn.

User time (user_audio offset / sample_rate, and user_face time) maps onto the session clock by one
anchor, fixed when the first user audio or face arrives: session time = anchor + user time.
"""

from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from avbridge.core.audio import ANALYSIS_RATE, Resampler
from avbridge.core.rotation import slerp
from avbridge.core.track import Track
from avbridge.live.input import LiveInput, TranscriptJob
from avbridge.live.turns import TurnTaking
from avbridge.motion.idle import IdleStream
from avbridge.motion.listening import ListeningLayer
from avbridge.motion.visemes import MOUTH_CHANNELS
from avbridge.perception.face import FaceObservation
from avbridge.protocol import ProtocolError
from avbridge.server.producers import produce_idle
from avbridge.server.scheduler import HEAVY, LIGHT
from avbridge.server.session import Session, Utterance

log = logging.getLogger("avbridge.live")

MAX_QUEUED_AUDIO_S = 5.0          # user audio waiting for a worker beyond this is refused (busy)
AUTO_THINKING_S = 4.0             # the thinking look after a user turn lasts until a line, or this long
_FACE_EASE_S = 0.2
_DRAIN_TURN = 10                  # input pieces one live-input task takes before yielding (200 ms of audio)


@dataclass
class LiveState:
    input: LiveInput
    anchor: float | None = None                  # session time of user time 0
    resampler: Resampler | None = None
    sample_rate: int = 0
    received: int = 0                            # user_audio samples accepted (at sample_rate)
    queue: collections.deque = field(default_factory=collections.deque)
    queued_samples: int = 0
    draining: bool = False
    following: bool = False                      # a look at the avatar's state is queued
    lock: threading.Lock = field(default_factory=threading.Lock)
    stream: Utterance | None = None              # telepresence: the live stream
    base: IdleStream | None = None               # telepresence: blinks, breathing, gaze under the face
    frames_out: int = 0                          # telepresence: live stream frames queued
    first_user_frame: int = 0                    # user-time frame index of live stream frame 0
    face_weight: float = 0.0
    thinking_since: float | None = None
    arrivals: collections.deque = field(default_factory=lambda: collections.deque(maxlen=100))  # (user time at a piece's end, session time it arrived)
    lips_delays: collections.deque = field(default_factory=lambda: collections.deque(maxlen=2000))  # seconds, audio-to-lips
    barge_ins: list[float] = field(default_factory=list)   # seconds from the user's onset arriving to the cut

    def user_to_session(self, user_time: float) -> float:
        """Session time of a moment of user time (the anchor is set by the first user message)."""
        assert self.anchor is not None
        return self.anchor + user_time


class LiveRunner:
    def __init__(self, pool: Any, wake: Callable[[], None], playout_delay_s: float) -> None:
        self._pool = pool
        self._wake = wake
        self._playout = playout_delay_s
        self.chat: Any = None          # server.chat.ChatRunner: answers chat sessions' turns

    @staticmethod
    def prewarm() -> None:
        """Load the voice-activity model (and torch) before the first live session needs it,
        on a background thread: the first load takes about a second of CPU."""
        def load() -> None:
            from avbridge.perception.vad import _shared_model
            try:
                _shared_model()
            except Exception:           # the live extra is broken: the first live session will say so
                log.exception("loading the voice-activity model failed")
        # Not a daemon: an import cut off by the interpreter exiting can crash it.
        threading.Thread(target=load, name="avbridge-live-prewarm").start()

    def _task(self, session: Session, fn: Callable[[], None], name: str) -> None:
        self._pool.submit(fn, lane=LIGHT, deadline=session.clock(), key=session.id, name=name)

    def open(self, session: Session, mode: str, barge_in: str, barge_in_ms: int, transcripts: bool) -> None:
        """`mode`: telepresence, listen, or chat (a listening session whose turns are answered:
        server/chat.py; it always transcribes)."""
        if mode == "chat":
            mode, transcripts = "listen", True
        turns = TurnTaking(policy=barge_in, after_ms=barge_in_ms, think_after_turn=(mode == "listen"))
        listening = ListeningLayer(expressiveness=session.params.expressiveness)
        session.live = LiveState(LiveInput(mode, session.fps, turns, listening, transcripts=transcripts and mode == "listen",
                                               seed=session.seed))
        if mode == "telepresence":
            session.idle_enabled = False           # the live stream replaces idle
        else:
            session.idle_layer = lambda track, start: self.listening_frames(session, track, start)

    # -- I/O thread -------------------------------------------------------------------------------
    def user_audio(self, session: Session, pcm: np.ndarray, rate: int, offset: int) -> None:
        """Check a `user_audio` piece against the stream so far and queue it (SPEC 8.6)."""
        live: LiveState = session.live
        if live.sample_rate and rate != live.sample_rate:
            raise ProtocolError("bad_field", f"user_audio: sample_rate {rate} differs from the stream's {live.sample_rate}")
        if offset < live.received:
            raise ProtocolError("bad_field", f"user_audio: offset {offset} does not continue the user stream at sample {live.received}")
        if offset > live.received:
            # Pieces lost on the way (a link that dropped and came back): the listener hears
            # silence for them, so the samples after keep their place on the user's clock.
            missing = offset - live.received
            if missing > MAX_QUEUED_AUDIO_S * rate:
                raise ProtocolError("bad_field", f"user_audio: offset {offset} is {missing / rate:.1f} s past the user stream "
                                                 f"at sample {live.received}; at most {MAX_QUEUED_AUDIO_S:g} s may be missing")
            log.info("user audio resumes after a gap session=%s missing_s=%.2f", session.id, missing / rate)
            self.push_audio(session, np.zeros(missing, np.int16), rate)
        backlog = self.backlog_s(session)
        if backlog > MAX_QUEUED_AUDIO_S:
            raise ProtocolError("busy", f"user_audio: {backlog:.1f} s of user audio wait to be processed; "
                                        f"the limit is {MAX_QUEUED_AUDIO_S:g}")
        self.push_audio(session, pcm, rate)

    def user_face(self, session: Session, values: np.ndarray, time: float, tracked: bool) -> None:
        """Check a `user_face` frame (59 float32: the codec checked the size) and queue it."""
        if not np.isfinite(values).all():
            raise ProtocolError("bad_field", "user_face: the frame holds NaN or infinite values")
        quaternion = values[52:56].astype(np.float64)
        if tracked and not 0.5 < np.linalg.norm(quaternion) < 1.5:
            raise ProtocolError("bad_field", "user_face: the head rotation is not a unit quaternion (x, y, z, w)")
        head = values[52:].astype(np.float32).copy()
        if tracked:
            head[:4] /= np.linalg.norm(head[:4])
        self.push_face(session, FaceObservation(time, tracked, np.clip(values[:52], 0, 1).astype(np.float32), head))

    def set(self, session: Session, calibrate: float | None, thinking: bool | None) -> None:
        """`set` calibrate or thinking, applied in the session's own order."""
        live: LiveState = session.live

        def apply() -> None:
            if calibrate is not None:
                live.input.calibrate(calibrate)
            if thinking is not None:
                self.think(session, thinking)
        self._task(session, apply, "live-set")

    def think(self, session: Session, on: bool) -> None:
        """The thinking look on or off, through turn-taking (in a session task)."""
        live: LiveState = session.live
        for name, fields in live.input.turns.thinking(on):
            self.event(session, name, session.now(), **fields)
            self._follow_state(session, live, name, fields)

    def push_audio(self, session: Session, pcm: np.ndarray, rate: int) -> None:
        live: LiveState = session.live
        with live.lock:
            if live.resampler is None or live.sample_rate != rate:
                live.resampler, live.sample_rate = Resampler(rate), rate
            if live.anchor is None:
                live.anchor = session.now() + self._playout - len(pcm) / rate
            elif live.input.mode == "listen":
                # A client that paused its microphone resumes later than its offsets say: move the
                # anchor so the user's words keep their place on the session clock.
                late = session.now() + self._playout - (live.anchor + (live.received + len(pcm)) / rate)
                if late > 0.3:
                    live.anchor += late
            live.received += len(pcm)
            live.queue.append(("audio", pcm, session.clock()))
            live.queued_samples += len(pcm)
        self._kick(session)

    def push_face(self, session: Session, observation: FaceObservation) -> None:
        live: LiveState = session.live
        with live.lock:
            if live.anchor is None:
                live.anchor = session.now() + self._playout - observation.time
            live.queue.append(("face", observation, session.clock()))
        self._kick(session)

    def backlog_s(self, session: Session) -> float:
        live: LiveState = session.live
        return live.queued_samples / live.sample_rate if live.sample_rate else 0.0

    def _kick(self, session: Session) -> None:
        live: LiveState = session.live
        with live.lock:
            if live.draining:
                return
            live.draining = True
        self._task(session, lambda: self._drain(session), "live-input")

    # -- worker ---------------------------------------------------------------------------------
    def _drain(self, session: Session) -> None:
        live: LiveState = session.live
        try:
            for _ in range(_DRAIN_TURN):
                if session.closed:
                    return
                with live.lock:
                    if not live.queue:
                        live.draining = False
                        return
                    kind, item, arrived = live.queue.popleft()
                    if kind == "audio":
                        live.queued_samples -= len(item)
                if kind == "audio":
                    assert live.resampler is not None      # set with the first user_audio
                    self._on_audio(session, live, live.resampler.push(item), arrived - session.created)
                else:
                    live.input.push_face(item)
                    self._on_face(session, live, item)
                self._wake()
            # More waits: queue the rest behind the session's other tasks (a chat reply's text,
            # a transcript), which would otherwise wait for as long as the microphone streams.
            self._task(session, lambda: self._drain(session), "live-input")
        except Exception:   # live input failing must not take the server down
            log.exception("live input failed session=%s", session.id)
            with live.lock:
                live.draining = False
                live.queue.clear()
                live.queued_samples = 0

    def _on_audio(self, session: Session, live: LiveState, pcm16: np.ndarray, arrived: float) -> None:
        self.sync_avatar_state(session)
        update = live.input.push_audio(pcm16)
        live.arrivals.append((live.input.time, arrived))
        if update.barge_in:
            self._barge_in(session, live, update, arrived)
        for name, user_time, fields in update.events:
            if name == "barge_in":
                continue
            at = live.user_to_session(user_time)
            if name == "backchannel":
                live.input.listening.nod(session.now() + 0.05, fields["text"], 1.0 if fields["text"] == "double_nod" else 0.7)
            if name == "user_speech_start" and session.chat is not None:
                self.chat.user_started(session)
            self.event(session, name, at, **fields)
            self._follow_state(session, live, name, fields)
        if live.input.mode == "telepresence" and len(update.mouth):
            self._queue_puppet(session, live, update.first_frame, update.mouth, voice_head=update.head)
        self._transcribe_next(session, live)

    def _transcribe_next(self, session: Session, live: LiveState) -> None:
        job = live.input.transcript_job()
        if job is not None:
            self._pool.submit(lambda: self._transcribe(session, job), lane=HEAVY, deadline=session.clock() + (0 if job.final else 1),
                              name="transcribe")

    def _on_face(self, session: Session, live: LiveState, face: FaceObservation) -> None:
        if live.input.mode != "telepresence":
            return
        # Camera only (no voice for a while): the face drives the frames up to its own time.
        audio_time = live.input.time
        if face.time - audio_time > 0.3:
            target = int(np.floor(face.time * session.fps))
            # With no stream yet, the first face starts one at its own frame.
            start = live.first_user_frame + live.frames_out if live.stream else target - 1
            if target > start:
                self._queue_puppet(session, live, start, np.zeros((target - start, 52), np.float32), voice=False)

    def _follow_state(self, session: Session, live: LiveState, name: str, fields: dict) -> None:
        if name != "state":
            return
        state = fields["text"]
        live.input.listening.target_attending = 1.0 if state == "listening" else 0.0
        if state == "thinking":
            session.params.thinking = True
            live.thinking_since = session.now()
        elif live.thinking_since is not None:
            session.params.thinking = False
            live.thinking_since = None

    def _transcribe(self, session: Session, job: TranscriptJob) -> None:
        """Heavy and keyless: the transcript is handed to the session's own queue."""
        from avbridge.perception.asr import Transcript, transcribe
        try:
            transcript = transcribe(job.audio)
        except Exception:
            log.exception("transcription failed session=%s", session.id)
            transcript = Transcript("")
        self._task(session, lambda: self._transcribed(session, job, transcript), "transcript")

    def _transcribed(self, session: Session, job: TranscriptJob, transcript: Any) -> None:
        live: LiveState = session.live
        event = live.input.transcribed(job, transcript)
        if event is not None and not session.closed:
            name, user_time, fields = event
            self.event(session, name, max(live.user_to_session(user_time), session.now()), **fields)
            log.info("transcript session=%s final=%s seconds=%.2f text=%r", session.id, fields["final"],
                     transcript.seconds, fields["text"])
        if not job.final and not session.closed:
            # The turn may have ended while this partial was worked on, and the microphone may
            # have stopped with it: the final transcript cannot wait for more audio.
            self._transcribe_next(session, live)
        if job.final and session.chat is not None and not session.closed:
            if event is not None:
                self.chat.user_turn(session, event[2]["text"])
            else:                         # a cough, a noise: nothing to answer
                self.think(session, False)
        self._wake()

    def _barge_in(self, session: Session, live: LiveState, update, arrived: float) -> None:
        speaking = session.speaking()
        onset = next((t for name, t, _ in update.events if name == "user_speech_start"), None)
        # A chat reply's lines still to come go with the one being said.
        ends = session.interrupt(None if session.chat is not None else speaking.id, reason="barge-in: the user spoke",
                                 barge_in=True) if speaking is not None else []
        if session.chat is not None:
            self.chat.cancel(session, "barge-in")
        for end in ends:
            at = end["time"]
            # When the user's first word reached the server (this piece arrived at `arrived` and
            # ends at the input's time): the avatar's cut, on the same clock, is the delay they see.
            onset_time = onset if onset is not None else live.input.turns.user_started or 0.0
            user_onset = arrived - (live.input.time - onset_time)
            live.barge_ins.append(at - user_onset)
            log.info("barge-in session=%s utterance=%s cut=%.3f after_onset_ms=%.0f", session.id, end["utterance"], at,
                     (at - user_onset) * 1000)
        live.input.turns.avatar_end()

    def follow_avatar(self, session: Session) -> None:
        """From the I/O thread's idle feed: queue a look at whether the avatar started or stopped
        speaking, as the session's own task (turn-taking state changes only there)."""
        live: LiveState = session.live
        if live.following:
            return
        live.following = True

        def look() -> None:
            live.following = False
            self.sync_avatar_state(session)
        self._task(session, look, "live-avatar")

    def sync_avatar_state(self, session: Session) -> None:
        """Tell turn-taking when the avatar starts and stops speaking (called per audio piece and on
        the idle feed), and let an unanswered thinking look go."""
        live: LiveState | None = session.live
        if live is None:
            return
        speaking = session.speaking() is not None
        turns = live.input.turns
        events = turns.avatar_start() if speaking and turns.state != "speaking" else \
            turns.avatar_end() if not speaking and turns.state == "speaking" else []
        answering = session.chat is not None and session.chat.reply is not None and not session.chat.reply.done
        if live.thinking_since is not None and session.now() - live.thinking_since > AUTO_THINKING_S and not answering:
            events += turns.thinking(False)
        for name, fields in events:
            self.event(session, name, session.now(), **fields)
            self._follow_state(session, live, name, fields)

    # -- output ---------------------------------------------------------------------------------
    def event(self, session: Session, name: str, at: float, **fields) -> None:
        """An event on whatever stream plays at `at`; dropped when none does (idle off, not speaking)."""
        for attempt in range(2):
            with session.lock:        # found and queued under one hold: a line beginning ends idle
                # The line heard at `at` (not one queued behind it, whose messages wait for its
                # start). A line still waiting for its first audio has sent no stream header
                # yet: until it is on air, events ride on the idle stream it will end.
                utt = session.playing_at(at) or (session.idle.utterance if session.idle else None) \
                    or (session.live.stream if session.live else None)
                if utt is not None and not utt.cancelled:
                    at = max(at, utt.start or at)          # not before the stream it rides on began
                    session._queue(utt, at, session._event(utt, name, at, **fields))
                    session.lock.notify_all()
                    return
            if attempt or not session.realtime or not session.idle_enabled or session.closed:
                return
            # Between a line's end and the idle stream after it (the avatar's "state idle" falls
            # there): start that stream now, in this session task, rather than drop the event.
            produce_idle(session, int(np.ceil((self._playout + 0.1) * session.fps)))

    def listening_frames(self, session: Session, track: Track, start_time: float) -> Track:
        """The listening layer over idle frames starting at session time `start_time`."""
        live: LiveState | None = session.live
        if live is None or live.input.mode != "listen":
            return track
        live.input.listening.expressiveness = session.params.expressiveness
        t = start_time + np.arange(len(track)) / track.fps
        return live.input.listening.apply(track, t)

    def _queue_puppet(self, session: Session, live: LiveState, first_user_frame: int, mouth: np.ndarray,
                      voice: bool = True, voice_head: np.ndarray | None = None) -> None:
        """Telepresence frames for user frames first_user_frame.. : idle base, then the face where the
        camera sees it, else the voice's mouth and head."""
        if live.stream is None:
            utt = Utterance(id=f"live{session.next_utterance_id()[1:]}", re=0, kind="live")
            session.begin(utt, ANALYSIS_RATE, audio=False)
            live.stream, live.first_user_frame = utt, first_user_frame
            live.base = IdleStream(session.fps, session.params, session.seed)
            assert utt.start is not None
            live.anchor = utt.start - first_user_frame / session.fps
        n = len(mouth)
        skip = live.first_user_frame + live.frames_out - first_user_frame
        if skip >= n:
            return
        mouth = mouth[max(skip, 0):]
        voice_head = voice_head[max(skip, 0):] if voice_head is not None and len(voice_head) else None
        n = len(mouth)
        assert live.base is not None
        base = live.base.next(n)
        shapes, head = base.blendshapes.copy(), base.head.copy()
        if voice:
            shapes[:, MOUTH_CHANNELS] = mouth[:, MOUTH_CHANNELS]
            if voice_head is not None and len(voice_head) == n:
                head = voice_head.copy()
        user_t = (live.first_user_frame + live.frames_out + np.arange(n)) / session.fps
        k = 1 - np.exp(-1 / (_FACE_EASE_S * session.fps))
        for i, ut in enumerate(user_t):
            face = live.input.face_at(float(ut))
            live.face_weight += k * ((1.0 if face is not None else 0.0) - live.face_weight)
            if face is not None:
                w = live.face_weight
                shapes[i] = (1 - w) * shapes[i] + w * face.weights
                head[i, :4] = slerp(head[i, :4], face.head[:4], w)
                head[i, 4:] = (1 - w) * head[i, 4:] + w * face.head[4:]
        np.clip(shapes, 0, 1, out=shapes)
        track = Track(session.fps, shapes, head, base.gaze, live.frames_out)
        live.frames_out += n
        session.queue_media(live.stream, track)
        if voice:
            # Audio-to-lips: from the arrival of the piece holding the newest frame's moment to now.
            newest = float(user_t[-1])
            holding = next((a for end, a in live.arrivals if end >= newest), None)
            if holding is not None:
                live.lips_delays.append(session.now() - holding)

