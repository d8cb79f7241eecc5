"""The cluster front door's bookkeeping, without sockets or Ray: which worker serves which session,
and what the front door must say for a worker that died.

Engines connect to one address, the front door. Each of their sessions lives on one worker (a Ray
actor running a whole avbridge server, server/cluster/worker.py). For each pair of engine client
and worker, the front door keeps a DEALER whose routing id is the client's own, so the worker sees
the client exactly as if it had connected itself: the same id, its hello, its heartbeats, its
disconnects. Messages pass through as ZeroMQ frames; only the small header frame of a worker's
message is rewritten, because `seq` counts per connection (SPEC 5) and one client's messages now
come from several workers. Bulk frames (audio, frames, video) are passed on untouched.

    client --ROUTER--> front door --DEALER (client's id)--> worker's ROUTER
    client <--ROUTER-- front door <--DEALER------------------ worker (frames stay on ZeroMQ)

Routing, by request:
- `open` goes to the worker placement picks (fewest sessions weighted by reported CPU load);
  the `opened` reply says which session it made there.
- a request naming a session goes to that session's worker. A session whose worker died is
  answered here with `session_closed` and the cause.
- `hello`, `ping` and anything unreadable go to the client's home worker (the first it was
  placed on), which answers exactly as a single server would. The `welcome` is given the
  client's sessions on every worker. A worker the client is sent to later is sent its hello first,
  and its welcome is swallowed.

When a worker dies, every session on it ends: each line that was open (queued, or streaming)
gets an `end` with status `error` counting what was passed on, then the session gets an `error`
`session_closed` naming the cause. Nothing changes for sessions on other workers.
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass, field
from typing import Any

import msgpack

from avbridge.protocol import Message, ProtocolError, decode, encode

log = logging.getLogger("avbridge.cluster")

_LOST_MEMORY = 10_000
_PENDING_MEMORY = 10_000
_UNANSWERED = ("user_audio", "user_face")       # no reply unless refused (SPEC 8.6)
_REPLIES = ("welcome", "opened", "closed", "ok", "error", "pong")


@dataclass
class Worker:
    name: str
    endpoint: str = ""
    incarnation: str = ""          # the worker process now serving (pid and start time)
    up: bool = False
    cpu: float = 0.0               # reported CPU use, as a fraction of the worker's cores
    sessions: set[str] = field(default_factory=set)
    opening: int = 0               # `open`s sent to it and not yet answered

    def score(self) -> float:
        """Lower is less loaded: the measured CPU use (smoothed over about 5 s) plus 5 % of a core
        for each session opened or opening, so a burst of opens spreads before the next report."""
        return self.cpu + 0.05 * (len(self.sessions) + self.opening)


@dataclass
class Line:
    """An utterance that has not ended, as the front door saw it pass."""
    re: int | None = None
    frames: int = 0
    samples: int = 0
    time: float = 0.0              # where its media passed on so far ends on the session timeline


@dataclass
class Placed:
    client: bytes
    worker: str
    incarnation: str
    lines: dict[str, Line] = field(default_factory=dict)
    fps: float = 60.0
    sample_rate: int = 22050


@dataclass
class FrontClient:
    identity: bytes
    seq: int = 0
    hello: list[bytes] | None = None           # its last hello, sent ahead of it to a new worker
    home: str | None = None
    connected: set[str] = field(default_factory=set)     # workers with a DEALER for this client
    swallow: set[str] = field(default_factory=set)       # workers whose next welcome is ours
    sessions: set[str] = field(default_factory=set)
    opens: dict[int, str] = field(default_factory=dict)  # open seq -> worker
    # Requests forwarded and not yet answered: seq -> (worker, session or None). A worker that dies
    # answers none of them, so the front door does, and nobody waits out a timeout.
    pending: collections.OrderedDict = field(default_factory=collections.OrderedDict)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


@dataclass
class Forward:
    """Send `frames` to `worker` on the DEALER of `client` (made first if there is none); `hello`
    (the client's) goes ahead of them on a new DEALER. `opening`: it is an `open`."""
    worker: str
    client: bytes
    frames: list[Any]
    hello: list[bytes] | None = None
    opening: bool = False


@dataclass
class Reply:
    client: bytes
    frames: list[Any]


class NoWorker(RuntimeError):
    pass


class Router:
    def __init__(self, workers: list[str]) -> None:
        self.workers: dict[str, Worker] = {name: Worker(name) for name in workers}
        self.clients: dict[bytes, FrontClient] = {}
        self.sessions: dict[str, Placed] = {}
        self.lost: collections.OrderedDict[str, str] = collections.OrderedDict()   # session -> cause

    # -- workers --------------------------------------------------------------------------------
    def worker_up(self, name: str, endpoint: str, incarnation: str) -> None:
        w = self.workers[name]
        w.endpoint, w.incarnation, w.up = endpoint, incarnation, True

    def report(self, name: str, cpu: float) -> None:
        w = self.workers[name]
        # Reports come every 0.25 s: a time constant of about 5 s, so a worker loading a model
        # for its first live session does not look busy for longer than that takes.
        w.cpu += 0.05 * (cpu - w.cpu)

    def place(self) -> Worker:
        up = [w for w in self.workers.values() if w.up]
        if not up:
            raise NoWorker("no worker is up: the cluster has none running (they may be restarting)")
        return min(up, key=lambda w: (w.score(), len(w.sessions), w.name))

    def worker_lost(self, name: str, cause: str) -> list[Reply]:
        """The worker `name` died: what its sessions' clients must be told. Its DEALERs are to be
        closed by the caller (every client's `connected` no longer lists it)."""
        w = self.workers[name]
        w.up = False
        w.opening = 0
        out: list[Reply] = []
        for sid in sorted(w.sessions):
            placed = self.sessions.pop(sid)
            client = self.clients.get(placed.client)
            self._remember_lost(sid, cause)
            if client is None:
                continue
            client.sessions.discard(sid)
            for uid, line in placed.lines.items():
                fields: dict[str, Any] = {"session": sid, "utterance": uid, "time": line.time, "status": "error",
                                          "frames": line.frames, "samples": line.samples, "reason": cause}
                if line.re is not None:
                    fields["re"] = line.re
                out.append(Reply(placed.client, self._encode(client, Message("end", fields))))
            out.append(Reply(placed.client, self._encode(client, Message("error", {
                "code": "session_closed", "session": sid,
                "message": f"session {sid} ended: {cause}. Open a new session; it will be placed on a worker that is up"}))))
        w.sessions.clear()
        for client in self.clients.values():
            for seq, (worker, sid) in list(client.pending.items()):
                if worker != name:
                    continue
                del client.pending[seq]
                answer: dict[str, Any] = {"re": seq, "code": "session_closed" if sid else "internal",
                                          "message": (f"session {sid} ended: {cause}" if sid
                                                      else f"the request was not answered: {cause}; send it again")}
                if sid:
                    answer["session"] = sid
                out.append(Reply(client.identity, self._encode(client, Message("error", answer))))
            client.connected.discard(name)
            client.swallow.discard(name)
            client.opens = {seq: wn for seq, wn in client.opens.items() if wn != name}
            if client.home == name:
                client.home = None
        return out

    def _remember_lost(self, sid: str, cause: str) -> None:
        self.lost[sid] = cause
        while len(self.lost) > _LOST_MEMORY:
            self.lost.popitem(last=False)

    # -- clients ---------------------------------------------------------------------------------
    def client_gone(self, identity: bytes) -> list[str]:
        """The client left for good (past the grace period): forget it; return the workers whose
        DEALER for it is to be closed."""
        client = self.clients.pop(identity, None)
        if client is None:
            return []
        for sid in client.sessions:
            placed = self.sessions.pop(sid, None)
            if placed is not None:
                self.workers[placed.worker].sessions.discard(sid)
        return sorted(client.connected)

    def from_client(self, identity: bytes, frames: list[bytes], max_bulk_bytes: int) -> list[Forward | Reply]:
        client = self.clients.get(identity)
        if client is None:
            client = self.clients[identity] = FrontClient(identity)
        try:
            message = decode(frames, max_bulk_bytes)
        except ProtocolError:
            try:
                return [self._to(client, self._home(client), frames)]    # it answers as a single server would
            except NoWorker as exc:   # unreadable, so an error without `re` (SPEC 7)
                return [Reply(identity, self._encode(client, Message("error", {"code": "busy", "message": str(exc)})))]
        try:
            out = self._route(client, message, frames)
        except NoWorker as exc:
            log.warning("request refused client=%s: %s", identity.hex(), exc)
            return [Reply(identity, self._encode(client, Message("error", {"code": "busy", "message": str(exc),
                                                                           "re": message.seq})))]
        for action in out:
            if isinstance(action, Forward) and message.type not in _UNANSWERED:
                sid = message.fields.get("session")
                client.pending[message.seq] = (action.worker, sid if isinstance(sid, str) else None)
                while len(client.pending) > _PENDING_MEMORY:
                    client.pending.popitem(last=False)
        return out

    def _route(self, client: FrontClient, message: Message, frames: list[bytes]) -> list[Forward | Reply]:
        identity = client.identity
        if message.type == "hello":
            client.hello = list(frames)
            # A worker sent the hello here is not also sent it ahead of the next message.
            home = self._home(client)
            client.swallow.discard(home)
            out: list[Forward | Reply] = [self._to(client, home, frames, fresh_hello=True)]
            # After a reconnect, every worker holding one of its sessions hears of the client at
            # once (the hello, whose welcome is ours): one it did not hear from within its grace
            # period would close them.
            for worker in sorted({self.sessions[sid].worker for sid in client.sessions if sid in self.sessions}):
                if worker not in client.connected:
                    client.connected.add(worker)
                    client.swallow.add(worker)
                    out.append(Forward(worker, identity, frames))
            return out
        if message.type == "open":
            w = self.place()
            w.opening += 1
            client.opens[message.seq] = w.name
            forward = self._to(client, w.name, frames)
            forward.opening = True
            return [forward]
        sid = message.fields.get("session")
        if isinstance(sid, str):
            placed = self.sessions.get(sid)
            if placed is not None and placed.client == identity:
                return [self._to(client, placed.worker, frames)]
            if sid in self.lost:
                return [Reply(identity, self._encode(client, Message("error", {
                    "code": "session_closed", "re": message.seq, "session": sid,
                    "message": f"session {sid} is closed: {self.lost[sid]}"})))]
        return [self._to(client, self._home(client), frames)]

    def _home(self, client: FrontClient) -> str:
        if client.home is None or not self.workers[client.home].up:
            client.home = self.place().name
        return client.home

    def _to(self, client: FrontClient, worker: str, frames: list[bytes], fresh_hello: bool = False) -> Forward:
        hello = None
        if worker not in client.connected:
            client.connected.add(worker)
            if client.hello is not None and not fresh_hello:
                hello = client.hello
                client.swallow.add(worker)
        return Forward(worker, client.identity, frames, hello)

    # -- workers' messages -----------------------------------------------------------------------
    def from_worker(self, worker: str, identity: bytes, frames: list[Any]) -> list[Any] | None:
        """A worker's message for `identity`: the frames to send the client (header renumbered),
        or None when it is for the front door alone (the welcome to a hello it sent ahead)."""
        client = self.clients.get(identity)
        if client is None:
            return None
        header = msgpack.unpackb(bytes(frames[0]), raw=False)
        kind = header.get("type")
        if kind in _REPLIES and isinstance(header.get("re"), int):
            client.pending.pop(header["re"], None)
        if kind == "welcome":
            if worker in client.swallow:
                client.swallow.discard(worker)
                return None
            header["sessions"] = sorted(client.sessions)
        elif kind in ("opened", "error") and isinstance(header.get("re"), int) and header["re"] in client.opens:
            w = self.workers[client.opens.pop(header["re"])]
            w.opening = max(0, w.opening - 1)
            if kind == "opened":
                sid = header["session"]
                self.sessions[sid] = Placed(identity, w.name, w.incarnation, fps=float(header.get("fps", 60.0)),
                                            sample_rate=int(header.get("sample_rate", 22050)))
                w.sessions.add(sid)
                client.sessions.add(sid)
        elif kind == "closed":
            self._forget_session(header.get("session"))
        else:
            self._follow_stream(kind, header, frames)
        header["seq"] = client.next_seq()
        return [msgpack.packb(header, use_bin_type=True), *frames[1:]]

    def _follow_stream(self, kind: str | None, header: dict, frames: list[Any]) -> None:
        """Keep count of each open line's media, for the `end` the front door sends if its worker
        dies. `ok` to a `say` names a queued line; `stream` starts one; `end` closes it."""
        placed = self.sessions.get(header.get("session", ""))
        uid = header.get("utterance")
        if placed is None or not isinstance(uid, str):
            return
        if kind == "end":
            placed.lines.pop(uid, None)
            return
        line = placed.lines.get(uid)
        if line is None:
            if kind not in ("ok", "stream"):
                return
            line = placed.lines[uid] = Line(re=header.get("re") if kind == "stream" and header.get("re") else None)
        t = float(header.get("time") or 0.0)
        if kind == "ok":
            line.re = header.get("re")
        elif kind == "stream":
            line.time = max(line.time, t)
            placed.fps = float(header.get("fps") or placed.fps)
            placed.sample_rate = int(header.get("sample_rate") or placed.sample_rate)
        elif kind == "frames":
            line.frames = max(line.frames, int(header["first"]) + int(header["count"]))
            line.time = max(line.time, t + int(header["count"]) / placed.fps)
        elif kind == "audio":
            samples = len(frames[1]) // 2 if len(frames) > 1 else 0
            line.samples = max(line.samples, int(header["offset"]) + samples)
            line.time = max(line.time, t + samples / placed.sample_rate)

    def _forget_session(self, sid: Any) -> None:
        placed = self.sessions.pop(sid, None) if isinstance(sid, str) else None
        if placed is None:
            return
        self.workers[placed.worker].sessions.discard(sid)
        client = self.clients.get(placed.client)
        if client is not None:
            client.sessions.discard(sid)

    def _encode(self, client: FrontClient, message: Message) -> list[bytes]:
        message.seq = client.next_seq()
        return encode(message)
