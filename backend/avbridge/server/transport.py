"""ZeroMQ transport: the only place the server touches sockets.

    ROUTER  (config.endpoint)         requests in; replies and each client's own streams out
    XPUB    (config.mirror_endpoint)  every stream message again, topic frame b"s/<session>" first
    PULL    (inproc)                  wake-ups from generator threads when new media is queued
    PAIR    (inproc)                  the ROUTER's monitor: connections accepted and closed

One thread owns all of them (ZeroMQ sockets are not thread-safe). Sends to clients are
non-blocking with ROUTER_MANDATORY, so a full pipe (slow client) or a vanished peer is reported
to the service instead of blocking the loop or silently dropping frames.

Liveness is decided at the TCP level, not by ZMTP heartbeat timeouts. A client that stops reading
stops its libzmq from reading too once its receive queue is full, so it cannot answer a PING, and
a heartbeat timeout would drop a live client with the messages in flight to it (measured: a spec
client with libzmq's defaults lost its stream after 1.5 s of not reading). Its kernel still
acknowledges, so TCP keeps the connection and the stream waits (TCP_MAXRT would not do: Linux
applies it to zero-window probes as well, and it dropped the same client). A killed or crashed
process's kernel closes its socket, and the monitor reports that at once; a vanished host on a
quiet connection fails TCP keepalive probes within the heartbeat timeout. A vanished host with
data still in flight is given up by TCP's own retransmission timeout, or ends at the byte budget
(server/pacer.py). The server still sends PINGs, so clients can tell a dead server, and answers
theirs.
"""

from __future__ import annotations

import collections
import logging
import signal
import sys
import threading

import zmq
from zmq.utils.monitor import parse_monitor_message

from avbridge.server.config import ServerConfig
from avbridge.server.security import (
    Authenticator,
    CurveKeys,
    check_bind,
    make_curve_server,
    server_keys,
)
from avbridge.server.service import Service

log = logging.getLogger("avbridge.server")

_MAX_MESSAGES_PER_TURN = 256   # requests read before the loop flushes streams again
_MAX_BACKLOG = 1000            # replies held for one client whose pipe is full


