"""The server's logic without sockets: requests in, replies and paced streams out.

`Service.handle(client, frames)` takes one received message and returns the replies to send at
once. `Service.flush(send, publish)` sends the stream messages that are due, through callbacks the
transport supplies; `send` reports whether the client took the message ("ok"), is full ("again":
try later, other clients go on) or is gone ("gone": its sessions are closed). Every bad request is
answered with an `error` message; nothing a client sends can raise out of here.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import avbridge
from avbridge.core.arkit import ARKIT_BLENDSHAPES
from avbridge.server.config import ServerConfig
from avbridge.motion import MotionParams, load_generator
from avbridge.motion.emotion import EMOTIONS
from avbridge.protocol import Message, ProtocolError, decode, encode
from avbridge.protocol.schema import CLIENT, LIVE_MODES, VERSION
from avbridge.server.live import LiveRunner, MAX_QUEUED_AUDIO_S
from avbridge.perception.face import FaceObservation
from avbridge.live.turns import BARGE_IN_POLICIES
from avbridge.motion.idle import IdleStream
from avbridge.server.session import AudioUtterance, IdleState, SayProducer, Session, SpeechCache, Utterance
from avbridge.speech import ENGINES, SpeechEngine, load_best_engine
from avbridge.speech.text import chunk as chunk_text, normalize

log = logging.getLogger("avbridge.server")

SendResult = str  # "ok" | "again" | "gone"
CAPABILITIES = ["say", "speak_audio", "interrupt", "set", "ping", "mirror", "realtime_pacing", "live"]
_CLOSED_MEMORY = 10_000
_IDLE_FEED_EVERY_S = 0.05
"""Idle streams are produced 0.2 to 0.5 s past the lead; checking them every 50 ms is plenty and
keeps the work off most turns of the I/O loop, whose timing is the stream's."""
_SEND_EARLY_S = 0.001
"""A stream message due within this long is sent now: the poll loop wakes on whole milliseconds,
and a millisecond early is harmless against the lead, while a millisecond late shows as jitter."""


@dataclass
class ClientState:
    identity: bytes
    seq: int = 0
    version: int | None = None
    name: str = ""
    sessions: set = field(default_factory=set)
    blocked_until: float = 0.0   # monotonic time before which its pipe was full

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


