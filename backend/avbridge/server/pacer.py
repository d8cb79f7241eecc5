"""Which queued stream messages leave now: per session, in order, no earlier than `lead` seconds
before their media time (realtime sessions) or as fast as the client takes them (unpaced).

Sans-IO: the clock and the send and publish callbacks are passed in. `send` answers "ok" (the
client took it), "again" (its pipe is full: keep the stream queued, serve the others) or "gone"
(no connection for it right now: keep the stream queued too, for it may reconnect; whether it
has gone for good is the connection tracker's call, server/clients.py). A message is numbered
with the client's next seq only once it is taken, so a full pipe never leaves a gap in the seqs.

A client that does not read holds its sessions' streams in memory; past `budget_bytes` queued for
one client, the biggest of its streams is ended with status `error` and an `error` (code `busy`)
says why, so the server's memory stays bounded and the client is told, never silently.
"""

from __future__ import annotations

from typing import Callable, Iterable

from avbridge.protocol import Message, encode
from avbridge.server.clients import ClientState
from avbridge.server.session import Session

SendResult = str  # "ok" | "again" | "gone"
Send = Callable[[bytes, list[bytes]], SendResult]
Publish = Callable[[str, list[bytes]], None]

SEND_EARLY_S = 0.001
"""A stream message due within this long is sent now: the poll loop wakes on whole milliseconds,
and a millisecond early is harmless against the lead, while a millisecond late shows as jitter."""
RETRY_FULL_S = 0.005
"""How soon to try a client whose pipe was full again."""
RETRY_UNREACHABLE_S = 0.05


class Pacer:
    def __init__(self, clock: Callable[[], float], lead_s: float, budget_bytes: int) -> None:
        self.clock = clock
        self.lead_s = lead_s
        self.budget_bytes = budget_bytes
        self.unreachable: list[bytes] = []     # clients a send found no connection for, this flush
        self.reached: set[bytes] = set()       # clients a send went through to, this flush
        self.overflows: list[tuple[Session, int]] = []   # sessions ended for a client's backlog

    def flush(self, sessions: Iterable[Session], clients: dict[bytes, ClientState], send: Send,
              publish: Publish) -> float:
        """Send every due stream message; return seconds until the next one is due (at most 0.05)."""
        now_mono = self.clock()
        next_due = 0.05
        self.unreachable, self.reached, self.overflows = [], set(), []
        stuck: set[bytes] = set()
        for session in list(sessions):
            client = clients.get(session.owner)
            if client is None or session.owner in stuck:
                continue
            if client.blocked_until > now_mono:
                next_due = min(next_due, client.blocked_until - now_mono)
                continue
            lead = self.lead_s if session.realtime else float("inf")
            result = "ok"
            while True:
                with session.lock:
                    if not session.outbox:
                        break
                    item = session.outbox[0]
                    wait = item.media_time - lead - session.now()
                    if wait > SEND_EARLY_S:
                        next_due = min(next_due, wait)
                        break
                    item.message.seq = client.seq + 1
                    frames = encode(item.message)
                    result = send(session.owner, frames)
                    if result == "ok":
                        client.seq += 1
                        session.mark_sent(item)
                        session.lock.notify_all()
                if result != "ok":
                    break
                self.reached.add(session.owner)
                publish(session.id, frames)
            if result == "ok":
                continue
            stuck.add(session.owner)
            retry = RETRY_FULL_S if result == "again" else RETRY_UNREACHABLE_S
            client.blocked_until = now_mono + retry
            next_due = min(next_due, retry)
            if result == "gone":
                self.unreachable.append(session.owner)
            self._check_budget(client, sessions)
        return max(next_due, 0.0)

    def _check_budget(self, client: ClientState, sessions: Iterable[Session]) -> None:
        mine = [s for s in sessions if s.owner == client.identity]
        held = sum(s.outbox_bytes for s in mine)
        if held <= self.budget_bytes or not mine:
            return
        biggest = max(mine, key=lambda s: s.outbox_bytes)
        self.overflows.append((biggest, held))


def overflow_messages(session: Session, held: int, budget: int) -> list[Message]:
    """End `session`'s streams because its client let `held` bytes pile up: an `end` with status
    error for each (counting what was sent) and the `error` that says why, queued in order."""
    reason = (f"the client stopped reading: {held} bytes waited for it, over the limit of {budget} "
              "(welcome.max_backlog_bytes)")
    ends = session.interrupt(reason=reason)
    for end in ends:
        end.fields["status"] = "error"
    error = Message("error", {"code": "busy", "session": session.id, "message": f"session {session.id}: {reason}; "
                                                                                  "its streams were ended"})
    return [*ends, error]