class Server:
    def __init__(self, config: ServerConfig | None = None, context: zmq.Context | None = None) -> None:
        self.config = config or ServerConfig()
        self._context = context or zmq.Context.instance()
        self._stop = threading.Event()
        self._ready = threading.Event()
        # Replies a client could not take yet (its pipe was full): retried before anything else is
        # sent to it, so a slow reader gets every answer, late, and nobody else waits.
        self._backlog: dict[bytes, collections.deque] = {}
        self._thread: threading.Thread | None = None
        self.endpoint = ""
        self.mirror_endpoint = ""
        keys = server_keys(self.config.curve_secret, self.config.curve_clients)
        check_bind([self.config.endpoint, self.config.mirror_endpoint or ""], keys, self.config.insecure)
        self._auth = Authenticator(self._context, keys) if keys is not None else None
        self._keys = keys
        self._bind()
        self.service = Service(self.config, wake=self._wake)

    def _bind(self) -> None:
        c = self.config
        self._router, self.endpoint, self._monitor = bind_router(self._context, c, self._keys)
        self._mirror = None
        if c.mirror_endpoint:
            mirror = self._context.socket(zmq.XPUB)
            mirror.setsockopt(zmq.LINGER, 0)
            mirror.setsockopt(zmq.SNDHWM, c.send_hwm)
            _tcp_liveness(mirror, c.heartbeat_ms, c.heartbeat_timeout_ms)
            if self._keys is not None:
                make_curve_server(mirror, self._keys)
            self.mirror_endpoint = _bind(mirror, c.mirror_endpoint)
            self._mirror = mirror
        self._waker = Waker(self._context, "server")

    # -- running ------------------------------------------------------------------------------
    def start(self) -> "Server":
        """Serve on a background thread (for embedding and tests). The default voice is loaded
        first, so the first client does not wait for it inside the I/O loop."""
        self.service.engine(self.config.voice)
        self._thread = threading.Thread(target=self.serve_forever, name="avbridge-io", daemon=True)
        self._thread.start()
        self._ready.wait(5)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def serve_forever(self, handle_signals: bool = False) -> None:
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda signum, frame: self._stop.set())
        poller = zmq.Poller()
        poller.register(self._router, zmq.POLLIN)
        poller.register(self._waker.socket, zmq.POLLIN)
        poller.register(self._monitor, zmq.POLLIN)
        if self._mirror is not None:
            poller.register(self._mirror, zmq.POLLIN)
        # Worker threads run Python too; with the default 5 ms GIL switch interval a send that is
        # due can wait that long. The setting is the process's: it is put back when serving ends.
        previous_interval = sys.getswitchinterval()
        if self.config.switch_interval_s:
            sys.setswitchinterval(self.config.switch_interval_s)
        if self.config.torch_threads and self.config.motion.startswith("flow:"):
            import torch
            torch.set_num_threads(self.config.torch_threads)
        log.info("serving endpoint=%s mirror=%s voice=%s fps=%g", self.endpoint, self.mirror_endpoint or "off",
                 self.config.voice, self.config.fps)
        if "live" in self.service.capabilities:
            self.service.live.prewarm()
        self._ready.set()
        timeout = 0.05
        try:
            while not self._stop.is_set():
                events = dict(poller.poll(max(1, int(timeout * 1000))))
                if self._waker.socket in events:
                    self._waker.drain()
                if self._mirror is not None and self._mirror in events:
                    while drain_one(self._mirror):   # subscriptions: nothing to do but read them
                        pass
                self._read_monitor()
                if self._router in events:
                    self._read_requests()
                self._drain_backlog()
                timeout = self._flush()
                if self._backlog:
                    timeout = min(timeout, 0.005)
        finally:
            self._close()
            sys.setswitchinterval(previous_interval)

    def _flush(self) -> float:
        return self.service.flush(self._send_after_backlog, self._publish, self._reply)

    def _read_monitor(self) -> None:
        """Connections accepted and closed, by file descriptor (the service maps them to clients).
        Read before every request, so that a descriptor's close is known before a new connection
        that reuses it can be heard from (the new one needs a whole TCP and ZMTP handshake first)."""
        while True:
            try:
                event = parse_monitor_message(self._monitor.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                return
            if event["event"] == zmq.EVENT_ACCEPTED:
                self.service.connected(int(event["value"]))
            elif event["event"] == zmq.EVENT_DISCONNECTED:
                self.service.disconnected(int(event["value"]))

    def _read_requests(self) -> None:
        for _ in range(_MAX_MESSAGES_PER_TURN):
            self._read_monitor()
            try:
                parts = self._router.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            identity, frames = parts[0].bytes, [p.bytes for p in parts[1:]]
            fd = _source_fd(parts[0])
            for reply in self.service.handle(identity, frames, fd):
                if self._reply(identity, reply) == "gone":
                    break       # no connection right now: the connection tracker decides
            self._flush()

    def _reply(self, identity: bytes, frames: list[bytes]) -> str:
        """Send a reply now, or keep it for when the client's pipe has room; never drop it
        unless the client has let _MAX_BACKLOG replies pile up."""
        backlog = self._backlog.get(identity)
        if not backlog:
            result = self._send(identity, frames)
            if result != "again":
                return result
            backlog = self._backlog.setdefault(identity, collections.deque())
        if len(backlog) >= _MAX_BACKLOG:
            log.warning("reply dropped: client=%s has %d unread replies", identity.hex(), len(backlog))
            return "again"
        backlog.append(frames)
        return "again"

    def _drain_backlog(self) -> None:
        for identity in list(self._backlog):
            backlog = self._backlog[identity]
            while backlog:
                result = self._send(identity, backlog[0])
                if result == "ok":
                    backlog.popleft()
                    continue
                if result == "gone":
                    # Kept: the client may come back with its routing id within the grace period.
                    self.service.connections.unreachable(identity, self.service.clock())
                break
            if not backlog:
                del self._backlog[identity]

    def _send_after_backlog(self, identity: bytes, frames: list[bytes]) -> str:
        """Stream messages wait while the client still has replies to take."""
        if self._backlog.get(identity):
            return "again"
        return self._send(identity, frames)

    def _send(self, identity: bytes, frames: list[bytes]) -> str:
        return send_now(self._router, identity, frames)

    def _publish(self, session_id: str, frames: list[bytes]) -> None:
        if self._mirror is None:
            return
        try:
            self._mirror.send_multipart([b"s/" + session_id.encode(), *frames], zmq.NOBLOCK, copy=False)
        except zmq.Again:
            pass  # an observer that cannot keep up loses messages; the session's own client does not

    def _wake(self) -> None:
        self._waker.wake()

    def _close(self) -> None:
        log.info("shutting down sessions=%d", len(self.service.sessions))
        for identity, session_id, frames in self.service.farewells():
            self._send(identity, frames)
            self._publish(session_id, frames)
        self.service.shutdown()
        self._router.disable_monitor()
        self._monitor.close(0)
        self._waker.close()
        if self._mirror is not None:
            self._mirror.close(0)
        self._router.close(200)
        if self._auth is not None:
            self._auth.stop()
        log.info("stopped")


class Waker:
    """Wake-ups for a loop that polls sockets: any thread calls wake(), the loop polls `socket`
    and calls drain(). An inproc PUSH/PULL pair; one wake-up pending is enough."""

    def __init__(self, context: zmq.Context, name: str) -> None:
        endpoint = f"inproc://avbridge-wake-{name}-{id(self)}"
        self.socket = context.socket(zmq.PULL)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind(endpoint)
        self._lock = threading.Lock()          # zmq sockets are not thread-safe
        self._push = context.socket(zmq.PUSH)
        self._push.setsockopt(zmq.LINGER, 0)
        self._push.setsockopt(zmq.SNDHWM, 1)
        self._push.connect(endpoint)

    def wake(self) -> None:
        with self._lock:
            try:
                self._push.send(b"", zmq.NOBLOCK)
            except zmq.Again:
                pass  # a wake-up is already pending
            except zmq.ZMQError:
                pass  # closing

    def drain(self) -> None:
        while drain_one(self.socket):
            pass

    def close(self) -> None:
        with self._lock:
            self._push.close(0)
        self.socket.close(0)


def bind_router(context: zmq.Context, c: ServerConfig, keys: CurveKeys | None) -> tuple[zmq.Socket, str, zmq.Socket]:
    """The engines' ROUTER, as a server and a cluster front door both bind it: non-blocking sends
    that report a full pipe or a vanished peer, TCP liveness, CURVE when given keys, and a
    monitor of connections opened and closed. Returns (socket, bound endpoint, monitor)."""
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 200)
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)
    # A client that reconnects with its routing id while its old connection is not yet known
    # to be closed (a dropped link, a cluster front door's new DEALER) takes the id over;
    # without this libzmq ignores the new connection silently.
    router.setsockopt(zmq.ROUTER_HANDOVER, 1)
    router.setsockopt(zmq.SNDHWM, c.send_hwm)
    router.setsockopt(zmq.RCVHWM, c.send_hwm)
    router.setsockopt(zmq.MAXMSGSIZE, c.transport_max_bytes)
    if c.send_buffer_bytes:
        router.setsockopt(zmq.SNDBUF, c.send_buffer_bytes)
    _tcp_liveness(router, c.heartbeat_ms, c.heartbeat_timeout_ms)
    if keys is not None:
        make_curve_server(router, keys)
    endpoint = _bind(router, c.endpoint)
    return router, endpoint, router.get_monitor_socket(zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED)


