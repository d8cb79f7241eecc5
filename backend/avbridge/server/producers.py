"""The work that fills a session's outbox: a `say` (synthesis, then animation), speech the engine
plays itself (`speak_audio`), and idle motion between lines.

Synthesis is a pure function of the text, so it runs as keyless heavy work and never holds the
session up; everything that touches the session (starting the stream, animating, queueing) runs as
the session's own light task (server/scheduler.py), one at a time and in order.
"""

from __future__ import annotations

import collections
import copy
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Protocol

import numpy as np

from avbridge.core.phonemes import SpeechChunk
from avbridge.motion import MotionParams, MotionStream
from avbridge.motion.idle import IdleStream
from avbridge.server.scheduler import HEAVY, LIGHT
from avbridge.server.session import IdleState, Session, Utterance
from avbridge.speech import SpeechEngine
from avbridge.speech.text import chunk as chunk_text
from avbridge.speech.text import normalize

log = logging.getLogger("avbridge.server")

ANIMATE_FIRST_S = 1.0
"""How far the animation of synthesised speech is brought ahead of its synthesis's deadline."""
UNPACED_SLACK_S = 2.0
"""An unpaced (offline) session's work is due this long after it is submitted, so that realtime
sessions, whose streams play as we speak, go first."""


class Submit(Protocol):
    def __call__(self, fn: Callable[[], None], *, lane: str, deadline: float, key: Hashable | None = None,
                 name: str = "") -> Any: ...


@dataclass
class Hooks:
    """What producers need from the service: the pool, the producer park, and what to do after."""
    submit: Submit
    park: Callable[["SayProducer"], None]              # far enough ahead of the clock: wait
    line_done: Callable[[Session], None]               # start the session's next queued line
    wake: Callable[[], None]                           # new media queued: the I/O thread should look
    emotion_of: Callable[[str], tuple[str, float]]     # emotion and intensity of a sentence's text


class SpeechCache:
    """LRU cache of synthesised chunks by (engine, text): NPC lines repeat, and a hit makes the
    first audio of a repeated line immediate."""

    def __init__(self, entries: int) -> None:
        self._entries = entries
        self._items: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, engine: SpeechEngine, text: str) -> SpeechChunk:
        key = (engine.name, id(engine), text)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        speech = engine.synthesize(text)
        if self._entries:
            with self._lock:
                self._items[key] = speech
                while len(self._items) > self._entries:
                    self._items.popitem(last=False)
        return speech


def drain_backlog(session: Session, utt: Utterance, stream: MotionStream) -> None:
    """A learned generator gives a long piece's frames a few windows at a time (its `backlog`):
    queue each batch as it comes, so the first frames leave with the first audio."""
    while getattr(stream, "backlog", False) and not utt.cancelled:
        session.queue_media(utt, stream.push(np.zeros(0, np.int16)))


def due_in(session: Session, seconds: float) -> float:
    """A deadline `seconds` from now on the monotonic clock (offline sessions get slack)."""
    return session.clock() + seconds + (0.0 if session.realtime else UNPACED_SLACK_S)


