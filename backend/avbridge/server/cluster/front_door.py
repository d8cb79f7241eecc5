"""`avbridge serve --cluster`: one ZeroMQ address for engines, sessions on Ray actors.

The front door owns the engines' ROUTER (the address they connect to, CURVE and the loopback rule
as for a single server) and one DEALER per (engine client, worker) pair; routing.py decides where
each message goes. Workers are Ray actors (worker.py), each a whole server in its own process,
restarted by Ray when they die. A monitor thread asks each worker for its load every 0.25 s over
Ray: an answer from a new incarnation, or no answer, means the process it had died, and its
sessions end with the cause. Ray's object store carries nothing of a stream.

Sockets belong to the I/O thread alone; the monitor thread hands it events through a queue and a
wake-up socket.
"""

from __future__ import annotations

import logging
import queue
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import zmq
from zmq.utils.monitor import parse_monitor_message

from avbridge.core.keys import load_secret, make_keys
from avbridge.server.clients import ConnectionTracker
from avbridge.server.cluster.routing import Forward, Reply, Router
from avbridge.server.config import ServerConfig
from avbridge.server.security import Authenticator, check_bind, server_keys
from avbridge.server.transport import Waker, _source_fd, bind_router, send_now

log = logging.getLogger("avbridge.cluster")

_PROBE_EVERY_S = 0.25
_PROBE_TIMEOUT_S = 2.0
_HELD_PER_CLIENT = 1000        # messages held for a client whose pipe is full, before its workers wait


def start_ray(address: str, cpus: int | None) -> dict[str, Any]:
    """Join the Ray cluster at `address`, or start one on this machine for `local` (loopback
    only, no dashboard). Returns the cluster's resources."""
    import ray
    if address == "local":
        ray.init(num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
                 configure_logging=False)
    else:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    return ray.cluster_resources()


