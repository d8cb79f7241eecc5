"""Python client: talk to an avbridge server over ZeroMQ and collect what it streams.

    with Client("tcp://127.0.0.1:5570") as client:
        session = client.open()
        result = session.say("Hello there.")        # waits for the whole utterance
        result.pcm, result.track, result.events       # audio, Track, events

`Session.stream(utterance)` yields the stream messages as they arrive instead. The client is
synchronous and single-threaded: one socket, used only by the thread that calls it.

The client survives the server. When the connection drops it is seen at once (a socket monitor);
when it comes back (a restarted server), the client says hello again by itself and compares the
sessions the server still knows with its own. Sessions the server lost are reported in
`Client.lost` and by a `SessionLost` from any later call on them; a request that was waiting is
sent again when its session survived. A server that stays away longer than its liveness timeout
(welcome.liveness_timeout_ms) raises `ServerGone` from whatever call is waiting, instead of that
call's own timeout.
"""

from __future__ import annotations

import collections
import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import zmq
from zmq.utils.monitor import parse_monitor_message

from avbridge.core.track import Track
from avbridge.protocol import Message, decode, encode
from avbridge.protocol.schema import VERSION

_REPLY_TYPES = {"welcome", "opened", "closed", "ok", "error", "pong"}


class ServerError(RuntimeError):
    """The server answered a request with an error message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class TimedOut(TimeoutError):
    pass


class ServerGone(ConnectionError):
    """The connection to the server closed and did not come back within its liveness timeout."""


class KeyRefused(ConnectionError):
    """The CURVE handshake failed: our key is not allowed, the server's key is wrong, or one side
    uses CURVE and the other does not. The sentence says which."""


class RequestLost(ConnectionError):
    """The connection dropped after a request left and before its reply came: it may or may not
    have been carried out, so it is not sent again by itself (only requests that are safe to
    repeat are)."""


_SAFE_TO_REPEAT = {"hello", "ping", "set", "interrupt", "close"}


class SessionLost(RuntimeError):
    """The server no longer has this session (it restarted, or closed it while we were away)."""

    def __init__(self, session: str, why: str) -> None:
        super().__init__(f"session {session} was lost: {why}")
        self.session = session
        self.why = why


@dataclass
class VideoFrame:
    """One `video` frame of a portrait session: frame `index` at `time` on the session timeline."""
    index: int
    time: float
    format: str              # "jpeg" or "rgb"
    width: int
    height: int
    data: bytes

    def image(self) -> np.ndarray:
        """(height, width, 3) uint8 RGB."""
        if self.format == "rgb":
            return np.frombuffer(self.data, np.uint8).reshape(self.height, self.width, 3)
        import io

        from PIL import Image
        with Image.open(io.BytesIO(self.data)) as picture:
            return np.asarray(picture.convert("RGB"))


@dataclass
class UtteranceResult:
    """Everything one utterance streamed. Times are on the session timeline."""
    id: str
    header: Message
    end: Message
    pcm: np.ndarray            # (N,) int16; empty for speak_audio
    sample_rate: int
    track: Track
    events: list[dict]
    audio_times: list[tuple[float, int, int]] = field(default_factory=list)   # (time, offset, samples)
    frame_times: list[float] = field(default_factory=list)                   # one per frame
    first_audio_at: float | None = None      # local monotonic arrival times, for benchmarks
    first_frame_at: float | None = None
    frame_arrivals: list[float] = field(default_factory=list)
    video: list[VideoFrame] = field(default_factory=list)      # portrait sessions (SPEC 8.8), in order
    first_video_at: float | None = None

    @property
    def start(self) -> float:
        return self.header["time"]

    @property
    def duration(self) -> float:
        return len(self.pcm) / self.sample_rate if self.sample_rate else 0.0


class Client:
    def __init__(self, endpoint: str, timeout: float = 10.0, name: str = "avbridge-python",
                 context: zmq.Context | None = None, heartbeat_ms: int = 1000,
                 server_key: str | bytes | None = None, client_keys: str | None = None) -> None:
        """`server_key`: the server's public key (z85) or its .key file; `client_keys`: this
        client's .key_secret file (`avbridge keys`), whose public half the server must allow.
        Both or neither: with them the connection is CurveZMQ (encrypted and authenticated)."""
        self.endpoint = endpoint
        self.timeout = timeout
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.DEALER)
        self._refused: str | None = None
        if server_key is not None or client_keys is not None:
            self._use_curve(server_key, client_keys)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.ROUTING_ID, b"py-" + uuid.uuid4().bytes[:8])
        self._socket.setsockopt(zmq.HEARTBEAT_IVL, heartbeat_ms)
        self._socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, heartbeat_ms * 5)
        self._socket.setsockopt(zmq.RCVHWM, 0)   # never drop the server's stream on our side
        self._monitor = self._socket.get_monitor_socket(
            zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH
            | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        self._socket.connect(endpoint)
        self._poller = zmq.Poller()
        self._poller.register(self._socket, zmq.POLLIN)
        self._poller.register(self._monitor, zmq.POLLIN)
        self._name = name
        self._down_since: float | None = None     # the connection closed at this local time
        self._epoch = 0                           # connections made so far, the first being 1
        self._hello_seq: int | None = None        # a hello sent after a reconnect, not yet answered
        self.sessions: set[str] = set()           # sessions this client opened and has not closed
        self.lost: dict[str, str] = {}            # session -> why the server no longer has it
        self.events: collections.deque = collections.deque(maxlen=1000)   # ("disconnected" | "reconnected" | "session_lost", detail)
        self._liveness_s = heartbeat_ms * 5 / 1000
        self._seq = itertools.count(1)
        self._replies: dict[int, Message] = {}
        self._streams: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        # Idle streams (motion while nothing is said) run as long as the session is quiet: they are
        # kept apart, in a bounded buffer per session, for callers that want them (Session.idle).
        self.idle: dict[str, collections.deque] = collections.defaultdict(lambda: collections.deque(maxlen=2000))
        self._idle_utterances: set[tuple[str, str]] = set()
        # Live input (user_audio, user_face) has no reply; an error for one is raised when it arrives.
        # Bounded: at 50 pieces a second a set of every seq would grow for as long as the mic is on,
        # and an error comes back within milliseconds, far inside the last 4096.
        self._unanswered: collections.deque[int] = collections.deque(maxlen=4096)
        self._arrivals: dict[int, float] = {}
        try:
            self.welcome = self.request(self._hello())
        except Exception:
            self.close()   # a refused key or a server that never answered: no socket left behind
            raise
        self._liveness_s = self.welcome.get("liveness_timeout_ms", heartbeat_ms * 5) / 1000

    # -- plumbing -----------------------------------------------------------------------------
    def send(self, message: Message) -> int:
        message.seq = next(self._seq)
        self._socket.send_multipart(encode(message), copy=False)
        return message.seq

    def _hello(self) -> Message:
        return Message("hello", {"versions": [VERSION], "client": self._name})

    def request(self, message: Message, timeout: float | None = None) -> Message:
        """Send and wait for the reply; an `error` reply raises ServerError. A request whose
        connection was lost before its reply came is sent again once the client is connected and
        has said hello again if it is safe to repeat (RequestLost otherwise), and never for a
        session the server lost (SessionLost)."""
        self._check_session(message)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            epoch = self._epoch
            seq = self.send(message)
            reply = self._wait_reply(seq, deadline, epoch if message.type != "hello" else None)
            if reply is None:           # reconnected meanwhile: this request may not have arrived
                self._check_session(message)
                if message.type not in _SAFE_TO_REPEAT:
                    raise RequestLost(f"the connection to {self.endpoint} dropped before the reply to "
                                      f"'{message.type}' came; it may or may not have been carried out")
                continue
            if reply.type == "error" and reply["code"] == "hello_required" and self._epoch != epoch:
                self._await_hello(deadline)
                continue
            # A hello of our own after a reconnect is still out: let it land first, so `lost` and
            # `welcome` are up to date when the caller looks.
            self._await_hello(deadline)
            if reply.type == "error":
                raise ServerError(reply["code"], reply["message"])
            return reply

    def _check_session(self, message: Message) -> None:
        sid = message.fields.get("session")
        if sid in self.lost:
            raise SessionLost(sid, self.lost[sid])

    def _wait_reply(self, seq: int, deadline: float, epoch: int | None) -> Message | None:
        while seq not in self._replies:
            if epoch is not None and self._epoch != epoch and self._hello_seq is None:
                return None
            self._receive_one(deadline)
        return self._replies.pop(seq)

    def _await_hello(self, deadline: float) -> None:
        while self._hello_seq is not None:
            self._receive_one(deadline)

    def _use_curve(self, server_key: str | bytes | None, client_keys: str | None) -> None:
        from avbridge.core.keys import load_public, load_secret
        if server_key is None or client_keys is None:
            raise ValueError("CURVE needs both the server's public key and this client's key pair")
        if isinstance(server_key, str) and (server_key.endswith(".key") or "/" in server_key):
            server_public = load_public(server_key)
        else:
            server_public = server_key.encode() if isinstance(server_key, str) else server_key
        if len(server_public) != 40:
            raise ValueError("the server's public key is 40 z85 characters (or give its .key file)")
        public, secret = load_secret(client_keys)
        self._socket.setsockopt(zmq.CURVE_SERVERKEY, server_public)
        self._socket.setsockopt(zmq.CURVE_PUBLICKEY, public)
        self._socket.setsockopt(zmq.CURVE_SECRETKEY, secret)

    def _read_monitor(self) -> None:
        while True:
            try:
                event = parse_monitor_message(self._monitor.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                return
            if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                self._refused = (f"the server at {self.endpoint} refused this client's key: it is not among the "
                                 "server's allowed clients (--curve-clients)")
            elif event["event"] == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
                self._refused = (f"the handshake with {self.endpoint} failed: one side uses CURVE and the other does "
                                 "not, or they disagree on it (give both keys, or neither)")
            elif event["event"] == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
                self._refused = (f"the handshake with {self.endpoint} failed: the server's public key is not the "
                                 "right one, or one side uses CURVE and the other does not")
            elif event["event"] == zmq.EVENT_DISCONNECTED:
                self._down_since = time.monotonic()
                self.events.append(("disconnected", self.endpoint))
            elif event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self._epoch += 1
                if self._epoch > 1:
                    # A new connection: the server may be a new process that knows nothing of us.
                    self._down_since = None
                    self.events.append(("reconnected", self.endpoint))
                    self._hello_seq = self.send(self._hello())

    def _on_rehello(self, welcome: Message) -> None:
        self._hello_seq = None
        self.welcome = welcome
        kept = set(welcome.get("sessions", []))
        for sid in sorted(self.sessions - kept):
            self.lost[sid] = "the server no longer has it (it restarted or closed it while we were away)"
            self.sessions.discard(sid)
            self.events.append(("session_lost", sid))

    def _receive_one(self, deadline: float) -> Message | None:
        while True:
            self._read_monitor()
            if self._refused is not None:
                raise KeyRefused(self._refused)
            if self._down_since is not None and time.monotonic() - self._down_since > self._liveness_s:
                raise ServerGone(f"the server at {self.endpoint} has been unreachable for "
                                 f"{time.monotonic() - self._down_since:.1f} s")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimedOut(f"no answer from {self.endpoint} in time")
            # Wake at least every 100 ms to look at the connection, so a dead server is reported
            # within its liveness timeout however long the caller was willing to wait.
            ready = dict(self._poller.poll(int(min(remaining, 0.1) * 1000) + 1))
            if self._socket in ready:
                # The handshake event of a new connection is queued before anything that came over
                # it can be read, but both may turn up in one poll: take the event first, so a reply
                # from a restarted server is never read as if it came from the server we knew.
                self._read_monitor()
                break
        frames = self._socket.recv_multipart()
        arrived = time.monotonic()
        message = decode(frames, max_bulk_bytes=1 << 30)
        if message.type == "error" and message.get("re") in self._unanswered:
            self._unanswered.remove(message["re"])
            raise ServerError(message["code"], message["message"])
        if message.type == "welcome" and message.get("re") == self._hello_seq:
            self._on_rehello(message)
        elif message.type in _REPLY_TYPES and "re" in message.fields:
            self._replies[message["re"]] = message
        elif message.type == "error" and message["code"] == "session_closed" and "session" in message.fields:
            # The server ended the session on its own (a cluster worker died; SPEC 7): its lines
            # have had their `end`s. Later requests for it raise SessionLost with the reason.
            sid = message["session"]
            self.lost[sid] = message["message"]
            self.sessions.discard(sid)
            self.events.append(("session_lost", sid))
        elif message.type == "error":
            raise ServerError(message["code"], message["message"])
        else:
            key = (message["session"], message.get("utterance"))
            if message.type == "stream" and message.get("idle"):
                self._idle_utterances.add(key)
            if key in self._idle_utterances:
                self.idle[message["session"]].append((message, arrived))
                if message.type == "end":
                    self._idle_utterances.discard(key)
                return message
            self._arrivals[id(message)] = arrived
            self._streams[message["session"]].append(message)
        return message

    def next_stream_message(self, session: str, timeout: float | None = None) -> tuple[Message, float]:
        """The next stream message of `session` and its local arrival time."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        queue = self._streams[session]
        while not queue:
            self._receive_one(deadline)
        message = queue.popleft()
        return message, self._arrivals.pop(id(message), time.monotonic())

    def next_any_stream_message(self, timeout: float | None = None) -> tuple[Message, float] | None:
        """The next stream message of any session with its arrival time, or None after `timeout`."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for queue in self._streams.values():
                if queue:
                    message = queue.popleft()
                    return message, self._arrivals.pop(id(message), time.monotonic())
            try:
                self._receive_one(deadline)
            except TimedOut:
                return None

    # -- requests -----------------------------------------------------------------------------
    def open(self, **options) -> "Session":
        reply = self.request(Message("open", options))
        self.sessions.add(reply["session"])
        return Session(self, reply)

    def ping(self, session: str | None = None) -> tuple[float, Message]:
        """Round-trip time and the pong (server_time, session_time) for clock mapping."""
        t0 = time.monotonic()
        fields = {"client_time": t0, **({"session": session} if session else {})}
        reply = self.request(Message("ping", fields))
        return time.monotonic() - t0, reply

    def close(self) -> None:
        self._socket.disable_monitor()
        self._monitor.close(0)
        self._socket.close(0)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Session:
    def __init__(self, client: Client, opened: Message) -> None:
        self.client = client
        self.id: str = opened["session"]
        self.fps: float = opened["fps"]
        self.sample_rate: int = opened["sample_rate"]
        self._user_samples = 0

    def say_async(self, text: str, **options) -> str:
        """Ask for `text` to be spoken; return the utterance id without waiting for the stream."""
        reply = self.client.request(Message("say", {"session": self.id, "text": text, **options}))
        return reply["utterance"]

    def say(self, text: str, timeout: float | None = None, **options) -> UtteranceResult:
        return self.collect(self.say_async(text, **options), timeout)

    def portrait(self, image: bytes, size: int | None = None, fps: float | None = None, format: str | None = None,
                 quality: int | None = None, timeout: float | None = None) -> Message:
        """Show this session as a photo (SPEC 8.8): `image` is the file's bytes. From the reply on,
        every utterance's result carries `video` frames. A photo that cannot be animated raises
        ServerError with its code (no_face, several_faces, face_too_small, ...)."""
        fields: dict = {"session": self.id}
        for name, value in (("size", size), ("fps", fps), ("format", format), ("quality", quality)):
            if value is not None:
                fields[name] = float(value) if name == "fps" else value
        return self.client.request(Message("portrait", fields, [bytes(image)]), timeout)

    def speak_audio(self, pcm: np.ndarray, sample_rate: int, chunk_s: float = 0.1,
                    utterance: str | None = None, timeout: float | None = None,
                    text: str | None = None) -> UtteranceResult:
        """Send engine-owned speech in chunks and collect the animation for it. `text`: the line's
        words when the game has them (a subtitle): the mouth then follows them, aligned."""
        uid = utterance or uuid.uuid4().hex[:8]
        pcm = np.asarray(pcm, np.int16)
        step = max(1, int(chunk_s * sample_rate))
        offsets = list(range(0, len(pcm), step)) or [0]
        for i, offset in enumerate(offsets):
            piece = pcm[offset:offset + step]
            fields = {"session": self.id, "utterance": uid, "sample_rate": sample_rate, "offset": offset,
                      "final": i == len(offsets) - 1}
            if text and i == 0:
                fields["text"] = text
            self.client.request(Message("speak_audio", fields, [piece.astype("<i2").tobytes()]))
        return self.collect(uid, timeout)

    def user_audio(self, pcm: np.ndarray, sample_rate: int) -> None:
        """Send a piece of the user's voice (live sessions). No reply; errors arrive as ServerError."""
        if self.id in self.client.lost:
            raise SessionLost(self.id, self.client.lost[self.id])
        pcm = np.asarray(pcm, np.int16)
        offset = self._user_samples
        self._user_samples += len(pcm)
        seq = self.client.send(Message("user_audio", {"session": self.id, "sample_rate": sample_rate, "offset": offset},
                                       [pcm.astype("<i2").tobytes()]))
        self.client._unanswered.append(seq)

    def user_text(self, text: str) -> Message:
        """A typed turn of a chat session (open with live="chat"); the reply comes as `reply`
        events and lines on the session's streams."""
        return self.client.request(Message("user_text", {"session": self.id, "text": text}))

    def user_face(self, time_s: float, weights: np.ndarray | None = None, head: np.ndarray | None = None) -> None:
        """Send the user's face at user time `time_s` (same clock as user_audio's offset / rate);
        weights None means the face is not tracked in this frame."""
        values = np.zeros(59, np.float32)
        values[55] = 1.0
        if weights is not None:
            values[:52] = weights
            values[52:] = head if head is not None else [0, 0, 0, 1, 0, 0, 0]
        seq = self.client.send(Message("user_face", {"session": self.id, "time": float(time_s),
                                                     **({} if weights is not None else {"tracked": False})},
                                       [values.astype("<f4").tobytes()]))
        self.client._unanswered.append(seq)

    def received(self, seconds: float) -> list[tuple[Message, float]]:
        """Everything that arrives for this session within `seconds` (idle and live streams
        included), in arrival order, taken off the queues."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.client._receive_one(deadline)
            except TimedOut:
                break
        out = list(self.client.idle[self.id])
        self.client.idle[self.id].clear()
        queue = self.client._streams[self.id]
        while queue:
            m = queue.popleft()
            out.append((m, self.client._arrivals.pop(id(m), time.monotonic())))
        return sorted(out, key=lambda item: item[1])

    def interrupt(self, utterance: str | None = None) -> Message:
        fields = {"session": self.id, **({"utterance": utterance} if utterance else {})}
        return self.client.request(Message("interrupt", fields))

    def set(self, **params) -> Message:
        return self.client.request(Message("set", {"session": self.id, **params}))

    def close(self) -> Message:
        reply = self.client.request(Message("close", {"session": self.id}))
        self.client.sessions.discard(self.id)
        return reply

    def stream(self, utterance: str, timeout: float | None = None) -> Iterator[tuple[Message, float]]:
        """Stream messages of one utterance, header to end, with local arrival times. Messages of
        other utterances that arrive meanwhile stay queued for their own readers."""
        queue = self.client._streams[self.id]
        while True:
            held: list = []
            message, arrived = self.client.next_stream_message(self.id, timeout)
            while message["utterance"] != utterance:
                held.append((message, arrived))
                message, arrived = self.client.next_stream_message(self.id, timeout)
            for m, a in reversed(held):
                queue.appendleft(m)
                self.client._arrivals[id(m)] = a
            yield message, arrived
            if message.type == "end":
                return

    def collect(self, utterance: str, timeout: float | None = None) -> UtteranceResult:
        audio: list[tuple[int, np.ndarray]] = []
        frames: list[tuple[int, np.ndarray]] = []
        result_events: list[dict] = []
        audio_times: list[tuple[float, int, int]] = []
        frame_times: list[float] = []
        first_audio: float | None = None
        first_frame: float | None = None
        frame_arrivals: list[float] = []
        header: Message | None = None
        end: Message | None = None
        video: list[VideoFrame] = []
        first_video: float | None = None
        for message, arrived in self.stream(utterance, timeout):
            if message.type == "stream":
                header = message
            elif message.type == "audio":
                pcm = np.frombuffer(message.bulk[0], "<i2")
                audio.append((message["offset"], pcm))
                audio_times.append((message["time"], message["offset"], len(pcm)))
                first_audio = first_audio or arrived
            elif message.type == "frames":
                block = np.frombuffer(message.bulk[0], "<f4").reshape(message["count"], -1)
                frames.append((message["first"], block))
                fps = header["fps"] if header is not None else self.fps
                frame_times += [message["time"] + i / fps for i in range(message["count"])]
                first_frame = first_frame or arrived
                frame_arrivals.append(arrived)
            elif message.type == "event":
                result_events.append({k: v for k, v in message.fields.items() if k != "session"})
            elif message.type == "video":
                video.append(VideoFrame(message["index"], message["time"], message["format"], message["width"],
                                        message["height"], message.bulk[0]))
                first_video = first_video or arrived
            elif message.type == "end":
                end = message
        if end is None:
            raise TimedOut(f"the stream of {utterance} ended without an end message")
        if header is None:
            header = Message("stream", {"time": end["time"], "fps": self.fps, "sample_rate": self.sample_rate})
        # `end` says how many samples and frames belong to the utterance; anything sent beyond
        # (ahead of an interrupt) is not part of it.
        end_samples, end_frames = end["samples"], end["frames"]
        pcm = np.concatenate([p for o, p in sorted(audio, key=lambda x: x[0])]) if audio else np.zeros(0, np.int16)
        pcm = pcm[:end_samples]
        packed = np.concatenate([b for f, b in sorted(frames, key=lambda x: x[0])]) if frames else np.zeros((0, 63), np.float32)
        packed = packed[:end_frames]
        track = Track.from_packed(header["fps"], packed)
        video = [v for v in sorted(video, key=lambda v: v.index) if v.time < end["time"] - 1e-9]   # cut at the end (SPEC 8.8)
        return UtteranceResult(utterance, header, end, pcm, header["sample_rate"], track, result_events,
                               audio_times, frame_times[:len(packed)], first_audio, first_frame, frame_arrivals,
                               video, first_video)
