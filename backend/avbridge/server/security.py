"""CurveZMQ (RFC 26) for the server's sockets, and the rule that keeps a plaintext server on
loopback.

Keys are z85 certificate files as pyzmq's `zmq.auth` writes them (`NAME.key` with the public key,
`NAME.key_secret` with both): `avbridge keys` makes them. The server loads its secret certificate
and a folder of allowed client public certificates; pyzmq's ZAP authenticator (a thread of its
own) admits only those. A server bound beyond loopback without CURVE is refused unless the
operator says `--insecure`: the stream carries a person's voice and face.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq

from avbridge.core.keys import KeyFileError, load_secret

log = logging.getLogger("avbridge.server")


class SecurityError(KeyFileError):
    """A key folder that cannot be used, or a bind the policy refuses; the sentence says which."""


@dataclass
class CurveKeys:
    public: bytes
    secret: bytes
    clients_dir: Path


def server_keys(secret_file: str | None, clients_dir: str | None) -> CurveKeys | None:
    if not secret_file and not clients_dir:
        return None
    if not (secret_file and clients_dir):
        raise SecurityError("CURVE needs both the server's secret key (--curve-secret) and the allowed clients' folder (--curve-clients)")
    folder = Path(clients_dir)
    if not folder.is_dir():
        raise SecurityError(f"{folder}: no such folder of allowed client keys")
    if not any(folder.glob("*.key")):
        raise SecurityError(f"{folder}: holds no client public keys (*.key): no client could connect")
    public, secret = load_secret(secret_file)
    return CurveKeys(public, secret, folder)


def is_loopback(endpoint: str) -> bool:
    """tcp://127.0.0.1:5570, tcp://[::1]:5570, tcp://localhost:5570; inproc and ipc are local too."""
    if not endpoint.startswith("tcp://"):
        return True
    host = endpoint[len("tcp://"):].rsplit(":", 1)[0].strip("[]")
    if host in ("*", ""):
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except OSError:
            return False


def check_bind(endpoints: list[str], keys: CurveKeys | None, insecure: bool) -> None:
    """Refuse a plaintext bind beyond loopback unless the operator asked for it."""
    open_to_network = [e for e in endpoints if e and not is_loopback(e)]
    if not open_to_network or keys is not None:
        return
    if not insecure:
        raise SecurityError(f"refusing to bind {', '.join(open_to_network)} without CURVE: give --curve-secret and "
                            "--curve-clients (make keys with `avbridge keys`), or --insecure on a network you trust")
    log.warning("serving %s WITHOUT encryption or authentication (--insecure): anyone on the network can "
                "connect and read every stream", ", ".join(open_to_network))


class Authenticator:
    """pyzmq's ZAP authenticator thread, admitting the allowed clients' public keys."""

    def __init__(self, context: zmq.Context, keys: CurveKeys) -> None:
        from zmq.auth.thread import ThreadAuthenticator
        self._auth: Any = ThreadAuthenticator(context, log=logging.getLogger("avbridge.server.zap"))
        self._auth.start()
        self._auth.configure_curve(domain="*", location=str(keys.clients_dir))

    def stop(self) -> None:
        self._auth.stop()


def make_curve_server(sock: zmq.Socket, keys: CurveKeys) -> None:
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, keys.secret)