class Service:
    def __init__(self, config: ServerConfig, wake: Callable[[], None] = lambda: None) -> None:
        self.config = config
        self._wake = wake
        self.clients: dict[bytes, ClientState] = {}
        self.sessions: dict[str, Session] = {}
        self._closed: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._engines: dict[str, SpeechEngine] = {}
        self._engine_lock = threading.Lock()
        self._generator = load_generator(config.motion)
        self._cache = SpeechCache(config.speech_cache_entries)
        self._pool = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="avbridge-gen")
        self._mirror_now: list[tuple[Session, Message]] = []   # replies that observers should see too
        self._parked: list[SayProducer] = []                   # producers far enough ahead of the clock
        self._parked_lock = threading.Lock()
        self._idle_fed_at = 0.0
        self.started = time.monotonic()
        self.live = LiveRunner(self._pool, wake, config.playout_delay_s)

    # -- lifecycle ----------------------------------------------------------------------------
    def engine(self, name: str) -> SpeechEngine:
        with self._engine_lock:
            if name not in self._engines:
                t0 = time.perf_counter()
                self._engines[name] = load_best_engine(name)
                log.info("speech engine loaded engine=%s seconds=%.2f", name, time.perf_counter() - t0)
            return self._engines[name]

    def farewells(self) -> list[tuple[bytes, str, list[bytes]]]:
        """On shutdown: (client, session, frames) of an `end` for every utterance still playing
        or queued, so that engines know the stream stopped rather than stalled."""
        out = []
        for session in list(self.sessions.values()):
            client = self.clients.get(session.owner)
            if client is None:
                continue
            for utt in session.interrupt():
                at, frames, samples = utt.cut
                message = Message("end", {"session": session.id, "utterance": utt.id, "time": at,
                                          "status": "interrupted", "frames": frames, "samples": samples,
                                          "reason": "server shutting down"})
                out.append((session.owner, session.id, self._encode(client, message)))
        return out

    def shutdown(self) -> None:
        for session in list(self.sessions.values()):
            with session.lock:
                for utt in [session.active, *session.pending]:
                    if utt is not None:
                        utt.cancelled = True
                session.lock.notify_all()
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- requests -----------------------------------------------------------------------------
    def handle(self, client_id: bytes, frames: list[bytes]) -> list[list[bytes]]:
        """Replies (already encoded) to one message from `client_id`."""
        client = self.clients.get(client_id)
        if client is None:
            client = self.clients[client_id] = ClientState(client_id)
        try:
            message = decode(frames, self.config.max_bulk_bytes, sender=CLIENT)
        except ProtocolError as exc:
            log.info("bad message client=%s code=%s message=%r", client_id.hex(), exc.code, exc.message)
            return [self._error(client, exc.code, exc.message, exc.seq)]
        try:
            if client.version is None and message.type not in ("hello", "ping"):
                raise ProtocolError("hello_required", f"send hello before '{message.type}'")
            handler = getattr(self, f"_on_{message.type}")
            return [self._encode(client, reply) for reply in handler(client, message)]
        except ProtocolError as exc:
            log.info("request refused client=%s type=%s code=%s message=%r", client_id.hex(),
                     message.type, exc.code, exc.message)
            return [self._error(client, exc.code, exc.message, message.seq, message.session)]
        except Exception as exc:
            log.exception("request failed client=%s type=%s", client_id.hex(), message.type)
            return [self._error(client, "internal", f"{message.type} failed: {exc.__class__.__name__}",
                                message.seq, message.session)]

    def _on_hello(self, client: ClientState, m: Message) -> list[Message]:
        common = [v for v in m["versions"] if v == VERSION]
        if not common:
            raise ProtocolError("bad_version", "none of the offered versions "
                                f"{m['versions']} is supported; this server speaks {VERSION}")
        client.version = VERSION
        client.name = m["client"][:100]
        log.info("client hello client=%s name=%r", client.identity.hex(), client.name)
        default_engine = self.engine(self.config.voice)
        return [Message("welcome", {
            "re": m.seq, "version": VERSION, "server": f"avbridge {avbridge.__version__}",
            "capabilities": CAPABILITIES, "blendshapes": list(ARKIT_BLENDSHAPES), "fps": self.config.fps,
            "sample_rate": default_engine.sample_rate, "audio_format": "s16le",
            "heartbeat_ms": self.config.heartbeat_ms, "max_bulk_bytes": self.config.max_bulk_bytes,
            "max_text_chars": self.config.max_text_chars, "voices": list(ENGINES),
            "motions": [self.config.motion]})]

    def _on_open(self, client: ClientState, m: Message) -> list[Message]:
        if len(self.sessions) >= self.config.max_sessions:
            raise ProtocolError("busy", f"the server has {len(self.sessions)} sessions open; the limit is {self.config.max_sessions}")
        if len(client.sessions) >= self.config.max_sessions_per_client:
            raise ProtocolError("busy", f"this client has {len(client.sessions)} sessions open; the limit is {self.config.max_sessions_per_client}")
        fps = m.get("fps", self.config.fps)
        if not self.config.min_fps <= fps <= self.config.max_fps:
            raise ProtocolError("bad_field", f"open: fps {fps:g} is outside {self.config.min_fps:g}..{self.config.max_fps:g}")
        voice = m.get("voice", self.config.voice)
        if voice not in ENGINES:
            raise ProtocolError("bad_field", f"open: unknown voice '{voice}'; available: {', '.join(ENGINES)}")
        motion = m.get("motion", self.config.motion)
        if motion != self.config.motion:
            raise ProtocolError("bad_field", f"open: unknown motion '{motion}'; available: {self.config.motion}")
        params = MotionParams()
        self._apply_params(params, m, "open")
        live = m.get("live", "off")
        if live not in ("off", *LIVE_MODES):
            raise ProtocolError("bad_field", f"open: unknown live mode '{live}'; expected off, {', '.join(LIVE_MODES)}")
        barge_in = m.get("barge_in", "always")
        if barge_in not in BARGE_IN_POLICIES:
            raise ProtocolError("bad_field", f"open: unknown barge_in policy '{barge_in}'; expected {', '.join(BARGE_IN_POLICIES)}")
        if m.get("barge_in_ms", 0) > 10_000:
            raise ProtocolError("bad_field", f"open: barge_in_ms {m['barge_in_ms']} is over 10000")
        if live != "off" and not m.get("realtime", True):
            raise ProtocolError("bad_field", "open: a live session runs on the clock; realtime false is not allowed with live")
        session = Session(id=uuid.uuid4().hex[:12], owner=client.identity, fps=fps, engine=self.engine(voice),
                          generator=self._generator, params=params, realtime=m.get("realtime", True),
                          seed=m.get("seed"), playout_delay_s=self.config.playout_delay_s,
                          frames_per_message=max(1, int(round(fps * self.config.audio_message_s))),
                          idle_enabled=m.get("idle", True))
        if live != "off":
            self.live.open(session, live, barge_in, m.get("barge_in_ms", 300), m.get("transcripts", True))
        self.sessions[session.id] = session
        client.sessions.add(session.id)
        log.info("session opened client=%s session=%s fps=%g voice=%s realtime=%s", client.identity.hex(),
                 session.id, fps, voice, session.realtime)
        return [Message("opened", {"re": m.seq, "session": session.id, "fps": fps,
                                   "sample_rate": session.engine.sample_rate, "voice": session.engine.name,
                                   "motion": motion})]

    def _on_close(self, client: ClientState, m: Message) -> list[Message]:
        session = self._session(client, m)
        self._close_session(session, "closed by client")
        return [Message("closed", {"re": m.seq, "session": session.id})]

    def _on_say(self, client: ClientState, m: Message) -> list[Message]:
        session = self._session(client, m)
        text = m["text"]
        if len(text) > self.config.max_text_chars:
            raise ProtocolError("text_too_long", f"say: text has {len(text)} characters; the limit is {self.config.max_text_chars}")
        if not text.strip():
            raise ProtocolError("empty_text", "say: text is empty")
        pieces = chunk_text(normalize(text))
        if not pieces:
            raise ProtocolError("empty_text", "say: text has nothing to speak (no letters or digits)")
        if len(session.pending) >= self.config.max_queued_utterances:
            raise ProtocolError("busy", f"say: {len(session.pending)} utterances are already queued; the limit is {self.config.max_queued_utterances}")
        params = session.params
        if "emotion" in m.fields or "intensity" in m.fields:
            params = MotionParams(**{**params.__dict__})
            self._apply_params(params, m, "say")
        session.params.thinking = False        # the reply has come: eye contact again
        utt = Utterance(id=m.get("utterance") or session.next_utterance_id(), re=m.seq, kind="say",
                        text=text, params=params, pieces=pieces)
        self._start_or_queue(session, utt)
        return [Message("ok", {"re": m.seq, "session": session.id, "utterance": utt.id})]

    def _on_speak_audio(self, client: ClientState, m: Message) -> list[Message]:
        session = self._session(client, m)
        rate = self._sample_rate(m)
        pcm = np.frombuffer(m.bulk[0], dtype="<i2")
        uid = m["utterance"]
        with session.lock:
            stream = session.audio_streams.get(uid)
            if stream is None:
                if m["offset"] != 0:
                    raise ProtocolError("bad_field", f"speak_audio: utterance '{uid}' is not open; its first chunk must have offset 0")
                speaking = session.speaking()
                if speaking is not None:
                    raise ProtocolError("busy", f"speak_audio: session {session.id} is speaking utterance '{speaking.id}'; interrupt it or wait for its end")
            elif m["offset"] != stream.received:
                raise ProtocolError("bad_field", f"speak_audio: offset {m['offset']} does not continue utterance '{uid}' at sample {stream.received}")
            elif rate != stream.sample_rate:
                raise ProtocolError("bad_field", f"speak_audio: sample_rate {rate} differs from the utterance's {stream.sample_rate}")
        if stream is None:
            utt = Utterance(id=uid, re=m.seq, kind="audio")
            with session.lock:
                session.active = utt
            stream = AudioUtterance(session, utt, rate)
            session.audio_streams[uid] = stream
        stream.push(pcm, m["final"])
        if m["final"]:
            with session.lock:
                session.audio_streams.pop(uid, None)
                if session.active is stream.utt:
                    session.active = None
            self._start_next(session)
        self._wake()
        return [Message("ok", {"re": m.seq, "session": session.id, "utterance": uid})]

    def _on_interrupt(self, client: ClientState, m: Message) -> list[Message]:
        session = self._session(client, m)
        stopped = session.interrupt(m.get("utterance"))
        replies = []
        for utt in stopped:
            at, frames, samples = utt.cut
            replies.append(Message("end", {"session": session.id, "utterance": utt.id, "time": at,
                                           "status": "interrupted", "frames": frames, "samples": samples,
                                           "re": m.seq, "reason": "interrupted by client"}))
            log.info("interrupted session=%s utterance=%s at=%.3f frame=%d", session.id, utt.id, at, frames)
        self._mirror_now.extend((session, r) for r in replies)
        return [*replies, Message("ok", {"re": m.seq, "session": session.id})]

    def _on_set(self, client: ClientState, m: Message) -> list[Message]:
        session = self._session(client, m)
        if not any(k in m.fields for k in ("emotion", "intensity", "expressiveness", "articulation", "blink_rate",
                                           "gaze_yaw", "gaze_pitch", "thinking", "calibrate")):
            raise ProtocolError("missing_field", "set: give at least one of emotion, intensity, expressiveness, "
                                                 "articulation, blink_rate, gaze_yaw, gaze_pitch, thinking, calibrate")
        if "calibrate" in m.fields:
            if session.live is None:
                raise ProtocolError("bad_field", "set: calibrate needs a live session (open with live)")
            if not 0.2 <= m["calibrate"] <= 10:
                raise ProtocolError("bad_field", f"set: calibrate {m['calibrate']:g} is outside 0.2..10 (seconds)")
            session.live.input.calibrate(m["calibrate"])
        if "thinking" in m.fields:
            session.params.thinking = m["thinking"]
            if session.live is not None:
                for name, fields in session.live.input.turns.thinking(m["thinking"]):
                    self.live.event(session, name, session.now(), **fields)
        self._apply_params(session.params, m, "set")
        return [Message("ok", {"re": m.seq, "session": session.id})]

    def _on_user_audio(self, client: ClientState, m: Message) -> list[Message]:
        """No reply unless refused: at 50 messages a second an `ok` each would double the traffic."""
        session = self._live_session(client, m)
        rate = self._sample_rate(m)
        live = session.live
        if live.sample_rate and rate != live.sample_rate:
            raise ProtocolError("bad_field", f"user_audio: sample_rate {rate} differs from the stream's {live.sample_rate}")
        if m["offset"] != live.received:
            raise ProtocolError("bad_field", f"user_audio: offset {m['offset']} does not continue the user stream at sample {live.received}")
        if self.live.backlog_s(session) > MAX_QUEUED_AUDIO_S:
            raise ProtocolError("busy", f"user_audio: {self.live.backlog_s(session):.1f} s of user audio wait to be processed; the limit is {MAX_QUEUED_AUDIO_S:g}")
        self.live.push_audio(session, np.frombuffer(m.bulk[0], dtype="<i2"), rate)
        return []

    def _on_user_face(self, client: ClientState, m: Message) -> list[Message]:
        session = self._live_session(client, m)
        values = np.frombuffer(m.bulk[0], dtype="<f4")      # 59 of them: the codec checked the size
        if not np.isfinite(values).all():
            raise ProtocolError("bad_field", "user_face: the frame holds NaN or infinite values")
        tracked = m.get("tracked", True)
        quaternion = values[52:56].astype(np.float64)
        if tracked and not 0.5 < np.linalg.norm(quaternion) < 1.5:
            raise ProtocolError("bad_field", "user_face: the head rotation is not a unit quaternion (x, y, z, w)")
        head = values[52:].astype(np.float32).copy()
        if tracked:
            head[:4] /= np.linalg.norm(head[:4])
        observation = FaceObservation(m["time"], tracked, np.clip(values[:52], 0, 1).astype(np.float32), head)
        self.live.push_face(session, observation)
        return []

    @staticmethod
    def _sample_rate(m: Message) -> int:
        rate = m["sample_rate"]
        if not 8000 <= rate <= 96000:
            raise ProtocolError("bad_field", f"{m.type}: sample_rate {rate} is outside 8000..96000")
        return rate

    def _live_session(self, client: ClientState, m: Message) -> Session:
        session = self._session(client, m)
        if session.live is None:
            raise ProtocolError("bad_field", f"{m.type}: session {session.id} is not live; open it with live telepresence or listen")
        return session

    def _on_ping(self, client: ClientState, m: Message) -> list[Message]:
        fields = {"re": m.seq, "client_time": m["client_time"], "server_time": time.monotonic() - self.started}
        if "session" in m.fields:
            session = self._session(client, m)
            fields.update(session=session.id, session_time=session.now())
        return [Message("pong", fields)]

    # -- helpers ------------------------------------------------------------------------------
    def _session(self, client: ClientState, m: Message) -> Session:
        sid = m["session"]
        session = self.sessions.get(sid)
        if session is None or session.owner != client.identity:
            if sid in self._closed:
                raise ProtocolError("session_closed", f"session {sid} is closed")
            raise ProtocolError("unknown_session", f"no session {sid}")
        return session

    @staticmethod
    def _apply_params(params: MotionParams, m: Message, type_name: str) -> None:
        if "emotion" in m.fields:
            if m["emotion"] == "auto":
                params.infer_emotion = True     # from each sentence's text (motion/text_emotion.py)
            elif m["emotion"] not in EMOTIONS:
                raise ProtocolError("bad_field", f"{type_name}: unknown emotion '{m['emotion']}'; known: auto, {', '.join(EMOTIONS)}")
            else:
                params.infer_emotion = False
                params.emotion = m["emotion"]
                if "intensity" not in m.fields and params.emotion_intensity == 0:
                    params.emotion_intensity = 0.7
        ranges = {"intensity": ("emotion_intensity", 0.0, 1.0), "expressiveness": ("expressiveness", 0.0, 2.0),
                  "articulation": ("articulation", 0.2, 2.0), "blink_rate": ("blink_rate_per_min", 0.0, 60.0)}
        for name, (attr, lo, hi) in ranges.items():
            if name in m.fields:
                value = m[name]
                if not lo <= value <= hi:
                    raise ProtocolError("bad_field", f"{type_name}: {name} {value:g} is outside {lo:g}..{hi:g}")
                setattr(params, attr, value)
        yaw, pitch = params.gaze_target
        for name in ("gaze_yaw", "gaze_pitch"):
            if name in m.fields and not -0.6 <= m[name] <= 0.6:
                raise ProtocolError("bad_field", f"{type_name}: {name} {m[name]:g} is outside -0.6..0.6 (radians)")
        params.gaze_target = (m.get("gaze_yaw", yaw), m.get("gaze_pitch", pitch))

    def _start_or_queue(self, session: Session, utt: Utterance) -> None:
        with session.lock:
            if session.active is None:
                session.active = utt
                start = True
            else:
                session.pending.append(utt)
                start = False
        if start:
            self._submit(SayProducer(session, utt, self._cache, self.config.audio_message_s))

    def _submit(self, producer: SayProducer) -> None:
        self._pool.submit(self._step, producer)

    def _step(self, producer: SayProducer) -> None:
        """One chunk on a worker thread; then go on, park, or start the session's next line."""
        producer.step()
        self._wake()
        session = producer.session
        if not producer.done:
            if session.realtime and session.ahead_of_clock(producer.utt) > self.config.produce_ahead_s:
                with self._parked_lock:
                    self._parked.append(producer)
            else:
                self._submit(producer)
            return
        with session.lock:
            if session.active is producer.utt:
                session.active = None
        self._start_next(session)

    def _resume_parked(self) -> None:
        """Resubmit parked producers whose stream the clock has caught up with (I/O thread)."""
        with self._parked_lock:
            if not self._parked:
                return
            ready = [p for p in self._parked if p.utt.cancelled
                     or p.session.ahead_of_clock(p.utt) <= self.config.produce_ahead_s]
            self._parked = [p for p in self._parked if p not in ready]
        for producer in ready:
            self._submit(producer)

    def _start_next(self, session: Session) -> None:
        with session.lock:
            if session.active is not None or not session.pending or session.closed:
                return
            utt = session.pending.popleft()
            session.active = utt
        self._submit(SayProducer(session, utt, self._cache, self.config.audio_message_s))

    def _feed_idle(self, session: Session) -> None:
        """While a realtime session says nothing, keep its idle stream produced a little past the
        lead. The I/O thread only checks; a worker makes the frames, so sends keep their timing."""
        if session.live is not None:
            self.live.sync_avatar_state(session)
        if not (session.realtime and session.idle_enabled) or session.closed:
            return
        with session.lock:
            if session.speaking() is not None or session.pending or session.audio_streams:
                return
            if session.idle is None:
                utt = Utterance(id=f"idle{session.next_utterance_id()[1:]}", re=0, kind="idle")
                idle_stream = IdleStream(session.fps, session.params, session.seed)
                session.begin(utt, session.engine.sample_rate, audio=False)
                session.idle = IdleState(utt, idle_stream)
            idle = session.idle
            utt = idle.utterance
            produced_until = utt.start + utt.frames / session.fps
            # A listening avatar reacts to the user: its frames are made just ahead of need, not a
            # second ahead, so a nod decided now is not queued behind frames already made.
            listening = session.live is not None
            horizon = session.now() + (self.config.playout_delay_s + 0.05 if listening else self.config.lead_s + 0.2)
            if produced_until < horizon and not idle.producing:
                idle.producing = True
                frames = int(np.ceil((horizon + (0.05 if listening else 0.3) - produced_until) * session.fps))
                self._pool.submit(self._produce_idle, session, idle, frames)

    def _produce_idle(self, session: Session, idle: IdleState, frames: int) -> None:
        try:
            track = idle.stream.next(frames)
            start = idle.utterance.start + track.start_frame / session.fps
            session.queue_media(idle.utterance, self.live.listening_frames(session, track, start))
        except Exception:  # idle motion failing must not take the session down
            log.exception("idle motion failed session=%s", session.id)
        finally:
            idle.producing = False
            self._wake()

    def _close_session(self, session: Session, why: str) -> None:
        session.interrupt()
        with session.lock:
            session.closed = True
            session.outbox.clear()
            session.lock.notify_all()
        self.sessions.pop(session.id, None)
        client = self.clients.get(session.owner)
        if client is not None:
            client.sessions.discard(session.id)
        self._closed[session.id] = None
        while len(self._closed) > _CLOSED_MEMORY:
            self._closed.popitem(last=False)
        log.info("session closed session=%s why=%s", session.id, why)

    def client_gone(self, client_id: bytes) -> None:
        client = self.clients.pop(client_id, None)
        if client is None:
            return
        log.warning("client gone client=%s sessions=%d", client_id.hex(), len(client.sessions))
        for sid in list(client.sessions):
            session = self.sessions.get(sid)
            if session is not None:
                self._close_session(session, "client gone")

    def _encode(self, client: ClientState, message: Message) -> list[bytes]:
        message.seq = client.next_seq()
        return encode(message)

    def _error(self, client: ClientState, code: str, text: str, re: int | None = None,
               session: str | None = None) -> list[bytes]:
        fields = {"code": code, "message": text}
        if re is not None:
            fields["re"] = re
        if session is not None:
            fields["session"] = session
        return self._encode(client, Message("error", fields))

    # -- streaming ------------------------------------------------------------------------------
    def flush(self, send: Callable[[bytes, list[bytes]], SendResult],
              publish: Callable[[str, list[bytes]], None]) -> float:
        """Send every due stream message; return seconds until the next one is due (or 0.05)."""
        now_mono = time.monotonic()
        next_due = 0.05
        self._resume_parked()
        if now_mono - self._idle_fed_at >= _IDLE_FEED_EVERY_S:
            self._idle_fed_at = now_mono
            for session in list(self.sessions.values()):
                self._feed_idle(session)
        for session, message in self._mirror_now:
            publish(session.id, encode(message))
        self._mirror_now.clear()
        gone: set[bytes] = set()
        for session in list(self.sessions.values()):
            client = self.clients.get(session.owner)
            if client is None or session.owner in gone:
                continue
            if client.blocked_until > now_mono:
                next_due = min(next_due, client.blocked_until - now_mono)
                continue
            lead = self.config.lead_s if session.realtime else float("inf")
            while True:
                with session.lock:
                    if not session.outbox:
                        break
                    item = session.outbox[0]
                    wait = item.media_time - lead - session.now()
                    if wait > _SEND_EARLY_S:
                        next_due = min(next_due, wait)
                        break
                    item.message.seq = client.seq + 1
                    frames = encode(item.message)
                    result = send(session.owner, frames)
                    if result == "ok":
                        client.seq += 1
                        session.outbox.popleft()
                        session.lock.notify_all()
                if result == "ok":
                    publish(session.id, frames)
                    continue
                if result == "again":
                    # This client's pipe is full: leave its stream queued and serve the others.
                    client.blocked_until = now_mono + 0.005
                    next_due = min(next_due, 0.005)
                else:
                    gone.add(session.owner)
                break
        for client_id in gone:
            self.client_gone(client_id)
        return max(next_due, 0.0)