def send_now(router: zmq.Socket, identity: bytes, frames: list) -> str:
    """Send without blocking: "ok", "again" (the peer's pipe is full) or "gone" (no connection)."""
    try:
        router.send_multipart([identity, *frames], zmq.NOBLOCK, copy=False)
        return "ok"
    except zmq.Again:
        return "again"
    except zmq.ZMQError as exc:
        if exc.errno == zmq.EHOSTUNREACH:
            return "gone"
        raise


def _tcp_liveness(socket: zmq.Socket, heartbeat_ms: int, timeout_ms: int) -> None:
    """PINGs out every `heartbeat_ms`, but no ZMTP timeout (see the module docstring): TCP decides
    whether a peer is there, by keepalive probes on a quiet connection."""
    socket.setsockopt(zmq.HEARTBEAT_IVL, heartbeat_ms)
    socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, 24 * 3600 * 1000)
    socket.setsockopt(zmq.TCP_KEEPALIVE, 1)
    socket.setsockopt(zmq.TCP_KEEPALIVE_IDLE, max(1, heartbeat_ms // 1000))
    socket.setsockopt(zmq.TCP_KEEPALIVE_INTVL, max(1, heartbeat_ms // 1000))
    socket.setsockopt(zmq.TCP_KEEPALIVE_CNT, max(1, timeout_ms // max(heartbeat_ms, 1) - 1))


def _source_fd(frame: zmq.Frame) -> int | None:
    """The descriptor a received message came in on (ZMQ_SRCFD), to match monitor events."""
    try:
        return int(frame.get(zmq.SRCFD))
    except (zmq.ZMQError, AttributeError, TypeError):
        return None


def _bind(socket: zmq.Socket, endpoint: str) -> str:
    """Bind, and return the endpoint actually bound (a port of 0 or '*' picks a free one)."""
    if endpoint.endswith(":0"):
        endpoint = endpoint[:-2] + ":*"
    socket.bind(endpoint)
    return bytes(socket.getsockopt(zmq.LAST_ENDPOINT)).decode()


def drain_one(socket: zmq.Socket) -> bool:
    try:
        socket.recv(zmq.NOBLOCK)
        return True
    except zmq.Again:
        return False