class ClusterServer:
    def __init__(self, config: ServerConfig, address: str = "local", workers: int | None = None,
                 worker_cpus: float = 1.0, cpus: int | None = None) -> None:
        import ray

        from avbridge.server.cluster.worker import SessionWorker
        self.config = config
        keys = server_keys(config.curve_secret, config.curve_clients)
        check_bind([config.endpoint], keys, config.insecure)
        resources = start_ray(address, cpus)
        count = workers or max(1, int(resources.get("CPU", 1) // max(worker_cpus, 1e-3)))
        # The workers admit only this front door: a key pair made for this run.
        self._keys_dir = Path(tempfile.mkdtemp(prefix="avbridge-front-door-"))
        public_file, secret_file = make_keys(self._keys_dir, "front-door")
        self._public, self._secret = load_secret(secret_file)
        certificate = public_file.read_text()
        # What the workers share with the front door's own settings; not its keys, and not its
        # thread count, which each worker takes from the machine it runs on.
        fields = {k: v for k, v in asdict(config).items() if not k.startswith("curve") and k not in ("insecure", "workers")}
        remote = ray.remote(SessionWorker).options(max_restarts=-1, max_task_retries=0, num_cpus=worker_cpus,
                                                   scheduling_strategy="SPREAD")
        self.names = [f"worker-{i + 1}" for i in range(count)]
        # A local cluster stays on loopback; on a real one each worker binds its node's address.
        host = "127.0.0.1" if address == "local" else None
        self.actors: dict[str, Any] = {name: remote.remote(fields, host, certificate) for name in self.names}
        self.router = Router(self.names)
        self._worker_keys: dict[str, bytes] = {}
        self._context: zmq.Context = zmq.Context.instance()
        self._auth = Authenticator(self._context, keys) if keys is not None else None
        self._clients, self.endpoint, self._monitor = bind_router(self._context, config, keys)
        self._waker = Waker(self._context, "front-door")
        self._events: queue.Queue = queue.Queue()
        self._dealers: dict[tuple[bytes, str], zmq.Socket] = {}
        self._held: dict[bytes, list[list[Any]]] = {}          # replies a full pipe could not take yet
        self.connections = ConnectionTracker(config.heartbeat_timeout_ms / 1000)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._known: dict[str, str] = {}      # worker -> incarnation serving, as the monitor last saw it
        self._monitor_thread = threading.Thread(target=self._watch_workers, name="avbridge-cluster-monitor", daemon=True)

    # -- running -----------------------------------------------------------------------------------
    def wait_for_workers(self, timeout: float = 120.0) -> None:
        """Block until every worker has started (its models loaded) and said where it listens."""
        import ray
        for name, hello in zip(self.names, ray.get([self.actors[n].hello.remote() for n in self.names], timeout=timeout)):
            self._events.put(("up", name, hello))
            self._known[name] = hello["incarnation"]
        self._monitor_thread.start()

    def start(self) -> ClusterServer:
        self.wait_for_workers()
        self._thread = threading.Thread(target=self.serve_forever, name="avbridge-front-door", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout)

    def serve_forever(self, handle_signals: bool = False) -> None:
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda signum, frame: self._stop.set())
        if not self._monitor_thread.is_alive():
            self.wait_for_workers()
        log.info("cluster front door endpoint=%s workers=%d", self.endpoint, len(self.names))
        self._ready.set()
        try:
            while not self._stop.is_set():
                self._turn()
        finally:
            self._close()

    def _turn(self) -> None:
        poller = zmq.Poller()
        poller.register(self._clients, zmq.POLLIN)
        poller.register(self._waker.socket, zmq.POLLIN)
        poller.register(self._monitor, zmq.POLLIN)
        for (identity, _), dealer in self._dealers.items():
            if identity not in self._held:          # a client that cannot take more: its workers wait
                poller.register(dealer, zmq.POLLIN)
        events = dict(poller.poll(5 if self._held else 50))
        self._waker.drain()
        self._take_events()
        self._read_monitor()
        if self._clients in events:
            self._read_clients()
        for (identity, worker), dealer in list(self._dealers.items()):
            if dealer in events:
                self._read_worker(identity, worker, dealer)
        self._send_held()
        for identity in self.connections.gone(time.monotonic()):
            for worker in self.router.client_gone(identity):
                self._close_dealer(identity, worker)
            self._held.pop(identity, None)

    # -- engines' side -----------------------------------------------------------------------------
    def _read_monitor(self) -> None:
        while True:
            try:
                event = parse_monitor_message(self._monitor.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                return
            if event["event"] == zmq.EVENT_ACCEPTED:
                self.connections.connected(int(event["value"]))
            elif event["event"] == zmq.EVENT_DISCONNECTED:
                identity = self.connections.disconnected(int(event["value"]), time.monotonic())
                if identity is not None:
                    # The workers see the client leave too, and keep its sessions for their grace
                    # period; a DEALER made again when it comes back is its reconnection.
                    for worker in [w for (i, w) in self._dealers if i == identity]:
                        self._close_dealer(identity, worker)
                    client = self.router.clients.get(identity)
                    if client is not None:
                        client.connected.clear()

    def _read_clients(self) -> None:
        for _ in range(256):
            try:
                parts = self._clients.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            identity, frames = parts[0].bytes, [p.bytes for p in parts[1:]]
            self.connections.message(identity, _source_fd(parts[0]))
            for action in self.router.from_client(identity, frames, self.config.max_bulk_bytes):
                if isinstance(action, Forward) and action.opening:
                    log.info("open placed client=%s worker=%s load=%s", identity.hex(), action.worker,
                             ",".join(f"{w.name}:{w.score():.2f}" for w in self.router.workers.values()))
                if isinstance(action, Reply):
                    self._to_client(action.client, action.frames)
                else:
                    self._forward(action)

    def _to_client(self, identity: bytes, frames: list[Any]) -> None:
        held = self._held.get(identity)
        if held:
            held.append(frames)
            return
        result = self._send(identity, frames)
        if result == "again":
            self._held.setdefault(identity, []).append(frames)

    def _send(self, identity: bytes, frames: list[Any]) -> str:
        result = send_now(self._clients, identity, frames)
        if result == "gone":
            self.connections.unreachable(identity, time.monotonic())
        return result

    def _send_held(self) -> None:
        for identity in list(self._held):
            held = self._held[identity]
            while held:
                result = self._send(identity, held[0])
                if result == "again":
                    break
                held.pop(0)
            if len(held) > _HELD_PER_CLIENT:
                # Cannot happen while the workers wait for this client (their DEALERs are not read);
                # a bound all the same, said out loud.
                log.warning("client pipe full client=%s: %d held messages dropped", identity.hex(), len(held))
                held.clear()
            if not held:
                del self._held[identity]

    # -- workers' side -----------------------------------------------------------------------------
    def _forward(self, action: Forward) -> None:
        key = (action.client, action.worker)
        dealer = self._dealers.get(key)
        if dealer is None:
            dealer = self._dealers[key] = self._dealer(action.client, action.worker)
        if action.hello is not None:
            dealer.send_multipart(action.hello, copy=False)
        try:
            dealer.send_multipart(action.frames, zmq.NOBLOCK, copy=False)
        except zmq.Again:
            log.warning("worker pipe full worker=%s client=%s: request dropped", action.worker, action.client.hex())

    def _dealer(self, identity: bytes, worker: str) -> zmq.Socket:
        w = self.router.workers[worker]
        dealer = self._context.socket(zmq.DEALER)
        dealer.setsockopt(zmq.ROUTING_ID, identity)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.setsockopt(zmq.RCVHWM, 1000)
        dealer.setsockopt(zmq.SNDHWM, 10_000)
        dealer.setsockopt(zmq.CURVE_SERVERKEY, self._worker_keys[worker])
        dealer.setsockopt(zmq.CURVE_PUBLICKEY, self._public)
        dealer.setsockopt(zmq.CURVE_SECRETKEY, self._secret)
        dealer.connect(w.endpoint)
        return dealer

    def _close_dealer(self, identity: bytes, worker: str) -> None:
        dealer = self._dealers.pop((identity, worker), None)
        if dealer is not None:
            dealer.close(0)

    def _read_worker(self, identity: bytes, worker: str, dealer: zmq.Socket) -> None:
        for _ in range(256):
            if identity in self._held:
                return
            try:
                frames = dealer.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            out = self.router.from_worker(worker, identity, frames)
            if out is not None:
                self._to_client(identity, out)

    # -- worker health -----------------------------------------------------------------------------
    def _watch_workers(self) -> None:
        """Monitor thread: each worker's load, and whether the process answering is the one we
        knew. A worker that does not answer, or answers as a new process, lost its sessions."""
        import ray
        known = self._known
        while not self._stop.is_set():
            started = time.monotonic()
            calls = {name: self.actors[name].load.remote() for name in self.names}
            for name, ref in calls.items():
                try:
                    load = ray.get(ref, timeout=_PROBE_TIMEOUT_S)
                except Exception as exc:     # the actor died, is restarting, or hangs
                    incarnation = known.pop(name, None)
                    if incarnation is not None:
                        pid = incarnation.split("-")[0]
                        self._post(("lost", name, (f"its worker process ({name}, pid {pid}) died or stopped answering "
                                                  f"({exc.__class__.__name__})")))
                    continue
                if known.get(name) != load["incarnation"]:
                    if name in known:
                        self._post(("lost", name, (f"its worker process ({name}, pid {known[name].split('-')[0]}) "
                                                  "died and was restarted")))
                    try:
                        hello = ray.get(self.actors[name].hello.remote(), timeout=_PROBE_TIMEOUT_S)
                    except Exception:
                        continue
                    known[name] = hello["incarnation"]
                    self._post(("up", name, hello))
                self._post(("load", name, load["cpu"]))
            self._stop.wait(max(0.0, _PROBE_EVERY_S - (time.monotonic() - started)))

    def _post(self, event: tuple) -> None:
        self._events.put(event)
        self._wake()

    def _take_events(self) -> None:
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return
            kind, name = event[0], event[1]
            if kind == "up":
                hello = event[2]
                w = self.router.workers[name]
                if w.incarnation == hello["incarnation"]:
                    continue
                if w.up:
                    self._lose(name, f"its worker process ({name}) died and was restarted")
                self._worker_keys[name] = hello["public_key"].encode()
                self.router.worker_up(name, hello["endpoint"], hello["incarnation"])
                log.info("worker up worker=%s endpoint=%s pid=%s", name, hello["endpoint"], hello["pid"])
            elif kind == "lost":
                if self.router.workers[name].up:
                    self._lose(name, event[2])
            elif kind == "load":
                self.router.report(name, event[2])

    def _lose(self, name: str, cause: str) -> None:
        sessions = len(self.router.workers[name].sessions)
        log.warning("worker lost worker=%s sessions=%d cause=%s", name, sessions, cause)
        for reply in self.router.worker_lost(name, cause):
            self._to_client(reply.client, reply.frames)
        for identity, worker in [k for k in self._dealers if k[1] == name]:
            self._close_dealer(identity, worker)

    def _wake(self) -> None:
        self._waker.wake()

    def _close(self) -> None:
        import ray
        log.info("front door shutting down clients=%d", len(self.router.clients))
        for actor in self.actors.values():
            try:
                ray.get(actor.stop.remote(), timeout=10)
            except Exception:
                pass
        for dealer in self._dealers.values():
            dealer.close(0)
        self._clients.disable_monitor()
        self._monitor.close(0)
        self._waker.close()
        self._clients.close(200)
        if self._auth is not None:
            self._auth.stop()
        shutil.rmtree(self._keys_dir, ignore_errors=True)
        ray.shutdown()

