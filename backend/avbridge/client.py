"""Python client: talk to an avbridge server over ZeroMQ and collect what it streams.

    with Client("tcp://127.0.0.1:5570") as client:
        session = client.open()
        result = session.say("Hello there.")        # waits for the whole utterance
        result.pcm, result.track, result.events       # audio, Track, events

`Session.stream(utterance)` yields the stream messages as they arrive instead. The client is
synchronous and single-threaded: one socket, used only by the thread that calls it.
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

from avbridge.protocol import Message, decode, encode
from avbridge.protocol.schema import VERSION
from avbridge.core.track import Track

_REPLY_TYPES = {"welcome", "opened", "closed", "ok", "error", "pong"}


class ServerError(RuntimeError):
    """The server answered a request with an error message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class TimedOut(TimeoutError):
    pass


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

    @property
    def start(self) -> float:
        return self.header["time"]

    @property
    def duration(self) -> float:
        return len(self.pcm) / self.sample_rate if self.sample_rate else 0.0


class Client:
    def __init__(self, endpoint: str, timeout: float = 10.0, name: str = "avbridge-python",
                 context: zmq.Context | None = None, heartbeat_ms: int = 1000) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.ROUTING_ID, b"py-" + uuid.uuid4().bytes[:8])
        self._socket.setsockopt(zmq.HEARTBEAT_IVL, heartbeat_ms)
        self._socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, heartbeat_ms * 5)
        self._socket.setsockopt(zmq.RCVHWM, 0)   # never drop the server's stream on our side
        self._socket.connect(endpoint)
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
        self.welcome = self.request(Message("hello", {"versions": [VERSION], "client": name}))

    # -- plumbing -----------------------------------------------------------------------------
    def send(self, message: Message) -> int:
        message.seq = next(self._seq)
        self._socket.send_multipart(encode(message), copy=False)
        return message.seq

    def request(self, message: Message, timeout: float | None = None) -> Message:
        """Send and wait for the reply; an `error` reply raises ServerError."""
        seq = self.send(message)
        reply = self._wait_reply(seq, timeout)
        if reply.type == "error":
            raise ServerError(reply["code"], reply["message"])
        return reply

    def _wait_reply(self, seq: int, timeout: float | None) -> Message:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while seq not in self._replies:
            self._receive_one(deadline)
        return self._replies.pop(seq)

    def _receive_one(self, deadline: float) -> Message:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not self._socket.poll(int(remaining * 1000) + 1):
            raise TimedOut(f"no answer from {self.endpoint} in time")
        frames = self._socket.recv_multipart()
        arrived = time.monotonic()
        message = decode(frames, max_bulk_bytes=1 << 30)
        if message.type == "error" and message.get("re") in self._unanswered:
            self._unanswered.remove(message["re"])
            raise ServerError(message["code"], message["message"])
        if message.type in _REPLY_TYPES and "re" in message.fields:
            self._replies[message["re"]] = message
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
        return Session(self, reply)

    def ping(self, session: str | None = None) -> tuple[float, Message]:
        """Round-trip time and the pong (server_time, session_time) for clock mapping."""
        t0 = time.monotonic()
        fields = {"client_time": t0, **({"session": session} if session else {})}
        reply = self.request(Message("ping", fields))
        return time.monotonic() - t0, reply

    def close(self) -> None:
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

    def speak_audio(self, pcm: np.ndarray, sample_rate: int, chunk_s: float = 0.1,
                    utterance: str | None = None, timeout: float | None = None) -> UtteranceResult:
        """Send engine-owned speech in chunks and collect the animation for it."""
        uid = utterance or uuid.uuid4().hex[:8]
        pcm = np.asarray(pcm, np.int16)
        step = max(1, int(chunk_s * sample_rate))
        offsets = list(range(0, len(pcm), step)) or [0]
        for i, offset in enumerate(offsets):
            piece = pcm[offset:offset + step]
            self.client.request(Message("speak_audio", {
                "session": self.id, "utterance": uid, "sample_rate": sample_rate, "offset": offset,
                "final": i == len(offsets) - 1}, [piece.astype("<i2").tobytes()]))
        return self.collect(uid, timeout)

    def user_audio(self, pcm: np.ndarray, sample_rate: int) -> None:
        """Send a piece of the user's voice (live sessions). No reply; errors arrive as ServerError."""
        pcm = np.asarray(pcm, np.int16)
        offset = self._user_samples
        self._user_samples += len(pcm)
        seq = self.client.send(Message("user_audio", {"session": self.id, "sample_rate": sample_rate, "offset": offset},
                                       [pcm.astype("<i2").tobytes()]))
        self.client._unanswered.append(seq)

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
        return self.client.request(Message("close", {"session": self.id}))

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
        header = end = None
        audio: list[tuple[int, np.ndarray]] = []
        frames: list[tuple[int, np.ndarray]] = []
        result_events: list[dict] = []
        audio_times: list[tuple[float, int, int]] = []
        frame_times: list[float] = []
        first_audio = first_frame = None
        frame_arrivals: list[float] = []
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
                frame_times += [message["time"] + i / header["fps"] for i in range(message["count"])]
                first_frame = first_frame or arrived
                frame_arrivals.append(arrived)
            elif message.type == "event":
                result_events.append({k: v for k, v in message.fields.items() if k != "session"})
            elif message.type == "end":
                end = message
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
        return UtteranceResult(utterance, header, end, pcm, header["sample_rate"], track, result_events,
                               audio_times, frame_times[:len(packed)], first_audio, first_frame, frame_arrivals)
