"""The server's logic without sockets: requests in, replies and paced streams out.

`Service.handle(client, frames)` takes one received message and returns the replies to send at
once. `Service.flush(send, publish)` sends the stream messages that are due (server/pacer.py).
The transport reports connections opening and closing (`connected`, `disconnected`); a client
that stays disconnected past the grace period has its sessions closed (server/clients.py).
Work runs on the pool as tasks (server/scheduler.py): nothing heavy runs on the I/O thread that
calls these methods. Every bad request is answered with an `error` message; nothing a client sends
can raise out of here.

The clock and the pool are passed in, so the whole service runs under a fake clock in tests.
"""

from __future__ import annotations

import collections
import importlib.util
import logging
import threading
import time
import uuid
from typing import Any, Callable

import numpy as np

import avbridge
from avbridge.core.arkit import ARKIT_BLENDSHAPES
from avbridge.motion import load_generator
from avbridge.protocol import Message, ProtocolError, decode, encode
from avbridge.protocol.schema import CLIENT, VERSION
from avbridge.server import requests
from avbridge.server.clients import ClientState, ConnectionTracker
from avbridge.server.config import ServerConfig
from avbridge.server.outputs import outputs_from_config
from avbridge.server.pacer import Pacer, Publish, Send, overflow_messages
from avbridge.server.lines import LineRunner
from avbridge.server.producers import AudioUtterance
from avbridge.server.scheduler import LIGHT, Scheduler, WorkerPool
from avbridge.server.session import Session, Utterance
from avbridge.speech import ENGINES, SpeechEngine, load_best_engine
from avbridge.speech.text import chunk as chunk_text
from avbridge.speech.text import normalize

log = logging.getLogger("avbridge.server")

BASE_CAPABILITIES = ["say", "speak_audio", "interrupt", "set", "ping", "mirror", "realtime_pacing"]
_CLOSED_MEMORY = 10_000
_AUDIO_AHEAD_S = 1.0
"""Engine audio is animated at least this long before its frames are due to be sent."""
_IDLE_FEED_EVERY_S = 0.05
"""Idle streams are produced 0.2 to 0.5 s past the lead; checking them every 50 ms is plenty and
keeps the work off most turns of the I/O loop, whose timing is the stream's."""


def available_capabilities(llm: str = "off") -> list[str]:
    """The capabilities whose libraries import here (SPEC 6.2): `live` needs the live extra,
    `emotion_auto` the emotion extra, `chat` the live extra and the model `llm` names."""
    from avbridge.dialogue.models import chat_available
    caps = list(BASE_CAPABILITIES)
    if all(importlib.util.find_spec(m) for m in ("silero_vad", "faster_whisper", "soxr", "torch")):
        caps.append("live")
        if chat_available(llm) is None:
            caps.append("chat")
    if importlib.util.find_spec("sentence_transformers") and importlib.util.find_spec("vaderSentiment"):
        caps.append("emotion_auto")
    from avbridge.server.portraits import portrait_available
    if portrait_available():
        caps.append("portrait")
    return caps


