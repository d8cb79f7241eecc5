"""Sessions and utterances: one avatar's timeline, its queue of lines and its outgoing stream.

A session's clock starts at 0 when it is opened. Each utterance gets a start time on that clock
(after the previous one ends), and every stream message carries the time of the media it holds:
audio chunk k at start + offset / sample_rate, frame n at start + n / fps.

Producers (`SayProducer.step`, `AudioUtterance.push`) run on worker threads and append messages to the
session's outbox; the service's I/O thread takes them off, paced against the clock. The outbox and
the utterance's flags are shared between those threads and guarded by `Session.lock`.
"""

from __future__ import annotations

import collections
import copy
import logging
import threading
import time
from dataclasses import dataclass, field
import numpy as np

from avbridge.core.arkit import ARKIT_BLENDSHAPES
from avbridge.motion import MotionGenerator, MotionParams, MotionStream, text_emotion
from avbridge.motion.idle import IdleStream
from avbridge.motion.visemes import viseme_of
from avbridge.protocol import FRAME_LAYOUT, Message
from avbridge.speech import SpeechEngine
from avbridge.core.phonemes import SpeechChunk
from avbridge.speech.text import chunk as chunk_text, normalize
from avbridge.speech.timeline import PAUSE
from avbridge.core.track import Track

log = logging.getLogger("avbridge.server.session")


@dataclass
class Outgoing:
    """A stream message waiting to be sent, and when: at `media_time - lead` on the session clock."""
    media_time: float
    message: Message
    utterance: str


@dataclass
class Utterance:
    id: str
    re: int
    kind: str                       # "say" or "audio"
    text: str = ""
    start: float | None = None      # on the session clock, set when its first media is ready
    samples: int = 0
    frames: int = 0
    sample_rate: int = 0
    cancelled: bool = False
    finished: bool = False          # the producer queued its `end`
    cut: tuple[float, int, int] | None = None   # (time, frames, samples) when interrupted
    params: MotionParams | None = None          # this line's own emotion, else the session's
    end_time: float | None = None               # on the session clock, once it is fully produced
    pieces: list[str] = field(default_factory=list)   # a say's text, normalised and chunked


