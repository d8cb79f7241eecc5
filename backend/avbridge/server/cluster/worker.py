"""A cluster worker: one whole avbridge server (speech, motion, live perception, its own pacer)
inside a Ray actor, serving the sessions the front door places on it.

Its ROUTER binds a free port on its node's address. The front door is its only client: the worker
makes a CURVE key pair when it starts and allows only the front door's public key (given at
creation), so a worker bound to a network address is never open to anyone else. Ray carries only
control calls (where to connect, how loaded it is); every stream message goes over ZeroMQ.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from avbridge.core.keys import make_keys
from avbridge.server.config import ServerConfig


class SessionWorker:
    """Plain class; server/cluster/front_door.py wraps it with ray.remote. `config`: the
    ServerConfig fields of the front door's own server (its endpoint is replaced)."""

    def __init__(self, config: dict[str, Any], host: str | None, front_door_certificate: str) -> None:
        """`host`: the address to bind (default: this node's address as Ray knows it)."""
        # Starting (imports, the voice, ONNX sessions) takes a core for seconds. A worker restarted
        # beside others that are streaming must not take it from them: it starts at a low
        # priority and returns to normal once it serves (measured: without this, the surviving
        # worker's sessions on a 2-core machine had frames up to 0.5 s late during a restart).
        os.nice(10)
        # zmq sockets are made in the actor's own process
        from avbridge.server.transport import Server
        if host is None:
            import ray
            host = ray.util.get_node_ip_address()

        self._keys_dir = Path(tempfile.mkdtemp(prefix="avbridge-worker-keys-"))
        clients = self._keys_dir / "clients"
        clients.mkdir()
        (clients / "front-door.key").write_text(front_door_certificate)
        make_keys(self._keys_dir, "worker")
        fields = dict(config)
        fields.update(endpoint=f"tcp://{host}:0", mirror_endpoint="", curve_secret=str(self._keys_dir / "worker.key_secret"),
                      curve_clients=str(clients), insecure=False)
        known = {f.name for f in dataclasses.fields(ServerConfig)}
        self.server = Server(ServerConfig(**{k: v for k, v in fields.items() if k in known})).start()
        self.incarnation = f"{os.getpid()}-{time.time():.3f}"
        try:
            os.setpriority(os.PRIO_PROCESS, 0, 0)
        except PermissionError:
            pass    # without the right to raise it again, the worker serves at nice 10 (all its peers too)
        self._cpu_at = (time.monotonic(), time.process_time())

    def hello(self) -> dict[str, Any]:
        """Where to connect and who this is (a new incarnation after a restart)."""
        from avbridge.core.keys import load_public
        return {"endpoint": self.server.endpoint, "incarnation": self.incarnation, "pid": os.getpid(),
                "public_key": load_public(str(self._keys_dir / "worker.key")).decode()}

    def load(self) -> dict[str, Any]:
        """CPU used since the last call, as a fraction of one core, and the open sessions."""
        wall, cpu = time.monotonic(), time.process_time()
        last_wall, last_cpu = self._cpu_at
        self._cpu_at = (wall, cpu)
        return {"incarnation": self.incarnation, "cpu": (cpu - last_cpu) / max(wall - last_wall, 1e-3),
                "sessions": len(self.server.service.sessions)}

    def stop(self) -> None:
        self.server.stop()