class Service:
    def __init__(self, config: ServerConfig, wake: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic, pool: Any = None,
                 capabilities: list[str] | None = None) -> None:
        self.config = config
        self.clock = clock
        self._wake = wake
        self.capabilities = capabilities if capabilities is not None else available_capabilities(config.llm)
        self.clients: dict[bytes, ClientState] = {}
        self.sessions: dict[str, Session] = {}
        self._closed: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._engines: dict[str, SpeechEngine] = {}
        self._engine_lock = threading.Lock()
        self._generator = load_generator(config.motion)
        self.pool = pool if pool is not None else WorkerPool(Scheduler(), config.workers, clock=clock)
        self.scheduler: Scheduler = self.pool.scheduler
        self.pacer = Pacer(clock, config.lead_s, config.max_backlog_bytes)
        self.connections = ConnectionTracker(config.heartbeat_timeout_ms / 1000)
        self._mirror_now: list[tuple[Session, Message]] = []   # replies that observers should see too
        self._idle_fed_at = -1.0
        self.started = clock()
        from avbridge.server.live import LiveRunner
        self.live = LiveRunner(self.pool, wake, config.playout_delay_s)
        self.lines = LineRunner(config, self.pool, wake, self.live, self._emotion_of)
        from avbridge.server.chat import ChatRunner
        self.chat = self.live.chat = ChatRunner(config, self.pool, wake, self.queue_line, self.live.event, self.live.think,
                                                 emotion_auto="emotion_auto" in self.capabilities)
        self.outputs = outputs_from_config(config, clock)
        self._portraits: Any = None            # server.portraits.Portraits, made on the first `portrait`

    # -- lifecycle ----------------------------------------------------------------------------
    def engine(self, name: str) -> SpeechEngine:
        with self._engine_lock:
            if name not in self._engines:
                t0 = time.perf_counter()
                self._engines[name] = load_best_engine(name)
                log.info("speech engine loaded engine=%s seconds=%.2f", name, time.perf_counter() - t0)
            return self._engines[name]

    def farewells(self) -> list[tuple[bytes, str, list[bytes]]]:
        """On shutdown: (client, session, frames) of an `end` for every utterance whose own `end`
        has not left, so engines know the stream stopped rather than stalled. Delivered lines keep
        their `end` done."""
        out = []
        for session in list(self.sessions.values()):
            client = self.clients.get(session.owner)
            if client is None:
                continue
            for end in session.farewells("server shutting down"):
                out.append((session.owner, session.id, self._encode(client, end)))
        return out

    def shutdown(self) -> None:
        for session in list(self.sessions.values()):
            with session.lock:
                session.closed = True
                for utt in [session.active, *session.pending]:
                    if utt is not None:
                        utt.cancelled = True
                session.lock.notify_all()
        if hasattr(self.pool, "shutdown"):
            self.pool.shutdown()
        self.outputs.stop()
        if self._portraits is not None:
            self._portraits.close()

    # -- connections (from the transport) -----------------------------------------------------
    def connected(self, fd: int) -> None:
        self.connections.connected(fd)

    def disconnected(self, fd: int) -> None:
        identity = self.connections.disconnected(fd, self.clock())
        if identity is not None and identity in self.clients:
            log.info("client disconnected client=%s; its sessions wait %.1f s for it to come back",
                     identity.hex(), self.connections.grace_s)

    # -- requests -----------------------------------------------------------------------------
    def handle(self, client_id: bytes, frames: list[bytes], fd: int | None = None) -> list[list[bytes]]:
        """Replies (already encoded) to one message from `client_id`."""
        self.connections.message(client_id, fd)
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
        if client.version is not None:
            # A second hello on one connection starts over: its sessions stay open (SPEC 6.1).
            log.info("client hello again client=%s sessions=%d", client.identity.hex(), len(client.sessions))
        client.version = VERSION
        client.name = m["client"][:100]
        log.info("client hello client=%s name=%r", client.identity.hex(), client.name)
        default_engine = self.engine(self.config.voice)
        c = self.config
        return [Message("welcome", {
            "re": m.seq, "version": VERSION, "server": f"avbridge {avbridge.__version__}",
            "capabilities": self.capabilities, "blendshapes": list(ARKIT_BLENDSHAPES), "fps": c.fps,
            "sample_rate": default_engine.sample_rate, "audio_format": "s16le",
            "heartbeat_ms": c.heartbeat_ms, "max_bulk_bytes": c.max_bulk_bytes,
            "max_text_chars": c.max_text_chars, "voices": list(ENGINES), "motions": [c.motion],
            "max_sessions_per_client": c.max_sessions_per_client, "max_queued_lines": c.max_queued_utterances,
            "max_backlog_bytes": c.max_backlog_bytes, "liveness_timeout_ms": c.heartbeat_timeout_ms,
            "lead_ms": int(round(c.lead_s * 1000)), "sessions": sorted(client.sessions)})]

    def _on_open(self, client: ClientState, m: Message) -> list[Message]:
        if len(self.sessions) >= self.config.max_sessions:
            raise ProtocolError("busy", f"the server has {len(self.sessions)} sessions open; the limit is {self.config.max_sessions}")
        if len(client.sessions) >= self.config.max_sessions_per_client:
            raise ProtocolError("busy", f"this client has {len(client.sessions)} sessions open; the limit is {self.config.max_sessions_per_client}")
        self._need_auto_emotion(m)
        o = requests.open_options(self.config, m, ENGINES, self.capabilities)
        session = Session(id=uuid.uuid4().hex[:12], owner=client.identity, fps=o.fps, engine=self.engine(o.voice),
                          generator=self._generator, params=o.params, clock=self.clock, realtime=o.realtime,
                          seed=o.seed, playout_delay_s=self.config.playout_delay_s,
                          frames_per_message=max(1, int(round(o.fps * self.config.audio_message_s))),
                          idle_enabled=o.idle)
        if o.live != "off":
            self.live.open(session, o.live, o.barge_in, o.barge_in_ms, o.transcripts)
        if o.live == "chat":
            self.chat.open(session, o.persona, o.memory)
        if o.live in ("listen", "chat"):
            # Its events ride on the idle stream while it does not speak: start that stream now,
            # ahead of any task a request of the client's queues.
            self.lines.feed_idle(session)
        self.sessions[session.id] = session
        client.sessions.add(session.id)
        self.outputs.open(session.id, session.created, o.fps, session.now())
        log.info("session opened client=%s session=%s fps=%g voice=%s realtime=%s", client.identity.hex(),
                 session.id, o.fps, o.voice, session.realtime)
        return [Message("opened", {"re": m.seq, "session": session.id, "fps": o.fps,
                                   "sample_rate": session.engine.sample_rate, "voice": session.engine.name,
                                   "motion": o.motion})]

    def _on_close(self, client: ClientState, m: Message) -> list[Message]:
        session = self._session(client, m)
        ends = self._close_session(session, "closed by client")
        return [*ends, Message("closed", {"re": m.seq, "session": session.id})]

    def _on_say(self, client: ClientState, m: Message) -> list[Message]:
        session = self._session(client, m)
        text = requests.say_text(self.config, m)
        self._need_auto_emotion(m)
        params = session.params
        if "emotion" in m.fields or "intensity" in m.fields:
            params = type(params)(**{**params.__dict__})
            requests.apply_params(params, m, "say")
        utt = self.queue_line(session, text, m.seq, params, m.get("utterance"))
        return [Message("ok", {"re": m.seq, "session": session.id, "utterance": utt.id})]

    def queue_line(self, session: Session, text: str, re: int, params: Any = None, utterance: str | None = None) -> Utterance:
        """Queue a line of `text` (a `say`, or a piece of a chat reply) behind the session's others."""
        pieces = chunk_text(normalize(text))
        if not pieces:
            raise ProtocolError("empty_text", "say: text has nothing to speak (no letters or digits)")
        if len(session.pending) >= self.config.max_queued_utterances:
            raise ProtocolError("busy", f"say: {len(session.pending)} utterances are already queued; the limit is {self.config.max_queued_utterances}")
        session.params.thinking = False        # the reply has come: eye contact again
        utt = Utterance(id=utterance or session.next_utterance_id(), re=re, kind="say",
                        text=text, params=params or session.params, pieces=pieces)
        with session.lock:
            start = session.active is None
            if start:
                session.active = utt
            else:
                session.pending.append(utt)
        if start:
            self.lines.start(session, utt)
        return utt

    def _on_speak_audio(self, client: ClientState, m: Message) -> list[Message]:
        session = self._session(client, m)
        rate = m["sample_rate"]
        pcm = np.frombuffer(m.bulk[0], dtype="<i2")
        uid = m["utterance"]
        with session.lock:
            stream: AudioUtterance | None = session.audio_streams.get(uid)
            if stream is None:
                if m["offset"] != 0:
                    raise ProtocolError("bad_field", f"speak_audio: utterance '{uid}' is not open; its first chunk must have offset 0")
                speaking = session.speaking()
                if speaking is not None:
                    raise ProtocolError("busy", f"speak_audio: session {session.id} is speaking utterance '{speaking.id}'; interrupt it or wait for its end")
                text = m.get("text")
                if text is not None and len(text) > self.config.max_text_chars:
                    raise ProtocolError("text_too_long", f"speak_audio: text has {len(text)} characters; the limit is {self.config.max_text_chars}")
            elif m["offset"] != stream.received:
                raise ProtocolError("bad_field", f"speak_audio: offset {m['offset']} does not continue utterance '{uid}' at sample {stream.received}")
            elif rate != stream.sample_rate:
                raise ProtocolError("bad_field", f"speak_audio: sample_rate {rate} differs from the utterance's {stream.sample_rate}")
            if stream is None:
                utt = Utterance(id=uid, re=m.seq, kind="audio")
                session.active = utt
                stream = session.audio_streams[uid] = AudioUtterance(session, utt, rate, m.get("text"))
                stream.first_at = self.clock()
            # A realtime stream's frames for second t of the line are sent at about t - lead: a line
            # sent whole is animated a little ahead of that, not all at once, so its CPU is spread
            # over the line instead of taken from the other sessions' streams in one burst.
            not_before = stream.first_at + stream.received / rate - self.config.lead_s - _AUDIO_AHEAD_S \
                if session.realtime else float("-inf")
            stream.received += len(pcm)
            final = m["final"]
            if final:
                session.audio_streams.pop(uid, None)
        # The animation is the session's own task; the reply leaves now.
        self.pool.submit(lambda: self._animate_audio(session, stream, pcm, final), lane=LIGHT,
                         deadline=max(self.clock(), not_before), key=session.id, name="speak-audio",
                         not_before=not_before)
        return [Message("ok", {"re": m.seq, "session": session.id, "utterance": uid})]

    def _animate_audio(self, session: Session, stream: AudioUtterance, pcm: np.ndarray, final: bool) -> None:
        try:
            stream.push(pcm, final)
        except Exception as exc:
            log.exception("speak_audio failed session=%s utterance=%s", session.id, stream.utt.id)
            session.fail(stream.utt, stream.sample_rate, False, f"motion failed: {exc.__class__.__name__}: {exc}")
            final = True
        if final:
            session.release(stream.utt)
            self.lines.start_next(session)
        self._wake()

    def _on_interrupt(self, client: ClientState, m: Message) -> list[Message]:
        session = self._session(client, m)
        ends = session.interrupt(m.get("utterance"))
        for end in ends:
            log.info("interrupted session=%s utterance=%s at=%.3f frame=%d", session.id, end["utterance"],
                     end["time"], end["frames"])
        self._mirror_now.extend((session, e) for e in ends)
        return [*ends, Message("ok", {"re": m.seq, "session": session.id})]

    def _on_set(self, client: ClientState, m: Message) -> list[Message]:
        session = self._session(client, m)
        if not any(k in m.fields for k in requests.SET_FIELDS):
            raise ProtocolError("missing_field", f"set: give at least one of {', '.join(requests.SET_FIELDS)}")
        if "calibrate" in m.fields and session.live is None:
            raise ProtocolError("bad_field", "set: calibrate needs a live session (open with live)")
        self._need_auto_emotion(m)
        self.outputs.configure(session.id, session.created, session.fps, session.now(), m)
        requests.apply_params(session.params, m, "set")
        if "thinking" in m.fields:
            session.params.thinking = m["thinking"]
        if session.live is not None and ("calibrate" in m.fields or "thinking" in m.fields):
            self.live.set(session, m.get("calibrate"), m.get("thinking"))
        return [Message("ok", {"re": m.seq, "session": session.id})]

    def _on_user_audio(self, client: ClientState, m: Message) -> list[Message]:
        """No reply unless refused: at 50 messages a second an `ok` each would double the traffic."""
        session = self._live_session(client, m)
        self.live.user_audio(session, np.frombuffer(m.bulk[0], dtype="<i2"), m["sample_rate"], m["offset"])
        return []

    def _on_user_text(self, client: ClientState, m: Message) -> list[Message]:
        """A typed turn of a chat session, answered like a spoken one (SPEC 8.9)."""
        session = self._session(client, m)
        if session.chat is None:
            raise ProtocolError("bad_field", f"user_text: session {session.id} is not a chat session; open it with live chat")
        text = requests.say_text(self.config, m)
        if not any(c.isalnum() for c in text):
            raise ProtocolError("empty_text", "user_text: text has no letters or digits")
        self.chat.user_text(session, text.strip())
        return [Message("ok", {"re": m.seq, "session": session.id})]

    def _on_user_face(self, client: ClientState, m: Message) -> list[Message]:
        session = self._live_session(client, m)
        self.live.user_face(session, np.frombuffer(m.bulk[0], dtype="<f4"), m["time"], m.get("tracked", True))
        return []

    def _live_session(self, client: ClientState, m: Message) -> Session:
        session = self._session(client, m)
        if session.live is None:
            raise ProtocolError("bad_field", f"{m.type}: session {session.id} is not live; open it with live telepresence or listen")
        return session

    def _on_portrait(self, client: ClientState, m: Message) -> list[Message]:
        session = self._session(client, m)
        if "portrait" not in self.capabilities:
            raise ProtocolError("bad_field", "portrait: this server cannot render portraits (install the camera extra)")
        if self._portraits is None:
            from avbridge.server.portraits import Portraits
            self._portraits = Portraits()
        return [self._portraits.attach(session, m)]

    def _on_ping(self, client: ClientState, m: Message) -> list[Message]:
        fields = {"re": m.seq, "client_time": m["client_time"], "server_time": self.clock() - self.started}
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

    def _need_auto_emotion(self, m: Message) -> None:
        if m.get("emotion") == "auto" and "emotion_auto" not in self.capabilities:
            raise ProtocolError("bad_field", f"{m.type}: emotion auto needs the emotion extra on the server "
                                             "(pip install 'avbridge[emotion]')")

    def _emotion_of(self, text: str) -> tuple[str, float]:
        from avbridge.motion import text_emotion
        return text_emotion.shared().infer(text)

    def _close_session(self, session: Session, why: str) -> list[Message]:
        """Close `session`; return the `end`s of lines it cut (for a client that is still there)."""
        ends = session.interrupt(reason=why)
        if session.chat is not None:
            self.chat.close(session)
        with session.lock:
            session.closed = True
            session.outbox.clear()
            session.outbox_bytes = 0
            session.lock.notify_all()
        self.scheduler.drop(session.id)
        self.sessions.pop(session.id, None)
        self.outputs.close(session.id)
        client = self.clients.get(session.owner)
        if client is not None:
            client.sessions.discard(session.id)
        self._closed[session.id] = None
        while len(self._closed) > _CLOSED_MEMORY:
            self._closed.popitem(last=False)
        log.info("session closed session=%s why=%s", session.id, why)
        return ends

    def client_gone(self, client_id: bytes) -> None:
        client = self.clients.pop(client_id, None)
        self.connections.forget(client_id)
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
        fields: dict[str, Any] = {"code": code, "message": text}
        if re is not None:
            fields["re"] = re
        if session is not None:
            fields["session"] = session
        return self._encode(client, Message("error", fields))

    # -- streaming ------------------------------------------------------------------------------
    def flush(self, send: Send, publish: Publish, reply: Callable[[bytes, list[bytes]], Any] | None = None) -> float:
        """Send every due stream message; return seconds until the next one is due (or 0.05).
        `reply` sends a message outside the streams (an error for a client over its byte budget)."""
        now = self.clock()
        publish = self.outputs.observing(publish)
        self.lines.resume_parked()
        if now - self._idle_fed_at >= _IDLE_FEED_EVERY_S:
            self._idle_fed_at = now
            for session in list(self.sessions.values()):
                self.lines.feed_idle(session)
        for session, message in self._mirror_now:
            publish(session.id, encode(message))
        self._mirror_now.clear()
        next_due = self.pacer.flush(self.sessions.values(), self.clients, send, publish)
        for identity in self.pacer.reached:
            self.connections.reachable(identity)
        for identity in self.pacer.unreachable:
            self.connections.unreachable(identity, now)
        for session, held in self.pacer.overflows:
            client = self.clients.get(session.owner)
            log.warning("client backlog over budget client=%s session=%s bytes=%d", session.owner.hex(), session.id, held)
            for message in overflow_messages(session, held, self.config.max_backlog_bytes):
                if client is not None and reply is not None:
                    reply(session.owner, self._encode(client, message))
        for identity in self.connections.gone(now):
            self.client_gone(identity)
        return next_due
