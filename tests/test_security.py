"""CurveZMQ between the Python client and a real server on loopback, and the rule that keeps a
plaintext server off the network."""

from __future__ import annotations

import time

import pytest
import zmq
from avbridge.cli.main import main
from avbridge.client import Client, KeyRefused
from avbridge.core.keys import make_keys
from avbridge.server.security import SecurityError, check_bind, is_loopback, server_keys
from conftest import make_server


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    allowed = root / "allowed"
    make_keys(root, "server")
    make_keys(root, "npc")
    make_keys(root, "stranger")
    allowed.mkdir()
    (allowed / "npc.key").write_bytes((root / "npc.key").read_bytes())
    return root


@pytest.fixture(scope="module")
def curve_server(keys):
    server = make_server(voice="espeak", curve_secret=str(keys / "server.key_secret"), curve_clients=str(keys / "allowed"))
    yield server
    server.stop()


def test_an_allowed_client_streams_over_curve(curve_server, keys):
    with Client(curve_server.endpoint, timeout=20, server_key=str(keys / "server.key"),
                client_keys=str(keys / "npc.key_secret")) as client:
        result = client.open(realtime=False).say("Over an encrypted link.", timeout=60)
        assert len(result.pcm) > 0 and len(result.track) > 0


@pytest.mark.parametrize("server_key, client, expected", [
    ("server", "stranger", "refused this client's key"),        # a key the server does not allow
    (None, None, "one side uses CURVE and the other does not"),   # a plaintext client
    ("stranger", "npc", "public key is not the right one"),       # the wrong server key
])
def test_a_refused_client_is_told_why_at_once(curve_server, keys, server_key, client, expected):
    options = {"server_key": str(keys / f"{server_key}.key"), "client_keys": str(keys / f"{client}.key_secret")} if client else {}
    started = time.monotonic()
    with pytest.raises(KeyRefused) as caught:
        Client(curve_server.endpoint, timeout=10, **options)     # hello is the first request
    assert expected in str(caught.value)
    assert time.monotonic() - started < 5, "a sentence, not a timeout"


def test_plaintext_stays_on_loopback(keys, capsys):
    assert is_loopback("tcp://127.0.0.1:5570") and is_loopback("tcp://[::1]:5570") and is_loopback("tcp://localhost:5570")
    assert not is_loopback("tcp://0.0.0.0:5570") and not is_loopback("tcp://*:5570") and not is_loopback("tcp://10.1.2.3:5570")
    with pytest.raises(SecurityError) as caught:
        check_bind(["tcp://0.0.0.0:5570", "tcp://127.0.0.1:5571"], None, insecure=False)
    assert "--insecure" in str(caught.value) and "tcp://0.0.0.0:5570" in str(caught.value)
    check_bind(["tcp://0.0.0.0:5570"], None, insecure=True)                       # allowed, with a warning
    check_bind(["tcp://0.0.0.0:5570"], server_keys(str(keys / "server.key_secret"), str(keys / "allowed")), insecure=False)
    assert main(["serve", "--bind", "tcp://0.0.0.0:5570", "--mirror", "off"]) == 2   # refused before binding
    assert "without CURVE" in capsys.readouterr().err


def test_bad_key_files_are_named(keys, tmp_path):
    with pytest.raises(ValueError, match="holds only a public key"):
        server_keys(str(keys / "server.key"), str(keys / "allowed"))
    with pytest.raises(ValueError, match="no client public keys"):
        server_keys(str(keys / "server.key_secret"), str(tmp_path))
    with pytest.raises(ValueError, match="needs both"):
        server_keys(str(keys / "server.key_secret"), None)
    assert main(["keys", "someone", "--out", str(tmp_path / "made")]) == 0
    assert (tmp_path / "made" / "someone.key").exists() and (tmp_path / "made" / "someone.key_secret").exists()
    assert zmq.has("curve")
