"""Shared fixtures. Servers bind random loopback ports; sockets use linger 0 and every wait has a
timeout, so a broken server fails a test instead of hanging the run."""

from __future__ import annotations

import pytest
import zmq
from avbridge.client import Client
from avbridge.server.config import ServerConfig
from avbridge.server.transport import Server


def make_server(**overrides) -> Server:
    config = ServerConfig(endpoint="tcp://127.0.0.1:0", mirror_endpoint="tcp://127.0.0.1:0", **overrides)
    return Server(config, context=zmq.Context()).start()


@pytest.fixture(scope="module")
def espeak_server():
    """espeak-ng is instant and deterministic: most socket tests use it."""
    server = make_server(voice="espeak")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def piper_server():
    server = make_server(voice="piper")
    yield server
    server.stop()


@pytest.fixture
def client(espeak_server):
    with Client(espeak_server.endpoint, timeout=20) as c:
        yield c