class SayProducer:
    """Synthesises and animates a `say` one text chunk at a time. Between chunks the service may
    park the producer while its media runs far enough ahead of the clock, so no worker ever waits."""

    def __init__(self, session: Session, utt: Utterance, cache: SpeechCache, audio_message_s: float,
                 hooks: Hooks, lead_s: float) -> None:
        self.session = session
        self.utt = utt
        self._cache = cache
        self._audio_message_s = audio_message_s
        self._hooks = hooks
        self._lead_s = lead_s
        self._pieces = utt.pieces or chunk_text(normalize(utt.text))
        self._next = 0
        self._stream: MotionStream | None = None
        params = utt.params or session.params
        # Inferred emotion changes sentence by sentence: this line gets its own copy to change.
        self._params: MotionParams = copy.copy(params) if params.infer_emotion else params
        self._shown_emotion = (self._params.emotion, self._params.emotion_intensity)
        self._deadline = 0.0

    def start(self) -> None:
        """Synthesise the next piece: the first at once, a later one by when the audio made so far
        runs out (less the lead the client buffers)."""
        session, utt = self.session, self.utt
        if utt.cancelled or self._next >= len(self._pieces):
            self._hooks.submit(self._finish, lane=LIGHT, deadline=session.clock(), key=session.id, name="say-finish")
            return
        runway = session.ahead_of_clock(utt) - self._lead_s if self._next else 0.0
        self._deadline = due_in(session, max(runway, 0.0))
        self._hooks.submit(self._synthesize, lane=HEAVY, deadline=self._deadline, name="say-synth")

    def _synthesize(self) -> None:
        """Heavy and keyless: touches no session state."""
        piece = self._pieces[self._next]
        try:
            speech = None if self.utt.cancelled else self._cache.get(self.session.engine, piece)
            emotion = self._hooks.emotion_of(piece) if speech is not None and self._params.infer_emotion else None
            result: tuple[SpeechChunk | None, Any, Exception | None] = (speech, emotion, None)
        except Exception as exc:  # a failing engine must end the utterance, not the server
            log.exception("speech failed session=%s utterance=%s", self.session.id, self.utt.id)
            result = (None, None, exc)
        # Animating a whole sentence is tens of milliseconds of Python: it is heavy work, so that
        # the worker kept for light work stays free for idle motion, live input and engine audio
        # (with both workers animating 20 lines at once, the C# client's frame latency p99 went
        # from 6 to 60 ms while the lines started).
        # Its deadline is its synthesis's, brought forward: speech already made goes out before
        # anything new is synthesised, so 20 lines asked at once start one by one, not all last.
        self._hooks.submit(lambda: self._animate(*result), lane=HEAVY, deadline=self._deadline - ANIMATE_FIRST_S,
                           key=self.session.id, name="say-animate")

    def _animate(self, speech: SpeechChunk | None, emotion: tuple[str, float] | None, error: Exception | None) -> None:
        session, utt = self.session, self.utt
        self._next += 1
        try:
            if error is not None:
                raise error
            if speech is not None and not utt.cancelled:
                if emotion is not None:
                    self._params.emotion, self._params.emotion_intensity = emotion
                if self._stream is None:
                    session.begin(utt, speech.sample_rate, audio=True)
                    self._stream = session.generator.start(session.fps, speech.sample_rate, self._params, session.seed)
                if (self._params.emotion, self._params.emotion_intensity) != self._shown_emotion or self._next == 1:
                    self._shown_emotion = (self._params.emotion, self._params.emotion_intensity)
                    if self._params.infer_emotion:
                        assert utt.start is not None
                        session.queue_event(utt, "emotion", utt.start + utt.samples / speech.sample_rate,
                                            text=self._params.emotion)
                track = self._stream.push(speech.pcm, speech.phonemes)
                session.queue_media(utt, track, speech.pcm, speech,
                                    max(1, int(self._audio_message_s * speech.sample_rate)))
                drain_backlog(session, utt, self._stream)
                self._hooks.wake()
        except Exception as exc:
            log.exception("utterance failed session=%s utterance=%s", session.id, utt.id)
            self._fail(exc)
            return
        if self._next < len(self._pieces) and not utt.cancelled:
            self._hooks.park(self)
        else:
            self._finish()

    def _finish(self) -> None:
        session, utt = self.session, self.utt
        try:
            if not utt.cancelled:
                if self._stream is None:
                    session.begin(utt, session.engine.sample_rate, audio=True)
                else:
                    session.queue_media(utt, self._stream.finish())
            session.finish(utt)
        except Exception as exc:
            log.exception("utterance failed session=%s utterance=%s", session.id, utt.id)
            self._fail(exc)
            return
        self._done()

    def _fail(self, exc: Exception) -> None:
        self.session.fail(self.utt, self.session.engine.sample_rate, True,
                          f"speech or motion failed: {exc.__class__.__name__}: {exc}")
        self._done()

    def _done(self) -> None:
        self.session.release(self.utt)
        self._hooks.wake()
        self._hooks.line_done(self.session)


class AudioUtterance:
    """Animation for speech the engine sends itself (`speak_audio`): the audio arrives in pieces,
    frames go back as soon as each piece is animated. No audio is sent back.

    The I/O thread checks each piece's offset against `received` and answers at once; the
    animation runs as the session's own light task (`push`)."""

    def __init__(self, session: Session, utt: Utterance, sample_rate: int, text: str | None = None) -> None:
        self.session = session
        self.utt = utt
        self.sample_rate = sample_rate
        self.text = text                        # the line's words, when the engine has them (subtitles)
        self.received = 0                       # samples accepted (I/O thread)
        self.first_at = 0.0                     # monotonic time its first piece arrived
        self.stream: MotionStream | None = None

    def push(self, pcm: np.ndarray, final: bool) -> None:
        """Animate the next piece (a session task). After an interrupt, pieces the engine sent
        before it heard of the cut still arrive: they are not animated."""
        session, utt = self.session, self.utt
        if utt.cancelled:
            return
        if self.stream is None:
            self.stream = start_for_engine_audio(session, self.sample_rate, self.text)
            session.begin(utt, self.sample_rate, audio=False)
        track = self.stream.push(pcm, None)
        session.queue_media(utt, track, pcm)
        drain_backlog(session, utt, self.stream)
        if final:
            session.queue_media(utt, self.stream.finish())
            session.finish(utt)


def start_for_engine_audio(session: Session, sample_rate: int, text: str | None) -> MotionStream:
    """A motion stream for speech without a timeline: a generator that can hear phones in it
    (motion/heard.py) is asked to; the others animate the audio as it is."""
    generator = session.generator
    start_heard = getattr(generator, "start_heard", None)
    if start_heard is not None:
        return start_heard(session.fps, sample_rate, session.params, session.seed, text=text)
    return generator.start(session.fps, sample_rate, session.params, session.seed)


def produce_idle(session: Session, frames: int) -> None:
    """Make the idle stream's next `frames` (a session task); start the idle stream if needed."""
    try:
        with session.lock:
            if session.on_air() is not None or session.closed:
                return
        if session.idle is None:
            utt = Utterance(id=f"idle{session.next_utterance_id()[1:]}", re=0, kind="idle")
            idle_stream = IdleStream(session.fps, session.params, session.seed)
            session.begin(utt, session.engine.sample_rate, audio=False)
            session.idle = IdleState(utt, idle_stream)
        idle = session.idle
        track = idle.stream.next(frames)
        assert idle.utterance.start is not None
        start = idle.utterance.start + track.start_frame / session.fps
        session.queue_media(idle.utterance, session.apply_idle_layer(track, start))
    finally:
        session.idle_queued = False