@dataclass
class Session:
    id: str
    owner: bytes
    fps: float
    engine: SpeechEngine
    generator: MotionGenerator
    params: MotionParams
    realtime: bool = True
    seed: int | None = None
    playout_delay_s: float = 0.0
    frames_per_message: int = 6     # frame batch size: the same span as an audio message
    created: float = field(default_factory=time.monotonic)
    lock: threading.Condition = field(default_factory=threading.Condition)
    outbox: collections.deque = field(default_factory=collections.deque)
    pending: collections.deque = field(default_factory=collections.deque)   # utterances not yet started
    active: Utterance | None = None                      # the utterance being produced
    begun: collections.deque = field(default_factory=collections.deque)    # started on the timeline
    audio_streams: dict = field(default_factory=dict)    # utterance id -> AudioUtterance
    timeline_free_at: float = 0.0
    closed: bool = False
    utterance_counter: int = 0
    idle_enabled: bool = True
    idle: "IdleState | None" = None        # the idle stream while nothing is said (realtime only)
    live: "object | None" = None           # live_service.LiveState of a live session

    def now(self) -> float:
        """Seconds on this session's timeline."""
        return time.monotonic() - self.created

    def next_utterance_id(self) -> str:
        self.utterance_counter += 1
        return f"u{self.utterance_counter}"

    # -- called by producers (worker threads) -----------------------------------------------
    def begin(self, utt: Utterance, sample_rate: int, audio: bool) -> float:
        """Give `utt` its start time and queue its stream header and start event. Speech ends the
        idle stream where it starts."""
        with self.lock:
            # The playout delay gives the client a buffer from the first sample on, so the first
            # frames are not already due when they arrive.
            utt.start = max(self.now() + self.playout_delay_s, self.timeline_free_at)
            utt.sample_rate = sample_rate
            idle = utt.kind == "idle"
            if not idle:
                self._end_idle(utt.start)
                now = self.now()
                while self.begun and self.begun[0].end_time is not None and self.begun[0].end_time < now:
                    self.begun.popleft()
                self.begun.append(utt)
            header = Message("stream", {
                "session": self.id, "utterance": utt.id, "time": utt.start, "re": utt.re,
                "fps": self.fps, "sample_rate": sample_rate, "audio_format": "s16le", "audio": audio,
                "blendshapes": list(ARKIT_BLENDSHAPES), "frame_layout": list(FRAME_LAYOUT),
                **({"text": utt.text} if utt.text else {}), **({"idle": True} if idle else {})})
            self._queue(utt, utt.start, header)
            if not idle:
                self._queue(utt, utt.start, self._event(utt, "utterance_start", utt.start))
            self.lock.notify_all()
            return utt.start

    def _end_idle(self, at: float) -> None:
        """End the idle stream at `at` (lock held): its frames from there on are dropped here, and
        the `end` tells the client to drop any it already has."""
        idle, self.idle = self.idle, None
        if idle is None:
            return
        utt = idle.utterance
        utt.cancelled = True          # frames a worker is still making for it are dropped, not queued after its end
        keep = max(0, min(utt.frames, int(np.ceil((at - utt.start) * self.fps - 1e-9))))
        self.outbox = collections.deque(o for o in self.outbox if not (o.utterance == utt.id and o.media_time >= at))
        self._queue(utt, at, Message("end", {"session": self.id, "utterance": utt.id, "time": at,
                                             "status": "done", "frames": keep, "samples": 0}))

    def queue_media(self, utt: Utterance, track: Track, pcm: np.ndarray | None = None,
                    speech: SpeechChunk | None = None, audio_message_samples: int = 0) -> None:
        """Queue one produced piece: audio messages (when `audio_message_samples` > 0; `pcm` is
        always counted on the timeline), frame batches and events, in time order."""
        items: list[tuple[float, int, Message]] = []
        sr = utt.sample_rate
        base = utt.start
        first_sample = utt.samples
        if pcm is not None and len(pcm) and audio_message_samples > 0:
            for offset in range(0, len(pcm), audio_message_samples):
                piece = pcm[offset:offset + audio_message_samples]
                at = first_sample + offset
                items.append((base + at / sr, 1, Message("audio", {
                    "session": self.id, "utterance": utt.id, "time": base + at / sr, "offset": at},
                    [piece.astype("<i2").tobytes()])))
        if speech is not None:
            t0 = base + first_sample / sr
            for w in speech.words:
                items.append((t0 + w.start, 0, self._event(utt, "word", t0 + w.start, text=w.text, end=t0 + w.end)))
            for p in speech.phonemes:
                if p.symbol != PAUSE:
                    items.append((t0 + p.start, 0, self._event(utt, "phoneme", t0 + p.start, phoneme=p.symbol,
                                                               viseme=viseme_of(p.symbol), end=t0 + p.end)))
        if len(track):
            per_message = self.frames_per_message
            packed = track.packed()
            for i in range(0, len(track), per_message):
                first = track.start_frame + i
                block = packed[i:i + per_message]
                items.append((base + first / self.fps, 2, Message("frames", {
                    "session": self.id, "utterance": utt.id, "time": base + first / self.fps,
                    "first": first, "count": len(block)}, [block.astype("<f4").tobytes()])))
        items.sort(key=lambda item: (item[0], item[1]))
        with self.lock:
            if utt.cancelled:
                return
            for media_time, _, message in items:
                self._queue(utt, media_time, message)
            if pcm is not None:
                utt.samples += len(pcm)
            utt.frames = track.start_frame + len(track) if len(track) else utt.frames
            self.lock.notify_all()

    def finish(self, utt: Utterance, status: str = "done", reason: str = "") -> None:
        """Queue the utterance's end (unless an interrupt already ended it)."""
        with self.lock:
            if utt.finished:
                return
            utt.finished = True
            if utt.cancelled:
                return
            start = utt.start if utt.start is not None else max(self.now(), self.timeline_free_at)
            utt.start = start
            end_time = start + (utt.samples / utt.sample_rate if utt.sample_rate else utt.frames / self.fps)
            utt.end_time = end_time
            self.timeline_free_at = max(self.timeline_free_at, end_time)
            if status == "done":
                self._queue(utt, end_time, self._event(utt, "utterance_end", end_time))
            self._queue(utt, end_time if status == "done" else start, Message("end", {
                "session": self.id, "utterance": utt.id, "time": end_time, "status": status,
                "frames": utt.frames, "samples": utt.samples, "re": utt.re,
                **({"reason": reason} if reason else {})}))
            self.lock.notify_all()

    def speaking(self) -> Utterance | None:
        """The utterance being produced or, in realtime sessions, still playing on the timeline.
        An unpaced session renders offline: once produced, a line is done."""
        with self.lock:
            now = self.now()
            for utt in [self.active, *(self.begun if self.realtime else ())]:
                if utt is not None and not utt.cancelled and (utt.end_time is None or utt.end_time > now):
                    return utt
            return None

    def ahead_of_clock(self, utt: Utterance) -> float:
        """Seconds by which `utt`'s produced media runs past the session clock (0 if not started)."""
        if utt.start is None or not utt.sample_rate:
            return 0.0
        return utt.start + utt.samples / utt.sample_rate - self.now()

    # -- called by the I/O thread -----------------------------------------------------------
    def interrupt(self, utterance_id: str | None = None) -> list[Utterance]:
        """Cut every utterance still playing or to come (or only the named one) at the current
        time; return the utterances that were stopped, with `cut` set. An utterance whose `end`
        was already sent ahead of the clock is cut too: its `end` with status interrupted is the
        one that counts."""
        with self.lock:
            now = self.now()
            candidates = list(self.begun) + [u for u in ([self.active] + list(self.pending))
                                             if u is not None and u not in self.begun]
            targets = [u for u in candidates if not u.cancelled and (u.end_time is None or u.end_time > now)]
            if utterance_id is not None:
                targets = [u for u in targets if u.id == utterance_id]
            stopped: list[Utterance] = []
            for utt in targets:
                utt.cancelled = True
                if utt.start is None or now < utt.start:
                    utt.cut = (utt.start if utt.start is not None else now, 0, 0)
                else:
                    # Cut on the next frame boundary: the client keeps frames before it, drops the rest.
                    frame = int(np.ceil((now - utt.start) * self.fps - 1e-9))
                    frame = min(frame, utt.frames) if utt.finished else frame
                    cut_time = utt.start + frame / self.fps
                    samples = int(round(frame / self.fps * utt.sample_rate)) if utt.sample_rate else 0
                    if utt.finished:
                        samples = min(samples, utt.samples)
                    utt.cut = (cut_time, frame, samples)
                stopped.append(utt)
            ids = {u.id for u in stopped}
            self.outbox = collections.deque(o for o in self.outbox if o.utterance not in ids)
            self.pending = collections.deque(u for u in self.pending if u.id not in ids)
            if stopped:
                self.timeline_free_at = min(max(now, 0.0), max(u.cut[0] for u in stopped))
            self.lock.notify_all()
            return stopped

    def queue_event(self, utt: Utterance, name: str, at: float, **fields) -> None:
        with self.lock:
            if not utt.cancelled:
                self._queue(utt, at, self._event(utt, name, at, **fields))
                self.lock.notify_all()

    def _queue(self, utt: Utterance, media_time: float, message: Message) -> None:
        # The outbox stays in media-time order (the I/O thread sends from its head): a learned
        # generator's frames for a sentence are made after the sentence's audio was queued.
        # Equal times keep their queueing order; nearly every item lands at the end.
        i = len(self.outbox)
        while i > 0 and self.outbox[i - 1].media_time > media_time:
            i -= 1
        self.outbox.insert(i, Outgoing(media_time, message, utt.id))

    def _event(self, utt: Utterance, name: str, at: float, **fields) -> Message:
        return Message("event", {"session": self.id, "utterance": utt.id, "time": at, "name": name, **fields})


