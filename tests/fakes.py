"""A service without sockets or threads: a clock moved by hand, tasks run when the test says, and
clients whose pipe can be made full or unreachable. The service, scheduler, pacer and engines are
the real ones; only time and the transport are the test's."""

from __future__ import annotations

import collections
from typing import Any

import numpy as np
from avbridge.protocol import Message, decode, encode
from avbridge.protocol.schema import SERVER
from avbridge.server.config import ServerConfig
from avbridge.server.scheduler import InlinePool
from avbridge.server.service import BASE_CAPABILITIES, Service


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class Harness:
    """One service, any number of clients (b"a", b"b", ...), each with its received stream."""

    def __init__(self, **config: Any) -> None:
        self.clock = FakeClock()
        self.pool = InlinePool(clock=self.clock)
        cfg = ServerConfig(endpoint="tcp://127.0.0.1:0", mirror_endpoint=None, **{"voice": "espeak", **config})
        self.service = Service(cfg, clock=self.clock, pool=self.pool, capabilities=list(BASE_CAPABILITIES))
        self.received: dict[bytes, list[tuple[float, Message]]] = collections.defaultdict(list)
        self.pipe: dict[bytes, str] = collections.defaultdict(lambda: "ok")   # "ok" | "again" | "gone"
        self.seq: dict[bytes, int] = collections.defaultdict(int)
        self.fd: dict[bytes, int] = {}
        self.held: dict[bytes, list[list[bytes]]] = collections.defaultdict(list)

    # -- the client side ------------------------------------------------------------------------
    def request(self, who: bytes, type_name: str, bulk: list[bytes] | None = None, **fields: Any) -> list[Message]:
        client = who
        self.seq[client] += 1
        frames = encode(Message(type_name, fields, bulk or [], seq=self.seq[client]))
        replies = [decode(r, sender=SERVER) for r in self.service.handle(client, frames, self.fd.get(client))]
        for reply in replies:
            self.received[client].append((self.clock(), reply))
        return replies

    def hello(self, client: bytes) -> Message:
        return self.request(client, "hello", versions=[1], client="fake")[0]

    def open(self, client: bytes, **options: Any) -> str:
        if not self.seq[client]:
            self.hello(client)
        reply = self.request(client, "open", **options)[-1]
        assert reply.type == "opened", reply.fields
        return reply["session"]

    # -- the server side ------------------------------------------------------------------------
    def _send(self, client: bytes, frames: list[bytes]) -> str:
        result = self.pipe[client]
        if result == "ok":
            self.received[client].append((self.clock(), decode(frames, sender=SERVER)))
        return result

    def _reply(self, client: bytes, frames: list[bytes]) -> str:
        # As the transport does: a reply the pipe cannot take yet is held, and goes first later.
        self.held[client].append(frames)
        return "again"

    def _send_after_held(self, client: bytes, frames: list[bytes]) -> str:
        while self.held[client] and self.pipe[client] == "ok":
            self._send(client, self.held[client].pop(0))
        return "again" if self.held[client] else self._send(client, frames)

    def flush(self) -> float:
        for client in list(self.held):
            while self.held[client] and self.pipe[client] == "ok":
                self._send(client, self.held[client].pop(0))
        return self.service.flush(self._send_after_held, lambda session, frames: None, self._reply)

    def run(self, seconds: float, step: float = 0.01, work: bool = True) -> None:
        """Move the clock in steps, running ready tasks (unless `work` is False) and flushing."""
        end = self.clock() + seconds
        while self.clock() < end - 1e-9:
            if work:
                self.pool.run_all()
            self.flush()
            self.clock.advance(min(step, end - self.clock()))
        if work:
            self.pool.run_all()
        self.flush()

    # -- reading what arrived -------------------------------------------------------------------
    def messages(self, client: bytes, session: str | None = None, utterance: str | None = None,
                 type_name: str | None = None) -> list[Message]:
        return [m for _, m in self.received[client]
                if (session is None or m.get("session") == session)
                and (utterance is None or m.get("utterance") == utterance)
                and (type_name is None or m.type == type_name)]

    def frame_indices(self, client: bytes, utterance: str, session: str | None = None) -> list[int]:
        return [m["first"] + i for m in self.messages(client, session, utterance, "frames") for i in range(m["count"])]

    def samples(self, client: bytes, utterance: str, session: str | None = None) -> int:
        audio = self.messages(client, session, utterance, "audio")
        return max((m["offset"] + len(m.bulk[0]) // 2 for m in audio), default=0)


def pcm_tone(seconds: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (6000 * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.int16)
