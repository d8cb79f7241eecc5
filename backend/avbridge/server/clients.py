"""Who is connected: each client's state, and which clients have gone.

A client is gone when its connection closed (the process exited or was killed: the kernel closes
its socket, and the transport reports the disconnect within milliseconds) or was dropped by TCP
(a vanished host: no acknowledgement within the retransmission timeout), and it has not come back
with the same routing id within `grace_s`. A client that merely stops reading is not gone: its
kernel still acknowledges, so its connection stays up and its stream waits, within the byte budget
(server/pacer.py).

Connections are known by file descriptor (the transport's monitor events carry it, and every
received message says which descriptor it came from); a descriptor is mapped to the routing id
that last sent on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ClientState:
    identity: bytes
    seq: int = 0
    version: int | None = None
    name: str = ""
    sessions: set = field(default_factory=set)
    blocked_until: float = 0.0              # monotonic time before which its pipe was full

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


class ConnectionTracker:
    """Sans-IO: fed connect, disconnect and message events with the time; says who has gone."""

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self._identity_of_fd: dict[int, bytes] = {}
        self._disconnected: dict[bytes, float] = {}

    def message(self, identity: bytes, fd: int | None) -> None:
        """A message arrived from `identity` on descriptor `fd`: it is connected."""
        self._disconnected.pop(identity, None)
        if fd is not None and fd >= 0:
            self._identity_of_fd[fd] = identity

    def reachable(self, identity: bytes) -> None:
        """A send to `identity` went through: it has a connection again."""
        self._disconnected.pop(identity, None)

    def connected(self, fd: int) -> None:
        # A new connection on a descriptor means the old one on it is closed, whatever we heard.
        self._identity_of_fd.pop(fd, None)

    def disconnected(self, fd: int, now: float) -> bytes | None:
        """The connection on `fd` closed; return the identity that used it, if known."""
        identity = self._identity_of_fd.pop(fd, None)
        if identity is not None:
            self._disconnected.setdefault(identity, now)
        return identity

    def unreachable(self, identity: bytes, now: float) -> None:
        """A send found no connection for `identity` (it closed before we heard)."""
        self._disconnected.setdefault(identity, now)

    def gone(self, now: float) -> list[bytes]:
        """Identities disconnected for longer than the grace period; forgotten once returned."""
        out = [identity for identity, since in self._disconnected.items() if now - since >= self.grace_s]
        for identity in out:
            del self._disconnected[identity]
        return out

    def forget(self, identity: bytes) -> None:
        self._disconnected.pop(identity, None)
        for fd in [fd for fd, who in self._identity_of_fd.items() if who == identity]:
            del self._identity_of_fd[fd]