@dataclass
class IdleState:
    utterance: Utterance
    stream: "IdleStream"
    producing: bool = False       # a worker is making its next frames


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


def drain_backlog(session: "Session", utt: Utterance, stream: MotionStream) -> None:
    """A learned generator gives a long piece's frames a few windows at a time (its `backlog`):
    queue each batch as it comes, so the first frames leave with the first audio."""
    while getattr(stream, "backlog", False) and not utt.cancelled:
        session.queue_media(utt, stream.push(np.zeros(0, np.int16)))


class SayProducer:
    """Synthesises and animates a `say` one text chunk per `step()`, queueing the stream as it
    goes. Steps run on the worker pool; between steps the service may park the producer while its
    media runs far enough ahead of the clock, so that no worker thread ever waits."""

    def __init__(self, session: Session, utt: Utterance, cache: SpeechCache, audio_message_s: float) -> None:
        self.session = session
        self.utt = utt
        self._cache = cache
        self._audio_message_s = audio_message_s
        self._pieces = utt.pieces or chunk_text(normalize(utt.text))
        self._next = 0
        self._stream: MotionStream | None = None
        params = utt.params or session.params
        # Inferred emotion changes sentence by sentence: this line gets its own copy to change.
        self._params = copy.copy(params) if params.infer_emotion else params
        self._shown_emotion = (self._params.emotion, self._params.emotion_intensity)
        self.done = False

    def step(self) -> None:
        """Produce the next chunk (or finish). Never raises: a failure ends the utterance."""
        session, utt = self.session, self.utt
        try:
            if not utt.cancelled and self._next < len(self._pieces):
                piece = self._pieces[self._next]
                speech = self._cache.get(session.engine, piece)
                self._next += 1
                if self._params.infer_emotion:
                    self._params.emotion, self._params.emotion_intensity = text_emotion.shared().infer(piece)
                if self._stream is None:
                    session.begin(utt, speech.sample_rate, audio=True)
                    self._stream = session.generator.start(session.fps, speech.sample_rate, self._params, session.seed)
                if (self._params.emotion, self._params.emotion_intensity) != self._shown_emotion or self._next == 1:
                    self._shown_emotion = (self._params.emotion, self._params.emotion_intensity)
                    if self._params.infer_emotion:
                        at = utt.start + utt.samples / speech.sample_rate
                        session.queue_event(utt, "emotion", at, text=self._params.emotion)
                track = self._stream.push(speech.pcm, speech.phonemes)
                session.queue_media(utt, track, speech.pcm, speech,
                                    max(1, int(self._audio_message_s * speech.sample_rate)))
                drain_backlog(session, utt, self._stream)
                if self._next < len(self._pieces):
                    return
            if not utt.cancelled:
                if self._stream is None:
                    session.begin(utt, session.engine.sample_rate, audio=True)
                else:
                    session.queue_media(utt, self._stream.finish())
            session.finish(utt)
        except Exception as exc:  # a failing engine must end the utterance, not the server
            log.exception("utterance failed session=%s utterance=%s", session.id, utt.id)
            if utt.start is None:
                session.begin(utt, session.engine.sample_rate, audio=True)
            session.finish(utt, "error", f"speech or motion failed: {exc.__class__.__name__}: {exc}")
        self.done = True


class AudioUtterance:
    """Animation for speech the engine sends itself (`speak_audio`): the audio arrives in pieces,
    frames go back as soon as each piece is animated. No audio is sent back."""

    def __init__(self, session: Session, utt: Utterance, sample_rate: int) -> None:
        self.session = session
        self.utt = utt
        self.sample_rate = sample_rate
        self.received = 0
        self.stream = session.generator.start(session.fps, sample_rate, session.params, session.seed)
        session.begin(utt, sample_rate, audio=False)

    def push(self, pcm: np.ndarray, final: bool) -> None:
        """Take the next piece. After an interrupt, pieces the engine sent before it heard of the
        cut still arrive: they count (so the offsets keep matching) but are not animated."""
        self.received += len(pcm)
        if self.utt.cancelled:
            return
        track = self.stream.push(pcm, None)
        self.session.queue_media(self.utt, track, pcm)
        drain_backlog(self.session, self.utt, self.stream)
        if final:
            self.session.queue_media(self.utt, self.stream.finish())
            self.session.finish(self.utt)
