"""Sessions and utterances: one avatar's timeline, its queue of lines and its outgoing stream.

A session's clock starts at 0 when it is opened. Each utterance gets a start time on that clock
(after the previous one ends), and every stream message carries the time of the media it holds:
audio chunk k at start + offset / sample_rate, frame n at start + n / fps.

Producers (server/producers.py) run as the session's own tasks on the worker pool (one at a time
per session, server/scheduler.py) and append messages to the outbox; the I/O thread takes them
off, paced against the clock (server/pacer.py), and records what has really been sent, so that an
`end` never counts media the client was never given. The outbox and the utterances' flags are
shared between those two threads and guarded by `Session.lock`.
"""

from __future__ import annotations

import collections
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from avbridge.core.phonemes import SpeechChunk
from avbridge.core.track import Track
from avbridge.motion import MotionGenerator, MotionParams
from avbridge.motion.idle import IdleStream
from avbridge.motion.visemes import viseme_of
from avbridge.protocol import Message
from avbridge.protocol.stream import (
    audio_message,
    end_message,
    event_message,
    frames_message,
    stream_header,
)
from avbridge.speech import SpeechEngine
from avbridge.speech.timeline import PAUSE

Clock = Callable[[], float]
"""Monotonic seconds. The server passes `time.monotonic`; tests pass a fake they move by hand."""


@dataclass
class Utterance:
    id: str
    re: int
    kind: str                       # "say", "audio", "idle" or "live"
    text: str = ""
    start: float | None = None      # on the session clock, set when its first media is ready
    samples: int = 0                # produced (queued) so far
    frames: int = 0
    sample_rate: int = 0
    cancelled: bool = False
    finished: bool = False          # the producer queued its `end`
    cut: tuple[float, int, int] | None = None   # (time, frames, samples) when interrupted
    params: MotionParams | None = None          # this line's own emotion, else the session's
    end_time: float | None = None               # on the session clock, once it is fully produced
    pieces: list[str] = field(default_factory=list)   # a say's text, normalised and chunked
    sent_frames: int = 0            # frames [0, sent_frames) have left for the client
    sent_samples: int = 0
    end_sent: bool = False          # an `end` of this utterance has left

    @property
    def quiet(self) -> bool:
        """Idle and live streams: no request started them, no audio plays, no line ends them."""
        return self.kind in ("idle", "live")


@dataclass
class Outgoing:
    """A stream message waiting to be sent, and when: at `media_time - lead` on the session clock.
    `frames_end` / `samples_end` say how far into the utterance it reaches once sent."""
    media_time: float
    message: Message
    utt: Utterance
    nbytes: int = 0
    frames_end: int = 0
    samples_end: int = 0


@dataclass
class IdleState:
    utterance: Utterance
    stream: IdleStream


@dataclass
class Session:
    id: str
    owner: bytes
    fps: float
    engine: SpeechEngine
    generator: MotionGenerator
    params: MotionParams
    clock: Clock
    realtime: bool = True
    seed: int | None = None
    playout_delay_s: float = 0.0
    frames_per_message: int = 6     # frame batch size: the same span as an audio message
    created: float = 0.0
    lock: threading.Condition = field(default_factory=threading.Condition)
    outbox: collections.deque = field(default_factory=collections.deque)
    outbox_bytes: int = 0
    pending: collections.deque = field(default_factory=collections.deque)   # utterances not yet started
    active: Utterance | None = None                      # the utterance being produced
    begun: collections.deque = field(default_factory=collections.deque)    # started on the timeline
    audio_streams: dict = field(default_factory=dict)    # utterance id -> AudioUtterance
    timeline_free_at: float = 0.0
    closed: bool = False
    utterance_counter: int = 0
    idle_enabled: bool = True
    idle: IdleState | None = None          # the idle stream while nothing is said (realtime only)
    idle_queued: bool = False              # a task to make idle frames is queued or running
    idle_layer: Callable[[Track, float], Track] | None = None   # listening on top of idle frames
    live: Any = None                       # server.live.LiveState of a live session
    chat: Any = None                       # server.chat.ChatState of a chat session
    video: Any = None                      # server.portraits.PortraitVideo once a photo is fitted (SPEC 8.8)

    def __post_init__(self) -> None:
        self.created = self.clock()

    def now(self) -> float:
        """Seconds on this session's timeline."""
        return self.clock() - self.created

    def next_utterance_id(self) -> str:
        self.utterance_counter += 1
        return f"u{self.utterance_counter}"

    # -- called by producers (the session's own tasks) -------------------------------------------
    def begin(self, utt: Utterance, sample_rate: int, audio: bool) -> float:
        """Give `utt` its start time and queue its stream header and start event. Speech ends the
        idle stream where it starts."""
        with self.lock:
            # The playout delay gives the client a buffer from the first sample on, so the first
            # frames are not already due when they arrive.
            utt.start = max(self.now() + self.playout_delay_s, self.timeline_free_at)
            utt.sample_rate = sample_rate
            if not utt.quiet:
                self._end_idle(utt.start)
                now = self.now()
                while self.begun and self.begun[0].end_time is not None and self.begun[0].end_time < now:
                    self.begun.popleft()
                self.begun.append(utt)
            self._queue(utt, utt.start, stream_header(self.id, utt.id, utt.start, utt.re, self.fps, sample_rate,
                                                      audio, utt.text, idle=utt.quiet))
            if not utt.quiet:
                self._queue(utt, utt.start, self._event(utt, "utterance_start", utt.start))
            self.lock.notify_all()
            return utt.start

    def _end_idle(self, at: float) -> None:
        """End the idle stream at `at` (lock held). Its frames up to `at` are made now if a busy
        worker left them unmade, so the `end` never counts a stretch with no frames in it; frames
        from `at` on are dropped here, and the `end` tells the client to drop any it already has."""
        idle, self.idle = self.idle, None
        if idle is None:
            return
        utt = idle.utterance
        assert utt.start is not None
        span = max(0, int(np.ceil((at - utt.start) * self.fps - 1e-9)))
        if utt.frames < span:
            track = idle.stream.next(span - utt.frames)
            self._queue_frames(utt, self.apply_idle_layer(track, utt.start + track.start_frame / self.fps))
            utt.frames = span
        utt.cancelled = True          # frames a task is still making for it are dropped, not queued after its end
        self._drop(lambda o: o.utt is utt and o.media_time >= at and o.message.type != "stream")
        self._queue(utt, at, end_message(self.id, utt.id, at, "done", span, 0))

    def apply_idle_layer(self, track: Track, start_time: float) -> Track:
        return self.idle_layer(track, start_time) if self.idle_layer is not None else track

    def queue_media(self, utt: Utterance, track: Track, pcm: np.ndarray | None = None,
                    speech: SpeechChunk | None = None, audio_message_samples: int = 0) -> None:
        """Queue one produced piece: audio messages (when `audio_message_samples` > 0; `pcm` is
        always counted on the timeline), frame batches and events, in time order."""
        assert utt.start is not None
        items: list[tuple[float, int, Message, int, int]] = []
        sr = utt.sample_rate
        base = utt.start
        first_sample = utt.samples
        if pcm is not None and len(pcm) and audio_message_samples > 0:
            for offset in range(0, len(pcm), audio_message_samples):
                piece = pcm[offset:offset + audio_message_samples]
                at = first_sample + offset
                items.append((base + at / sr, 1, audio_message(self.id, utt.id, base + at / sr, at, piece),
                              0, at + len(piece)))
        if speech is not None:
            t0 = base + first_sample / sr
            for w in speech.words:
                items.append((t0 + w.start, 0, self._event(utt, "word", t0 + w.start, text=w.text, end=t0 + w.end), 0, 0))
            for p in speech.phonemes:
                if p.symbol != PAUSE:
                    items.append((t0 + p.start, 0, self._event(utt, "phoneme", t0 + p.start, phoneme=p.symbol,
                                                               viseme=viseme_of(p.symbol), end=t0 + p.end), 0, 0))
        items += self._frame_items(utt, track)
        items.sort(key=lambda item: (item[0], item[1]))
        samples = len(pcm) if pcm is not None else 0
        video = self.video
        if video is None:
            self._queue_items(utt, items, samples, track)
        else:
            self._queue_with_video(utt, track, items, video, samples)

    def _queue_items(self, utt: Utterance, items: list[tuple[float, int, Message, int, int]],
                     samples: int = 0, produced: Track | None = None) -> None:
        """Queue `items`; with `produced`, the piece is complete: count its samples and frames (in
        the same hold of the lock, so an interrupt sees both or neither)."""
        with self.lock:
            if utt.cancelled:
                return
            for media_time, _, message, frames_end, samples_end in items:
                self._queue(utt, media_time, message, frames_end, samples_end)
            if produced is not None:
                utt.samples += samples
                utt.frames = produced.start_frame + len(produced) if len(produced) else utt.frames
            self.lock.notify_all()

    def _queue_with_video(self, utt: Utterance, track: Track, items: list[tuple[float, int, Message, int, int]],
                          video: Any, samples: int) -> None:
        """A portrait's video takes ~13 ms a frame to render: a piece is queued a fifth of a second
        at a time, each stretch with its video, so the first audio of a line is not held back until
        the whole piece's video exists (it was, by 0.8 s for a sentence)."""
        assert utt.start is not None
        packed = track.packed()
        length = max(len(track), 1)
        # The first stretch is short (a few video frames), so the line's first audio leaves soon.
        cuts = [0, *range(max(1, round(0.06 * self.fps)), length, max(1, round(0.2 * self.fps))), length]
        taken = 0
        for first, end in itertools.pairwise(cuts):
            last = end == length
            until = float("inf") if last else utt.start + (track.start_frame + end) / self.fps
            batch = []
            while taken < len(items) and items[taken][0] < until:
                batch.append(items[taken])
                taken += 1
            if len(track):
                piece = Track.from_packed(self.fps, packed[first:end], track.start_frame + first)
                batch += video.items(self.id, utt.id, utt.start, piece, self.fps)
            batch.sort(key=lambda item: (item[0], item[1]))
            self._queue_items(utt, batch, samples, track if last else None)
            if utt.cancelled:
                return

    def _frame_items(self, utt: Utterance, track: Track) -> list[tuple[float, int, Message, int, int]]:
        assert utt.start is not None
        items = []
        packed = track.packed()
        for i in range(0, len(track), self.frames_per_message):
            first = track.start_frame + i
            block = packed[i:i + self.frames_per_message]
            at = utt.start + first / self.fps
            items.append((at, 2, frames_message(self.id, utt.id, at, first, block), first + len(block), 0))
        return items

    def _queue_frames(self, utt: Utterance, track: Track) -> None:
        for media_time, _, message, frames_end, _ in self._frame_items(utt, track):
            self._queue(utt, media_time, message, frames_end)

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
            end_time = start + (utt.samples / utt.sample_rate if utt.sample_rate and not utt.quiet
                                else utt.frames / self.fps)
            utt.end_time = end_time
            self.timeline_free_at = max(self.timeline_free_at, end_time)
            if status == "done":
                self._queue(utt, end_time, self._event(utt, "utterance_end", end_time))
            self._queue(utt, end_time if status == "done" else start,
                        end_message(self.id, utt.id, end_time, status, utt.frames, utt.samples, utt.re, reason))
            self.lock.notify_all()

    def fail(self, utt: Utterance, sample_rate: int, audio: bool, reason: str) -> None:
        """End `utt` with status error (its stream is started first if it never was)."""
        if utt.start is None:
            self.begin(utt, sample_rate, audio)
        self.finish(utt, "error", reason)

    def release(self, utt: Utterance) -> None:
        """`utt` is fully produced: the session may start its next queued line."""
        with self.lock:
            if self.active is utt:
                self.active = None

    def speaking(self) -> Utterance | None:
        """The utterance being produced or, in realtime sessions, still playing on the timeline.
        An unpaced session renders offline: once produced, a line is done."""
        with self.lock:
            now = self.now()
            for utt in [self.active, *(self.begun if self.realtime else ())]:
                if utt is not None and not utt.cancelled and (utt.end_time is None or utt.end_time > now):
                    return utt
            return None

    def on_air(self) -> Utterance | None:
        """The line playing on the timeline now or later: begun, not ended, not cut. A line still
        waiting for its first audio is not on air, so idle motion goes on until it starts."""
        with self.lock:
            now = self.now()
            for utt in [self.active, *self.begun]:
                if utt is not None and utt.start is not None and not utt.cancelled \
                        and (utt.end_time is None or utt.end_time > now):
                    return utt
            return None

    def playing_at(self, t: float) -> Utterance | None:
        """The line heard at session time `t`, else the next one to be (on air, not cut)."""
        with self.lock:
            lines = sorted((u for u in [*self.begun, self.active] if u is not None and u.start is not None
                            and not u.cancelled and (u.end_time is None or u.end_time > t)), key=lambda u: u.start)
            return next((u for u in lines if u.start <= t), lines[0] if lines else None)

    def ahead_of_clock(self, utt: Utterance) -> float:
        """Seconds by which `utt`'s produced media runs past the session clock (0 if not started)."""
        if utt.start is None or not utt.sample_rate:
            return 0.0
        return utt.start + utt.samples / utt.sample_rate - self.now()

    # -- interrupts (the I/O thread, or a live task on barge-in) --------------------------------
    def interrupt(self, utterance_id: str | None = None, reason: str = "interrupted by client",
                  barge_in: bool = False, queue_ends: bool = False) -> list[Message]:
        """Cut every utterance still playing or to come (or only the named one) at the current
        time, drop their queued messages and queued lines, and return the `end` of each (status
        interrupted). An utterance whose `end` was already sent ahead of the clock is cut too: its
        `end` with status interrupted is the one that counts. With `barge_in`, each stopped line's
        `barge_in` event and `end` are queued on its stream too (the caller sends none of them);
        with `queue_ends`, only its `end` (a chat reply the server itself cancelled).""" 
        with self.lock:
            now = self.now()
            candidates = list(self.begun) + [u for u in ([self.active] + list(self.pending))
                                             if u is not None and u not in self.begun]
            targets = [u for u in candidates if not u.cancelled and (u.end_time is None or u.end_time > now)]
            if utterance_id is not None:
                targets = [u for u in targets if u.id == utterance_id]
            for utt in targets:
                utt.cancelled = True
                utt.cut = self._cut(utt, now)
            stopped = {id(u) for u in targets}
            self._drop(lambda o: id(o.utt) in stopped)
            ends: list[Message] = []
            for utt in targets:
                at, frames, samples = utt.cut
                end = end_message(self.id, utt.id, at, "interrupted", frames, samples, utt.re, reason)
                ends.append(end)
                if barge_in or queue_ends:
                    if barge_in:
                        self._queue(utt, at, self._event(utt, "barge_in", at))
                    self._queue(utt, at, end)
                else:
                    utt.end_sent = True
            self.pending = collections.deque(u for u in self.pending if id(u) not in stopped)
            if targets:
                self.timeline_free_at = min(max(now, 0.0), max(u.cut[0] for u in targets if u.cut))
            self.lock.notify_all()
            return ends

    def _cut(self, utt: Utterance, now: float) -> tuple[float, int, int]:
        """(time, frames, samples) of a cut at `now` (lock held): the next frame boundary, but never
        past what has been sent. A client that stopped reading holds only what was sent; the rest
        is dropped with the line, so an `end` counting it would promise media that never comes."""
        if utt.start is None or now < utt.start:
            return (utt.start if utt.start is not None else now, 0, 0)
        frame = int(np.ceil((now - utt.start) * self.fps - 1e-9))
        frame = min(frame, utt.frames) if utt.finished else frame
        samples = int(round(frame / self.fps * utt.sample_rate)) if utt.sample_rate else 0
        if utt.finished:
            samples = min(samples, utt.samples)
        audio = utt.kind == "say"
        if frame > utt.sent_frames or (audio and samples > utt.sent_samples):
            frame = min(frame, utt.sent_frames)
            if audio:
                samples = min(samples, utt.sent_samples)
                frame = min(frame, int(np.ceil(samples * self.fps / utt.sample_rate - 1e-9)))
            else:
                samples = min(samples, int(round(frame / self.fps * utt.sample_rate))) if utt.sample_rate else 0
        return (utt.start + frame / self.fps, frame, samples)

    def farewells(self, reason: str) -> list[Message]:
        """On shutdown: an `end` for every utterance whose own `end` has not left yet, counting what
        was sent. Lines already delivered whole keep their `end` done: shutting down never takes back
        delivered work."""
        with self.lock:
            ends = []
            seen: set[int] = set()
            for utt in [*self.begun, self.active, *self.pending, self.idle.utterance if self.idle else None,
                        self.live.stream if self.live is not None else None]:
                if utt is None or utt.end_sent or id(utt) in seen:
                    continue
                seen.add(id(utt))
                utt.end_sent = True
                utt.cancelled = True
                frames, samples = utt.sent_frames, utt.sent_samples
                at = (utt.start if utt.start is not None else self.now()) + frames / self.fps
                ends.append(end_message(self.id, utt.id, at, "done" if utt.quiet else "interrupted", frames, samples,
                                        utt.re, "" if utt.quiet else reason))
            self.outbox.clear()
            self.outbox_bytes = 0
            return ends

    # -- the outbox ------------------------------------------------------------------------------
    def queue_event(self, utt: Utterance, name: str, at: float, **fields: Any) -> None:
        with self.lock:
            if not utt.cancelled:
                self._queue(utt, at, self._event(utt, name, at, **fields))
                self.lock.notify_all()

    def mark_sent(self, item: Outgoing) -> None:
        """The pacer sent `item` (lock held): pop it and record how far the client's copy reaches."""
        self.outbox.popleft()
        self.outbox_bytes -= item.nbytes
        utt = item.utt
        utt.sent_frames = max(utt.sent_frames, item.frames_end)
        utt.sent_samples = max(utt.sent_samples, item.samples_end)
        if item.message.type == "end":
            utt.end_sent = True

    def _queue(self, utt: Utterance, media_time: float, message: Message, frames_end: int = 0,
               samples_end: int = 0) -> None:
        # The outbox stays in media-time order (the I/O thread sends from its head): a learned
        # generator's frames for a sentence are made after the sentence's audio was queued.
        # Equal times keep their queueing order; nearly every item lands at the end.
        nbytes = sum(len(b) for b in message.bulk) + 200
        i = len(self.outbox)
        while i > 0 and self.outbox[i - 1].media_time > media_time:
            i -= 1
        self.outbox.insert(i, Outgoing(media_time, message, utt, nbytes, frames_end, samples_end))
        self.outbox_bytes += nbytes

    def _drop(self, which: Callable[[Outgoing], bool]) -> None:
        kept = collections.deque(o for o in self.outbox if not which(o))
        self.outbox_bytes = sum(o.nbytes for o in kept)
        self.outbox = kept

    def _event(self, utt: Utterance, name: str, at: float, **fields: Any) -> Message:
        return event_message(self.id, utt.id, at, name, **fields)
